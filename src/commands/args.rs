//! The option groups several commands share (AWS, policy, waiting, output), their value
//! types and parsers, and how they turn into the library's options. Binary only.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, ValueEnum};
use inspector_gate::aws::budget::MIN_RATE;
use inspector_gate::pipeline::policy::PolicyRequest;
use inspector_gate::policy::file::{PolicyLayer, Source};
use inspector_gate::policy::keys::{self, Key, Kind, Value};
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS region (default: the image's registry host, AWS_REGION, the profile).
    #[arg(
        long,
        env = "INSPECTOR_GATE_REGION",
        value_name = "REGION",
        help_heading = "AWS"
    )]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(
        long,
        env = "INSPECTOR_GATE_PROFILE",
        value_name = "NAME",
        help_heading = "AWS"
    )]
    pub profile: Option<String>,
    /// Role to assume (STS AssumeRole) before calling AWS.
    #[arg(
        long,
        env = "INSPECTOR_GATE_ROLE_ARN",
        value_name = "ARN",
        help_heading = "AWS"
    )]
    pub role_arn: Option<String>,
    /// External id for --role-arn (sts:ExternalId). For a cross-account role whose trust
    /// policy requires one.
    #[arg(
        long,
        env = "INSPECTOR_GATE_ROLE_EXTERNAL_ID",
        value_name = "ID",
        requires = "role_arn",
        help_heading = "AWS"
    )]
    pub role_external_id: Option<String>,
    /// Requests per second to each of Inspector2, ECR, CodePipeline [default: 10]. Bursts of
    /// 5 seconds' worth are allowed. One budget per run; a throttled answer halves
    /// it, and it climbs back while nothing is throttled. AWS publishes no per-API rate for Inspector2 (its
    /// ThrottlingException says only that the account's requests per second were exceeded),
    /// so the default is a conservative guess: lower it when many gates share an account.
    #[arg(
        long,
        env = "INSPECTOR_GATE_API_RATE",
        value_name = "PER_SECOND",
        value_parser = parse_rate,
        // "-1" is a value to refuse with its cause, not an unknown flag "-1".
        allow_negative_numbers = true,
        help_heading = "AWS"
    )]
    pub api_rate: Option<f64>,
}

/// `--api-rate`: requests per second, from the lowest rate a run slows to
/// ([`MIN_RATE`], which the budget would otherwise raise a lower value to without a word) to 1000.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && (MIN_RATE..=1000.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "{s:?} is not a rate: give requests per second, a number from {MIN_RATE} to 1000 (e.g. 5 or 0.5)"
        )),
    }
}

/// The policy arguments: `--policy`, `--policy-floor`, and one flag (with its env variable)
/// per key of the policy key table (`inspector_gate::policy::keys::TABLE`), generated from it.
/// Parsing them yields the layers the flags and env variables make, each named by where clap
/// found it, so a key's flag and env names are never re-typed.
#[derive(Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Policy file (default: ./.inspector-gate.toml when present).
    pub policy: Option<PathBuf>,
    /// The CI owner's policy floor: a TOML file, `ssm:/name` or `s3://bucket/key`.
    pub policy_floor: Option<String>,
    /// The keys set by env variables, then by flags: one layer per key, in increasing precedence.
    pub layers: Vec<(PolicyLayer, Source)>,
}

impl PolicyArgs {
    /// What the run's policy is made of (read and layered by `pipeline::policy::resolve`).
    pub fn request(&self) -> inspector_gate::error::Result<PolicyRequest> {
        Ok(PolicyRequest {
            file: self.policy.clone(),
            dir: std::env::current_dir()?,
            floor: self.policy_floor.clone(),
            layers: self.layers.clone(),
            today: inspector_gate::pipeline::today(),
        })
    }
}

/// Parses a flag's or env variable's text as a value of its key (`keys::parse_text`, the
/// same rules as the policy file); lists a choice key's words in `--help` and completions.
#[derive(Clone)]
struct KeyParser(&'static Key);

impl TypedValueParser for KeyParser {
    type Value = Value;
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Value, clap::Error> {
        let key = self.0;
        (move |s: &str| keys::parse_text(key, s)).parse_ref(cmd, arg, value)
    }
    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        match self.0.kind {
            Kind::Choice(words) => Some(Box::new(words.iter().map(|w| PossibleValue::new(*w)))),
            Kind::CountMode => Some(Box::new(
                self.0.choices().iter().map(|w| PossibleValue::new(*w)),
            )),
            _ => None,
        }
    }
}

