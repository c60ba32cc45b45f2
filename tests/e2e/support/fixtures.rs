//! Image fixtures written directly as OCI image layouts (no Docker): deterministic layers of
//! pseudo-random and text content, single-arch images, a two-platform index with a BuildKit
//! style attestation manifest, and tar archives of layouts.
#![allow(dead_code)]

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An image manifest written into a layout.
#[derive(Debug, Clone)]
pub struct Image {
    pub digest: String,
    pub bytes: Vec<u8>,
    pub config: String,
    pub layers: Vec<String>,
    /// Uncompressed digests, as in the config's rootfs.diff_ids.
    pub diff_ids: Vec<String>,
}

/// A layout holding one named image (a manifest or an index).
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
    pub tag: String,
    pub digest: String,
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    /// Platform images of an index (excluding attestations), or the one image.
    pub images: Vec<(String, Image)>,
    /// Distinct configs and layers: what a first push uploads.
    pub blob_count: usize,
}

impl Layout {
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        blob_path(&self.dir, digest)
    }

    pub fn spec(&self) -> String {
        format!("oci:{}:{}", self.dir.display(), self.tag)
    }
}

pub fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Write a blob into the layout, returning its digest and size.
pub fn write_blob(dir: &Path, bytes: &[u8]) -> (String, u64) {
    let d = sha256(bytes);
    let p = blob_path(dir, &d);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
    (d, bytes.len() as u64)
}

/// Deterministic bytes: xorshift noise mixed with runs of text, so gzip has work to do.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 3 == 0 {
            out.extend_from_slice(format!("line {} of seed {seed}\n", x % 1000).as_bytes());
        } else {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

/// Incompressible bytes (already-compressed files in a layer look like this).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An uncompressed layer tar with three files: mixed text and noise, pure noise (so a
/// compressor meets both compressible and incompressible stretches), and a small text file.
pub fn layer_tar(seed: u64, size: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (format!("data/blob-{seed}.bin"), content(seed, size)),
        (format!("data/noise-{seed}.bin"), noise(seed, size)),
        (
            format!("etc/seed-{seed}.txt"),
            format!("seed {seed}\n").into_bytes(),
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn descriptor(media_type: &str, digest: &str, size: u64) -> serde_json::Value {
    serde_json::json!({ "mediaType": media_type, "digest": digest, "size": size })
}

/// Write an image (config + gzip layers + manifest) for `arch` into `dir`.
pub fn write_image(dir: &Path, seed: u64, arch: &str, layer_sizes: &[usize]) -> Image {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut layer_descs = Vec::new();
    for (i, &size) in layer_sizes.iter().enumerate() {
        let tar = layer_tar(seed * 100 + i as u64, size);
        diff_ids.push(sha256(&tar));
        let (d, n) = write_blob(dir, &gzip(&tar));
        layer_descs.push(descriptor(OCI_LAYER_GZIP, &d, n));
        layers.push(d);
    }
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Env": ["PATH=/usr/bin"], "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": layer_sizes.iter().map(|_| serde_json::json!({"created_by": "fixture"})).collect::<Vec<_>>(),
    });
    let (config_digest, config_size) = write_blob(dir, &serde_json::to_vec(&config).unwrap());
    // Pretty-printed on purpose: a re-serialising client would change these bytes.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config_digest, config_size),
        "layers": layer_descs,
    });
    let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    let (digest, _) = write_blob(dir, &bytes);
    Image {
        digest,
        bytes,
        config: config_digest,
        layers,
        diff_ids,
    }
}

