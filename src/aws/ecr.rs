//! Amazon ECR: resolve a reference to the per-platform manifest digests Inspector scans (by
//! the one rule in `oci`), check
//! that enhanced scanning covers the repository, read ECR's scan status, and fetch push
//! credentials.

use super::{classify, CallError, Clients};
use crate::error::{Error, Result};
use crate::image_ref::{ImageRef, Target};
use crate::model::ScannedImage;
use crate::oci::{self, AnyManifest, Child, Descriptor};
use crate::retry::{self, Schedule};
use aws_sdk_ecr::types::{
    Image, ImageFailure, ImageFailureCode, ImageIdentifier, ScanFrequency, ScanType,
};
use base64::Engine;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long "image not found" is retried: a tag pushed a moment ago may not be visible yet.
pub const NOT_FOUND_GRACE: Duration = Duration::from_secs(15);

/// The retry schedule of `BatchGetImage` failures that can heal: short at first (a tag just
/// pushed shows up within seconds), growing to 20 s (an upstream registry that rate-limits a
/// pull-through cache is not asked every few seconds until the deadline).
const HEAL: Schedule = Schedule {
    min: Duration::from_millis(500),
    max: Duration::from_secs(20),
    factor: 2.0,
};

/// Nested indexes followed at most this deep (an index of indexes of images is depth 2).
const MAX_INDEX_DEPTH: usize = 4;
/// `BatchGetImage` takes at most 100 image ids per call.
pub const BATCH_GET_MAX: usize = 100;

/// What `BatchGetImage` said about one asked-for image id: the image, or its failure.
pub type Share = std::result::Result<Image, ImageFailure>;

/// Resolve `r` to the image manifests Inspector scans: the manifest itself, or every child of
/// an index that `oci::classify` says is a runnable image (nested indexes followed).
pub async fn resolve(c: &Clients, r: &ImageRef, deadline: Instant) -> Result<Vec<ScannedImage>> {
    resolve_via(c, r, deadline, |id| async move {
        let out = batch_get(c, r, vec![id.clone()]).await?;
        // One id asked: whatever image or failure came back is its.
        Ok(match out.images().first() {
            Some(img) => Ok(img.clone()),
            None => Err(out
                .failures()
                .first()
                .cloned()
                .unwrap_or_else(|| not_found(&id))),
        })
    })
    .await
}

