//! The contents of the files a scan keeps for its catalogers, within one total memory budget
//! per image ([`MAX_HELD`]): each file's own cap bounds one file, this bounds their sum.
//!
//! A file whose content fits in what is left of the budget is held in memory; one that does
//! not is streamed to the scan's spill, one unlinked temp file in `TMPDIR` (the kernel frees
//! it whatever ends the run, a kill included), and read back from there — one file at a
//! time — when its cataloger reads it. Nothing is skipped for the budget: a file the spill
//! cannot take (no writable `TMPDIR`, a full disk, more than [`MAX_SPILLED`] in all) is
//! named as not read, with that reason.
//!
//! The budget is a ledger the contents themselves keep: a held content is charged when read
//! and credited when its last reference goes (a file a later layer replaced, or the tree at
//! the end of the image), so it counts what is held now, not what was ever read.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The most bytes of kept file contents one image's scan holds in memory at once.
///
/// Real images keep far less (a Debian `status` is 1–3 MiB, an rpm `rpmdb.sqlite` of a few
/// hundred packages 10–40 MiB, the `package.json` files of a large `node_modules` 10–20 MiB,
/// Python `METADATA` tens of KiB each), so a real image is read without touching `TMPDIR`;
/// what an image could make the scan hold is bounded all the same (the per-file caps alone
/// let forty 60 MiB lockfiles, a 10 MB layer, hold 2.4 GiB). A scan's peak memory is this
/// plus one file read back while it is catalogued (at most its cap) and the readers' own
/// buffers (an ELF up to 48 MiB, see [`crate::scan::binary::MAX_ELF`]).
pub const MAX_HELD: u64 = 256 << 20;

/// The most bytes one image's scan writes to its spill: past it, a file is named as not read
/// (an image that would need more is a bomb of capped files, not a real one; the disk of a CI
/// machine is not filled for it).
pub const MAX_SPILLED: u64 = 16 << 30;

/// Chunks a spilled content is streamed in.
const CHUNK: usize = 256 << 10;

/// Where an image's kept contents go: memory while [`MAX_HELD`] allows, else the spill.
pub struct Holder {
    held: Arc<AtomicU64>,
    limit: u64,
    /// Created on first need; once creating it failed, why (every later spill would too).
    spill: Option<Result<Arc<Spill>, String>>,
    spilled: u64,
    /// Where the spill goes: `TMPDIR` unless a test says.
    dir: Option<std::path::PathBuf>,
}

impl Default for Holder {
    fn default() -> Holder {
        Holder::with_limit(MAX_HELD)
    }
}

/// The spill: one unlinked temp file, each spilled content at its own offset.
#[derive(Debug)]
struct Spill {
    file: Mutex<File>,
}

/// A kept file's content, in memory or in the spill (cheap to clone: shared).
#[derive(Clone)]
pub struct Content(Arc<Inner>);

enum Inner {
    Memory {
        bytes: Vec<u8>,
        /// The ledger it is charged to (none for contents made outside a scan, in tests).
        ledger: Option<(Arc<AtomicU64>, u64)>,
    },
    Spilled {
        spill: Arc<Spill>,
        at: u64,
        len: u64,
    },
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Inner::Memory {
            ledger: Some((held, n)),
            ..
        } = self
        {
            held.fetch_sub(*n, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::Memory { bytes, .. } => write!(f, "Content({} bytes in memory)", bytes.len()),
            Inner::Spilled { at, len, .. } => write!(f, "Content({len} bytes spilled at {at})"),
        }
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Content {
        Content(Arc::new(Inner::Memory {
            bytes,
            ledger: None,
        }))
    }
}

impl From<&[u8]> for Content {
    fn from(b: &[u8]) -> Content {
        b.to_vec().into()
    }
}

impl<const N: usize> From<&[u8; N]> for Content {
    fn from(b: &[u8; N]) -> Content {
        b.to_vec().into()
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Content {
        s.as_bytes().to_vec().into()
    }
}

impl From<String> for Content {
    fn from(s: String) -> Content {
        s.into_bytes().into()
    }
}

impl Content {
    pub fn len(&self) -> u64 {
        match &*self.0 {
            Inner::Memory { bytes, .. } => bytes.len() as u64,
            Inner::Spilled { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole content: borrowed when held, read back (and owned by the caller, for as long
    /// as it uses it) when spilled.
    pub fn get(&self) -> io::Result<Cow<'_, [u8]>> {
        match &*self.0 {
            Inner::Memory { bytes, .. } => Ok(Cow::Borrowed(bytes)),
            Inner::Spilled { .. } => {
                let mut v = Vec::with_capacity(self.len() as usize);
                self.reader().read_to_end(&mut v)?;
                if v.len() as u64 != self.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the spill is shorter than what was written to it",
                    ));
                }
                Ok(Cow::Owned(v))
            }
        }
    }

    /// A reader of the content from its start (a spilled one is read back as it is read).
    pub fn reader(&self) -> Box<dyn Read + '_> {
        match &*self.0 {
            Inner::Memory { bytes, .. } => Box::new(&bytes[..]),
            Inner::Spilled { spill, at, len } => Box::new(SpillReader {
                spill,
                at: *at,
                left: *len,
            }),
        }
    }
}

struct SpillReader<'a> {
    spill: &'a Spill,
    at: u64,
    left: u64,
}

