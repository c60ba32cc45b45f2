//! The image-format vocabulary shared by every part of the gate: media types, the fields of
//! manifests, indexes and descriptors, THE digest syntax, and THE rule that decides which
//! children of an index are runnable images (and so must be scanned and gated).
//!
//! The rule must not be bypassable by whoever builds the image: a child is skipped only when
//! it provably cannot run — its platform is `unknown/unknown` (BuildKit attestations; no
//! runtime selects it), or its config is not an image config by media type *and* its bytes
//! prove it: the OCI empty descriptor (`{}`), or a document without `rootfs.diff_ids` (no
//! runtime can unpack layers it cannot tie to diff ids). A config media type that is not
//! byte-exact (`…config.v1+json; charset=utf-8`, an empty string) proves nothing: runtimes
//! run such images (moby accepts any `application/vnd.oci.image.` / `application/vnd.docker.`
//! config type, or none), so they are gated. Annotations and `artifactType` are claims, not
//! proof, and never skip anything. A child that is neither an image nor an index, or whose
//! config cannot be read or parsed when the rule needs it, cannot be classified: the run is
//! inconclusive.

use serde::Deserialize;
use std::collections::BTreeMap;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// The OCI empty descriptor's media type, and the digest of its content `{}`.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_JSON_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// THE digest syntax, for every digest the gate reads (image references, manifests, layouts,
/// archives, events): `sha256:` followed by exactly 64 lowercase hex digits. Only sha256: it
/// is what ECR and every builder use, and the exact shape is what makes `blobs/sha256/<hex>`
/// safe as a path.
pub fn is_valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

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

/// The config blob of the manifest being classified, when the rule needs it
/// ([`config_needed`]): its exact bytes, read and checked against the descriptor's digest.
pub type ConfigBytes<'a> = Option<&'a [u8]>;

/// The config descriptor whose bytes [`classify`] needs to decide about `child`, if any: only
/// a manifest whose config media type is not an image config's can be proven unrunnable, and
/// only by its bytes (the empty descriptor's bytes are known from its digest).
pub fn config_needed<'a>(desc: &Descriptor, child: &'a AnyManifest) -> Option<&'a Descriptor> {
    if skip_by_descriptor(desc).is_some() || child.is_index(desc.media_type.as_deref()) {
        return None;
    }
    let config = child.config.as_ref()?;
    let config_type = config.media_type.as_deref().unwrap_or_default();
    (!is_image_config(config_type) && config.digest != EMPTY_JSON_DIGEST).then_some(config)
}

/// Classify the child `desc` of an index from its own manifest document and, when
/// [`config_needed`] says so, its config's bytes. `Err` names why it cannot be classified
/// (the caller makes the run inconclusive, never skips it).
pub fn classify(
    desc: &Descriptor,
    child: &AnyManifest,
    config: ConfigBytes<'_>,
) -> Result<Child, String> {
    if let Some(why) = skip_by_descriptor(desc) {
        return Ok(Child::Skip(why));
    }
    if child.is_index(desc.media_type.as_deref()) {
        return Ok(Child::Index);
    }
    let media_type = child.effective_media_type(desc.media_type.as_deref());
    let (Some(mt), Some(conf)) = (&media_type, &child.config) else {
        return Err(format!(
            "child {} of the index is neither an image manifest nor an index (media type {})",
            desc.digest,
            media_type.as_deref().unwrap_or("unknown")
        ));
    };
    if !is_image_manifest(mt) {
        return Err(format!(
            "child {} of the index is neither an image manifest nor an index (media type {mt})",
            desc.digest
        ));
    }
    let config_type = conf.media_type.as_deref().unwrap_or_default();
    if is_image_config(config_type) {
        return Ok(Child::Image);
    }
    let shown = if config_type.is_empty() {
        "none"
    } else {
        config_type
    };
    let bytes: &[u8] = if conf.digest == EMPTY_JSON_DIGEST {
        b"{}"
    } else {
        config.ok_or_else(|| {
            format!(
                "cannot tell whether child {} of the index can run: its config {} (media type {shown}) was not read",
                desc.digest, conf.digest
            )
        })?
    };
    match names_layers(bytes) {
        Ok(true) => Ok(Child::Image),
        Ok(false) => Ok(Child::Skip(format!(
            "an artifact, not an image (config media type {shown}, no rootfs.diff_ids)"
        ))),
        Err(e) => Err(format!(
            "cannot tell whether child {} of the index can run: its config {} is not a JSON object ({e})",
            desc.digest, conf.digest
        )),
    }
}

