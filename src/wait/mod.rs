//! Waiting until "the scan of digest D" is done, as README "How waiting works" defines it:
//! Inspector coverage (or ECR's scan status) says scanned, AND the findings have settled
//! (findings keep arriving for a few seconds after the status flips).
//!
//! [`judge`] decides, purely: it classifies status reads, spaces the checks and says when
//! findings are final. This module does the I/O: [`wait`] runs [`await_scanned`], then
//! [`await_settled`], under the run's one deadline.
//!
//! Timing: the gate must decide within max(3 s, 10% of the wait so far) of the findings being
//! final, with few calls. So the gap between status checks is 10.7% of the time waited so far
//! (never below `--poll-interval`, never above 20× it): a scan that completes between two
//! checks is seen at most ~10% of the wait later, and a 10-minute scan costs about 40 checks.
//! Findings are final when two consecutive reads agree and the later one began at least the
//! settle window after the scan's own completion time (`lastScannedAt`; when we first saw it
//! scanned, if unknown) — or when the scan completed more than 5 minutes before the read (one
//! read). The settle window is 8% of the wait (2.5 s to 60 s): a scan seen just after it
//! completed is read again once the window has passed; one seen later is read twice back to
//! back, so settling adds a fraction of a second. Throttled and failed calls are retried on the
//! short call schedule ([`Schedule::CALL`], honouring `Retry-After`), never on the poll
//! schedule.

pub mod batch;
pub mod judge;

pub use batch::Batches;

pub use judge::{
    classify_ecr_status, classify_reason, finding_set, is_final, judge_coverage, judge_ecr_status,
    poll_delay, settle_for, settle_remaining, Observation, ReasonClass, MIN_READ_GAP, POLL_SHARE,
    SETTLED_AFTER, SETTLE_MAX, SETTLE_MIN, SETTLE_SHARE,
};

use crate::aws::inspector;
use crate::aws::{ecr, CallError, Class, Clients};
use crate::duration::humanize;
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

/// Every page of the open findings, ACTIVE and SUPPRESSED (one listing:
/// [`inspector::READ_STATUSES`]), of `q`'s images, each with the image it is about; every
/// page retried within the deadline.
pub async fn all_findings_of(
    c: &Clients,
    q: &inspector::FindingsQuery,
    deadline: Instant,
    last_err: &RefCell<Option<String>>,
) -> std::result::Result<Vec<(inspector::ImageKey, Finding)>, CallError> {
    all_pages("inspector2:ListFindings", deadline, last_err, |next| {
        inspector::findings_page(c, q, next)
    })
    .await
}

/// Every page of one Inspector listing (`page` asks for the page after a token), each page
/// retried within the deadline, its last error kept in `last_err` for a timeout's message; a
/// token seen twice is an error ([`inspector::next_page`]), never a loop.
async fn all_pages<T, F, Fut>(
    action: &str,
    deadline: Instant,
    last_err: &RefCell<Option<String>>,
    page: F,
) -> std::result::Result<Vec<T>, CallError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<(Vec<T>, Option<String>), CallError>>,
{
    let mut out = Vec::new();
    let mut next = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let (items, n) = retry::call(Schedule::CALL, deadline, || async {
            page(next.clone())
                .await
                .inspect_err(|e| *last_err.borrow_mut() = Some(e.message.clone()))
        })
        .await?;
        out.extend(items);
        next = inspector::next_page(&mut seen, n.as_deref(), action)?;
        if next.is_none() {
            return Ok(out);
        }
    }
}

/// Every open finding of `img` (ACTIVE and SUPPRESSED), read in a batch with the images
/// reading at the same moment ([`Batches::findings`]).
pub async fn all_findings(batches: &Batches<'_>, img: &ScannedImage) -> Result<Vec<Finding>> {
    batches
        .findings(img)
        .await
        .map_err(|e| fatal(e, "inspector2:ListFindings"))
}

/// Every coverage row of `q`'s repositories (every page, each retried within the deadline).
/// Errors stay [`CallError`]s: the caller branches on their class (a denied coverage read
/// falls back to ECR's scan status).
pub async fn all_coverage(
    c: &Clients,
    q: &inspector::CoverageQuery,
    deadline: Instant,
    last_err: &RefCell<Option<String>>,
) -> std::result::Result<Vec<inspector::CoverageRow>, CallError> {
    all_pages("inspector2:ListCoverage", deadline, last_err, |next| {
        inspector::coverage_page(c, q, next)
    })
    .await
}