/// The clap argument of one policy key: its flag, env variable, help and value parser all
/// come from the key's entry in the table.
fn key_arg(key: &'static Key, flag: &'static str, env: &'static str) -> Arg {
    let arg = Arg::new(flag)
        .long(flag)
        .env(env)
        .help(key.doc)
        .value_name(key.value_name())
        .value_parser(KeyParser(key))
        .help_heading(if key.name.starts_with("baseline") {
            "Baseline"
        } else {
            "Policy"
        });
    match key.kind {
        // `--ignore-unfixed` alone means true; `--ignore-unfixed=false` turns it off.
        Kind::Bool => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .action(ArgAction::Set),
        // Repeatable, and comma-separated in the env variable.
        Kind::Ignores | Kind::PerSeverity | Kind::Files => {
            arg.value_delimiter(',').action(ArgAction::Append)
        }
        // `--max-high -1` is refused as a bad value of --max-high, not as an unknown flag `-1`.
        Kind::Max(_) | Kind::Score { .. } | Kind::Days => {
            arg.allow_negative_numbers(true).action(ArgAction::Set)
        }
        _ => arg.action(ArgAction::Set),
    }
}

impl Args for PolicyArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = cmd
            .arg(
                Arg::new("policy")
                    .long("policy")
                    .env("INSPECTOR_GATE_POLICY")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help_heading("Policy")
                    .help("Policy file (default: ./.inspector-gate.toml); the default is read when present."),
            )
            .arg(
                Arg::new("policy-floor")
                    .long("policy-floor")
                    .env("INSPECTOR_GATE_POLICY_FLOOR")
                    .value_name("SOURCE")
                    .help_heading("Policy")
                    .help("The CI owner's policy floor; the policy file may only tighten it. A TOML FILE, ssm:/NAME (SSM Parameter Store) or s3://BUCKET/KEY."),
            );
        keys::TABLE
            .iter()
            .fold(cmd, |cmd, key| match (key.flag, key.env) {
                (Some(flag), Some(env)) => cmd.arg(key_arg(key, flag, env)),
                _ => cmd,
            })
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for PolicyArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut env_layers = Vec::new();
        let mut flag_layers = Vec::new();
        for key in keys::TABLE {
            let (Some(flag), Some(env)) = (key.flag, key.env) else {
                continue;
            };
            let Some(values) = m.get_many::<Value>(flag) else {
                continue;
            };
            let mut layer = PolicyLayer::default();
            for v in values {
                layer.set(key, v.clone());
            }
            match m.value_source(flag) {
                Some(ValueSource::CommandLine) => {
                    flag_layers.push((layer, Source::Flag(format!("--{flag}"))))
                }
                Some(ValueSource::EnvVariable) => env_layers.push((layer, Source::Env(env.into()))),
                _ => {}
            }
        }
        env_layers.extend(flag_layers);
        Ok(PolicyArgs {
            policy: m.get_one::<PathBuf>("policy").cloned(),
            policy_floor: m.get_one::<String>("policy-floor").cloned(),
            layers: env_layers,
        })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    Fail,
    Pass,
}

impl From<OnTimeout> for inspector_gate::pipeline::gate::OnTimeout {
    fn from(o: OnTimeout) -> Self {
        match o {
            OnTimeout::Fail => Self::Fail,
            OnTimeout::Pass => Self::Pass,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

impl From<Format> for inspector_gate::report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => Self::Table,
            Format::Json => Self::Json,
            Format::Markdown => Self::Markdown,
        }
    }
}

/// How a report is shown: `--format` and `--report-dir`.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write report.json, report.sarif, junit.xml and summary.md here.
    #[arg(
        long,
        env = "INSPECTOR_GATE_REPORT_DIR",
        value_name = "DIR",
        help_heading = "Reports"
    )]
    pub report_dir: Option<PathBuf>,
    /// What stdout shows: table, json (as report.json) or markdown.
    #[arg(long, env = "INSPECTOR_GATE_FORMAT", value_name = "FORMAT", value_enum, default_value_t = Format::Table, help_heading = "Reports")]
    pub format: Format,
}

