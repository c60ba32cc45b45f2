//! `inspector-gate evaluate`: the policy applied offline to a saved findings file or an
//! `Inspector2 Scan` event. No AWS calls.

use super::gate::publish;
use super::{now_rfc3339, resolve_policy, today};
use crate::cli::EvaluateArgs;
use crate::error::{Error, Result};
use crate::findings_file;
use crate::model::Severity;
use crate::policy::eval::evaluate;
use crate::progress::Progress;
use crate::report::{ImageReport, Report};
use clap::ArgMatches;

pub fn run(args: EvaluateArgs, m: &ArgMatches, progress: &Progress, color: bool) -> Result<i32> {
    let resolved = resolve_policy(&args.policy, m)?;
    let policy = resolved.policy;
    let images = match (&args.findings, &args.event) {
        (Some(f), None) => findings_file::load_findings(f)?,
        (None, Some(e)) => {
            let img = findings_file::load_event(e)?;
            for s in [Severity::Low, Severity::Informational, Severity::Untriaged] {
                if policy.max.contains_key(&s) {
                    progress.warn(&format!("an Inspector2 Scan event has no {s} count: max-{} cannot be checked from it", s.as_str().to_lowercase()));
                }
            }
            if !policy.ignores.is_empty() {
                progress.warn(
                    "an Inspector2 Scan event carries counts only: ignore rules cannot match it",
                );
            }
            vec![img]
        }
        _ => {
            return Err(Error::usage(
                "give exactly one of --findings FILE or --event FILE",
            ))
        }
    };
    let reports: Vec<ImageReport> = images
        .into_iter()
        .map(|i| {
            let repo = (!i.image.repository.is_empty()).then_some(i.image.repository.as_str());
            let evaluation = evaluate(&policy, &i.findings, repo, today());
            ImageReport {
                scan: i.scan.clone().unwrap_or_default(),
                image: i.image,
                evaluation,
            }
        })
        .collect();
    let report = Report::new(now_rfc3339(), policy, reports);
    publish(
        &report,
        args.format,
        args.report_dir.as_deref(),
        color,
        progress,
    )?;
    Ok(report.exit_code())
}
