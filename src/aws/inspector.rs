//! Amazon Inspector: the coverage of ECR images, listed per repository (`ListCoverage`
//! filtered by account, repository and resource type, every page) or by the images' own
//! resource ids, and matched to each image by its digest here ([`row_for`]), and all of an
//! image's open findings — ACTIVE and
//! SUPPRESSED (`ListFindings`, every page) — converted into our model. SUPPRESSED findings are
//! read because a suppression rule (e.g. "images not in use", which every candidate not yet
//! deployed matches) would otherwise hide them from the gate; the policy decides whether they
//! count (`suppressed`).

use super::{classify, CallError, Clients};
use crate::model::{Finding, Package, ScannedImage, Severity};
use aws_sdk_inspector2::operation::list_coverage::ListCoverageError;
use aws_sdk_inspector2::operation::list_findings::ListFindingsError;
use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageStringComparison, CoverageStringFilter, FilterCriteria,
    StringComparison, StringFilter,
};
use time::OffsetDateTime;

/// One coverage row of an ECR image: what the wait judges, and the identity it is matched by.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRow {
    pub status_code: String,
    pub reason: String,
    pub last_scanned_at: Option<OffsetDateTime>,
    /// `resourceId` as Inspector wrote it: compared with the form this version builds
    /// ([`ScannedImage::resource_id`]) once the row is matched by digest.
    pub resource_id: String,
    pub account_id: String,
    /// `resourceMetadata.ecrRepository.name` (else the repository in `resource_id`).
    pub repository: String,
    /// `resourceMetadata.ecrRepository.scanFrequency` (MANUAL, SCAN_ON_PUSH, CONTINUOUS_SCAN).
    pub scan_frequency: Option<String>,
}

impl CoverageRow {
    /// The image digest the row is about: the last path segment of its resource id.
    pub fn digest(&self) -> Option<&str> {
        self.resource_id
            .rsplit_once('/')
            .map(|(_, d)| d)
            .filter(|d| d.starts_with("sha256:"))
    }
}

/// The row of `img` among `rows` (a listing of its repository, or of its resource id): the row
/// that names its digest in its repository and account. Matched here, by digest, so that a
/// resource id written in a form this version does not build is still found in a repository
/// listing (and reported by the judge), never waited for until `--timeout`: a listing by
/// `resourceId` alone would miss it. The exact form wins over another one.
pub fn row_for<'a>(rows: &'a [CoverageRow], img: &ScannedImage) -> Option<&'a CoverageRow> {
    let expected = img.resource_id();
    let ours = |r: &&CoverageRow| {
        r.digest() == Some(img.digest.as_str())
            && r.repository == img.repository
            && r.account_id == img.registry
    };
    rows.iter()
        .find(|r| r.resource_id == expected)
        .or_else(|| rows.iter().find(ours))
}

/// What a coverage listing asks for: the images of these repositories (every image of them),
/// or of these resource ids, in these accounts; an empty list is no filter. Inspector ORs the
/// values of one filter and ANDs the filters, so a listing may return rows of other
/// combinations: [`row_for`] picks each image's own row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoverageQuery {
    pub registries: Vec<String>,
    pub repositories: Vec<String>,
    pub resource_ids: Vec<String>,
}

/// Rows a coverage page holds at most (`maxResults`; botocore: `ListCoverageMaxResults` max 200).
pub const COVERAGE_PAGE: i32 = 200;

/// Values one Inspector filter list takes at most (botocore: `CoverageStringFilterList` and
/// `StringFilterList` are `max: 10`).
pub const MAX_FILTER_VALUES: usize = 10;

fn coverage_retry_after(e: &ListCoverageError) -> Option<i32> {
    match e {
        ListCoverageError::ThrottlingException(t) => t.retry_after_seconds(),
        ListCoverageError::InternalServerException(i) => i.retry_after_seconds(),
        _ => None,
    }
}

fn findings_retry_after(e: &ListFindingsError) -> Option<i32> {
    match e {
        ListFindingsError::ThrottlingException(t) => t.retry_after_seconds(),
        ListFindingsError::InternalServerException(i) => i.retry_after_seconds(),
        _ => None,
    }
}

/// Pages of a list call read at most, and the error for a token that comes back: Inspector2
/// list APIs may answer an empty page that still carries a token, so "no row on this page"
/// is not "no row", but a server that keeps answering (or cycles tokens) must not hang us.
pub const MAX_PAGES: usize = 1000;

/// Remember `next` and say whether paging may go on: `Err` when a token repeats (a cycle).
pub fn next_page(
    seen: &mut std::collections::HashSet<String>,
    next: Option<&str>,
    action: &str,
) -> Result<Option<String>, CallError> {
    let Some(t) = next.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if !seen.insert(t.to_string()) || seen.len() > MAX_PAGES {
        return Err(CallError {
            class: super::Class::Permanent,
            code: "PagingLoop".into(),
            message: format!(
                "{action} kept answering with nextToken (a repeated token, or more than {MAX_PAGES} pages): stopped paging"
            ),
        });
    }
    Ok(Some(t.to_string()))
}

