//! Blob identities and where their bytes live: a validated `sha256:` digest and a byte range
//! of a local file (a layout blob, a tar entry read in place, or a layer we compressed).
//!
//! Every source ends up as ranges of plain files so that uploads can stream from disk (and be
//! retried by re-reading) without ever holding a layer in memory.

use super::compress::GzipLayout;
use crate::error::Error;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A content digest, always `sha256:<64 lowercase hex>`.
///
/// Only sha256 is accepted: it is what ECR and every builder use, and validating the exact
/// shape up front is what makes `blobs/sha256/<hex>` safe to use as a path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) struct Digest(String);

impl Digest {
    /// Parse a digest found in a manifest or layout; `what` names where it came from.
    pub(crate) fn parse(s: &str, what: &str) -> Result<Self, Error> {
        let valid = s.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid {
            Ok(Self(s.to_string()))
        } else {
            let shown: String = s.chars().take(80).collect();
            Err(Error::runtime(format!(
                "invalid digest '{shown}' in {what}: only sha256:<64 lowercase hex> digests are supported"
            )))
        }
    }

    /// The digest of a byte string.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub(crate) fn from_hasher(h: Sha256) -> Self {
        Self(format!("sha256:{}", hex::encode(h.finalize())))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:` plus 12 hex digits, for progress lines.
    pub(crate) fn short(&self) -> &str {
        &self.0[.."sha256:".len() + 12]
    }

    /// Path of this blob inside an OCI image layout.
    pub(crate) fn layout_path(&self) -> String {
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
pub(crate) struct FileRange {
    pub path: Arc<Path>,
    pub offset: u64,
    pub len: u64,
}

impl FileRange {
    pub(crate) fn whole(path: PathBuf, len: u64) -> Self {
        Self {
            path: path.into(),
            offset: 0,
            len,
        }
    }

    /// A reader positioned at the start of the range and limited to it.
    pub(crate) fn open(&self) -> std::io::Result<std::io::Take<File>> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(f.take(self.len))
    }

    /// Read a small range (a manifest, an index, a config) whole, refusing anything over `limit`.
    pub(crate) fn read_small(&self, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
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
    pub(crate) fn sha256(&self, what: &str) -> Result<Digest, Error> {
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

/// Where an upload reads a blob's bytes from.
#[derive(Clone, Debug)]
pub(crate) enum BlobData {
    /// A range of a file: a layout blob, an archive entry, a config.
    File(FileRange),
    /// A layer gzipped from an archive: replayed from the archive and a spill file.
    Gzip(GzipLayout),
}

impl BlobData {
    pub(crate) fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            BlobData::File(r) => Box::new(r.open()?),
            BlobData::Gzip(g) => Box::new(g.open()?),
        })
    }

    /// The file the bytes come from, for messages.
    pub(crate) fn path(&self) -> &Path {
        match self {
            BlobData::File(r) => &r.path,
            BlobData::Gzip(g) => g.source_path(),
        }
    }
}

pub(crate) fn truncated(path: &Path, what: &str) -> Error {
    Error::runtime(format!(
        "{what} in {} ends early: the file is truncated; re-create the image source",
        path.display()
    ))
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
}
