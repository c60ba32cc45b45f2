//! The push-only part of the image-format vocabulary: the Docker v2 schema 2 manifest we
//! write for `docker-archive:` sources. The shared vocabulary (media types, descriptors, the
//! runnable-child rule) is `crate::oci`; reading sources is `crate::image`.
//!
//! Manifests read from a source are never re-serialised: they are pushed as the exact bytes
//! found, because re-encoding the JSON would change the digest.

use serde::Serialize;

pub(crate) use crate::oci::{DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST};

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
