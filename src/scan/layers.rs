//! Reading what a scan needs from an image: its platform images (from the one verified image
//! source, [`crate::image`], exactly as the push reads it; or a plain root filesystem), then
//! each image's layers, in order, as streamed tar entries applied the way a runtime unpacks
//! them ([`rootfs`]): names cleaned, hard links and symlinks resolved inside the root across
//! layers, whiteouts applied on raw names.
//!
//! Nothing is extracted to disk and the image is never held in memory: every layer is
//! decompressed once as a stream (and checked against its digest on the way), and only the
//! files a cataloger asks for (see [`crate::scan::catalog::want`]) are kept — small databases
//! and manifests as bytes under a size cap, all of them together within one memory budget
//! ([`held`]: past it, spilled to a temp file), executables as the few facts
//! [`crate::scan::binary`] reads from them on the fly. A file a cataloger wants only under a
//! name it is reached by through a link (a package database behind a symlinked directory,
//! a hard link to a file an earlier layer wrote) is read in a second pass over just the
//! layers that hold it. Tar headers are bounded as the push's archive index bounds them
//! ([`crate::image::archive::Bounded`]).
//!
//! Every read goes through the scan's [`Stop`] (`--timeout`, SIGTERM/SIGINT): a stopped scan
//! ends with the stop's error, never with the part it had read.
//!
//! What could not be seen is never dropped silently: [`FileTree::unread`] names it (a layer
//! the source does not hold, a link that cannot be resolved, …) for the reports.

mod held;
mod rootfs;

use crate::error::Error;
use crate::image::archive::Bounded;
use crate::image::blob::Hashing;
use crate::image::{self, Compression, Digest, FileRange, ImageTree, SourceSpec};
use crate::scan::binary::{self, BinaryInfo};
use crate::scan::catalog::java;
use crate::scan::stop::{Checked, Stop};
use held::Holder;
pub use held::{Content, MAX_HELD};
use rootfs::{clean, join, Kind, Name, Node, Origin, Rootfs};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// Read it as a Java archive as it streams; keep only what [`java::read`] finds.
    Java,
}

/// A file kept for the catalogers.
#[derive(Debug, Clone)]
pub enum Kept {
    /// Its content (in memory, or spilled past the scan's budget: see [`held`]).
    Bytes(Content),
    Binary(BinaryInfo),
    Java(java::Facts),
    /// Wanted, but larger than its cap: not read (named in [`FileTree::unread`] by the
    /// catalogue).
    TooLarge {
        size: u64,
        cap: u64,
    },
    /// Wanted, and could not be kept (it did not fit in memory and the spill could not take
    /// it): why, named in [`FileTree::unread`] by the catalogue.
    NotRead(String),
}

pub use crate::model::Unread;

/// The files of the final (squashed) filesystem that the catalogers asked for, by path
/// relative to the root (`var/lib/dpkg/status`). A name that is not UTF-8 is shown with its
/// invalid bytes as `\xNN`.
#[derive(Debug, Default)]
pub struct FileTree {
    pub files: BTreeMap<String, Kept>,
    /// What the image holds that was not seen (each names its path and why): a layer the
    /// source does not hold, a link that cannot be resolved, a wanted file of a `dir:` source
    /// that could not be read.
    pub unread: Vec<Unread>,
    /// Kept contents that could not be read back from the spill when a cataloger asked for
    /// them (named by the catalogue with the rest).
    pub failed: RefCell<Vec<Unread>>,
}

impl FileTree {
    /// The content of a file kept as bytes: borrowed when held in memory, read back when
    /// spilled (a failed read back is named in [`FileTree::failed`], never dropped).
    pub fn bytes(&self, path: &str) -> Option<Cow<'_, [u8]>> {
        let Some(Kept::Bytes(c)) = self.files.get(path) else {
            return None;
        };
        match c.get() {
            Ok(b) => Some(b),
            Err(e) => {
                self.failed.borrow_mut().push(Unread {
                    path: format!("/{path}"),
                    reason: format!(
                        "its content could not be read back from the scan's spill in TMPDIR ({e}), so it was not read"
                    ),
                });
                None
            }
        }
    }
}

