//! The image-format vocabulary the push needs: media types, the fields of manifests,
//! indexes and descriptors we read, and the Docker v2 schema 2 manifest we write for
//! `docker-archive:` sources.
//!
//! Manifests read from a source are never re-serialised: they are pushed as the exact bytes
//! found, because re-encoding the JSON would change the digest. These types only read them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The annotation OCI layouts use to name an image (`oci:<dir>:<ref>`).
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// BuildKit marks provenance/SBOM attestation manifests inside an index with this.
const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// Whether a media type names an index / manifest list (children) or an image manifest.
pub(crate) fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

pub(crate) fn is_image_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`, the form `docker --platform` takes.
    pub(crate) fn render(&self) -> String {
        match self.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}/{}/{}", self.os, self.architecture, v),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub urls: Vec<String>,
}

impl Descriptor {
    /// Attestation manifests ride along in an index but are not runnable platforms.
    pub(crate) fn is_attestation(&self) -> bool {
        self.annotations
            .get(DOCKER_REFERENCE_TYPE)
            .is_some_and(|v| v == "attestation-manifest")
            || self
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
    }

    pub(crate) fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }
}

/// The fields of any manifest-like document (image manifest, index, `index.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnyManifest {
    #[serde(default)]
    pub schema_version: Option<u32>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
}

impl AnyManifest {
    /// The media type to push the document under: its own `mediaType` field wins (registries
    /// check that Content-Type agrees with it), then the referring descriptor's, then the shape.
    pub(crate) fn effective_media_type(&self, from_descriptor: Option<&str>) -> Option<String> {
        if let Some(mt) = self.media_type.as_deref().filter(|m| !m.is_empty()) {
            return Some(mt.to_string());
        }
        if let Some(mt) = from_descriptor.filter(|m| !m.is_empty()) {
            return Some(mt.to_string());
        }
        if self.manifests.is_some() {
            Some(OCI_INDEX.to_string())
        } else if self.config.is_some() {
            Some(OCI_MANIFEST.to_string())
        } else {
            None
        }
    }
}

/// One entry of a `docker save` archive's `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DockerSaveEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

/// The part of an image config that ties layers to their uncompressed digests.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// A descriptor as written into a manifest we generate (field order is fixed: deterministic).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutDescriptor {
    pub media_type: &'static str,
    pub size: u64,
    pub digest: String,
}

/// Docker v2 schema 2 manifest, the form `docker push` gives a `docker save`d image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DockerManifest {
    pub schema_version: u32,
    pub media_type: &'static str,
    pub config: OutDescriptor,
    pub layers: Vec<OutDescriptor>,
}

impl DockerManifest {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and integers cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_detection() {
        let d: Descriptor = serde_json::from_str(
            r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:x","size":1,
                "platform":{"architecture":"unknown","os":"unknown"}}"#,
        )
        .unwrap();
        assert!(d.is_attestation());
        let d: Descriptor = serde_json::from_str(
            r#"{"digest":"sha256:x","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"},
                "annotations":{"vnd.docker.reference.type":"attestation-manifest"}}"#,
        )
        .unwrap();
        assert!(d.is_attestation());
        assert_eq!(d.platform.unwrap().render(), "linux/arm64/v8");
    }

    #[test]
    fn media_type_precedence() {
        let m: AnyManifest = serde_json::from_str(r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
        assert_eq!(m.effective_media_type(None).unwrap(), OCI_INDEX);
        assert_eq!(
            m.effective_media_type(Some(DOCKER_LIST)).unwrap(),
            DOCKER_LIST
        );
        let m: AnyManifest = serde_json::from_str(&format!(
            r#"{{"mediaType":"{DOCKER_MANIFEST}","config":null}}"#
        ))
        .unwrap();
        assert_eq!(
            m.effective_media_type(Some(OCI_MANIFEST)).unwrap(),
            DOCKER_MANIFEST
        );
    }
}
