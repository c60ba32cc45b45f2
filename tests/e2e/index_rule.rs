//! The runnable-child rule for an index already in ECR (`gate --image`, `aws::ecr::resolve`):
//! the same `oci::classify` as the push and the scan, reading a child's config through ECR
//! (`GetDownloadUrlForLayer`, then the download URL) when its media type proves nothing. moto
//! has no `GetDownloadUrlForLayer`: a small proxy in front of moto answers it (in the shape the
//! SDK deserialises) and serves the blobs, forwarding every other call to moto.

use crate::support;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use support::aws as a;
use support::findings::{now, scanned};
use support::fixtures::sha256;
use support::scenario::{DigestScript, Read, Scenario, ScenarioState};
use support::serve::Served;
use support::world::{self, REPO};

#[derive(Default)]
struct Blobs {
    moto: String,
    url: String,
    blobs: HashMap<String, Vec<u8>>,
    download_url_calls: Vec<String>,
    model: support::model::ModelGuard,
}
type Shared = Arc<Mutex<Blobs>>;

/// moto for ECR, plus `GetDownloadUrlForLayer` and the blob downloads it points at.
struct EcrBlobs {
    url: String,
    state: Shared,
    _served: Served,
}

impl Drop for EcrBlobs {
    fn drop(&mut self) {
        let guard = std::mem::take(&mut self.state.lock().unwrap().model);
        guard.finish();
    }
}

async fn blob(State(s): State<Shared>, UrlPath(d): UrlPath<String>) -> Response {
    match s.lock().unwrap().blobs.get(&d) {
        Some(b) => b.clone().into_response(),
        None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

async fn ecr(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Some(op) = target.rsplit_once('.').map(|(_, op)| op) {
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Err(r) = s.lock().unwrap().model.check("ecr", op, &req) {
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                r.json_body().to_string(),
            )
                .into_response();
        }
    }
    if target.ends_with(".GetDownloadUrlForLayer") {
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let d = req["layerDigest"].as_str().unwrap_or_default().to_string();
        let mut st = s.lock().unwrap();
        st.download_url_calls.push(d.clone());
        let out =
            serde_json::json!({"downloadUrl": format!("{}/blobs/{d}", st.url), "layerDigest": d});
        return (
            [("content-type", "application/x-amz-json-1.1")],
            out.to_string(),
        )
            .into_response();
    }
    let moto = s.lock().unwrap().moto.clone();
    let mut req = reqwest::Client::new().request(method, format!("{moto}{uri}"));
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .cloned()
        .unwrap_or_else(|| "application/x-amz-json-1.1".parse().unwrap());
    let bytes = resp.bytes().await.unwrap();
    Response::builder()
        .status(status.as_u16())
        .header("content-type", ct)
        .body(Body::from(bytes))
        .unwrap()
}

impl EcrBlobs {
    fn start(moto: &str) -> EcrBlobs {
        let mut state = None;
        let served = Served::start_with(|url| {
            let shared: Shared = Arc::new(Mutex::new(Blobs {
                moto: moto.to_string(),
                url: url.to_string(),
                ..Default::default()
            }));
            state = Some(shared.clone());
            Router::new()
                .route("/blobs/{digest}", get(blob))
                .fallback(ecr)
                .with_state(shared)
        });
        EcrBlobs {
            url: served.url.clone(),
            state: state.unwrap(),
            _served: served,
        }
    }

    /// Serve `bytes` as a blob; its digest.
    fn blob(&self, bytes: &[u8]) -> String {
        let d = sha256(bytes);
        self.state
            .lock()
            .unwrap()
            .blobs
            .insert(d.clone(), bytes.to_vec());
        d
    }
}

fn manifest(config_type: &str, config: &str, size: usize) -> String {
    serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": config, "size": size}, "layers": []})
    .to_string()
}

fn done() -> DigestScript {
    scanned(now() - 60, vec![])
}

const ODD: &str = "application/vnd.oci.image.config.v1+json; charset=utf-8";

/// Issue 19 item 2 for `--image`: a clean arm64 child and an amd64 child whose config media
/// type is not byte-exact (its config has diff ids) are both gated; a Helm-like artifact whose
/// config has no `rootfs.diff_ids` is skipped; the rule read exactly the configs it needed.
#[test]
fn image_index_children_are_classified_by_their_config_bytes() {
    let moto = world::moto();
    let ecr = EcrBlobs::start(&moto.url);
    let image_config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let odd_cfg = ecr.blob(image_config);
    let chart_cfg = ecr.blob(br#"{"name":"chart","version":"1.0.0","apiVersion":"v2"}"#);
    let arm = a::put_image(&moto.url, REPO, None, "arm64-clean");
    let amd = a::put_manifest(
        &moto.url,
        REPO,
        None,
        &manifest(ODD, &odd_cfg, image_config.len()),
        "application/vnd.oci.image.manifest.v1+json",
    );
    let chart = a::put_manifest(
        &moto.url,
        REPO,
        None,
        &manifest("application/vnd.cncf.helm.config.v1+json", &chart_cfg, 52),
        "application/vnd.oci.image.manifest.v1+json",
    );
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": 100,
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": 100,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": chart, "size": 100}]})
    .to_string();
    a::put_manifest(
        &moto.url,
        REPO,
        Some("v1"),
        &index,
        "application/vnd.oci.image.index.v1+json",
    );
    let mut bad = done();
    bad.reads = [Read::Findings(vec![world::crit(&amd)])].into();
    let scen = Scenario::start(ScenarioState {
        images: [(arm.clone(), done()), (amd.clone(), bad)]
            .into_iter()
            .collect(),
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "60s",
    ];
    let (code, out, err) = world::gate_at(&ecr.url, &scen.url, &args, &[], tmp.path());
    assert_eq!(code, 1, "the odd child's CRITICAL is gated:\n{out}\n{err}");
    assert!(out.contains(&amd) && out.contains(&arm), "{out}");
    assert!(
        scen.calls_about("ListFindings", &chart).is_empty(),
        "the chart (no diff ids) was waited for"
    );
    let mut read = ecr.state.lock().unwrap().download_url_calls.clone();
    read.sort();
    let mut want = vec![odd_cfg, chart_cfg];
    want.sort();
    assert_eq!(read, want, "only the configs the rule needed were read");
}

/// A child whose config the rule needs but cannot read is inconclusive, never skipped.
#[test]
fn an_unreadable_config_is_inconclusive() {
    let moto = world::moto();
    let ecr = EcrBlobs::start(&moto.url);
    let missing = sha256(b"never served");
    let odd = a::put_manifest(
        &moto.url,
        REPO,
        None,
        &manifest("", &missing, 12),
        "application/vnd.oci.image.manifest.v1+json",
    );
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": odd, "size": 100,
            "platform": {"os": "linux", "architecture": "amd64"}}]})
    .to_string();
    a::put_manifest(
        &moto.url,
        REPO,
        Some("v1"),
        &index,
        "application/vnd.oci.image.index.v1+json",
    );
    let scen = Scenario::start(ScenarioState::default());
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--image", "app/web:v1", "--timeout", "30s"];
    let (code, _out, err) = world::gate_at(&ecr.url, &scen.url, &args, &[], tmp.path());
    assert_eq!(code, 3, "{err}");
    let line = err.lines().rfind(|l| l.starts_with("error:")).unwrap_or("");
    assert!(
        line.contains("cannot read the config") && line.contains(&missing),
        "{line}"
    );
    assert_eq!(scen.calls("ListCoverage"), 0);
}