/// One platform image of a source: its layers, bottom first (see [`image::Runnable`]).
pub type PlatformImage = image::Runnable;

/// The images of a source, plus the source itself (it keeps the temp file `docker save`
/// wrote alive while the layers are read).
pub struct Images {
    pub images: Vec<PlatformImage>,
    _tree: ImageTree,
}

/// List the runnable platform images of an image source, read and verified exactly as the
/// push reads it ([`image::open`]): children of an index are chosen by the one rule
/// ([`crate::oci::classify`]); nothing runnable is inconclusive. A `docker save` behind a
/// `docker:` source is killed once `stop` says so, and the stop's error returned.
pub fn images(spec: &SourceSpec, stop: &Stop) -> Result<Images, Error> {
    let what = format!("the image source {spec}");
    let tree = image::open_until(spec, &|| {
        stop.stopped().map(|s| crate::scan::stop::error(s, &what))
    })?;
    let images = tree.runnable()?;
    Ok(Images {
        images,
        _tree: tree,
    })
}

/// The file-selection callback the catalogers provide: path (relative), size, executable.
pub type Selector<'a> = &'a dyn Fn(&str, u64, bool) -> Want;

/// A raw name as the catalogers see it: itself when UTF-8, else with each invalid byte as
/// `\xNN` (never the lossy U+FFFD, which would make different names one).
fn display(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut s = String::with_capacity(raw.len() + 8);
            for chunk in raw.utf8_chunks() {
                s.push_str(chunk.valid());
                for b in chunk.invalid() {
                    s.push_str(&format!("\\x{b:02x}"));
                }
            }
            Cow::Owned(s)
        }
    }
}

/// Zstd windows larger than this are refused, as libzstd refuses them by default: the
/// decoder holds a whole window in memory, and a 20-byte frame can declare 2 GiB.
const MAX_ZSTD_WINDOW: u64 = 128 << 20;

/// The window a zstd frame header declares (`None`: not a frame header, or cut short).
fn zstd_window(head: &[u8]) -> Option<u64> {
    let desc = *head.get(4)?;
    let single = desc & 0x20 != 0;
    if !single {
        let wd = *head.get(5)?;
        let log = 10 + u32::from(wd >> 3);
        let base = 1u64 << log;
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
    let dict_bytes = [0usize, 1, 2, 4][usize::from(desc & 3)];
    let fcs_bytes = [1usize, 2, 4, 8][usize::from(desc >> 6)];
    let at = 5 + dict_bytes;
    let fcs = head.get(at..at + fcs_bytes)?;
    let mut v = [0u8; 8];
    v[..fcs_bytes].copy_from_slice(fcs);
    let n = u64::from_le_bytes(v);
    Some(if fcs_bytes == 2 { n + 256 } else { n })
}

/// A zstd stream of any number of frames (skippable ones skipped), as runtimes decode it.
struct Zstd<R: BufRead> {
    dec: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This frame is done: another may follow.
            let Some(dec) = self.dec.take() else {
                return Ok(0);
            };
            let (mut src, fd) = dec.into_parts();
            loop {
                let head = src.fill_buf()?;
                if head.is_empty() {
                    return Ok(0);
                }
                if head.len() >= 8
                    && (0x50..=0x5f).contains(&head[0])
                    && head[1..4] == [0x2a, 0x4d, 0x18]
                {
                    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
                    src.consume(8);
                    std::io::copy(&mut (&mut src).take(u64::from(len)), &mut std::io::sink())?;
                    continue;
                }
                // ruzstd bounds the window of every frame after the first (100 MiB).
                let dec = ruzstd::decoding::StreamingDecoder::new_with_decoder(src, fd)
                    .map_err(std::io::Error::other)?;
                self.dec = Some(dec);
                break;
            }
        }
    }
}

