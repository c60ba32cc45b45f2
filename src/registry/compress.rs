//! Parallel, deterministic gzip of one uncompressed layer (for `docker-archive:` sources),
//! computed before the upload so its digest is known for the monolithic `PUT ?digest=`.
//!
//! The layer is cut into fixed 1 MiB blocks. Workers (one per core) deflate blocks
//! independently, each primed with the previous block's last 32 KiB as dictionary and ended
//! with a sync flush, and a writer thread concatenates them in order behind one gzip header:
//! the pigz/pgzip scheme, so the output is a single ordinary gzip member. Block boundaries
//! are fixed, so the bytes (and the digest) do not depend on the number of threads.
//!
//! Blocks whose byte entropy shows they are already compressed are stored instead of
//! deflated: deflate cannot shrink them by more than a rounding error, and it would spend
//! most of the time on them. Stored blocks are not copied anywhere: the result is a
//! [`GzipLayout`], a list of pieces (inline header and trailer, runs of deflate output kept
//! in a spill file, and ranges of the source framed as stored blocks) that [`GzipReader`]
//! replays byte-for-byte at upload time. Only deflated bytes ever touch the disk.

use crate::error::Error;
use crate::image::{Digest, FileRange};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Uncompressed bytes per independently deflated block.
const BLOCK: usize = 1 << 20;
/// Deflate's window: the dictionary carried from one block into the next.
const DICT: usize = 32 * 1024;
/// Blocks above this many bits of entropy per byte are stored, not deflated.
const STORE_ENTROPY: f64 = 7.99;
const QUEUE_CLOSED: &str = "layer compression stopped";
/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as Go writes it).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// The result of compressing one layer.
#[derive(Debug, Clone)]
pub(crate) struct Gzipped {
    /// Digest and size of the gzip stream: the blob that is uploaded.
    pub digest: Digest,
    pub size: u64,
    /// Digest of the uncompressed tar: must equal the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
    /// How to produce the gzip stream again, for the upload.
    pub layout: GzipLayout,
}

/// The gzip stream of a layer as pieces of its source and of a spill file.
#[derive(Debug, Clone)]
pub(crate) struct GzipLayout {
    source: FileRange,
    spill: Arc<Path>,
    pieces: Arc<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Bytes made here: the gzip header and trailer.
    Inline(Vec<u8>),
    /// A run of deflate output in the spill file.
    Spill { offset: u64, len: u64 },
    /// `len` bytes of the source at `offset` (relative to the source range), framed as stored
    /// deflate blocks of at most 65535 bytes; BFINAL on the final frame when `last`.
    Stored { offset: u64, len: u64, last: bool },
}

impl GzipLayout {
    /// A reader producing the exact bytes that were hashed into [`Gzipped::digest`].
    pub(crate) fn open(&self) -> std::io::Result<GzipReader> {
        Ok(GzipReader {
            source: File::open(&self.source.path)?,
            spill: File::open(&self.spill)?,
            base: self.source.offset,
            pieces: self.pieces.clone(),
            next: 0,
            cur: Cur::Empty,
            stored: None,
        })
    }

    /// The file the layer is read from (for messages).
    pub(crate) fn source_path(&self) -> &Path {
        &self.source.path
    }
}

/// Replays a [`GzipLayout`].
pub(crate) struct GzipReader {
    source: File,
    spill: File,
    base: u64,
    pieces: Arc<Vec<Piece>>,
    next: usize,
    cur: Cur,
    stored: Option<StoredRun>,
}

enum Cur {
    Empty,
    /// Up to 16 bytes made here (headers, trailer, stored-frame headers).
    Small([u8; 16], usize, usize),
    Source(u64),
    Spill(u64),
}

/// Progress through a `Piece::Stored`: frames still to emit, and a frame's data pending.
struct StoredRun {
    offset: u64,
    remaining: u64,
    last: bool,
    data_pending: u64,
}

fn small(bytes: &[u8]) -> Cur {
    let mut b = [0u8; 16];
    b[..bytes.len()].copy_from_slice(bytes);
    Cur::Small(b, 0, bytes.len())
}

