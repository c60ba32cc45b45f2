//! Reading what a scan needs from an image: its platform images (an OCI layout, an OCI or
//! `docker save` archive, a local Docker image, or a plain root filesystem), then each
//! image's layers in order as streamed tar entries, with whiteouts applied.
//!
//! Nothing is extracted to disk and the image is never held in memory: every layer is
//! decompressed once as a stream, and only the files a cataloger asks for (see
//! [`crate::scan::catalog::want`]) are kept — small databases and manifests as bytes under a
//! size cap, executables as the few facts [`crate::scan::binary`] reads from them on the fly.

use crate::error::Error;
use crate::oci::{self, AnyManifest, Child, Descriptor, Platform};
use crate::registry::archive::TarIndex;
use crate::registry::blob::FileRange;
use crate::registry::SourceSpec;
use crate::scan::binary::{self, BinaryInfo};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// Manifests, indexes and configs are small JSON documents; anything larger is not one.
const MAX_JSON: u64 = 64 << 20;
/// Indexes nest only shallowly in practice; deeper is an error, not a stack overflow.
const MAX_DEPTH: usize = 4;
/// What `scan --from` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanSource {
    /// Any image source the push understands (`oci:`, `oci-archive:`, `docker-archive:`, `docker:`).
    Image(SourceSpec),
    /// `dir:<rootfs>`: an unpacked root filesystem (no layers, no whiteouts).
    Dir(PathBuf),
}

impl FromStr for ScanSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Some(rest) = s.strip_prefix("dir:") {
            if rest.is_empty() {
                return Err(Error::usage(format!(
                    "invalid scan source '{s}': nothing after 'dir:'; expected dir:<root filesystem directory>"
                )));
            }
            return Ok(ScanSource::Dir(PathBuf::from(rest)));
        }
        s.parse::<SourceSpec>().map(ScanSource::Image).map_err(|e| {
            Error::usage(format!(
                "{} (or dir:<root filesystem directory>)",
                e.message
            ))
        })
    }
}

impl fmt::Display for ScanSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanSource::Image(s) => write!(f, "{s}"),
            ScanSource::Dir(d) => write!(f, "dir:{}", d.display()),
        }
    }
}

/// What a cataloger wants done with a regular file (decided from its path, size and mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Skip,
    /// Keep the content, if it is at most `cap` bytes.
    Bytes {
        cap: u64,
    },
    /// Read it as a possible Go or Rust binary; keep only what [`binary::inspect`] finds.
    Binary,
}

/// A file kept for the catalogers.
#[derive(Debug, Clone)]
pub enum Kept {
    Bytes(Vec<u8>),
    Binary(BinaryInfo),
    /// Wanted, but larger than its cap (counted as skipped).
    TooLarge(u64),
}

/// The files of the final (squashed) filesystem that the catalogers asked for, by path
/// relative to the root (`var/lib/dpkg/status`).
#[derive(Debug, Default)]
pub struct FileTree {
    pub files: BTreeMap<String, Kept>,
    /// Wanted files that could not be read (permissions, I/O errors in a `dir:` source).
    pub unreadable: usize,
}

impl FileTree {
    pub fn bytes(&self, path: &str) -> Option<&[u8]> {
        match self.files.get(path) {
            Some(Kept::Bytes(b)) => Some(b),
            _ => None,
        }
    }
}

/// One blob inside a local file: an OCI blob file, or a layer inside an archive.
#[derive(Debug, Clone)]
pub struct Range {
    path: Arc<Path>,
    offset: u64,
    len: u64,
}

/// The archive index is the push's (registry::archive::TarIndex): one walk over the headers
/// with the same bounds on extension headers and links, for both.
impl From<FileRange> for Range {
    fn from(r: FileRange) -> Self {
        Range {
            path: r.path,
            offset: r.offset,
            len: r.len,
        }
    }
}

impl Range {
    fn open(&self) -> std::io::Result<std::io::Take<File>> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(f.take(self.len))
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, Error> {
        if self.len > MAX_JSON {
            return Err(Error::runtime(format!(
                "{what} is {} bytes: too large to be one",
                self.len
            )));
        }
        let mut buf = Vec::with_capacity(self.len as usize);
        self.open()
            .and_then(|mut r| r.read_to_end(&mut buf))
            .map_err(|e| Error::runtime(format!("cannot read {what}: {e}")))?;
        serde_json::from_slice(&buf)
            .map_err(|e| Error::runtime(format!("{what} is not valid json: {e}")))
    }
}

