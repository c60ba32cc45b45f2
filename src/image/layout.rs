//! OCI image layouts, on disk (`oci:`) or in a tar (`oci-archive:`): which image of the
//! layout is meant, and every manifest, index and config under it read and verified.

use super::archive::TarIndex;
use super::blob::{Digest, FileRange};
use super::{
    Blob, Body, ImageManifest, Manifest, MAX_CONFIG, MAX_CONFIG_BYTES, MAX_DEPTH, MAX_MANIFEST,
    MAX_MANIFESTS, MAX_MANIFEST_BYTES,
};
use crate::error::Error;
use crate::oci::{self, AnyManifest, Child, Descriptor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An OCI image layout, on disk or inside a tar.
pub(super) enum Layout {
    Dir { root: PathBuf },
    Tar(TarIndex),
}

impl Layout {
    pub(super) fn dir(dir: &Path) -> Result<Self, Error> {
        let root = dir.canonicalize().map_err(|e| {
            Error::runtime(format!(
                "cannot open oci layout directory {}: {e}",
                dir.display()
            ))
        })?;
        if !root.is_dir() {
            return Err(Error::runtime(format!(
                "{} is not a directory: oci: takes an OCI image layout directory (use oci-archive: for a tar)",
                dir.display()
            )));
        }
        Ok(Self::Dir { root })
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Layout::Dir { root } => format!("oci layout {}", root.display()),
            Layout::Tar(idx) => format!("oci archive {}", idx.path().display()),
        }
    }

    /// A regular file of the layout by relative name; `None` when absent (a dangling link is
    /// absent). Links are followed only while they stay inside the layout, and anything but a
    /// regular file (a directory, a FIFO, a device) is refused: reading one would hang or lie.
    fn locate(&self, rel: &str) -> Result<Option<FileRange>, Error> {
        match self {
            Layout::Tar(idx) => idx.locate(rel),
            Layout::Dir { root } => {
                let path = root.join(rel);
                match std::fs::symlink_metadata(&path) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(Error::runtime(format!(
                            "cannot read {}: {e}",
                            path.display()
                        )))
                    }
                }
                let real = match path.canonicalize() {
                    Ok(p) => p,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(Error::runtime(format!(
                            "cannot read {}: {e}",
                            path.display()
                        )))
                    }
                };
                if !real.starts_with(root) {
                    return Err(Error::runtime(format!(
                        "{rel} in {} is a link to {} outside the layout; refusing to read it",
                        self.describe(),
                        real.display()
                    )));
                }
                let meta = real
                    .metadata()
                    .map_err(|e| Error::runtime(format!("cannot read {}: {e}", real.display())))?;
                if !meta.is_file() {
                    return Err(Error::runtime(format!(
                        "{rel} in {} is not a regular file",
                        self.describe()
                    )));
                }
                Ok(Some(FileRange::whole(real, meta.len())))
            }
        }
    }
}

/// Which document of the layout is the image.
#[derive(Debug)]
enum Root {
    Descriptor(Descriptor),
    /// `index.json` itself, for layouts that list platform manifests directly and name nothing.
    IndexJson,
}

/// What reading one source's manifests and configs has cost so far (see `MAX_MANIFESTS`).
#[derive(Default)]
struct Budget {
    manifests: usize,
    bytes: u64,
    config_bytes: u64,
}

struct Loader<'a> {
    layout: &'a Layout,
    what: String,
    read: Budget,
    blobs: BTreeMap<Digest, FileRange>,
}

