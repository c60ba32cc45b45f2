//! Waiting until "the scan of digest D" is done, as PRODUCT.md defines it: Inspector coverage
//! (or ECR's scan status) says scanned, AND the findings have settled (findings keep arriving
//! for a few seconds after the status flips).
//!
//! The pure part decides: [`judge_coverage`] / [`judge_ecr_status`] classify every status
//! value AWS defines (a unit test walks the SDK enums, so a new value is a decision, not a
//! silent timeout), [`poll_delay`] spaces the status checks and [`settle_for`] picks the settle
//! window. [`wait`] does the I/O: [`await_scanned`], then [`await_settled`].
//!
//! Timing (README "How waiting works"): the gate must decide within max(3 s, 10% of the wait so
//! far) of the findings being final, with few calls. So the gap between status checks is
//! 10.7% of the time waited so far (never below `--poll-interval`, never above 20× it): a scan
//! that completes between two checks is seen at most ~10% of the wait later, and a 10-minute
//! scan costs about 40 checks. Findings are final when two consecutive reads agree and the
//! later one began at least the settle window after the scan's own completion time
//! (`lastScannedAt`; when we first saw it scanned, if unknown) — or when the scan completed
//! more than 5 minutes before the read (one read). The settle window is 8% of the wait (2.5 s
//! to 60 s): a scan seen just after it completed is read again once the window has passed; one
//! seen later is read twice back to back, so settling adds a fraction of a second.
//! Throttled and failed calls are retried on the short call schedule ([`Schedule::CALL`],
//! honouring `Retry-After`), never on the poll schedule.

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

