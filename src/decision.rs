//! THE decision of a run (README "Exit codes" and "How waiting works"): what the outcomes of its
//! images add up to. Pure — no I/O, no clock, no async — so that every combination is a table
//! test here rather than an end-to-end scenario. `gate`, `scan`, `evaluate` and `approve` end
//! in [`decide`]; `findings` (no verdict) ends in [`worst`].
//!
//! The rules, each written once:
//! - findings that were read are always evaluated, final or not: a failing evaluation is a
//!   failure either way (a CRITICAL already read never turns into a pass);
//! - findings read but not final at the deadline make a passing image inconclusive (exit 3)
//!   whatever `--on-timeout` says: the scan finished and more findings may have been arriving;
//! - `--on-timeout pass` skips only a scan that never finished (no finding read), and every
//!   report names what it skipped;
//! - an image whose local-scan catalogue is incomplete (files it wanted and did not read, see
//!   [`ImageReport::unread`]) makes the run inconclusive (exit 3, the error naming the first file
//!   and every file on its own line after it), unless the policy accepts the gap
//!   (`scan-unread = "warn"`: a warning, and the reports name every file);
//! - a failing verdict already read outranks a deadline and an incomplete catalogue (exit 1,
//!   not 3: the run fails either way and the failure is what to fix); it outranks no other
//!   error;
//! - among the errors left, the highest exit code decides;
//! - a run that evaluated no image never passes (exit 3).

use crate::error::{Error, ErrorKind};
use crate::policy::eval::Verdict;
use crate::policy::ScanUnread;
use crate::report::{ImageReport, NotEvaluated};

/// What a scan that never finished means (`--on-timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnTimeout {
    /// Exit 3 (fail closed).
    #[default]
    Fail,
    /// Pass with a warning, but only for an image whose scan never finished, and only beside
    /// an evaluated image.
    Pass,
}

/// Whether the findings an image was evaluated on were final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Findings {
    /// Every page read, and settled (README "How waiting works").
    Final,
    /// Read, but the deadline passed before they were final: more may have been arriving.
    NotFinal,
    /// Final for what a local scan catalogued, but the catalogue is incomplete: the image holds
    /// files it did not read ([`ImageReport::unread`]), whose packages were never checked.
    /// Carries the policy's `scan-unread`, which decides whether the gap is accepted.
    Incomplete(ScanUnread),
}

/// The error of an image whose catalogue is incomplete: the first file and why on the error
/// line, then every file on its own line (so the last line printed names a file and why).
fn incomplete(report: &ImageReport) -> Error {
    let n = report.unread.len();
    let first = report
        .unread
        .first()
        .map(|u| format!(": {u}"))
        .unwrap_or_default();
    Error::inconclusive(format!(
        "the local scan of {} is incomplete: {n} file(s) it needed were not read, so the packages in them were never checked (scan-unread = \"warn\" in the policy accepts this){first}",
        report.image.label()
    ))
    .with_details(report.unread.iter().map(|u| u.to_string()).collect())
}

/// The warning of an image whose incomplete catalogue the run accepted or outranked.
fn incomplete_warning(report: &ImageReport, why: &str) -> String {
    let first = report
        .unread
        .first()
        .map(|u| format!("; first: {u}"))
        .unwrap_or_default();
    format!(
        "the local scan of {} did not read {} file(s) it needed ({why}){first}",
        report.image.label(),
        report.unread.len()
    )
}

/// What was seen of one image.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a run has a handful of outcomes, each moved once into the decision"
)]
pub enum Outcome {
    /// Its findings were read and evaluated.
    Evaluated(ImageReport, Findings),
    /// The deadline passed before its scan was seen done: no finding was read. The error
    /// (kind [`ErrorKind::Timeout`]) names the image and its last state.
    NeverFinished(Error),
    /// Anything else that ended this image without a verdict; its kind decides the exit code.
    Error(Error),
}

impl Outcome {
    /// The outcome of a wait or read that ended in `e`: a `Timeout` is a scan that never
    /// finished, anything else is an error.
    pub fn failed(e: Error) -> Outcome {
        match e.kind {
            ErrorKind::Timeout => Outcome::NeverFinished(e),
            _ => Outcome::Error(e),
        }
    }
}

