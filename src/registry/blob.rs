//! Where an upload reads a blob's bytes from: a byte range of a local file (a layout blob, a
//! tar entry read in place, a config), or a layer gzipped by the push, replayed from the
//! archive and a spill file. Digests and ranges themselves are `crate::image`'s.
//!
//! (This module depends on `compress` for [`GzipLayout`], and `compress` on `crate::image`
//! only: no import circle.)

use super::compress::GzipLayout;
use crate::image::FileRange;
use std::io::Read;
use std::path::Path;

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