/// One platform image of a source: its layers, bottom first.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// `os/arch[/variant]` when the index or the image config names it.
    pub platform: Option<String>,
    /// What to call it in messages.
    pub label: String,
    pub layers: Vec<Range>,
}

/// The images of a source, plus whatever must stay alive while they are read (the temp
/// file `docker save` wrote).
pub struct Images {
    pub images: Vec<PlatformImage>,
    _temp: Option<tempfile::TempDir>,
}

/// `os/arch[/variant]`, or `None` when either part is missing.
fn platform_name(p: &Platform) -> Option<String> {
    (!p.os.is_empty() && !p.architecture.is_empty()).then(|| p.render())
}

#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl ImageConfig {
    fn platform(&self) -> Option<String> {
        platform_name(&Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerSaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// List the platform images of an image source. Multi-platform indexes give one entry per
/// runnable platform (attestations and artifacts are left out).
pub fn images(spec: &SourceSpec) -> Result<Images, Error> {
    match spec {
        SourceSpec::OciDir { dir, reference } => {
            let store = Store::Dir(dir.canonicalize().map_err(|e| {
                Error::runtime(format!(
                    "cannot open oci layout directory {}: {e}",
                    dir.display()
                ))
            })?);
            Ok(Images {
                images: oci_images(&store, reference.as_deref())?,
                _temp: None,
            })
        }
        SourceSpec::OciArchive(file) => {
            let store = Store::Tar(TarIndex::open(file)?);
            Ok(Images {
                images: oci_images(&store, None)?,
                _temp: None,
            })
        }
        SourceSpec::DockerArchive(file) => Ok(Images {
            images: vec![docker_image(file)?],
            _temp: None,
        }),
        SourceSpec::Docker(name) => {
            let temp = tempfile::Builder::new()
                .prefix("inspector-gate-scan-")
                .tempdir()
                .map_err(|e| {
                    Error::runtime(format!(
                        "cannot create a temporary directory (set TMPDIR to a writable place): {e}"
                    ))
                })?;
            let file = temp.path().join("image.tar");
            docker_save(name, &file)?;
            Ok(Images {
                images: vec![docker_image(&file)?],
                _temp: Some(temp),
            })
        }
    }
}

fn docker_save(name: &str, file: &Path) -> Result<(), Error> {
    let out = std::process::Command::new("docker")
        .arg("save")
        .arg("-o")
        .arg(file)
        .arg("--")
        .arg(name)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::runtime(
                "the docker CLI is not on PATH: install it, or export the image (docker save -o image.tar IMAGE) and scan docker-archive:image.tar",
            ),
            _ => Error::runtime(format!("cannot run docker save: {e}")),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Err(Error::runtime(format!(
            "docker save {name} failed ({}): {}",
            out.status,
            why.unwrap_or("no error output")
        )));
    }
    Ok(())
}

/// Where the files of an OCI layout live: a directory or a tar of one.
enum Store {
    Dir(PathBuf),
    Tar(TarIndex),
}

impl Store {
    fn describe(&self) -> String {
        match self {
            Store::Dir(d) => format!("oci layout {}", d.display()),
            Store::Tar(t) => format!("oci archive {}", t.path().display()),
        }
    }

    fn locate(&self, rel: &str) -> Result<Option<Range>, Error> {
        match self {
            Store::Tar(t) => Ok(t.locate(rel)?.map(Range::from)),
            Store::Dir(root) => {
                let path = root.join(rel);
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
                        "{rel} in {} links outside the layout; refusing to read it",
                        self.describe()
                    )));
                }
                let len = real
                    .metadata()
                    .map_err(|e| Error::runtime(format!("cannot read {}: {e}", real.display())))?
                    .len();
                Ok(Some(Range {
                    path: real.into(),
                    offset: 0,
                    len,
                }))
            }
        }
    }

    fn blob(&self, digest: &str, what: &str) -> Result<Option<Range>, Error> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                Error::runtime(format!(
                    "{what} in {} has an invalid digest '{digest}'",
                    self.describe()
                ))
            })?;
        self.locate(&format!("blobs/sha256/{hex}"))
    }
}

