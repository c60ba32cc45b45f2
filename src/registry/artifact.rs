//! The signed decision stored next to the image it is about, as cosign stores attestations:
//! an OCI image manifest tagged `sha256-<hex>.att` in the image's repository whose layers are
//! DSSE envelopes (`application/vnd.dsse.envelope.v1+json`, annotated with cosign's empty
//! `dev.cosignproject.cosign/signature` and the `predicateType`), over a config listing the
//! layers as its `diff_ids` (what cosign's go-containerregistry image writes). A new decision
//! is appended to the envelopes already there, as `cosign attest` does. Where the registry
//! serves the OCI 1.1 referrers API (`GET /v2/<repo>/referrers/<digest>`; ECR does), the
//! envelope is also pushed as a referrer of the digest: a manifest with `subject` and
//! `artifactType: application/vnd.in-toto+json` over the OCI empty config.
//!
//! Reading back collects every envelope of both places, deduplicated; which of them count is
//! `crate::attest::check`'s business.

use super::client::{Client, RegError};
use super::PushTarget;
use crate::error::{Error, Result};
use crate::image::Digest;
use crate::oci::{EMPTY_JSON_DIGEST, OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST};
use crate::retry::{self, Schedule};
use serde::Deserialize;
use serde_json::{json, Value};

/// The media type of a DSSE envelope layer (cosign's `DssePayloadType`).
pub const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// The `artifactType` of our OCI 1.1 referrer.
pub const ARTIFACT_TYPE: &str = "application/vnd.in-toto+json";
/// cosign's signature annotation (empty for an attestation: the signature is in the envelope).
pub const COSIGN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Manifests and envelopes larger than this are refused (a decision is a few KiB).
const MAX_DOC: usize = 4 * 1024 * 1024;

/// cosign's tag for the attestations of `digest` (`sha256:<hex>` → `sha256-<hex>.att`).
pub fn att_tag(digest: &str) -> String {
    format!("{}.att", digest.replacen(':', "-", 1))
}

/// Where a decision was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The `sha256-<hex>.att` tag.
    pub tag: String,
    /// The digest of the manifest under that tag.
    pub manifest_digest: String,
    /// The digest of the OCI 1.1 referrer, when the registry serves the referrers API.
    pub referrer: Option<String>,
}

/// The envelopes stored for a digest, and whether the registry serves the referrers API.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub envelopes: Vec<Vec<u8>>,
    pub referrers_api: bool,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize, Clone)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    digest: String,
    #[serde(rename = "artifactType", default)]
    artifact_type: String,
}

/// Run a registry operation, retrying transient failures until the target's deadline.
async fn retrying<T, F, Fut>(c: &Client, op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, RegError>>,
{
    retry::call(Schedule::CALL, c.deadline(), op)
        .await
        .map_err(|e| e.error)
}

/// Upload `bytes` as a blob unless the registry has it; returns its digest.
async fn put_blob(c: &Client, bytes: &[u8]) -> Result<Digest> {
    let digest = Digest::of(bytes);
    retrying(c, || async {
        if c.blob_exists(&digest).await? {
            return Ok(());
        }
        let at = c.start_upload(&digest).await?;
        c.finish_upload(at, &digest, bytes.len() as u64, bytes.to_vec().into())
            .await
    })
    .await?;
    Ok(digest)
}

async fn put_manifest(c: &Client, reference: &str, doc: &Value) -> Result<Digest> {
    let bytes = serde_json::to_vec(doc).map_err(|e| Error::runtime(e.to_string()))?;
    let digest = Digest::of(&bytes);
    retrying(c, || {
        c.put_manifest(reference, OCI_MANIFEST, &bytes, &digest)
    })
    .await?;
    Ok(digest)
}

fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest.as_str(), "size": size})
}

/// Store `envelope` (a DSSE envelope of `predicate_type`) for `subject` (`sha256:<hex>`) in
/// `target`'s repository: under cosign's `.att` tag (appended to what is there), and as an
/// OCI 1.1 referrer where the registry serves the referrers API.
pub async fn store(
    target: &PushTarget,
    subject: &str,
    envelope: &[u8],
    predicate_type: &str,
) -> Result<Stored> {
    let c = Client::new(target)?;
    let tag = att_tag(subject);
    let layer_digest = put_blob(&c, envelope).await?;
    let annotations = json!({COSIGN_SIGNATURE: "", "predicateType": predicate_type});
    let mut layer = descriptor(DSSE_LAYER, &layer_digest, envelope.len());
    layer["annotations"] = annotations.clone();
    // What the tag holds already (earlier decisions, other attestations) stays.
    let existing = retrying(&c, || c.get_manifest(&tag, MAX_DOC)).await?;
    let mut layers: Vec<Value> = match existing {
        Some((_, bytes)) => serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|m| m.get("layers").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.get("digest").and_then(Value::as_str) != Some(layer_digest.as_str()))
            .collect(),
        None => Vec::new(),
    };
    layers.push(layer.clone());
    let diff_ids: Vec<Value> = layers
        .iter()
        .filter_map(|l| l.get("digest").cloned())
        .collect();
    let config = json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": diff_ids.iter().map(|_| json!({"created": "0001-01-01T00:00:00Z"})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    });
    let config_bytes = serde_json::to_vec(&config).map_err(|e| Error::runtime(e.to_string()))?;
    let config_digest = put_blob(&c, &config_bytes).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config_digest, config_bytes.len()),
        "layers": layers,
    });
    let manifest_digest = put_manifest(&c, &tag, &manifest).await?;
    let referrer = if retrying(&c, || c.referrers(subject, MAX_DOC))
        .await?
        .is_some()
    {
        Some(store_referrer(&c, subject, layer, annotations).await?)
    } else {
        None
    };
    Ok(Stored {
        tag,
        manifest_digest: manifest_digest.as_str().to_string(),
        referrer,
    })
}

