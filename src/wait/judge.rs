//! The pure half of waiting (no I/O, the clock passed in): what a status read says
//! ([`judge_coverage`] / [`judge_ecr_status`] classify every status value AWS defines; a unit
//! test walks the SDK enums, so a new value is a decision, not a silent timeout), how far
//! apart status checks are ([`poll_delay`]), the settle window ([`settle_for`]) and when a
//! findings read is final ([`is_final`]). The loop that does the I/O is [`super`].

use crate::aws::inspector::CoverageRow;
use crate::error::Error;
use crate::model::{Finding, ScannedImage};
use std::collections::BTreeSet;
use std::time::Duration;
use time::OffsetDateTime;

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

/// Judge the coverage row of `img` (`None` = no row yet). A row matched by digest whose
/// resource id is not the form this version builds is an error naming both forms: the gate
/// must not guess at an identity it cannot confirm (and a wrong guess must never turn into a
/// silent wait until `--timeout`).
pub fn judge_coverage(row: Option<&CoverageRow>, img: &ScannedImage) -> Observation {
    let label = img.label();
    let Some(row) = row else {
        return Observation::Pending("no coverage record yet".into());
    };
    let expected = img.resource_id();
    if row.resource_id != expected {
        return Observation::Never(Error::runtime(format!(
            "{label}: Inspector's coverage names this image {} but this version of inspector-gate builds its resource id as {expected}; the forms differ (a partition or id form it does not know): report it, with both ids",
            row.resource_id
        )));
    }
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
/// Suppressed findings are part of it, and so is their status: a finding that a suppression
/// rule hides or unhides between two reads is a change, not a settled set.
pub fn finding_set(fs: &[Finding]) -> BTreeSet<String> {
    fs.iter()
        .map(|f| {
            format!(
                "{}|{}|{}|{}",
                f.finding_arn.as_deref().unwrap_or(&f.id),
                f.id,
                f.severity,
                if f.suppressed { "SUPPRESSED" } else { "ACTIVE" }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> ScannedImage {
        ScannedImage {
            registry: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "app/web".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            platform: None,
            requested: "app/web:v1".into(),
            index_digest: None,
            registry_host: None,
        }
    }

    fn row(code: &str, reason: &str, at: Option<i64>) -> CoverageRow {
        CoverageRow {
            status_code: code.into(),
            reason: reason.into(),
            last_scanned_at: at.map(|t| OffsetDateTime::from_unix_timestamp(t).unwrap()),
            resource_id: img().resource_id(),
            account_id: "123456789012".into(),
            repository: "app/web".into(),
            scan_frequency: Some("CONTINUOUS_SCAN".into()),
        }
    }

    #[test]
    fn a_row_of_our_digest_in_another_id_form_is_an_error_naming_both() {
        let i = img();
        let other = format!(
            "arn:aws-eusc:ecr:us-east-1:123456789012:repository/app/web/{}",
            i.digest
        );
        let r = CoverageRow {
            resource_id: other.clone(),
            ..row("ACTIVE", "SUCCESSFUL", Some(1))
        };
        // Matched by digest, repository and account...
        let rows = [r];
        let picked = crate::aws::inspector::row_for(&rows, &i).expect("matched by digest");
        // ... and refused, naming both forms.
        match judge_coverage(Some(picked), &i) {
            Observation::Never(e) => {
                assert_eq!(e.exit_code(), 4);
                assert!(e.message.contains(&other), "{}", e.message);
                assert!(e.message.contains(&i.resource_id()), "{}", e.message);
            }
            o => panic!("{o:?}"),
        }
        // Another digest, repository or account is not ours at all.
        let mut stranger = rows[0].clone();
        stranger.repository = "app/api".into();
        assert!(crate::aws::inspector::row_for(&[stranger], &i).is_none());
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
        assert!(matches!(
            judge_coverage(None, &img()),
            Observation::Pending(_)
        ));
        assert!(matches!(
            judge_coverage(Some(&row("ACTIVE", "PENDING_INITIAL_SCAN", None)), &img()),
            Observation::Pending(_)
        ));
        assert!(matches!(
            judge_coverage(Some(&row("ACTIVE", "SUCCESSFUL", Some(1))), &img()),
            Observation::Scanned { .. }
        ));
        assert!(matches!(
            judge_coverage(
                Some(&row("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH", None)),
                &img()
            ),
            Observation::Pending(_)
        ));
        assert!(matches!(
            judge_coverage(
                Some(&row("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH", Some(1))),
                &img()
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
            match judge_coverage(Some(&row("INACTIVE", reason, None)), &img()) {
                Observation::Never(e) => {
                    assert_eq!(e.exit_code(), code, "{reason}");
                    assert!(e.message.contains(reason));
                }
                o => panic!("{reason}: {o:?}"),
            }
        }
        // An unknown value: INACTIVE ends, ACTIVE keeps waiting.
        assert!(matches!(
            judge_coverage(Some(&row("INACTIVE", "BRAND_NEW", None)), &img()),
            Observation::Never(_)
        ));
        assert!(matches!(
            judge_coverage(Some(&row("ACTIVE", "BRAND_NEW", None)), &img()),
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
    fn a_finding_suppressed_between_two_reads_is_a_change() {
        let f = |suppressed| Finding {
            id: "CVE-1".into(),
            severity: crate::model::Severity::Critical,
            title: String::new(),
            description: None,
            finding_arn: Some("arn:1".into()),
            fix_available: None,
            exploit_available: None,
            inspector_score: None,
            epss_score: None,
            packages: vec![],
            source_url: None,
            remediation: None,
            image_digest: None,
            repository: None,
            suppressed,
        };
        assert_ne!(finding_set(&[f(false)]), finding_set(&[f(true)]));
        assert_eq!(finding_set(&[f(true)]), finding_set(&[f(true)]));
        assert_ne!(
            finding_set(&[]),
            finding_set(&[f(true)]),
            "a suppressed finding is seen"
        );
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
}
