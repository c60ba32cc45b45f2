//! Reading image sources: an OCI image layout (`oci:`), a tar of one (`oci-archive:`), a
//! `docker save` archive (`docker-archive:`) and a local Docker image (`docker:`, via
//! `docker save` into a temp file).
//!
//! Each source is turned into a tree of manifests (exact bytes, digests checked) plus the
//! blobs they reference, as byte ranges of local files. Blobs are handed to the uploader over
//! a channel as soon as they are ready, so a `docker-archive:` layer can upload while the
//! next one is still being compressed. OCI sources are validated whole (every manifest,
//! config and layer present with the right size) before the first blob is handed over.

use super::archive::TarIndex;
use super::blob::{BlobData, Digest, FileRange};
use super::compress;
use super::manifest::{
    self, AnyManifest, Descriptor, DockerManifest, DockerSaveEntry, ImageConfig, OutDescriptor,
};
use super::SourceSpec;
use crate::error::Error;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::sync::mpsc;

/// Registries cap manifests at 4 MiB; anything larger is not a manifest.
const MAX_MANIFEST: u64 = 4 << 20;
/// Image configs carry the build history and can be larger, but not unboundedly.
const MAX_CONFIG: u64 = 64 << 20;
/// Indexes nest (an index of indexes) only shallowly in practice; deeper is an error, not a stack overflow.
const MAX_DEPTH: usize = 4;
/// Manifests read for one source, counting repeats: a real multi-arch image has a few dozen.
/// Without a cap, indexes that each list the next one many times (100 × 100 × 100 × 100)
/// make 10^8 reads out of a few kilobytes, and the push never ends; and every copy is kept,
/// so the bytes are capped too.
const MAX_MANIFESTS: usize = 1000;
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// What reading one source's manifests has cost so far (see `MAX_MANIFESTS`).
#[derive(Default)]
struct Budget {
    manifests: usize,
    bytes: u64,
}
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
    /// Why this child of an index is not a runnable image (`crate::oci::classify`), if so.
    pub skip: Option<String>,
    pub children: Vec<ManifestNode>,
}

/// What a source hands to the uploader while it is being read.
#[derive(Debug)]
pub(crate) enum Event {
    Blob(BlobSrc),
    Info(String),
}

/// A fully read source. Keeps any temp dir alive until the uploads are done.
pub(crate) struct Prepared {
    pub root: ManifestNode,
    pub _temp: Option<tempfile::TempDir>,
}

/// Read `spec`, sending its blobs to `tx`; returns the manifest tree once everything is read.
pub(crate) async fn prepare(spec: SourceSpec, tx: mpsc::Sender<Event>) -> Result<Prepared, Error> {
    let sink = Sink(tx);
    match spec {
        SourceSpec::OciDir { dir, reference } => {
            let root = blocking(move || {
                let layout = Layout::dir(&dir)?;
                load_oci(&layout, reference.as_deref(), &sink)
            })
            .await?;
            Ok(Prepared { root, _temp: None })
        }
        SourceSpec::OciArchive(file) => {
            let root = blocking(move || {
                let layout = Layout::Tar(TarIndex::open(&file)?);
                load_oci(&layout, None, &sink)
            })
            .await?;
            Ok(Prepared { root, _temp: None })
        }
        SourceSpec::DockerArchive(file) => {
            let temp = temp_dir()?;
            let work = temp.path().to_path_buf();
            let root = blocking(move || load_docker_archive(&file, &work, &sink)).await?;
            Ok(Prepared {
                root,
                _temp: Some(temp),
            })
        }
        SourceSpec::Docker(image) => {
            let temp = temp_dir()?;
            let file = temp.path().join("docker-save.tar");
            sink.info(format!("exporting {image} with docker save"));
            docker_save(&image, &file).await?;
            let work = temp.path().to_path_buf();
            let root = blocking(move || load_docker_archive(&file, &work, &sink)).await?;
            Ok(Prepared {
                root,
                _temp: Some(temp),
            })
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error::runtime(format!(
            "reading the image source failed: {e}"
        )))
    })
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

/// An OCI image layout, on disk or inside a tar.
enum Layout {
    Dir { root: PathBuf },
    Tar(TarIndex),
}

