//! The option groups several commands share (AWS, policy, waiting, output), their value
//! types and parsers, and how they turn into the library's options. Binary only.

use clap::{ArgAction, Args, ValueEnum};
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS region (default: AWS_REGION / profile).
    #[arg(long, env = "INSPECTOR_GATE_REGION")]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, env = "INSPECTOR_GATE_PROFILE")]
    pub profile: Option<String>,
    /// Role to assume (STS AssumeRole) before calling AWS.
    #[arg(long, env = "INSPECTOR_GATE_ROLE_ARN")]
    pub role_arn: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    // Numbers take `allow_negative_numbers` so that `--max-high -1` is refused as a bad value
    // of --max-high, not as an unknown flag `-1`.
    /// Policy file (default: ./.inspector-gate.toml when present).
    #[arg(long, env = "INSPECTOR_GATE_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The CI owner's policy floor, which the policy file may only tighten: a TOML file,
    /// `ssm:/parameter/name` (SSM Parameter Store) or `s3://bucket/key`.
    #[arg(long, env = "INSPECTOR_GATE_POLICY_FLOOR", value_name = "SOURCE")]
    pub policy_floor: Option<String>,
    /// Fail when CRITICAL findings exceed N.
    #[arg(
        long,
        env = "INSPECTOR_GATE_MAX_CRITICAL",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_critical: Option<u64>,
    /// Fail when HIGH findings exceed N.
    #[arg(
        long,
        env = "INSPECTOR_GATE_MAX_HIGH",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_high: Option<u64>,
    /// Fail when MEDIUM findings exceed N.
    #[arg(
        long,
        env = "INSPECTOR_GATE_MAX_MEDIUM",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_medium: Option<u64>,
    /// Fail when LOW findings exceed N.
    #[arg(
        long,
        env = "INSPECTOR_GATE_MAX_LOW",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_low: Option<u64>,
    /// Fail when INFORMATIONAL findings exceed N.
    #[arg(
        long,
        env = "INSPECTOR_GATE_MAX_INFORMATIONAL",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_informational: Option<u64>,
    /// Fail when UNTRIAGED findings exceed N.
    #[arg(
        long,
        env = "INSPECTOR_GATE_MAX_UNTRIAGED",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_untriaged: Option<u64>,
    /// Fail on any finding of SEVERITY or worse (= max 0 for each).
    #[arg(long, env = "INSPECTOR_GATE_FAIL_ON", value_name = "SEVERITY")]
    pub fail_on: Option<inspector_gate::model::Severity>,
    /// Do not count findings without a fix (fixAvailable = NO); `--ignore-unfixed=false`
    /// turns it off over the policy file.
    #[arg(long, env = "INSPECTOR_GATE_IGNORE_UNFIXED", value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub ignore_unfixed: Option<bool>,
    /// Count only findings with an EPSS score >= this (0..1).
    #[arg(
        long,
        env = "INSPECTOR_GATE_MIN_EPSS",
        value_name = "SCORE",
        allow_negative_numbers = true
    )]
    pub min_epss: Option<f64>,
    /// Count only findings with an Inspector score >= this (0..10).
    #[arg(
        long,
        env = "INSPECTOR_GATE_MIN_INSPECTOR_SCORE",
        value_name = "SCORE",
        allow_negative_numbers = true
    )]
    pub min_inspector_score: Option<f64>,
    /// Count only findings with a known exploit (`=false` turns it off over the policy file).
    #[arg(long, env = "INSPECTOR_GATE_EXPLOIT_AVAILABLE_ONLY", value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub exploit_available_only: Option<bool>,
    /// Ignore a vulnerability id (repeatable; prefer [[ignore]] rules with reason and expiry).
    #[arg(
        long = "ignore",
        env = "INSPECTOR_GATE_IGNORE",
        value_name = "ID",
        value_delimiter = ','
    )]
    pub ignore: Vec<String>,
    /// What an ignore rule that matched no finding does: warn, or fail the gate.
    #[arg(
        long,
        env = "INSPECTOR_GATE_UNMATCHED_IGNORE",
        value_enum,
        value_name = "WARN|FAIL"
    )]
    pub unmatched_ignore: Option<UnmatchedIgnore>,
    /// With --baseline: count only the findings the image adds (new) or every finding (all).
    #[arg(
        long,
        env = "INSPECTOR_GATE_BASELINE_COUNT",
        value_enum,
        value_name = "NEW|ALL"
    )]
    pub baseline_count: Option<CountMode>,
    /// The same for one severity, over --baseline-count: SEVERITY=new|all (repeatable).
    #[arg(
        long,
        env = "INSPECTOR_GATE_BASELINE_COUNT_SEVERITY",
        value_name = "SEVERITY=MODE",
        value_delimiter = ',',
        value_parser = parse_severity_mode
    )]
    pub baseline_count_severity: Vec<(inspector_gate::model::Severity, CountMode)>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmatchedIgnore {
    Warn,
    Fail,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMode {
    New,
    All,
}

impl From<CountMode> for inspector_gate::baseline::CountMode {
    fn from(m: CountMode) -> Self {
        match m {
            CountMode::New => Self::New,
            CountMode::All => Self::All,
        }
    }
}

fn parse_severity_mode(s: &str) -> Result<(inspector_gate::model::Severity, CountMode), String> {
    let (sev, mode) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not SEVERITY=new|all (e.g. CRITICAL=all)"))?;
    let sev = sev.trim().parse()?;
    let mode = CountMode::from_str(mode.trim(), true)
        .map_err(|_| format!("'{mode}' is not new or all"))?;
    Ok((sev, mode))
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
    #[arg(long, env = "INSPECTOR_GATE_REPORT_DIR", value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, env = "INSPECTOR_GATE_FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl OutputArgs {
    pub fn options(&self, color: bool) -> inspector_gate::pipeline::publish::PublishOptions {
        inspector_gate::pipeline::publish::PublishOptions {
            format: self.format.into(),
            report_dir: self.report_dir.clone(),
            color,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct WaitArgs {
    /// Give up waiting for the scan after this long (e.g. 30m, 90s, 1h).
    #[arg(long, env = "INSPECTOR_GATE_TIMEOUT", default_value = "30m", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// What a scan that never finished means: fail (exit 3, default) or pass (that image is
    /// skipped with a warning and listed as not evaluated). Findings already read are always
    /// evaluated, and a run that evaluated no image never passes.
    #[arg(long, env = "INSPECTOR_GATE_ON_TIMEOUT", value_enum, default_value_t = OnTimeout::Fail)]
    pub on_timeout: OnTimeout,
    /// Shortest gap between status checks; later gaps grow to 10.7% of the time waited so far,
    /// at most 20x this (so the gate decides within ~10% of the wait).
    #[arg(long, env = "INSPECTOR_GATE_POLL_INTERVAL", default_value = "3s", value_parser = parse_interval)]
    pub poll_interval: std::time::Duration,
    /// Findings count as final once read this long after the scan completed (default: 8% of
    /// the wait so far, 2.5s to 60s).
    #[arg(long, env = "INSPECTOR_GATE_SETTLE", value_parser = parse_duration)]
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
        }
    }
}