/// Read the layout's image (the one named `reference`, or the only one) and every manifest,
/// index and config under it, verified; returns it with every blob it names that is present.
pub(super) fn load(
    layout: &Layout,
    reference: Option<&str>,
) -> Result<(Manifest, BTreeMap<Digest, FileRange>), Error> {
    let what = layout.describe();
    let marker = layout.locate("oci-layout")?.ok_or_else(|| {
        Error::runtime(format!(
            "{what} is not an OCI image layout: it has no oci-layout file"
        ))
    })?;
    let marker: serde_json::Value =
        serde_json::from_slice(&marker.read_small(64 * 1024, "oci-layout")?)
            .map_err(|e| Error::runtime(format!("oci-layout in {what} is not valid json: {e}")))?;
    if marker
        .get("imageLayoutVersion")
        .and_then(|v| v.as_str())
        .is_none()
    {
        return Err(Error::runtime(format!(
            "oci-layout in {what} has no imageLayoutVersion"
        )));
    }
    let index_range = layout.locate("index.json")?.ok_or_else(|| {
        Error::runtime(format!(
            "{what} has no index.json: the layout is incomplete"
        ))
    })?;
    let index_bytes = index_range.read_small(MAX_MANIFEST, "index.json")?;
    let index: AnyManifest = serde_json::from_slice(&index_bytes).map_err(|e| {
        Error::runtime(format!(
            "index.json in {what} is not a valid image index: {e}"
        ))
    })?;
    let descs = index.manifests.clone().unwrap_or_default();
    let mut l = Loader {
        layout,
        what,
        read: Budget::default(),
        blobs: BTreeMap::new(),
    };
    let root = match select_root(&descs, reference, &l.what)? {
        Root::Descriptor(d) => l.manifest(&d, 0, true)?,
        Root::IndexJson => {
            let children = descs
                .iter()
                .map(|d| {
                    let mut node = l.manifest(d, 1, false)?;
                    node.platform = d.platform_name();
                    Ok(node)
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Manifest {
                digest: Digest::of(&index_bytes),
                media_type: index
                    .effective_media_type(None)
                    .unwrap_or_else(|| oci::OCI_INDEX.into()),
                bytes: index_bytes,
                platform: None,
                class: Child::Index,
                body: Body::Index(children),
            }
        }
    };
    Ok((root, l.blobs))
}

/// THE choice of the image in a layout: the one named `reference` (by its ref name or digest;
/// several descriptors may name it only if they agree), else the only descriptor, else
/// `index.json` itself when it lists unnamed platform manifests; anything else is ambiguous.
fn select_root(descs: &[Descriptor], reference: Option<&str>, what: &str) -> Result<Root, Error> {
    let names = || {
        let mut n: Vec<&str> = descs.iter().filter_map(Descriptor::ref_name).collect();
        n.dedup();
        if n.is_empty() {
            "none".to_string()
        } else {
            n.join(", ")
        }
    };
    if let Some(r) = reference {
        let found: Vec<&Descriptor> = descs
            .iter()
            .filter(|d| d.ref_name() == Some(r) || (r.starts_with("sha256:") && d.digest == r))
            .collect();
        return match found.as_slice() {
            [] => Err(Error::usage(format!("{what} has no image named '{r}' (names in it: {})", names()))),
            [first, rest @ ..] if rest.iter().all(|d| d.digest == first.digest) => Ok(Root::Descriptor((*first).clone())),
            _ => Err(Error::usage(format!(
                "{what} has several different images named '{r}': re-export it with one image per name"
            ))),
        };
    }
    match descs {
        [] => Err(Error::runtime(format!(
            "{what} holds no image (index.json lists no manifests)"
        ))),
        [only] => Ok(Root::Descriptor(only.clone())),
        many if many.iter().all(|d| {
            d.ref_name().is_none()
                && d.platform.is_some()
                && d.media_type.as_deref().is_none_or(oci::is_image_manifest)
        }) =>
        {
            Ok(Root::IndexJson)
        }
        many => Err(Error::usage(format!(
            "{what} holds {} images: choose one with oci:<dir>:<name>, or export a single image (names in it: {})",
            many.len(),
            names()
        ))),
    }
}

impl Loader<'_> {
    /// Read and verify the manifest `desc` names, and everything under it.
    fn manifest(&mut self, desc: &Descriptor, depth: usize, root: bool) -> Result<Manifest, Error> {
        let where_ = self.what.clone();
        if depth > MAX_DEPTH {
            return Err(Error::runtime(format!(
                "{where_} nests indexes more than {MAX_DEPTH} deep"
            )));
        }
        self.read.manifests += 1;
        if self.read.manifests > MAX_MANIFESTS {
            return Err(Error::runtime(format!(
                "{where_} refers to more than {MAX_MANIFESTS} manifests (counting repeats): not an image a registry would accept"
            )));
        }
        let digest = Digest::parse(&desc.digest, &format!("a manifest descriptor in {where_}"))?;
        let what = format!("manifest {digest}");
        let range = self
            .layout
            .locate(&digest.layout_path())?
            .ok_or_else(|| missing(&where_, &what))?;
        if range.len != desc.size {
            return Err(size_mismatch(&where_, &what, range.len, desc.size));
        }
        self.read.bytes += range.len;
        if self.read.bytes > MAX_MANIFEST_BYTES {
            return Err(Error::runtime(format!(
                "{where_} refers to more than {} MiB of manifests (counting repeats): not an image a registry would accept",
                MAX_MANIFEST_BYTES >> 20
            )));
        }
        let bytes = range.read_small(MAX_MANIFEST, &what)?;
        if Digest::of(&bytes) != digest {
            return Err(corrupt(&where_, &what));
        }
        let doc: AnyManifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::runtime(format!("{what} in {where_} is not a valid manifest: {e}"))
        })?;
        if doc.schema_version == Some(1) {
            return Err(Error::runtime(format!(
                "{what} in {where_} is a Docker schema 1 manifest, which registries no longer accept: rebuild the image"
            )));
        }
        let media_type = doc
            .effective_media_type(desc.media_type.as_deref())
            .ok_or_else(|| {
                Error::runtime(format!(
                    "{what} in {where_} has no mediaType and is neither a manifest nor an index"
                ))
            })?;
        let is_index = oci::is_index(&media_type);
        if root && !is_index && !oci::is_image_manifest(&media_type) {
            return Err(Error::runtime(format!(
                "{what} in {where_} has media type {media_type}, which is not an image manifest or index"
            )));
        }
        let (body, config_bytes) = if is_index {
            let mut children = Vec::new();
            for child in doc.manifests.as_deref().unwrap_or_default() {
                let mut node = self.manifest(child, depth + 1, false)?;
                node.platform = child.platform_name();
                children.push(node);
            }
            (Body::Index(children), None)
        } else if oci::is_image_manifest(&media_type) {
            let (img, config_bytes) = self.image(&doc, &what)?;
            (Body::Image(img), Some(config_bytes))
        } else {
            // Not an image or an index: the rule below says why it cannot be classified.
            (Body::Index(Vec::new()), None)
        };
        let needed = oci::config_needed(desc, &doc).and(config_bytes.as_deref());
        let class = oci::classify(desc, &doc, needed)
            .map_err(|why| Error::inconclusive(format!("{where_}: {why}")))?;
        if !is_index && !oci::is_image_manifest(&media_type) {
            // classify only accepts an unknown document as a skipped child: still not pushable.
            return Err(Error::runtime(format!(
                "{what} in {where_} has media type {media_type}, which is not an image manifest or index"
            )));
        }
        Ok(Manifest {
            digest,
            media_type,
            bytes,
            platform: None,
            class,
            body,
        })
    }

    /// An image manifest's config (read and verified: the platform and, for the rule, its
    /// bytes) and layers (present with the right size, or foreign).
    fn image(&mut self, doc: &AnyManifest, what: &str) -> Result<(ImageManifest, Vec<u8>), Error> {
        let where_ = self.what.clone();
        let config = doc
            .config
            .as_ref()
            .ok_or_else(|| Error::runtime(format!("{what} in {where_} has no config")))?;
        let config = self.blob(config, "config")?;
        let range = self
            .blobs
            .get(&config.digest)
            .cloned()
            .ok_or_else(|| missing(&where_, &format!("config {}", config.digest)))?;
        self.read.config_bytes += range.len;
        if self.read.config_bytes > MAX_CONFIG_BYTES {
            return Err(Error::runtime(format!(
                "{where_} refers to more than {} MiB of image configs (counting repeats): not an image a registry would accept",
                MAX_CONFIG_BYTES >> 20
            )));
        }
        let cwhat = format!("config {}", config.digest);
        let bytes = range.read_small(MAX_CONFIG, &cwhat)?;
        if Digest::of(&bytes) != config.digest {
            return Err(corrupt(&where_, &cwhat));
        }
        let layers = doc
            .layers
            .iter()
            .map(|l| self.blob(l, "layer"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            ImageManifest {
                config,
                config_platform: config_platform(&bytes),
                layers,
            },
            bytes,
        ))
    }

    fn blob(&mut self, desc: &Descriptor, kind: &str) -> Result<Blob, Error> {
        let where_ = &self.what;
        let digest = Digest::parse(&desc.digest, &format!("a {kind} descriptor in {where_}"))?;
        let what = format!("{kind} {digest}");
        match self.layout.locate(&digest.layout_path())? {
            // Foreign (non-distributable) layers are fetched from their URLs by whoever runs
            // the image: never pushed, and reported unread by the scan.
            None if !desc.urls.is_empty() && kind == "layer" => {}
            None => return Err(missing(where_, &what)),
            Some(r) if r.len != desc.size => {
                return Err(size_mismatch(where_, &what, r.len, desc.size))
            }
            Some(range) => {
                self.blobs.insert(digest.clone(), range);
            }
        }
        Ok(Blob {
            digest,
            size: desc.size,
            media_type: desc.media_type.clone(),
            urls: desc.urls.clone(),
        })
    }
}

