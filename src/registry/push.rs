//! The push itself: read the source and upload its blobs concurrently (bounded, each retried
//! with backoff), then push child manifests by digest and finally the image under its tags.
//!
//! Nothing is tagged until every blob and child manifest is in the registry, so a failed push
//! leaves no tag pointing at a half-pushed image.

use super::client::{Client, RegError};
use super::source::{self, human_bytes, BlobSrc, Event, ManifestNode};
use super::{PlatformDigest, PushOutcome, PushTarget};
use crate::error::Error;
use crate::image::{Digest, ImageTree, Root};
use crate::image_ref::{valid_repository, valid_tag};
use crate::progress::Progress;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::future::{ready, Future};
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Blobs uploaded at once: enough to hide per-request latency to ECR and keep both cores
/// busy hashing, few enough not to thrash the disk or the registry.
const CONCURRENCY: usize = 4;
/// Bytes read, hashed and sent per step of an upload; with the channel depth below this
/// bounds each upload's memory to about 1 MiB.
const CHUNK: usize = 256 * 1024;
const CHANNEL_CHUNKS: usize = 3;
/// A chunk of a blob on its way to the registry; once sent and dropped, its buffer goes back
/// to the reader of the blob for the next chunk (or is freed when that reader is done).
struct Chunk {
    buf: Vec<u8>,
    back: std::sync::mpsc::Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let _ = self.back.send(std::mem::take(&mut self.buf));
    }
}

#[derive(Default)]
struct Stats {
    uploaded: usize,
    skipped: usize,
    bytes: u64,
}