fn coverage_eq(v: &str) -> Result<CoverageStringFilter, CallError> {
    CoverageStringFilter::builder()
        .comparison(CoverageStringComparison::Equals)
        .value(v)
        .build()
        .map_err(build_err)
}

/// One page of the coverage of `q`'s repositories (ECR images only); `next` continues.
/// Rows that are not ECR image rows are skipped.
pub async fn coverage_page(
    c: &Clients,
    q: &CoverageQuery,
    next: Option<String>,
) -> Result<(Vec<CoverageRow>, Option<String>), CallError> {
    let mut filter =
        CoverageFilterCriteria::builder().resource_type(coverage_eq("AWS_ECR_CONTAINER_IMAGE")?);
    for r in &q.registries {
        filter = filter.account_id(coverage_eq(r)?);
    }
    for r in &q.repositories {
        filter = filter.ecr_repository_name(coverage_eq(r)?);
    }
    for id in &q.resource_ids {
        filter = filter.resource_id(coverage_eq(id)?);
    }
    let out = c
        .inspector
        .list_coverage()
        .filter_criteria(filter.build())
        .max_results(COVERAGE_PAGE)
        .set_next_token(next)
        .send()
        .await
        .map_err(|e| not_enabled(classify(e, coverage_retry_after)))?;
    let rows = out.covered_resources().iter().map(coverage_row).collect();
    let token = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((rows, token))
}

fn coverage_row(row: &aws_sdk_inspector2::types::CoveredResource) -> CoverageRow {
    let (status_code, reason) = match row.scan_status() {
        Some(s) => (
            s.status_code().as_str().to_string(),
            s.reason().as_str().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let last_scanned_at = row
        .last_scanned_at()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok());
    let repo_meta = row.resource_metadata().and_then(|m| m.ecr_repository());
    let resource_id = row.resource_id().to_string();
    // `…:repository/<repo>/sha256:…`: the repository when the metadata does not name it.
    let from_id = resource_id
        .split_once(":repository/")
        .and_then(|(_, p)| p.rsplit_once('/'))
        .map(|(r, _)| r.to_string())
        .unwrap_or_default();
    CoverageRow {
        status_code,
        reason,
        last_scanned_at,
        repository: repo_meta
            .and_then(|m| m.name())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or(from_id),
        scan_frequency: repo_meta
            .and_then(|m| m.scan_frequency())
            .map(|f| f.as_str().to_string()),
        account_id: row.account_id().to_string(),
        resource_id,
    }
}

fn build_err(e: aws_sdk_inspector2::error::BuildError) -> CallError {
    CallError {
        class: super::Class::Permanent,
        code: "Build".into(),
        message: e.to_string(),
    }
}

fn eq(v: &str) -> Result<StringFilter, CallError> {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(v)
        .build()
        .map_err(build_err)
}

/// The finding statuses the gate reads: every open one. Inspector ORs the values of one
/// filter, so one listing returns both, and each read sees ACTIVE and SUPPRESSED findings of
/// the same moment (CLOSED findings are fixed and stay out).
pub const READ_STATUSES: [&str; 2] = ["ACTIVE", "SUPPRESSED"];

/// What a findings listing asks for: the open findings of these image digests, in these
/// repositories of these accounts. Inspector ORs the values of one filter and ANDs the
/// filters, so a listing may return findings of other combinations (the same digest pushed to
/// another of the repositories): the caller splits by each finding's own image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingsQuery {
    pub registries: Vec<String>,
    pub repositories: Vec<String>,
    pub digests: Vec<String>,
}

/// The image a finding is about: (registry, repository, digest) of its ECR image resource.
pub type ImageKey = (String, String, String);

/// One page of the open findings (see [`READ_STATUSES`]) of `q`'s images, each with the
/// image it is about; `next` continues.
pub async fn findings_page(
    c: &Clients,
    q: &FindingsQuery,
    next: Option<String>,
) -> Result<(Vec<(ImageKey, Finding)>, Option<String>), CallError> {
    let mut filter = FilterCriteria::builder();
    for r in &q.registries {
        filter = filter.ecr_image_registry(eq(r)?);
    }
    for r in &q.repositories {
        filter = filter.ecr_image_repository_name(eq(r)?);
    }
    for d in &q.digests {
        filter = filter.ecr_image_hash(eq(d)?);
    }
    for status in READ_STATUSES {
        filter = filter.finding_status(eq(status)?);
    }
    let out = c
        .inspector
        .list_findings()
        .filter_criteria(filter.build())
        .max_results(100)
        .set_next_token(next)
        .send()
        .await
        .map_err(|e| not_enabled(classify(e, findings_retry_after)))?;
    let findings = out
        .findings()
        .iter()
        .map(|f| {
            let image = f
                .resources()
                .first()
                .and_then(|r| r.details())
                .and_then(|d| d.aws_ecr_container_image());
            let key = (
                image.map(|i| i.registry().to_string()).unwrap_or_default(),
                image
                    .map(|i| i.repository_name().to_string())
                    .unwrap_or_default(),
                image
                    .map(|i| i.image_hash().to_string())
                    .unwrap_or_default(),
            );
            (key, convert(f))
        })
        .collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((findings, next))
}