/// The envelope as an OCI 1.1 referrer of `subject`, pushed by digest.
async fn store_referrer(
    c: &Client,
    subject: &str,
    layer: Value,
    annotations: Value,
) -> Result<String> {
    let missing = || {
        Error::runtime(format!(
            "{subject} is not in the repository on registry {}: cannot attach a referrer to it",
            c.host()
        ))
    };
    let (mut media_type, mut size) = retrying(c, || c.head_manifest(subject))
        .await?
        .ok_or_else(missing)?;
    // A HEAD answer without its length (some proxies): the manifest itself says.
    if size == 0 || media_type.is_empty() {
        let (t, bytes) = retrying(c, || c.get_manifest(subject, MAX_DOC))
            .await?
            .ok_or_else(missing)?;
        (media_type, size) = (t, bytes.len() as u64);
    }
    let empty = put_blob(c, b"{}").await?;
    debug_assert_eq!(empty.as_str(), EMPTY_JSON_DIGEST);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": descriptor(OCI_EMPTY, &empty, 2),
        "layers": [layer],
        "subject": {"mediaType": media_type, "digest": subject, "size": size},
        "annotations": annotations,
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::runtime(e.to_string()))?;
    let digest = Digest::of(&bytes);
    put_manifest(c, digest.as_str(), &manifest).await?;
    Ok(digest.as_str().to_string())
}

/// The DSSE layers of a manifest's bytes.
fn dsse_layers(bytes: &[u8]) -> Vec<Layer> {
    serde_json::from_slice::<Manifest>(bytes)
        .map(|m| m.layers)
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.media_type == DSSE_LAYER && l.size as usize <= MAX_DOC)
        .collect()
}

/// Every DSSE envelope stored for `subject` in `target`'s repository: the `.att` tag's
/// layers and, where the registry serves the referrers API, its in-toto referrers' layers.
pub async fn fetch(target: &PushTarget, subject: &str) -> Result<Fetched> {
    let c = Client::new(target)?;
    let mut layers: Vec<Layer> = Vec::new();
    let tag = att_tag(subject);
    if let Some((_, bytes)) = retrying(&c, || c.get_manifest(&tag, MAX_DOC)).await? {
        layers.extend(dsse_layers(&bytes));
    }
    let referrers = retrying(&c, || c.referrers(subject, MAX_DOC)).await?;
    let referrers_api = referrers.is_some();
    if let Some(index) = referrers {
        let index: Index = serde_json::from_slice(&index).map_err(|e| {
            Error::runtime(format!(
                "the referrers of {subject} are not an {OCI_INDEX}: {e}"
            ))
        })?;
        for m in index
            .manifests
            .iter()
            .filter(|m| m.artifact_type == ARTIFACT_TYPE)
        {
            if !crate::oci::is_valid_digest(&m.digest) {
                continue;
            }
            if let Some((_, bytes)) = retrying(&c, || c.get_manifest(&m.digest, MAX_DOC)).await? {
                layers.extend(dsse_layers(&bytes));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut envelopes = Vec::new();
    for l in layers {
        if !seen.insert(l.digest.clone()) {
            continue;
        }
        let digest = Digest::parse(&l.digest, "an attestation manifest")?;
        envelopes.push(retrying(&c, || c.get_blob(&digest, MAX_DOC)).await?);
    }
    Ok(Fetched {
        envelopes,
        referrers_api,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_att_tag_is_cosigns() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(att_tag(&d), format!("sha256-{}.att", "ab".repeat(32)));
        assert!(crate::image_ref::valid_tag(&att_tag(&d)));
    }

    #[test]
    fn only_dsse_layers_are_read() {
        let m = format!(
            r#"{{"layers":[{{"mediaType":"{DSSE_LAYER}","digest":"sha256:{a}","size":10}},{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:{a}","size":10}}]}}"#,
            a = "0".repeat(64)
        );
        assert_eq!(dsse_layers(m.as_bytes()).len(), 1);
        assert!(dsse_layers(b"not json").is_empty());
    }
}
