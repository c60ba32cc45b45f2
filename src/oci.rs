//! The image-format vocabulary shared by every part of the gate: media types, the fields of
//! manifests, indexes and descriptors, and the one rule that decides which children of an
//! index are runnable images (and so must be scanned and gated).
//!
//! The rule must not be bypassable by whoever builds the image: a child is skipped only when
//! it provably cannot run — its platform is `unknown/unknown` (BuildKit attestations), or its
//! manifest's config is not an image config (OCI artifacts: SBOMs, signatures). Annotations
//! and `artifactType` on the descriptor are claims, not proof, and never skip anything. A child
//! that is neither an image nor an index cannot be classified: the run is inconclusive.

use serde::Deserialize;
use std::collections::BTreeMap;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest media type a registry may answer with, for `Accept` lists.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// The annotation OCI layouts use to name an image (`oci:<dir>:<ref>`).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Whether a media type names an index / manifest list (children) or an image manifest.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

pub fn is_image_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// Whether a config media type is a container image config (what makes a manifest runnable).
pub fn is_image_config(media_type: &str) -> bool {
    media_type == OCI_CONFIG || media_type == DOCKER_CONFIG
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`, the form `docker --platform` takes.
    pub fn render(&self) -> String {
        match self.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}/{}/{}", self.os, self.architecture, v),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// `unknown/unknown`: how BuildKit marks attestation manifests; no runtime selects it.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }

    /// `os/arch[/variant]`, or `None` when the index gives no platform.
    pub fn platform_name(&self) -> Option<String> {
        self.platform.as_ref().map(Platform::render)
    }
}

/// The fields of any manifest-like document (image manifest, index, `index.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyManifest {
    #[serde(default)]
    pub schema_version: Option<u32>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
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
    pub fn effective_media_type(&self, from_descriptor: Option<&str>) -> Option<String> {
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

    /// Whether the document is an index (by media type or by shape).
    pub fn is_index(&self, from_descriptor: Option<&str>) -> bool {
        self.manifests.is_some()
            || self
                .effective_media_type(from_descriptor)
                .is_some_and(|m| is_index(&m))
    }
}

/// What one child of an index is, by [the rule](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    /// A runnable image manifest: scan and gate it.
    Image,
    /// A nested index: follow its children.
    Index,
    /// Provably not runnable; the string says why (for debug lines).
    Skip(String),
}

/// Why the descriptor alone proves its child is not runnable, if it does: only the
/// `unknown/unknown` platform does (no runtime selects it), so its manifest need not be read.
pub fn skip_by_descriptor(desc: &Descriptor) -> Option<String> {
    desc.platform
        .as_ref()
        .is_some_and(Platform::is_unknown)
        .then(|| "platform unknown/unknown (an attestation, never run)".to_string())
}

/// Classify the child `desc` of an index from its own manifest document. `Err` names why it
/// cannot be classified (the caller makes the run inconclusive, never skips it).
pub fn classify(desc: &Descriptor, child: &AnyManifest) -> Result<Child, String> {
    if let Some(why) = skip_by_descriptor(desc) {
        return Ok(Child::Skip(why));
    }
    if child.is_index(desc.media_type.as_deref()) {
        return Ok(Child::Index);
    }
    let media_type = child.effective_media_type(desc.media_type.as_deref());
    match (&media_type, &child.config) {
        (Some(mt), Some(config)) if is_image_manifest(mt) => {
            let config_type = config.media_type.as_deref().unwrap_or_default();
            if is_image_config(config_type) {
                Ok(Child::Image)
            } else {
                Ok(Child::Skip(format!(
                    "an artifact, not an image (config media type {})",
                    if config_type.is_empty() {
                        "missing"
                    } else {
                        config_type
                    }
                )))
            }
        }
        _ => Err(format!(
            "child {} of the index is neither an image manifest nor an index (media type {})",
            desc.digest,
            media_type.as_deref().unwrap_or("unknown")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(json: &str) -> Descriptor {
        serde_json::from_str(json).unwrap()
    }
    fn doc(json: &str) -> AnyManifest {
        serde_json::from_str(json).unwrap()
    }
    const IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:c","size":1},"layers":[]}"#;

    #[test]
    fn annotations_and_artifact_type_never_skip_an_image() {
        let d = desc(
            r#"{"digest":"sha256:x","size":1,"artifactType":"application/spdx+json",
                "platform":{"architecture":"amd64","os":"linux"},
                "annotations":{"vnd.docker.reference.type":"attestation-manifest"}}"#,
        );
        assert_eq!(classify(&d, &doc(IMAGE)), Ok(Child::Image));
        // No platform at all: still an image a runtime may select.
        let d = desc(r#"{"digest":"sha256:x","size":1}"#);
        assert_eq!(classify(&d, &doc(IMAGE)), Ok(Child::Image));
    }

    #[test]
    fn unknown_platform_and_artifact_configs_are_skipped() {
        let d = desc(
            r#"{"digest":"sha256:x","size":1,"platform":{"architecture":"unknown","os":"unknown"}}"#,
        );
        assert!(matches!(classify(&d, &doc(IMAGE)), Ok(Child::Skip(_))));
        let sbom = doc(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "artifactType":"application/spdx+json",
                "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:e","size":2},"layers":[]}"#,
        );
        let d = desc(r#"{"digest":"sha256:x","size":1}"#);
        assert!(matches!(classify(&d, &sbom), Ok(Child::Skip(_))));
    }

    #[test]
    fn nested_indexes_are_followed_and_strangers_are_errors() {
        let d = desc(r#"{"digest":"sha256:x","size":1}"#);
        assert_eq!(
            classify(&d, &doc(r#"{"schemaVersion":2,"manifests":[]}"#)),
            Ok(Child::Index)
        );
        let e = classify(
            &d,
            &doc(r#"{"schemaVersion":2,"mediaType":"application/x-odd"}"#),
        )
        .unwrap_err();
        assert!(
            e.contains("sha256:x") && e.contains("application/x-odd"),
            "{e}"
        );
    }

    #[test]
    fn platform_rendering() {
        let p = Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: Some("v8".into()),
        };
        assert_eq!(p.render(), "linux/arm64/v8");
    }
}
