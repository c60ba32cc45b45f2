//! Parsing and validating image references as the user writes them:
//! `[<registry host>/]<repo>(:<tag>|@sha256:<hex>)`, the host being any ECR registry host
//! `crate::partition` accepts (every partition, FIPS, dual-stack).

use crate::error::{Error, Result};
use std::fmt;

/// What the reference points at: a tag (resolved through ECR) or an exact digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tag(String),
    Digest(String),
}

/// A validated ECR image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// 12-digit registry (account) id, when the reference names the registry host.
    pub registry: Option<String>,
    /// Region from the registry host, when given.
    pub region: Option<String>,
    /// The registry host as written, when given (kept for every pinned reference).
    pub host: Option<String>,
    pub repository: String,
    pub target: Target,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, &self.registry, &self.region) {
            (Some(host), _, _) => write!(f, "{host}/")?,
            (None, Some(acct), Some(region)) => {
                write!(f, "{}/", crate::partition::registry_host(acct, region))?
            }
            _ => {}
        }
        match &self.target {
            Target::Tag(t) => write!(f, "{}:{t}", self.repository),
            Target::Digest(d) => write!(f, "{}@{d}", self.repository),
        }
    }
}

/// The region the gate must talk to for `refs`: the one their ECR hosts name (ECR, Inspector
/// and the registry all live in the image's region). `--region` may repeat it; a different
/// one is a usage error, never a silent look-up in the wrong region. `Ok(None)`: no host
/// names a region, so the SDK's default (AWS_REGION, profile) applies.
pub fn region_for(refs: &[&ImageRef], flag: Option<&str>) -> Result<Option<String>> {
    let mut named: Option<&str> = None;
    for r in refs {
        if let Some(region) = r.region.as_deref() {
            match named {
                Some(n) if n != region => {
                    return Err(Error::usage(format!(
                        "the images name two regions ({n} and {region}): gate each region in its own run"
                    )))
                }
                _ => named = Some(region),
            }
        }
    }
    match (named, flag) {
        (Some(n), Some(f)) if n != f => Err(Error::usage(format!(
            "--region {f} conflicts with the image's registry host in {n}: drop --region (the host decides) or fix the image reference"
        ))),
        (Some(n), _) => Ok(Some(n.to_string())),
        (None, f) => Ok(f.map(str::to_string)),
    }
}

/// `sha256:` followed by exactly 64 lowercase hex digits: the crate's one digest rule.
pub use crate::oci::is_valid_digest;

/// ECR's repository name rule (the API's pattern): 2-256 characters, lowercase components
/// separated by '/', each `[a-z0-9]+([._-][a-z0-9]+)*` — one separator between alphanumerics.
/// The one rule for every repository name the gate reads or pushes to.
pub fn valid_repository(r: &str) -> bool {
    if r.len() < 2 || r.len() > 256 {
        return false;
    }
    let sep = |b: u8| b"._-".contains(&b);
    r.split('/').all(|c| {
        let b = c.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|&x| x.is_ascii_lowercase() || x.is_ascii_digit() || sep(x))
            && !sep(b[0])
            && !sep(b[b.len() - 1])
            && !b.windows(2).any(|w| sep(w[0]) && sep(w[1]))
    })
}