pub(crate) async fn run(
    tree: ImageTree,
    target: &PushTarget,
    progress: &Progress,
) -> Result<PushOutcome, Error> {
    if !valid_repository(&target.repository) {
        return Err(Error::usage(format!(
            "invalid repository name '{}': use lowercase letters and digits, single . _ - between them, components separated by /",
            target.repository
        )));
    }
    if let Some(tag) = target.tags.iter().find(|t| !valid_tag(t)) {
        return Err(Error::usage(format!(
            "invalid tag '{tag}': up to 128 letters, digits, _ . -, not starting with . or -"
        )));
    }
    let client = Client::new(target)?;
    progress.info(&format!(
        "pushing {} to {}/{}",
        tree.what,
        client.host(),
        target.repository
    ));
    // What the gate waits on: the runnable images under an index, by the one rule (the tree
    // classified every child when it was read).
    let (platforms, runnable) = match &tree.root {
        Root::Oci(m) => {
            let images = m.images();
            let platforms = if matches!(m.body, crate::image::Body::Index(_)) {
                images
                    .iter()
                    .map(|c| PlatformDigest {
                        digest: c.digest.to_string(),
                        platform: c
                            .platform
                            .clone()
                            .unwrap_or_else(|| crate::aws::ecr::UNSPECIFIED_PLATFORM.into()),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            (platforms, !images.is_empty())
        }
        Root::Docker(_) => (Vec::new(), true),
    };

    let (tx, rx) = mpsc::channel(64);
    let read = source::prepare(tree, tx);
    // The source was read and verified whole before this point, and nothing connects to the
    // registry before the first blob is handed over: a bad source never touches the network.
    let (first_blob, source_ready) = tokio::sync::oneshot::channel::<()>();
    let ping = async {
        match source_ready.await {
            // An unreachable registry is retried briefly, not for the whole --timeout.
            Ok(()) => {
                let until = client
                    .deadline()
                    .min(tokio::time::Instant::now() + CONNECT_BUDGET);
                crate::retry::call(PUSH_RETRY, until, || client.ping())
                    .await
                    .map_err(|e| e.error)
            }
            // The source ended without a blob (or failed): its result decides.
            Err(_) => Ok(()),
        }
    };
    let uploads = upload_all(&client, rx, first_blob, progress);
    // Reading, checking the registry and uploading overlap; the first failure stops all three.
    let (prepared, stats, ()) = tokio::try_join!(read, uploads, ping)?;
    let root = &prepared.root;

    let mut pushed = HashSet::new();
    push_children(&client, root, &mut pushed, progress).await?;
    if target.tags.is_empty() {
        put_manifest(&client, root, root.digest.as_str(), progress).await?;
        progress.info(&format!("pushed {}@{}", target.repository, root.digest));
    } else {
        for tag in &target.tags {
            let stored = put_manifest(&client, root, tag, progress).await?;
            progress.info(&format!(
                "{} {}:{tag} ({})",
                if stored {
                    "pushed"
                } else {
                    "already pushed (immutable tag names this digest)"
                },
                target.repository,
                root.digest
            ));
        }
    }

    Ok(PushOutcome {
        digest: root.digest.to_string(),
        media_type: root.media_type.clone(),
        platforms,
        runnable,
        blobs_uploaded: stats.uploaded,
        blobs_skipped: stats.skipped,
        bytes_uploaded: stats.bytes,
    })
}

/// Children before parents, each once: a registry refuses an index whose manifests it lacks.
fn push_children<'a>(
    client: &'a Client,
    node: &'a ManifestNode,
    pushed: &'a mut HashSet<Digest>,
    progress: &'a Progress,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>> {
    Box::pin(async move {
        for child in &node.children {
            push_children(client, child, pushed, progress).await?;
            if pushed.insert(child.digest.clone()) {
                put_manifest(client, child, child.digest.as_str(), progress).await?;
                progress.debug(&format!(
                    "pushed manifest {} ({})",
                    child.digest,
                    child.platform.as_deref().unwrap_or("no platform")
                ));
            }
        }
        Ok(())
    })
}

/// Put one manifest; `Ok(false)` when an immutable tag already named it (see
/// [`Client::put_manifest`]).
async fn put_manifest(
    client: &Client,
    node: &ManifestNode,
    reference: &str,
    progress: &Progress,
) -> Result<bool, Error> {
    with_retry(client, progress, || {
        client.put_manifest(reference, &node.media_type, &node.bytes, &node.digest)
    })
    .await
}

async fn upload_all(
    client: &Client,
    rx: mpsc::Receiver<Event>,
    first_blob: tokio::sync::oneshot::Sender<()>,
    progress: &Progress,
) -> Result<Stats, Error> {
    let mut seen = HashSet::new();
    let mut first_blob = Some(first_blob);
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
        .filter_map(|event| {
            ready(match event {
                Event::Info(msg) => {
                    progress.info(&msg);
                    None
                }
                // The same layer can appear in several platforms' manifests: upload it once.
                Event::Blob(b) => {
                    if let Some(tx) = first_blob.take() {
                        let _ = tx.send(());
                    }
                    seen.insert(b.digest.clone()).then_some(b)
                }
            })
        })
        .map(|blob| upload_blob(client, blob, progress))
        .buffer_unordered(CONCURRENCY)
        .try_fold(Stats::default(), |mut stats, uploaded| {
            match uploaded {
                Some(bytes) => {
                    stats.uploaded += 1;
                    stats.bytes += bytes;
                }
                None => stats.skipped += 1,
            }
            ready(Ok(stats))
        })
        .await
}

/// HEAD, then POST + PUT if missing; the whole sequence is retried on transient errors.
/// Returns the bytes uploaded, or `None` when the registry already had the blob.
async fn upload_blob(
    client: &Client,
    blob: BlobSrc,
    progress: &Progress,
) -> Result<Option<u64>, Error> {
    let started = Instant::now();
    let bar: OnceLock<Option<ProgressBar>> = OnceLock::new();
    let attempt = || async {
        if client.blob_exists(&blob.digest).await? {
            return Ok(false);
        }
        let location = client.start_upload(&blob.digest).await?;
        let bar = bar
            .get_or_init(|| progress.bytes_bar(blob.digest.short(), blob.size))
            .clone();
        if let Some(b) = &bar {
            b.set_position(0);
        }
        let (body, local_failure) = body_stream(&blob, bar);
        match client
            .finish_upload(location, &blob.digest, blob.size, body)
            .await
        {
            Ok(()) => Ok(true),
            // If our own reader stopped the body (bad digest, short file), that is the cause.
            Err(e) => Err(take(&local_failure).map(RegError::fatal).unwrap_or(e)),
        }
    };
    let uploaded = with_retry(client, progress, attempt).await;
    if let Some(Some(b)) = bar.get() {
        b.finish_and_clear();
    }
    if !uploaded? {
        progress.info(&format!(
            "blob {} already in the registry, skipped",
            blob.digest.short()
        ));
        return Ok(None);
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = blob.size as f64 / secs.max(1e-3);
    progress.info(&format!(
        "uploaded blob {} ({}) in {secs:.1}s, {}/s",
        blob.digest.short(),
        human_bytes(blob.size),
        human_bytes(rate as u64)
    ));
    Ok(Some(blob.size))
}

/// Retry `op` on the gate's one retry engine while its errors are transient, until the
/// push's deadline (`--timeout`).
async fn with_retry<T, F, Fut>(client: &Client, progress: &Progress, op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RegError>>,
{
    crate::retry::call_notify(PUSH_RETRY, client.deadline(), op, |e: &RegError, wait| {
        progress.info(&format!(
            "{}; retrying in {:.1}s",
            e.error,
            wait.as_secs_f64()
        ));
    })
    .await
    .map_err(|e| e.error)
}

/// How long a registry that cannot be reached at all is retried before the push fails.
const CONNECT_BUDGET: Duration = Duration::from_secs(15);

/// Registry retries: quick at first (a reset connection), then backing off to 10 s.
const PUSH_RETRY: crate::retry::Schedule = crate::retry::Schedule {
    min: Duration::from_millis(250),
    max: Duration::from_secs(10),
    factor: 2.0,
};

type Failure = Arc<Mutex<Option<Error>>>;

fn take(f: &Failure) -> Option<Error> {
    f.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// The blob as a streamed request body: a blocking thread reads its bytes in chunks,
/// hashes them and hands them over a small channel. The digest is checked before the last
/// chunk is released, so a corrupt blob is never completely sent: the request is aborted.
fn body_stream(blob: &BlobSrc, bar: Option<ProgressBar>) -> (reqwest::Body, Failure) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_CHUNKS);
    let failure: Failure = Arc::default();
    let (blob2, failure2) = (blob.clone(), failure.clone());
    tokio::task::spawn_blocking(move || {
        if let Err(e) = read_and_hash(&blob2, &tx, bar.as_ref()) {
            let msg = e.message.clone();
            *failure2.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            let _ = tx.blocking_send(Err(std::io::Error::other(msg)));
        }
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    (reqwest::Body::wrap_stream(stream), failure)
}

fn read_and_hash(
    blob: &BlobSrc,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    bar: Option<&ProgressBar>,
) -> Result<(), Error> {
    let where_ = || blob.data.path().display().to_string();
    let mut reader = blob.data.open().map_err(|e| {
        Error::runtime(format!(
            "cannot read blob {} from {}: {e}",
            blob.digest,
            where_()
        ))
    })?;
    let mut sha = Sha256::new();
    let mut left = blob.size;
    // Chunk buffers are reused: a chunk the client has sent and dropped comes back over
    // `back` (see [`Chunk`]), so a blob of any size costs no allocation, no fresh page faults
    // and no zeroing per chunk (read_to_end fills spare capacity as it is).
    let (back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
    loop {
        let n = left.min(CHUNK as u64) as usize;
        let mut buf = returned.try_recv().unwrap_or_default();
        buf.clear();
        buf.reserve_exact(n);
        let got = (&mut reader)
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => crate::image::blob::truncated(
                    blob.data.path(),
                    &format!("blob {}", blob.digest),
                ),
                _ => Error::runtime(format!(
                    "cannot read blob {} from {}: {e}",
                    blob.digest,
                    where_()
                )),
            })?;
        if got != n {
            return Err(crate::image::blob::truncated(
                blob.data.path(),
                &format!("blob {}", blob.digest),
            ));
        }
        left -= n as u64;
        if blob.verify {
            sha.update(&buf);
            if left == 0 && Digest::from_hasher(std::mem::take(&mut sha)) != blob.digest {
                return Err(Error::runtime(format!(
                    "blob {} in {} does not match its digest: the image source is corrupt; re-export the image",
                    blob.digest,
                    where_()
                )));
            }
        }
        let buf = Bytes::from_owner(Chunk {
            buf,
            back: back.clone(),
        });
        if n > 0 && tx.blocking_send(Ok(buf)).is_err() {
            return Ok(()); // the request was dropped (failed or cancelled): nothing to report here
        }
        if let Some(b) = bar {
            b.inc(n as u64);
        }
        if left == 0 {
            return Ok(());
        }
    }
}