/// How the gate treats one Inspector `ScanStatusReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    /// The scan is done.
    Scanned,
    /// Done once `lastScannedAt` is set (scan-on-push repositories), pending before.
    ScannedOnceStamped,
    /// Keep waiting.
    Pending,
    /// Never scanned: exit 3, with the fix.
    Terminal(&'static str),
    /// Inspector cannot read the image: exit 4, with the fix.
    Access(&'static str),
}

/// Every `ScanStatusReason` the SDK knows, classified on purpose; `None` for a value this
/// build has never seen.
pub fn classify_reason(reason: &str) -> Option<ReasonClass> {
    use ReasonClass::*;
    Some(match reason {
        "SUCCESSFUL" => Scanned,
        "SCAN_FREQUENCY_SCAN_ON_PUSH" => ScannedOnceStamped,
        "PENDING_INITIAL_SCAN" | "SCAN_IN_PROGRESS" | "PENDING_REVIVAL_SCAN" => Pending,
        // Inspector's own transient failure: it retries the scan.
        "INTERNAL_ERROR" => Pending,
        "UNSUPPORTED_OS" => Terminal("Inspector does not support this image's operating system, so no findings will ever arrive"),
        "UNSUPPORTED_MEDIA_TYPE" => Terminal("Inspector does not support this image's media type"),
        "UNSUPPORTED_CONFIG_FILE" => Terminal("Inspector cannot read this image's config file"),
        "INVALID_ARTIFACT" => Terminal("Inspector considers the image an invalid artifact; rebuild and push it again"),
        "IMAGE_SIZE_EXCEEDED" => Terminal("the image is larger than Inspector scans; make it smaller"),
        "STORAGE_LIMIT_EXCEEDED" => Terminal("the image exceeds Inspector's storage limit for a scan; make it smaller"),
        "EXTRACTION_COLLECTION_TIME_LIMIT_EXCEEDED" => Terminal("Inspector ran out of time extracting the image; make it smaller or split its layers"),
        "SCAN_FREQUENCY_MANUAL" => Terminal("the repository's scan frequency is MANUAL, so Inspector will not scan it; add an enhanced scanning rule with SCAN_ON_PUSH or CONTINUOUS_SCAN"),
        "NO_SCAN_CONFIGURATION_ASSOCIATED" => Terminal("no scan configuration is associated with the resource; add an enhanced scanning rule for the repository"),
        "SCAN_ELIGIBILITY_EXPIRED" => Terminal("the image's scan eligibility expired; push it again or raise the ECR re-scan duration in Inspector"),
        "IMAGE_ARCHIVED" => Terminal("the image is archived and is not scanned; restore it first"),
        "EXCLUDED_BY_TAG" => Terminal("the image is excluded from scanning by a tag"),
        "PENDING_DISABLE" => Terminal("Inspector scanning is being disabled for this account"),
        "RESOURCE_TERMINATED" => Terminal("the image was deleted"),
        "NO_RESOURCES_FOUND" => Terminal("Inspector found no resource to scan"),
        // Reasons for code, Lambda and EC2 scans: never an image's state. Deciding (exit 3)
        // beats waiting out the timeout on a state that will not change.
        "UNSUPPORTED_LANGUAGE" | "UNSUPPORTED_RUNTIME" | "UNSUPPORTED_CODE_ARTIFACTS"
        | "NO_INVENTORY" | "STALE_INVENTORY" | "RESOURCE_STOPPED" | "RESOURCE_UNMANAGED"
        | "EC2_INSTANCE_STOPPED" | "UNMANAGED_EC2_INSTANCE" | "INTEGRATION_CONNECTION_LOST"
        | "AGENTLESS_INSTANCE_COLLECTION_TIME_LIMIT_EXCEEDED"
        | "AGENTLESS_INSTANCE_STORAGE_LIMIT_EXCEEDED"
        | "DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED"
        | "DEEP_INSPECTION_DAILY_SSM_INVENTORY_LIMIT_EXCEEDED"
        | "DEEP_INSPECTION_NO_INVENTORY"
        | "DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED" => {
            Terminal("Inspector reports a state that does not apply to container images")
        }
        "ACCESS_DENIED" => Access("check the Inspector service-linked role and the repository policy"),
        "ACCESS_DENIED_TO_ENCRYPTION_KEY" => Access("let Inspector's service-linked role use the repository's KMS key"),
        _ => return None,
    })
}

/// Judge an Inspector coverage row (`None` = no row yet).
pub fn judge_coverage(row: Option<&CoverageRow>, label: &str) -> Observation {
    let Some(row) = row else {
        return Observation::Pending("no coverage record yet".into());
    };
    let reason = row.reason.as_str();
    let scanned = || Observation::Scanned {
        status: reason.to_string(),
        last_scanned_at: row.last_scanned_at,
    };
    match classify_reason(reason) {
        Some(ReasonClass::Scanned) => scanned(),
        Some(ReasonClass::ScannedOnceStamped) if row.last_scanned_at.is_some() => scanned(),
        Some(ReasonClass::ScannedOnceStamped | ReasonClass::Pending) => {
            Observation::Pending(reason.to_string())
        }
        Some(ReasonClass::Terminal(why)) => {
            Observation::Never(Error::inconclusive(format!("{label}: {why} ({reason})")))
        }
        Some(ReasonClass::Access(fix)) => Observation::Never(Error::runtime(format!(
            "{label}: Inspector cannot read the image ({reason}); {fix}"
        ))),
        // No reason at all: only the status code speaks.
        None if reason.is_empty() && row.status_code == "INACTIVE" => {
            Observation::Never(Error::inconclusive(format!(
                "{label}: Inspector is not scanning this image (INACTIVE)"
            )))
        }
        None if reason.is_empty() => Observation::Pending(row.status_code.clone()),
        // A value newer than this build: INACTIVE is final, ACTIVE keeps waiting.
        None if row.status_code == "INACTIVE" => Observation::Never(Error::inconclusive(format!(
            "{label}: Inspector is not scanning this image ({reason})"
        ))),
        None => Observation::Pending(format!("{reason} (a status this version does not know)")),
    }
}

/// Every ECR `imageScanStatus.status`, classified on purpose; `None` for an unknown value.
pub fn classify_ecr_status(status: &str) -> Option<ReasonClass> {
    use ReasonClass::*;
    Some(match status {
        // Under enhanced scanning a scanned image says ACTIVE; basic scanning says COMPLETE.
        "COMPLETE" | "ACTIVE" => Scanned,
        "IN_PROGRESS" | "PENDING" => Pending,
        "UNSUPPORTED_IMAGE" => Terminal("Inspector cannot scan this image"),
        "SCAN_ELIGIBILITY_EXPIRED" => Terminal("push the image again"),
        "FINDINGS_UNAVAILABLE" => Terminal("ECR has no findings for this image"),
        "LIMIT_EXCEEDED" => Terminal("the scan quota is exceeded"),
        "IMAGE_ARCHIVED" => Terminal("the image is archived; restore it first"),
        "FAILED" => Terminal("the scan failed"),
        _ => return None,
    })
}

/// Judge ECR's `imageScanStatus.status` (used when coverage cannot be read).
pub fn judge_ecr_status(status: Option<&str>, label: &str) -> Observation {
    let Some(s) = status else {
        return Observation::Pending("no scan yet".into());
    };
    match classify_ecr_status(s) {
        Some(ReasonClass::Scanned | ReasonClass::ScannedOnceStamped) => Observation::Scanned {
            status: s.into(),
            last_scanned_at: None,
        },
        Some(ReasonClass::Pending) => Observation::Pending(s.into()),
        Some(ReasonClass::Terminal(why) | ReasonClass::Access(why)) => Observation::Never(
            Error::inconclusive(format!("{label}: ECR reports {s}: {why}")),
        ),
        None => Observation::Pending(format!("{s} (a status this version does not know)")),
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

/// Share of the wait so far that the next status check may be away.
pub const POLL_SHARE: f64 = 0.107;
/// Share of the wait so far used as the settle window when `--settle` is not given.
pub const SETTLE_SHARE: f64 = 0.08;
pub const SETTLE_MIN: Duration = Duration::from_millis(2500);
pub const SETTLE_MAX: Duration = Duration::from_secs(60);

/// Delay before the next status check after `elapsed` of waiting: `POLL_SHARE` of it, at least
/// `first`, at most 20 × `first` (30 s → 60 s with the default `--poll-interval 3s`).
pub fn poll_delay(elapsed: Duration, first: Duration) -> Duration {
    elapsed.mul_f64(POLL_SHARE).clamp(first, first * 20)
}

/// The settle window after `elapsed` of waiting: `--settle` if given, else `SETTLE_SHARE` of
/// the wait (2.5 s – 60 s), so that settling stays inside the decision budget.
pub fn settle_for(elapsed: Duration, fixed: Option<Duration>) -> Duration {
    fixed.unwrap_or_else(|| elapsed.mul_f64(SETTLE_SHARE).clamp(SETTLE_MIN, SETTLE_MAX))
}

/// How long after a findings read started at `read_at` to read again before the findings count
/// as final: zero when the read began at least `settle` after the scan completed
/// (`completed_at`, Inspector's `lastScannedAt`, or when we first saw it scanned).
pub fn settle_remaining(
    completed_at: OffsetDateTime,
    read_at: OffsetDateTime,
    settle: Duration,
) -> Duration {
    let since = read_at - completed_at;
    let since = Duration::try_from(since).unwrap_or(Duration::ZERO);
    settle.saturating_sub(since)
}

/// Knobs of the wait (README: "How waiting works").
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub timeout: Duration,
    /// The first (and shortest) gap between status checks.
    pub first_poll: Duration,
    /// A fixed settle window (`--settle`), or `None` for the share of the wait.
    pub settle: Option<Duration>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(30 * 60),
            first_poll: Duration::from_secs(3),
            settle: None,
        }
    }
}