fn fatal(e: CallError, action: &str) -> Error {
    match e.class {
        Class::NotEnabled => Error::inconclusive(format!(
            "Amazon Inspector is not enabled for this account/region ({}); enable it with `aws inspector2 enable --resource-types ECR`",
            e.message
        )),
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
    /// The status that said the scan is done, once one did: from then on the deadline cuts a
    /// findings read short, not a scan.
    scanned: RefCell<Option<String>>,
    /// Whether a coverage row of the image was ever seen.
    had_row: std::cell::Cell<bool>,
    /// What the scanning-configuration check said, once it ran: `Some(None)` when it could not
    /// confirm the repository in the caller's own registry (another account's image, or no
    /// permission to read the configuration).
    config: RefCell<Option<Option<String>>>,
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

    /// The repository's scan frequency, or `None` when the caller's own scanning
    /// configuration cannot say (another account's registry, or no permission to read it).
    async fn run(
        &self,
        c: &Clients,
        deadline: Instant,
        progress: &Progress,
    ) -> Result<Option<String>> {
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
        Ok(r.as_ref().ok().cloned().flatten())
    }
}

/// Phase 1: poll until coverage (or ECR) says the image is scanned.
#[expect(
    clippy::too_many_arguments,
    reason = "the phase needs the call context, the batches it reads through and the shared tracking"
)]
async fn await_scanned(
    c: &Clients,
    batches: &Batches<'_>,
    img: &ScannedImage,
    opts: &WaitOptions,
    deadline: Instant,
    check: &CoverageCheck,
    track: &Track,
    progress: &Progress,
) -> Result<(String, Option<OffsetDateTime>)> {
    let label = img.label();
    let mut use_ecr = false;
    // When the next status check is due, and the earliest it may be made to ride along with
    // another image's ([`batch::EARLY_SHARE`]).
    let (mut due, mut early) = (Instant::now(), Instant::now());
    loop {
        let obs = if use_ecr {
            let s = retry::call(Schedule::CALL, deadline, || ecr::scan_status(c, img))
                .await
                .map_err(|e| about(img, fatal(e, "ecr:DescribeImageScanFindings")))?;
            judge_ecr_status(s.as_deref(), &label)
        } else {
            let rows = batches
                .coverage(img, due, early)
                .await
                .inspect_err(|e| *track.last_err.borrow_mut() = Some(e.message.clone()));
            match rows {
                Ok(rows) => {
                    let row = inspector::row_for(&rows, img).cloned();
                    progress.debug(&format!(
                        "coverage of {label}: {}",
                        row.as_ref()
                            .map(|r| format!("{} {}", r.status_code, r.reason))
                            .unwrap_or_else(|| "no row".into())
                    ));
                    if row.is_none() {
                        let freq = check
                            .run(c, deadline, progress)
                            .await
                            .map_err(|e| about(img, e))?;
                        *track.config.borrow_mut() = Some(freq);
                    } else {
                        track.had_row.set(true);
                    }
                    judge_coverage(row.as_ref(), img)
                }
                Err(e) if e.class == Class::AccessDenied => {
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
            } => {
                if status == "SCAN_FREQUENCY_SCAN_ON_PUSH" {
                    progress.warn(&format!(
                        "{label}: the repository scans on push only, so Inspector scanned this image once{}: its findings may be stale (vulnerabilities published since are not matched against it); use CONTINUOUS_SCAN to keep them current",
                        last_scanned_at
                            .and_then(|t| t
                                .format(&time::format_description::well_known::Rfc3339)
                                .ok())
                            .map(|t| format!(" ({t})"))
                            .unwrap_or_default()
                    ));
                }
                return Ok((status, last_scanned_at));
            }
            Observation::Never(e) => return Err(e),
            Observation::Pending(why) => {
                let d = poll_delay(track.start.elapsed(), opts.first_poll);
                *track.state.borrow_mut() = why.clone();
                progress.phase(&format!(
                    "waiting for scan of {label}: {why} (next check in {:.0}s)",
                    d.as_secs_f64().ceil()
                ));
                if use_ecr {
                    tokio::time::sleep(d).await;
                } else {
                    let now = Instant::now();
                    (due, early) = (now + d, now + d.mul_f64(1.0 - batch::EARLY_SHARE));
                }
            }
        }
    }
}

/// Phase 2: read the findings until a read is final (see [`is_final`]).
#[expect(
    clippy::too_many_arguments,
    reason = "the phase needs the call context, the scan it follows and the shared tracking"
)]
async fn await_settled(
    batches: &Batches<'_>,
    img: &ScannedImage,
    status: &str,
    completed_at: OffsetDateTime,
    settle: Duration,
    track: &Track,
    progress: &Progress,
    now: &impl Fn() -> OffsetDateTime,
) -> Result<Vec<Finding>> {
    let label = img.label();
    let mut previous: Option<BTreeSet<String>> = None;
    loop {
        let read_at = now();
        let findings = batches.findings(img).await.map_err(|e| {
            *track.last_err.borrow_mut() = Some(e.message.clone());
            about(img, fatal(e, "inspector2:ListFindings"))
        })?;
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

/// Wait for the scan of `img` and return its settled findings (ACTIVE and SUPPRESSED). When
/// the deadline passes after findings were read, they are returned with `complete: false`
/// (they must be evaluated: a CRITICAL already read never turns into a pass); after the scan
/// was seen done but before a findings read completed, it is an `ErrorKind::ReadTimeout`
/// error; before the scan was seen done, an `ErrorKind::Timeout` error (the only one
/// `--on-timeout pass` may skip).
#[expect(
    clippy::too_many_arguments,
    reason = "the wait needs the call context, the run's batches, its knobs, deadline and clock"
)]
pub async fn wait(
    c: &Clients,
    batches: &Batches<'_>,
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
        scanned: RefCell::new(None),
        had_row: std::cell::Cell::new(false),
        config: RefCell::new(None),
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
            await_scanned(c, batches, img, opts, deadline, check, &track, progress).await?;
        *track.scanned.borrow_mut() = Some(status.clone());
        *track.state.borrow_mut() = format!("{status}, reading findings");
        let settle = settle_for(start.elapsed(), opts.settle);
        let completed_at = last_scanned_at.unwrap_or_else(&now);
        let findings = await_settled(
            batches,
            img,
            &status,
            completed_at,
            settle,
            &track,
            progress,
            &now,
        )
        .await?;
        let suppressed = findings.iter().filter(|f| f.suppressed).count();
        progress.info(&format!(
            "scan of {label} done: {} finding(s){}",
            findings.len(),
            match suppressed {
                0 => String::new(),
                n => format!(", {n} of them suppressed in Inspector"),
            }
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
                .or_else(|| batches.last_err.borrow().clone())
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default();
            // The scan finished and its findings are an input the verdict depends on: a read
            // the deadline cut short is not a scan that never finished (`--on-timeout pass`
            // may never skip it).
            if let Some(status) = track.scanned.borrow().as_deref() {
                return Err(Error::read_timeout(format!(
                    "the scan of {label} was done ({status}) but its findings were not read completely before the deadline (--timeout {}){last}; the image is inconclusive (--on-timeout pass accepts only a scan that never finished): raise --timeout",
                    humanize(opts.timeout)
                )));
            }
            // No row ever, and the caller's own scanning configuration could not vouch for
            // the repository: most often another account's image, whose coverage only that
            // account and the organisation's Inspector delegated administrator can list.
            let elsewhere = if !track.had_row.get() && matches!(*track.config.borrow(), Some(None))
            {
                format!(
                    "; no coverage record of {label} ever appeared: if account {} is not the account this gate runs as, Inspector shows that account's coverage only to itself and to the organisation's Inspector delegated administrator — run the gate from the delegated administrator account or with --role-arn of a role in account {} (with inspector2:ListCoverage and inspector2:ListFindings)",
                    img.registry, img.registry
                )
            } else {
                String::new()
            };
            Err(Error::timeout(format!(
                "timed out after {} waiting for the scan of {label} (last state: {}{last}){elsewhere}; raise --timeout or check the scan in the Inspector console",
                humanize(opts.timeout),
                track.state.borrow()
            )))
        }
    }
}