/// The distribution spec's tag rule: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl std::str::FromStr for ImageRef {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let s = input.trim();
        let bad = |why: &str| Error::usage(format!("bad image reference '{input}': {why}"));
        if s.is_empty() {
            return Err(bad(
                "empty (expected <repo>:<tag> or <repo>@sha256:<digest>)",
            ));
        }
        if s.contains("://") {
            return Err(bad(
                "drop the scheme: write <acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>",
            ));
        }
        // A registry host is a first component that contains a '.' or ':' (docker's rule).
        let (host, path) = match s.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first), rest)
            }
            _ => (None, s),
        };
        let (registry, region, host) = match host {
            Some(h) => match crate::partition::parse_registry_host(h) {
                Some(p) => (Some(p.account), Some(p.region), Some(p.host)),
                None => {
                    return Err(bad(&format!(
                        "'{h}' is not an ECR registry host (expected <12-digit-account>.dkr.ecr.<region>.<partition's DNS suffix>, e.g. amazonaws.com, amazonaws.com.cn, amazonaws.eu; or dkr.ecr-fips / the dual-stack <account>.dkr-ecr.<region>.on.aws); for another registry endpoint use --registry-url"
                    )))
                }
            },
            None => (None, None, None),
        };
        let (name, target) = if let Some((name, digest)) = path.split_once('@') {
            // `repo:tag@sha256:…` pins the digest; the tag is only informative.
            let name = name.split_once(':').map(|(n, _)| n).unwrap_or(name);
            if !is_valid_digest(digest) {
                return Err(bad(
                    "digest must be sha256: followed by 64 lowercase hex digits",
                ));
            }
            (name, Target::Digest(digest.to_string()))
        } else if let Some((name, tag)) = path.rsplit_once(':') {
            if !valid_tag(tag) {
                return Err(bad(&format!(
                    "invalid tag '{tag}' (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')"
                )));
            }
            (name, Target::Tag(tag.to_string()))
        } else {
            return Err(bad(
                "missing tag or digest: add :<tag> or @sha256:<digest> (no implicit :latest)",
            ));
        };
        if name.is_empty() {
            return Err(bad("missing repository name"));
        }
        if !valid_repository(name) {
            let hint = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                " (repository names are lowercase)"
            } else {
                ""
            };
            return Err(bad(&format!("invalid repository name '{name}'{hint}")));
        }
        Ok(ImageRef {
            registry,
            region,
            host,
            repository: name.to_string(),
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_the_accepted_forms() {
        let r: ImageRef = "app/web:1.2".parse().unwrap();
        assert_eq!(
            (r.repository.as_str(), r.target),
            ("app/web", Target::Tag("1.2".into()))
        );
        let r: ImageRef = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@{D}")
            .parse()
            .unwrap();
        assert_eq!(r.registry.as_deref(), Some("123456789012"));
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.target, Target::Digest(D.into()));
        let r: ImageRef = format!("app:v1@{D}").parse().unwrap();
        assert_eq!(r.target, Target::Digest(D.into()));
        assert_eq!(r.to_string(), format!("app@{D}"));
        let cn = format!("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app@{D}");
        let r: ImageRef = cn.parse().unwrap();
        assert_eq!(r.region.as_deref(), Some("cn-north-1"));
        assert_eq!(r.to_string(), cn);
        assert!("123456789012.dkr.ecr.eu-west-1.amazonaws.com.cn/app:1"
            .parse::<ImageRef>()
            .is_err());
    }

    #[test]
    fn every_partitions_hosts_and_the_fips_and_dual_stack_forms_are_kept() {
        for host in [
            "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
            "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            "123456789012.dkr-ecr.eu-west-1.on.aws",
        ] {
            let s = format!("{host}/app@{D}");
            let r: ImageRef = s.parse().unwrap();
            assert_eq!(r.host.as_deref(), Some(host));
            assert_eq!(r.to_string(), s);
        }
    }

    #[test]
    fn the_registry_host_decides_the_region() {
        let eu: ImageRef = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"
            .parse()
            .unwrap();
        let us: ImageRef = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
            .parse()
            .unwrap();
        let bare: ImageRef = "app:1".parse().unwrap();
        assert_eq!(
            region_for(&[&eu], None).unwrap().as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_for(&[&eu], Some("eu-west-1")).unwrap().as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_for(&[&bare], Some("us-east-2")).unwrap().as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_for(&[&bare], None).unwrap(), None);
        let e = region_for(&[&eu], Some("us-east-1")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.message.contains("us-east-1") && e.message.contains("eu-west-1"),
            "{}",
            e.message
        );
        assert_eq!(region_for(&[&eu, &us], None).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn refuses_bad_references_with_a_reason() {
        for (input, why) in [
            ("", "empty"),
            ("app", "missing tag or digest"),
            ("App:1", "lowercase"),
            ("app@sha256:abc", "64 lowercase hex"),
            (
                &format!("app@{}", D.to_uppercase().replace("SHA256", "sha256")),
                "64 lowercase hex",
            ),
            ("app:-bad", "invalid tag"),
            ("docker.io/library/nginx:1", "not an ECR registry host"),
            (
                "12345.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "not an ECR registry host",
            ),
            ("https://x/app:1", "drop the scheme"),
            (":1", "missing repository"),
            ("a//b:1", "invalid repository"),
            ("a__b:1", "invalid repository"),
            ("a.-b:1", "invalid repository"),
            ("-a:1", "invalid repository"),
            ("a/:1", "invalid repository"),
        ] {
            let e = input.parse::<ImageRef>().unwrap_err();
            assert_eq!(e.exit_code(), 2, "{input}");
            assert!(e.message.contains(why), "{input}: {}", e.message);
        }
    }
}
