//! `scan`: the local check without a push. Catalogue an image (or read an SBOM), have
//! Inspector's `ScanSbom` find the vulnerabilities, and judge them with the same policy and
//! reports as the registry gate. The work is in [`crate::scan`]; this use case adds the
//! verdict and the publishing.

use super::publish::{publish, PublishOptions};
use super::{now_rfc3339, today};
use crate::decision::{decide, Findings, OnTimeout, Outcome};
use crate::error::{Error, Result};
use crate::model::ScannedImage;
use crate::policy::eval::evaluate;
use crate::policy::Policy;
use crate::progress::Progress;
use crate::report::{ImageReport, Report, ScanInfo};
use crate::scan::{self, ScanOptions};

#[derive(Debug, Clone)]
pub struct ScanCommandOptions {
    pub scan: ScanOptions,
    pub policy: Policy,
    pub publish: PublishOptions,
}

/// Scan, evaluate and publish; returns the verdict's exit code.
pub async fn run(opts: &ScanCommandOptions, progress: &Progress) -> Result<i32> {
    let started = std::time::Instant::now();
    progress.info("cataloguing packages and scanning them with inspector-scan:ScanSbom");
    let scans = scan::run(&opts.scan).await?;
    let mut outcomes = Vec::with_capacity(scans.len());
    for s in &scans {
        // Notes go into the report too (every renderer shows an image's warnings), not only
        // into the log; what the catalogue did not read is the report's `unread`, and decides.
        let mut notes = Vec::new();
        let mut unread = Vec::new();
        if let Some(inv) = &s.inventory {
            for w in &inv.warnings {
                progress.warn(&format!("{}: {w}", s.label));
                notes.push(w.clone());
            }
            for u in &inv.unread {
                progress.warn(&format!("{}: not read: {u}", s.label));
            }
            unread = inv.unread.clone();
        }
        progress.info(&format!(
            "{}: {} package(s), {} finding(s)",
            s.label,
            s.components,
            s.findings.len()
        ));
        // A platform in which nothing was found to scan is not evaluated: a run that
        // evaluated nothing never passes, and neither does one platform of it.
        if s.components == 0 {
            let what = match &s.platform {
                Some(p) if scans.len() > 1 => format!(" in platform {p}"),
                _ => String::new(),
            };
            let gap = match unread.first() {
                Some(u) => format!(
                    "; {} file(s) it needed were not read, first: {u}",
                    unread.len()
                ),
                None => String::new(),
            };
            outcomes.push(Outcome::Error(
                Error::inconclusive(format!(
                    "no packages were found to scan{what} (no dpkg/apk/rpm database and no language packages): is this the image's root filesystem?{gap}"
                ))
                .with_details(unread.iter().map(|u| u.to_string()).collect()),
            ));
            continue;
        }
        let report = ImageReport {
            image: ScannedImage {
                registry: String::new(),
                region: String::new(),
                repository: s.label.clone(),
                digest: String::new(),
                platform: s.platform.clone(),
                requested: s.label.clone(),
                index_digest: None,
                registry_host: None,
            },
            scan: ScanInfo {
                status: Some("SCAN_SBOM".into()),
                last_scanned_at: Some(now_rfc3339()),
                waited_seconds: started.elapsed().as_secs_f64(),
            },
            evaluation: {
                let mut e = evaluate(&opts.policy, &s.findings, None, today());
                e.warnings.extend(notes);
                e
            },
            fix_plan: None,
            unread,
        };
        outcomes.push(Outcome::Evaluated(
            report,
            Findings::Incomplete(opts.policy.scan_unread),
        ));
    }
    let d = decide(outcomes, OnTimeout::Fail);
    for w in &d.warnings {
        progress.warn(w);
    }
    super::end_on_error(d.error, d.other_errors)?;
    let report = Report::new(now_rfc3339(), opts.policy.clone(), d.images);
    publish(&report, &opts.publish, progress)?;
    Ok(report.exit_code())
}
