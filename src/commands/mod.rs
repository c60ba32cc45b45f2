//! One module per subcommand; this module dispatches and holds what they share (runtime,
//! policy layering, report writing).

pub mod approve;
pub mod config;
pub mod evaluate;
pub mod findings;
pub mod gate;
pub mod hook;
pub mod init;
pub mod push;

use crate::cli::{Cli, Command, PolicyArgs};
use crate::error::{Error, Result};
use crate::policy::file::{self, PolicyLayer, Resolved, Source};
use crate::progress::Progress;
use clap::parser::ValueSource;
use clap::ArgMatches;
use std::future::Future;

/// Run the parsed command; returns the exit code on success paths (0 or 1).
pub fn run(cli: Cli, sub: Option<ArgMatches>, progress: Progress, color: bool) -> Result<i32> {
    let sub = sub.unwrap_or_default();
    match cli.command {
        Command::Gate(args) => block_on(gate::run(*args, &sub, progress, color)),
        Command::Findings(args) => block_on(findings::run(args, progress)),
        Command::Evaluate(args) => evaluate::run(args, &sub, &progress, color),
        Command::Init(args) => init::run(args),
        Command::Config(args) => config::run(args, &sub),
        Command::Hook(h) => hook::run(h),
        Command::Completions { shell } => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(shell, &mut cmd, "inspector-gate", &mut std::io::stdout());
            Ok(0)
        }
        Command::Push(args) => block_on(push::run(args, progress)),
        Command::Approve(args) => block_on(approve::run(args, progress)),
    }
}

/// Run a future on a multi-thread runtime; Ctrl-C / SIGTERM end it promptly with exit 4.
fn block_on<F: Future<Output = Result<i32>>>(fut: F) -> Result<i32> {
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

fn source_of(m: &ArgMatches, id: &str, flag: &str, env: &str) -> Option<Source> {
    match m.value_source(id) {
        Some(ValueSource::CommandLine) => Some(Source::Flag(flag.to_string())),
        Some(ValueSource::EnvVariable) => Some(Source::Env(env.to_string())),
        _ => None,
    }
}

/// Resolve the effective policy: defaults < file < env < flags.
pub fn resolve_policy(args: &PolicyArgs, m: &ArgMatches) -> Result<Resolved> {
    let cwd = std::env::current_dir()?;
    let mut layers: Vec<(PolicyLayer, Source)> = Vec::new();
    if let Some(path) = file::locate(args.policy.as_deref(), &cwd)? {
        layers.push((file::load(&path)?, Source::File(path)));
    }
    // Split the clap-parsed values by where they came from, one key at a time.
    let mut env_layers: Vec<(PolicyLayer, Source)> = Vec::new();
    let mut flag_layers: Vec<(PolicyLayer, Source)> = Vec::new();
    let mut push = |id: &str, name: &str, layer: PolicyLayer| {
        let env = format!("INSPECTOR_GATE_{}", name.to_uppercase().replace('-', "_"));
        match source_of(m, id, &format!("--{name}"), &env) {
            Some(s @ Source::Env(_)) => env_layers.push((layer, s)),
            Some(s) => flag_layers.push((layer, s)),
            None => {}
        }
    };
    let d = PolicyLayer::default;
    push(
        "fail_on",
        "fail-on",
        PolicyLayer {
            fail_on: args.fail_on,
            ..d()
        },
    );
    push(
        "max_critical",
        "max-critical",
        PolicyLayer {
            max_critical: args.max_critical,
            ..d()
        },
    );
    push(
        "max_high",
        "max-high",
        PolicyLayer {
            max_high: args.max_high,
            ..d()
        },
    );
    push(
        "max_medium",
        "max-medium",
        PolicyLayer {
            max_medium: args.max_medium,
            ..d()
        },
    );
    push(
        "max_low",
        "max-low",
        PolicyLayer {
            max_low: args.max_low,
            ..d()
        },
    );
    push(
        "max_untriaged",
        "max-untriaged",
        PolicyLayer {
            max_untriaged: args.max_untriaged,
            ..d()
        },
    );
    push(
        "ignore_unfixed",
        "ignore-unfixed",
        PolicyLayer {
            ignore_unfixed: Some(args.ignore_unfixed),
            ..d()
        },
    );
    push(
        "min_epss",
        "min-epss",
        PolicyLayer {
            min_epss: args.min_epss,
            ..d()
        },
    );
    push(
        "min_inspector_score",
        "min-inspector-score",
        PolicyLayer {
            min_inspector_score: args.min_inspector_score,
            ..d()
        },
    );
    push(
        "exploit_available_only",
        "exploit-available-only",
        PolicyLayer {
            exploit_available_only: Some(args.exploit_available_only),
            ..d()
        },
    );
    let ignores = args
        .ignore
        .iter()
        .map(|id| file::RawIgnore {
            id: id.clone(),
            reason: Some("ignored on the command line".into()),
            expires: None,
            package: None,
            repository: None,
        })
        .collect();
    push(
        "ignore",
        "ignore",
        PolicyLayer {
            ignore: ignores,
            ..d()
        },
    );
    layers.extend(env_layers);
    layers.extend(flag_layers);
    file::resolve(&layers)
}

/// Today's date in UTC: the only clock the policy sees.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