impl Layout {
    fn dir(dir: &Path) -> Result<Self, Error> {
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

    fn describe(&self) -> String {
        match self {
            Layout::Dir { root } => format!("oci layout {}", root.display()),
            Layout::Tar(idx) => format!("oci archive {}", idx.path().display()),
        }
    }

    /// A file of the layout by relative name; `None` when absent. Symlinks are followed only
    /// while they stay inside the layout.
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
                    // A dangling link is as good as a missing file.
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

/// Which document of the layout is the image to push.
enum Root {
    Descriptor(Descriptor),
    /// `index.json` itself, for layouts that list platform manifests directly and name nothing.
    IndexJson,
}

fn load_oci(layout: &Layout, reference: Option<&str>, sink: &Sink) -> Result<ManifestNode, Error> {
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

    let mut blobs = BTreeMap::new();
    let mut read = Budget::default();
    let root = match select_root(&descs, reference, &what)? {
        Root::Descriptor(d) => load_manifest(layout, &d, 0, &mut blobs, &mut read)?,
        Root::IndexJson => {
            let children = descs
                .iter()
                .map(|d| load_manifest(layout, d, 1, &mut blobs, &mut read))
                .collect::<Result<Vec<_>, _>>()?;
            ManifestNode {
                digest: Digest::of(&index_bytes),
                media_type: index
                    .effective_media_type(None)
                    .unwrap_or_else(|| manifest::OCI_INDEX.into()),
                bytes: index_bytes,
                platform: None,
                skip: None,
                children,
            }
        }
    };
    // Only now, with every manifest and blob accounted for, does anything get uploaded.
    for blob in blobs.into_values() {
        sink.blob(blob)?;
    }
    Ok(root)
}

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
                && d.media_type
                    .as_deref()
                    .is_none_or(manifest::is_image_manifest)
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

fn load_manifest(
    layout: &Layout,
    desc: &Descriptor,
    depth: usize,
    blobs: &mut BTreeMap<Digest, BlobSrc>,
    read: &mut Budget,
) -> Result<ManifestNode, Error> {
    let where_ = layout.describe();
    if depth > MAX_DEPTH {
        return Err(Error::runtime(format!(
            "{where_} nests indexes more than {MAX_DEPTH} deep"
        )));
    }
    read.manifests += 1;
    if read.manifests > MAX_MANIFESTS {
        return Err(Error::runtime(format!(
            "{where_} refers to more than {MAX_MANIFESTS} manifests (counting repeats): not an image a registry would accept"
        )));
    }
    let digest = Digest::parse(&desc.digest, &format!("a manifest descriptor in {where_}"))?;
    let what = format!("manifest {digest}");
    let range = layout
        .locate(&digest.layout_path())?
        .ok_or_else(|| missing(&where_, &what))?;
    if range.len != desc.size {
        return Err(size_mismatch(&where_, &what, range.len, desc.size));
    }
    read.bytes += range.len;
    if read.bytes > MAX_MANIFEST_BYTES {
        return Err(Error::runtime(format!(
            "{where_} refers to more than {} MiB of manifests (counting repeats): not an image a registry would accept",
            MAX_MANIFEST_BYTES >> 20
        )));
    }
    let bytes = range.read_small(MAX_MANIFEST, &what)?;
    if Digest::of(&bytes) != digest {
        return Err(corrupt(&where_, &what));
    }
    let doc: AnyManifest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::runtime(format!("{what} in {where_} is not a valid manifest: {e}")))?;
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
    let mut children = Vec::new();
    if manifest::is_index(&media_type) {
        for child in doc.manifests.as_deref().unwrap_or_default() {
            let mut node = load_manifest(layout, child, depth + 1, blobs, read)?;
            node.platform = child.platform_name();
            let doc: AnyManifest = serde_json::from_slice(&node.bytes).map_err(|e| {
                Error::runtime(format!("manifest {} is not valid JSON: {e}", node.digest))
            })?;
            node.skip = match crate::oci::classify(child, &doc) {
                Ok(crate::oci::Child::Skip(why)) => Some(why),
                Ok(_) => None,
                Err(why) => return Err(Error::inconclusive(format!("{where_}: {why}"))),
            };
            children.push(node);
        }
    } else if manifest::is_image_manifest(&media_type) {
        let config = doc
            .config
            .as_ref()
            .ok_or_else(|| Error::runtime(format!("{what} in {where_} has no config")))?;
        add_blob(layout, config, "config", &where_, blobs)?;
        for layer in &doc.layers {
            add_blob(layout, layer, "layer", &where_, blobs)?;
        }
    } else {
        return Err(Error::runtime(format!(
            "{what} in {where_} has media type {media_type}, which is not an image manifest or index"
        )));
    }
    Ok(ManifestNode {
        digest,
        media_type,
        bytes,
        platform: None,
        skip: None,
        children,
    })
}

fn add_blob(
    layout: &Layout,
    desc: &Descriptor,
    kind: &str,
    where_: &str,
    blobs: &mut BTreeMap<Digest, BlobSrc>,
) -> Result<(), Error> {
    let digest = Digest::parse(&desc.digest, &format!("a {kind} descriptor in {where_}"))?;
    let what = format!("{kind} {digest}");
    match layout.locate(&digest.layout_path())? {
        // Foreign (non-distributable) layers are fetched from their URLs, never pushed.
        None if !desc.urls.is_empty() => Ok(()),
        None => Err(missing(where_, &what)),
        Some(r) if r.len != desc.size => Err(size_mismatch(where_, &what, r.len, desc.size)),
        Some(range) => {
            blobs.insert(
                digest.clone(),
                BlobSrc {
                    digest,
                    size: desc.size,
                    data: BlobData::File(range),
                    verify: true,
                },
            );
            Ok(())
        }
    }
}

fn missing(where_: &str, what: &str) -> Error {
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

fn load_docker_archive(path: &Path, work: &Path, sink: &Sink) -> Result<ManifestNode, Error> {
    let idx = TarIndex::open(path)?;
    let where_ = format!("docker archive {}", path.display());
    let entry = the_one_image(&idx, &where_)?;
    let config_range = idx
        .locate(&entry.config)?
        .ok_or_else(|| missing(&where_, &format!("the image config {}", entry.config)))?;
    let config_bytes = config_range.read_small(MAX_CONFIG, "the image config")?;
    let config_digest = Digest::of(&config_bytes);
    let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        Error::runtime(format!(
            "the image config in {where_} is not valid json: {e}"
        ))
    })?;
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(Error::runtime(format!(
            "{where_} lists {} layers but its image config has {} diff_ids: the archive is corrupt",
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let plan = layer_plan(&idx, &entry, &diff_ids, &where_)?;
    sink.blob(BlobSrc {
        digest: config_digest.clone(),
        size: config_range.len,
        data: BlobData::File(config_range),
        verify: true,
    })?;

    let layers = push_layers(plan, work, sink, &where_)?;
    let doc = DockerManifest {
        schema_version: 2,
        media_type: manifest::DOCKER_MANIFEST,
        config: OutDescriptor {
            media_type: manifest::DOCKER_CONFIG,
            size: config_bytes.len() as u64,
            digest: config_digest.to_string(),
        },
        layers,
    };
    let bytes = doc.to_bytes();
    Ok(ManifestNode {
        digest: Digest::of(&bytes),
        media_type: manifest::DOCKER_MANIFEST.into(),
        bytes,
        platform: None,
        skip: None,
        children: Vec::new(),
    })
}

/// The single image entry of the archive's `manifest.json` (one image per archive).
fn the_one_image(idx: &TarIndex, where_: &str) -> Result<DockerSaveEntry, Error> {
    let Some(list) = idx.locate("manifest.json")? else {
        let hint = if idx.locate("index.json")?.is_some() {
            " (it looks like an OCI archive: use oci-archive:)"
        } else {
            ""
        };
        return Err(Error::runtime(format!(
            "{where_} has no manifest.json, so it is not a docker save archive{hint}"
        )));
    };
    let entries: Vec<DockerSaveEntry> =
        serde_json::from_slice(&list.read_small(MAX_MANIFEST, "manifest.json")?)
            .map_err(|e| Error::runtime(format!("manifest.json in {where_} is not valid: {e}")))?;
    let entry = match entries.as_slice() {
        [one] => one.clone(),
        [] => return Err(Error::runtime(format!("{where_} holds no image"))),
        many => {
            let tags: Vec<String> = many
                .iter()
                .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
                .collect();
            return Err(Error::usage(format!(
                "{where_} holds {} images ({}): save one image per archive (docker save IMAGE)",
                many.len(),
                tags.join(", ")
            )));
        }
    };

    Ok(entry)
}

/// Every layer present, named by a valid diff_id and in a format a Docker v2 manifest can
/// describe, checked before the first blob is handed over (and so before anything connects
/// to the registry).
fn layer_plan(
    idx: &TarIndex,
    entry: &DockerSaveEntry,
    diff_ids: &[String],
    where_: &str,
) -> Result<Vec<(Digest, FileRange, Kind)>, Error> {
    let mut plan = Vec::with_capacity(entry.layers.len());
    for (i, (name, diff_id)) in entry.layers.iter().zip(diff_ids).enumerate() {
        let n = i + 1;
        let diff_id = Digest::parse(
            diff_id,
            &format!("the image config's rootfs.diff_ids in {where_}"),
        )?;
        let range = idx
            .locate(name)?
            .ok_or_else(|| missing(where_, &format!("layer {n} ({name})")))?;
        let kind = sniff(&range)?;
        if let Kind::Zstd = kind {
            return Err(Error::runtime(format!(
                "layer {n} of {where_} is zstd-compressed, which a Docker v2 manifest cannot describe: export it with oci-archive: instead"
            )));
        }
        plan.push((diff_id, range, kind));
    }
    Ok(plan)
}

/// Compress (plain tar) or pass through (already gzip) each layer and hand it to the sink,
/// once per distinct diff_id; returns the manifest's layer descriptors in order.
fn push_layers(
    plan: Vec<(Digest, FileRange, Kind)>,
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
            Kind::Gzip | Kind::Zstd => {
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
            Kind::Plain => {
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

enum Kind {
    Plain,
    Gzip,
    Zstd,
}

fn sniff(range: &FileRange) -> Result<Kind, Error> {
    let mut head = [0u8; 4];
    let n = range
        .open()
        .and_then(|mut r| r.read(&mut head))
        .map_err(|e| {
            Error::runtime(format!(
                "cannot read a layer from {}: {e}",
                range.path.display()
            ))
        })?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Kind::Zstd,
        _ => Kind::Plain,
    })
}

/// `docker save` the image into `file` using the docker CLI.
async fn docker_save(image: &str, file: &Path) -> Result<(), Error> {
    docker_save_with(Path::new("docker"), image, file).await
}

/// `program` stands for the docker CLI: a parameter so tests can put a script in its place
/// without touching the process-wide PATH.
async fn docker_save_with(program: &Path, image: &str, file: &Path) -> Result<(), Error> {
    let out = tokio::process::Command::new(program)
        .arg("save")
        .arg("-o")
        .arg(file)
        .arg("--")
        .arg(image)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::runtime(
                "the docker CLI is not on PATH: install it, or export the image elsewhere (docker save -o image.tar IMAGE) and push docker-archive:image.tar",
            ),
            _ => Error::runtime(format!("cannot run docker save: {e}")),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no error output");
        return Err(Error::runtime(format!(
            "docker save {image} failed ({}): {why}",
            out.status
        )));
    }
    Ok(())
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
    fn layout_dir_rejects_symlinks_escaping() {
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
            select_root(&[a], None, "x").unwrap(),
            Root::Descriptor(_)
        ));
        let p1 = desc(
            r#"{"digest":"sha256:c","size":1,"platform":{"os":"linux","architecture":"amd64"}}"#,
        );
        let p2 = desc(
            r#"{"digest":"sha256:d","size":1,"platform":{"os":"linux","architecture":"arm64"}}"#,
        );
        assert!(matches!(
            select_root(&[p1, p2], None, "x").unwrap(),
            Root::IndexJson
        ));
    }

    #[cfg(unix)]
    fn fake_docker(dir: &Path, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("docker");
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn docker_save_runs_the_cli_with_safe_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let docker = fake_docker(
            dir.path(),
            r#"[ "$1" = save ] && [ "$2" = -o ] && [ "$4" = -- ] && [ "$5" = app:1 ] || { echo "bad args: $*" >&2; exit 2; }
printf saved > "$3""#,
        );
        let out = dir.path().join("image.tar");
        docker_save_with(&docker, "app:1", &out).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"saved");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn docker_save_failures_name_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let docker = fake_docker(
            dir.path(),
            "echo 'Error response from daemon: reference does not exist' >&2; exit 1",
        );
        let err = docker_save_with(&docker, "app:1", &dir.path().join("x.tar"))
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.message.contains("docker save app:1 failed"), "{err}");
        assert!(err.message.contains("reference does not exist"), "{err}");

        let missing = dir.path().join("no-such-docker");
        let err = docker_save_with(&missing, "app:1", &dir.path().join("x.tar"))
            .await
            .unwrap_err();
        assert!(err.message.contains("docker CLI is not on PATH"), "{err}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
