//! Reading tar archives in place, with THE bound on tar headers.
//!
//! `oci-archive:` and `docker-archive:` files are indexed by one pass over their headers (entry
//! name → byte range) and blobs are then streamed straight out of the archive file: nothing is
//! unpacked and nothing is held in memory. Names and link targets are normalised here, and
//! anything that would resolve outside the archive (absolute paths, `..` in names, links
//! climbing above the root) is rejected.
//!
//! The same [`Bounded`] reader bounds the layer tars the scan streams (`scan::layers`): the
//! tar reader loads extension headers (GNU long names and link names, PAX records) whole into
//! memory, so both readers refuse any that is larger than [`MAX_HEADER_BYTES`].

use super::blob::FileRange;
use crate::error::Error;
use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Component, Path};
use std::rc::Rc;
use std::sync::Arc;

/// Links are followed at most this many hops (a cycle is an error, not a hang).
const MAX_LINK_HOPS: usize = 16;

#[derive(Debug, Clone)]
enum Node {
    File {
        offset: u64,
        size: u64,
    },
    /// Target already resolved to a normalised archive path.
    Link(String),
}

/// How much a tar reader may read between the end of one entry's data and the start of the
/// next entry's data: the next header plus its extension headers (GNU long names and link
/// names, PAX records), which the tar reader loads whole into memory. Bounding them (and, in
/// an archive index, runs of empty entries, 32,768 of them) means a crafted tar cannot make
/// either reader allocate its declared size.
pub(crate) const MAX_HEADER_BYTES: u64 = 16 * 1024 * 1024;

/// A reader that fails once it reads more than [`MAX_HEADER_BYTES`] past the point its
/// [`Allowance`] was last moved to (or, when seekable, past the last seek): the one bound on
/// tar headers, for the archive index (which seeks over every entry's data) and for layer
/// streams (whose reader moves the allowance past each entry's data).
pub(crate) struct Bounded<R> {
    inner: R,
    pos: u64,
    limit: Rc<Cell<u64>>,
}

/// Moves a [`Bounded`] reader's limit: entry data is not headers.
#[derive(Clone)]
pub(crate) struct Allowance(Rc<Cell<u64>>);

impl Allowance {
    /// Let the reader read up to `end` (the end of an entry's data, padding included), and
    /// then at most [`MAX_HEADER_BYTES`] of headers.
    pub(crate) fn through(&self, end: u64) {
        self.0.set(end.saturating_add(MAX_HEADER_BYTES));
    }
}

impl<R> Bounded<R> {
    pub(crate) fn new(inner: R) -> (Self, Allowance) {
        let limit = Rc::new(Cell::new(MAX_HEADER_BYTES));
        (
            Self {
                inner,
                pos: 0,
                limit: limit.clone(),
            },
            Allowance(limit),
        )
    }
}

/// The message of a [`Bounded`] refusal (callers put it in their one-line error).
pub(crate) const HEADER_TOO_LARGE: &str =
    "an extension header (GNU long name or PAX) is larger than 16 MiB";

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let limit = self.limit.get();
        if self.pos >= limit {
            return Err(std::io::Error::other(HEADER_TOO_LARGE));
        }
        let room = usize::try_from(limit - self.pos).unwrap_or(usize::MAX);
        let len = buf.len().min(room);
        let n = self.inner.read(&mut buf[..len])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: std::io::Seek> std::io::Seek for Bounded<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(pos)?;
        self.limit.set(self.pos.saturating_add(MAX_HEADER_BYTES));
        Ok(self.pos)
    }
}

/// The entries of one tar file, by normalised name.
#[derive(Debug)]
pub(crate) struct TarIndex {
    path: Arc<Path>,
    nodes: HashMap<String, Node>,
}