fn oci_images(store: &Store, reference: Option<&str>) -> Result<Vec<PlatformImage>, Error> {
    let what = store.describe();
    if store.locate("oci-layout")?.is_none() {
        return Err(Error::runtime(format!(
            "{what} is not an OCI image layout: it has no oci-layout file"
        )));
    }
    let index: AnyManifest = store
        .locate("index.json")?
        .ok_or_else(|| Error::runtime(format!("{what} has no index.json")))?
        .read_json(&format!("index.json of {what}"))?;
    let descs = index.manifests.unwrap_or_default();
    let chosen: Vec<&Descriptor> = match reference {
        Some(r) => {
            let found: Vec<&Descriptor> = descs
                .iter()
                .filter(|d| d.ref_name() == Some(r) || d.digest == r)
                .collect();
            if found.is_empty() {
                return Err(Error::usage(format!(
                    "{what} has no image named '{r}' (names in it: {})",
                    names(&descs)
                )));
            }
            found
        }
        None => {
            let mut named: Vec<&str> = descs.iter().filter_map(Descriptor::ref_name).collect();
            named.sort_unstable();
            named.dedup();
            if named.len() > 1 {
                return Err(Error::usage(format!(
                    "{what} holds several images: choose one with oci:<dir>:<name> (names in it: {})",
                    names(&descs)
                )));
            }
            descs.iter().collect()
        }
    };
    let mut out = Vec::new();
    for d in chosen {
        collect(store, d, None, 0, &mut out)?;
    }
    if out.is_empty() {
        return Err(Error::runtime(format!(
            "{what} holds no runnable image manifest"
        )));
    }
    Ok(out)
}

fn names(descs: &[Descriptor]) -> String {
    let mut n: Vec<&str> = descs.iter().filter_map(Descriptor::ref_name).collect();
    n.dedup();
    if n.is_empty() {
        "none".into()
    } else {
        n.join(", ")
    }
}

fn collect(
    store: &Store,
    desc: &Descriptor,
    platform: Option<String>,
    depth: usize,
    out: &mut Vec<PlatformImage>,
) -> Result<(), Error> {
    let what = store.describe();
    if depth > MAX_DEPTH {
        return Err(Error::runtime(format!(
            "{what} nests indexes more than {MAX_DEPTH} deep"
        )));
    }
    // The gate's one rule (oci::classify): only a provably unrunnable child is skipped; an
    // annotation or artifactType on the descriptor is a claim and skips nothing.
    if oci::skip_by_descriptor(desc).is_some() {
        return Ok(());
    }
    let label = format!("manifest {}", desc.digest);
    let doc: AnyManifest = store
        .blob(&desc.digest, &label)?
        .ok_or_else(|| missing(&what, &label))?
        .read_json(&format!("{label} in {what}"))?;
    match oci::classify(desc, &doc) {
        Ok(Child::Skip(_)) => return Ok(()),
        Ok(Child::Index) => {
            for child in doc.manifests.iter().flatten() {
                let p = child.platform.as_ref().and_then(platform_name);
                collect(store, child, p, depth + 1, out)?;
            }
            return Ok(());
        }
        Ok(Child::Image) => {}
        Err(why) => return Err(Error::inconclusive(format!("{why} ({what})"))),
    }
    let platform = platform.or_else(|| desc.platform.as_ref().and_then(platform_name));
    let config = doc.config.as_ref().ok_or_else(|| {
        Error::runtime(format!(
            "{label} in {what} is neither an image manifest nor an index (media type {})",
            doc.media_type.as_deref().unwrap_or("none")
        ))
    })?;
    let platform = match platform {
        Some(p) => Some(p),
        None => store
            .blob(&config.digest, "the image config")?
            .map(|r| r.read_json::<ImageConfig>(&format!("the image config in {what}")))
            .transpose()?
            .and_then(|c| c.platform()),
    };
    let mut layers = Vec::with_capacity(doc.layers.len());
    for (i, l) in doc.layers.iter().enumerate() {
        let lw = format!("layer {} ({})", i + 1, l.digest);
        match store.blob(&l.digest, &lw)? {
            Some(r) => layers.push(r),
            // Foreign layers (Windows base layers) live at their URLs, not in the layout.
            None if !l.urls.is_empty() => {}
            None => return Err(missing(&what, &lw)),
        }
    }
    out.push(PlatformImage {
        label: match &platform {
            Some(p) => format!("{what} ({p})"),
            None => what,
        },
        platform,
        layers,
    });
    Ok(())
}