/// How a layer blob is compressed, from its first bytes (media types lie often enough).
fn decompress<'a>(r: impl Read + 'a, what: &str) -> Result<Box<dyn Read + 'a>, Error> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br
        .fill_buf()
        .map_err(|e| Error::runtime(format!("cannot read {what}: {e}")))?;
    Ok(match Compression::sniff(head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => {
            if let Some(w) = zstd_window(head).filter(|w| *w > MAX_ZSTD_WINDOW) {
                return Err(Error::runtime(format!(
                    "{what} is zstd with a {} MiB window, more than the {} MiB a runtime decodes by default: recompress it",
                    w >> 20,
                    MAX_ZSTD_WINDOW >> 20
                )));
            }
            let dec = ruzstd::decoding::StreamingDecoder::new(br)
                .map_err(|e| Error::runtime(format!("{what} is not valid zstd: {e}")))?;
            Box::new(Zstd { dec: Some(dec) })
        }
        Compression::Plain => Box::new(br),
    })
}

/// A failed read of `what` as the command's error: the stop's once the scan was stopped (the
/// reader failed because of it), else a corrupt stream.
fn broken<'a>(what: &'a str, stop: &'a Stop) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e: std::io::Error| {
        stop.or(what, e, |e| {
            Error::runtime(format!(
                "{what} is not a readable tar stream ({}): the image is corrupt; re-export it",
                crate::error::one_line(&e.to_string())
            ))
        })
    }
}

/// Stream the tar entries of a layer blob to `f` (with each entry's ordinal in the layer),
/// tar headers bounded; when `digest` is given, the blob's bytes are checked against it.
/// The blob's bytes and the decompressed stream are both read through `stop` (a zstd
/// skippable frame or an empty gzip member reads input without output), and it is asked
/// after every entry, so a reader that named a stop's failure as unread is not kept.
fn stream(
    range: &FileRange,
    what: &str,
    digest: Option<&Digest>,
    stop: &Stop,
    f: &mut dyn FnMut(u64, &mut dyn EntryLike) -> Result<(), Error>,
) -> Result<(), Error> {
    stop.check(what)?;
    let raw = range
        .open()
        .map_err(|e| Error::runtime(format!("cannot read {what}: {e}")))?;
    let mut hashing = Hashing::new(Checked {
        inner: raw,
        stop: *stop,
    });
    {
        let decompressed = decompress(&mut hashing, what).map_err(|e| match stop.stopped() {
            Some(s) => crate::scan::stop::error(s, what),
            None => e,
        })?;
        let (bounded, allow) = Bounded::new(Checked {
            inner: decompressed,
            stop: *stop,
        });
        let mut ar = tar::Archive::new(bounded);
        for (k, entry) in ar.entries().map_err(broken(what, stop))?.enumerate() {
            let mut entry = entry.map_err(broken(what, stop))?;
            // This entry's data (padded to the 512-byte block) is not headers.
            let size = entry.header().entry_size().map_err(broken(what, stop))?;
            allow.through(entry.raw_file_position() + size.div_ceil(512) * 512);
            f(k as u64, &mut entry)?;
            stop.check(what)?;
        }
    }
    if let Some(want) = digest {
        let (got, n) = hashing.finish().map_err(|e| {
            stop.or(what, e, |e| {
                Error::runtime(format!("cannot read {what}: {e}"))
            })
        })?;
        if n != range.len {
            return Err(crate::image::blob::truncated(&range.path, what));
        }
        if &got != want {
            return Err(Error::runtime(format!(
                "{what} does not match its digest ({want}): the image source is corrupt; re-export the image"
            )));
        }
    }
    Ok(())
}

/// What was kept of one entry's bytes at stream time, and under which want.
enum Stored {
    Kept(Want, Kept),
    /// Read as a binary, and not one.
    NotBinary,
}