/// [`resolve`], reading `r`'s own manifest through `get` (one `BatchGetImage` share: the
/// gate's images of one repository share one call, `wait::Batches::manifest`).
pub async fn resolve_via<F, Fut>(
    c: &Clients,
    r: &ImageRef,
    deadline: Instant,
    get: F,
) -> Result<Vec<ScannedImage>>
where
    F: Fn(ImageIdentifier) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<Share, CallError>>,
{
    let id = match &r.target {
        Target::Tag(t) => ImageIdentifier::builder().image_tag(t).build(),
        Target::Digest(d) => ImageIdentifier::builder().image_digest(d).build(),
    };
    let grace = (Instant::now() + NOT_FOUND_GRACE).min(deadline);
    let call = || async {
        let f = match get(id.clone()).await.map_err(Got::Call)? {
            Ok(img) => return Ok(img),
            Err(f) => f,
        };
        let code = f
            .failure_code()
            .map(|c| c.as_str())
            .unwrap_or("ImageNotFound");
        let (heal, err) = image_failure(r, code, f.failure_reason().unwrap_or_default());
        // Not-found heals only within the grace after a push; upstream trouble until the deadline.
        let heals = match heal {
            Heal::Grace => Instant::now() < grace,
            Heal::Deadline => true,
            Heal::No => false,
        };
        Err(Got::Image { heals, err })
    };
    let img = retry::call(HEAL, deadline, call)
        .await
        .map_err(|e| match e {
            Got::Image { err, .. } => err,
            Got::Call(e) => match e.code.as_str() {
                "RepositoryNotFoundException" => Error::runtime(format!(
                    "repository {} does not exist in this registry/region (region {}; create it or fix --image/--region)",
                    r.repository, c.region
                )),
                "UnableToGetUpstreamImageException" => Error::runtime(format!(
                    "ECR's pull-through cache could not pull {r} from the upstream registry: {} (usually the rule's Secrets Manager secret with the upstream credentials; check it with `aws ecr validate-pull-through-cache-rule`)",
                    e.message
                )),
                _ => e.into_error("ecr:BatchGetImage"),
            },
        })?;
    let registry = img.registry_id().unwrap_or_default().to_string();
    let digest = img
        .image_id()
        .and_then(|i| i.image_digest())
        .map(str::to_string)
        .ok_or_else(|| Error::runtime(format!("ECR returned no digest for {r}")))?;
    let top = parse_manifest(img.image_manifest().unwrap_or_default(), &digest)?;
    let region = r.region.clone().unwrap_or_else(|| c.region.clone());
    let base = ScannedImage {
        registry,
        region,
        repository: r.repository.clone(),
        digest: digest.clone(),
        platform: None,
        requested: r.to_string(),
        index_digest: None,
        registry_host: None,
    }
    .with_host(r.host.as_deref());
    if !top.is_index(None) {
        return Ok(vec![base]);
    }
    let children = runnable_children(c, r, top, deadline).await?;
    if children.is_empty() {
        return Err(Error::inconclusive(format!(
            "{r} is an index with no runnable image (only attestations or artifacts): nothing for Inspector to scan"
        )));
    }
    Ok(children
        .into_iter()
        .map(|(d, p)| ScannedImage {
            digest: d,
            platform: Some(p.unwrap_or_else(|| UNSPECIFIED_PLATFORM.into())),
            index_digest: Some(digest.clone()),
            ..base.clone()
        })
        .collect())
}

/// The platform label of an index child that names no platform.
pub const UNSPECIFIED_PLATFORM: &str = "unspecified";

fn parse_manifest(text: &str, digest: &str) -> Result<AnyManifest> {
    serde_json::from_str(text).map_err(|e| {
        Error::runtime(format!(
            "registry returned an unreadable manifest for {digest}: {e}"
        ))
    })
}

async fn batch_get(
    c: &Clients,
    r: &ImageRef,
    ids: Vec<ImageIdentifier>,
) -> std::result::Result<aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput, CallError> {
    batch_get_in(c, r.registry.as_deref(), &r.repository, ids).await
}

/// One `BatchGetImage` of `ids` (at most [`BATCH_GET_MAX`]) in `repository` of `registry`
/// (the caller's own when `None`), every manifest type the gate reads accepted.
pub async fn batch_get_in(
    c: &Clients,
    registry: Option<&str>,
    repository: &str,
    ids: Vec<ImageIdentifier>,
) -> std::result::Result<aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput, CallError> {
    let mut req = c
        .ecr
        .batch_get_image()
        .repository_name(repository)
        .set_image_ids(Some(ids));
    for mt in oci::MANIFEST_TYPES {
        req = req.accepted_media_types(mt);
    }
    if let Some(reg) = registry {
        req = req.registry_id(reg);
    }
    req.send().await.map_err(|e| classify(e, |_| None))
}

/// `id`'s share of one `BatchGetImage` answer: the image whose id names the asked-for tag or
/// digest, else the failure about that id; neither is ECR's "not found" (as ECR answers an
/// id it has nothing about).
pub fn share_of(images: &[Image], failures: &[ImageFailure], id: &ImageIdentifier) -> Share {
    let same = |got: Option<&ImageIdentifier>| {
        got.is_some_and(|g| match (id.image_tag(), id.image_digest()) {
            (Some(t), _) => g.image_tag() == Some(t),
            (None, Some(d)) => g.image_digest() == Some(d),
            (None, None) => false,
        })
    };
    if let Some(img) = images.iter().find(|i| same(i.image_id())) {
        return Ok(img.clone());
    }
    Err(failures
        .iter()
        .find(|f| same(f.image_id()))
        .cloned()
        .unwrap_or_else(|| not_found(id)))
}

