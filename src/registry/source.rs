//! What the push sends for a verified [`ImageTree`] (read by `crate::image`, the one image
//! source): the blobs to upload and the manifest tree to put, children first.
//!
//! An OCI tree is sent as it is: its blobs, then its manifests byte for byte. A `docker save`
//! image has no manifest: its plain layers are gzipped here (once per distinct diff id, each
//! checked against its diff id while it is compressed) and handed to the uploader as soon as
//! each is ready, so a layer can upload while the next one is still being compressed; then a
//! Docker v2 manifest is written for them.

use super::blob::BlobData;
use super::compress;
use super::manifest::{self, DockerManifest, OutDescriptor};
use crate::error::Error;
use crate::image::{Body, Compression, Digest, DockerImage, FileRange, ImageTree, Manifest, Root};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tokio::sync::mpsc;

/// Same nominal level as skopeo/containers-image (pgzip's default, 5).
const GZIP_LEVEL: u32 = 5;

/// One blob to upload.
#[derive(Debug, Clone)]
pub(crate) struct BlobSrc {
    pub digest: Digest,
    pub size: u64,
    pub data: BlobData,
    /// Hash while uploading and fail on mismatch. Off only for layers we just compressed: the
    /// digest was computed from the very bytes the upload replays, hashing them again would
    /// only cost CPU, and the registry checks the digest anyway.
    pub verify: bool,
}

/// A manifest (image manifest or index) as it will be pushed.
#[derive(Debug, Clone)]
pub(crate) struct ManifestNode {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// From the parent index's descriptor: `os/arch[/variant]`.
    pub platform: Option<String>,
    pub children: Vec<ManifestNode>,
}

/// What the push hands to the uploader while it prepares the blobs.
#[derive(Debug)]
pub(crate) enum Event {
    Blob(BlobSrc),
    Info(String),
}

/// A tree ready to push. Keeps the source (and any temp dir of compressed layers) alive
/// until the uploads are done.
pub(crate) struct Prepared {
    pub root: ManifestNode,
    pub _tree: ImageTree,
    pub _temp: Option<tempfile::TempDir>,
}

/// Hand `tree`'s blobs to `tx`; returns the manifest tree once every blob was handed over.
pub(crate) async fn prepare(tree: ImageTree, tx: mpsc::Sender<Event>) -> Result<Prepared, Error> {
    let sink = Sink(tx);
    tokio::task::spawn_blocking(move || match &tree.root {
        Root::Oci(m) => {
            for (digest, range) in &tree.blobs {
                sink.blob(BlobSrc {
                    digest: digest.clone(),
                    size: range.len,
                    data: BlobData::File(range.clone()),
                    verify: true,
                })?;
            }
            Ok(Prepared {
                root: node(m),
                _tree: tree,
                _temp: None,
            })
        }
        Root::Docker(img) => {
            let temp = temp_dir()?;
            let root = docker(img, &tree.what, temp.path(), &sink)?;
            Ok(Prepared {
                root,
                _tree: tree,
                _temp: Some(temp),
            })
        }
    })
    .await
    .unwrap_or_else(|e| {
        Err(Error::runtime(format!(
            "reading the image source failed: {e}"
        )))
    })
}

fn node(m: &Manifest) -> ManifestNode {
    ManifestNode {
        digest: m.digest.clone(),
        media_type: m.media_type.clone(),
        bytes: m.bytes.clone(),
        platform: m.platform.clone(),
        children: match &m.body {
            Body::Index(children) => children.iter().map(node).collect(),
            Body::Image(_) => Vec::new(),
        },
    }
}

fn temp_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("inspector-gate-push-")
        .tempdir()
        .map_err(|e| {
            Error::runtime(format!(
                "cannot create a temporary directory (set TMPDIR to a writable place): {e}"
            ))
        })
}

/// The uploader's end of the channel, used from blocking threads.
struct Sink(mpsc::Sender<Event>);

