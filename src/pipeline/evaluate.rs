//! `evaluate`: the policy applied offline to a saved findings file or an `Inspector2 Scan`
//! event. No AWS calls.

use super::publish::{publish, PublishOptions};
use super::{now_rfc3339, today};
use crate::decision::{decide, Findings, OnTimeout, Outcome};
use crate::error::{Error, Result};
use crate::findings_file;
use crate::policy::eval::{evaluate, evaluate_counts};
use crate::policy::Policy;
use crate::progress::Progress;
use crate::report::{ImageReport, Report};
use std::path::PathBuf;

/// What to evaluate.
#[derive(Debug, Clone)]
pub enum Input {
    /// Our `findings` JSON, or `aws inspector2 list-findings` output.
    Findings(PathBuf),
    /// An `Inspector2 Scan` EventBridge event (severity counts only).
    Event(PathBuf),
}

#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    pub input: Input,
    pub policy: Policy,
    pub publish: PublishOptions,
}

/// Evaluate and publish; returns the verdict's exit code. A document that lists no image
/// evaluates nothing and is inconclusive (exit 3), never a pass.
pub fn run(opts: &EvaluateOptions, progress: &Progress) -> Result<i32> {
    let policy = &opts.policy;
    let (images, path) = match &opts.input {
        Input::Findings(f) => (findings_file::load_findings(f)?, f),
        Input::Event(e) => (vec![findings_file::load_event(e)?], e),
    };
    if images.is_empty() {
        return Err(Error::inconclusive(format!(
            "{} lists no image: nothing was evaluated, so it cannot pass",
            path.display()
        )));
    }
    let outcomes: Vec<Outcome> = images
        .into_iter()
        .map(|i| match evaluate_one(policy, i, progress) {
            Ok(report) => Outcome::Evaluated(report, Findings::Final),
            Err(e) => Outcome::Error(e),
        })
        .collect();
    let d = decide(outcomes, OnTimeout::Fail);
    super::end_on_error(d.error, d.other_errors)?;
    let report = Report::new(now_rfc3339(), policy.clone(), d.images);
    publish(&report, &opts.publish, progress)?;
    Ok(report.exit_code())
}

/// The evaluation of one image of the document.
fn evaluate_one(
    policy: &Policy,
    i: findings_file::ImageFindings,
    progress: &Progress,
) -> Result<ImageReport> {
    let repo = (!i.image.repository.is_empty()).then_some(i.image.repository.as_str());
    let evaluation = match &i.event_counts {
        None => evaluate(&policy.for_image(&i.image), &i.findings, repo, today()),
        // Counts only: decide what the counts can decide, never pass what they cannot.
        Some(counts) => evaluate_counts(&policy.for_image(&i.image), counts, "Inspector2 Scan event").map_err(|why| {
            Error::inconclusive(format!(
                "an Inspector2 Scan event carries severity counts only, and the policy cannot be decided from them: {}; evaluate the findings instead (`inspector-gate findings` or `aws inspector2 list-findings`)",
                why.join("; ")
            ))
        })?,
    };
    for w in evaluation
        .warnings
        .iter()
        .filter(|_| i.event_counts.is_some())
    {
        progress.warn(w);
    }
    Ok(ImageReport {
        scan: i.scan.clone().unwrap_or_default(),
        image: i.image,
        evaluation,
        fix_plan: None,
        unread: Vec::new(),
    })
}