/// What a run decided.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The evaluated images the report lists (all of them when the run ends in a verdict).
    pub images: Vec<ImageReport>,
    /// What `--on-timeout pass` let through unevaluated.
    pub not_evaluated: Vec<NotEvaluated>,
    /// `None`: the images' verdict decides (exit 0 or 1). `Some`: the run ends with this error.
    pub error: Option<Error>,
    /// The other errors met, besides the deciding one (each printed on its own line).
    pub other_errors: Vec<Error>,
    /// What the user must be told on a verdict: what `--on-timeout pass` skipped, deadlines a
    /// failing verdict outranked.
    pub warnings: Vec<String>,
}

impl Decision {
    /// The verdict over the evaluated images; `None` when the run ends in an error.
    pub fn verdict(&self) -> Option<Verdict> {
        if self.error.is_some() {
            return None;
        }
        self.images.iter().map(|i| i.evaluation.verdict).max()
    }

    /// The process exit code: 0 pass, 1 violated, else the deciding error's.
    pub fn exit_code(&self) -> i32 {
        match (&self.error, self.verdict()) {
            (Some(e), _) => e.exit_code(),
            (None, Some(Verdict::Pass)) => crate::error::EXIT_PASS,
            (None, Some(Verdict::Fail)) => crate::error::EXIT_VIOLATION,
            // Unreachable by construction (`decide` never leaves both empty): fail closed.
            (None, None) => crate::error::EXIT_INCONCLUSIVE,
        }
    }
}

/// The error that decides among `errors` (the highest exit code; the last of equals), and the
/// others. `None` for no error.
pub fn worst(mut errors: Vec<Error>) -> Option<(Error, Vec<Error>)> {
    let at = errors
        .iter()
        .enumerate()
        .max_by_key(|(_, e)| e.exit_code())
        .map(|(i, _)| i)?;
    let worst = errors.remove(at);
    Some((worst, errors))
}

/// Decide a run from the outcome of each of its images (see the module doc for the rules).
pub fn decide(outcomes: impl IntoIterator<Item = Outcome>, on_timeout: OnTimeout) -> Decision {
    let mut images = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    let mut skipped: Vec<Error> = Vec::new();
    let mut gaps: Vec<String> = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Evaluated(report, Findings::Final) => images.push(report),
            Outcome::Evaluated(report, Findings::Incomplete(_)) if report.unread.is_empty() => {
                images.push(report)
            }
            Outcome::Evaluated(report, Findings::Incomplete(ScanUnread::Warn)) => {
                gaps.push(incomplete_warning(
                    &report,
                    "accepted by the policy: scan-unread = \"warn\"",
                ));
                images.push(report);
            }
            Outcome::Evaluated(report, Findings::Incomplete(ScanUnread::Fail)) => {
                if report.evaluation.verdict == Verdict::Fail {
                    gaps.push(incomplete_warning(
                        &report,
                        "the run fails on the findings already read",
                    ));
                    images.push(report);
                } else {
                    errors.push(incomplete(&report));
                }
            }
            Outcome::Evaluated(report, Findings::NotFinal) => {
                if report.evaluation.verdict == Verdict::Fail {
                    images.push(report);
                } else {
                    errors.push(Error::read_timeout(format!(
                        "the deadline (--timeout) passed while the findings of {} were settling: the {} finding(s) read pass the policy but more may have been arriving (--on-timeout pass accepts only a scan that never finished; raise --timeout)",
                        report.image.label(),
                        report.evaluation.findings.len()
                    )));
                }
            }
            Outcome::NeverFinished(e) if on_timeout == OnTimeout::Pass => skipped.push(e),
            Outcome::NeverFinished(e) | Outcome::Error(e) => errors.push(e),
        }
    }
    let failed = images.iter().any(|r| r.evaluation.verdict == Verdict::Fail);
    let deadline = |e: &Error| matches!(e.kind, ErrorKind::Timeout | ErrorKind::ReadTimeout);
    let (outranked, errors): (Vec<Error>, Vec<Error>) =
        errors.into_iter().partition(|e| failed && deadline(e));
    let mut warnings: Vec<String> = skipped
        .iter()
        .map(|e| format!("{e}; passing anyway because --on-timeout pass"))
        .collect();
    warnings.extend(
        outranked
            .iter()
            .map(|e| format!("{e} (the run fails on the findings already read)")),
    );
    warnings.extend(gaps);
    let not_evaluated = skipped
        .iter()
        .map(|e| NotEvaluated {
            reason: format!("{}; passed because --on-timeout pass", e.message),
        })
        .collect();
    let (error, other_errors) = match worst(errors) {
        Some((e, others)) => (Some(e), others),
        None if images.is_empty() => {
            let why = match skipped.first() {
                Some(e) => format!(
                    " (--on-timeout pass only passes alongside evaluated images): {}",
                    e.message
                ),
                None => ": nothing to evaluate".into(),
            };
            (
                Some(Error::inconclusive(format!(
                    "no image was evaluated, so the run cannot pass{why}"
                ))),
                Vec::new(),
            )
        }
        None => (None, Vec::new()),
    };
    Decision {
        images,
        not_evaluated,
        error,
        other_errors,
        warnings,
    }
}

