//! Amazon ECR: resolve a reference to the per-platform manifest digests Inspector scans, check
//! that enhanced scanning covers the repository, read ECR's scan status, and fetch push
//! credentials.

use super::{classify, CallError, Clients};
use crate::error::{Error, Result};
use crate::image_ref::{ImageRef, Target};
use crate::model::ScannedImage;
use crate::retry::{self, Schedule};
use aws_sdk_ecr::types::{ImageIdentifier, ScanFrequency, ScanType};
use base64::Engine;
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// How long "image not found" is retried: a tag pushed a moment ago may not be visible yet.
pub const NOT_FOUND_GRACE: Duration = Duration::from_secs(15);

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// A child of an index that Inspector scans: (digest, "os/arch[/variant]").
/// Attestation manifests (buildkit provenance/SBOM) and non-image entries are skipped.
pub fn index_children(manifest_json: &str) -> Result<Option<Vec<(String, String)>>> {
    let m: Manifest = serde_json::from_str(manifest_json)
        .map_err(|e| Error::runtime(format!("registry returned an unreadable manifest: {e}")))?;
    let is_index = m.manifests.is_some()
        || matches!(m.media_type.as_deref(), Some(OCI_INDEX) | Some(DOCKER_LIST));
    if !is_index {
        return Ok(None);
    }
    let mut out = Vec::new();
    for d in m.manifests.unwrap_or_default() {
        let attestation = d
            .annotations
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            == Some("attestation-manifest");
        let unknown = d
            .platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown");
        let image = d.media_type.is_empty()
            || d.media_type == OCI_MANIFEST
            || d.media_type == DOCKER_MANIFEST;
        if attestation || unknown || !image {
            continue;
        }
        let platform = match &d.platform {
            Some(p) => match &p.variant {
                Some(v) if !v.is_empty() => format!("{}/{}/{v}", p.os, p.architecture),
                _ => format!("{}/{}", p.os, p.architecture),
            },
            None => "unknown".into(),
        };
        out.push((d.digest, platform));
    }
    Ok(Some(out))
}

/// Resolve `r` to the image manifests Inspector scans (one per platform).
pub async fn resolve(c: &Clients, r: &ImageRef, deadline: Instant) -> Result<Vec<ScannedImage>> {
    let id = match &r.target {
        Target::Tag(t) => ImageIdentifier::builder().image_tag(t).build(),
        Target::Digest(d) => ImageIdentifier::builder().image_digest(d).build(),
    };
    let grace = (Instant::now() + NOT_FOUND_GRACE).min(deadline);
    let call = || async {
        let mut req = c
            .ecr
            .batch_get_image()
            .repository_name(&r.repository)
            .image_ids(id.clone())
            .accepted_media_types(OCI_MANIFEST)
            .accepted_media_types(OCI_INDEX)
            .accepted_media_types(DOCKER_MANIFEST)
            .accepted_media_types(DOCKER_LIST);
        if let Some(reg) = &r.registry {
            req = req.registry_id(reg);
        }
        let out = req.send().await.map_err(|e| classify(e, |_| None))?;
        if let Some(img) = out.images().first() {
            return Ok(img.clone());
        }
        let code = out
            .failures()
            .first()
            .and_then(|f| f.failure_code().map(|c| c.as_str().to_string()))
            .unwrap_or_else(|| "ImageNotFound".into());
        // Not-found just after a push is retried briefly; the grace deadline ends it.
        Err(CallError {
            class: super::Class::Transient(None),
            code,
            message: "not found".into(),
        })
    };
    let img = retry::call(Schedule { min: Duration::from_millis(500), max: Duration::from_secs(4), factor: 2.0 }, grace, call)
        .await
        .map_err(|e| match e.code.as_str() {
            "ImageNotFound" | "ImageTagDoesNotMatchDigest" => Error::runtime(format!(
                "image {r} not found in ECR (check the tag or digest; list them with `aws ecr list-images --repository-name {}`)",
                r.repository
            )),
            "RepositoryNotFoundException" => Error::runtime(format!(
                "repository {} does not exist in this registry/region (region {}; create it or fix --image/--region)",
                r.repository, c.region
            )),
            _ => e.into_error("ecr:BatchGetImage"),
        })?;
    let registry = img.registry_id().unwrap_or_default().to_string();
    let manifest = img.image_manifest().unwrap_or_default();
    let digest = img
        .image_id()
        .and_then(|i| i.image_digest())
        .map(str::to_string)
        .ok_or_else(|| Error::runtime(format!("ECR returned no digest for {r}")))?;
    let region = r.region.clone().unwrap_or_else(|| c.region.clone());
    let base = ScannedImage {
        registry,
        region,
        repository: r.repository.clone(),
        digest: digest.clone(),
        platform: None,
        requested: r.to_string(),
        index_digest: None,
    };
    match index_children(manifest)? {
        None => Ok(vec![base]),
        Some(children) if children.is_empty() => Err(Error::inconclusive(format!(
            "{r} is an index with no platform image manifests (only attestations or unknown platforms): nothing for Inspector to scan"
        ))),
        Some(children) => Ok(children
            .into_iter()
            .map(|(d, p)| ScannedImage {
                digest: d,
                platform: Some(p),
                index_digest: Some(digest.clone()),
                ..base.clone()
            })
            .collect()),
    }
}

