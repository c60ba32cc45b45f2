//! Waiting until "the scan of digest D" is done, as PRODUCT.md defines it: Inspector coverage
//! (or ECR's scan status) says scanned, AND the set of ACTIVE findings is the same in two reads
//! a settle interval apart (findings keep arriving after the status flips). Pending states keep
//! waiting with backoff; terminal states end at once. `judge_*` are pure; `wait` does the I/O.

use crate::aws::inspector::{self, CoverageRow};
use crate::aws::{ecr, CallError, Class, Clients};
use crate::error::{Error, Result};
use crate::model::{Finding, ScannedImage};
use crate::progress::Progress;
use crate::report::ScanInfo;
use crate::retry::{self, Schedule};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::time::Instant;

/// What one status read says about the scan.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// Not scanned yet; the string says why (for progress lines).
    Pending(String),
    /// Scanned: findings can be read (but may still be arriving).
    Scanned {
        status: String,
        last_scanned_at: Option<OffsetDateTime>,
    },
    /// Will never be scanned (exit 3) or cannot be (exit 4).
    Never(Error),
}

/// Judge an Inspector coverage row (`None` = no row yet).
pub fn judge_coverage(row: Option<&CoverageRow>, label: &str) -> Observation {
    let Some(row) = row else {
        return Observation::Pending("no coverage record yet".into());
    };
    let never = |why: &str| Observation::Never(Error::inconclusive(format!("{label}: {why}")));
    match row.reason.as_str() {
        "SUCCESSFUL" => Observation::Scanned { status: row.reason.clone(), last_scanned_at: row.last_scanned_at },
        "SCAN_FREQUENCY_SCAN_ON_PUSH" if row.last_scanned_at.is_some() => {
            Observation::Scanned { status: row.reason.clone(), last_scanned_at: row.last_scanned_at }
        }
        "SCAN_FREQUENCY_SCAN_ON_PUSH" | "PENDING_INITIAL_SCAN" | "SCAN_IN_PROGRESS" | "INTERNAL_ERROR" | "" => {
            Observation::Pending(if row.reason.is_empty() { row.status_code.clone() } else { row.reason.clone() })
        }
        "UNSUPPORTED_OS" => never("Inspector does not support this image's operating system (UNSUPPORTED_OS): no findings will ever arrive"),
        "UNSUPPORTED_MEDIA_TYPE" => never("Inspector does not support this image's media type (UNSUPPORTED_MEDIA_TYPE)"),
        "SCAN_FREQUENCY_MANUAL" => never("the repository's scan frequency is MANUAL, so Inspector will not scan it (SCAN_FREQUENCY_MANUAL); add an enhanced scanning rule with SCAN_ON_PUSH or CONTINUOUS_SCAN"),
        "SCAN_ELIGIBILITY_EXPIRED" => never("the image's scan eligibility expired (SCAN_ELIGIBILITY_EXPIRED); push it again or raise the ECR re-scan duration in Inspector"),
        "IMAGE_ARCHIVED" => never("the image is archived (IMAGE_ARCHIVED) and is not scanned; restore it first"),
        "EXCLUDED_BY_TAG" => never("the image is excluded from scanning by a tag (EXCLUDED_BY_TAG)"),
        "PENDING_DISABLE" => never("Inspector scanning is being disabled for this account (PENDING_DISABLE)"),
        "RESOURCE_TERMINATED" => never("the image was deleted (RESOURCE_TERMINATED)"),
        "ACCESS_DENIED" | "ACCESS_DENIED_TO_ENCRYPTION_KEY" => Observation::Never(Error::runtime(format!(
            "{label}: Inspector cannot read the image ({}); check the Inspector service-linked role and the repository's KMS key policy",
            row.reason
        ))),
        other if row.status_code == "INACTIVE" => never(&format!("Inspector is not scanning this image ({other})")),
        other => Observation::Pending(other.to_string()),
    }
}

