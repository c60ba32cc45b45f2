//! `inspector-gate approve`: answer a CodePipeline approval from a saved report.json
//! (Approved when the report passed, Rejected when it failed).

use super::args::{parse_interval, parse_timeout, AwsArgs};
use clap::Args;
use inspector_gate::approval::ApprovalTarget;
use inspector_gate::error::Result;
use inspector_gate::pipeline::approve::{self as pipeline, ApproveOptions};
use inspector_gate::pipeline::gate::poll_schedule;
use inspector_gate::progress::Progress;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ApproveArgs {
    /// The report.json that `gate --report-dir` wrote.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// PIPELINE/STAGE/ACTION of the manual approval.
    #[arg(
        long,
        env = "INSPECTOR_GATE_APPROVE",
        value_name = "PIPELINE/STAGE/ACTION"
    )]
    pub approve: String,
    /// The pipeline execution to answer (never overrides a digest it names).
    #[arg(long, env = "INSPECTOR_GATE_PIPELINE_EXECUTION_ID", value_name = "ID")]
    pub pipeline_execution_id: Option<String>,
    /// A link for the approval's reviewer (e.g. the build's report page).
    #[arg(long, env = "INSPECTOR_GATE_REPORT_URL", value_name = "URL")]
    pub report_url: Option<String>,
    /// Give up waiting for the approval to be InProgress after this long.
    #[arg(long, env = "INSPECTOR_GATE_TIMEOUT", default_value = "30m", value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Shortest gap between checks of the approval's state.
    #[arg(long, env = "INSPECTOR_GATE_POLL_INTERVAL", default_value = "5s", value_name = "DURATION", value_parser = parse_interval)]
    pub poll_interval: std::time::Duration,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: ApproveArgs, progress: &Progress) -> Result<i32> {
    // The report is the one local input: read (and checked) by pipeline::approve's own
    // read_report before any AWS call.
    let opts = ApproveOptions {
        report: args.report.clone(),
        target: ApprovalTarget::parse(&args.approve)?,
        execution_id: args.pipeline_execution_id.clone(),
        report_url: args.report_url.clone(),
        timeout: args.timeout,
        poll: poll_schedule(args.poll_interval),
        aws: (&args.aws).into(),
    };
    super::block_on(async move { pipeline::run(&opts, progress).await })
}
