//! `inspector-gate evaluate`: the policy applied offline to a saved findings file or an
//! `Inspector2 Scan` event. No AWS calls.

use super::args::{OutputArgs, PolicyArgs};
use clap::Args;
use inspector_gate::error::{Error, Result};
use inspector_gate::pipeline::evaluate::{self as pipeline, EvaluateOptions, Input};
use inspector_gate::progress::Progress;
use std::path::PathBuf;

/// Examples under `evaluate --help`.
const EXAMPLES: &str = "\
Examples:
  # Every page of findings, saved by the AWS CLI, then gated offline
  aws inspector2 list-findings --filter-criteria file://filter.json > findings.json
  inspector-gate evaluate --findings findings.json --fail-on HIGH

  # What `inspector-gate findings` wrote, read from stdin
  inspector-gate findings --image app/web:1.4.2 | inspector-gate evaluate --findings -

  # An Inspector2 Scan EventBridge event (severity counts only)
  inspector-gate evaluate --event event.json --max-critical 0";

#[derive(Args, Debug, Clone)]
#[command(after_help = EXAMPLES)]
pub struct EvaluateArgs {
    /// Findings file, or `-` for stdin; what `findings` or `aws inspector2 list-findings` wrote.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "event",
        required_unless_present = "event",
        help_heading = "Input"
    )]
    pub findings: Option<PathBuf>,
    /// An Inspector2 Scan event file, or `-` for stdin; EventBridge's event, severity counts only.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub event: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: EvaluateArgs, progress: &Progress, color: bool) -> Result<i32> {
    let mut local = super::preflight::Local::default();
    if let Some(f) = &args.findings {
        local.read_file("--findings", f);
    }
    if let Some(f) = &args.event {
        local.read_file("--event", f);
    }
    local.policy(&args.policy);
    if let Some(d) = &args.output.report_dir {
        local.out_dir("--report-dir", d);
    }
    local.finish()?;
    // No AWS calls but a floor's: resolved on the command's runtime, the evaluation after it.
    let policy = super::block_on(super::resolve_policy(
        &args.policy,
        &Default::default(),
        inspector_gate::aws::floor::FLOOR_BUDGET,
    ))?
    .policy;
    let input = match (&args.findings, &args.event) {
        (Some(f), None) => Input::Findings(f.clone()),
        (None, Some(e)) => Input::Event(e.clone()),
        _ => {
            return Err(Error::usage(
                "give exactly one of --findings FILE or --event FILE",
            ))
        }
    };
    let opts = EvaluateOptions {
        input,
        policy,
        publish: args.output.options(color),
    };
    pipeline::run(&opts, progress)
}
