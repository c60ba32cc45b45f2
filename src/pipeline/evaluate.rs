//! `evaluate`: the policy applied offline to a saved findings file or an `Inspector2 Scan`
//! event. No AWS calls.

use super::publish::{publish, PublishOptions};
use super::{now_rfc3339, today};
use crate::error::{Error, Result};
use crate::findings_file;
use crate::policy::eval::{decide_event, evaluate, EventDecision};
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

/// Evaluate and publish; returns the verdict's exit code.
pub fn run(opts: &EvaluateOptions, progress: &Progress) -> Result<i32> {
    let policy = &opts.policy;
    let images = match &opts.input {
        Input::Findings(f) => findings_file::load_findings(f)?,
        Input::Event(e) => vec![findings_file::load_event(e)?],
    };
    let mut reports = Vec::new();
    for i in images {
        let repo = (!i.image.repository.is_empty()).then_some(i.image.repository.as_str());
        let evaluation = match i.event_counts {
            None => evaluate(policy, &i.findings, repo, today()),
            Some(counts) => {
                // Counts only: decide what the counts can decide, never pass what they cannot.
                if let EventDecision::Undecidable(why) = decide_event(policy, counts) {
                    return Err(Error::inconclusive(format!(
                        "an Inspector2 Scan event carries severity counts only, and the policy cannot be decided from them: {}; evaluate the findings instead (`inspector-gate findings` or `aws inspector2 list-findings`)",
                        why.join("; ")
                    )));
                }
                if policy_reduces(policy) {
                    progress.warn("an Inspector2 Scan event carries counts only: filters and ignore rules were not applied (the counts already decide the verdict)");
                }
                let unfiltered = Policy {
                    max: policy.max.clone(),
                    ..Policy::default()
                };
                evaluate(&unfiltered, &i.findings, repo, today())
            }
        };
        reports.push(ImageReport {
            scan: i.scan.clone().unwrap_or_default(),
            image: i.image,
            evaluation,
            fix_plan: None,
        });
    }
    let report = Report::new(now_rfc3339(), policy.clone(), reports);
    publish(&report, &opts.publish, progress)?;
    Ok(report.exit_code())
}

/// Whether the policy has filters or ignore rules (which only an itemised list can apply).
fn policy_reduces(p: &Policy) -> bool {
    p.ignore_unfixed
        || p.min_epss.is_some()
        || p.min_inspector_score.is_some()
        || p.exploit_available_only
        || !p.ignores.is_empty()
}