pub fn write_layout_files(dir: &Path, tag: &str, media_type: &str, digest: &str, size: u64) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": media_type, "digest": digest, "size": size,
            "annotations": { "org.opencontainers.image.ref.name": tag }
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A single-arch image with layers of the given sizes, named `tag`.
pub fn single_arch(dir: &Path, tag: &str, seed: u64, layer_sizes: &[usize]) -> Layout {
    std::fs::create_dir_all(dir).unwrap();
    let img = write_image(dir, seed, "amd64", layer_sizes);
    write_layout_files(dir, tag, OCI_MANIFEST, &img.digest, img.bytes.len() as u64);
    Layout {
        dir: dir.to_path_buf(),
        tag: tag.into(),
        digest: img.digest.clone(),
        bytes: img.bytes.clone(),
        media_type: OCI_MANIFEST,
        blob_count: 1 + layer_sizes.len(),
        images: vec![("linux/amd64".into(), img)],
    }
}

/// A two-platform index (linux/amd64, linux/arm64/v8) plus an attestation manifest, named
/// `tag`. Both platforms share their first layer, as images built FROM one base do.
pub fn multi_arch(dir: &Path, tag: &str) -> Layout {
    std::fs::create_dir_all(dir).unwrap();
    // Same seed: the first layer is byte-identical in both platforms (uploaded once).
    let amd = write_image(dir, 7, "amd64", &[40_000, 9_000]);
    let arm = write_image(dir, 7, "arm64", &[40_000]);
    // The attestation: an in-toto statement as its single "layer".
    let statement = br#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document"}"#;
    let (st_digest, st_size) = write_blob(dir, statement);
    let att_config = serde_json::json!({"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[st_digest]}});
    let (att_cfg_digest, att_cfg_size) = write_blob(dir, &serde_json::to_vec(&att_config).unwrap());
    let mut st_desc = descriptor("application/vnd.in-toto+json", &st_digest, st_size);
    st_desc["annotations"] =
        serde_json::json!({"in-toto.io/predicate-type": "https://spdx.dev/Document"});
    let att = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &att_cfg_digest, att_cfg_size),
        "layers": [st_desc],
    }))
    .unwrap();
    let (att_digest, att_size) = write_blob(dir, &att);

    let platform_desc = |img: &Image, arch: &str, variant: Option<&str>| {
        let mut d = descriptor(OCI_MANIFEST, &img.digest, img.bytes.len() as u64);
        d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            d["platform"]["variant"] = v.into();
        }
        d
    };
    let mut att_desc = descriptor(OCI_MANIFEST, &att_digest, att_size);
    att_desc["platform"] = serde_json::json!({"architecture": "unknown", "os": "unknown"});
    att_desc["annotations"] = serde_json::json!({
        "vnd.docker.reference.digest": amd.digest,
        "vnd.docker.reference.type": "attestation-manifest"
    });
    let index = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [platform_desc(&amd, "amd64", None), platform_desc(&arm, "arm64", Some("v8")), att_desc],
    }))
    .unwrap();
    let (digest, size) = write_blob(dir, &index);
    write_layout_files(dir, tag, OCI_INDEX, &digest, size);
    // Everything but the four manifests (two platforms, attestation, index).
    let blob_count = std::fs::read_dir(dir.join("blobs/sha256")).unwrap().count() - 4;
    Layout {
        dir: dir.to_path_buf(),
        tag: tag.into(),
        digest,
        bytes: index,
        media_type: OCI_INDEX,
        images: vec![("linux/amd64".into(), amd), ("linux/arm64/v8".into(), arm)],
        blob_count,
    }
}

/// A tar of a layout directory (what `oci-archive:` reads), entries sorted for determinism.
pub fn tar_layout(dir: &Path, out: &Path) {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for rel in files {
        b.append_path_with_name(dir.join(&rel), &rel).unwrap();
    }
    b.finish().unwrap();
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

/// Flip one byte in the middle of a file, keeping its size.
pub fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// Keep only the first `keep` bytes of a file.
pub fn truncate(path: &Path, keep: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(keep).unwrap();
}

/// Read an OCI layout's index.json and return the digest of the image named `name`.
pub fn layout_ref_digest(dir: &Path, name: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} in {}", dir.display()))
}
