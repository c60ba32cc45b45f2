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
pub struct Hashing<R> {
    inner: R,
    sha: Sha256,
    read: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            read: 0,
        }
    }

    /// Read what is left (a decompressor or tar reader may stop early), then the digest of
    /// everything and the byte count.
    pub fn finish(mut self) -> std::io::Result<(Digest, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok((Digest::from_hasher(self.sha), self.read))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.read += n as u64;
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