/// SDK finding → our model.
pub fn convert(f: &aws_sdk_inspector2::types::Finding) -> Finding {
    let pvd = f.package_vulnerability_details();
    let id = pvd
        .map(|p| p.vulnerability_id().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| f.title().map(str::to_string))
        .unwrap_or_else(|| f.finding_arn().to_string());
    let severity = f.severity().as_str().parse().unwrap_or(Severity::Untriaged);
    let packages = pvd
        .map(|p| {
            p.vulnerable_packages()
                .iter()
                .map(|vp| Package {
                    name: vp.name().to_string(),
                    version: Some(vp.version().to_string()).filter(|s| !s.is_empty()),
                    release: vp.release().map(str::to_string).filter(|s| !s.is_empty()),
                    // The SDK reads an absent epoch as 0, which is also "no epoch".
                    epoch: u32::try_from(vp.epoch()).ok().filter(|e| *e > 0),
                    fixed_in_version: vp.fixed_in_version().map(str::to_string),
                    package_manager: vp.package_manager().map(|m| m.as_str().to_string()),
                    file_path: vp.file_path().map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default();
    let ecr = f
        .resources()
        .first()
        .and_then(|r| r.details())
        .and_then(|d| d.aws_ecr_container_image());
    Finding {
        id,
        severity,
        title: f.title().unwrap_or_default().to_string(),
        description: Some(f.description().to_string()).filter(|s| !s.is_empty()),
        finding_arn: Some(f.finding_arn().to_string()),
        fix_available: f.fix_available().map(|x| x.as_str().to_string()),
        exploit_available: f.exploit_available().map(|x| x.as_str().to_string()),
        inspector_score: f.inspector_score(),
        epss_score: f.epss().map(|e| e.score()),
        packages,
        source_url: pvd.and_then(|p| p.source_url()).map(str::to_string),
        remediation: f
            .remediation()
            .and_then(|r| r.recommendation())
            .and_then(|r| r.text())
            .map(str::to_string),
        image_digest: ecr.map(|e| e.image_hash().to_string()),
        repository: ecr.map(|e| e.repository_name().to_string()),
        suppressed: f.status() == &aws_sdk_inspector2::types::FindingStatus::Suppressed,
    }
}

/// `e`, classified [`Class::NotEnabled`](super::Class::NotEnabled) when it is Inspector saying
/// it is not enabled for the account. Inspector2 answers that as an `AccessDeniedException`
/// whose only field is its message, so the message is read here, once, where the answer is
/// decoded; everything after branches on the class.
fn not_enabled(mut e: CallError) -> CallError {
    if e.code == "AccessDeniedException" && e.message.to_ascii_lowercase().contains("not enabled") {
        e.class = super::Class::NotEnabled;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspector_not_enabled_is_its_own_class() {
        let denied = |message: &str| CallError {
            class: super::super::Class::AccessDenied,
            code: "AccessDeniedException".into(),
            message: format!("AccessDeniedException: {message}"),
        };
        let e = not_enabled(denied(
            "Amazon Inspector is not enabled for account 123456789012",
        ));
        assert_eq!(e.class, super::super::Class::NotEnabled);
        let e = not_enabled(denied(
            "User: x is not authorized to perform: inspector2:ListFindings",
        ));
        assert_eq!(e.class, super::super::Class::AccessDenied);
    }

    #[test]
    fn a_cycling_next_token_ends_the_paging_with_an_error() {
        let mut seen = std::collections::HashSet::new();
        assert_eq!(
            next_page(&mut seen, Some("A"), "x").unwrap().as_deref(),
            Some("A")
        );
        assert_eq!(
            next_page(&mut seen, Some("B"), "x").unwrap().as_deref(),
            Some("B")
        );
        let e = next_page(&mut seen, Some("A"), "inspector2:ListFindings").unwrap_err();
        assert_eq!(e.code, "PagingLoop");
        assert!(
            e.message.contains("inspector2:ListFindings"),
            "{}",
            e.message
        );
        assert_eq!(next_page(&mut seen, None, "x").unwrap(), None);
        assert_eq!(next_page(&mut seen, Some(""), "x").unwrap(), None);
    }
}