/// Whether enhanced scanning will ever scan `repository`. `Ok(Some(frequency))` when covered;
/// an inconclusive error when it will not be; `Ok(None)` when we could not tell (no permission).
pub async fn check_coverage(
    c: &Clients,
    repository: &str,
    deadline: Instant,
) -> Result<Option<String>> {
    let conf = retry::call(Schedule::CALL, deadline, || async {
        c.ecr
            .get_registry_scanning_configuration()
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await;
    let conf = match conf {
        Ok(c) => c,
        Err(e) if e.class == super::Class::AccessDenied => return Ok(None),
        Err(e) => return Err(e.into_error("ecr:GetRegistryScanningConfiguration")),
    };
    let scan_type = conf
        .scanning_configuration()
        .and_then(|s| s.scan_type())
        .cloned();
    if scan_type == Some(ScanType::Basic) || scan_type.is_none() {
        return Err(Error::inconclusive(format!(
            "registry {} uses BASIC scanning, so Amazon Inspector never scans {repository}: enable enhanced scanning (`aws inspector2 enable --resource-types ECR`) and add a rule for the repository",
            conf.registry_id().unwrap_or("?")
        )));
    }
    let repo_conf = retry::call(Schedule::CALL, deadline, || async {
        c.ecr
            .batch_get_repository_scanning_configuration()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await;
    let repo_conf = match repo_conf {
        Ok(r) => r,
        Err(e) if e.class == super::Class::AccessDenied => return Ok(None),
        Err(e) => return Err(e.into_error("ecr:BatchGetRepositoryScanningConfiguration")),
    };
    let Some(rc) = repo_conf.scanning_configurations().first() else {
        return Ok(None);
    };
    let freq = rc.scan_frequency().cloned();
    if rc.applied_scan_filters().is_empty() || freq == Some(ScanFrequency::Manual) || freq.is_none()
    {
        return Err(Error::inconclusive(format!(
            "repository {repository} matches no enhanced scanning rule, so Inspector will never scan it; add one (keeping your existing rules) with `aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules '[{{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":[{{\"filter\":\"{repository}\",\"filterType\":\"WILDCARD\"}}]}}]'`"
        )));
    }
    Ok(freq.map(|f| f.as_str().to_string()))
}

/// ECR's own view of the scan (`DescribeImageScanFindings`), used when Inspector coverage
/// cannot be read. `Ok(None)` means no scan yet (`ScanNotFoundException` is normal early on).
pub async fn scan_status(
    c: &Clients,
    img: &ScannedImage,
) -> std::result::Result<Option<String>, CallError> {
    let r = c
        .ecr
        .describe_image_scan_findings()
        .registry_id(&img.registry)
        .repository_name(&img.repository)
        .image_id(ImageIdentifier::builder().image_digest(&img.digest).build())
        .max_results(1)
        .send()
        .await;
    match r {
        Ok(out) => Ok(out
            .image_scan_status()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string())),
        Err(e) => {
            let e = classify(e, |_| None);
            if e.code == "ScanNotFoundException" {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Registry credentials from `GetAuthorizationToken`: (username, password, proxy endpoint).
/// The password is only ever handed to the registry client, never printed.
pub async fn registry_auth(
    c: &Clients,
    registry: Option<&str>,
    deadline: Instant,
) -> Result<(String, String, String)> {
    let out = retry::call(Schedule::CALL, deadline, || async {
        let mut req = c.ecr.get_authorization_token();
        if let Some(r) = registry {
            #[allow(deprecated)]
            {
                req = req.registry_ids(r);
            }
        }
        req.send().await.map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| e.into_error("ecr:GetAuthorizationToken"))?;
    let data = out.authorization_data().first().ok_or_else(|| {
        Error::runtime("ecr:GetAuthorizationToken returned no authorization data")
    })?;
    let token = data.authorization_token().unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            Error::runtime(
                "ecr:GetAuthorizationToken returned a token that is not base64 user:password",
            )
        })?;
    let (user, pass) = decoded.split_once(':').ok_or_else(|| {
        Error::runtime("ecr:GetAuthorizationToken returned a token without a user name")
    })?;
    let endpoint = data.proxy_endpoint().unwrap_or_default().to_string();
    Ok((user.to_string(), pass.to_string(), endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_children_skip_attestations_and_unknown_platforms() {
        let idx = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"amd64"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:c","size":1,"platform":{"os":"unknown","architecture":"unknown"},
           "annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:a"}}]}"#;
        let c = index_children(idx).unwrap().unwrap();
        assert_eq!(
            c,
            vec![
                ("sha256:a".into(), "linux/amd64".into()),
                ("sha256:b".into(), "linux/arm64/v8".into())
            ]
        );
        let single = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        assert_eq!(index_children(single).unwrap(), None);
        assert!(index_children("{not json").is_err());
    }
}
