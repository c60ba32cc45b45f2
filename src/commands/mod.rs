//! One module per subcommand (binary only). Each owns its clap `Args` and turns them into the
//! library's options (`inspector_gate::pipeline`); this module dispatches, runs the async
//! runtime, and layers the policy settings by where clap found them (flag or env).

pub mod approve;
pub mod args;
pub mod config;
pub mod evaluate;
pub mod findings;
pub mod gate;
pub mod hook;
pub mod init;
pub mod push;
pub mod scan;

use args::PolicyArgs;
use clap::parser::ValueSource;
use clap::ArgMatches;
use inspector_gate::aws::{floor, AwsOptions};
use inspector_gate::error::{Error, Result};
use inspector_gate::policy::file::{
    self, FloorSource, PolicyLayer, RawIgnore, Resolved, Source, UnmatchedIgnoreRaw,
};
use std::future::Future;

/// Run a future on a multi-thread runtime; Ctrl-C / SIGTERM end it promptly with exit 4.
pub fn block_on<F: Future<Output = Result<i32>>>(fut: F) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        tokio::select! {
            r = fut => r,
            sig = shutdown_signal() => Err(Error::runtime(format!(
                "interrupted by {sig}: stopped before finishing (nothing was approved)"
            ))),
        }
    })
}

async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Where clap found the value of policy argument `id` in `m`: the flag or env name comes
/// from the argument's own definition, so it is never re-typed here.
fn origin(m: &ArgMatches, id: &str) -> Option<Source> {
    // Every policy argument is defined once, in PolicyArgs: its flag and env names are there.
    let cmd = <PolicyArgs as clap::Args>::augment_args(clap::Command::new("policy"));
    let arg = cmd.get_arguments().find(|a| a.get_id() == id)?;
    match m.value_source(id)? {
        ValueSource::CommandLine => Some(Source::Flag(format!("--{}", arg.get_long()?))),
        ValueSource::EnvVariable => {
            Some(Source::Env(arg.get_env()?.to_string_lossy().into_owned()))
        }
        _ => None,
    }
}

/// Copies one policy argument into a layer.
type Setter = fn(&PolicyArgs, &mut PolicyLayer);

/// Every policy argument, by clap id, and how it fills a layer.
const POLICY_KEYS: &[(&str, Setter)] = &[
    ("fail_on", |a, l| l.fail_on = a.fail_on),
    ("max_critical", |a, l| l.max_critical = a.max_critical),
    ("max_high", |a, l| l.max_high = a.max_high),
    ("max_medium", |a, l| l.max_medium = a.max_medium),
    ("max_low", |a, l| l.max_low = a.max_low),
    ("max_informational", |a, l| {
        l.max_informational = a.max_informational
    }),
    ("max_untriaged", |a, l| l.max_untriaged = a.max_untriaged),
    ("ignore_unfixed", |a, l| l.ignore_unfixed = a.ignore_unfixed),
    ("min_epss", |a, l| l.min_epss = a.min_epss),
    ("min_inspector_score", |a, l| {
        l.min_inspector_score = a.min_inspector_score
    }),
    ("exploit_available_only", |a, l| {
        l.exploit_available_only = a.exploit_available_only
    }),
    ("unmatched_ignore", |a, l| {
        l.unmatched_ignore = a.unmatched_ignore.map(|u| match u {
            args::UnmatchedIgnore::Warn => UnmatchedIgnoreRaw::Warn,
            args::UnmatchedIgnore::Fail => UnmatchedIgnoreRaw::Fail,
        })
    }),
    ("baseline_count", |a, l| {
        let b = l.baseline.get_or_insert_with(Default::default);
        b.count = a.baseline_count.map(Into::into);
    }),
    ("baseline_count_severity", |a, l| {
        let b = l.baseline.get_or_insert_with(Default::default);
        for (sev, mode) in &a.baseline_count_severity {
            b.per_severity.insert(*sev, (*mode).into());
        }
    }),
    ("ignore", |a, l| {
        l.ignore = a
            .ignore
            .iter()
            .map(|id| RawIgnore {
                id: id.clone(),
                reason: Some("ignored on the command line".into()),
                expires: None,
                package: None,
                repository: None,
                line: 0,
            })
            .collect()
    }),
];

/// Resolve the effective policy of a command (its policy arguments in `m`): defaults < floor < file < env < flags, per
/// key, the file only tightening the floor. Each place the file tried to loosen the floor is
/// printed as one warning line.
pub fn resolve_policy(args: &PolicyArgs, m: &ArgMatches, aws: &AwsOptions) -> Result<Resolved> {
    let cwd = std::env::current_dir()?;
    let floor = match args.policy_floor.as_deref() {
        Some(spec) => {
            let source: FloorSource = spec.parse()?;
            let opts = aws.clone();
            let text = {
                let source = source.clone();
                block_on_value(async move { floor::fetch(&source, &opts).await })?
            };
            let origin = match &source {
                FloorSource::File(p) => p.display().to_string(),
                FloorSource::Ssm(name) => format!("ssm:{name}"),
                FloorSource::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
            };
            Some(file::parse_floor(&text, &origin)?)
        }
        None => None,
    };
    let mut layers: Vec<(PolicyLayer, Source)> = Vec::new();
    if let Some(path) = file::locate(args.policy.as_deref(), &cwd)? {
        layers.push((file::load(&path)?, Source::File(path)));
    }
    let mut env_layers = Vec::new();
    let mut flag_layers = Vec::new();
    for (id, set) in POLICY_KEYS {
        let mut layer = PolicyLayer::default();
        match origin(m, id) {
            Some(s @ Source::Env(_)) => {
                set(args, &mut layer);
                env_layers.push((layer, s));
            }
            Some(s) => {
                set(args, &mut layer);
                flag_layers.push((layer, s));
            }
            None => {}
        }
    }
    layers.extend(env_layers);
    layers.extend(flag_layers);
    let today = time::OffsetDateTime::now_utc().date();
    let resolved = file::resolve_with(floor.as_ref(), &layers, today)?;
    for w in &resolved.warnings {
        eprintln!("warning: {}", inspector_gate::sanitize::text(w));
    }
    Ok(resolved)
}

/// Run one future to its value on a small runtime (before the command's own runtime starts).
fn block_on_value<T, F: Future<Output = Result<T>>>(fut: F) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the async runtime: {e}")))?
        .block_on(fut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Args;

    #[test]
    fn every_policy_argument_is_layered() {
        // A policy flag missing from POLICY_KEYS would be parsed and then silently dropped.
        let policy_ids: Vec<String> = PolicyArgs::augment_args(clap::Command::new("x"))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .filter(|id| id != "policy" && id != "policy_floor")
            .collect();
        for id in &policy_ids {
            assert!(
                POLICY_KEYS.iter().any(|(k, _)| k == id),
                "policy argument {id} is not layered"
            );
        }
    }
}
