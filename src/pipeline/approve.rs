//! `approve`: answer a CodePipeline approval from a saved `report.json` (Approved when the
//! report passed, Rejected when it failed).

use crate::approval::{self, ApprovalTarget};
use crate::aws::{self, AwsOptions};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::report::Report;
use crate::retry::Schedule;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct ApproveOptions {
    pub report: PathBuf,
    pub target: ApprovalTarget,
    pub execution_id: Option<String>,
    pub report_url: Option<String>,
    pub timeout: Duration,
    pub poll: Schedule,
    pub aws: AwsOptions,
}

/// Read the report, then wait for the approval and answer it; returns the verdict's exit code.
pub async fn run(opts: &ApproveOptions, progress: &Progress) -> Result<i32> {
    let path = &opts.report;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read report {}: {e}", path.display())))?;
    let report = Report::from_json(&text).map_err(|e| {
        Error::usage(format!(
            "{} is not an inspector-gate report.json: {e}",
            path.display()
        ))
    })?;
    let clients = aws::clients(&opts.aws).await?;
    let deadline = Instant::now() + opts.timeout;
    approval::decide(
        &clients,
        &opts.target,
        &report,
        opts.execution_id.as_deref(),
        opts.report_url.as_deref(),
        opts.poll,
        deadline,
        progress,
    )
    .await?;
    progress.finish();
    Ok(report.exit_code())
}
