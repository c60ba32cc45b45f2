//! End-to-end tests of the native push against a real registry (Debian `docker-registry` with
//! htpasswd Basic auth on 127.0.0.1), checked with a second real client (`skopeo`): the bytes
//! the registry serves equal the source manifest bytes, digests match, images pull back out.
//! Fault injection (transient errors, an immutable tag) goes through a small proxy in front
//! of the real registry.

use crate::support;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use inspector_gate::error::Error;
use inspector_gate::progress::Progress;
use inspector_gate::registry::{
    push, PlatformDigest, PushOutcome, PushTarget, RegistryAuth, SourceSpec,
};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::{self, sha256};
use support::registry::{self as reg, Registry};

const REPO: &str = "team/app";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn target_at(url: &str, tags: &[&str], password: &str) -> PushTarget {
    PushTarget {
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(60),
        base_url: url.parse().unwrap(),
        repository: REPO.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        auth: Some(RegistryAuth {
            username: reg::USER.into(),
            password: password.into(),
        }),
    }
}

fn target(r: &Registry, tags: &[&str]) -> PushTarget {
    target_at(&r.url(), tags, reg::PASSWORD)
}

async fn try_push(spec: &str, t: &PushTarget) -> Result<PushOutcome, Error> {
    let spec: SourceSpec = spec.parse().unwrap();
    tokio::time::timeout(
        Duration::from_secs(180),
        push(&spec, t, &Progress::silent()),
    )
    .await
    .expect("push did not finish within 180 s")
}

async fn push_ok(spec: &str, t: &PushTarget) -> PushOutcome {
    try_push(spec, t)
        .await
        .unwrap_or_else(|e| panic!("push of {spec} failed: {e}"))
}

async fn push_err(spec: &str, t: &PushTarget) -> Error {
    match try_push(spec, t).await {
        Ok(o) => panic!("push of {spec} should have failed, got {o:?}"),
        Err(e) => {
            assert_eq!(e.exit_code(), 4, "{e}");
            assert!(
                !e.to_string().contains(reg::PASSWORD),
                "password leaked: {e}"
            );
            e
        }
    }
}

/// Does the registry hold this blob? (A direct HEAD, with credentials.)
async fn has_blob(r: &Registry, digest: &str) -> bool {
    let resp = reqwest::Client::new()
        .head(format!("{}/v2/{REPO}/blobs/{digest}", r.url()))
        .basic_auth(reg::USER, Some(reg::PASSWORD))
        .send()
        .await
        .unwrap();
    resp.status().is_success()
}

fn has_tag(r: &Registry, tag: &str) -> bool {
    let image = format!("docker://{}/{REPO}:{tag}", r.host());
    reg::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &Registry::creds(),
        &image,
    ])
    .status
    .success()
}