/// `--soft-fail` (report-only adoption): a policy violation (exit 1) exits 0; every other
/// code — a pass, an inconclusive run, an error — is kept, so soft-fail never hides what was
/// not seen. The verdict in every output stays `fail`; the gate still never approves or hands
/// off a failing image.
pub fn soft_fail(exit_code: i32, soft: bool) -> i32 {
    if soft && exit_code == crate::error::EXIT_VIOLATION {
        crate::error::EXIT_PASS
    } else {
        exit_code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::eval::evaluate;
    use crate::policy::Policy;
    use crate::report::testing;

    /// An evaluated image of `platform` that passes (no findings) or fails (one CRITICAL).
    fn image(platform: &str, verdict: Verdict) -> ImageReport {
        let img = testing::image(Some(platform));
        let findings = match verdict {
            Verdict::Pass => vec![],
            Verdict::Fail => vec![testing::finding(0, &img)],
        };
        let mut policy = Policy::default();
        policy.apply_fail_on(crate::model::Severity::Critical);
        let evaluation = evaluate(&policy, &findings, None, testing::TODAY);
        assert_eq!(evaluation.verdict, verdict);
        ImageReport {
            image: img,
            scan: Default::default(),
            evaluation,
            fix_plan: None,
            unread: Vec::new(),
        }
    }

    use Findings::{Final, NotFinal};
    use Verdict::{Fail, Pass};

    fn ok(v: Verdict) -> Outcome {
        Outcome::Evaluated(image("linux/amd64", v), Final)
    }
    fn unsettled(v: Verdict) -> Outcome {
        Outcome::Evaluated(image("linux/arm64", v), NotFinal)
    }
    /// An evaluated image whose local-scan catalogue did not read one file.
    fn gap(v: Verdict, mode: ScanUnread) -> Outcome {
        let mut img = image("linux/amd64", v);
        img.unread = vec![crate::model::Unread {
            path: "/app/app.jar".into(),
            reason: "over budget".into(),
        }];
        Outcome::Evaluated(img, Findings::Incomplete(mode))
    }
    fn never() -> Outcome {
        Outcome::failed(Error::timeout(
            "timed out waiting for the scan of app/web@x",
        ))
    }
    fn err(kind: ErrorKind) -> Outcome {
        Outcome::failed(Error {
            kind,
            message: format!("{kind:?} error"),
            details: Vec::new(),
        })
    }

    /// (case, outcomes, --on-timeout, exit code, images reported, images skipped)
    type Row = (&'static str, Vec<Outcome>, OnTimeout, i32, usize, usize);

    #[test]
    fn every_combination() {
        use ErrorKind::*;
        use OnTimeout::Pass as P;
        let f = OnTimeout::Fail;
        let rows: Vec<Row> = vec![
            ("zero images", vec![], f, 3, 0, 0),
            ("zero images, --on-timeout pass", vec![], P, 3, 0, 0),
            ("one pass", vec![ok(Pass)], f, 0, 1, 0),
            ("one fail", vec![ok(Fail)], f, 1, 1, 0),
            ("pass and fail", vec![ok(Pass), ok(Fail)], f, 1, 2, 0),
            // Scans that never finished.
            ("never finished", vec![never()], f, 3, 0, 0),
            (
                "never finished, pass: evaluated nothing",
                vec![never()],
                P,
                3,
                0,
                1,
            ),
            (
                "evaluated + never finished",
                vec![ok(Pass), never()],
                f,
                3,
                1,
                0,
            ),
            (
                "evaluated + never finished, pass",
                vec![ok(Pass), never()],
                P,
                0,
                1,
                1,
            ),
            (
                "failed + never finished, pass",
                vec![ok(Fail), never()],
                P,
                1,
                1,
                1,
            ),
            (
                "failed + never finished: the failure outranks",
                vec![ok(Fail), never()],
                f,
                1,
                1,
                0,
            ),
            // Findings read, then the deadline.
            (
                "read then deadline, passing",
                vec![unsettled(Pass)],
                f,
                3,
                0,
                0,
            ),
            (
                "read then deadline, passing, pass",
                vec![unsettled(Pass)],
                P,
                3,
                0,
                0,
            ),
            (
                "read then deadline, failing",
                vec![unsettled(Fail)],
                f,
                1,
                1,
                0,
            ),
            (
                "read then deadline, failing, pass",
                vec![unsettled(Fail)],
                P,
                1,
                1,
                0,
            ),
            (
                "evaluated + read then deadline, pass",
                vec![ok(Pass), unsettled(Pass)],
                P,
                3,
                1,
                0,
            ),
            (
                "failed + read then deadline",
                vec![ok(Fail), unsettled(Pass)],
                P,
                1,
                1,
                0,
            ),
            (
                "read then deadline failing + never finished",
                vec![unsettled(Fail), never()],
                f,
                1,
                1,
                0,
            ),
            // Local scans whose catalogue is incomplete.
            (
                "complete catalogue",
                vec![Outcome::Evaluated(
                    image("linux/amd64", Pass),
                    Findings::Incomplete(ScanUnread::Fail),
                )],
                f,
                0,
                1,
                0,
            ),
            (
                "unread, passing",
                vec![gap(Pass, ScanUnread::Fail)],
                f,
                3,
                0,
                0,
            ),
            (
                "unread, passing, warn",
                vec![gap(Pass, ScanUnread::Warn)],
                f,
                0,
                1,
                0,
            ),
            (
                "unread, failing: the failure outranks",
                vec![gap(Fail, ScanUnread::Fail)],
                f,
                1,
                1,
                0,
            ),
            (
                "unread beside a pass",
                vec![ok(Pass), gap(Pass, ScanUnread::Fail)],
                P,
                3,
                1,
                0,
            ),
            // Errors of each kind, alone and beside verdicts.
            ("usage", vec![err(Usage)], f, 2, 0, 0),
            ("inconclusive", vec![err(Inconclusive)], f, 3, 0, 0),
            ("runtime", vec![err(Runtime)], f, 4, 0, 0),
            ("read timeout", vec![err(ReadTimeout)], P, 3, 0, 0),
            ("pass + runtime", vec![ok(Pass), err(Runtime)], f, 4, 1, 0),
            (
                "fail + runtime: not outranked",
                vec![ok(Fail), err(Runtime)],
                f,
                4,
                1,
                0,
            ),
            (
                "fail + inconclusive: not outranked",
                vec![ok(Fail), err(Inconclusive)],
                f,
                3,
                1,
                0,
            ),
            (
                "fail + read timeout: outranked",
                vec![ok(Fail), err(ReadTimeout)],
                f,
                1,
                1,
                0,
            ),
            (
                "pass + runtime, pass",
                vec![ok(Pass), err(Runtime)],
                P,
                4,
                1,
                0,
            ),
            (
                "runtime beats inconclusive",
                vec![err(Inconclusive), err(Runtime)],
                f,
                4,
                0,
                0,
            ),
            (
                "inconclusive beats usage",
                vec![err(Usage), err(Inconclusive)],
                f,
                3,
                0,
                0,
            ),
            (
                "runtime + never finished, pass",
                vec![err(Runtime), never()],
                P,
                4,
                0,
                1,
            ),
            (
                "pass + never finished + runtime, pass",
                vec![ok(Pass), never(), err(Runtime)],
                P,
                4,
                1,
                1,
            ),
        ];
        for (case, outcomes, on_timeout, code, reported, skipped) in rows {
            let d = decide(outcomes, on_timeout);
            assert_eq!(d.exit_code(), code, "{case}: {d:?}");
            assert_eq!(d.images.len(), reported, "{case}: images");
            assert_eq!(d.not_evaluated.len(), skipped, "{case}: skipped");
            // A verdict exists exactly when no error decides, and it is never a pass over
            // nothing.
            assert_eq!(d.verdict().is_some(), d.error.is_none(), "{case}");
            if d.verdict() == Some(Pass) {
                assert!(!d.images.is_empty(), "{case}: passed evaluating nothing");
            }
        }
    }

    #[test]
    fn an_incomplete_catalogue_names_every_file_last() {
        let d = decide([gap(Pass, ScanUnread::Fail)], OnTimeout::Fail);
        let e = d.error.unwrap();
        assert!(e.message.contains("/app/app.jar: over budget"), "{e}");
        assert!(e.message.contains("scan-unread = \"warn\""), "{e}");
        assert_eq!(e.details, ["/app/app.jar: over budget"]);
        let d = decide([gap(Pass, ScanUnread::Warn)], OnTimeout::Fail);
        assert!(
            d.warnings[0].contains("/app/app.jar: over budget"),
            "{:?}",
            d.warnings
        );
    }

    #[test]
    fn what_on_timeout_pass_skipped_is_named() {
        let d = decide([ok(Pass), never()], OnTimeout::Pass);
        assert_eq!(d.exit_code(), 0);
        assert!(d.not_evaluated[0]
            .reason
            .ends_with("; passed because --on-timeout pass"));
        assert!(d.warnings[0].contains("passing anyway because --on-timeout pass"));
    }

    #[test]
    fn findings_read_at_the_deadline_say_why_pass_does_not_apply() {
        let d = decide([ok(Pass), unsettled(Pass)], OnTimeout::Pass);
        let e = d.error.unwrap();
        assert_eq!(e.kind, ErrorKind::ReadTimeout);
        assert!(e.message.contains("linux/arm64") && e.message.contains("were settling"));
        assert!(e.message.contains("--on-timeout pass accepts only"), "{e}");
    }

    #[test]
    fn nothing_evaluated_names_what_was_skipped() {
        let d = decide([never()], OnTimeout::Pass);
        let e = d.error.unwrap();
        assert!(e.message.starts_with("no image was evaluated"), "{e}");
        assert!(e.message.contains("timed out waiting"), "{e}");
        let d = decide([], OnTimeout::Fail);
        assert!(d.error.unwrap().message.contains("nothing to evaluate"));
    }

    #[test]
    fn soft_fail_only_turns_a_violation_into_exit_0() {
        for (code, soft, want) in [
            (0, true, 0),
            (1, true, 0),
            (1, false, 1),
            (2, true, 2),
            (3, true, 3),
            (4, true, 4),
        ] {
            assert_eq!(
                super::soft_fail(code, soft),
                want,
                "exit {code}, soft {soft}"
            );
        }
    }

    #[test]
    fn an_outranked_deadline_is_a_warning_and_other_errors_are_kept() {
        let d = decide([ok(Fail), never()], OnTimeout::Fail);
        assert_eq!(d.exit_code(), 1);
        assert!(d.warnings[0].contains("the run fails on the findings already read"));
        let d = decide(
            [
                err(ErrorKind::Inconclusive),
                err(ErrorKind::Runtime),
                err(ErrorKind::Usage),
            ],
            OnTimeout::Fail,
        );
        assert_eq!(d.error.as_ref().unwrap().kind, ErrorKind::Runtime);
        assert_eq!(d.other_errors.len(), 2);
    }

    #[test]
    fn worst_picks_the_highest_exit_code_last_of_equals() {
        assert_eq!(worst(vec![]), None);
        let (w, others) = worst(vec![
            Error::inconclusive("a"),
            Error::runtime("b"),
            Error::runtime("c"),
            Error::usage("d"),
        ])
        .unwrap();
        assert_eq!(w.message, "c");
        assert_eq!(others.len(), 3);
    }
}
