//! THE image source: reading an OCI image layout (`oci:`), a tar of one (`oci-archive:`), a
//! `docker save` archive (`docker-archive:`) or a local Docker image (`docker:`, via `docker
//! save` into a temp file) into one verified [`ImageTree`], below both the push (which uploads
//! it, `crate::registry`) and the local scan (which streams its layers, `crate::scan::layers`).
//! So `scan` evaluates exactly the images `push` would send.
//!
//! Every rule about reading a source lives here, once: the digest syntax
//! ([`crate::oci::is_valid_digest`]); every manifest read with its digest and size checked and
//! its media type known; every config checked against its digest; every layer present with the
//! size its descriptor says (layer bytes are checked against their digest while they are
//! streamed: [`blob::Hashing`]); the caps on manifests (size, count, bytes, nesting depth) and
//! configs; links and non-regular files refused ([`layout`], [`archive`]); the choice of the
//! image in a layout that holds several ([`layout`]); the tar index with THE bound on tar
//! headers ([`archive`]); and the runnable-child rule applied to every index child
//! ([`crate::oci::classify`], with the config's bytes when the rule needs them).
//!
//! Nothing is unpacked or uploaded here, and no layer is held in memory: blobs are byte
//! ranges of local files ([`FileRange`]).

pub(crate) mod archive;
pub(crate) mod blob;
mod docker_save;
mod layout;

pub use blob::{Digest, FileRange};

use crate::error::Error;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Registries cap manifests at 4 MiB; anything larger is not a manifest.
pub(crate) const MAX_MANIFEST: u64 = 4 << 20;
/// Image configs carry the build history and can be larger, but not unboundedly.
pub(crate) const MAX_CONFIG: u64 = 64 << 20;
/// Indexes nest (an index of indexes) only shallowly in practice; deeper is an error, not a
/// stack overflow.
pub(crate) const MAX_DEPTH: usize = 4;
/// Manifests read for one source, counting repeats: a real multi-arch image has a few dozen.
/// Without a cap, indexes that each list the next one many times (100 × 100 × 100 × 100)
/// make 10^8 reads out of a few kilobytes, and the read never ends; and every copy is kept,
/// so the bytes are capped too, and so are the configs read (each once per manifest).
pub(crate) const MAX_MANIFESTS: usize = 1000;
pub(crate) const MAX_MANIFEST_BYTES: u64 = 64 << 20;
pub(crate) const MAX_CONFIG_BYTES: u64 = 256 << 20;

/// Where an image comes from (`push --push-from`, `gate --push-from`, `scan --from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// `oci:<dir>[:<ref>]`: an OCI image layout directory; `ref` picks an image by its
    /// `org.opencontainers.image.ref.name` annotation (or by digest).
    OciDir {
        dir: PathBuf,
        reference: Option<String>,
    },
    /// `oci-archive:<file>`: a tar of an OCI image layout.
    OciArchive(PathBuf),
    /// `docker-archive:<file>`: what `docker save` writes (layers compressed here, on the fly).
    DockerArchive(PathBuf),
    /// `docker:<image>`: an image in the local Docker engine, exported with `docker save`.
    Docker(String),
}

const SOURCE_FORMS: &str =
    "expected oci:<dir>[:<ref>], oci-archive:<file>, docker-archive:<file> or docker:<image>";

impl FromStr for SourceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(Error::usage(format!(
                "invalid image source '{s}': {SOURCE_FORMS}"
            )));
        };
        if rest.is_empty() {
            return Err(Error::usage(format!(
                "invalid image source '{s}': nothing after '{kind}:'; {SOURCE_FORMS}"
            )));
        }
        match kind {
            "oci" => {
                let (dir, reference) = split_oci(rest);
                if dir.is_empty() {
                    return Err(Error::usage(format!(
                        "invalid image source '{s}': no directory; {SOURCE_FORMS}"
                    )));
                }
                Ok(SourceSpec::OciDir {
                    dir: PathBuf::from(dir),
                    reference: reference.filter(|r| !r.is_empty()).map(str::to_string),
                })
            }
            "oci-archive" => Ok(SourceSpec::OciArchive(PathBuf::from(rest))),
            "docker-archive" => Ok(SourceSpec::DockerArchive(PathBuf::from(rest))),
            "docker" => {
                // The name becomes an argument of `docker save`: keep it from reading as a flag.
                if rest.starts_with('-') || rest.chars().any(char::is_whitespace) {
                    return Err(Error::usage(format!(
                        "invalid image source '{s}': '{rest}' is not an image name"
                    )));
                }
                Ok(SourceSpec::Docker(rest.to_string()))
            }
            _ => Err(Error::usage(format!(
                "invalid image source '{s}': unknown kind '{kind}'; {SOURCE_FORMS}"
            ))),
        }
    }
}

