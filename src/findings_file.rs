//! Reading findings saved to disk, for offline evaluation: our own `findings` JSON, the output
//! of `aws inspector2 list-findings` (the service's wire format), or an `Inspector2 Scan`
//! EventBridge event (severity counts only). A document that is none of these but is
//! recognisable — empty, another scanner's report, an SBOM, the other of the two inputs — is
//! refused in one line saying what it is and what to pass instead ([`Recognised`]).

use crate::error::{Error, Result};
use crate::model::{Finding, Package, ScannedImage, Severity};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Files larger than this are refused rather than read into memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Findings of one image, as `inspector-gate findings` writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFindings {
    pub image: ScannedImage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<crate::report::ScanInfo>,
    pub findings: Vec<Finding>,
    /// For an `Inspector2 Scan` event: the counts it carries (and `findings` is empty: the
    /// event lists none).
    #[serde(skip)]
    pub event_counts: Option<crate::policy::eval::EventCounts>,
}

/// The `findings` command's output document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingsDoc {
    pub schema_version: u32,
    pub images: Vec<ImageFindings>,
}

// --- Inspector2 wire format (subset), as `aws inspector2 list-findings` prints it ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireList {
    findings: Vec<WireFinding>,
    /// The service's token: more pages exist (`aws inspector2 list-findings --no-paginate`,
    /// `--max-results`).
    #[serde(default)]
    next_token: Option<String>,
    /// The AWS CLI's own token: it stopped early (`--max-items`).
    #[serde(default, rename = "NextToken")]
    cli_next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFinding {
    #[serde(default)]
    finding_arn: Option<String>,
    severity: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    fix_available: Option<String>,
    #[serde(default)]
    exploit_available: Option<String>,
    #[serde(default)]
    inspector_score: Option<f64>,
    #[serde(default)]
    epss: Option<WireEpss>,
    #[serde(default)]
    package_vulnerability_details: Option<WirePvd>,
    #[serde(default)]
    remediation: Option<WireRemediation>,
    #[serde(default)]
    resources: Vec<WireResource>,
}