/// Judge ECR's `imageScanStatus.status` (used when coverage cannot be read).
pub fn judge_ecr_status(status: Option<&str>, label: &str) -> Observation {
    let never = |why: &str| Observation::Never(Error::inconclusive(format!("{label}: {why}")));
    match status {
        None => Observation::Pending("no scan yet".into()),
        Some(s @ ("COMPLETE" | "ACTIVE")) => Observation::Scanned {
            status: s.into(),
            last_scanned_at: None,
        },
        Some(s @ ("IN_PROGRESS" | "PENDING")) => Observation::Pending(s.into()),
        Some("UNSUPPORTED_IMAGE") => {
            never("ECR reports UNSUPPORTED_IMAGE: Inspector cannot scan this image")
        }
        Some("SCAN_ELIGIBILITY_EXPIRED") => {
            never("ECR reports SCAN_ELIGIBILITY_EXPIRED; push the image again")
        }
        Some("FINDINGS_UNAVAILABLE") => never("ECR reports FINDINGS_UNAVAILABLE"),
        Some("LIMIT_EXCEEDED") => never("ECR reports LIMIT_EXCEEDED (scan quota)"),
        Some("IMAGE_ARCHIVED") => never("ECR reports IMAGE_ARCHIVED"),
        Some("FAILED") => never("ECR reports the scan FAILED"),
        Some(other) => Observation::Pending(other.into()),
    }
}

/// Identity of a finding set: compared between reads to decide the findings have settled.
pub fn finding_set(fs: &[Finding]) -> BTreeSet<String> {
    fs.iter()
        .map(|f| {
            format!(
                "{}|{}|{}",
                f.finding_arn.as_deref().unwrap_or(&f.id),
                f.id,
                f.severity
            )
        })
        .collect()
}

/// Knobs of the wait (README: "How waiting works").
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub timeout: Duration,
    pub poll: Schedule,
    /// Pause between the two findings reads that must agree.
    pub settle: Duration,
    /// A scan older than this (by `lastScannedAt`) is settled: one read is enough.
    pub settled_after: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(30 * 60),
            poll: Schedule::POLL,
            settle: Duration::from_secs(20),
            settled_after: Duration::from_secs(5 * 60),
        }
    }
}

/// The outcome of a successful wait.
#[derive(Debug, Clone)]
pub struct Waited {
    pub findings: Vec<Finding>,
    pub scan: ScanInfo,
}

/// Read every page of ACTIVE findings, retrying transient errors within the deadline.
pub async fn all_findings(
    c: &Clients,
    img: &ScannedImage,
    deadline: Instant,
    last_err: &RefCell<Option<String>>,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let (page, n) = retry::call(
            Schedule::CALL.scaled(Duration::from_millis(200)),
            deadline,
            || async {
                inspector::findings_page(c, img, next.clone())
                    .await
                    .inspect_err(|e| {
                        *last_err.borrow_mut() = Some(e.message.clone());
                    })
            },
        )
        .await
        .map_err(|e| fatal(e, "inspector2:ListFindings"))?;
        out.extend(page);
        match n {
            Some(t) if Some(&t) != next.as_ref() => next = Some(t),
            Some(_) => {
                return Err(Error::runtime(
                    "inspector2:ListFindings returned the same nextToken twice",
                ))
            }
            None => return Ok(out),
        }
    }
}

fn fatal(e: CallError, action: &str) -> Error {
    if inspector::is_not_enabled(&e) {
        return Error::inconclusive(format!(
            "Amazon Inspector is not enabled for this account/region ({}); enable it with `aws inspector2 enable --resource-types ECR`",
            e.message
        ));
    }
    match e.class {
        // Transient failures that outlast the deadline are inconclusive (exit 3, like a scan
        // that never finished) and name the last error. Not a `Timeout`: `--on-timeout pass`
        // accepts an unfinished scan, never findings we could not read.
        Class::Transient(_) => Error::inconclusive(format!(
            "{action} kept failing until the deadline (--timeout): {}",
            e.message
        )),
        _ => e.into_error(action),
    }
}

