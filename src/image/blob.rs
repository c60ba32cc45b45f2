//! Blob identities and where their bytes live: a validated `sha256:` digest and a byte range
//! of a local file (a layout blob, a tar entry read in place, or a layer the push compressed).
//!
//! Every source ends up as ranges of plain files, so that the push streams uploads from disk
//! (and retries by re-reading) and the scan streams layers, without ever holding a layer in
//! memory.

use crate::error::Error;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A content digest, always `sha256:<64 lowercase hex>` ([`crate::oci::is_valid_digest`]).
///
/// Only sha256 is accepted: it is what ECR and every builder use, and validating the exact
/// shape up front is what makes `blobs/sha256/<hex>` safe to use as a path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Digest(String);

impl Digest {
    /// Parse a digest found in a manifest or layout; `what` names where it came from.
    pub fn parse(s: &str, what: &str) -> Result<Self, Error> {
        if crate::oci::is_valid_digest(s) {
            Ok(Self(s.to_string()))
        } else {
            let shown: String = s.chars().take(80).collect();
            Err(Error::runtime(format!(
                "invalid digest '{shown}' in {what}: only sha256:<64 lowercase hex> digests are supported"
            )))
        }
    }

    /// The digest of a byte string.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub fn from_hasher(h: Sha256) -> Self {
        Self(format!("sha256:{}", hex::encode(h.finalize())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:` plus 12 hex digits, for progress lines.
    pub fn short(&self) -> &str {
        &self.0[.."sha256:".len() + 12]
    }

    /// Path of this blob inside an OCI image layout.
    pub fn layout_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `len` bytes of a local file starting at `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRange {
    pub path: Arc<Path>,
    pub offset: u64,
    pub len: u64,
}

impl FileRange {
    pub fn whole(path: PathBuf, len: u64) -> Self {
        Self {
            path: path.into(),
            offset: 0,
            len,
        }
    }

    /// A reader positioned at the start of the range and limited to it.
    pub fn open(&self) -> std::io::Result<std::io::Take<File>> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(f.take(self.len))
    }

    /// Read a small range (a manifest, an index, a config) whole, refusing anything over `limit`.
    pub fn read_small(&self, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
        if self.len > limit {
            return Err(Error::runtime(format!(
                "{what} is {} bytes, over the {limit}-byte limit for a json document: the source is not a valid image",
                self.len
            )));
        }
        let mut buf = Vec::with_capacity(self.len as usize);
        self.open()
            .and_then(|mut r| r.read_to_end(&mut buf))
            .map_err(|e| {
                Error::runtime(format!(
                    "cannot read {what} from {}: {e}",
                    self.path.display()
                ))
            })?;
        if buf.len() as u64 != self.len {
            return Err(truncated(&self.path, what));
        }
        Ok(buf)
    }

    /// Hash the whole range (used where no digest is known yet, e.g. a pre-compressed layer).
    pub fn sha256(&self, what: &str) -> Result<Digest, Error> {
        let mut r = self.open().map_err(|e| {
            Error::runtime(format!(
                "cannot read {what} from {}: {e}",
                self.path.display()
            ))
        })?;
        let mut h = Sha256::new();
        let n = std::io::copy(&mut r, &mut h).map_err(|e| {
            Error::runtime(format!(
                "cannot read {what} from {}: {e}",
                self.path.display()
            ))
        })?;
        if n != self.len {
            return Err(truncated(&self.path, what));
        }
        Ok(Digest::from_hasher(h))
    }
}

pub fn truncated(path: &Path, what: &str) -> Error {
    Error::runtime(format!(
        "{what} in {} ends early: the file is truncated; re-create the image source",
        path.display()
    ))
}

/// A reader that hashes what passes through it, so a streamed blob is checked against its
/// digest without a second read.
///
/// The hashing runs on a thread of its own, one chunk behind the reader: SHA-256 (about
/// 2 GB/s with SHA-NI) was most of a scan's CPU time on a 1 GiB layer (0.47 of 0.60 s), all of
/// it on the thread that decompresses and walks the tar. Bytes are read from `inner` in
/// chunks of [`CHUNK`]; a chunk the caller has taken in full goes to the hasher, and at most
/// [`IN_FLIGHT`] are queued there (the reader waits for it beyond that), so the read-ahead is
/// bounded (a few MiB). Should the thread not start, the hashing is done inline, as before.
pub struct Hashing<R> {
    inner: R,
    /// The chunk being served: `chunk[at..filled]` is not yet returned.
    chunk: Vec<u8>,
    filled: usize,
    at: usize,
    sha: Sha,
    read: u64,
}

/// How much is read from the source at a time.
const CHUNK: usize = 256 << 10;
/// Chunks queued for the hashing thread at most.
const IN_FLIGHT: usize = 4;

enum Sha {
    Inline(Sha256),
    Thread {
        to: std::sync::mpsc::SyncSender<(Vec<u8>, usize)>,
        /// Chunks the thread has hashed, for reuse.
        back: std::sync::mpsc::Receiver<Vec<u8>>,
        /// Chunks made so far (at most IN_FLIGHT + 2 exist: queued, hashing, served).
        made: usize,
        done: std::thread::JoinHandle<Sha256>,
    },
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        let (to, queued) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (give_back, back) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("blob-sha256".into())
            .spawn(move || {
                let mut sha = Sha256::new();
                for (chunk, filled) in queued {
                    sha.update(&chunk[..filled]);
                    let _ = give_back.send(chunk);
                }
                sha
            });
        let sha = match thread {
            Ok(done) => Sha::Thread {
                to,
                back,
                made: 1,
                done,
            },
            Err(_) => Sha::Inline(Sha256::new()),
        };
        Self {
            inner,
            chunk: vec![0; CHUNK],
            filled: 0,
            at: 0,
            sha,
            read: 0,
        }
    }

    /// Hand the served chunk to the hasher and read the next one from `inner`.
    fn refill(&mut self) -> std::io::Result<()> {
        let next = match &mut self.sha {
            Sha::Inline(sha) => {
                sha.update(&self.chunk[..self.filled]);
                std::mem::take(&mut self.chunk)
            }
            Sha::Thread { to, back, made, .. } => {
                if self.filled > 0 {
                    let spare = match back.try_recv() {
                        Ok(c) => c,
                        Err(_) if *made < IN_FLIGHT + 2 => {
                            *made += 1;
                            vec![0; CHUNK]
                        }
                        Err(_) => back.recv().map_err(|_| hasher_gone())?,
                    };
                    let served = std::mem::replace(&mut self.chunk, spare);
                    to.send((served, self.filled)).map_err(|_| hasher_gone())?;
                }
                std::mem::take(&mut self.chunk)
            }
        };
        self.chunk = next;
        self.filled = 0;
        self.at = 0;
        let n = self.inner.read(&mut self.chunk)?;
        self.filled = n;
        self.read += n as u64;
        Ok(())
    }

    /// Read what is left (a decompressor or tar reader may stop early), then the digest of
    /// everything and the byte count.
    pub fn finish(mut self) -> std::io::Result<(Digest, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        let sha = match self.sha {
            Sha::Inline(mut sha) => {
                sha.update(&self.chunk[..self.filled]);
                sha
            }
            Sha::Thread { to, done, .. } => {
                if self.filled > 0 {
                    to.send((self.chunk, self.filled))
                        .map_err(|_| hasher_gone())?;
                }
                drop(to);
                done.join().map_err(|_| hasher_gone())?
            }
        };
        Ok((Digest::from_hasher(sha), self.read))
    }
}

fn hasher_gone() -> std::io::Error {
    std::io::Error::other("the thread hashing the blob stopped")
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.at == self.filled {
            self.refill()?;
        }
        let n = buf.len().min(self.filled - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_shape_is_strict() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert!(Digest::parse(&ok, "x").is_ok());
        for bad in [
            "sha256:abc".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{}", "a".repeat(128)),
            format!("sha256:{}/../x", "a".repeat(60)),
            format!("sha256:../{}", "a".repeat(61)),
        ] {
            assert!(Digest::parse(&bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn digest_of_empty() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.short(), "sha256:e3b0c44298fc");
        assert_eq!(d.layout_path(), format!("blobs/sha256/{}", d.hex()));
    }

    /// Many chunks, read in odd sizes, some not read by the caller at all: the digest is of
    /// every byte in order, inline or on the thread.
    #[test]
    fn hashing_reader_digests_every_chunk_in_order() {
        let data: Vec<u8> = (0..(CHUNK * (IN_FLIGHT + 5) + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        for inline in [false, true] {
            let mut h = Hashing::new(&data[..]);
            if inline {
                h.sha = Sha::Inline(Sha256::new());
            }
            let mut got = Vec::new();
            let mut buf = vec![0u8; 70_001];
            while got.len() < data.len() / 2 {
                let n = h.read(&mut buf[..(got.len() % 70_000) + 1]).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, data[..got.len()], "inline: {inline}");
            let (d, n) = h.finish().unwrap();
            assert_eq!(
                (d, n),
                (Digest::of(&data), data.len() as u64),
                "inline: {inline}"
            );
        }
    }

    /// A source that fails mid-way fails the read, never a digest of part of it.
    #[test]
    fn hashing_reader_passes_a_read_error_on() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                self.0 -= 1;
                buf.fill(1);
                Ok(buf.len())
            }
        }
        let h = Hashing::new(Failing(IN_FLIGHT + 3));
        let err = h.finish().unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }

    #[test]
    fn hashing_reader_covers_what_was_left_unread() {
        let data = b"hello world";
        let mut h = Hashing::new(&data[..]);
        let mut first = [0u8; 5];
        h.read_exact(&mut first).unwrap();
        let (d, n) = h.finish().unwrap();
        assert_eq!((d, n), (Digest::of(data), data.len() as u64));
    }
}
