//! Parallel, deterministic gzip of one uncompressed layer (for `docker-archive:` sources),
//! written to a file so its digest is known before the upload's monolithic `PUT ?digest=`.
//!
//! The layer is cut into fixed 1 MiB blocks. Workers (one per core) deflate blocks
//! independently, each primed with the previous block's last 32 KiB as dictionary and ended
//! with a sync flush, and a writer thread concatenates them in order behind one gzip header:
//! the pigz/pgzip scheme, so the output is a single ordinary gzip member. Block boundaries
//! are fixed, so the bytes (and the digest) do not depend on the number of threads.
//!
//! Blocks whose byte entropy shows they are already compressed are stored instead of
//! deflated: deflate cannot shrink them by more than a rounding error, and it would spend
//! most of the time on them.

use super::blob::{Digest, FileRange};
use crate::error::Error;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use sha2::{Digest as _, Sha256};
use std::io::{BufWriter, Read, Write};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gzipped {
    /// Digest and size of the gzip file: the blob that is uploaded.
    pub digest: Digest,
    pub size: u64,
    /// Digest of the uncompressed tar: must equal the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
}

/// One block's compressed form.
enum Segment {
    Deflated(Vec<u8>),
    /// Raw bytes to wrap in stored deflate blocks; `last` sets BFINAL on the final one.
    Stored {
        data: Arc<Vec<u8>>,
        last: bool,
    },
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

/// gzip `src` into `dst` at `level` on `threads` workers. `cancelled` is polled between
/// blocks so an aborted push stops compressing promptly.
pub(crate) fn gzip_range(
    src: &FileRange,
    dst: &Path,
    level: u32,
    threads: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Gzipped, Error> {
    let threads = threads.max(1);
    let out = std::fs::File::create(dst).map_err(|e| {
        Error::runtime(format!(
            "cannot create temporary file {}: {e}",
            dst.display()
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
        let writer = s.spawn(move || write_gzip(out, ord_rx, dst));
        let read = read_blocks(input, src, job_tx, ord_tx, cancelled);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::runtime("layer compression thread panicked")));
        match (read, written) {
            (Ok(diff_id), Ok((size, digest))) => Ok(Gzipped {
                digest,
                size,
                diff_id,
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
        let mut buf = vec![0u8; want];
        input.read_exact(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                super::blob::truncated(&src.path, "an uncompressed layer")
            }
            _ => Error::runtime(format!(
                "cannot read layer from {}: {e}",
                src.path.display()
            )),
        })?;
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
            .map(Segment::Deflated)
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

/// Hashes and counts everything written through it: the compressed blob's digest and size.
struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_gzip(
    out: std::fs::File,
    order: Receiver<Ordered>,
    dst: &Path,
) -> Result<(u64, Digest), Error> {
    let io_err = |e: std::io::Error| {
        Error::runtime(format!(
            "cannot write temporary file {}: {e}",
            dst.display()
        ))
    };
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 20, out),
        sha: Sha256::new(),
        len: 0,
    };
    w.write_all(&GZIP_HEADER).map_err(io_err)?;
    for item in order {
        match item {
            Ordered::Segment(rx) => {
                let seg = rx
                    .recv()
                    .map_err(|_| Error::runtime("layer compression worker stopped"))?
                    .map_err(|e| Error::runtime(format!("layer compression failed: {e}")))?;
                match seg {
                    Segment::Deflated(bytes) => w.write_all(&bytes).map_err(io_err)?,
                    Segment::Stored { data, last } => {
                        write_stored(&mut w, &data, last).map_err(io_err)?
                    }
                }
            }
            Ordered::End { crc, isize } => {
                w.write_all(&crc.to_le_bytes()).map_err(io_err)?;
                w.write_all(&isize.to_le_bytes()).map_err(io_err)?;
                // No fsync: the file is private, read back at once from the page cache, and
                // deleted after the push; forcing it to disk only stalls the pipeline.
                w.flush().map_err(io_err)?;
                return Ok((w.len, Digest::from_hasher(w.sha)));
            }
        }
    }
    Err(Error::runtime(
        "layer compression stopped before the end of the layer",
    ))
}

/// Stored deflate blocks (at most 65535 bytes each). Every segment before this one ended
/// byte-aligned (sync flush or stored), so the 3 header bits plus padding make one byte.
fn write_stored(w: &mut impl Write, data: &[u8], last: bool) -> std::io::Result<()> {
    if data.is_empty() {
        // Only possible for an empty layer, which is also the last block.
        return w.write_all(&[u8::from(last), 0, 0, 0xff, 0xff]);
    }
    let mut chunks = data.chunks(0xffff).peekable();
    while let Some(chunk) = chunks.next() {
        let is_final = last && chunks.peek().is_none();
        let len = chunk.len() as u16;
        w.write_all(&[u8::from(is_final)])?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&(!len).to_le_bytes())?;
        w.write_all(chunk)?;
    }
    Ok(())
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
        let src = dir.path().join("in");
        std::fs::write(&src, data).unwrap();
        let dst = dir.path().join("out.gz");
        let g = gzip_range(
            &FileRange::whole(src, data.len() as u64),
            &dst,
            5,
            threads,
            &|| false,
        )
        .unwrap();
        (g, std::fs::read(dst).unwrap())
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
        let (_, bytes) = gz(&data, 2);
        assert!(
            bytes.len() < data.len() + data.len() / 1000,
            "{}",
            bytes.len()
        );
        assert!(entropy(&data) > STORE_ENTROPY);
        assert!(entropy(&compressible(BLOCK)) < STORE_ENTROPY);
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