impl Sink {
    fn blob(&self, b: BlobSrc) -> Result<(), Error> {
        // A closed channel means the push already failed elsewhere; that error is reported.
        self.0
            .blocking_send(Event::Blob(b))
            .map_err(|_| Error::runtime("push cancelled"))
    }
    fn info(&self, msg: String) {
        let _ = self.0.try_send(Event::Info(msg));
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A `docker save` image as a Docker v2 manifest over gzip layers.
fn docker(
    img: &DockerImage,
    where_: &str,
    work: &Path,
    sink: &Sink,
) -> Result<ManifestNode, Error> {
    // A Docker v2 manifest cannot describe a zstd layer; refused before anything is sent.
    if let Some(n) = img
        .layers
        .iter()
        .position(|l| l.compression == Compression::Zstd)
    {
        return Err(Error::runtime(format!(
            "layer {} of {where_} is zstd-compressed, which a Docker v2 manifest cannot describe: export it with oci-archive: instead",
            n + 1
        )));
    }
    sink.blob(BlobSrc {
        digest: img.config_digest.clone(),
        size: img.config_size,
        data: BlobData::File(img.config.clone()),
        verify: true,
    })?;
    let plan: Vec<(Digest, FileRange, Compression)> = img
        .layers
        .iter()
        .map(|l| (l.diff_id.clone(), l.range.clone(), l.compression))
        .collect();
    let layers = push_layers(plan, work, sink, where_)?;
    let doc = DockerManifest {
        schema_version: 2,
        media_type: manifest::DOCKER_MANIFEST,
        config: OutDescriptor {
            media_type: manifest::DOCKER_CONFIG,
            size: img.config_size,
            digest: img.config_digest.to_string(),
        },
        layers,
    };
    let bytes = doc.to_bytes();
    Ok(ManifestNode {
        digest: Digest::of(&bytes),
        media_type: manifest::DOCKER_MANIFEST.into(),
        bytes,
        platform: None,
        children: Vec::new(),
    })
}

/// Compress (plain tar) or pass through (already gzip) each layer and hand it to the sink,
/// once per distinct diff_id; returns the manifest's layer descriptors in order.
fn push_layers(
    plan: Vec<(Digest, FileRange, Compression)>,
    work: &Path,
    sink: &Sink,
    where_: &str,
) -> Result<Vec<OutDescriptor>, Error> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let total = plan.len();
    let mut done: HashMap<Digest, OutDescriptor> = HashMap::new();
    let mut layers = Vec::with_capacity(total);
    for (i, (diff_id, range, kind)) in plan.into_iter().enumerate() {
        let n = i + 1;
        // docker save repeats a layer that occurs twice; compress and upload it once.
        if let Some(d) = done.get(&diff_id) {
            layers.push(d.clone());
            continue;
        }
        let blob = match kind {
            Compression::Gzip | Compression::Zstd => {
                // Already compressed (some exporters do; zstd was refused above): push as is.
                // diff_id cannot be checked without decompressing; the registry still checks
                // the digest.
                let digest = range.sha256(&format!("layer {n}"))?;
                BlobSrc {
                    digest,
                    size: range.len,
                    data: BlobData::File(range),
                    verify: true,
                }
            }
            Compression::Plain => {
                let started = Instant::now();
                let dst = work.join(format!("layer-{n}.deflate"));
                let g =
                    compress::gzip_range(&range, &dst, GZIP_LEVEL, threads, &|| sink.is_closed())?;
                if g.diff_id != diff_id {
                    return Err(Error::runtime(format!(
                        "layer {n} of {where_} does not match the diff_id in its image config ({diff_id}): the archive is corrupt; re-create it"
                    )));
                }
                sink.info(format!(
                    "compressed layer {n}/{total} {} ({} -> {}) in {:.1}s",
                    g.digest.short(),
                    human_bytes(range.len),
                    human_bytes(g.size),
                    started.elapsed().as_secs_f64()
                ));
                BlobSrc {
                    digest: g.digest,
                    size: g.size,
                    data: BlobData::Gzip(g.layout),
                    verify: false,
                }
            }
        };
        let desc = OutDescriptor {
            media_type: manifest::DOCKER_LAYER_GZIP,
            size: blob.size,
            digest: blob.digest.to_string(),
        };
        sink.blob(blob)?;
        done.insert(diff_id, desc.clone());
        layers.push(desc);
    }

    Ok(layers)
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