/// The outcome of a wait that read findings.
#[derive(Debug, Clone)]
pub struct Waited {
    pub findings: Vec<Finding>,
    pub scan: ScanInfo,
    /// False when the deadline passed while the findings were still settling: they were
    /// read (and must be evaluated) but more may have been arriving.
    pub complete: bool,
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
    let mut seen = std::collections::HashSet::new();
    loop {
        let (page, n) = retry::call(Schedule::CALL, deadline, || async {
            inspector::findings_page(c, img, next.clone())
                .await
                .inspect_err(|e| {
                    *last_err.borrow_mut() = Some(e.message.clone());
                })
        })
        .await
        .map_err(|e| fatal(e, "inspector2:ListFindings"))?;
        out.extend(page);
        next = inspector::next_page(&mut seen, n.as_deref(), "inspector2:ListFindings")
            .map_err(|e| e.into_error("inspector2:ListFindings"))?;
        if next.is_none() {
            return Ok(out);
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

/// `e` about the platform manifest `img`, for an error whose text does not name the image
/// (an API call's failure): with several platforms, the user must see which one it was.
/// Errors that name the image themselves (its label) are not passed through here.
fn about(img: &ScannedImage, e: Error) -> Error {
    match &img.platform {
        Some(p) => e.context(format!("platform {p}")),
        None => e,
    }
}

/// The latest findings read, and the scan status that allowed it.
struct LastRead {
    findings: Vec<Finding>,
    status: String,
}

/// What the wait loop shares with its timeout handler.
struct Track {
    start: Instant,
    state: RefCell<String>,
    last_err: RefCell<Option<String>>,
    read: RefCell<Option<LastRead>>,
}

/// A once-per-repository check run lazily, the first time a wait sees no coverage row: is the
/// repository covered by enhanced scanning at all? (A covered image gets a row within seconds
/// of its push, so an image with a row never pays for this check.)
pub struct CoverageCheck {
    repository: String,
    registry: Option<String>,
    done: tokio::sync::OnceCell<Result<Option<String>>>,
}

impl CoverageCheck {
    pub fn new(repository: &str, registry: Option<&str>) -> Self {
        CoverageCheck {
            repository: repository.to_string(),
            registry: registry.map(str::to_string),
            done: tokio::sync::OnceCell::new(),
        }
    }

    async fn run(&self, c: &Clients, deadline: Instant, progress: &Progress) -> Result<()> {
        let r = self
            .done
            .get_or_init(|| async {
                ecr::check_coverage(c, &self.repository, self.registry.as_deref(), deadline).await
            })
            .await;
        match r {
            Ok(Some(freq)) => progress.debug(&format!(
                "{} is covered by enhanced scanning ({freq})",
                self.repository
            )),
            Ok(None) => progress
                .debug("could not read the scanning configuration; relying on Inspector coverage"),
            Err(e) => return Err(e.clone()),
        }
        Ok(())
    }
}

/// Phase 1: poll until coverage (or ECR) says the image is scanned.
async fn await_scanned(
    c: &Clients,
    img: &ScannedImage,
    opts: &WaitOptions,
    deadline: Instant,
    check: &CoverageCheck,
    track: &Track,
    progress: &Progress,
) -> Result<(String, Option<OffsetDateTime>)> {
    let label = img.label();
    let mut use_ecr = false;
    loop {
        let obs = if use_ecr {
            let s = retry::call(Schedule::CALL, deadline, || ecr::scan_status(c, img))
                .await
                .map_err(|e| about(img, fatal(e, "ecr:DescribeImageScanFindings")))?;
            judge_ecr_status(s.as_deref(), &label)
        } else {
            let row = retry::call(Schedule::CALL, deadline, || async {
                inspector::coverage(c, img)
                    .await
                    .inspect_err(|e| *track.last_err.borrow_mut() = Some(e.message.clone()))
            })
            .await;
            match row {
                Ok(row) => {
                    progress.debug(&format!(
                        "coverage of {label}: {}",
                        row.as_ref()
                            .map(|r| format!("{} {}", r.status_code, r.reason))
                            .unwrap_or_else(|| "no row".into())
                    ));
                    if row.is_none() {
                        check
                            .run(c, deadline, progress)
                            .await
                            .map_err(|e| about(img, e))?;
                    }
                    judge_coverage(row.as_ref(), &label)
                }
                Err(e) if e.class == Class::AccessDenied && !inspector::is_not_enabled(&e) => {
                    progress.warn(&format!(
                        "no permission for inspector2:ListCoverage ({}); falling back to ECR scan status",
                        e.message
                    ));
                    use_ecr = true;
                    continue;
                }
                Err(e) => return Err(about(img, fatal(e, "inspector2:ListCoverage"))),
            }
        };
        match obs {
            Observation::Scanned {
                status,
                last_scanned_at,
            } => return Ok((status, last_scanned_at)),
            Observation::Never(e) => return Err(e),
            Observation::Pending(why) => {
                let d = poll_delay(track.start.elapsed(), opts.first_poll);
                *track.state.borrow_mut() = why.clone();
                progress.phase(&format!(
                    "waiting for scan of {label}: {why} (next check in {:.0}s)",
                    d.as_secs_f64().ceil()
                ));
                tokio::time::sleep(d).await;
            }
        }
    }
}

/// A scan that completed this long before a read has nothing left to settle: one read is
/// final (re-gating an image scanned earlier costs a few calls and no waiting).
pub const SETTLED_AFTER: Duration = Duration::from_secs(5 * 60);
/// The shortest pause between two findings reads (so a set that keeps changing never turns
/// into a busy loop).
pub const MIN_READ_GAP: Duration = Duration::from_millis(250);

/// Whether a findings read is final: the scan completed [`SETTLED_AFTER`] before it, or it
/// agrees with the previous read and began at least `settle` after the scan completed.
pub fn is_final(
    completed_at: OffsetDateTime,
    read_at: OffsetDateTime,
    settle: Duration,
    agrees_with_previous: bool,
) -> bool {
    let since = Duration::try_from(read_at - completed_at).unwrap_or(Duration::ZERO);
    since >= SETTLED_AFTER || (agrees_with_previous && since >= settle)
}

/// Phase 2: read the findings until a read is final (see [`is_final`]).
#[expect(
    clippy::too_many_arguments,
    reason = "the phase needs the call context, the scan it follows and the shared tracking"
)]
async fn await_settled(
    c: &Clients,
    img: &ScannedImage,
    status: &str,
    completed_at: OffsetDateTime,
    settle: Duration,
    deadline: Instant,
    track: &Track,
    progress: &Progress,
    now: &impl Fn() -> OffsetDateTime,
) -> Result<Vec<Finding>> {
    let label = img.label();
    let mut previous: Option<BTreeSet<String>> = None;
    loop {
        let read_at = now();
        let findings = all_findings(c, img, deadline, &track.last_err)
            .await
            .map_err(|e| about(img, e))?;
        let set = finding_set(&findings);
        *track.read.borrow_mut() = Some(LastRead {
            findings: findings.clone(),
            status: status.to_string(),
        });
        let agrees = previous.as_ref() == Some(&set);
        if is_final(completed_at, read_at, settle, agrees) {
            return Ok(findings);
        }
        // Next read once the settle window after completion has passed, and not sooner
        // than MIN_READ_GAP (the second of two agreeing reads can follow right away).
        let pause = settle_remaining(completed_at, now(), settle).max(MIN_READ_GAP);
        *track.state.borrow_mut() =
            format!("{status}, findings settling ({} so far)", findings.len());
        progress.phase(&format!(
            "scan of {label} done ({status}); checking that findings have settled ({} so far, next read in {:.1}s)",
            findings.len(),
            pause.as_secs_f64()
        ));
        previous = Some(set);
        tokio::time::sleep(pause).await;
    }
}

/// Wait for the scan of `img` and return its settled ACTIVE findings. When the deadline
/// passes after findings were read, they are returned with `complete: false` (they must be
/// evaluated: a CRITICAL already read never turns into a pass); before any read, it is an
/// `ErrorKind::Timeout` error.
pub async fn wait(
    c: &Clients,
    img: &ScannedImage,
    opts: &WaitOptions,
    deadline: Instant,
    check: &CoverageCheck,
    progress: &Progress,
    now: impl Fn() -> OffsetDateTime,
) -> Result<Waited> {
    let start = Instant::now();
    let label = img.label();
    let track = Track {
        start,
        state: RefCell::new(String::from("not checked yet")),
        last_err: RefCell::new(None),
        read: RefCell::new(None),
    };
    let scan_info = |status: String, last: Option<OffsetDateTime>| ScanInfo {
        status: Some(status),
        last_scanned_at: last.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
        waited_seconds: start.elapsed().as_secs_f64(),
    };
    let work = async {
        let (status, last_scanned_at) =
            await_scanned(c, img, opts, deadline, check, &track, progress).await?;
        *track.state.borrow_mut() = format!("{status}, reading findings");
        let settle = settle_for(start.elapsed(), opts.settle);
        let completed_at = last_scanned_at.unwrap_or_else(&now);
        let findings = await_settled(
            c,
            img,
            &status,
            completed_at,
            settle,
            deadline,
            &track,
            progress,
            &now,
        )
        .await?;
        progress.info(&format!(
            "scan of {label} done: {} active finding(s)",
            findings.len()
        ));
        Ok(Waited {
            findings,
            scan: scan_info(status, last_scanned_at),
            complete: true,
        })
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r,
        Err(_) => {
            if let Some(LastRead { findings, status }) = track.read.borrow_mut().take() {
                progress.warn(&format!(
                    "the deadline passed while the findings of {label} were settling: evaluating the {} finding(s) read",
                    findings.len()
                ));
                return Ok(Waited {
                    findings,
                    scan: scan_info(format!("{status} (deadline passed while settling)"), None),
                    complete: false,
                });
            }
            let last = track
                .last_err
                .borrow()
                .clone()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default();
            Err(Error::timeout(format!(
                "timed out after {} waiting for the scan of {label} (last state: {}{last}); raise --timeout or check the scan in the Inspector console",
                humanize(opts.timeout),
                track.state.borrow()
            )))
        }
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
    fn every_sdk_scan_status_reason_is_classified() {
        // A value AWS adds (and the SDK picks up) fails here, instead of silently waiting
        // out --timeout on a real account.
        for v in aws_sdk_inspector2::types::ScanStatusReason::values() {
            assert!(
                classify_reason(v).is_some(),
                "ScanStatusReason {v} is not classified"
            );
        }
        for v in aws_sdk_ecr::types::ScanStatus::values() {
            assert!(
                classify_ecr_status(v).is_some(),
                "ECR ScanStatus {v} is not classified"
            );
        }
    }

    #[test]
    fn documented_reasons_land_where_aws_facts_say() {
        use ReasonClass::*;
        assert_eq!(classify_reason("PENDING_REVIVAL_SCAN"), Some(Pending));
        for r in [
            "INVALID_ARTIFACT",
            "IMAGE_SIZE_EXCEEDED",
            "UNSUPPORTED_CONFIG_FILE",
            "STORAGE_LIMIT_EXCEEDED",
            "EXTRACTION_COLLECTION_TIME_LIMIT_EXCEEDED",
        ] {
            assert!(matches!(classify_reason(r), Some(Terminal(_))), "{r}");
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
            ("IMAGE_SIZE_EXCEEDED", 3),
            ("ACCESS_DENIED", 4),
            ("ACCESS_DENIED_TO_ENCRYPTION_KEY", 4),
        ] {
            match judge_coverage(Some(&row("INACTIVE", reason, None)), "x") {
                Observation::Never(e) => {
                    assert_eq!(e.exit_code(), code, "{reason}");
                    assert!(e.message.contains(reason));
                }
                o => panic!("{reason}: {o:?}"),
            }
        }
        // An unknown value: INACTIVE ends, ACTIVE keeps waiting.
        assert!(matches!(
            judge_coverage(Some(&row("INACTIVE", "BRAND_NEW", None)), "x"),
            Observation::Never(_)
        ));
        assert!(matches!(
            judge_coverage(Some(&row("ACTIVE", "BRAND_NEW", None)), "x"),
            Observation::Pending(_)
        ));
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
        match judge_ecr_status(Some("UNSUPPORTED_IMAGE"), "x") {
            Observation::Never(e) => assert_eq!(e.exit_code(), 3),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn polls_stay_within_a_tenth_of_the_wait_and_few() {
        let first = Duration::from_secs(3);
        // Simulate a 10-minute wait: every gap is at most max(3 s, 10.7% of the time so far).
        let (mut t, mut polls) = (Duration::ZERO, 0);
        while t < Duration::from_secs(600) {
            let d = poll_delay(t, first);
            assert!(d <= first.max(t.mul_f64(0.108)), "{t:?}: {d:?}");
            t += d;
            polls += 1;
        }
        assert!(polls <= 42, "{polls} polls for a 10-minute scan");
        assert_eq!(poll_delay(Duration::from_secs(3600), first), first * 20);
    }

    #[test]
    fn settle_window_fits_the_budget_and_counts_from_completion() {
        let s = settle_for(Duration::from_secs(60), None);
        assert!(s <= Duration::from_secs(6) && s >= SETTLE_MIN, "{s:?}");
        assert_eq!(settle_for(Duration::from_secs(1), None), SETTLE_MIN);
        assert_eq!(settle_for(Duration::from_secs(3600), None), SETTLE_MAX);
        assert_eq!(
            settle_for(Duration::from_secs(60), Some(Duration::ZERO)),
            Duration::ZERO
        );
        let done = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let w = Duration::from_secs(5);
        assert_eq!(settle_remaining(done, at(1_001), w), Duration::from_secs(4));
        assert_eq!(settle_remaining(done, at(1_009), w), Duration::ZERO);
        // A completion time ahead of our clock (skew) waits the whole window.
        assert_eq!(settle_remaining(done, at(990), w), w);
        // One read is never final inside the window; two agreeing reads after it are.
        assert!(!is_final(done, at(1_001), w, false));
        assert!(!is_final(done, at(1_001), w, true));
        assert!(!is_final(done, at(1_009), w, false));
        assert!(is_final(done, at(1_009), w, true));
        // A scan completed long before the read needs no second read.
        assert!(is_final(done, at(1_000 + 301), w, false));
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
