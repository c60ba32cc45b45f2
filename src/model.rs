//! The data model shared by every phase: severities, findings, and the identity of a
//! scanned image. These types are also our findings JSON (`inspector-gate findings`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Inspector severities, ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Untriaged,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
        Severity::Untriaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFORMATIONAL",
            Severity::Untriaged => "UNTRIAGED",
        }
    }

    /// Rank used by `--fail-on`: CRITICAL=0 ... INFORMATIONAL=4. UNTRIAGED has no rank
    /// in the ladder (it is gated only by its own threshold).
    pub fn rank(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown severity '{s}' (expected one of CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNTRIAGED)"
                )
            })
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One vulnerable package named by a finding.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub name: String,
    /// The version as Inspector gives it: for OS packages without the release and epoch
    /// (`2.36` of `2.36-9+deb12u3`); [`Package::installed`] is the whole version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// OS packages: the distribution's release of the version (`9+deb12u3`, `1.amzn2023.0.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// OS packages: the epoch, when not 0 (Inspector writes 0 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
}

/// A finding, reduced to what policy and reports need. Built from Inspector2
/// `ListFindings` output (SDK or CLI JSON) or read back from our own findings JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// CVE / GHSA / ... id (`packageVulnerabilityDetails.vulnerabilityId`), or the title
    /// when the finding has none.
    pub id: String,
    pub severity: Severity,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_arn: Option<String>,
    /// YES | NO | PARTIAL (absent = unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_available: Option<String>,
    /// YES | NO (absent = unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_available: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspector_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_score: Option<f64>,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// `sha256:...` of the image manifest the finding is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Inspector's status is SUPPRESSED: a suppression rule hides it in the console and from
    /// `findingStatus = ACTIVE`. It is still a vulnerability of the image, so it is read and
    /// listed always, and counted unless the policy says `suppressed = "honor"`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
}

impl Package {
    /// The whole installed version, `[epoch:]version[-release]` (`2.36-9+deb12u3`,
    /// `1:1.2.13.dfsg-1`), as the distribution writes it; `None` when Inspector gave none.
    pub fn installed(&self) -> Option<String> {
        let version = self.version.as_deref().filter(|v| !v.trim().is_empty())?;
        let mut out = String::new();
        if let Some(e) = self.epoch.filter(|e| *e > 0) {
            if !version.starts_with(&format!("{e}:")) {
                out.push_str(&format!("{e}:"));
            }
        }
        out.push_str(version);
        if let Some(r) = self.release.as_deref().filter(|r| !r.trim().is_empty()) {
            // Some sources already write the release into the version.
            if !version.ends_with(&format!("-{r}")) {
                out.push('-');
                out.push_str(r);
            }
        }
        Some(out)
    }

    /// The version that fixes it, when there is one: Inspector writes `NotAvailable` (or
    /// nothing) when no fix exists, and that must never read as a version to upgrade to.
    pub fn fixed_version(&self) -> Option<&str> {
        self.fixed_in_version
            .as_deref()
            .filter(|v| !v.trim().is_empty() && *v != "NotAvailable")
    }
}

impl Finding {
    /// True when Inspector says no fix exists (`fixAvailable = NO`).
    pub fn is_unfixed(&self) -> bool {
        self.fix_available.as_deref() == Some("NO")
    }

    /// "installed → fixed" for the first package, for tables.
    pub fn first_package(&self) -> Option<&Package> {
        self.packages.first()
    }
}

/// One platform manifest that Inspector scans: the unit the gate waits for and evaluates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScannedImage {
    /// 12-digit account of the registry.
    pub registry: String,
    pub region: String,
    pub repository: String,
    /// `sha256:<hex>` of the platform image manifest.
    pub digest: String,
    /// `os/arch[/variant]` when known (from the index), else None for single-arch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The reference the user gave (`repo:tag` or `repo@sha256:...`).
    pub requested: String,
    /// Digest of the index the user's reference resolved to, for multi-arch images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// The registry host as the user named it (a FIPS or dual-stack host), when it is not the
    /// IPv4 host `<acct>.dkr.ecr.<region>.<suffix>`: every pinned reference keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_host: Option<String>,
}

