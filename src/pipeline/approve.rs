//! `approve`: answer a CodePipeline approval from a saved `report.json` (Approved when the
//! report passed, Rejected when it failed).

use crate::approval::{self, ApprovalTarget};
use crate::aws::{self, AwsOptions};
use crate::decision::{decide, Findings, OnTimeout, Outcome};
use crate::error::{Error, Result};
use crate::model::Severity;
use crate::policy::eval::{Disposition, Verdict};
use crate::policy::Suppressed;
use crate::progress::Progress;
use crate::report::Report;
use crate::retry::Schedule;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// A report larger than this is refused before it is read (a real one with 10,000 findings
/// per image is a few MiB).
pub const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// Read a saved report, bounded in size, and check that its verdict follows from its images.
pub fn read_report(path: &Path) -> Result<Report> {
    let open_err = |e: std::io::Error| {
        Error::usage(format!(
            "--report {}: {}",
            path.display(),
            crate::error::io_cause(&e)
        ))
    };
    let file = std::fs::File::open(path).map_err(open_err)?;
    let mut text = String::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(open_err)?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        return Err(Error::usage(format!(
            "report {} is larger than {} MiB: not an inspector-gate report.json",
            path.display(),
            MAX_REPORT_BYTES >> 20
        )));
    }
    let report = Report::from_json(&text).map_err(|e| {
        Error::usage(format!(
            "{} is not an inspector-gate report.json: {e}",
            path.display()
        ))
    })?;
    check_verdict(&report).map_err(|why| {
        Error::usage(format!(
            "report {} was altered or is corrupt: {why}; nothing was approved (re-run the gate)",
            path.display()
        ))
    })?;
    Ok(report)
}

/// Recompute the verdict from the per-image evaluations: an image whose counted findings
/// exceed the report's own maxima, or that lists violations, cannot have passed, and the
/// report's verdict is the worst of its images'. Pure.
pub fn check_verdict(report: &Report) -> std::result::Result<(), String> {
    let mut worst = Verdict::Pass;
    for img in &report.images {
        let e = &img.evaluation;
        // The counts are recomputed from the findings' own dispositions too: clearing the
        // `counted` totals while leaving the counted findings in place changes nothing.
        let mut recount: BTreeMap<Severity, u64> = BTreeMap::new();
        for j in &e.findings {
            if matches!(j.disposition, Disposition::Counted { .. }) {
                *recount.entry(j.finding.severity).or_default() += 1;
            }
        }
        let count = |s: Severity| e.counted(s).max(recount.get(&s).copied().unwrap_or(0));
        let over = Severity::ALL
            .into_iter()
            .find(|s| report.policy.max.get(s).is_some_and(|m| count(*s) > *m));
        let flagged = e
            .findings
            .iter()
            .any(|j| matches!(j.disposition, Disposition::Counted { violation: true }));
        // Only a policy that honours Inspector's suppression rules may leave a finding
        // uncounted for being suppressed there.
        if report.policy.suppressed == Suppressed::Count
            && e.findings
                .iter()
                .any(|j| j.disposition == Disposition::Suppressed)
        {
            return Err(format!(
                "{} leaves findings suppressed in Inspector uncounted, but its policy counts them (suppressed = \"count\")",
                crate::sanitize::text(&img.image.label())
            ));
        }
        if e.verdict == Verdict::Pass {
            if let Some(s) = over {
                return Err(format!(
                    "{} is marked pass with {} {s} finding(s) counted over a maximum of {}",
                    crate::sanitize::text(&img.image.label()),
                    count(s),
                    report.policy.max[&s]
                ));
            }
            if !e.violations.is_empty() || flagged {
                return Err(format!(
                    "{} is marked pass but lists violations",
                    crate::sanitize::text(&img.image.label())
                ));
            }
        }
        worst = worst.max(e.verdict);
    }
    if report.verdict != worst {
        return Err(format!(
            "its verdict is {} but its images' evaluations make it {}",
            report.verdict.as_str(),
            worst.as_str()
        ));
    }
    Ok(())
}

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
    let report = read_report(path)?;
    // The one decision, over what the report evaluated: a report of no image is not an answer
    // (exit 3, nothing approved or rejected), whatever its `verdict` says.
    let images = report.images.iter().cloned();
    let decision = decide(
        images.map(|i| Outcome::Evaluated(i, Findings::Final)),
        OnTimeout::Fail,
    );
    if let Some(e) = decision.error {
        return Err(e.context(format!(
            "report {} (nothing was approved or rejected; re-run the gate)",
            path.display()
        )));
    }
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
    Ok(decision.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn a_report_whose_verdict_disagrees_with_its_images_is_refused() {
        let r = testing::mixed();
        assert!(check_verdict(&r).is_ok());
        let mut forged = r.clone();
        forged.verdict = Verdict::Pass;
        for img in &mut forged.images {
            img.evaluation.verdict = Verdict::Pass;
        }
        let e = check_verdict(&forged).unwrap_err();
        assert!(e.contains("marked pass"), "{e}");
        let mut flipped = r.clone();
        flipped.verdict = if r.verdict == Verdict::Pass {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        assert!(check_verdict(&flipped).is_err());
    }

    #[test]
    fn a_suppressed_finding_uncounted_under_a_counting_policy_is_refused() {
        let mut r = testing::mixed();
        let j = &mut r.images[0].evaluation.findings[0];
        j.finding.suppressed = true;
        j.disposition = Disposition::Suppressed;
        let e = check_verdict(&r).unwrap_err();
        assert!(e.contains("suppressed in Inspector"), "{e}");
        r.policy.suppressed = Suppressed::Honor;
        assert!(check_verdict(&r).is_ok());
    }
}