impl OutputArgs {
    pub fn options(&self, color: bool) -> inspector_gate::pipeline::publish::PublishOptions {
        inspector_gate::pipeline::publish::PublishOptions {
            format: self.format.into(),
            report_dir: self.report_dir.clone(),
            color,
            width: crate::cli::stdout_width(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct WaitArgs {
    /// Give up on the scan after this long (e.g. 30m, 90s).
    ///
    /// One deadline for the whole run, the approval wait included. A duration needs its unit.
    #[arg(long, env = "INSPECTOR_GATE_TIMEOUT", default_value = "30m", value_name = "DURATION", value_parser = parse_timeout, help_heading = "Waiting")]
    pub timeout: std::time::Duration,
    /// A scan that never finished: fail (exit 3) or pass.
    ///
    /// pass skips that image with a warning and lists it as not evaluated. Findings already
    /// read are always evaluated, and a run that evaluated no image never passes.
    #[arg(long, env = "INSPECTOR_GATE_ON_TIMEOUT", value_name = "WHAT", value_enum, default_value_t = OnTimeout::Fail, help_heading = "Waiting")]
    pub on_timeout: OnTimeout,
    /// Shortest gap between status checks; later gaps grow to 10.7% of the time waited so far,
    /// at most 20x this (so the gate decides within ~10% of the wait).
    #[arg(long, env = "INSPECTOR_GATE_POLL_INTERVAL", default_value = "3s", value_name = "DURATION", value_parser = parse_interval, help_heading = "Waiting")]
    pub poll_interval: std::time::Duration,
    /// How long after the scan completed findings count as final.
    ///
    /// Default: 8% of the wait so far, 2.5s to 60s.
    #[arg(long, env = "INSPECTOR_GATE_SETTLE", value_name = "DURATION", value_parser = parse_duration, help_heading = "Waiting")]
    pub settle: Option<std::time::Duration>,
}

impl WaitArgs {
    /// The library's wait options for these arguments.
    pub fn options(&self) -> inspector_gate::wait::WaitOptions {
        inspector_gate::wait::WaitOptions {
            timeout: self.timeout,
            first_poll: self.poll_interval,
            settle: self.settle,
        }
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    inspector_gate::duration::parse_duration(s)
}

/// An overall deadline: zero would give up before the first call, whatever the scan's state.
pub fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be greater than zero (e.g. 30m)".into()),
        d => Ok(d),
    }
}

/// A polling interval: zero would poll in a busy loop.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => {
            Err("must be greater than zero (a zero interval would poll without pause)".into())
        }
        d => Ok(d),
    }
}

impl From<&AwsArgs> for inspector_gate::aws::AwsOptions {
    fn from(a: &AwsArgs) -> Self {
        inspector_gate::aws::AwsOptions {
            region: a.region.clone(),
            profile: a.profile.clone(),
            role_arn: a.role_arn.clone(),
            role_external_id: a.role_external_id.clone(),
            api_rate: a.api_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn policy_command() -> clap::Command {
        PolicyArgs::augment_args(clap::Command::new("x").args_override_self(true))
    }

    #[test]
    fn the_flags_are_the_tables_keys() {
        // Walk the clap command: its policy flags and env variables are exactly the table's.
        let cmd = policy_command();
        let got: BTreeSet<(String, String)> = cmd
            .get_arguments()
            .filter(|a| !matches!(a.get_id().as_str(), "policy" | "policy-floor"))
            .map(|a| {
                (
                    a.get_long().unwrap_or_default().to_string(),
                    a.get_env()
                        .map(|e| e.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String)> = keys::TABLE
            .iter()
            .filter_map(|k| Some((k.flag?.to_string(), k.env?.to_string())))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn every_flag_becomes_a_layer_named_after_it() {
        // Each flag given once (with a value that is not the key's default): every key of the
        // table with a flag reaches a layer, from that flag.
        let mut argv = vec!["x".to_string()];
        for k in keys::TABLE {
            let Some(flag) = k.flag else { continue };
            let value = match k.kind {
                Kind::Ignores => "CVE-1".to_string(),
                Kind::PerSeverity => "HIGH=all".to_string(),
                Kind::Files => "web.openvex.json".to_string(),
                _ => k.example.trim_matches('"').to_string(),
            };
            argv.push(format!("--{flag}={value}"));
        }
        let m = policy_command().try_get_matches_from(&argv).unwrap();
        let args = PolicyArgs::from_arg_matches(&m).unwrap();
        for k in keys::TABLE.iter().filter(|k| k.flag.is_some()) {
            let flag = format!("--{}", k.flag.unwrap_or_default());
            let (layer, _) = args
                .layers
                .iter()
                .find(|(_, s)| *s == Source::Flag(flag.clone()))
                .unwrap_or_else(|| panic!("{flag} made no layer"));
            let set =
                layer.get(k.name).is_some() || !layer.ignore.is_empty() || layer.baseline.is_some();
            assert!(set, "{flag} set nothing");
        }
    }
}