fn missing(where_: &str, what: &str) -> Error {
    Error::runtime(format!(
        "{what} is missing from {where_}: the image source is incomplete; re-export the image"
    ))
}

fn docker_image(file: &Path) -> Result<PlatformImage, Error> {
    let idx = TarIndex::open(file)?;
    let what = format!("docker archive {}", file.display());
    let Some(list) = idx.locate("manifest.json")?.map(Range::from) else {
        let hint = if idx.locate("index.json")?.is_some() {
            " (it looks like an OCI archive: use oci-archive:)"
        } else {
            ""
        };
        return Err(Error::runtime(format!(
            "{what} has no manifest.json, so it is not a docker save archive{hint}"
        )));
    };
    let entries: Vec<DockerSaveEntry> = list.read_json(&format!("manifest.json of {what}"))?;
    let entry = match entries.as_slice() {
        [one] => one,
        [] => return Err(Error::runtime(format!("{what} holds no image"))),
        many => {
            let tags: Vec<String> = many
                .iter()
                .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
                .collect();
            return Err(Error::usage(format!(
                "{what} holds {} images ({}): save one image per archive (docker save IMAGE)",
                many.len(),
                tags.join(", ")
            )));
        }
    };
    let platform = idx
        .locate(&entry.config)?
        .map(Range::from)
        .ok_or_else(|| missing(&what, "the image config"))?
        .read_json::<ImageConfig>(&format!("the image config in {what}"))?
        .platform();
    let layers = entry
        .layers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            idx.locate(name)?
                .map(Range::from)
                .ok_or_else(|| missing(&what, &format!("layer {} ({name})", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PlatformImage {
        label: what,
        platform,
        layers,
    })
}

/// A path inside an archive or a layer, relative and with `/` separators; `None` when it
/// is empty or climbs out with `..`.
pub(crate) fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for comp in Path::new(name).components() {
        match comp {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// How a layer blob is compressed, from its first bytes (media types lie often enough).
fn decompress<'a>(r: impl Read + 'a, what: &str) -> Result<Box<dyn Read + 'a>, Error> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br
        .fill_buf()
        .map_err(|e| Error::runtime(format!("cannot read {what}: {e}")))?;
    Ok(match head {
        [0x1f, 0x8b, ..] => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(
            ruzstd::decoding::StreamingDecoder::new(br)
                .map_err(|e| Error::runtime(format!("{what} is not valid zstd: {e}")))?,
        ),
        _ => Box::new(br),
    })
}

/// The file-selection callback the catalogers provide: path (relative), size, executable.
pub type Selector<'a> = &'a dyn Fn(&str, u64, bool) -> Want;

/// Read an image's layers bottom-up into the squashed set of wanted files.
pub fn read_image(img: &PlatformImage, want: Selector) -> Result<FileTree, Error> {
    // path -> (layer index that wrote it, content)
    let mut kept: BTreeMap<String, (usize, Kept)> = BTreeMap::new();
    for (i, layer) in img.layers.iter().enumerate() {
        let what = format!("layer {} of {}", i + 1, img.label);
        let raw = layer
            .open()
            .map_err(|e| Error::runtime(format!("cannot read {what}: {e}")))?;
        let mut ar = tar::Archive::new(decompress(raw, &what)?);
        let broken = |e: std::io::Error| {
            Error::runtime(format!(
                "{what} is not a readable tar stream ({}): the image is corrupt; re-export it",
                crate::error::one_line(&e.to_string())
            ))
        };
        for entry in ar.entries().map_err(broken)? {
            let mut entry = entry.map_err(broken)?;
            let raw_path = entry.path().map_err(broken)?.to_string_lossy().into_owned();
            let Some(path) = normalize(&raw_path) else {
                continue;
            };
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (Some(d), b),
                None => (None, path.as_str()),
            };
            // Whiteouts hide what lower layers put there, never what this layer adds.
            if base == ".wh..wh..opq" {
                if let Some(d) = dir {
                    remove_under(&mut kept, d, i, false);
                } else {
                    kept.retain(|_, (l, _)| *l >= i);
                }
                continue;
            }
            if let Some(name) = base.strip_prefix(".wh.") {
                let target = match dir {
                    Some(d) => format!("{d}/{name}"),
                    None => name.to_string(),
                };
                remove_under(&mut kept, &target, i, true);
                continue;
            }
            let header = entry.header();
            let kind = header.entry_type();
            if kind.is_file() || kind == tar::EntryType::Continuous {
                let size = entry.size();
                let exec = header.mode().map(|m| m & 0o111 != 0).unwrap_or(false);
                match want(&path, size, exec) {
                    Want::Skip => {
                        // A file replacing a kept one of a lower layer hides it.
                        kept.remove(&path);
                    }
                    Want::Bytes { cap } if size > cap => {
                        kept.insert(path, (i, Kept::TooLarge(size)));
                    }
                    Want::Bytes { .. } => {
                        let mut buf = Vec::with_capacity(size as usize);
                        entry.read_to_end(&mut buf).map_err(broken)?;
                        kept.insert(path, (i, Kept::Bytes(buf)));
                    }
                    Want::Binary => {
                        let info = binary::inspect(&mut entry, size).map_err(broken)?;
                        match info {
                            Some(info) => {
                                kept.insert(path, (i, Kept::Binary(info)));
                            }
                            None => {
                                kept.remove(&path);
                            }
                        }
                    }
                }
            } else if kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .and_then(|t| normalize(&t.to_string_lossy()));
                match target.and_then(|t| kept.get(&t).map(|(_, k)| k.clone())) {
                    Some(k) if want(&path, 0, false) != Want::Skip => {
                        kept.insert(path, (i, k));
                    }
                    _ => {
                        kept.remove(&path);
                    }
                }
            } else if !kind.is_dir() {
                // A symlink or special file replaces whatever was at this path.
                kept.remove(&path);
            }
        }
    }
    Ok(FileTree {
        files: kept.into_iter().map(|(p, (_, k))| (p, k)).collect(),
        unreadable: 0,
    })
}