impl ScannedImage {
    /// `<registry host>/<repo>`: the host the user named, else
    /// `<acct>.dkr.ecr.<region>.<dns suffix of the region's partition>`.
    pub fn repository_uri(&self) -> String {
        // A local scan (`scan --from`) has no registry: its "repository" is the source it read.
        if self.registry.is_empty() {
            return self.repository.clone();
        }
        match &self.registry_host {
            Some(h) => format!("{h}/{}", self.repository),
            None => format!(
                "{}/{}",
                crate::partition::registry_host(&self.registry, &self.region),
                self.repository
            ),
        }
    }

    /// Keep `host` (the registry host the user named) when it is not the IPv4 form the
    /// account and region build anyway.
    pub fn with_host(mut self, host: Option<&str>) -> Self {
        self.registry_host = host
            .filter(|h| *h != crate::partition::registry_host(&self.registry, &self.region))
            .map(str::to_string);
        self
    }

    /// `arn:<partition>:ecr:<region>:<acct>:repository/<repo>/sha256:…`: Inspector's coverage
    /// resource id of this image manifest.
    pub fn resource_id(&self) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{}/{}",
            crate::partition::of_region(&self.region).name,
            self.region,
            self.registry,
            self.repository,
            self.digest
        )
    }

    /// `<repository-uri>@sha256:…`: the reference every hand-off and output pins, so a deploy
    /// gets exactly the image that was scanned, never whatever a tag points at later. The
    /// index digest for multi-arch images (the runtime picks the platform). Without a
    /// registry account (a non-ECR registry) it is `<repo>@sha256:…`.
    pub fn pinned_uri(&self) -> String {
        format!("{}@{}", self.repository_uri(), self.deploy_digest())
    }

    /// The digest a deploy should pin: the index for multi-arch, else the manifest.
    pub fn deploy_digest(&self) -> &str {
        self.index_digest.as_deref().unwrap_or(&self.digest)
    }

    /// Human label used in progress lines and reports.
    pub fn label(&self) -> String {
        // A local scan's image is the source it read (its label names the platform when
        // there are several): it has no registry digest.
        if self.digest.is_empty() {
            return self.repository.clone();
        }
        match &self.platform {
            Some(p) => format!("{}@{} ({p})", self.repository, short(&self.digest)),
            None => format!("{}@{}", self.repository, short(&self.digest)),
        }
    }
}

/// `sha256:0123456789ab` — enough to tell digests apart in logs.
pub fn short(digest: &str) -> &str {
    let end = digest
        .find(':')
        .map(|i| i + 13)
        .unwrap_or(12)
        .min(digest.len());
    &digest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_parses_case_insensitively_and_orders_by_severity() {
        assert_eq!("high".parse::<Severity>().unwrap(), Severity::High);
        assert!("bogus".parse::<Severity>().is_err());
        assert!(Severity::Critical < Severity::Low);
    }

    #[test]
    fn installed_version_carries_epoch_and_release() {
        let p = |v: &str, r: Option<&str>, e: Option<u32>| Package {
            name: "x".into(),
            version: Some(v.into()),
            release: r.map(str::to_string),
            epoch: e,
            ..Default::default()
        };
        assert_eq!(
            p("2.36", Some("9+deb12u3"), None).installed().as_deref(),
            Some("2.36-9+deb12u3")
        );
        assert_eq!(
            p("1.2.13.dfsg", Some("1"), Some(1)).installed().as_deref(),
            Some("1:1.2.13.dfsg-1")
        );
        assert_eq!(
            p("4.17.20", None, Some(0)).installed().as_deref(),
            Some("4.17.20")
        );
        // Already whole: not doubled.
        assert_eq!(
            p("1:2.0-3", Some("3"), Some(1)).installed().as_deref(),
            Some("1:2.0-3")
        );
        assert_eq!(p("", None, None).installed(), None);
    }

    #[test]
    fn short_digest() {
        assert_eq!(short("sha256:0123456789abcdef"), "sha256:0123456789ab");
        assert_eq!(short("abc"), "abc");
    }
}

/// Something an image holds that a local scan did not see (`scan --from`): a file a
/// cataloguer wanted and did not read, a package database it could not parse, a layer the
/// source does not hold. `path` names it as the image has it (`/app/app.jar`, or the layer);
/// `reason` says why (size, format, error, budget). An image with any is incomplete: the run
/// is inconclusive unless the policy accepts it (`scan-unread = "warn"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unread {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}