/// Read one entry's content as `want` asks (`None`: skipped, or not a binary).
fn read_wanted(
    r: &mut dyn Read,
    size: u64,
    want: Want,
    holder: &mut Holder,
    what: &str,
    stop: &Stop,
) -> Result<Option<Stored>, Error> {
    Ok(match want {
        Want::Skip => None,
        Want::Bytes { cap } if size > cap => Some(Stored::Kept(want, Kept::TooLarge { size, cap })),
        Want::Bytes { .. } => Some(Stored::Kept(
            want,
            match holder.read(r, size).map_err(broken(what, stop))? {
                Ok(c) => Kept::Bytes(c),
                Err(why) => Kept::NotRead(why),
            },
        )),
        Want::Binary => Some(
            match binary::inspect(r, size).map_err(broken(what, stop))? {
                Some(info) => Stored::Kept(want, Kept::Binary(info)),
                None => Stored::NotBinary,
            },
        ),
        Want::Java => Some(Stored::Kept(want, Kept::Java(java::read(r, size)))),
    })
}

/// The stored content of an origin, if it answers `want`.
fn reuse(stored: Option<&Stored>, want: Want) -> Option<Option<Kept>> {
    match (want, stored?) {
        (Want::Bytes { cap }, Stored::Kept(_, Kept::Bytes(b))) if b.len() <= cap => {
            Some(Some(Kept::Bytes(b.clone())))
        }
        // Could not be kept for a reason that is not its size: the same for every cap.
        (Want::Bytes { .. }, Stored::Kept(Want::Bytes { .. }, k @ Kept::NotRead(_))) => {
            Some(Some(k.clone()))
        }
        (Want::Binary, Stored::Kept(Want::Binary, k)) => Some(Some(k.clone())),
        (Want::Binary, Stored::NotBinary) => Some(None),
        (Want::Java, Stored::Kept(Want::Java, k)) => Some(Some(k.clone())),
        _ => None,
    }
}

/// Apply the layers' entries to a tree, keeping what `want` asks for on the way.
struct Unpack<'w> {
    fs: Rootfs,
    store: HashMap<Origin, Stored>,
    holder: Holder,
    unread: Vec<Unread>,
    want: Selector<'w>,
    stop: Stop,
}