/// Wait for the scan of `img` and return its settled ACTIVE findings.
pub async fn wait(
    c: &Clients,
    img: &ScannedImage,
    opts: &WaitOptions,
    deadline: Instant,
    progress: &Progress,
    now: impl Fn() -> OffsetDateTime,
) -> Result<Waited> {
    let start = Instant::now();
    let label = img.label();
    let state = RefCell::new(String::from("not checked yet"));
    let last_err: RefCell<Option<String>> = RefCell::new(None);

    let work = async {
        let mut delays = opts.poll.delays();
        let mut use_ecr = false;
        // Phase 1: until coverage (or ECR) says the image is scanned.
        let (status, last_scanned_at) = loop {
            let obs = if use_ecr {
                match ecr::scan_status(c, img).await {
                    Ok(s) => judge_ecr_status(s.as_deref(), &label),
                    Err(e) => Observation::Pending(transient_or(
                        &e,
                        &last_err,
                        "ecr:DescribeImageScanFindings",
                    )?),
                }
            } else {
                match inspector::coverage(c, img).await {
                    Ok(row) => judge_coverage(row.as_ref(), &label),
                    Err(e) if e.class == Class::AccessDenied && !inspector::is_not_enabled(&e) => {
                        progress.warn(&format!(
                            "no permission for inspector2:ListCoverage ({}); falling back to ECR scan status",
                            e.message
                        ));
                        use_ecr = true;
                        continue;
                    }
                    Err(e) => {
                        let hint = match e.class {
                            Class::Transient(h) => h,
                            _ => None,
                        };
                        let why = transient_or(&e, &last_err, "inspector2:ListCoverage")?;
                        let mut d = delays.next().unwrap_or(opts.poll.max);
                        if let Some(h) = hint {
                            d = d.max(h);
                        }
                        *state.borrow_mut() = why.clone();
                        progress.phase(&format!(
                            "waiting for scan of {label}: {why}; retrying in {}s",
                            d.as_secs()
                        ));
                        tokio::time::sleep(d).await;
                        continue;
                    }
                }
            };
            match obs {
                Observation::Scanned {
                    status,
                    last_scanned_at,
                } => break (status, last_scanned_at),
                Observation::Never(e) => return Err(e),
                Observation::Pending(why) => {
                    let d = delays.next().unwrap_or(opts.poll.max);
                    *state.borrow_mut() = why.clone();
                    progress.phase(&format!(
                        "waiting for scan of {label}: {why} (next check in {:.0}s)",
                        d.as_secs_f64().ceil()
                    ));
                    tokio::time::sleep(d).await;
                }
            }
        };
        *state.borrow_mut() = format!("{status}, reading findings");
        // Phase 2: until two reads a settle interval apart agree.
        let mut findings = all_findings(c, img, deadline, &last_err).await?;
        let old_scan = last_scanned_at.is_some_and(|t| now() - t > opts.settled_after);
        if !old_scan {
            loop {
                *state.borrow_mut() =
                    format!("{status}, findings settling ({} so far)", findings.len());
                progress.phase(&format!(
                    "scan of {label} done ({status}); checking that findings have settled ({} so far)",
                    findings.len()
                ));
                tokio::time::sleep(opts.settle).await;
                let again = all_findings(c, img, deadline, &last_err).await?;
                let stable = finding_set(&again) == finding_set(&findings);
                findings = again;
                if stable {
                    break;
                }
            }
        }
        progress.info(&format!(
            "scan of {label} done: {} active finding(s)",
            findings.len()
        ));
        Ok(Waited {
            findings,
            scan: ScanInfo {
                status: Some(status),
                last_scanned_at: last_scanned_at.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
                waited_seconds: start.elapsed().as_secs_f64(),
            },
        })
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r,
        Err(_) => {
            let last = last_err
                .borrow()
                .clone()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default();
            Err(Error::timeout(format!(
                "timed out after {} waiting for the scan of {label} (last state: {}{last}); raise --timeout or check the scan in the Inspector console",
                humanize(opts.timeout),
                state.borrow()
            )))
        }
    }
}