/// Drop what layers below `layer` kept at `path` (when `itself`) and anywhere under it.
fn remove_under(
    kept: &mut BTreeMap<String, (usize, Kept)>,
    path: &str,
    layer: usize,
    itself: bool,
) {
    if itself && kept.get(path).is_some_and(|(l, _)| *l < layer) {
        kept.remove(path);
    }
    let prefix = format!("{path}/");
    let doomed: Vec<String> = kept
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .filter(|(_, (l, _))| *l < layer)
        .map(|(p, _)| p.clone())
        .collect();
    for p in doomed {
        kept.remove(&p);
    }
}

/// Read a root filesystem directory (`dir:`) into the set of wanted files. Symlinks are
/// never followed (a rootfs's absolute links point into the host), and the kernel's
/// pseudo-filesystems are left out when the root is `/`.
pub fn read_dir(root: &Path, want: Selector) -> Result<FileTree, Error> {
    let meta = std::fs::metadata(root).map_err(|e| {
        Error::runtime(format!(
            "cannot read root filesystem {}: {e}",
            root.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a directory: dir: takes an unpacked root filesystem",
            root.display()
        )));
    }
    let mut tree = FileTree::default();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            // An unreadable directory is skipped like an unreadable file: counted, no crash.
            Err(_) => {
                tree.unreadable += 1;
                continue;
            }
        };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(ft) = ent.file_type() else { continue };
            if ft.is_dir() {
                if rel.is_empty() && matches!(name.as_str(), "proc" | "sys" | "dev") {
                    continue;
                }
                stack.push((ent.path(), path));
            } else if ft.is_file() {
                let Ok(md) = ent.metadata() else { continue };
                let exec = is_exec(&md);
                match want(&path, md.len(), exec) {
                    Want::Skip => {}
                    Want::Bytes { cap } if md.len() > cap => {
                        tree.files.insert(path, Kept::TooLarge(md.len()));
                    }
                    Want::Bytes { .. } => match std::fs::read(ent.path()) {
                        Ok(b) => {
                            tree.files.insert(path, Kept::Bytes(b));
                        }
                        Err(_) => tree.unreadable += 1,
                    },
                    Want::Binary => {
                        let info = File::open(ent.path())
                            .and_then(|mut f| binary::inspect(&mut f, md.len()));
                        match info {
                            Ok(Some(info)) => {
                                tree.files.insert(path, Kept::Binary(info));
                            }
                            Ok(None) => {}
                            Err(_) => tree.unreadable += 1,
                        }
                    }
                }
            }
        }
    }
    Ok(tree)
}