impl Unpack<'_> {
    fn drop_freed(&mut self, freed: Vec<Origin>) {
        for o in freed {
            self.store.remove(&o);
        }
    }

    fn put(&mut self, path: Name, node: Node) -> Result<(), Error> {
        let freed = self.fs.put(path, node);
        self.drop_freed(freed);
        if self.fs.len() > rootfs::MAX_NODES {
            return Err(Error::inconclusive(format!(
                "the image's layers hold more than {} paths, more than the scan keeps track of: scan its root filesystem with dir: instead",
                rootfs::MAX_NODES
            )));
        }
        Ok(())
    }

    fn unread(&mut self, path: &[u8], reason: String) {
        self.unread.push(Unread {
            path: display(path).into_owned(),
            reason,
        });
    }

    fn entry(
        &mut self,
        layer: u32,
        k: u64,
        entry: &mut dyn EntryLike,
        what: &str,
    ) -> Result<(), Error> {
        let raw = entry.path_bytes();
        let comps = clean(&raw);
        let Some((base, parent)) = comps.split_last() else {
            return Ok(()); // the root itself
        };
        let parent_raw = parent.join(&b'/');
        let Some(dir) = self.fs.walk(&parent_raw, true) else {
            self.unread(
                &raw,
                "its parent directories are a symlink loop, so a runtime cannot unpack it".into(),
            );
            return Ok(());
        };
        // Whiteouts hide what lower layers put there, never what this layer adds.
        if *base == b".wh..wh..opq" {
            let mut freed = Vec::new();
            self.fs.remove_under(&dir, Some(layer), &mut freed);
            self.drop_freed(freed);
            return Ok(());
        }
        if base.starts_with(b".wh..wh.") {
            return Ok(()); // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a file
        }
        if let Some(name) = base.strip_prefix(b".wh.") {
            let mut freed = Vec::new();
            self.fs.remove(&join(&dir, name), Some(layer), &mut freed);
            self.drop_freed(freed);
            return Ok(());
        }
        let path = join(&dir, base);
        let kind = entry.kind();
        if kind.is_dir() {
            self.put(
                path,
                Node {
                    layer,
                    kind: Kind::Dir,
                },
            )
        } else if kind.is_file() || kind.is_gnu_sparse() || kind == tar::EntryType::Continuous {
            let size = entry.size();
            let exec = entry.mode() & 0o111 != 0;
            let origin = Origin { layer, entry: k };
            let want = (self.want)(&display(&path), size, exec);
            let stored = read_wanted(
                entry.reader(),
                size,
                want,
                &mut self.holder,
                what,
                &self.stop,
            )?;
            self.put(
                path,
                Node {
                    layer,
                    kind: Kind::File { origin, size, exec },
                },
            )?;
            if let Some(s) = stored {
                self.store.insert(origin, s);
            }
            Ok(())
        } else if kind.is_hard_link() {
            let target = entry.link_name_bytes().unwrap_or_default();
            let tcomps = clean(&target);
            let resolved = tcomps.split_last().and_then(|(tbase, tparent)| {
                let tdir = self.fs.walk(&tparent.join(&b'/'), true)?;
                Some(join(&tdir, tbase))
            });
            match resolved.and_then(|t| self.fs.get(&t).cloned()) {
                Some(
                    n @ Node {
                        kind: Kind::File { .. } | Kind::Symlink(_),
                        ..
                    },
                ) => self.put(
                    path,
                    Node {
                        layer,
                        kind: n.kind,
                    },
                ),
                _ => {
                    self.unread(
                        &path,
                        format!(
                            "a hard link to {}, which the layers below it do not hold as a file",
                            display(&target)
                        ),
                    );
                    let mut freed = Vec::new();
                    self.fs.remove(&path, None, &mut freed);
                    self.drop_freed(freed);
                    Ok(())
                }
            }
        } else if kind.is_symlink() {
            let target = entry.link_name_bytes().unwrap_or_default();
            self.put(
                path,
                Node {
                    layer,
                    kind: Kind::Symlink(target),
                },
            )
        } else if matches!(
            kind,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
        ) {
            self.put(
                path,
                Node {
                    layer,
                    kind: Kind::Other,
                },
            )
        } else {
            // PAX global headers and types no runtime unpacks: nothing at this path changes.
            Ok(())
        }
    }
}

/// The parts of a tar entry the unpacker uses (a trait so tests can feed entries directly).
trait EntryLike {
    fn path_bytes(&self) -> Vec<u8>;
    fn link_name_bytes(&self) -> Option<Vec<u8>>;
    fn kind(&self) -> tar::EntryType;
    fn size(&self) -> u64;
    fn mode(&self) -> u32;
    fn reader(&mut self) -> &mut dyn Read;
}

impl<R: Read> EntryLike for tar::Entry<'_, R> {
    fn path_bytes(&self) -> Vec<u8> {
        tar::Entry::path_bytes(self).into_owned()
    }
    fn link_name_bytes(&self) -> Option<Vec<u8>> {
        tar::Entry::link_name_bytes(self).map(Cow::into_owned)
    }
    fn kind(&self) -> tar::EntryType {
        self.header().entry_type()
    }
    fn size(&self) -> u64 {
        tar::Entry::size(self)
    }
    fn mode(&self) -> u32 {
        self.header().mode().unwrap_or(0)
    }
    fn reader(&mut self) -> &mut dyn Read {
        self
    }
}

/// One file delivered to the catalogers: the name they see it by, and its content's origin.
struct Delivery {
    name: Name,
    origin: Origin,
    size: u64,
    want: Want,
}

/// Read an image's layers bottom-up into the squashed set of wanted files, as a runtime
/// would see them.
pub fn read_image(img: &PlatformImage, want: Selector) -> Result<FileTree, Error> {
    read_image_until(img, want, &Stop::none())
}