/// ECR's "not found" about `id`: what an answer that names neither it nor a failure means.
fn not_found(id: &ImageIdentifier) -> ImageFailure {
    ImageFailure::builder()
        .image_id(id.clone())
        .failure_code(ImageFailureCode::ImageNotFound)
        .build()
}

/// Whether a `BatchGetImage` failure can heal by asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heal {
    /// `ImageNotFound`: a tag pushed a moment ago may not be visible yet ([`NOT_FOUND_GRACE`]).
    Grace,
    /// The upstream registry of a pull-through cache is busy or down: until the deadline.
    Deadline,
    /// Asking again returns the same answer.
    No,
}

/// A failed `BatchGetImage`: the call itself, or ECR's answer for the image we asked about.
enum Got {
    Call(CallError),
    Image { heals: bool, err: Error },
}

impl retry::Retryable for Got {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        match self {
            Got::Call(e) => e.retry_hint(),
            Got::Image { heals: true, .. } => Some(None),
            Got::Image { .. } => None,
        }
    }
    fn summary(&self) -> Option<String> {
        match self {
            Got::Call(e) => e.summary(),
            Got::Image { err, .. } => Some(err.to_string()),
        }
    }
}

/// THE meaning of each `failureCode` `BatchGetImage` reports for an image it did not return
/// (botocore's `ImageFailureCode`): whether it heals, and the error (its own cause and fix,
/// and exit code) when it does not. `reason` is ECR's `failureReason`, quoted as given.
fn image_failure(r: &ImageRef, code: &str, reason: &str) -> (Heal, Error) {
    let why = if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code}: {}", crate::error::one_line(reason))
    };
    let repo = &r.repository;
    match code {
        "ImageNotFound" => (
            Heal::Grace,
            Error::runtime(format!(
                "image {r} not found in ECR ({why}; check the tag or digest; list them with `aws ecr list-images --repository-name {repo}`)"
            )),
        ),
        "ImageTagDoesNotMatchDigest" => (
            Heal::No,
            Error::runtime(format!(
                "ECR says the tag and the digest of {r} name different images ({why}): the tag moved; pin the digest alone"
            )),
        ),
        "InvalidImageDigest" => (
            Heal::No,
            Error::usage(format!(
                "ECR refuses the digest of {r} as invalid ({why}): a digest is sha256:<64 lowercase hex>"
            )),
        ),
        "InvalidImageTag" => (
            Heal::No,
            Error::usage(format!(
                "ECR refuses the tag of {r} as invalid ({why}): a tag is 1 to 300 characters"
            )),
        ),
        "MissingDigestAndTag" => (
            Heal::No,
            Error::usage(format!(
                "ECR was asked for {r} without a tag or digest ({why}): add :<tag> or @sha256:<digest>"
            )),
        ),
        "KmsError" => (
            Heal::No,
            Error::runtime(format!(
                "ECR cannot decrypt {r} with the KMS key of repository {repo} ({why}): the key is disabled, scheduled for deletion, or its key policy or grants no longer let ECR use it; re-enable the key or fix its policy"
            )),
        ),
        "ImageInaccessible" => (
            Heal::No,
            Error::runtime(format!(
                "{r} is in ECR's archive storage class (or still being restored) and cannot be read ({why}); Inspector does not scan archived images: restore it with `aws ecr update-image-storage-class --repository-name {repo} --image-id <id> --target-storage-class STANDARD` and run again once it is ACTIVE"
            )),
        ),
        "UpstreamAccessDenied" => (
            Heal::No,
            Error::runtime(format!(
                "the upstream registry of ECR's pull-through cache refused to serve {r} ({why}): fix the credentials in the cache rule's Secrets Manager secret (`aws ecr validate-pull-through-cache-rule`)"
            )),
        ),
        "UpstreamTooManyRequests" => (
            Heal::Deadline,
            Error::runtime(format!(
                "the upstream registry of ECR's pull-through cache still rate-limited pulling {r} at the deadline ({why}): authenticate the cache rule to the upstream registry or pull less often"
            )),
        ),
        "UpstreamUnavailable" => (
            Heal::Deadline,
            Error::runtime(format!(
                "the upstream registry of ECR's pull-through cache was still unavailable for {r} at the deadline ({why})"
            )),
        ),
        _ => (
            Heal::No,
            Error::runtime(format!("ecr:BatchGetImage did not return {r}: {why}")),
        ),
    }
}