impl Read for SpillReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let mut f = self.spill.file.lock().unwrap_or_else(|p| p.into_inner());
        f.seek(SeekFrom::Start(self.at))?;
        let n = f.read(&mut buf[..want])?;
        self.at += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

impl Holder {
    /// A holder keeping at most `limit` bytes in memory (tests give small ones).
    pub fn with_limit(limit: u64) -> Holder {
        Holder {
            held: Arc::new(AtomicU64::new(0)),
            limit,
            spill: None,
            spilled: 0,
            dir: None,
        }
    }

    /// This holder, spilling into `dir` instead of `TMPDIR`.
    #[cfg(test)]
    pub fn spilling_in(mut self, dir: &std::path::Path) -> Holder {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Read `size` bytes of content from `r`, into memory while the budget allows, else into
    /// the spill. `Err`: reading `r` failed (the source's error); `Ok(Err(why))`: the content
    /// could not be kept, and why (for the file's not-read entry; the rest of `r` is unread).
    pub fn read(&mut self, r: &mut dyn Read, size: u64) -> io::Result<Result<Content, String>> {
        let held = self.held.load(Ordering::Relaxed);
        if held.saturating_add(size) <= self.limit {
            self.held.fetch_add(size, Ordering::Relaxed);
            // Charged before reading, credited by the drop on every path (a failed read too).
            let mut c = Inner::Memory {
                bytes: Vec::with_capacity(size as usize),
                ledger: Some((self.held.clone(), size)),
            };
            if let Inner::Memory { bytes, .. } = &mut c {
                r.take(size).read_to_end(bytes)?;
            }
            return Ok(Ok(Content(Arc::new(c))));
        }
        let limit = self.limit;
        let over = |why: String| {
            format!(
                "{size} bytes, more than is left of the {} MiB the scan holds in memory, and {why}, so it was not read",
                limit >> 20
            )
        };
        if self.spilled.saturating_add(size) > MAX_SPILLED {
            return Ok(Err(over(format!(
                "the scan's spill to TMPDIR already holds {} of the {} GiB it takes",
                self.spilled,
                MAX_SPILLED >> 30
            ))));
        }
        let dir = &self.dir;
        let spill = match self.spill.get_or_insert_with(|| {
            match dir {
                Some(d) => tempfile::tempfile_in(d),
                None => tempfile::tempfile(),
            }
            .map(|file| {
                Arc::new(Spill {
                    file: Mutex::new(file),
                })
            })
            .map_err(|e| e.to_string())
        }) {
            Ok(s) => s.clone(),
            Err(e) => {
                return Ok(Err(over(format!(
                    "it could not be spilled to a temp file ({e}; TMPDIR names where)"
                ))))
            }
        };
        let at = self.spilled;
        let mut buf = vec![0u8; CHUNK];
        let mut len = 0u64;
        let mut r = r.take(size);
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let written = {
                let mut f = spill.file.lock().unwrap_or_else(|p| p.into_inner());
                f.seek(SeekFrom::Start(at + len))
                    .and_then(|_| f.write_all(&buf[..n]))
            };
            if let Err(e) = written {
                return Ok(Err(over(format!(
                    "it could not be spilled to a temp file ({e}; TMPDIR names where)"
                ))));
            }
            len += n as u64;
        }
        self.spilled += len;
        Ok(Ok(Content(Arc::new(Inner::Spilled { spill, at, len }))))
    }

    /// Bytes held in memory now.
    #[cfg(test)]
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_past_the_budget_are_spilled_and_read_back() {
        let mut h = Holder::with_limit(10);
        let a = h.read(&mut &b"0123456789"[..], 10).unwrap().unwrap();
        assert_eq!(h.held(), 10);
        let b = h.read(&mut &b"abcdef"[..], 6).unwrap().unwrap();
        assert_eq!(h.held(), 10, "the second one is spilled");
        let c = h.read(&mut &b"XYZ"[..], 3).unwrap().unwrap();
        assert_eq!(&*a.get().unwrap(), b"0123456789");
        assert_eq!(&*b.get().unwrap(), b"abcdef");
        assert_eq!(&*c.get().unwrap(), b"XYZ");
        let mut s = String::new();
        b.reader().read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcdef");
        // A held content credits the budget when its last reference goes.
        let a2 = a.clone();
        drop(a);
        assert_eq!(h.held(), 10);
        drop(a2);
        assert_eq!(h.held(), 0);
        let d = h.read(&mut &b"held"[..], 4).unwrap().unwrap();
        assert_eq!(h.held(), 4);
        assert!(format!("{d:?}").contains("in memory"));
    }

    #[test]
    fn a_failed_read_is_the_sources_error_and_charges_nothing() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("broken"))
            }
        }
        let mut h = Holder::with_limit(100);
        assert!(h.read(&mut Broken, 10).is_err());
        assert_eq!(h.held(), 0);
        assert!(h.read(&mut Broken, 1000).is_err(), "spilling reads it too");
    }
}