/// [`read_image`], stopping with the stop's error when `stop` says so.
pub fn read_image_until(
    img: &PlatformImage,
    want: Selector,
    stop: &Stop,
) -> Result<FileTree, Error> {
    read_image_within(img, want, stop, Holder::default())
}

/// [`read_image_until`], keeping contents in `holder` (tests give it a small budget).
fn read_image_within(
    img: &PlatformImage,
    want: Selector,
    stop: &Stop,
    holder: Holder,
) -> Result<FileTree, Error> {
    let mut u = Unpack {
        fs: Rootfs::default(),
        store: HashMap::new(),
        holder,
        unread: Vec::new(),
        want,
        stop: *stop,
    };
    for (i, layer) in img.layers.iter().enumerate() {
        let what = format!("layer {} of {}", i + 1, img.label);
        let Some(range) = &layer.range else {
            u.unread.push(Unread {
                path: format!("{} of {}", layer.what, img.label),
                reason: "a foreign layer: the image names only the URLs it is fetched from, so its files were not read".into(),
            });
            continue;
        };
        stream(
            range,
            &what,
            layer.digest.as_ref(),
            stop,
            &mut |k, entry| u.entry(i as u32, k, entry, &what),
        )?;
    }
    let Unpack {
        fs,
        mut store,
        mut unread,
        mut holder,
        ..
    } = u;

    // Every file under its own name, then under the names links give it where a cataloger
    // wants it only by such a name (each file once).
    let mut deliveries = Vec::new();
    let mut delivered: HashSet<Name> = HashSet::new();
    for (path, node) in fs.files() {
        let Kind::File { origin, size, exec } = node.kind else {
            continue;
        };
        let w = want(&display(path), size, exec);
        if w != Want::Skip {
            delivered.insert(path.clone());
            deliveries.push(Delivery {
                name: path.clone(),
                origin,
                size,
                want: w,
            });
        }
    }
    let mut aliased: HashSet<Name> = HashSet::new();
    let walked = fs.aliases(&mut |alias, real, node| {
        let Kind::File { origin, size, exec } = node.kind else {
            return;
        };
        if delivered.contains(real) || aliased.contains(real) {
            return;
        }
        let w = want(&display(alias), size, exec);
        if w != Want::Skip {
            aliased.insert(real.to_vec());
            deliveries.push(Delivery {
                name: alias.to_vec(),
                origin,
                size,
                want: w,
            });
        }
    });
    if let Err(link) = walked {
        unread.push(Unread {
            path: display(&link).into_owned(),
            reason: format!(
                "the image's symlinks form more paths than the scan follows ({} visits); files reached only through them were not read",
                rootfs::MAX_ALIAS_VISITS
            ),
        });
    }

    // Contents: what was kept while streaming, else read again from the layers that hold it.
    let mut contents: Vec<Option<Option<Kept>>> = deliveries
        .iter()
        .map(|d| match d.want {
            Want::Bytes { cap } if d.size > cap => Some(Some(Kept::TooLarge { size: d.size, cap })),
            w => reuse(store.get(&d.origin), w),
        })
        .collect();
    let mut pending: BTreeMap<Origin, Vec<usize>> = BTreeMap::new();
    for (i, c) in contents.iter().enumerate() {
        if c.is_none() {
            pending.entry(deliveries[i].origin).or_default().push(i);
        }
    }
    store.clear();
    if !pending.is_empty() {
        reread(img, &pending, &deliveries, &mut contents, &mut holder, stop)?;
    }

    let mut tree = FileTree {
        unread,
        ..FileTree::default()
    };
    let mut names: HashMap<String, Name> = HashMap::new();
    for (d, c) in deliveries.into_iter().zip(contents) {
        let Some(Some(kept)) = c else { continue };
        let shown = display(&d.name).into_owned();
        match names.get(&shown) {
            Some(other) if *other != d.name => tree.unread.push(Unread {
                path: shown,
                reason: "its name is not UTF-8 and reads the same as another file's once escaped, so it was not read".into(),
            }),
            _ => {
                names.insert(shown.clone(), d.name);
                tree.files.insert(shown, kept);
            }
        }
    }
    Ok(tree)
}