impl GzipReader {
    /// Set up the next step; `false` at the end of the stream.
    fn advance(&mut self) -> std::io::Result<bool> {
        if let Some(run) = &mut self.stored {
            if run.data_pending > 0 {
                self.source.seek(SeekFrom::Start(self.base + run.offset))?;
                run.offset += run.data_pending;
                self.cur = Cur::Source(run.data_pending);
                run.data_pending = 0;
                return Ok(true);
            }
            if run.remaining > 0 {
                let n = run.remaining.min(0xffff);
                run.remaining -= n;
                self.cur = small(&stored_header(n as u16, run.last && run.remaining == 0));
                run.data_pending = n;
                return Ok(true);
            }
            self.stored = None;
        }
        let Some(piece) = self.pieces.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        match *piece {
            Piece::Inline(ref b) => self.cur = small(b),
            Piece::Spill { offset, len } => {
                self.spill.seek(SeekFrom::Start(offset))?;
                self.cur = Cur::Spill(len);
            }
            Piece::Stored { len: 0, last, .. } => self.cur = small(&stored_header(0, last)),
            Piece::Stored { offset, len, last } => {
                self.stored = Some(StoredRun {
                    offset,
                    remaining: len,
                    last,
                    data_pending: 0,
                });
                self.cur = Cur::Empty;
            }
        }
        Ok(true)
    }
}

impl Read for GzipReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let (file, left) = match &mut self.cur {
                Cur::Small(b, pos, end) if *pos < *end => {
                    let n = (*end - *pos).min(buf.len());
                    buf[..n].copy_from_slice(&b[*pos..*pos + n]);
                    *pos += n;
                    return Ok(n);
                }
                Cur::Source(left) if *left > 0 => (&mut self.source, left),
                Cur::Spill(left) if *left > 0 => (&mut self.spill, left),
                _ => {
                    if !self.advance()? {
                        return Ok(0);
                    }
                    continue;
                }
            };
            let want = (*left).min(buf.len() as u64) as usize;
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                // The source shrank since it was compressed.
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            *left -= n as u64;
            return Ok(n);
        }
    }
}

/// Header of a stored deflate block. Every piece before one ends byte-aligned (sync flush or
/// stored frame), so the 3 header bits plus padding make exactly one byte.
fn stored_header(len: u16, last: bool) -> [u8; 5] {
    let [a, b] = len.to_le_bytes();
    let [c, d] = (!len).to_le_bytes();
    [u8::from(last), a, b, c, d]
}

/// Size of `len` bytes framed as stored blocks.
fn stored_size(len: u64) -> u64 {
    if len == 0 {
        5
    } else {
        len + 5 * len.div_ceil(0xffff)
    }
}

/// One block's compressed form.
enum Segment {
    /// Deflate output for a block of `block_len` source bytes.
    Deflated { bytes: Vec<u8>, block_len: u64 },
    /// Raw bytes to wrap in stored deflate blocks; `last` sets BFINAL on the final one.
    Stored { data: Arc<Vec<u8>>, last: bool },
}

struct Job {
    data: Arc<Vec<u8>>,
    dict: Option<Arc<Vec<u8>>>,
    last: bool,
    reply: SyncSender<Result<Segment, String>>,
}

enum Ordered {
    Segment(Receiver<Result<Segment, String>>),
    End { crc: u32, isize: u32 },
}