fn layout_blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(fixtures::blob_path(dir, digest)).unwrap()
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_arch_layout_is_pushed_byte_for_byte_and_round_trips() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 1, &[300_000, 50_000, 1_000]);

    let out = push_ok(&src.spec(), &target(&r, &["v1", "latest"])).await;
    assert_eq!(out.digest, src.digest);
    assert_eq!(out.media_type, fixtures::OCI_MANIFEST);
    assert!(out.platforms.is_empty());
    assert_eq!((out.blobs_uploaded, out.blobs_skipped), (src.blob_count, 0));
    let img = &src.images[0].1;
    let expected_bytes: u64 = std::iter::once(&img.config)
        .chain(&img.layers)
        .map(|d| layout_blob(&src.dir, d).len() as u64)
        .sum();
    assert_eq!(out.bytes_uploaded, expected_bytes);

    for tag in ["v1", "latest"] {
        let raw = reg::raw_manifest(&r, REPO, tag);
        assert_eq!(
            raw, src.bytes,
            "registry must serve the exact source bytes under {tag}"
        );
        assert_eq!(sha256(&raw), out.digest);
    }

    // skopeo pulls it back out: same manifest digest, same blob bytes.
    let pulled = tmp.path().join("pulled");
    reg::pull_to_oci(&r, REPO, "v1", &pulled);
    assert_eq!(fixtures::layout_ref_digest(&pulled, "pulled"), src.digest);
    for d in std::iter::once(&img.config).chain(&img.layers) {
        assert_eq!(
            layout_blob(&pulled, d),
            layout_blob(&src.dir, d),
            "blob {d}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_arch_index_pushes_every_platform_and_reports_their_digests() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::multi_arch(&tmp.path().join("src"), "v2");

    let out = push_ok(&src.spec(), &target(&r, &["v2"])).await;
    assert_eq!(out.digest, src.digest);
    assert_eq!(out.media_type, fixtures::OCI_INDEX);
    let expected: Vec<PlatformDigest> = src
        .images
        .iter()
        .map(|(p, img)| PlatformDigest {
            platform: p.clone(),
            digest: img.digest.clone(),
        })
        .collect();
    assert_eq!(
        out.platforms, expected,
        "attestation manifest must not be reported"
    );
    // The shared base layer is uploaded once.
    assert_eq!((out.blobs_uploaded, out.blobs_skipped), (src.blob_count, 0));

    assert_eq!(reg::raw_manifest(&r, REPO, "v2"), src.bytes);
    for (_, img) in &src.images {
        assert_eq!(reg::raw_manifest(&r, REPO, &img.digest), img.bytes);
    }
    // The attestation manifest was pushed too (the index references it).
    let index = json(&src.bytes);
    let att = index["manifests"][2]["digest"].as_str().unwrap();
    assert_eq!(sha256(&reg::raw_manifest(&r, REPO, att)), att);

    let pulled = tmp.path().join("pulled");
    reg::pull_to_oci(&r, REPO, "v2", &pulled);
    assert_eq!(fixtures::layout_ref_digest(&pulled, "pulled"), src.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repush_of_an_unchanged_image_uploads_nothing() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 2, &[100_000, 2_000]);
    let first = push_ok(&src.spec(), &target(&r, &["v1"])).await;
    assert_eq!(first.blobs_uploaded, src.blob_count);

    let again = push_ok(&src.spec(), &target(&r, &["v1", "v1-again"])).await;
    assert_eq!(again.digest, first.digest);
    assert_eq!(
        (
            again.blobs_uploaded,
            again.blobs_skipped,
            again.bytes_uploaded
        ),
        (0, src.blob_count, 0)
    );
    assert_eq!(reg::raw_manifest(&r, REPO, "v1-again"), src.bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_without_tags_pushes_by_digest_only() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 3, &[5_000]);
    let out = push_ok(&src.spec(), &target(&r, &[])).await;
    assert_eq!(reg::raw_manifest(&r, REPO, &out.digest), src.bytes);
    assert!(
        !has_tag(&r, "v1"),
        "no tag may be created when none was asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_auth_error_that_never_shows_the_password() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 4, &[5_000]);
    let wrong = "Wr0ng-but-still-secret-Pa55";
    let err = try_push(&src.spec(), &target_at(&r.url(), &["v1"], wrong))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.exit_code(), 4, "{text}");
    assert!(text.contains("authentication failed"), "{text}");
    assert!(text.contains(&r.host()), "names the registry: {text}");
    assert!(
        !text.contains(wrong) && !text.contains(reg::PASSWORD),
        "password leaked: {text}"
    );
    let b64 = base64_basic(reg::USER, wrong);
    assert!(!text.contains(&b64), "auth header leaked: {text}");
    assert!(!text.contains('\n'));
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_blob_in_layout_fails_before_uploading_anything() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 5, &[20_000, 3_000]);
    let img = &src.images[0].1;
    std::fs::remove_file(src.blob_path(&img.layers[1])).unwrap();

    let err = push_err(&src.spec(), &target(&r, &["v1"])).await;
    assert!(
        err.message
            .contains(&format!("layer {} is missing from", img.layers[1])),
        "names the missing blob: {err}"
    );
    assert!(
        !has_blob(&r, &img.config).await,
        "nothing is uploaded from an incomplete layout"
    );
    assert!(!has_tag(&r, "v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_layer_is_caught_by_the_streaming_digest_check() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 6, &[400_000, 3_000]);
    let img = &src.images[0].1;
    fixtures::corrupt(&src.blob_path(&img.layers[0]));

    let err = push_err(&src.spec(), &target(&r, &["v1"])).await;
    assert!(err.message.contains("does not match its digest"), "{err}");
    assert!(
        err.message.contains(&img.layers[0]),
        "names the blob: {err}"
    );
    assert!(
        !has_blob(&r, &img.layers[0]).await,
        "the corrupt blob never lands"
    );
    assert!(!has_tag(&r, "v1"), "a failed push tags nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_archive_is_read_in_place_and_pushed_exactly() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 9, &[200_000, 7_000]);

    // Our own tar of the layout…
    let ours = tmp.path().join("ours.tar");
    fixtures::tar_layout(&src.dir, &ours);
    let out = push_ok(
        &format!("oci-archive:{}", ours.display()),
        &target(&r, &["from-tar"]),
    )
    .await;
    assert_eq!(out.digest, src.digest);
    assert_eq!(reg::raw_manifest(&r, REPO, "from-tar"), src.bytes);

    // …and one written by skopeo, pushed to a fresh registry so every blob is read from it.
    let r2 = Registry::start();
    let theirs = tmp.path().join("skopeo.tar");
    reg::skopeo_ok(&[
        "copy",
        &src.spec(),
        &format!("oci-archive:{}", theirs.display()),
    ]);
    let out = push_ok(
        &format!("oci-archive:{}", theirs.display()),
        &target(&r2, &["v1"]),
    )
    .await;
    assert_eq!(out.blobs_uploaded, src.blob_count);
    assert_eq!(sha256(&reg::raw_manifest(&r2, REPO, "v1")), out.digest);
    let pulled = tmp.path().join("pulled");
    reg::pull_to_oci(&r2, REPO, "v1", &pulled);
    assert_eq!(fixtures::layout_ref_digest(&pulled, "pulled"), out.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_is_compressed_deterministically_and_pullable() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    // Over 1 MiB so the parallel compressor cuts the layer into several blocks.
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 10, &[2_500_000, 60_000, 10]);
    let archive = tmp.path().join("docker.tar");
    reg::skopeo_ok(&[
        "copy",
        &src.spec(),
        &format!("docker-archive:{}:{REPO}:v1", archive.display()),
    ]);
    let spec = format!("docker-archive:{}", archive.display());

    let out = push_ok(&spec, &target(&r, &["v1"])).await;
    assert_eq!(out.media_type, DOCKER_MANIFEST);
    assert_eq!(out.blobs_uploaded, src.blob_count);
    let raw = reg::raw_manifest(&r, REPO, "v1");
    assert_eq!(sha256(&raw), out.digest);
    let manifest = json(&raw);
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST);
    let img = &src.images[0].1;
    assert_eq!(
        manifest["config"]["digest"],
        img.config.as_str(),
        "config bytes are kept as they are"
    );

    // Every layer decompresses (as one gzip member) to exactly the config's diff_id.
    let pulled = tmp.path().join("pulled");
    reg::pull_to_oci(&r, REPO, "v1", &pulled);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), img.diff_ids.len());
    for (layer, diff_id) in layers.iter().zip(&img.diff_ids) {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        let gz = layout_blob(&pulled, layer["digest"].as_str().unwrap());
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(&sha256(&tar), diff_id);
    }

    // Compression is deterministic: pushing the archive again gives the same digest and
    // finds every blob already there.
    let again = push_ok(&spec, &target(&r, &["v1-again"])).await;
    assert_eq!(again.digest, out.digest);
    assert_eq!(again.blobs_uploaded, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_archives_are_errors() {
    let r = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 11, &[300_000]);

    let oci = tmp.path().join("oci.tar");
    fixtures::tar_layout(&src.dir, &oci);
    let len = std::fs::metadata(&oci).unwrap().len();
    fixtures::truncate(&oci, len / 2);
    let err = push_err(
        &format!("oci-archive:{}", oci.display()),
        &target(&r, &["v1"]),
    )
    .await;
    // Half the archive: the layer entry runs past the end of the file.
    assert!(
        err.message.contains("is truncated (entry 'blobs/sha256/")
            && err.message.contains("bytes past offset"),
        "{err}"
    );

    let docker = tmp.path().join("docker.tar");
    reg::skopeo_ok(&[
        "copy",
        &src.spec(),
        &format!("docker-archive:{}:{REPO}:v1", docker.display()),
    ]);
    let len = std::fs::metadata(&docker).unwrap().len();
    fixtures::truncate(&docker, len - 3_000);
    let err = push_err(
        &format!("docker-archive:{}", docker.display()),
        &target(&r, &["v1"]),
    )
    .await;
    // The last 3000 bytes cut: the tar reader runs out inside an entry.
    assert!(err.message.contains("docker.tar is truncated"), "{err}");
    assert!(!has_tag(&r, "v1"));
}

// ---- fault injection: a proxy in front of the real registry ----

#[derive(Default)]
struct Faults {
    head_500: AtomicUsize,
    post_503: AtomicUsize,
    put_blob_502: AtomicUsize,
    manifest_429: AtomicUsize,
    /// The repository's tags are immutable, as ECR enforces it: a manifest PUT to a tag the
    /// registry already holds is answered `TAG_INVALID` (ECR's error body), whatever it names.
    tag_invalid: AtomicBool,
    /// `TAG_INVALID` answers given.
    tag_invalid_answers: AtomicUsize,
    /// Drop `Docker-Content-Digest` from manifest HEAD answers (a registry that does not send it).
    no_digest_on_head: AtomicBool,
    /// Blob PUTs that arrived chunked instead of with a Content-Length.
    chunked_puts: AtomicUsize,
}

fn take(c: &AtomicUsize) -> bool {
    c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

struct Ctx {
    upstream: String,
    addr: String,
    faults: Arc<Faults>,
    http: reqwest::Client,
}

struct Proxy {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_proxy(upstream: &Registry, faults: Arc<Faults>) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let ctx = Arc::new(Ctx {
        upstream: upstream.url(),
        addr: addr.clone(),
        faults,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    });
    let app = axum::Router::new().fallback(forward).with_state(ctx);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Proxy {
        url: format!("http://{addr}"),
        task,
    }
}

/// Does the registry behind the proxy hold the manifest `path` names (asked as the client)?
async fn tag_exists(ctx: &Ctx, path: &str, headers: &axum::http::HeaderMap) -> bool {
    let mut rb = ctx.http.head(format!("{}{path}", ctx.upstream)).header(
        header::ACCEPT,
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
    );
    if let Some(a) = headers.get(header::AUTHORIZATION) {
        rb = rb.header(header::AUTHORIZATION, a);
    }
    rb.send().await.is_ok_and(|r| r.status().is_success())
}

async fn forward(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let f = &ctx.faults;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let path_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path.clone());
    let is_blob_put = method == Method::PUT && path.contains("/blobs/uploads/");
    let method_is_head_manifest = method == Method::HEAD && path.contains("/manifests/");
    if method == Method::HEAD && path.contains("/blobs/") && take(&f.head_500) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if method == Method::POST && path.ends_with("/blobs/uploads/") && take(&f.post_503) {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    if is_blob_put {
        if !req.headers().contains_key(header::CONTENT_LENGTH)
            || req.headers().contains_key(header::TRANSFER_ENCODING)
        {
            f.chunked_puts.fetch_add(1, Ordering::SeqCst);
        }
        if take(&f.put_blob_502) {
            return StatusCode::BAD_GATEWAY.into_response();
        }
    }
    if method == Method::PUT && path.contains("/manifests/") {
        if f.tag_invalid.load(Ordering::SeqCst)
            && !path.contains("sha256:")
            && tag_exists(&ctx, &path, req.headers()).await
        {
            f.tag_invalid_answers.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"errors":[{"code":"TAG_INVALID","message":"The image tag 'v1' already exists in the 'team/app' repository and cannot be overwritten because the repository is immutable."}]}"#;
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
        if take(&f.manifest_429) {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
            )
                .into_response();
        }
    }

    let mut rb = ctx
        .http
        .request(method, format!("{}{path_query}", ctx.upstream));
    for (k, v) in req.headers() {
        if k != header::HOST {
            rb = rb.header(k, v);
        }
    }
    // The registry builds upload Locations from these: keep the client talking to the proxy.
    rb = rb
        .header(header::HOST, &ctx.addr)
        .header("X-Forwarded-Host", &ctx.addr);
    let body = reqwest::Body::wrap_stream(req.into_body().into_data_stream());
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let strip_digest = method_is_head_manifest && f.no_digest_on_head.load(Ordering::SeqCst);
    let mut out = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        if strip_digest && k.as_str() == "docker-content-digest" {
            continue;
        }
        if k != header::TRANSFER_ENCODING && k != header::CONNECTION {
            out = out.header(k, v);
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_registry_errors_are_retried_per_blob() {
    let r = Registry::start();
    let faults = Arc::new(Faults::default());
    faults.head_500.store(1, Ordering::SeqCst);
    faults.post_503.store(2, Ordering::SeqCst);
    faults.put_blob_502.store(1, Ordering::SeqCst);
    faults.manifest_429.store(1, Ordering::SeqCst);
    let proxy = start_proxy(&r, faults.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 12, &[150_000, 4_000]);

    let out = push_ok(&src.spec(), &target_at(&proxy.url, &["v1"], reg::PASSWORD)).await;
    assert_eq!(out.digest, src.digest);
    assert_eq!(out.blobs_uploaded, src.blob_count);
    for (name, c) in [
        ("HEAD", &faults.head_500),
        ("POST", &faults.post_503),
        ("PUT blob", &faults.put_blob_502),
        ("PUT manifest", &faults.manifest_429),
    ] {
        assert_eq!(
            c.load(Ordering::SeqCst),
            0,
            "the injected {name} failure was not hit"
        );
    }
    assert_eq!(
        faults.chunked_puts.load(Ordering::SeqCst),
        0,
        "blob PUTs carry Content-Length"
    );
    assert_eq!(reg::raw_manifest(&r, REPO, "v1"), src.bytes);
}

/// An immutable tag already pointing at another image stays an error, naming both digests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_tag_naming_another_image_is_a_clear_runtime_error() {
    let r = Registry::start();
    let faults = Arc::new(Faults::default());
    faults.tag_invalid.store(true, Ordering::SeqCst);
    let proxy = start_proxy(&r, faults.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let first = fixtures::single_arch(&tmp.path().join("a"), "v1", 13, &[4_000]);
    let other = fixtures::single_arch(&tmp.path().join("b"), "v1", 14, &[4_000]);
    let t = target_at(&proxy.url, &["v1"], reg::PASSWORD);
    push_ok(&first.spec(), &t).await;
    assert_eq!(
        faults.tag_invalid_answers.load(Ordering::SeqCst),
        0,
        "v1 was new"
    );

    let err = push_err(&other.spec(), &t).await;
    assert_eq!(faults.tag_invalid_answers.load(Ordering::SeqCst), 1);
    assert!(err.message.contains("tag v1"), "{err}");
    assert!(err.message.contains("immutable"), "{err}");
    assert!(
        err.message
            .contains(&format!("already points at {}", first.digest))
            && err
                .message
                .contains(&format!("not at the pushed {}", other.digest)),
        "both digests named: {err}"
    );
    assert_eq!(reg::raw_manifest(&r, REPO, "v1"), first.bytes, "v1 unmoved");
}

/// Issue 21: a retried pipeline re-pushing its reproducible build to an IMMUTABLE tag is done
/// when the tag already names the pushed digest — read from `Docker-Content-Digest` on a HEAD,
/// or (a registry that does not send it) from the manifest's own bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_repush_to_an_immutable_tag_is_done() {
    let r = Registry::start();
    let faults = Arc::new(Faults::default());
    faults.tag_invalid.store(true, Ordering::SeqCst);
    let proxy = start_proxy(&r, faults.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(&tmp.path().join("src"), "v1", 15, &[4_000]);
    let t = target_at(&proxy.url, &["v1"], reg::PASSWORD);
    assert_eq!(push_ok(&src.spec(), &t).await.digest, src.digest);
    for (round, strip) in [(1, false), (2, true)] {
        faults.no_digest_on_head.store(strip, Ordering::SeqCst);
        let again = push_ok(&src.spec(), &t).await;
        assert_eq!(again.digest, src.digest);
        assert_eq!(
            faults.tag_invalid_answers.load(Ordering::SeqCst),
            round,
            "the immutable tag refused the re-push (round {round})"
        );
    }
    assert_eq!(reg::raw_manifest(&r, REPO, "v1"), src.bytes);
}

/// An index with a clean arm64 image and an amd64 image whose config media type is not
/// byte-exact (`…; charset=utf-8`: runtimes run it), plus an SBOM artifact on the OCI empty
/// descriptor. Returns the layout and the (arm64, amd64, artifact) digests.
fn index_with_an_odd_config(dir: &Path) -> (std::path::PathBuf, String, String, String) {
    use fixtures::{write_blob, write_image, OCI_INDEX, OCI_MANIFEST};
    std::fs::create_dir_all(dir).unwrap();
    let arm = write_image(dir, 31, "arm64", &[20_000]);
    let amd = write_image(dir, 32, "amd64", &[20_000]);
    let mut odd: serde_json::Value = serde_json::from_slice(&amd.bytes).unwrap();
    odd["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json; charset=utf-8".into();
    let (odd_digest, odd_size) = write_blob(dir, &serde_json::to_vec_pretty(&odd).unwrap());
    let (empty, _) = write_blob(dir, b"{}");
    let (sbom_layer, sbom_layer_size) = write_blob(dir, br#"{"spdxVersion":"SPDX-2.3"}"#);
    let sbom = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": sbom_layer, "size": sbom_layer_size}]});
    let (sbom_digest, sbom_size) = write_blob(dir, &serde_json::to_vec(&sbom).unwrap());
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": arm.digest, "size": arm.bytes.len(),
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": OCI_MANIFEST, "digest": odd_digest, "size": odd_size,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": sbom_digest, "size": sbom_size,
         "artifactType": "application/spdx+json"}]});
    let (d, n) = write_blob(dir, &serde_json::to_vec_pretty(&index).unwrap());
    fixtures::write_layout_files(dir, "v1", OCI_INDEX, &d, n);
    (dir.to_path_buf(), arm.digest, odd_digest, sbom_digest)
}

/// Issue 19: a child whose config media type is not byte-exact was skipped by the push, the
/// `--image` resolution and the scan alike, so an index with a clean arm64 child and a
/// vulnerable amd64 child passed. Both children are gated now, through a real registry; the
/// artifact on the empty descriptor is still pushed but never waited for.
#[test]
fn an_index_child_with_an_odd_config_media_type_is_pushed_and_gated() {
    use support::aws::{self as a, text};
    use support::scenario::{finding, Cov, DigestScript, Read, Scenario, ScenarioState};
    const ECR_PASSWORD: &str = "123456789012-auth-token";
    let moto = support::moto::Moto::start();
    a::create_repo(&moto.url, REPO);
    a::enhanced_scanning(&moto.url, "team/*");
    let registry = Registry::start_as("AWS", ECR_PASSWORD);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, arm, amd, sbom) = index_with_an_odd_config(&tmp.path().join("oci"));
    let now = crate::support::findings::now();
    let script = |f: Vec<serde_json::Value>| DigestScript {
        coverage: [Cov::Row {
            code: "ACTIVE",
            reason: "SUCCESSFUL",
            last_scanned_at: Some(now - 60),
        }]
        .into(),
        reads: [Read::Findings(f)].into(),
    };
    let low = finding("CVE-2024-0002", "LOW", "zlib", "1.2.11", None, &arm, REPO);
    let crit = finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        &amd,
        REPO,
    );
    let scen = Scenario::start(ScenarioState {
        images: [
            (arm.clone(), script(vec![low])),
            (amd.clone(), script(vec![crit])),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    });
    let push_from = format!("oci:{}:v1", dir.display());
    let image = format!("{REPO}:v1");
    let args = [
        "gate",
        "--push-from",
        &push_from,
        "--image",
        &image,
        "--registry-url",
        &registry.url(),
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "60s",
        "--poll-interval",
        "50ms",
        "--settle",
        "100ms",
    ];
    let (code, out, err) = text(&a::run(&moto.url, &scen.url, &args, &[], tmp.path()));
    // The amd64 child's CRITICAL is gated: exit 1, not the pass the old rule gave.
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains(&amd) && out.contains("CVE-2024-0001"), "{out}");
    assert!(out.contains(&arm), "the arm64 child is gated too: {out}");
    assert!(
        scen.calls_about("ListFindings", &sbom).is_empty(),
        "the artifact on the empty descriptor was waited for"
    );
    // Every child, the artifact included, is in the registry byte for byte.
    for d in [&arm, &amd, &sbom] {
        let raw = reg::skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &format!("AWS:{ECR_PASSWORD}"),
            &format!("docker://{}/{REPO}@{d}", registry.host()),
        ]);
        assert!(raw.status.success(), "{d} not pushed");
        assert_eq!(&sha256(&raw.stdout), d);
    }
}