/// The second pass: read the entries in `pending` (by origin) from the layers that hold them.
fn reread(
    img: &PlatformImage,
    pending: &BTreeMap<Origin, Vec<usize>>,
    deliveries: &[Delivery],
    contents: &mut [Option<Option<Kept>>],
    holder: &mut Holder,
    stop: &Stop,
) -> Result<(), Error> {
    let layers: std::collections::BTreeSet<u32> = pending.keys().map(|o| o.layer).collect();
    for layer in layers {
        let Some(range) = img
            .layers
            .get(layer as usize)
            .and_then(|l| l.range.as_ref())
        else {
            continue;
        };
        let what = format!("layer {} of {}", layer + 1, img.label);
        stream(range, &what, None, stop, &mut |k, entry| {
            let Some(idx) = pending.get(&Origin { layer, entry: k }) else {
                return Ok(());
            };
            let size = entry.size();
            let cap = idx
                .iter()
                .filter_map(|i| match deliveries[*i].want {
                    Want::Bytes { cap } => Some(cap),
                    _ => None,
                })
                .max();
            let binary = idx.iter().any(|i| deliveries[*i].want == Want::Binary);
            let archive = idx.iter().any(|i| deliveries[*i].want == Want::Java);
            // Content some name wants whole is kept once (within the budget, else spilled) and
            // every other reader reads it from there: each name gets its content (or its true
            // reason), never a size reason for a size that fits.
            let (bytes, info, facts) = match cap {
                Some(cap) if size <= cap => {
                    match holder
                        .read(entry.reader(), size)
                        .map_err(broken(&what, stop))?
                    {
                        Ok(c) => {
                            let facts = archive.then(|| java::read(&mut c.reader(), size));
                            let info = if binary {
                                match binary::inspect(&mut c.reader(), size) {
                                    Ok(info) => info.map(Kept::Binary),
                                    Err(e) => Some(Kept::NotRead(format!(
                                        "it could not be read back from the scan's spill in TMPDIR ({e}), so it was not read"
                                    ))),
                                }
                            } else {
                                None
                            };
                            (Some(Ok(c)), info, facts.map(Kept::Java))
                        }
                        // Not kept: no name of it is read, and each says why.
                        Err(why) => (
                            Some(Err(why.clone())),
                            binary.then(|| Kept::NotRead(why.clone())),
                            archive.then(|| Kept::NotRead(why)),
                        ),
                    }
                }
                // An archive is read as it streams; the same bytes under another name that
                // wants them as a binary are a jar, not a Go or Rust program.
                _ if archive => (
                    None,
                    None,
                    Some(Kept::Java(java::read(entry.reader(), size))),
                ),
                _ if binary => (
                    None,
                    binary::inspect(entry.reader(), size)
                        .map_err(broken(&what, stop))?
                        .map(Kept::Binary),
                    None,
                ),
                _ => (None, None, None),
            };
            for i in idx {
                contents[*i] = Some(match deliveries[*i].want {
                    Want::Bytes { cap } => Some(match &bytes {
                        Some(Ok(b)) if b.len() <= cap => Kept::Bytes(b.clone()),
                        Some(Err(why)) => Kept::NotRead(why.clone()),
                        _ => Kept::TooLarge { size, cap },
                    }),
                    Want::Binary => info.clone(),
                    Want::Java => facts.clone(),
                    Want::Skip => None,
                });
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Read a root filesystem directory (`dir:`) into the set of wanted files. Symlinks are
/// never followed (a rootfs's absolute links point into the host), and the kernel's
/// pseudo-filesystems are left out when the root is `/`.
pub fn read_dir(root: &Path, want: Selector) -> Result<FileTree, Error> {
    read_dir_until(root, want, &Stop::none())
}

/// [`read_dir`], stopping with the stop's error when `stop` says so: asked at every entry of
/// the walk, and every file is read through it.
pub fn read_dir_until(root: &Path, want: Selector, stop: &Stop) -> Result<FileTree, Error> {
    let what = format!("the root filesystem {}", root.display());
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
    let mut holder = Holder::default();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let shown = |rel: &str| format!("/{rel}");
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            // What is under an unlistable directory is unknown: named, never dropped.
            Err(e) => {
                tree.unread.push(Unread {
                    path: shown(&rel),
                    reason: format!(
                        "the directory cannot be listed ({e}), so the files under it were not seen"
                    ),
                });
                continue;
            }
        };
        for ent in rd {
            let ent = match ent {
                Ok(ent) => ent,
                Err(e) => {
                    stop.check(&what)?;
                    tree.unread.push(Unread {
                        path: shown(&rel),
                        reason: format!("listing the directory failed ({e}), so some files under it were not seen"),
                    });
                    break;
                }
            };
            stop.check(&what)?;
            let name = os_name(&ent.file_name());
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let unread = |tree: &mut FileTree, e: std::io::Error| {
                tree.unread.push(Unread {
                    path: shown(&path),
                    reason: format!("cannot be read: {e}"),
                })
            };
            let ft = match ent.file_type() {
                Ok(ft) => ft,
                Err(e) => {
                    unread(&mut tree, e);
                    continue;
                }
            };
            if ft.is_dir() {
                if rel.is_empty() && matches!(name.as_str(), "proc" | "sys" | "dev") {
                    continue;
                }
                stack.push((ent.path(), path));
            } else if ft.is_file() {
                let md = match ent.metadata() {
                    Ok(md) => md,
                    Err(e) => {
                        unread(&mut tree, e);
                        continue;
                    }
                };
                let exec = is_exec(&md);
                let size = md.len();
                let open = || {
                    File::open(ent.path()).map(|f| Checked {
                        inner: f,
                        stop: *stop,
                    })
                };
                match want(&path, size, exec) {
                    Want::Skip => {}
                    Want::Bytes { cap } if size > cap => {
                        tree.files.insert(path, Kept::TooLarge { size, cap });
                    }
                    Want::Bytes { .. } => {
                        let kept = open().and_then(|mut f| holder.read(&mut f, size));
                        stop.check(&format!("{} in {what}", shown(&path)))?;
                        match kept {
                            Ok(Ok(c)) => {
                                tree.files.insert(path, Kept::Bytes(c));
                            }
                            Ok(Err(why)) => {
                                tree.files.insert(path, Kept::NotRead(why));
                            }
                            Err(e) => unread(&mut tree, e),
                        }
                    }
                    Want::Binary => {
                        let info = open().and_then(|mut f| binary::inspect(&mut f, size));
                        stop.check(&format!("{} in {what}", shown(&path)))?;
                        match info {
                            Ok(Some(info)) => {
                                tree.files.insert(path, Kept::Binary(info));
                            }
                            Ok(None) => {}
                            Err(e) => unread(&mut tree, e),
                        }
                    }
                    Want::Java => {
                        let facts = open().map(|mut f| java::read(&mut f, size));
                        // A jar's reader names a failed read as unread: a stop's is not kept.
                        stop.check(&format!("{} in {what}", shown(&path)))?;
                        match facts {
                            Ok(f) => {
                                tree.files.insert(path, Kept::Java(f));
                            }
                            Err(e) => unread(&mut tree, e),
                        }
                    }
                }
            }
        }
    }
    Ok(tree)
}

/// A directory entry's name as the catalogers see it (raw bytes, shown as [`display`] does).
#[cfg(unix)]
fn os_name(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    display(name.as_bytes()).into_owned()
}

#[cfg(not(unix))]
fn os_name(name: &std::ffi::OsStr) -> String {
    name.to_string_lossy().into_owned()
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
mod tests;
