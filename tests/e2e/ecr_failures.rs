//! ECR's own reasons: every `failureCode` `BatchGetImage` can report (botocore's
//! `ImageFailureCode`, read from the model, so a new code fails this test until it is
//! mapped) reaches the user as its own message and exit code, and only what can heal is asked
//! again — a tag not visible yet (for the 15 s grace) and a pull-through cache's upstream that
//! is busy or down (until the deadline). The real binary talks to an ECR stand-in in front of
//! moto: it checks each request against the ecr model, answers `BatchGetImage` with the
//! scripted failures, and forwards everything else (and `BatchGetImage` once the script is
//! spent) to moto.

use crate::support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::findings::{now, scanned};
use support::model::ModelGuard;
use support::serve::Served;
use support::world::{self, World};

#[derive(Default)]
struct Ecr {
    moto: String,
    /// Failure codes answered to the next `BatchGetImage` calls, one each; `always` after.
    script: VecDeque<&'static str>,
    always: Option<&'static str>,
    batch_gets: Vec<Instant>,
    model: Arc<ModelGuard>,
}

type Shared = Arc<Mutex<Ecr>>;

async fn ecr(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let op = target.rsplit('.').next().unwrap_or_default().to_string();
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (failure, moto) = {
        let mut st = s.lock().unwrap();
        if let Err(r) = st.model.check("ecr", &op, &req) {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                r.json_body().to_string(),
            )
                .into_response();
        }
        let failure = if op == "BatchGetImage" {
            st.batch_gets.push(Instant::now());
            st.script.pop_front().or(st.always)
        } else {
            None
        };
        (failure, st.moto.clone())
    };
    if let Some(code) = failure {
        let id = req["imageIds"][0].clone();
        let answer = json!({ "images": [], "failures": [{
            "imageId": id, "failureCode": code, "failureReason": format!("scripted {code}") }] });
        return (
            [("content-type", "application/x-amz-json-1.1")],
            answer.to_string(),
        )
            .into_response();
    }
    // Everything else is moto's answer, signature and all.
    let mut rb = reqwest::Client::new().post(format!("{moto}/"));
    for (k, v) in &headers {
        if !matches!(k.as_str(), "content-length" | "host" | "connection") {
            rb = rb.header(k.as_str(), v.as_bytes());
        }
    }
    let resp = rb.body(body).send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        bytes,
    )
        .into_response()
}

struct Standin {
    url: String,
    state: Shared,
    _served: Served,
}

impl Drop for Standin {
    fn drop(&mut self) {
        let guard = self.state.lock().unwrap().model.clone();
        guard.finish();
    }
}