/// Transient errors become a pending reason (and are remembered); others end the wait.
fn transient_or(e: &CallError, last: &RefCell<Option<String>>, action: &str) -> Result<String> {
    match e.class {
        Class::Transient(_) => {
            *last.borrow_mut() = Some(e.message.clone());
            Ok(format!("{action} answered {}", e.code))
        }
        _ => Err(fatal(e.clone(), action)),
    }
}

/// "30m", "90s", "1h5m".
pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, 0) => format!("{}ms", d.as_millis()),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Parse "30m", "90s", "1h", "500ms", "1h30m" or plain seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return match Duration::from_secs(n) {
            d if d > MAX_DURATION => Err(too_long(s)),
            d => Ok(d),
        };
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let mut unit = ch.to_string();
        if ch == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit = "ms".into();
        }
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration '{s}' (examples: 30m, 90s, 1h)"))?;
        num.clear();
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration '{s}': unknown unit '{unit}' (use ms, s, m, h)"
                ))
            }
        };
        // try_: a huge number is an error, not a panic; checked_: so is a huge sum.
        total = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| too_long(s))?;
    }
    if !num.is_empty() {
        return Err(format!(
            "invalid duration '{s}': number without unit (use ms, s, m, h)"
        ));
    }
    if total > MAX_DURATION {
        return Err(too_long(s));
    }
    Ok(total)
}

/// The longest duration accepted: far beyond any scan or approval wait (approvals expire
/// after 7 days), and small enough that `now + duration` can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

fn too_long(s: &str) -> String {
    format!("invalid duration '{s}': longer than 30 days")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, reason: &str, at: Option<i64>) -> CoverageRow {
        CoverageRow {
            status_code: code.into(),
            reason: reason.into(),
            last_scanned_at: at.map(|t| OffsetDateTime::from_unix_timestamp(t).unwrap()),
        }
    }

    #[test]
    fn coverage_states() {
        assert!(matches!(judge_coverage(None, "x"), Observation::Pending(_)));
        assert!(matches!(
            judge_coverage(Some(&row("ACTIVE", "PENDING_INITIAL_SCAN", None)), "x"),
            Observation::Pending(_)
        ));
        assert!(matches!(
            judge_coverage(Some(&row("ACTIVE", "SUCCESSFUL", Some(1))), "x"),
            Observation::Scanned { .. }
        ));
        assert!(matches!(
            judge_coverage(
                Some(&row("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH", None)),
                "x"
            ),
            Observation::Pending(_)
        ));
        assert!(matches!(
            judge_coverage(
                Some(&row("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH", Some(1))),
                "x"
            ),
            Observation::Scanned { .. }
        ));
        for (reason, code) in [
            ("UNSUPPORTED_OS", 3),
            ("SCAN_ELIGIBILITY_EXPIRED", 3),
            ("EXCLUDED_BY_TAG", 3),
            ("ACCESS_DENIED", 4),
        ] {
            match judge_coverage(Some(&row("INACTIVE", reason, None)), "x") {
                Observation::Never(e) => {
                    assert_eq!(e.exit_code(), code, "{reason}");
                    assert!(e.message.contains(reason));
                }
                o => panic!("{reason}: {o:?}"),
            }
        }
    }

    #[test]
    fn ecr_states() {
        assert!(matches!(
            judge_ecr_status(Some("ACTIVE"), "x"),
            Observation::Scanned { .. }
        ));
        assert!(matches!(
            judge_ecr_status(Some("PENDING"), "x"),
            Observation::Pending(_)
        ));
        assert!(matches!(
            judge_ecr_status(Some("UNSUPPORTED_IMAGE"), "x"),
            Observation::Never(_)
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
        // Huge values are errors, never a panic in Duration or in `now + timeout`.
        for huge in [
            "99999999999999999999999h",
            "18446744073709551615",
            "18446744073709551615s",
            "31d",
            "721h",
        ] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
        assert!(parse_duration(&format!("1{}s", "0".repeat(400))).is_err());
        assert_eq!(parse_duration("720h").unwrap(), MAX_DURATION);
        assert_eq!(humanize(Duration::from_secs(1800)), "30m");
    }
}