/// Split `<dir>[:<ref>]` at the first colon, keeping a Windows drive prefix (`C:\…`) whole.
fn split_oci(rest: &str) -> (&str, Option<&str>) {
    let b = rest.as_bytes();
    let skip = if b.len() >= 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && matches!(b[2], b'\\' | b'/')
    {
        2
    } else {
        0
    };
    match rest[skip..].find(':') {
        Some(i) => (&rest[..skip + i], Some(&rest[skip + i + 1..])),
        None => (rest, None),
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::OciDir {
                dir,
                reference: Some(r),
            } => write!(f, "oci:{}:{r}", dir.display()),
            SourceSpec::OciDir {
                dir,
                reference: None,
            } => write!(f, "oci:{}", dir.display()),
            SourceSpec::OciArchive(p) => write!(f, "oci-archive:{}", p.display()),
            SourceSpec::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
            SourceSpec::Docker(i) => write!(f, "docker:{i}"),
        }
    }
}

/// A verified image, as read from its source. Keeps the `docker save` temp file alive.
#[derive(Debug)]
pub struct ImageTree {
    /// What to call the source in messages (`oci layout /x`, `docker archive /y.tar`).
    pub what: String,
    pub root: Root,
    /// Every config and layer blob the manifests name that the source holds, by digest, each
    /// with the size its descriptor says (foreign layers, fetched from their URLs by whoever
    /// runs the image, are the only ones absent).
    pub blobs: BTreeMap<Digest, FileRange>,
    _temp: Option<tempfile::TempDir>,
}

/// The image of a source.
#[derive(Debug)]
pub enum Root {
    /// An OCI layout's image: a manifest or an index, as found.
    Oci(Manifest),
    /// A `docker save` archive's one image: it has no manifest of its own, only a config and
    /// uncompressed (or gzip) layers named by their diff ids.
    Docker(DockerImage),
}

/// A manifest or index read from a layout: exact bytes, digest and size checked.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub digest: Digest,
    pub media_type: String,
    /// The exact bytes found: the push sends them as they are (re-encoding would change the
    /// digest).
    pub bytes: Vec<u8>,
    /// `os/arch[/variant]` from the referring index's descriptor.
    pub platform: Option<String>,
    /// What [`crate::oci::classify`] made of it (the root is classified like a child).
    pub class: crate::oci::Child,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    Image(ImageManifest),
    Index(Vec<Manifest>),
}

/// An image manifest's config and layers.
#[derive(Debug, Clone)]
pub struct ImageManifest {
    pub config: Blob,
    /// `os/arch[/variant]` named by the config itself.
    pub config_platform: Option<String>,
    pub layers: Vec<Blob>,
}

/// A blob a manifest names.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: Option<String>,
    /// Where a foreign (non-distributable) layer is fetched from; such a layer may be absent
    /// from the source.
    pub urls: Vec<String>,
}

/// The one image of a `docker save` archive.
#[derive(Debug, Clone)]
pub struct DockerImage {
    pub config: FileRange,
    pub config_digest: Digest,
    pub config_size: u64,
    pub platform: Option<String>,
    pub layers: Vec<DockerLayer>,
}

/// One layer of a `docker save` archive.
#[derive(Debug, Clone)]
pub struct DockerLayer {
    /// From the config's `rootfs.diff_ids`: the digest of the uncompressed tar.
    pub diff_id: Digest,
    pub range: FileRange,
    pub compression: Compression,
}

/// How a layer blob is compressed, from its first bytes (media types lie often enough).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Self {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::Plain,
        }
    }
}

/// One runnable image of a tree (a platform of an index, or the image itself), as the scan
/// reads it: its layers bottom first.
#[derive(Debug, Clone)]
pub struct Runnable {
    /// `os/arch[/variant]`: the index's descriptor's, else the config's.
    pub platform: Option<String>,
    /// What to call it in messages.
    pub label: String,
    pub layers: Vec<LayerBlob>,
}

/// A layer of a runnable image.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    /// `layer 2 (sha256:…)`, for messages.
    pub what: String,
    /// `None` when the source does not hold it (a foreign layer: only its URLs are known).
    pub range: Option<FileRange>,
    /// The digest of the blob's bytes as stored, checked while it is streamed (`None` for a
    /// `docker save` layer that was already compressed: its digest is known to nobody).
    pub digest: Option<Digest>,
}

