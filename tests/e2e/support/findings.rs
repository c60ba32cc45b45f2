//! The test data every scripted world is built from, written once: the clock (`now`, taken
//! once per world and passed on), Inspector2 findings in the wire format (`finding`,
//! `finding_in`, `with_status`) and the script of a finished scan (`scanned_at`, `scanned`).

use super::scenario::{Cov, DigestScript, Read};
use serde_json::{json, Value};

/// Seconds since the epoch: a test world takes it once and derives every timestamp from it.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The coverage row of a scan that finished (ACTIVE / SUCCESSFUL) at `at`.
pub fn scanned_at(at: i64) -> Cov {
    Cov::Row {
        code: "ACTIVE",
        reason: "SUCCESSFUL",
        last_scanned_at: Some(at),
    }
}

/// The script of an image whose scan finished at `at` with `findings`.
pub fn scanned(at: i64, findings: Vec<Value>) -> DigestScript {
    DigestScript {
        coverage: [scanned_at(at)].into(),
        reads: [Read::Findings(findings)].into(),
    }
}

/// The ARN partition of a region, as AWS names it.
///
/// Written out here, not taken from the binary's table, so that the two check each other.
pub fn partition(region: &str) -> &'static str {
    [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("eusc-", "aws-eusc"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
    ]
    .iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map_or("aws", |(_, p)| p)
}

/// A finding in Inspector2's wire format for `digest` in `repo` (us-east-1).
pub fn finding(
    id: &str,
    severity: &str,
    pkg: &str,
    version: &str,
    fixed: Option<&str>,
    digest: &str,
    repo: &str,
) -> Value {
    finding_in("us-east-1", id, severity, pkg, version, fixed, digest, repo)
}

/// [`finding`] in `region`: its ARNs name the region's partition.
#[allow(clippy::too_many_arguments)]
pub fn finding_in(
    region: &str,
    id: &str,
    severity: &str,
    pkg: &str,
    version: &str,
    fixed: Option<&str>,
    digest: &str,
    repo: &str,
) -> Value {
    let p = partition(region);
    let mut vp = json!({ "name": pkg, "version": version, "packageManager": "OS" });
    if let Some(f) = fixed {
        vp["fixedInVersion"] = json!(f);
    }
    json!({
        "awsAccountId": "123456789012",
        "findingArn": format!("arn:{p}:inspector2:{region}:123456789012:finding/{id}-{pkg}-{}", &digest[7..19]),
        "description": format!("{id} in {pkg}"),
        "title": format!("{id} - {pkg}"),
        "severity": severity,
        "status": "ACTIVE",
        "type": "PACKAGE_VULNERABILITY",
        "firstObservedAt": 1_700_000_000.0,
        "lastObservedAt": 1_700_000_100.0,
        "fixAvailable": if fixed.is_some() { "YES" } else { "NO" },
        "exploitAvailable": "NO",
        "inspectorScore": match severity { "CRITICAL" => 9.8, "HIGH" => 7.5, "MEDIUM" => 5.0, _ => 2.0 },
        "epss": { "score": 0.02 },
        "remediation": { "recommendation": { "text": format!("upgrade {pkg}") } },
        "packageVulnerabilityDetails": {
            "vulnerabilityId": id,
            "source": "NVD",
            "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{id}"),
            "vulnerablePackages": [vp]
        },
        "resources": [{
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "id": format!("arn:{p}:ecr:{region}:123456789012:repository/{repo}/{digest}"),
            "details": { "awsEcrContainerImage": {
                "imageHash": digest, "repositoryName": repo, "registry": "123456789012",
                "architecture": "amd64", "platform": "DEBIAN_12"
            } }
        }]
    })
}

/// `v` (a [`finding`]) with Inspector's status `status` (ACTIVE, SUPPRESSED or CLOSED).
pub fn with_status(mut v: Value, status: &str) -> Value {
    v["status"] = json!(status);
    v
}