#[derive(Debug, Deserialize)]
struct WireEpss {
    score: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePvd {
    #[serde(default)]
    vulnerability_id: Option<String>,
    #[serde(default)]
    source_url: Option<String>,
    #[serde(default)]
    vulnerable_packages: Vec<WirePackage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePackage {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    release: Option<String>,
    #[serde(default)]
    epoch: Option<i64>,
    #[serde(default)]
    fixed_in_version: Option<String>,
    #[serde(default)]
    package_manager: Option<String>,
    #[serde(default)]
    file_path: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireRemediation {
    #[serde(default)]
    recommendation: Option<WireRecommendation>,
}

#[derive(Debug, Deserialize)]
struct WireRecommendation {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireResource {
    #[serde(default)]
    details: Option<WireDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDetails {
    #[serde(default)]
    aws_ecr_container_image: Option<WireEcr>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEcr {
    #[serde(default)]
    image_hash: Option<String>,
    #[serde(default)]
    repository_name: Option<String>,
}

impl WireFinding {
    fn into_finding(self) -> std::result::Result<Finding, String> {
        let severity: Severity = self.severity.parse()?;
        let pvd = self.package_vulnerability_details;
        let ecr = self
            .resources
            .into_iter()
            .next()
            .and_then(|r| r.details)
            .and_then(|d| d.aws_ecr_container_image);
        let id = pvd
            .as_ref()
            .and_then(|p| p.vulnerability_id.clone())
            .or_else(|| self.title.clone())
            .or_else(|| self.finding_arn.clone())
            .ok_or("a finding has no vulnerabilityId, title or findingArn")?;
        Ok(Finding {
            id,
            severity,
            title: self.title.unwrap_or_default(),
            description: self.description,
            finding_arn: self.finding_arn,
            fix_available: self.fix_available,
            exploit_available: self.exploit_available,
            inspector_score: self.inspector_score,
            epss_score: self.epss.map(|e| e.score),
            source_url: pvd.as_ref().and_then(|p| p.source_url.clone()),
            packages: pvd
                .map(|p| {
                    p.vulnerable_packages
                        .into_iter()
                        .map(|v| Package {
                            name: v.name,
                            version: v.version,
                            release: v.release.filter(|r| !r.is_empty()),
                            epoch: v
                                .epoch
                                .and_then(|e| u32::try_from(e).ok())
                                .filter(|e| *e > 0),
                            fixed_in_version: v.fixed_in_version,
                            package_manager: v.package_manager,
                            file_path: v.file_path,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            remediation: self
                .remediation
                .and_then(|r| r.recommendation)
                .and_then(|r| r.text),
            image_digest: ecr.as_ref().and_then(|e| e.image_hash.clone()),
            repository: ecr.and_then(|e| e.repository_name),
            suppressed: self.status.as_deref() == Some("SUPPRESSED"),
        })
    }
}

// --- EventBridge `Inspector2 Scan` ---

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "detail-type", default)]
    detail_type: Option<String>,
    detail: EventDetail,
}

#[derive(Debug, Deserialize)]
struct EventDetail {
    #[serde(rename = "repository-name")]
    repository_name: String,
    #[serde(rename = "image-digest")]
    image_digest: String,
    #[serde(rename = "finding-severity-counts", default)]
    counts: std::collections::BTreeMap<String, u64>,
    #[serde(rename = "scan-status", default)]
    scan_status: Option<String>,
}

fn read(path: &Path, what: &str) -> Result<String> {
    // `-` is standard input (`inspector-gate findings … | inspector-gate evaluate --findings -`).
    if path.as_os_str() == "-" {
        return read_bounded(std::io::stdin().lock(), path, what);
    }
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::usage(format!(
            "{what} {} is {} MiB, over the {} MiB limit",
            path.display(),
            meta.len() >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    // The size above is 0 for pipes and devices (`/dev/stdin`, `/dev/zero`): bound the read too.
    let file = std::fs::File::open(path)
        .map_err(|e| Error::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    read_bounded(file, path, what)
}

/// At most [`MAX_FILE_BYTES`] of UTF-8 text from `source` (a file, a pipe, stdin).
fn read_bounded(source: impl std::io::Read, path: &Path, what: &str) -> Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    source
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::usage(format!(
            "{what} {} is over the {} MiB limit",
            path.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::usage(format!(
            "cannot read {what} {}: not UTF-8 text ({e})",
            path.display()
        ))
    })
}

/// More findings than this in one file is not a scan result: refuse it before building the
/// typed findings (an ECR image with the most findings we know of has a few thousand).
pub const MAX_FINDINGS: usize = 200_000;

/// How many findings a document holds, in any of the accepted shapes.
fn finding_count(v: &serde_json::Value) -> usize {
    let len = |v: Option<&serde_json::Value>| v.and_then(|a| a.as_array()).map_or(0, Vec::len);
    if let Some(images) = v.get("images").and_then(|i| i.as_array()) {
        return images.iter().map(|i| len(i.get("findings"))).sum();
    }
    if v.get("findings").is_some() {
        return len(v.get("findings"));
    }
    v.as_array().map_or(0, Vec::len)
}

/// What a document given to `--findings` or `--event` is, when it is not what that flag takes
/// but something a user plausibly has at hand instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recognised {
    Empty,
    /// trivy's JSON report (`"SchemaVersion"` with `"ArtifactName"` or `"Results"`).
    Trivy,
    /// grype's JSON report (`"matches"`, `"descriptor": {"name": "grype"}`).
    Grype,
    /// `aws ecr describe-image-scan-findings` output (`"imageScanFindings"`).
    EcrScanFindings,
    /// A CycloneDX document (`"bomFormat": "CycloneDX"`), with or without vulnerabilities.
    CycloneDx,
    /// An `Inspector2 Scan` EventBridge event.
    ScanEvent,
    /// An `Inspector2 Finding` EventBridge event: one finding, not the image's set.
    FindingEvent,
    /// Findings: `inspector-gate findings` or `aws inspector2 list-findings` output.
    Findings,
}

/// The recognisable document `text` is (`v` its JSON, when it is JSON).
fn recognise(text: &str, v: Option<&serde_json::Value>) -> Option<Recognised> {
    if text.trim().is_empty() {
        return Some(Recognised::Empty);
    }
    let v = v?;
    let has = |k: &str| v.get(k).is_some();
    let str_at = |ptr: &str| v.pointer(ptr).and_then(|s| s.as_str());
    if has("SchemaVersion") && (has("ArtifactName") || has("Results")) {
        return Some(Recognised::Trivy);
    }
    // grype names itself in `descriptor.name`; its matches sit beside the descriptor.
    if has("matches") && has("descriptor") {
        return Some(Recognised::Grype);
    }
    if has("imageScanFindings") {
        return Some(Recognised::EcrScanFindings);
    }
    if str_at("/bomFormat") == Some("CycloneDX") {
        return Some(Recognised::CycloneDx);
    }
    match str_at("/detail-type") {
        Some("Inspector2 Scan") => return Some(Recognised::ScanEvent),
        Some("Inspector2 Finding") => return Some(Recognised::FindingEvent),
        _ => {}
    }
    if has("images") || has("findings") || v.is_array() {
        return Some(Recognised::Findings);
    }
    None
}

/// Which flag a document was given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Findings,
    Event,
}

/// The one-line error for a document `origin` recognised as `r` but given to `slot`, or
/// `None` when `r` is what the slot takes.
fn misplaced(r: Recognised, slot: Slot, origin: &str) -> Option<Error> {
    const INSPECTOR: &str = "inspector-gate evaluates Amazon Inspector findings: pass `aws inspector2 list-findings` output, or run the gate";
    let line = match (r, slot) {
        (Recognised::Findings, Slot::Findings) | (Recognised::ScanEvent, Slot::Event) => {
            return None
        }
        (Recognised::Empty, Slot::Findings) => format!(
            "{origin} is empty: pass what `aws inspector2 list-findings` or `inspector-gate findings` wrote (a command that failed leaves an empty file behind)"
        ),
        (Recognised::Empty, Slot::Event) => format!(
            "{origin} is empty: pass the Inspector2 Scan event as EventBridge delivers it (the whole JSON, its detail included)"
        ),
        (Recognised::Trivy, _) => format!("{origin} is a trivy report; {INSPECTOR}"),
        (Recognised::Grype, _) => format!("{origin} is a grype report; {INSPECTOR}"),
        (Recognised::EcrScanFindings, _) => format!(
            "{origin} is `aws ecr describe-image-scan-findings` output; {INSPECTOR}"
        ),
        (Recognised::CycloneDx, _) => format!(
            "{origin} is a CycloneDX SBOM, not findings: scan it with `inspector-gate scan --sbom FILE` (Amazon Inspector's ScanSbom)"
        ),
        (Recognised::ScanEvent, Slot::Findings) => format!(
            "{origin} is an Inspector2 Scan event (EventBridge): pass it with --event, not --findings"
        ),
        (Recognised::FindingEvent, _) => format!(
            "{origin} is an Inspector2 Finding event (EventBridge): one finding, not the image's findings; pass `aws inspector2 list-findings` output for the image with --findings"
        ),
        (Recognised::Findings, Slot::Event) => format!(
            "{origin} is a findings file, not an event: pass it with --findings, not --event"
        ),
    };
    Some(Error::usage(line))
}

/// Refuse `text` given to `slot` when it is recognisably something else.
fn refuse_misplaced(
    text: &str,
    v: Option<&serde_json::Value>,
    slot: Slot,
    origin: &str,
) -> Result<()> {
    match recognise(text, v).and_then(|r| misplaced(r, slot, origin)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Parse a findings document (any of the accepted shapes) from text.
pub fn parse_findings(text: &str, origin: &str) -> Result<Vec<ImageFindings>> {
    let bad = |why: String| Error::usage(format!("{origin} is not a findings file: {why}"));
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            refuse_misplaced(text, None, Slot::Findings, origin)?;
            return Err(bad(format!("invalid JSON ({e})")));
        }
    };
    refuse_misplaced(text, Some(&v), Slot::Findings, origin)?;
    let count = finding_count(&v);
    if count > MAX_FINDINGS {
        return Err(bad(format!(
            "{count} findings, over the limit of {MAX_FINDINGS} (split the file per image)"
        )));
    }
    if v.get("images").is_some() {
        let doc: FindingsDoc = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        return Ok(doc.images);
    }
    if v.get("findings").is_some() {
        let list: WireList = serde_json::from_value(v)
            .map_err(|e| bad(format!("not `aws inspector2 list-findings` output: {e}")))?;
        // A token means more pages: evaluating this one would pass what was never read.
        if [&list.next_token, &list.cli_next_token]
            .into_iter()
            .any(|t| t.as_deref().is_some_and(|t| !t.is_empty()))
        {
            return Err(Error::inconclusive(format!(
                "{origin} is one page of {} finding(s) and carries a nextToken: the rest was not read, so it cannot pass; pass every page, e.g. `aws inspector2 list-findings` without `--max-items` (or `inspector-gate findings`)",
                list.findings.len()
            )));
        }
        let mut findings = Vec::new();
        for w in list.findings {
            // CLOSED findings are fixed. SUPPRESSED ones are still in the image: they are kept,
            // marked, and the policy decides whether they count (`suppressed`).
            if w.status.as_deref() == Some("CLOSED") {
                continue;
            }
            findings.push(w.into_finding().map_err(bad)?);
        }
        return Ok(group_by_image(findings));
    }
    if v.is_array() {
        let findings: Vec<Finding> = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        return Ok(group_by_image(findings));
    }
    Err(bad("expected an object with \"images\" (inspector-gate findings) or \"findings\" (aws inspector2 list-findings), or an array".into()))
}

fn group_by_image(findings: Vec<Finding>) -> Vec<ImageFindings> {
    let mut groups: Vec<ImageFindings> = Vec::new();
    for f in findings {
        let digest = f.image_digest.clone().unwrap_or_default();
        let repo = f.repository.clone().unwrap_or_default();
        match groups
            .iter_mut()
            .find(|g| g.image.digest == digest && g.image.repository == repo)
        {
            Some(g) => g.findings.push(f),
            None => groups.push(ImageFindings {
                image: ScannedImage {
                    registry: String::new(),
                    region: String::new(),
                    repository: repo.clone(),
                    digest: digest.clone(),
                    platform: None,
                    requested: if digest.is_empty() {
                        repo
                    } else {
                        format!("{repo}@{digest}")
                    },
                    index_digest: None,
                    registry_host: None,
                },
                scan: None,
                findings: vec![f],
                event_counts: None,
            }),
        }
    }
    if groups.is_empty() {
        groups.push(ImageFindings {
            image: ScannedImage {
                registry: String::new(),
                region: String::new(),
                repository: String::new(),
                digest: String::new(),
                platform: None,
                requested: String::new(),
                index_digest: None,
                registry_host: None,
            },
            scan: None,
            findings: Vec::new(),
            event_counts: None,
        });
    }
    groups
}

pub fn load_findings(path: &Path) -> Result<Vec<ImageFindings>> {
    let text = read(path, "findings file")?;
    parse_findings(&text, &format!("findings file {}", path.display()))
}

/// Parse an `Inspector2 Scan` event: its image and its severity counts, no findings (it
/// lists none). Missing CRITICAL/HIGH/MEDIUM keys mean zero; severities it does not give are
/// the remainder of its TOTAL.
pub fn parse_event(text: &str, origin: &str) -> Result<ImageFindings> {
    let bad =
        |why: String| Error::usage(format!("{origin} is not an Inspector2 Scan event: {why}"));
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            refuse_misplaced(text, None, Slot::Event, origin)?;
            return Err(bad(format!("invalid JSON ({e})")));
        }
    };
    refuse_misplaced(text, Some(&v), Slot::Event, origin)?;
    let ev: Event = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    if let Some(dt) = &ev.detail_type {
        if dt != "Inspector2 Scan" {
            return Err(bad(format!(
                "detail-type is '{dt}', expected 'Inspector2 Scan'"
            )));
        }
    }
    // repository-name is an ARN: arn:aws:ecr:<region>:<acct>:repository/<name>
    let arn = &ev.detail.repository_name;
    let (region, registry, repository) = match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "ecr", region, acct, rest] => match rest.strip_prefix("repository/") {
            Some(name) => (region.to_string(), acct.to_string(), name.to_string()),
            None => {
                return Err(bad(format!(
                    "repository-name '{arn}' is not a repository ARN"
                )))
            }
        },
        _ => {
            return Err(bad(format!(
                "repository-name '{arn}' is not an ECR repository ARN"
            )))
        }
    };
    if !crate::image_ref::is_valid_digest(&ev.detail.image_digest) {
        return Err(bad(format!(
            "image-digest '{}' is not a sha256 digest",
            ev.detail.image_digest
        )));
    }
    // CRITICAL/HIGH/MEDIUM are always given (a missing key is zero); LOW, INFORMATIONAL and
    // UNTRIAGED only when the event has them, else they are the remainder of TOTAL.
    let mut given = std::collections::BTreeMap::new();
    for sev in Severity::ALL {
        match ev.detail.counts.get(sev.as_str()) {
            Some(n) => {
                given.insert(sev, *n);
            }
            None if sev <= Severity::Medium => {
                given.insert(sev, 0);
            }
            None => {}
        }
    }
    let total = ev.detail.counts.get("TOTAL").copied();
    let sum: u64 = given.values().fold(0u64, |a, n| a.saturating_add(*n));
    if let Some(t) = total.filter(|t| *t < sum) {
        return Err(bad(format!(
            "finding-severity-counts TOTAL is {t}, less than the {sum} findings its severities count"
        )));
    }
    let counts = crate::policy::eval::EventCounts { given, total };
    Ok(ImageFindings {
        image: ScannedImage {
            registry,
            region,
            repository: repository.clone(),
            digest: ev.detail.image_digest.clone(),
            platform: None,
            requested: format!("{repository}@{}", ev.detail.image_digest),
            index_digest: None,
            registry_host: None,
        },
        scan: Some(crate::report::ScanInfo {
            status: ev.detail.scan_status,
            last_scanned_at: None,
            waited_seconds: 0.0,
        }),
        findings: Vec::new(),
        event_counts: Some(counts),
    })
}

pub fn load_event(path: &Path) -> Result<ImageFindings> {
    let text = read(path, "event file")?;
    parse_event(&text, &format!("event file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_output_drops_closed_and_keeps_suppressed_findings() {
        let text = r#"{"findings":[
          {"findingArn":"arn:1","severity":"CRITICAL","status":"ACTIVE","title":"CVE-1 - openssl","fixAvailable":"YES",
           "packageVulnerabilityDetails":{"vulnerabilityId":"CVE-1","vulnerablePackages":[{"name":"openssl","version":"1.0","fixedInVersion":"1.1"}]},
           "resources":[{"type":"AWS_ECR_CONTAINER_IMAGE","id":"x","details":{"awsEcrContainerImage":{"imageHash":"sha256:aa","repositoryName":"app/web","registry":"123456789012"}}}]},
          {"findingArn":"arn:2","severity":"HIGH","status":"CLOSED","title":"CVE-2"},
          {"findingArn":"arn:3","severity":"CRITICAL","status":"SUPPRESSED","title":"CVE-3",
           "resources":[{"type":"AWS_ECR_CONTAINER_IMAGE","id":"x","details":{"awsEcrContainerImage":{"imageHash":"sha256:aa","repositoryName":"app/web","registry":"123456789012"}}}]}]}"#;
        let imgs = parse_findings(text, "t").unwrap();
        assert_eq!(imgs.len(), 1);
        assert_eq!(imgs[0].findings.len(), 2, "CLOSED dropped, SUPPRESSED kept");
        assert!(!imgs[0].findings[0].suppressed);
        assert!(imgs[0].findings[1].suppressed && imgs[0].findings[1].id == "CVE-3");
        let f = &imgs[0].findings[0];
        assert_eq!((f.id.as_str(), f.severity), ("CVE-1", Severity::Critical));
        assert_eq!(f.packages[0].fixed_in_version.as_deref(), Some("1.1"));
        assert_eq!(imgs[0].image.repository, "app/web");
    }

    #[test]
    fn event_counts_missing_keys_are_zero_and_no_finding_is_made_up() {
        let text = r#"{"detail-type":"Inspector2 Scan","source":"aws.inspector2","detail":{"scan-status":"INITIAL_SCAN_COMPLETE",
          "repository-name":"arn:aws:ecr:us-east-1:123456789012:repository/app/web",
          "image-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
          "finding-severity-counts":{"CRITICAL":1,"TOTAL":31,"HIGH":2}}}"#;
        let img = parse_event(text, "e").unwrap();
        assert_eq!(img.image.repository, "app/web");
        assert_eq!(img.image.registry, "123456789012");
        assert!(img.findings.is_empty(), "no placeholder findings");
        let c = img.event_counts.unwrap();
        assert_eq!(c.given.get(&Severity::Critical), Some(&1));
        assert_eq!(c.given.get(&Severity::Medium), Some(&0));
        assert_eq!(c.given.get(&Severity::Low), None);
        assert_eq!(c.remainder(), Some(28));
        // A TOTAL below what the severities count is not an event we can trust.
        let bad = text.replace("\"TOTAL\":31", "\"TOTAL\":2");
        assert_eq!(parse_event(&bad, "e").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn a_list_findings_page_with_a_next_token_is_inconclusive() {
        for key in ["nextToken", "NextToken"] {
            let text = format!(
                r#"{{"findings":[{{"findingArn":"arn:1","severity":"LOW","status":"ACTIVE","title":"CVE-1"}}],"{key}":"abc"}}"#
            );
            let e = parse_findings(&text, "f.json").unwrap_err();
            assert_eq!(e.exit_code(), 3, "{key}");
            assert!(e.message.contains("one page of 1 finding(s)"), "{e}");
            assert!(e.message.contains("without `--max-items`"), "{e}");
        }
        let last = r#"{"findings":[],"nextToken":""}"#;
        assert!(
            parse_findings(last, "f.json").is_ok(),
            "an empty token is the last page"
        );
    }

    #[test]
    fn bad_documents_are_usage_errors() {
        for t in [
            "",
            "{",
            "[1]",
            "{\"x\":1}",
            "{\"findings\":[{\"severity\":\"BAD\"}]}",
        ] {
            assert_eq!(parse_findings(t, "f").unwrap_err().exit_code(), 2, "{t}");
        }
        for t in [
            "{}",
            "{\"detail\":{}}",
            r#"{"detail":{"repository-name":"app","image-digest":"sha256:1"}}"#,
        ] {
            assert_eq!(parse_event(t, "e").unwrap_err().exit_code(), 2, "{t}");
        }
    }

    #[test]
    fn documents_of_the_wrong_kind_are_named_with_what_to_pass() {
        let trivy = r#"{"SchemaVersion":2,"ArtifactName":"x","Results":[]}"#;
        let grype = r#"{"matches":[],"source":{"type":"unknown","target":"unknown"},"distro":{"name":"centos","version":"8.0","idLike":["rhel"]},"descriptor":{"name":"grype","version":"[not provided]","timestamp":""}}"#;
        let event = r#"{"detail-type":"Inspector2 Scan","detail":{}}"#;
        let finding_event = r#"{"detail-type":"Inspector2 Finding","detail":{}}"#;
        let f = |t: &str| parse_findings(t, "findings file f.json").unwrap_err();
        let e = |t: &str| parse_event(t, "event file e.json").unwrap_err();
        for (err, want) in [
            (f(""), "findings file f.json is empty: pass what `aws inspector2 list-findings`"),
            (f(" \n"), "findings file f.json is empty"),
            (e(""), "event file e.json is empty: pass the Inspector2 Scan event"),
            (f(trivy), "findings file f.json is a trivy report; inspector-gate evaluates Amazon Inspector findings: pass `aws inspector2 list-findings` output, or run the gate"),
            (e(trivy), "event file e.json is a trivy report; "),
            (f(grype), "findings file f.json is a grype report; "),
            (f(r#"{"imageScanFindings":{}}"#), "is `aws ecr describe-image-scan-findings` output; "),
            (f(r#"{"bomFormat":"CycloneDX"}"#), "is a CycloneDX SBOM, not findings"),
            (f(event), "is an Inspector2 Scan event (EventBridge): pass it with --event, not --findings"),
            (f(finding_event), "is an Inspector2 Finding event"),
            (e(finding_event), "is an Inspector2 Finding event"),
            (e(r#"{"findings":[]}"#), "event file e.json is a findings file, not an event: pass it with --findings"),
            (e("[]"), "is a findings file, not an event"),
            (e(r#"{"schemaVersion":1,"images":[]}"#), "is a findings file, not an event"),
        ] {
            assert_eq!(err.exit_code(), 2, "{}", err.message);
            assert!(err.message.contains(want), "{} / {want}", err.message);
            assert!(!err.message.contains('\n'), "one line: {}", err.message);
        }
        // What each takes is not refused for looking like something else.
        assert!(parse_findings(r#"{"findings":[]}"#, "f").is_ok());
        assert!(parse_findings("[]", "f").is_ok());
        let ev = r#"{"detail-type":"Inspector2 Scan","detail":{"repository-name":"arn:aws:ecr:us-east-1:123456789012:repository/app","image-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","finding-severity-counts":{"TOTAL":0}}}"#;
        assert!(parse_event(ev, "e").is_ok());
        // Unrecognised: the parse error as before.
        assert!(f(r#"{"x":1}"#).message.contains("expected an object with"));
    }

    #[test]
    fn the_number_of_findings_is_capped() {
        let many = format!("[{}]", vec!["{}"; MAX_FINDINGS + 1].join(","));
        let e = parse_findings(&many, "f.json").unwrap_err();
        assert!(e.message.contains("over the limit"), "{}", e.message);
        let doc = format!(
            "{{\"findings\": [{}]}}",
            vec!["{}"; MAX_FINDINGS + 1].join(",")
        );
        assert!(parse_findings(&doc, "f.json")
            .unwrap_err()
            .message
            .contains("over the limit"));
    }
}