#[cfg(unix)]
fn is_exec(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_exec(_md: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            match data {
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, name, *d).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, name, &[][..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn image(dir: &Path, layers: Vec<Vec<u8>>) -> PlatformImage {
        let layers = layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let p = dir.join(format!("l{i}"));
                std::fs::write(&p, &l).unwrap();
                Range {
                    path: p.into(),
                    offset: 0,
                    len: l.len() as u64,
                }
            })
            .collect();
        PlatformImage {
            platform: None,
            label: "test".into(),
            layers,
        }
    }

    fn all(path: &str, _: u64, _: bool) -> Want {
        if path.ends_with(".txt") {
            Want::Bytes { cap: 100 }
        } else {
            Want::Skip
        }
    }

    #[test]
    fn whiteouts_hide_lower_layers_only() {
        let dir = tempfile::tempdir().unwrap();
        let l1 = layer(&[
            ("a/x.txt", Some(b"1")),
            ("a/y.txt", Some(b"1")),
            ("b/z.txt", Some(b"1")),
            ("c/w.txt", Some(b"1")),
            ("keep.txt", Some(b"1")),
        ]);
        // gzip for one layer, plain for the other: both are read.
        let l2 = gz(&layer(&[
            ("a/.wh.x.txt", Some(b"")),
            ("b/new.txt", Some(b"2")),
            ("b/.wh..wh..opq", Some(b"")),
            ("./c/.wh.w.txt", Some(b"")),
            ("keep.txt", Some(b"2")),
        ]));
        let tree = read_image(&image(dir.path(), vec![l1, l2]), &all).unwrap();
        let names: Vec<&str> = tree.files.keys().map(String::as_str).collect();
        assert_eq!(names, ["a/y.txt", "b/new.txt", "keep.txt"]);
        assert_eq!(tree.bytes("keep.txt").unwrap(), b"2");
    }

    #[test]
    fn caps_are_enforced_and_a_directory_whiteout_removes_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![b'x'; 200];
        let l1 = layer(&[("d/big.txt", Some(&big)), ("d/e/f.txt", Some(b"1"))]);
        let l2 = layer(&[("d/.wh.e", Some(b""))]);
        let tree = read_image(&image(dir.path(), vec![l1, l2]), &all).unwrap();
        assert!(matches!(
            tree.files.get("d/big.txt"),
            Some(Kept::TooLarge(200))
        ));
        assert!(!tree.files.contains_key("d/e/f.txt"));
    }

    #[test]
    fn a_corrupt_layer_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad = gz(&layer(&[("a.txt", Some(b"1"))]));
        bad.truncate(bad.len() / 2);
        bad.extend_from_slice(&[0u8; 3]);
        let err = read_image(&image(dir.path(), vec![bad]), &all).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.message.contains("layer 1 of test"), "{err}");
    }

    #[test]
    fn sources_parse() {
        assert_eq!(
            "dir:/r".parse::<ScanSource>().unwrap(),
            ScanSource::Dir("/r".into())
        );
        assert!(matches!(
            "oci:/x:latest".parse::<ScanSource>().unwrap(),
            ScanSource::Image(SourceSpec::OciDir { .. })
        ));
        let e = "bogus:x".parse::<ScanSource>().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("dir:"), "{e}");
        assert!("dir:".parse::<ScanSource>().is_err());
    }

    #[test]
    fn link_resolution_stays_inside() {
        assert_eq!(normalize("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalize("a/../b"), None);
    }

    #[test]
    fn a_hostile_archive_gets_the_same_bounds_as_the_push() {
        // A PAX header declaring 300 MiB of records (a sparse hole): the scan reads archives
        // through the push's index, which refuses it without buffering the records.
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        let declared: u64 = 300 * 1024 * 1024;
        h.set_size(declared);
        h.set_path("PaxHeaders/x").unwrap();
        h.set_cksum();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), h.as_bytes()).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(f.path())
            .unwrap()
            .set_len(512 + declared + 1024)
            .unwrap();
        for spec in [
            SourceSpec::OciArchive(f.path().to_path_buf()),
            SourceSpec::DockerArchive(f.path().to_path_buf()),
        ] {
            let Err(e) = images(&spec) else {
                panic!("{spec:?}: a hostile archive was accepted");
            };
            assert!(e.message.contains("larger than 16 MiB"), "{}", e.message);
        }
    }
}