/// gzip `src` at `level` on `threads` workers, spilling deflate output to `spill`.
/// `cancelled` is polled between blocks so an aborted push stops compressing promptly.
pub(crate) fn gzip_range(
    src: &FileRange,
    spill: &Path,
    level: u32,
    threads: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Gzipped, Error> {
    let threads = threads.max(1);
    let out = File::create(spill).map_err(|e| {
        Error::runtime(format!(
            "cannot create temporary file {}: {e}",
            spill.display()
        ))
    })?;
    let input = src.open().map_err(|e| {
        Error::runtime(format!(
            "cannot read layer from {}: {e}",
            src.path.display()
        ))
    })?;

    // Bounded queues keep at most ~2 blocks per worker in flight: memory stays flat.
    let (job_tx, job_rx) = sync_channel::<Job>(threads);
    let job_rx = Mutex::new(job_rx);
    let (ord_tx, ord_rx) = sync_channel::<Ordered>(threads * 2);

    std::thread::scope(|s| {
        for _ in 0..threads {
            let job_rx = &job_rx;
            s.spawn(move || worker(job_rx, level));
        }
        let writer = s.spawn(move || write_gzip(out, ord_rx, spill));
        let read = read_blocks(input, src, job_tx, ord_tx, cancelled);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::runtime("layer compression thread panicked")));
        match (read, written) {
            (Ok(diff_id), Ok((size, digest, pieces))) => Ok(Gzipped {
                digest,
                size,
                diff_id,
                layout: GzipLayout {
                    source: src.clone(),
                    spill: spill.into(),
                    pieces: Arc::new(pieces),
                },
            }),
            // Either side failing closes the queues and fails the other: report the cause.
            (Err(r), Err(w)) if r.message == QUEUE_CLOSED => Err(w),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    })
}

/// Read the range block by block, hash it (diff_id, crc32) and queue the blocks.
fn read_blocks(
    mut input: impl Read,
    src: &FileRange,
    job_tx: SyncSender<Job>,
    ord_tx: SyncSender<Ordered>,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Digest, Error> {
    let closed = || Error::runtime(QUEUE_CLOSED);
    let mut sha = Sha256::new();
    let mut crc = Crc::new();
    let mut remaining = src.len;
    let mut prev: Option<Arc<Vec<u8>>> = None;
    loop {
        if cancelled() {
            return Err(Error::runtime("layer compression cancelled"));
        }
        let want = remaining.min(BLOCK as u64) as usize;
        // read_to_end fills spare capacity without zeroing it first.
        let mut buf = Vec::with_capacity(want);
        let got = (&mut input)
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| {
                Error::runtime(format!(
                    "cannot read layer from {}: {e}",
                    src.path.display()
                ))
            })?;
        if got != want {
            return Err(crate::image::blob::truncated(
                &src.path,
                "an uncompressed layer",
            ));
        }
        remaining -= want as u64;
        sha.update(&buf);
        crc.update(&buf);
        let data = Arc::new(buf);
        let last = remaining == 0;
        let (reply, result) = sync_channel(1);
        // Order matters: the writer must learn the slot before the worker can fill it.
        ord_tx
            .send(Ordered::Segment(result))
            .map_err(|_| closed())?;
        job_tx
            .send(Job {
                data: data.clone(),
                dict: prev.take(),
                last,
                reply,
            })
            .map_err(|_| closed())?;
        if last {
            break;
        }
        prev = Some(data);
    }
    // gzip's ISIZE is the length modulo 2^32 by definition.
    ord_tx
        .send(Ordered::End {
            crc: crc.sum(),
            isize: src.len as u32,
        })
        .map_err(|_| closed())?;
    Ok(Digest::from_hasher(sha))
}

fn worker(jobs: &Mutex<Receiver<Job>>, level: u32) {
    let mut z = Compress::new(Compression::new(level), false);
    loop {
        let job = match jobs.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let seg = if entropy(&job.data) >= STORE_ENTROPY {
            Ok(Segment::Stored {
                data: job.data,
                last: job.last,
            })
        } else {
            deflate_block(
                &mut z,
                &job.data,
                job.dict.as_deref().map(|v| &v[..]),
                job.last,
            )
            .map(|bytes| Segment::Deflated {
                bytes,
                block_len: job.data.len() as u64,
            })
        };
        let _ = job.reply.send(seg);
    }
}