/// The runnable images under `index`: each level's child manifests are fetched (by digest,
/// in batches) and classified by the one rule in `oci`. A child that is missing or cannot be
/// classified makes the run inconclusive; it is never skipped.
async fn runnable_children(
    c: &Clients,
    r: &ImageRef,
    index: AnyManifest,
    deadline: Instant,
) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    let mut level = vec![index];
    for _ in 0..MAX_INDEX_DEPTH {
        let descs: Vec<Descriptor> = level
            .drain(..)
            .flat_map(|i| i.manifests.unwrap_or_default())
            .filter(|d| oci::skip_by_descriptor(d).is_none())
            .collect();
        if descs.is_empty() {
            return Ok(out);
        }
        // THE digest syntax, as for every digest the gate reads: a child named otherwise
        // cannot be classified.
        if let Some(d) = descs.iter().find(|d| !oci::is_valid_digest(&d.digest)) {
            let shown: String = d.digest.chars().take(80).collect();
            return Err(Error::inconclusive(format!(
                "{r}: the index names a child by the invalid digest '{shown}' (only sha256:<64 lowercase hex>), so it cannot be classified"
            )));
        }
        let docs = fetch_manifests(c, r, &descs, deadline).await?;
        for d in &descs {
            let doc = docs.get(&d.digest).ok_or_else(|| {
                Error::inconclusive(format!(
                    "{r}: the index names {} but ECR does not hold it, so it cannot be classified",
                    d.digest
                ))
            })?;
            // The rule reads the config only where its media type proves nothing.
            let config = match oci::config_needed(d, doc) {
                Some(conf) => Some(fetch_config(c, r, d, conf, deadline).await?),
                None => None,
            };
            match oci::classify(d, doc, config.as_deref()) {
                Ok(Child::Image) => out.push((d.digest.clone(), d.platform_name())),
                Ok(Child::Index) => level.push(doc.clone()),
                Ok(Child::Skip(_)) => {}
                Err(why) => return Err(Error::inconclusive(format!("{r}: {why}"))),
            }
        }
    }
    if level.is_empty() {
        Ok(out)
    } else {
        Err(Error::inconclusive(format!(
            "{r} nests indexes more than {MAX_INDEX_DEPTH} deep"
        )))
    }
}

/// The largest config read to classify a child (what the image source accepts, too).
const MAX_CONFIG: u64 = 64 << 20;