impl Standin {
    fn start(moto: &str, script: &[&'static str], always: Option<&'static str>) -> Standin {
        let state: Shared = Arc::new(Mutex::new(Ecr {
            moto: moto.to_string(),
            script: script.iter().copied().collect(),
            always,
            ..Default::default()
        }));
        let served = Served::start(
            Router::new()
                .route("/", post(ecr))
                .with_state(state.clone()),
        );
        Standin {
            url: served.url.clone(),
            state,
            _served: served,
        }
    }

    fn batch_gets(&self) -> Vec<Instant> {
        self.state.lock().unwrap().batch_gets.clone()
    }
}

/// Every `failureCode` of botocore's ecr model.
fn failure_codes() -> Vec<String> {
    let dir = support::model::botocore_dir().join("data/ecr");
    let mut versions: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    let newest = versions.pop().unwrap();
    let gz = newest.join("service-2.json.gz");
    let text = if gz.exists() {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        std::fs::read_to_string(newest.join("service-2.json")).unwrap()
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    v["shapes"]["ImageFailureCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// What the gate must do with each code: exit code, a fragment of its own message, and
/// whether it asks again (`None`: once; `Some(min)`: at least `min` calls).
fn expected(code: &str) -> (i32, &'static str, Option<usize>) {
    match code {
        "ImageNotFound" => (4, "not found in ECR", Some(3)),
        "ImageTagDoesNotMatchDigest" => (4, "name different images", None),
        "InvalidImageDigest" => (2, "refuses the digest", None),
        "InvalidImageTag" => (2, "refuses the tag", None),
        "MissingDigestAndTag" => (2, "without a tag or digest", None),
        "KmsError" => (4, "KMS key of repository app/web", None),
        "ImageInaccessible" => (4, "update-image-storage-class", None),
        "UpstreamAccessDenied" => (4, "refused to serve", None),
        "UpstreamTooManyRequests" => (4, "still rate-limited", Some(3)),
        "UpstreamUnavailable" => (4, "still unavailable", Some(3)),
        // Only BatchDeleteImage reports it; here it is ECR's words, once.
        "ImageReferencedByManifestList" => (4, "did not return", None),
        other => {
            panic!("failureCode {other} is new in the ecr model: map it in src/aws/ecr.rs and here")
        }
    }
}

/// The gate in a temp dir of its own (runs of it go at once), against ECR at `ecr_url`.
fn gate(ecr_url: &str, scen: &str, timeout: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        timeout,
    ];
    world::gate_at(ecr_url, scen, &args, &[], dir.path())
}

#[test]
fn every_failure_code_has_its_own_message_and_exit_code() {
    let w = World::new();
    let (moto, scen) = (&w.moto, &w.scen);
    let codes = failure_codes();
    assert!(codes.len() >= 10, "{codes:?}");
    let codes: Vec<&'static str> = codes.into_iter().map(|c| &*c.leak()).collect();
    // Each code in its own run, all at once (the healing ones wait out the 8 s deadline).
    let runs: Vec<_> = codes
        .iter()
        .map(|code| {
            let (moto, scen) = (moto.url.clone(), scen.url.clone());
            let code = *code;
            std::thread::spawn(move || {
                let ecr = Standin::start(&moto, &[], Some(code));
                let t = Instant::now();
                let (exit, out, err) = gate(&ecr.url, &scen, "8s");
                (code, exit, out, err, ecr.batch_gets().len(), t.elapsed())
            })
        })
        .collect();
    let mut measured = Vec::new();
    for r in runs {
        let (code, exit, out, err, calls, took) = r.join().unwrap();
        let (want_exit, fragment, again) = expected(code);
        assert_eq!(exit, want_exit, "{code}: exit code\n{out}\n{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{code}: no error line\n{err}"));
        assert!(
            line.contains(fragment) && line.contains(&format!("scripted {code}")),
            "{code}: its own message with ECR's reason, got: {line}"
        );
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        match again {
            None => assert_eq!(
                calls, 1,
                "{code} cannot heal: asked once, not {calls} times"
            ),
            Some(min) => assert!(calls >= min, "{code} can heal: asked {calls} times"),
        }
        if code != "ImageNotFound" && again.is_none() {
            assert!(
                took < Duration::from_secs(5),
                "{code}: no wait, took {took:?}"
            );
        }
        measured.push(format!("{code}: exit {exit}, {calls} call(s), {took:.1?}"));
    }
    eprintln!("{}", measured.join("\n"));
}

#[test]
fn a_busy_upstream_heals_and_the_gate_goes_on() {
    let w = World::new();
    let digest = w.put_image("v1", "upstream");
    w.script(&digest, scanned(now() - 60, vec![]));
    let ecr = Standin::start(
        &w.moto.url,
        &["UpstreamTooManyRequests", "UpstreamUnavailable"],
        None,
    );
    let (exit, out, err) = gate(&ecr.url, &w.scen.url, "60s");
    assert_eq!(exit, 0, "the cache's upstream recovered:\n{out}\n{err}");
    assert!(
        err.contains(&digest) || out.contains(&digest),
        "{out}\n{err}"
    );
    assert_eq!(ecr.batch_gets().len(), 3, "two failures, then the image");
}

/// An endpoint that refuses every connection is retried until `--timeout`, and never in
/// silence: the fourth retry of the call is told without `-v` (what failed, and that the gate
/// goes on until --timeout), every retry with `-v`, and the run ends with exit 4 naming the call.
#[test]
fn retries_of_an_unreachable_endpoint_are_told_as_they_happen() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    for (verbose, want) in [(false, 1), (true, 4)] {
        let mut args = vec!["gate", "--image", "app/web:v1", "--timeout", "20s"];
        if verbose {
            args.push("-v");
        }
        let cmd = support::aws::command(&endpoint, &endpoint, &args, &[], dir.path());
        let out = support::aws::run_bounded(cmd, Duration::from_secs(60));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        let told: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("(until --timeout)") && l.contains("Connection refused"))
            .collect();
        assert!(told.len() >= want, "verbose={verbose}: {err}");
        assert!(told.iter().any(|l| l.contains("retry 4 in")), "{err}");
        assert!(!err.contains("test-secret-key-do-not-leak"), "{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(last.contains("ecr:BatchGetImage"), "{err}");
    }
}
