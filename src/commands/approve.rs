//! `inspector-gate approve`: answer a CodePipeline approval from a saved report.json
//! (Approved when the report passed, Rejected when it failed).

use crate::approval::{self, ApprovalTarget};
use crate::aws;
use crate::cli::ApproveArgs;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::report::Report;
use crate::retry::Schedule;
use tokio::time::Instant;

pub async fn run(args: ApproveArgs, progress: Progress) -> Result<i32> {
    let target = ApprovalTarget::parse(&args.approve)?;
    let text = std::fs::read_to_string(&args.report)
        .map_err(|e| Error::usage(format!("cannot read report {}: {e}", args.report.display())))?;
    let report = Report::from_json(&text).map_err(|e| {
        Error::usage(format!(
            "{} is not an inspector-gate report.json: {e}",
            args.report.display()
        ))
    })?;
    let clients = aws::clients(&(&args.aws).into()).await?;
    let deadline = Instant::now() + args.timeout;
    approval::decide(
        &clients,
        &target,
        &report,
        args.pipeline_execution_id.as_deref(),
        args.report_url.as_deref(),
        Schedule::POLL.scaled(args.poll_interval),
        deadline,
        &progress,
    )
    .await?;
    progress.finish();
    Ok(report.exit_code())
}
