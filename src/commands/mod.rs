//! One module per subcommand (binary only). Each owns its clap `Args` and turns them into the
//! library's options (`inspector_gate::pipeline`); this module dispatches, runs the async
//! runtime, and resolves the policy from the layers `args::PolicyArgs` made of the flags and
//! env variables.

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
use inspector_gate::aws::{floor, AwsOptions};
use inspector_gate::error::{Error, Result};
use inspector_gate::policy::file::{self, FloorSource, PolicyLayer, Resolved, Source};
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

/// Resolve the effective policy of a command: defaults < floor < file < env < flags, per
/// key, each key the floor governs held at the floor's bound. Each place a layer tried to
/// loosen the floor is printed as one warning line.
pub fn resolve_policy(args: &PolicyArgs, aws: &AwsOptions) -> Result<Resolved> {
    let cwd = std::env::current_dir()?;
    let floor = match args.policy_floor.as_deref() {
        Some(spec) => {
            let source: FloorSource = spec.parse()?;
            let opts = aws.clone();
            let text = {
                let source = source.clone();
                block_on_value(async move { floor::fetch(&source, &opts).await })?
            };
            Some(file::parse_floor(&text, &source.to_string())?)
        }
        None => None,
    };
    let mut layers: Vec<(PolicyLayer, Source)> = Vec::new();
    if let Some(path) = file::locate(args.policy.as_deref(), &cwd)? {
        layers.push((file::load(&path)?, Source::File(path)));
    }
    layers.extend(args.layers.iter().cloned());
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