/// Issue 25: several `--push-from` in one run, each to the `--image` in the same place. Each
/// image lands in its own repository byte for byte, each is gated on its own findings (the
/// clean one passes, the CRITICAL one fails the run), and the run asks ECR for one
/// authorization token, not one per push.
#[test]
fn several_pushes_in_one_run_go_each_to_their_destination_on_one_token() {
    use support::aws::{self as a, text};
    use support::faults::{FaultProxy, Plan};
    use support::scenario::{finding, Cov, DigestScript, Read, Scenario, ScenarioState};
    const ECR_PASSWORD: &str = "123456789012-auth-token";
    let moto = support::moto::Moto::start();
    let repos = ["team/api", "team/web", "team/worker"];
    for r in repos {
        a::create_repo(&moto.url, r);
    }
    a::enhanced_scanning(&moto.url, "team/*");
    let ecr = FaultProxy::start(&moto.url, Plan::clean());
    let registry = Registry::start_as("AWS", ECR_PASSWORD);
    let tmp = tempfile::tempdir().unwrap();
    let layouts: Vec<_> = (0..3)
        .map(|k| fixtures::single_arch(&tmp.path().join(format!("oci{k}")), "v1", 40 + k, &[512]))
        .collect();
    let now = crate::support::findings::now();
    let script = |f: Vec<serde_json::Value>| DigestScript {
        coverage: [Cov::Row {
            code: "ACTIVE",
            reason: "SUCCESSFUL",
            last_scanned_at: Some(now - 60),
        }]
        .into(),
        reads: [Read::Findings(f)].into(),
    };
    // Only team/web's image (the second source) has a CRITICAL.
    let crit = finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        &layouts[1].digest,
        repos[1],
    );
    let low = |k: usize| {
        finding(
            "CVE-2024-0002",
            "LOW",
            "zlib",
            "1.2.11",
            None,
            &layouts[k].digest,
            repos[k],
        )
    };
    let scen = Scenario::start(ScenarioState {
        images: [
            (layouts[0].digest.clone(), script(vec![low(0)])),
            (layouts[1].digest.clone(), script(vec![crit])),
            (layouts[2].digest.clone(), script(vec![low(2)])),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    });
    let reports = tmp.path().join("reports");
    let mut args: Vec<String> = vec!["gate".into()];
    for (l, r) in layouts.iter().zip(repos) {
        args.extend([
            "--push-from".into(),
            l.spec(),
            "--image".into(),
            format!("{r}:v1"),
        ]);
    }
    args.extend(
        [
            "--registry-url",
            &registry.url(),
            "--fail-on",
            "CRITICAL",
            "--timeout",
            "60s",
            "--poll-interval",
            "50ms",
            "--settle",
            "100ms",
            "--report-dir",
            reports.to_str().unwrap(),
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = text(&a::run(&ecr.url, &scen.url, &args, &[], tmp.path()));
    assert_eq!(code, 1, "team/web's CRITICAL fails the run\n{out}\n{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
            .unwrap();
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 3, "{report}");
    for (k, (l, r)) in layouts.iter().zip(repos).enumerate() {
        let i = images
            .iter()
            .find(|i| i["image"]["digest"] == l.digest.as_str())
            .unwrap_or_else(|| panic!("{} not gated: {report}", l.digest));
        assert_eq!(i["image"]["repository"], r, "source {k} went elsewhere");
        let want = if k == 1 { "fail" } else { "pass" };
        assert_eq!(i["evaluation"]["verdict"], want, "{r}: {i}");
        // In the registry under its own repository, byte for byte; not under the others.
        let raw = reg::skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &format!("AWS:{ECR_PASSWORD}"),
            &format!("docker://{}/{r}:v1", registry.host()),
        ]);
        assert!(raw.status.success(), "{r}:v1 not pushed");
        assert_eq!(sha256(&raw.stdout), l.digest, "{r}:v1 holds another image");
    }
    assert_eq!(
        ecr.seen("GetAuthorizationToken"),
        1,
        "one token serves every push of the run"
    );
}