impl TarIndex {
    /// Index `path`: read every header (seeking over the data) and check that each entry's
    /// data lies within the file, so a truncated archive fails here rather than mid-upload.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let shown = path.display();
        let file = std::fs::File::open(path)
            .map_err(|e| Error::runtime(format!("cannot open archive {shown}: {e}")))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::runtime(format!("cannot read archive {shown}: {e}")))?
            .len();
        // A cut-off header reads as an invalid block, so the two causes cannot be told apart.
        let bad = |detail: String| {
            // The tar reader quotes the raw header bytes it choked on: keep a short, printable part.
            let detail: String = detail
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect();
            Error::runtime(format!(
                "archive {shown} is truncated or not a tar file ({detail}); re-create it"
            ))
        };
        let (file, _) = Bounded::new(file);
        let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(64 * 1024, file));
        let mut nodes = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| bad(e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad(e.to_string()))?;
            let raw_name = entry
                .path()
                .map_err(|e| bad(e.to_string()))?
                .to_string_lossy()
                .into_owned();
            let kind = entry.header().entry_type();
            // `tar -cf x.tar -C layout .` starts with the archive's root, "./": nothing to index.
            if kind.is_dir() && normalize(&raw_name) == Err(EMPTY) {
                continue;
            }
            let name = normalize(&raw_name).map_err(|why| {
                Error::runtime(format!(
                    "archive {shown} has an entry '{raw_name}' that {why}; refusing to read it"
                ))
            })?;
            let node = if kind.is_file() || kind == tar::EntryType::Continuous {
                let offset = entry.raw_file_position();
                let size = entry.size();
                if offset.checked_add(size).is_none_or(|end| end > file_len) {
                    return Err(Error::runtime(format!(
                        "archive {shown} is truncated (entry '{name}' needs {size} bytes past offset {offset}, the file has {file_len}); re-create it"
                    )));
                }
                Node::File { offset, size }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| bad(e.to_string()))?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Symlink targets are relative to the link's directory; hard-link targets are
                // archive paths (relative to the root).
                let resolved = if kind.is_symlink() {
                    resolve_symlink(&name, &target)
                } else {
                    normalize(&target)
                };
                let resolved = resolved.map_err(|why| {
                    Error::runtime(format!(
                        "archive {shown} has a link '{name}' -> '{target}' that {why}; refusing to read it"
                    ))
                })?;
                Node::Link(resolved)
            } else {
                // Directories and anything exotic (devices, fifos, sparse files) are never blobs.
                continue;
            };
            nodes.insert(name, node);
        }
        Ok(Self {
            path: path.into(),
            nodes,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The byte range of a regular file in the archive, following links; `None` when absent.
    pub(crate) fn locate(&self, name: &str) -> Result<Option<FileRange>, Error> {
        let mut current = normalize(name).map_err(|why| {
            Error::runtime(format!(
                "the path '{name}' named inside archive {} {why}",
                self.path.display()
            ))
        })?;
        for _ in 0..MAX_LINK_HOPS {
            match self.nodes.get(&current) {
                None => return Ok(None),
                Some(Node::File { offset, size }) => {
                    return Ok(Some(FileRange {
                        path: self.path.clone(),
                        offset: *offset,
                        len: *size,
                    }))
                }
                Some(Node::Link(target)) => current = target.clone(),
            }
        }
        Err(Error::runtime(format!(
            "archive {} has a link loop at '{name}'; refusing to read it",
            self.path.display()
        )))
    }
}

/// Normalise an archive-relative name: drop `.` components and trailing slashes, and reject
/// absolute paths, `..` and empty names. The result uses `/` separators.
/// Why `normalize` refused a name that names nothing (`.`, `./`, ``).
const EMPTY: &str = "is empty";

pub(crate) fn normalize(name: &str) -> Result<String, &'static str> {
    let mut parts = Vec::new();
    for comp in Path::new(name).components() {
        match comp {
            Component::CurDir => {}
            Component::Normal(p) => {
                let p = p.to_str().ok_or("is not valid utf-8")?;
                // On Windows `components()` does not split on '/', so guard explicitly.
                if p.split(['/', '\\']).any(|s| s == "..") {
                    return Err("climbs out of the source with '..'");
                }
                parts.push(p);
            }
            Component::ParentDir => return Err("climbs out of the source with '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
        }
    }
    if parts.is_empty() {
        return Err(EMPTY);
    }
    Ok(parts.join("/"))
}

/// Resolve a symlink target relative to the link's own directory, lexically. `..` is allowed
/// as long as it stays inside the archive (`docker save` links duplicate layers as
/// `../<id>/layer.tar`); climbing above the root or an absolute target is rejected.
pub(crate) fn resolve_symlink(link: &str, target: &str) -> Result<String, &'static str> {
    if target.is_empty() {
        return Err("has an empty target");
    }
    if target.starts_with('/') || target.starts_with('\\') || Path::new(target).is_absolute() {
        return Err("points to an absolute path outside the source");
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop(); // the link's own name
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("points outside the source");
                }
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Err("points at the root of the source");
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{pax_header_bomb, peak_rss_kib};
    use std::io::Write;

    #[test]
    fn normalize_accepts_relative_names() {
        assert_eq!(normalize("./index.json").unwrap(), "index.json");
        assert_eq!(normalize("blobs/sha256/ab/").unwrap(), "blobs/sha256/ab");
        assert_eq!(normalize("a/./b").unwrap(), "a/b");
    }

    #[test]
    fn normalize_rejects_escapes() {
        assert!(normalize("../etc/passwd").is_err());
        assert!(normalize("a/../../b").is_err());
        assert!(normalize("a/../b").is_err());
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize("").is_err());
        assert!(normalize(".").is_err());
    }

    #[test]
    fn symlinks_resolve_inside_only() {
        assert_eq!(
            resolve_symlink("abc/layer.tar", "../def/layer.tar").unwrap(),
            "def/layer.tar"
        );
        assert_eq!(
            resolve_symlink("blobs/sha256/x", "y").unwrap(),
            "blobs/sha256/y"
        );
        assert!(resolve_symlink("abc/layer.tar", "../../etc/passwd").is_err());
        assert!(resolve_symlink("layer.tar", "../x").is_err());
        assert!(resolve_symlink("layer.tar", "/etc/passwd").is_err());
    }

    fn write_tar(build: impl FnOnce(&mut tar::Builder<std::fs::File>)) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut b = tar::Builder::new(f.reopen().unwrap());
        build(&mut b);
        b.finish().unwrap();
        f
    }

    fn file_header(size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h
    }

    #[test]
    fn index_reads_entries_in_place_and_follows_links() {
        let f = write_tar(|b| {
            let mut h = file_header(5);
            b.append_data(&mut h, "./a/layer.tar", &b"hello"[..])
                .unwrap();
            let mut l = tar::Header::new_gnu();
            l.set_entry_type(tar::EntryType::Symlink);
            l.set_size(0);
            b.append_link(&mut l, "b/layer.tar", "../a/layer.tar")
                .unwrap();
        });
        let idx = TarIndex::open(f.path()).unwrap();
        let r = idx.locate("b/layer.tar").unwrap().unwrap();
        assert_eq!(r.len, 5);
        assert_eq!(r.read_small(100, "x").unwrap(), b"hello");
        assert!(idx.locate("missing").unwrap().is_none());
    }

    #[test]
    fn index_rejects_escaping_symlink() {
        let f = write_tar(|b| {
            let mut l = tar::Header::new_gnu();
            l.set_entry_type(tar::EntryType::Symlink);
            l.set_size(0);
            b.append_link(&mut l, "index.json", "../../etc/passwd")
                .unwrap();
        });
        let err = TarIndex::open(f.path()).unwrap_err();
        assert!(err.message.contains("points outside the source"), "{err}");
    }

    #[test]
    fn index_rejects_dotdot_names() {
        // tar::Builder refuses '..' itself, so write the raw header by hand.
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut h = file_header(1);
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        let mut w = f.reopen().unwrap();
        w.write_all(h.as_bytes()).unwrap();
        w.write_all(&[b'x'; 512]).unwrap();
        w.write_all(&[0; 1024]).unwrap();
        let err = TarIndex::open(f.path()).unwrap_err();
        assert!(err.message.contains("'..'"), "{err}");
    }

    #[test]
    fn index_detects_truncation() {
        let f = write_tar(|b| {
            let mut h = file_header(4096);
            b.append_data(&mut h, "big", &[7u8; 4096][..]).unwrap();
        });
        let full = std::fs::read(f.path()).unwrap();
        let cut = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(cut.path(), &full[..2000]).unwrap();
        let err = TarIndex::open(cut.path()).unwrap_err();
        assert!(err.message.contains("truncated"), "{err}");
    }

    #[test]
    fn a_huge_pax_header_is_refused_without_reading_it_into_memory() {
        // 20 MiB of PAX records before one small file: more than the walk may read unseeked.
        let f = write_tar(|b| {
            let mut x = tar::Header::new_ustar();
            x.set_entry_type(tar::EntryType::XHeader);
            let record_len = 20 * 1024 * 1024;
            let body = format!("{record_len} comment=");
            let mut data = body.into_bytes();
            data.resize(record_len - 1, b'a');
            data.push(b'\n');
            x.set_size(data.len() as u64);
            x.set_cksum();
            b.append(&x, &data[..]).unwrap();
            let mut h = file_header(5);
            b.append_data(&mut h, "a/layer.tar", &b"hello"[..]).unwrap();
        });
        let e = TarIndex::open(f.path()).unwrap_err();
        assert!(e.message.contains("larger than 16 MiB"), "{}", e.message);
    }

    #[test]
    fn the_archive_root_entry_is_skipped_but_other_empty_names_are_refused() {
        // What `tar -cf x.tar -C layout .` writes: "./" first, then "./oci-layout", ….
        let f = write_tar(|b| {
            let mut d = tar::Header::new_gnu();
            d.set_entry_type(tar::EntryType::Directory);
            d.set_size(0);
            d.set_mode(0o755);
            b.append_data(&mut d, "./", &[][..]).unwrap();
            let mut h = file_header(5);
            b.append_data(&mut h, "./a/layer.tar", &b"hello"[..])
                .unwrap();
        });
        let idx = TarIndex::open(f.path()).unwrap();
        assert_eq!(idx.locate("a/layer.tar").unwrap().unwrap().len, 5);
        // A regular file with an empty name is still refused.
        let f = write_tar(|b| {
            let mut h = file_header(1);
            b.append_data(&mut h, "./", &b"x"[..]).unwrap();
        });
        let e = TarIndex::open(f.path()).unwrap_err();
        assert!(e.message.contains("is empty"), "{}", e.message);
    }

    #[test]
    fn a_300_mib_pax_header_is_refused_with_bounded_memory() {
        // One PAX header block declaring 300 MiB of records (a sparse hole): the reader must
        // refuse without buffering them.
        let f = pax_header_bomb();
        let before = peak_rss_kib();
        let e = TarIndex::open(f.path()).unwrap_err();
        assert!(e.message.contains("larger than 16 MiB"), "{}", e.message);
        let grew_mib = peak_rss_kib().saturating_sub(before) / 1024;
        assert!(
            grew_mib < 64,
            "peak RSS grew by {grew_mib} MiB reading the archive"
        );
    }
}
