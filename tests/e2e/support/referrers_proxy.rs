//! The OCI 1.1 referrers API in front of the real registry: Debian's docker-registry
//! (distribution 2.8) stores everything, and this proxy adds what distribution 3 and ECR serve
//! and 2.8 lacks — `GET /v2/<repo>/referrers/<digest>`, an image index of the manifests pushed
//! through it whose `subject` is that digest, and the `OCI-Subject` header on such a push. No
//! registry with the referrers API installs from this machine's package registries, so this is
//! the scripted peer for that one endpoint; every other request is forwarded unchanged (upload
//! `Location`s rewritten to come back through the proxy). On 127.0.0.1:<free port>, stopped
//! when dropped.
#![allow(dead_code)]

use super::serve::Served;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct ProxyState {
    upstream: String,
    me: String,
    /// subject digest → descriptors of the manifests naming it.
    referrers: BTreeMap<String, Vec<Value>>,
}

type Shared = Arc<Mutex<ProxyState>>;

pub struct ReferrersProxy {
    pub url: String,
    state: Shared,
    _served: Served,
}

fn referrers_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    let (_, digest) = rest.rsplit_once("/referrers/")?;
    Some(digest.to_string())
}

async fn answer(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if method == Method::GET {
        if let Some(digest) = referrers_path(&path) {
            let manifests = state
                .lock()
                .unwrap()
                .referrers
                .get(&digest)
                .cloned()
                .unwrap_or_default();
            let index = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": manifests,
            });
            return (
                StatusCode::OK,
                [("content-type", "application/vnd.oci.image.index.v1+json")],
                index.to_string(),
            )
                .into_response();
        }
    }
    let (upstream, me) = {
        let s = state.lock().unwrap();
        (s.upstream.clone(), s.me.clone())
    };
    let target = format!(
        "{upstream}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let client = reqwest::Client::new();
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
        &target,
    );
    for name in ["authorization", "content-type", "accept"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    let resp = match req.body(body.clone()).send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut out = HeaderMap::new();
    for (k, v) in resp.headers() {
        let name = k.as_str();
        // A HEAD answer's length is the manifest's size: keep it; any other body is re-framed.
        let framing = name == "content-length" && method != Method::HEAD;
        if framing || ["transfer-encoding", "connection"].contains(&name) {
            continue;
        }
        let value = v.to_str().unwrap_or_default().replace(&upstream, &me);
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.append(n, v);
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    // A manifest with a subject pushed through us: remember it as a referrer of its subject.
    if method == Method::PUT && path.contains("/manifests/") && status.is_success() {
        if let Ok(m) = serde_json::from_slice::<Value>(&body) {
            if let Some(subject) = m.pointer("/subject/digest").and_then(Value::as_str) {
                let d = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
                let mut desc = json!({
                    "mediaType": m["mediaType"],
                    "digest": d,
                    "size": body.len(),
                    "artifactType": m["artifactType"],
                });
                if let Some(a) = m.get("annotations") {
                    desc["annotations"] = a.clone();
                }
                state
                    .lock()
                    .unwrap()
                    .referrers
                    .entry(subject.to_string())
                    .or_default()
                    .push(desc);
                out.insert("oci-subject", HeaderValue::from_str(subject).unwrap());
            }
        }
    }
    (status, out, bytes).into_response()
}

impl ReferrersProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> ReferrersProxy {
        let mut state = None;
        let served = Served::start_with(|url| {
            let shared: Shared = Arc::new(Mutex::new(ProxyState {
                upstream: upstream.trim_end_matches('/').to_string(),
                me: url.to_string(),
                referrers: BTreeMap::new(),
            }));
            state = Some(shared.clone());
            Router::new().fallback(answer).with_state(shared)
        });
        ReferrersProxy {
            url: served.url.clone(),
            state: state.unwrap(),
            _served: served,
        }
    }

    /// The referrers recorded for `digest`.
    pub fn referrers(&self, digest: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .referrers
            .get(digest)
            .cloned()
            .unwrap_or_default()
    }
}