/// Read and verify `spec`. Blocking (file I/O, `docker save`): call it from
/// `spawn_blocking` in async code. A `docker save` it runs is killed when the process is told
/// to stop (SIGTERM/SIGINT: [`crate::scan::stop::cancel`]).
pub fn open(spec: &SourceSpec) -> Result<ImageTree, Error> {
    let stop = crate::scan::stop::Stop::none();
    open_until(spec, &|| {
        stop.stopped()
            .map(|s| crate::scan::stop::error(s, &format!("the image source {spec}")))
    })
}

/// [`open`], asking `stopped` while a `docker save` runs: once it gives an error (the run's
/// deadline passed, or it was interrupted), the child is killed and reaped and that error
/// returned.
pub fn open_until(
    spec: &SourceSpec,
    stopped: &dyn Fn() -> Option<Error>,
) -> Result<ImageTree, Error> {
    match spec {
        SourceSpec::OciDir { dir, reference } => {
            let l = layout::Layout::dir(dir)?;
            let (root, blobs) = layout::load(&l, reference.as_deref())?;
            Ok(ImageTree {
                what: l.describe(),
                root: Root::Oci(root),
                blobs,
                _temp: None,
            })
        }
        SourceSpec::OciArchive(file) => {
            let l = layout::Layout::Tar(archive::TarIndex::open(file)?);
            let (root, blobs) = layout::load(&l, None)?;
            Ok(ImageTree {
                what: l.describe(),
                root: Root::Oci(root),
                blobs,
                _temp: None,
            })
        }
        SourceSpec::DockerArchive(file) => docker_save::load(file, None),
        SourceSpec::Docker(image) => {
            let temp = tempfile::Builder::new()
                .prefix("inspector-gate-")
                .tempdir()
                .map_err(|e| {
                    Error::runtime(format!(
                        "cannot create a temporary directory (set TMPDIR to a writable place): {e}"
                    ))
                })?;
            let file = temp.path().join("docker-save.tar");
            docker_save::export(std::path::Path::new("docker"), image, &file, stopped)?;
            docker_save::load(&file, Some(temp))
        }
    }
}

impl ImageTree {
    /// The runnable images, by the one rule; an inconclusive error when there is none (only
    /// attestations or artifacts: nothing to scan, and nothing Inspector would scan).
    pub fn runnable(&self) -> Result<Vec<Runnable>, Error> {
        let out = match &self.root {
            Root::Docker(img) => vec![Runnable {
                platform: img.platform.clone(),
                label: self.what.clone(),
                layers: img
                    .layers
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LayerBlob {
                        what: format!("layer {} ({})", i + 1, l.diff_id),
                        range: Some(l.range.clone()),
                        digest: (l.compression == Compression::Plain).then(|| l.diff_id.clone()),
                    })
                    .collect(),
            }],
            Root::Oci(m) => {
                let images = m.images();
                let many = images.len() > 1;
                images
                    .into_iter()
                    .map(|m| {
                        let Body::Image(img) = &m.body else {
                            unreachable!("images() yields image manifests only")
                        };
                        let platform = m.platform.clone().or_else(|| img.config_platform.clone());
                        Runnable {
                            label: match &platform {
                                Some(p) => format!("{} ({p})", self.what),
                                None if many => format!("{} ({})", self.what, m.digest.short()),
                                None => self.what.clone(),
                            },
                            platform,
                            layers: img
                                .layers
                                .iter()
                                .enumerate()
                                .map(|(i, l)| LayerBlob {
                                    what: format!("layer {} ({})", i + 1, l.digest),
                                    range: self.blobs.get(&l.digest).cloned(),
                                    digest: Some(l.digest.clone()),
                                })
                                .collect(),
                        }
                    })
                    .collect()
            }
        };
        if out.is_empty() {
            return Err(self.nothing_runnable());
        }
        Ok(out)
    }

    /// Why the tree has nothing to scan (see [`ImageTree::runnable`]).
    pub fn nothing_runnable(&self) -> Error {
        Error::inconclusive(format!(
            "{} holds no runnable image (only attestations or artifacts): nothing to scan",
            self.what
        ))
    }
}

impl Manifest {
    /// The runnable image manifests at and under this one (nested indexes followed), each
    /// once, in order: everything [`crate::oci::classify`] did not prove unrunnable.
    pub fn images(&self) -> Vec<&Manifest> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.collect_images(&mut out, &mut seen);
        out
    }

    fn collect_images<'a>(
        &'a self,
        out: &mut Vec<&'a Manifest>,
        seen: &mut std::collections::HashSet<(&'a Digest, Option<&'a str>)>,
    ) {
        match (&self.class, &self.body) {
            (crate::oci::Child::Skip(_), _) => {}
            (_, Body::Image(_)) => {
                if seen.insert((&self.digest, self.platform.as_deref())) {
                    out.push(self);
                }
            }
            (_, Body::Index(children)) => {
                for c in children {
                    c.collect_images(out, seen);
                }
            }
        }
    }
}

