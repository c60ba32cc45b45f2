//! One module per subcommand (binary only). Each owns its clap `Args` and turns them into the
//! library's options (`inspector_gate::pipeline`); this module runs the command's one async
//! runtime. The policy flags and env variables become layers in `args::PolicyArgs`; the policy
//! itself is resolved on the runtime by `inspector_gate::pipeline::policy::resolve`.

pub mod approve;
pub mod args;
pub mod config;
pub mod evaluate;
pub mod findings;
pub mod gate;
pub mod hook;
pub mod iam_policy;
pub mod init;
pub mod preflight;
pub mod push;
pub mod scan;
pub mod verify;

use inspector_gate::aws::AwsOptions;
use inspector_gate::error::{Error, Result};
use inspector_gate::policy::file::Resolved;
use inspector_gate::scan::stop;
use std::future::Future;

/// Run a command's future on its one multi-thread runtime; Ctrl-C / SIGTERM end it promptly
/// with exit 4: the future is dropped where it waits (so nothing it would have written is
/// begun), a local scan's blocking catalogue is told to stop ([`stop::cancel`]), and blocking
/// work is waited for at most [`stop::GRACE`] — dropping a runtime would wait for it to end
/// (minutes, for a catalogue that cannot ask).
pub fn block_on<T, F: Future<Output = Result<T>>>(fut: F) -> Result<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the async runtime: {e}")))?;
    let r = rt.block_on(async {
        tokio::select! {
            r = fut => r,
            sig = shutdown_signal() => {
                stop::cancel();
                Err(Error::runtime(format!(
                    "interrupted by {sig}: stopped before finishing (nothing was approved)"
                )))
            }
        }
    });
    // A run that failed (interrupted, or past its deadline) does not wait for blocking work
    // it no longer needs; one that succeeded has none left.
    if r.is_err() {
        rt.shutdown_timeout(stop::GRACE);
    }
    r
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

/// Resolve the command's policy (on its runtime): the file, the floor, and the layers its
/// flags and env variables made.
/// The floor is read within `timeout` (the run's `--timeout`, or
/// [`inspector_gate::aws::floor::FLOOR_BUDGET`] for commands without one).
pub async fn resolve_policy(
    policy: &args::PolicyArgs,
    aws: &AwsOptions,
    timeout: std::time::Duration,
) -> Result<Resolved> {
    let deadline = tokio::time::Instant::now() + timeout;
    inspector_gate::pipeline::policy::resolve(&policy.request()?, aws, deadline).await
}