/// The config blob of index child `child`, which the rule needs to read: ECR's download URL
/// for it (`GetDownloadUrlForLayer`), fetched and checked against its digest. Any failure is
/// inconclusive: the child cannot be classified, and is never skipped.
async fn fetch_config(
    c: &Clients,
    r: &ImageRef,
    child: &Descriptor,
    config: &Descriptor,
    deadline: Instant,
) -> Result<Vec<u8>> {
    let fail = |why: String| {
        Error::inconclusive(format!(
            "{r}: cannot read the config {} of child {} to tell whether it can run: {why}",
            config.digest, child.digest
        ))
    };
    if !oci::is_valid_digest(&config.digest) {
        return Err(fail("its digest is not sha256:<64 lowercase hex>".into()));
    }
    if config.size > MAX_CONFIG {
        return Err(fail(format!(
            "it is {} bytes, more than an image config may be",
            config.size
        )));
    }
    let out = retry::call(Schedule::CALL, deadline, || async {
        c.ecr
            .get_download_url_for_layer()
            .repository_name(&r.repository)
            .layer_digest(&config.digest)
            .set_registry_id(r.registry.clone())
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| fail(e.into_error("ecr:GetDownloadUrlForLayer").message))?;
    let url = out
        .download_url()
        .ok_or_else(|| fail("ecr:GetDownloadUrlForLayer returned no URL".into()))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut resp = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| fail(crate::error::one_line(&e.without_url().to_string())))?;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| fail(crate::error::one_line(&e.without_url().to_string())))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > config.size {
            return Err(fail(format!(
                "the download is longer than the {} bytes its descriptor says",
                config.size
            )));
        }
    }
    let got = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body))
    );
    if got != config.digest {
        return Err(fail("the download does not match its digest".into()));
    }
    Ok(body)
}

/// Child manifests by digest, in `BatchGetImage` calls of at most 100 ids.
async fn fetch_manifests(
    c: &Clients,
    r: &ImageRef,
    descs: &[Descriptor],
    deadline: Instant,
) -> Result<HashMap<String, AnyManifest>> {
    let mut docs = HashMap::new();
    for chunk in descs.chunks(BATCH_GET_MAX) {
        let ids: Vec<ImageIdentifier> = chunk
            .iter()
            .map(|d| ImageIdentifier::builder().image_digest(&d.digest).build())
            .collect();
        // A child ECR does not hold is named by the caller (never skipped); any other failure
        // is the child's own reason, retried only when it heals (upstream trouble).
        let out = retry::call(HEAL, deadline, || async {
            let out = batch_get(c, r, ids.clone()).await.map_err(Got::Call)?;
            for f in out.failures() {
                let code = f.failure_code().map(|c| c.as_str()).unwrap_or_default();
                if code == "ImageNotFound" {
                    continue;
                }
                let digest = f.image_id().and_then(|i| i.image_digest());
                let child = ImageRef {
                    target: Target::Digest(digest.unwrap_or("?").to_string()),
                    ..r.clone()
                };
                let (heal, err) =
                    image_failure(&child, code, f.failure_reason().unwrap_or_default());
                return Err(Got::Image {
                    heals: heal == Heal::Deadline,
                    err: err.context(format!("{r}: index child")),
                });
            }
            Ok(out)
        })
        .await
        .map_err(|e| match e {
            Got::Image { err, .. } => err,
            Got::Call(e) => e.into_error("ecr:BatchGetImage"),
        })?;
        for img in out.images() {
            let Some(d) = img.image_id().and_then(|i| i.image_digest()) else {
                continue;
            };
            docs.insert(
                d.to_string(),
                parse_manifest(img.image_manifest().unwrap_or_default(), d)?,
            );
        }
    }
    Ok(docs)
}

/// Whether enhanced scanning will ever scan `repository`. `Ok(Some(frequency))` when covered;
/// an inconclusive error when it will not be; `Ok(None)` when we could not tell (no permission).
///
/// The scanning configuration APIs take no registry id: they describe the caller's own
/// registry only. For another account's image (`registry` ≠ the caller's registry) they say
/// nothing, so the check is skipped (`Ok(None)`) and Inspector coverage decides.
pub async fn check_coverage(
    c: &Clients,
    repository: &str,
    registry: Option<&str>,
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
    if let (Some(image), Some(own)) = (registry.filter(|r| !r.is_empty()), conf.registry_id()) {
        if image != own {
            return Ok(None);
        }
    }
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
            #[expect(
                deprecated,
                reason = "registryIds is deprecated only because every registry gets the same token; naming the image's registry is still how a cross-account token is asked for"
            )]
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