/// [`open`] on a blocking thread, for async callers (the push).
pub async fn open_in_background(spec: SourceSpec) -> Result<ImageTree, Error> {
    tokio::task::spawn_blocking(move || open(&spec))
        .await
        .unwrap_or_else(|e| {
            Err(Error::runtime(format!(
                "reading the image source failed: {e}"
            )))
        })
}

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the parsers that read
/// untrusted image sources, with the invariants the push and the scan rely on asserted.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing {
    use super::{archive, docker_save, Digest};
    use crate::oci::{self, AnyManifest};

    /// A manifest, index or `index.json` as read from a source (also a `docker save`
    /// `manifest.json` or image config): parse it as the source does, classify it by the one
    /// rule (with itself as a config, too), and check that every digest it accepts maps to a
    /// blob path inside the layout.
    pub fn manifest(bytes: &[u8]) {
        if let Ok(doc) = serde_json::from_slice::<AnyManifest>(bytes) {
            let _ = doc.effective_media_type(None);
            let _ = doc.effective_media_type(Some(oci::OCI_INDEX));
            let descs = doc
                .config
                .iter()
                .chain(&doc.layers)
                .chain(doc.manifests.iter().flatten());
            for child in doc.manifests.iter().flatten() {
                let _ = oci::config_needed(child, &doc);
                let _ = oci::classify(child, &doc, None);
                let _ = oci::classify(child, &doc, Some(bytes));
            }
            for d in descs {
                let _ = (d.platform_name(), d.ref_name());
                if let Some(p) = &d.platform {
                    let _ = p.render();
                }
                if let Ok(digest) = Digest::parse(&d.digest, "fuzz") {
                    let path = digest.layout_path();
                    assert_eq!(archive::normalize(&path).as_deref(), Ok(path.as_str()));
                    assert_eq!(path.split('/').count(), 3, "{path}");
                }
            }
        }
        let _ = serde_json::from_slice::<Vec<docker_save::DockerSaveEntry>>(bytes);
        let _ = serde_json::from_slice::<docker_save::ImageConfig>(bytes);
        let _ = super::layout::config_platform(bytes);
    }

    /// An archive entry name and a link target: whatever is accepted stays inside the source.
    pub fn archive_path(name: &str, target: &str) {
        if let Ok(n) = archive::normalize(name) {
            assert_inside(&n);
            if let Ok(t) = archive::resolve_symlink(&n, target) {
                assert_inside(&t);
            }
        }
    }

    /// Archive paths are lookup keys of the in-place tar index (nothing is ever extracted):
    /// relative, `/`-separated, with no empty, `.` or `..` component.
    fn assert_inside(p: &str) {
        assert!(!p.starts_with('/'), "{p:?}");
        assert!(
            p.split('/').all(|c| !c.is_empty() && c != ".." && c != "."),
            "{p:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<SourceSpec, Error> {
        s.parse()
    }

    #[test]
    fn parses_every_source_form() {
        assert_eq!(
            parse("oci:./out:v1").unwrap(),
            SourceSpec::OciDir {
                dir: "./out".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            parse("oci:/tmp/layout").unwrap(),
            SourceSpec::OciDir {
                dir: "/tmp/layout".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("oci:dir:").unwrap(),
            SourceSpec::OciDir {
                dir: "dir".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("oci:dir:a:b").unwrap(),
            SourceSpec::OciDir {
                dir: "dir".into(),
                reference: Some("a:b".into())
            }
        );
        assert_eq!(
            parse(r"oci:C:\images\app:latest").unwrap(),
            SourceSpec::OciDir {
                dir: r"C:\images\app".into(),
                reference: Some("latest".into())
            }
        );
        assert_eq!(
            parse("oci-archive:img.tar").unwrap(),
            SourceSpec::OciArchive("img.tar".into())
        );
        assert_eq!(
            parse("docker-archive:/x/img.tar").unwrap(),
            SourceSpec::DockerArchive("/x/img.tar".into())
        );
        assert_eq!(
            parse("docker:app:1.2").unwrap(),
            SourceSpec::Docker("app:1.2".into())
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "oci:d:r",
            "oci:d",
            "oci-archive:a.tar",
            "docker-archive:b.tar",
            "docker:app:1",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_sources_as_usage_errors() {
        for s in [
            "",
            "oci",
            "oci:",
            "oci::ref",
            "tarball:x",
            "docker:-o/etc/x",
            "docker:a b",
            "docker-archive:",
        ] {
            let e = parse(s).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{s}");
            assert!(!e.message.contains('\n'));
        }
    }
}