/// `os/arch[/variant]` named by an image config, when it names both (an artifact's config
/// may not be JSON at all: then nothing).
pub(super) fn config_platform(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Conf {
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        os: String,
        #[serde(default)]
        variant: Option<String>,
    }
    let c: Conf = serde_json::from_slice(bytes).ok()?;
    (!c.os.is_empty() && !c.architecture.is_empty()).then(|| {
        oci::Platform {
            architecture: c.architecture,
            os: c.os,
            variant: c.variant,
        }
        .render()
    })
}

pub(super) fn missing(where_: &str, what: &str) -> Error {
    Error::runtime(format!(
        "{what} is missing from {where_}: the image source is incomplete; re-export the image"
    ))
}

fn size_mismatch(where_: &str, what: &str, actual: u64, expected: u64) -> Error {
    Error::runtime(format!(
        "{what} in {where_} has {actual} bytes but its descriptor says {expected}: the image source is corrupt; re-export the image"
    ))
}

fn corrupt(where_: &str, what: &str) -> Error {
    Error::runtime(format!(
        "{what} in {where_} does not match its digest: the image source is corrupt; re-export the image"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout_with_outside_link() -> (tempfile::TempDir, PathBuf) {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("layout");
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(base.path().join("secret"), b"outside").unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        (base, dir)
    }

    #[cfg(unix)]
    #[test]
    fn layout_dir_rejects_symlinks_escaping_and_non_regular_files() {
        let (base, dir) = layout_with_outside_link();
        std::os::unix::fs::symlink(base.path().join("secret"), dir.join("index.json")).unwrap();
        let layout = Layout::dir(&dir).unwrap();
        let err = layout.locate("index.json").unwrap_err();
        assert!(err.message.contains("outside the layout"), "{err}");
        // A link that stays inside is fine.
        std::fs::write(dir.join("blobs/sha256/real"), b"x").unwrap();
        std::os::unix::fs::symlink("real", dir.join("blobs/sha256/alias")).unwrap();
        assert_eq!(layout.locate("blobs/sha256/alias").unwrap().unwrap().len, 1);
        assert!(layout.locate("blobs/sha256/none").unwrap().is_none());
        // A dangling link is a missing file; a directory is not a blob.
        std::os::unix::fs::symlink("gone", dir.join("blobs/sha256/dangling")).unwrap();
        assert!(layout.locate("blobs/sha256/dangling").unwrap().is_none());
        std::fs::create_dir(dir.join("blobs/sha256/adir")).unwrap();
        let err = layout.locate("blobs/sha256/adir").unwrap_err();
        assert!(err.message.contains("not a regular file"), "{err}");
    }

    fn desc(json: &str) -> Descriptor {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn root_selection() {
        let a = desc(
            r#"{"digest":"sha256:a","size":1,"annotations":{"org.opencontainers.image.ref.name":"v1"}}"#,
        );
        let b = desc(
            r#"{"digest":"sha256:b","size":1,"annotations":{"org.opencontainers.image.ref.name":"v2"}}"#,
        );
        let both = [a.clone(), b.clone()];
        assert!(
            matches!(select_root(&both, Some("v2"), "x").unwrap(), Root::Descriptor(d) if d.digest == "sha256:b")
        );
        let e = select_root(&both, None, "x").err().unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("v1, v2"), "{e}");
        assert!(select_root(&both, Some("v3"), "x").is_err());
        assert!(matches!(
            select_root(std::slice::from_ref(&a), None, "x").unwrap(),
            Root::Descriptor(_)
        ));
        // Two different images under one name: ambiguous, never both.
        let a2 = desc(
            r#"{"digest":"sha256:z","size":1,"annotations":{"org.opencontainers.image.ref.name":"v1"}}"#,
        );
        assert_eq!(
            select_root(&[a, a2], Some("v1"), "x")
                .unwrap_err()
                .exit_code(),
            2
        );
        let p1 = desc(
            r#"{"digest":"sha256:c","size":1,"platform":{"os":"linux","architecture":"amd64"}}"#,
        );
        let p2 = desc(
            r#"{"digest":"sha256:d","size":1,"platform":{"os":"linux","architecture":"arm64"}}"#,
        );
        assert!(matches!(
            select_root(&[p1, p2.clone()], None, "x").unwrap(),
            Root::IndexJson
        ));
        // One named image and an unnamed one: ambiguous (the scan used to read both).
        assert_eq!(select_root(&[b, p2], None, "x").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn config_platforms() {
        assert_eq!(
            config_platform(br#"{"os":"linux","architecture":"arm64","variant":"v8"}"#).as_deref(),
            Some("linux/arm64/v8")
        );
        assert_eq!(config_platform(br#"{"os":"linux"}"#), None);
        assert_eq!(config_platform(b"\x00binary"), None);
    }
}