fn deflate_block(
    z: &mut Compress,
    data: &[u8],
    dict: Option<&[u8]>,
    last: bool,
) -> Result<Vec<u8>, String> {
    z.reset();
    if let Some(d) = dict {
        z.set_dictionary(&d[d.len().saturating_sub(DICT)..])
            .map_err(|e| e.to_string())?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 64);
    let start_in = z.total_in();
    loop {
        let consumed = (z.total_in() - start_in) as usize;
        let status = z
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(|e| e.to_string())?;
        let done_in = (z.total_in() - start_in) as usize == data.len();
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete once all input is in and the output did not fill up.
            _ if !last && done_in && room_left => break,
            Status::BufError if room_left => return Err("deflate made no progress".into()),
            _ => out.reserve(out.capacity().max(64 * 1024)),
        }
    }
    Ok(out)
}

/// Shannon entropy of the byte histogram, in bits per byte.
fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    // Four interleaved histograms avoid store-to-load stalls on runs of one byte value.
    let mut h = [[0u32; 256]; 4];
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        h[0][c[0] as usize] += 1;
        h[1][c[1] as usize] += 1;
        h[2][c[2] as usize] += 1;
        h[3][c[3] as usize] += 1;
    }
    for &b in chunks.remainder() {
        h[0][b as usize] += 1;
    }
    let n = data.len() as f64;
    let mut bits = 0.0;
    for (((a, b), c), d) in h[0].iter().zip(&h[1]).zip(&h[2]).zip(&h[3]) {
        let c = (a + b + c + d) as f64;
        if c > 0.0 {
            let p = c / n;
            bits -= p * p.log2();
        }
    }
    bits
}

/// Assemble the stream: deflate output goes to the spill file, stored blocks stay where they
/// are in the source; every output byte is hashed in order, as the upload will send it.
fn write_gzip(
    spill: File,
    order: Receiver<Ordered>,
    spill_path: &Path,
) -> Result<(u64, Digest, Vec<Piece>), Error> {
    let io_err = |e: std::io::Error| {
        Error::runtime(format!(
            "cannot write temporary file {}: {e}",
            spill_path.display()
        ))
    };
    let mut out = BufWriter::with_capacity(1 << 20, spill);
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let mut spilled = 0u64;
    let mut src_offset = 0u64;
    let mut pieces = vec![Piece::Inline(GZIP_HEADER.to_vec())];
    sha.update(GZIP_HEADER);
    size += GZIP_HEADER.len() as u64;
    for item in order {
        match item {
            Ordered::Segment(rx) => {
                let seg = rx
                    .recv()
                    .map_err(|_| Error::runtime("layer compression worker stopped"))?
                    .map_err(|e| Error::runtime(format!("layer compression failed: {e}")))?;
                match seg {
                    Segment::Deflated { bytes, block_len } => {
                        out.write_all(&bytes).map_err(io_err)?;
                        sha.update(&bytes);
                        let n = bytes.len() as u64;
                        // Consecutive deflated blocks are contiguous in the spill file.
                        match pieces.last_mut() {
                            Some(Piece::Spill { len, .. }) => *len += n,
                            _ => pieces.push(Piece::Spill {
                                offset: spilled,
                                len: n,
                            }),
                        }
                        spilled += n;
                        size += n;
                        src_offset += block_len;
                    }
                    Segment::Stored { data, last } => {
                        hash_stored(&mut sha, &data, last);
                        let len = data.len() as u64;
                        size += stored_size(len);
                        pieces.push(Piece::Stored {
                            offset: src_offset,
                            len,
                            last,
                        });
                        src_offset += len;
                    }
                }
            }
            Ordered::End { crc, isize } => {
                let mut trailer = crc.to_le_bytes().to_vec();
                trailer.extend_from_slice(&isize.to_le_bytes());
                sha.update(&trailer);
                size += trailer.len() as u64;
                pieces.push(Piece::Inline(trailer));
                // No fsync: the file is private, read back at once from the page cache, and
                // deleted after the push; forcing it to disk only stalls the pipeline.
                out.flush().map_err(io_err)?;
                return Ok((size, Digest::from_hasher(sha), pieces));
            }
        }
    }
    Err(Error::runtime(
        "layer compression stopped before the end of the layer",
    ))
}