/// Whether a config document may tie layers to diff ids, read the way a runtime reads it:
/// Go's `encoding/json` matches keys case-insensitively (with `ſ` for `s` and the Kelvin sign
/// for `k`) and, for a repeated key, decodes every occurrence into the same value. So any key
/// that folds to `rootfs` holding anything but `null` or an object without a non-empty
/// `diff_ids` (by the same folding) counts: only a document where none does is proof.
fn names_layers(bytes: &[u8]) -> Result<bool, String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    fn folds_to(key: &str, target: &str) -> bool {
        let mut k = key.chars().map(|c| match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        });
        target.chars().all(|t| k.next() == Some(t)) && k.next().is_none()
    }

    /// A value that counts as diff ids unless it is `null` or `[]`.
    struct DiffIds(bool);
    impl<'de> Deserialize<'de> for DiffIds {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let v = serde_json::Value::deserialize(d)?;
            Ok(DiffIds(match v {
                serde_json::Value::Null => false,
                serde_json::Value::Array(a) => !a.is_empty(),
                _ => true,
            }))
        }
    }

    /// A `rootfs` value: true when it may name layers.
    struct RootFs(bool);
    impl<'de> Deserialize<'de> for RootFs {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = RootFs;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("anything")
                }
                fn visit_unit<E>(self) -> Result<RootFs, E> {
                    Ok(RootFs(false))
                }
                fn visit_none<E>(self) -> Result<RootFs, E> {
                    Ok(RootFs(false))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RootFs, A::Error> {
                    let mut layers = false;
                    while let Some(k) = m.next_key::<String>()? {
                        if folds_to(&k, "diff_ids") {
                            layers |= m.next_value::<DiffIds>()?.0;
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(RootFs(layers))
                }
                // Any other shape (a string, a number, a list) proves nothing.
                fn visit_bool<E>(self, _: bool) -> Result<RootFs, E> {
                    Ok(RootFs(true))
                }
                fn visit_i64<E>(self, _: i64) -> Result<RootFs, E> {
                    Ok(RootFs(true))
                }
                fn visit_u64<E>(self, _: u64) -> Result<RootFs, E> {
                    Ok(RootFs(true))
                }
                fn visit_f64<E>(self, _: f64) -> Result<RootFs, E> {
                    Ok(RootFs(true))
                }
                fn visit_str<E>(self, _: &str) -> Result<RootFs, E> {
                    Ok(RootFs(true))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut s: A,
                ) -> Result<RootFs, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(RootFs(true))
                }
            }
            d.deserialize_any(V)
        }
    }

    struct Config(bool);
    impl<'de> Deserialize<'de> for Config {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Config;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Config, A::Error> {
                    let mut layers = false;
                    while let Some(k) = m.next_key::<String>()? {
                        if folds_to(&k, "rootfs") {
                            layers |= m.next_value::<RootFs>()?.0;
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(Config(layers))
                }
            }
            d.deserialize_map(V)
        }
    }

    serde_json::from_slice::<Config>(bytes)
        .map(|c| c.0)
        .map_err(|e| crate::error::one_line(&e.to_string()))
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
    const AMD64: &str =
        r#"{"digest":"sha256:x","size":1,"platform":{"architecture":"amd64","os":"linux"}}"#;
    /// A runnable image's config, as builders write it.
    const RUNNABLE: &[u8] =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1"]}}"#;

    /// An image manifest whose config has media type `config_type` (a JSON string or `null`).
    fn with_config(config_type: &str) -> AnyManifest {
        doc(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "config":{{"mediaType":{config_type},"digest":"sha256:c","size":1}},"layers":[]}}"#
        ))
    }

    #[test]
    fn one_digest_syntax() {
        let ok = format!("sha256:{}", "0a".repeat(32));
        assert!(is_valid_digest(&ok));
        for bad in [
            format!("sha256:{}", "0A".repeat(32)),
            format!("sha256:{}", "0a".repeat(31)),
            format!("sha512:{}", "0a".repeat(32)),
            format!("sha256:{}/", "0a".repeat(32)),
            "sha256:".to_string(),
        ] {
            assert!(!is_valid_digest(&bad), "{bad}");
        }
        assert!(is_valid_digest(EMPTY_JSON_DIGEST));
        assert_eq!(
            EMPTY_JSON_DIGEST,
            format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"{}"))
            )
        );
    }

    #[test]
    fn annotations_and_artifact_type_never_skip_an_image() {
        let d = desc(
            r#"{"digest":"sha256:x","size":1,"artifactType":"application/spdx+json",
                "platform":{"architecture":"amd64","os":"linux"},
                "annotations":{"vnd.docker.reference.type":"attestation-manifest"}}"#,
        );
        assert_eq!(classify(&d, &doc(IMAGE), None), Ok(Child::Image));
        // No platform at all: still an image a runtime may select.
        let d = desc(r#"{"digest":"sha256:x","size":1}"#);
        assert_eq!(classify(&d, &doc(IMAGE), None), Ok(Child::Image));
    }

    #[test]
    fn unknown_platform_and_the_empty_config_are_skipped() {
        let d = desc(
            r#"{"digest":"sha256:x","size":1,"platform":{"architecture":"unknown","os":"unknown"}}"#,
        );
        assert!(matches!(
            classify(&d, &doc(IMAGE), None),
            Ok(Child::Skip(_))
        ));
        // The OCI empty descriptor: its bytes are known from its digest, nothing to read.
        let sbom = doc(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "artifactType":"application/spdx+json",
                "config":{{"mediaType":"{OCI_EMPTY}","digest":"{EMPTY_JSON_DIGEST}","size":2}},"layers":[]}}"#
        ));
        let d = desc(r#"{"digest":"sha256:x","size":1}"#);
        assert!(config_needed(&d, &sbom).is_none());
        assert!(matches!(classify(&d, &sbom, None), Ok(Child::Skip(_))));
    }

    #[test]
    fn a_config_media_type_that_is_not_byte_exact_is_gated() {
        // What issue 19 found: an index with a clean arm64 child and a child whose config media
        // type is not byte-exact. Both must be gated: runtimes run both.
        let d = desc(AMD64);
        let arm64 = desc(
            r#"{"digest":"sha256:y","size":1,"platform":{"architecture":"arm64","os":"linux"}}"#,
        );
        assert_eq!(classify(&arm64, &doc(IMAGE), None), Ok(Child::Image));
        for odd in [
            r#""application/vnd.oci.image.config.v1+json; charset=utf-8""#,
            r#""""#,
            "null",
            r#""application/vnd.docker.container.image.v1+json ""#,
            r#""application/vnd.example.whatever+json""#,
        ] {
            let m = with_config(odd);
            assert!(config_needed(&d, &m).is_some(), "{odd}");
            // Its bytes decide: a config with diff ids is an image whatever its media type.
            assert_eq!(classify(&d, &m, Some(RUNNABLE)), Ok(Child::Image), "{odd}");
            // Not read: cannot be classified (inconclusive), never skipped.
            assert!(classify(&d, &m, None).is_err(), "{odd}");
        }
    }

    #[test]
    fn only_a_config_without_diff_ids_proves_an_artifact() {
        let d = desc(AMD64);
        let m = with_config(r#""application/vnd.cncf.helm.config.v1+json""#);
        for skip in [
            &br#"{"name":"chart","version":"1.0.0"}"#[..],
            br#"{}"#,
            br#"{"rootfs":null}"#,
            br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#,
            br#"{"rootfs":{"type":"layers"}}"#,
        ] {
            assert!(
                matches!(classify(&d, &m, Some(skip)), Ok(Child::Skip(_))),
                "{}",
                String::from_utf8_lossy(skip)
            );
        }
        // What Go's encoding/json (and so moby) would still read as diff ids.
        for gated in [
            &br#"{"RootFS":{"Diff_IDs":["sha256:1"]}}"#[..],
            "{\"rootf\u{17f}\":{\"diff_id\u{17f}\":[\"sha256:1\"]}}".as_bytes(),
            br#"{"rootfs":{"diff_ids":["sha256:1"]},"rootfs":{"type":"layers"}}"#,
            br#"{"rootfs":{"type":"layers"},"rootfs":{"diff_ids":["sha256:1"]}}"#,
            br#"{"rootfs":"layers"}"#,
            br#"{"rootfs":{"diff_ids":"sha256:1"}}"#,
        ] {
            assert_eq!(
                classify(&d, &m, Some(gated)),
                Ok(Child::Image),
                "{}",
                String::from_utf8_lossy(gated)
            );
        }
        for broken in [&b"[]"[..], b"not json", b"{\"rootfs\":", b"\xff"] {
            assert!(classify(&d, &m, Some(broken)).is_err());
        }
    }

    #[test]
    fn nested_indexes_are_followed_and_strangers_are_errors() {
        let d = desc(r#"{"digest":"sha256:x","size":1}"#);
        assert_eq!(
            classify(&d, &doc(r#"{"schemaVersion":2,"manifests":[]}"#), None),
            Ok(Child::Index)
        );
        let e = classify(
            &d,
            &doc(r#"{"schemaVersion":2,"mediaType":"application/x-odd"}"#),
            None,
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
