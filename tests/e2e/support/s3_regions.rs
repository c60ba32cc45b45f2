//! S3's regions in front of moto: moto serves every bucket from any region it is asked in
//! (checked: a `GetObject` signed for us-east-1 of a bucket created in eu-west-1 answers 200),
//! while S3 answers a read signed for the wrong region with `301 PermanentRedirect`, the
//! bucket's region in `x-amz-bucket-region` (what botocore's S3RegionRedirector follows).
//! This proxy adds exactly that: the bucket's region is moto's own (`HeadBucket`'s
//! `x-amz-bucket-region`), the request's is its SigV4 credential scope; object reads
//! signed elsewhere get S3's redirect, everything else is moto's answer. With
//! [`S3Regions::deny_reads`] an object read is answered `403 AccessDenied`, as S3 answers a
//! caller without `kms:Decrypt` on an SSE-KMS object. On 127.0.0.1:<free port>, stopped when
//! dropped.
#![allow(dead_code)]

use super::serve::Served;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct St {
    moto: String,
    deny: bool,
    /// Every object read: (region it was signed for, status answered).
    reads: Vec<(String, u16)>,
}

type Shared = Arc<Mutex<St>>;

pub struct S3Regions {
    pub url: String,
    state: Shared,
    _served: Served,
}

/// The region of a SigV4 `Authorization` header's credential scope.
fn signed_region(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or_default()
        .to_string()
}

async fn answer(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (moto, deny) = {
        let st = s.lock().unwrap();
        (st.moto.clone(), st.deny)
    };
    let http = reqwest::Client::new();
    let path = uri.path().to_string();
    let mut segs = path.trim_start_matches('/').splitn(2, '/');
    let bucket = segs.next().unwrap_or_default().to_string();
    let is_object_read =
        method == Method::GET && segs.next().is_some_and(|k| !k.is_empty()) && !bucket.is_empty();
    if is_object_read {
        let region = signed_region(&headers);
        let home = http
            .head(format!("{moto}/{bucket}"))
            .send()
            .await
            .ok()
            .and_then(|r| {
                r.headers()
                    .get("x-amz-bucket-region")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
        let reply = match home {
            Some(home) if home != region => Some((
                StatusCode::MOVED_PERMANENTLY,
                Some(home.clone()),
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>{bucket}.s3.{home}.amazonaws.com</Endpoint><Bucket>{bucket}</Bucket><RequestId>REDIRECT0001</RequestId><HostId>proxy</HostId></Error>"),
            )),
            Some(home) if deny => Some((
                StatusCode::FORBIDDEN,
                Some(home),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>DENIED0001</RequestId><HostId>proxy</HostId></Error>".to_string(),
            )),
            _ => None,
        };
        let status = reply.as_ref().map(|r| r.0.as_u16()).unwrap_or(200);
        s.lock().unwrap().reads.push((region, status));
        if let Some((status, home, xml)) = reply {
            let mut resp = (status, [("content-type", "application/xml")], xml).into_response();
            if let Some(h) = home {
                resp.headers_mut()
                    .insert("x-amz-bucket-region", h.parse().unwrap());
            }
            return resp;
        }
    }
    let target = format!(
        "{moto}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut req = http.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
        &target,
    );
    for (k, v) in &headers {
        if !matches!(k.as_str(), "host" | "content-length" | "connection") {
            req = req.header(k.as_str(), v.as_bytes());
        }
    }
    let resp = match req.body(body).send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut out = HeaderMap::new();
    for (k, v) in resp.headers() {
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            out.append(k.clone(), v.clone());
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    (status, out, bytes).into_response()
}

impl S3Regions {
    /// A proxy to moto at `moto` (`http://127.0.0.1:PORT`).
    pub fn start(moto: &str) -> S3Regions {
        let state: Shared = Arc::new(Mutex::new(St {
            moto: moto.trim_end_matches('/').to_string(),
            ..Default::default()
        }));
        let served = Served::start(Router::new().fallback(answer).with_state(state.clone()));
        S3Regions {
            url: served.url.clone(),
            state,
            _served: served,
        }
    }

    /// Answer every object read signed for the bucket's region with `403 AccessDenied`.
    pub fn deny_reads(&self) {
        self.state.lock().unwrap().deny = true;
    }

    /// Every object read: (signed region, status answered).
    pub fn reads(&self) -> Vec<(String, u16)> {
        self.state.lock().unwrap().reads.clone()
    }
}