/// Hash `data` as stored deflate frames, exactly as [`GzipReader`] will frame it.
fn hash_stored(sha: &mut Sha256, data: &[u8], last: bool) {
    if data.is_empty() {
        // Only possible for an empty layer, which is also the last block.
        sha.update(stored_header(0, last));
        return;
    }
    let mut chunks = data.chunks(0xffff).peekable();
    while let Some(chunk) = chunks.next() {
        let is_final = last && chunks.peek().is_none();
        sha.update(stored_header(chunk.len() as u16, is_final));
        sha.update(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn compressible(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("line {} of a text file\n", i % 977).into_bytes())
            .take(n)
            .collect()
    }

    fn gz(data: &[u8], threads: usize) -> (Gzipped, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        // The layer sits inside a bigger file, as in an archive.
        let src = dir.path().join("in");
        let mut file = b"some tar header bytes".to_vec();
        file.extend_from_slice(data);
        file.extend_from_slice(b"trailing entries");
        std::fs::write(&src, &file).unwrap();
        let range = FileRange {
            path: src.into(),
            offset: 21,
            len: data.len() as u64,
        };
        let g = gzip_range(&range, &dir.path().join("spill"), 5, threads, &|| false).unwrap();
        let mut bytes = Vec::new();
        // Small reads exercise every piece boundary of the reader.
        let mut r = g.layout.open().unwrap();
        let mut buf = [0u8; 7000];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        (g, bytes)
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        // GzDecoder reads exactly one member: a multi-member output would come back short.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_mixed_content_as_one_member() {
        let mut data = compressible(2 * BLOCK + 1234);
        data.extend(pseudo_random(BLOCK + 77, 3));
        data.extend(compressible(BLOCK / 3));
        let (g, bytes) = gz(&data, 2);
        assert_eq!(gunzip(&bytes), data);
        assert_eq!(g.diff_id, Digest::of(&data));
        assert_eq!(g.digest, Digest::of(&bytes));
        assert_eq!(g.size, bytes.len() as u64);
        assert!(bytes.len() < data.len(), "text must shrink");
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let mut data = compressible(3 * BLOCK);
        data.extend(pseudo_random(BLOCK / 2, 9));
        assert_eq!(gz(&data, 1).1, gz(&data, 3).1);
    }

    #[test]
    fn empty_and_exact_block_sizes() {
        for data in [
            Vec::new(),
            compressible(BLOCK),
            pseudo_random(BLOCK, 5),
            pseudo_random(0xffff * 3, 1),
        ] {
            let (g, bytes) = gz(&data, 2);
            assert_eq!(gunzip(&bytes), data);
            assert_eq!(g.diff_id, Digest::of(&data));
        }
    }

    #[test]
    fn random_data_is_stored_not_expanded_much() {
        let data = pseudo_random(2 * BLOCK, 11);
        let (g, bytes) = gz(&data, 2);
        // Stored blocks are replayed from the source: nothing was spilled to disk.
        assert!(g
            .layout
            .pieces
            .iter()
            .all(|p| !matches!(p, Piece::Spill { .. })));
        assert!(
            bytes.len() < data.len() + data.len() / 1000,
            "{}",
            bytes.len()
        );
        assert!(entropy(&data) > STORE_ENTROPY);
        assert!(entropy(&compressible(BLOCK)) < STORE_ENTROPY);
    }

    #[test]
    fn source_shrinking_after_compression_fails_the_replay() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in");
        std::fs::write(&src, pseudo_random(BLOCK + 10, 4)).unwrap();
        let range = FileRange::whole(src.clone(), BLOCK as u64 + 10);
        let g = gzip_range(&range, &dir.path().join("spill"), 5, 2, &|| false).unwrap();
        std::fs::write(&src, b"cut").unwrap();
        let err = std::io::copy(&mut g.layout.open().unwrap(), &mut std::io::sink()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in");
        std::fs::write(&src, b"short").unwrap();
        let err = gzip_range(
            &FileRange::whole(src, 100),
            &dir.path().join("o"),
            5,
            2,
            &|| false,
        )
        .unwrap_err();
        assert!(err.message.contains("truncated"), "{err}");
    }
}
