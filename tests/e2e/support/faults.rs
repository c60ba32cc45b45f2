//! A fault-injecting HTTP proxy for end-to-end tests: it sits on 127.0.0.1:<free port> in front
//! of one upstream (moto, the scenario server or the registry) and, per a seeded [`Plan`],
//! answers some requests itself instead of forwarding them: AWS throttling (429 with
//! `x-amzn-ErrorType: ThrottlingException`, with or without `Retry-After`), 500/503, a socket
//! closed or reset without an answer, a 5-second stall; for the registry, blob uploads cut
//! mid-body and 5xx on manifest PUTs. It records what it did (counts per fault kind, what reached
//! upstream, how long clients waited after a `Retry-After`).
//!
//! Determinism: whether a request is faulted is a pure function of (seed, request key, how many
//! times that key was seen), never of arrival order or time, so concurrent blob uploads and
//! jittered retries replay the same faults for the same seed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One injected fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 `ThrottlingException`, optionally with `Retry-After: <secs>`.
    Throttle { retry_after: Option<u32> },
    /// 500 with `x-amzn-ErrorType: InternalFailure` (a modelled-looking AWS error).
    Internal500,
    /// 503 with an HTML body and no error type (a load balancer in the way).
    Unavailable503,
    /// Read the request, then close the socket (FIN) without answering.
    Close,
    /// Read the request, then reset the socket (RST) without answering.
    Reset,
    /// Wait, then forward normally.
    Stall(Duration),
    /// Registry uploads: read about half of the body, then drop the connection.
    Cut,
    /// Forward (upstream acts on it), then close the socket instead of relaying the answer.
    ForwardThenClose,
    /// Forward (upstream acts on it), then answer 502 instead of the real answer.
    ForwardThen502,
    /// 403 `ExpiredTokenException` (restJson1 and awsJson shape): the credentials are stale.
    ExpiredToken,
    /// An awsQuery error (STS's XML `ErrorResponse`) with this status and code, e.g. STS's
    /// throttle (400 `Throttling`) or a denial (403 `AccessDenied`).
    Query { status: u16, code: &'static str },
}

impl Fault {
    /// The name counts are kept under.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Throttle { retry_after: None } => "throttle",
            Fault::Throttle {
                retry_after: Some(_),
            } => "throttle+retry-after",
            Fault::Internal500 => "500",
            Fault::Unavailable503 => "503",
            Fault::Close => "close",
            Fault::Reset => "reset",
            Fault::Stall(_) => "stall",
            Fault::Cut => "cut",
            Fault::ForwardThenClose => "forward-then-close",
            Fault::ForwardThen502 => "forward-then-502",
            Fault::ExpiredToken => "expired-token",
            Fault::Query { .. } => "query-error",
        }
    }
}

/// Which operations a rule applies to (names from [`op_of`]).
#[derive(Clone, Debug)]
pub enum Ops {
    Any,
    AnyExcept(Vec<&'static str>),
    Only(Vec<&'static str>),
    /// Only the first `n` occurrences of each key of these operations (a throttle that heals).
    First(Vec<&'static str>, usize),
}

impl Ops {
    /// Does the rule apply to the `n`-th occurrence (1-based) of a request of `op`?
    fn matches(&self, op: &str, n: usize) -> bool {
        match self {
            Ops::Any => true,
            Ops::AnyExcept(v) => !v.contains(&op),
            Ops::Only(v) => v.contains(&op),
            Ops::First(v, max) => v.contains(&op) && n <= *max,
        }
    }
}

/// Fault `rate` of the requests of `ops`, with a fault picked uniformly from `menu`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub ops: Ops,
    pub rate: f64,
    pub menu: Vec<Fault>,
}

/// What the proxy does; the first rule matching a request's operation decides.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub seed: u64,
    pub rules: Vec<Rule>,
    /// Read blob-upload bodies at most this fast (bytes per second): a slow link.
    pub upload_rate: Option<u64>,
}

/// The stall of the AWS fault model: longer than any poll, far shorter than the SDK's 60 s
/// attempt timeout, so it only delays.
pub const STALL: Duration = Duration::from_secs(5);

/// `Retry-After` sent with half of the throttling answers.
pub const RETRY_AFTER_SECS: u32 = 2;

/// Every AWS fault kind, equally likely.
pub fn aws_menu() -> Vec<Fault> {
    vec![
        Fault::Throttle { retry_after: None },
        Fault::Throttle {
            retry_after: Some(RETRY_AFTER_SECS),
        },
        Fault::Internal500,
        Fault::Unavailable503,
        Fault::Close,
        Fault::Reset,
        Fault::Stall(STALL),
    ]
}

impl Plan {
    /// Forward everything.
    pub fn clean() -> Plan {
        Plan::default()
    }

    /// The AWS fault model: 30% of calls faulted, except `PutApprovalResult`, which is always
    /// passed through faithfully (and counted).
    pub fn aws(seed: u64) -> Plan {
        Plan {
            seed,
            rules: vec![Rule {
                ops: Ops::AnyExcept(vec!["PutApprovalResult"]),
                rate: 0.3,
                menu: aws_menu(),
            }],
            upload_rate: None,
        }
    }

    /// The registry fault model: 10% of blob uploads cut mid-body, 25% of manifest PUTs
    /// answered 5xx (half of them after the registry stored the manifest).
    pub fn registry(seed: u64) -> Plan {
        Plan {
            seed,
            rules: vec![
                Rule {
                    ops: Ops::Only(vec!["BlobUpload"]),
                    rate: 0.1,
                    menu: vec![Fault::Cut],
                },
                Rule {
                    ops: Ops::Only(vec!["PutManifest"]),
                    rate: 0.25,
                    menu: vec![Fault::Unavailable503, Fault::ForwardThen502],
                },
            ],
            upload_rate: None,
        }
    }

    /// The first `n` calls of `op` answered with `fault`, the rest forwarded.
    pub fn first(op: &'static str, n: usize, fault: Fault) -> Plan {
        Plan {
            seed: 0,
            rules: vec![Rule {
                ops: Ops::First(vec![op], n),
                rate: 1.0,
                menu: vec![fault],
            }],
            upload_rate: None,
        }
    }

    /// Every call of `op` answered with `fault`: a fault that outlasts any deadline.
    pub fn always(op: &'static str, fault: Fault) -> Plan {
        Plan {
            seed: 0,
            rules: vec![Rule {
                ops: Ops::Only(vec![op]),
                rate: 1.0,
                menu: vec![fault],
            }],
            upload_rate: None,
        }
    }
}

/// What the proxy saw and did.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// Injected faults by kind.
    pub faults: BTreeMap<&'static str, usize>,
    /// Requests that arrived, by operation.
    pub seen: BTreeMap<String, usize>,
    /// Requests that reached upstream, by operation.
    pub forwarded: BTreeMap<String, usize>,
    /// Every decision in arrival order: `op key #n → fault` (clean forwards are left out).
    pub log: Vec<String>,
    /// After a `Retry-After: n` answer: (operation, n, seconds until that operation came back).
    pub retry_after_gaps: Vec<(String, u32, f64)>,
    /// Blob-upload body bytes read from clients.
    pub upload_bytes: u64,
    /// Blob uploads that started arriving.
    pub uploads_started: usize,
    /// The bodies of form-encoded (awsQuery: STS) requests, in arrival order.
    pub query_bodies: Vec<String>,
}

struct Ctx {
    upstream: String,
    plan: Plan,
    http: reqwest::Client,
    record: Mutex<Record>,
    /// Occurrences per request key.
    counts: Mutex<HashMap<String, usize>>,
    /// Pending `Retry-After` hints per operation: (when answered, seconds).
    hints: Mutex<HashMap<String, (Instant, u32)>>,
}

/// A running proxy; stopped when dropped.
pub struct FaultProxy {
    pub url: String,
    ctx: Arc<Ctx>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Start a proxy for `upstream` (e.g. `http://127.0.0.1:5000`) following `plan`.
    pub fn start(upstream: &str, plan: Plan) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let ctx = Arc::new(Ctx {
            upstream: upstream.trim_end_matches('/').to_string(),
            plan,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            record: Mutex::default(),
            counts: Mutex::default(),
            hints: Mutex::default(),
        });
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let ctx2 = ctx.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let accepted = tokio::select! {
                        _ = &mut rx => break,
                        a = listener.accept() => a,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let ctx = ctx2.clone();
                    tokio::spawn(async move {
                        let rst = Arc::new(AtomicBool::new(false));
                        let io = hyper_util::rt::TokioIo::new(Sock {
                            inner: stream,
                            rst: rst.clone(),
                        });
                        let svc = hyper::service::service_fn(move |req| {
                            handle(ctx.clone(), rst.clone(), req)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .await;
                    });
                }
            });
            // Dropping the runtime aborts the connection tasks.
        });
        FaultProxy {
            url,
            ctx,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn record(&self) -> Record {
        self.ctx.record.lock().unwrap().clone()
    }

    /// Requests of `op` that reached upstream.
    pub fn forwarded(&self, op: &str) -> usize {
        self.record().forwarded.get(op).copied().unwrap_or(0)
    }

    /// Requests of `op` that arrived at the proxy.
    pub fn seen(&self, op: &str) -> usize {
        self.record().seen.get(op).copied().unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The accepted socket; on drop it sends RST instead of FIN when a fault asked for a reset.
struct Sock {
    inner: tokio::net::TcpStream,
    rst: Arc<AtomicBool>,
}

impl Drop for Sock {
    fn drop(&mut self) {
        if self.rst.load(Ordering::SeqCst) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for Sock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Sock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The operation a request is: the AWS operation (`X-Amz-Target` or the Inspector2 path), or a
/// registry action. Also returns the key occurrences are counted under.
pub fn op_of(method: &str, path: &str, query: &str, target: Option<&str>) -> (String, String) {
    if let Some(t) = target {
        let op = t.rsplit('.').next().unwrap_or(t).to_string();
        return (op.clone(), op);
    }
    let op = match (method, path) {
        ("POST", "/coverage/list") => "ListCoverage".to_string(),
        ("POST", "/findings/list") => "ListFindings".to_string(),
        ("PUT" | "PATCH", p) if p.contains("/blobs/uploads/") => "BlobUpload".to_string(),
        ("POST", p) if p.ends_with("/blobs/uploads/") => "StartUpload".to_string(),
        ("HEAD", p) if p.contains("/blobs/") => "HeadBlob".to_string(),
        ("PUT", p) if p.contains("/manifests/") => "PutManifest".to_string(),
        ("GET" | "HEAD", p) if p.contains("/manifests/") => "GetManifest".to_string(),
        ("GET", "/v2/") => "Ping".to_string(),
        (m, p) => format!("{m} {p}"),
    };
    // Upload URLs carry a random session id: key blob uploads by digest, manifests by reference.
    let key = match op.as_str() {
        "BlobUpload" => {
            let digest = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("digest="))
                .unwrap_or("chunk");
            format!("BlobUpload {digest}")
        }
        "PutManifest" | "HeadBlob" => format!("{op} {}", path.rsplit('/').next().unwrap_or("")),
        _ => op.clone(),
    };
    (op, key)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) for (seed, key, occurrence, salt).
fn roll(seed: u64, key: &str, n: usize, salt: u64) -> f64 {
    let mut h = splitmix(seed ^ 0x5eed);
    for b in key.bytes() {
        h = splitmix(h ^ u64::from(b));
    }
    h = splitmix(h ^ ((n as u64) << 16) ^ salt);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The fault (if any) the plan assigns to the `n`-th occurrence of `key`.
pub fn decide(plan: &Plan, op: &str, key: &str, n: usize) -> Option<Fault> {
    let rule = plan.rules.iter().find(|r| r.ops.matches(op, n))?;
    if rule.menu.is_empty() || roll(plan.seed, key, n, 1) >= rule.rate {
        return None;
    }
    let i = (roll(plan.seed, key, n, 2) * rule.menu.len() as f64) as usize;
    Some(rule.menu[i.min(rule.menu.len() - 1)].clone())
}

type Reply = Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>>;

fn canned(status: u16, headers: &[(&str, String)], body: &str) -> Reply {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    Ok(b.body(Full::new(Bytes::from(body.to_string())))?)
}

fn hangup(why: &str) -> Reply {
    Err(why.to_string().into())
}

async fn handle(ctx: Arc<Ctx>, rst: Arc<AtomicBool>, req: Request<Incoming>) -> Reply {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (op, key) = op_of(&method, &path, &query, target.as_deref());
    let n = {
        let mut c = ctx.counts.lock().unwrap();
        let e = c.entry(key.clone()).or_insert(0);
        *e += 1;
        *e
    };
    let fault = decide(&ctx.plan, &op, &key, n);
    {
        let mut r = ctx.record.lock().unwrap();
        *r.seen.entry(op.clone()).or_default() += 1;
        if let Some(f) = &fault {
            *r.faults.entry(f.kind()).or_default() += 1;
            r.log.push(format!("{key} #{n} → {}", f.kind()));
        }
        if let Some((at, secs)) = ctx.hints.lock().unwrap().remove(&op) {
            r.retry_after_gaps
                .push((op.clone(), secs, at.elapsed().as_secs_f64()));
        }
        if op == "BlobUpload" {
            r.uploads_started += 1;
        }
    }

    let (parts, body) = req.into_parts();
    if fault == Some(Fault::Cut) {
        // Read about half of what the client announced, then hang up mid-body.
        let len: u64 = parts
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(64 * 1024);
        let mut body = body;
        let mut got = 0u64;
        while got < len / 2 {
            match body.frame().await {
                Some(Ok(f)) => got += f.data_ref().map(|d| d.len() as u64).unwrap_or(0),
                _ => break,
            }
        }
        ctx.record.lock().unwrap().upload_bytes += got;
        return hangup("injected: upload cut mid-body");
    }
    let bytes = match (op.as_str(), ctx.plan.upload_rate) {
        ("BlobUpload", Some(rate)) => read_slowly(&ctx, body, rate).await?,
        _ => body.collect().await?.to_bytes(),
    };
    if op == "BlobUpload" && ctx.plan.upload_rate.is_none() {
        ctx.record.lock().unwrap().upload_bytes += bytes.len() as u64;
    }
    let form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        ctx.record
            .lock()
            .unwrap()
            .query_bodies
            .push(String::from_utf8_lossy(&bytes).into_owned());
    }

    match &fault {
        Some(Fault::Throttle { retry_after }) => {
            let mut h = vec![
                ("x-amzn-ErrorType", "ThrottlingException".to_string()),
                ("content-type", "application/json".to_string()),
            ];
            if let Some(s) = retry_after {
                h.push(("Retry-After", s.to_string()));
                ctx.hints
                    .lock()
                    .unwrap()
                    .insert(op.clone(), (Instant::now(), *s));
            }
            return canned(
                429,
                &h,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded (injected)"}"#,
            );
        }
        Some(Fault::Internal500) => {
            let h = [
                ("x-amzn-ErrorType", "InternalFailure".to_string()),
                ("content-type", "application/json".to_string()),
            ];
            return canned(
                500,
                &h,
                r#"{"__type":"InternalFailure","message":"injected internal failure"}"#,
            );
        }
        Some(Fault::ExpiredToken) => {
            let h = [
                ("x-amzn-ErrorType", "ExpiredTokenException".to_string()),
                ("content-type", "application/json".to_string()),
            ];
            return canned(
                403,
                &h,
                r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#,
            );
        }
        Some(Fault::Query { status, code }) => {
            let body = format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} (injected)</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
            );
            return canned(*status, &[("content-type", "text/xml".to_string())], &body);
        }
        Some(Fault::Unavailable503) => {
            return canned(
                503,
                &[("content-type", "text/html".to_string())],
                "<html><body>503 Service Unavailable (injected)</body></html>",
            );
        }
        Some(Fault::Close) => return hangup("injected: closed without answering"),
        Some(Fault::Reset) => {
            rst.store(true, Ordering::SeqCst);
            return hangup("injected: reset without answering");
        }
        Some(Fault::Stall(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }

    let resp = forward(&ctx, &parts, &method, bytes).await;
    *ctx.record
        .lock()
        .unwrap()
        .forwarded
        .entry(op.clone())
        .or_default() += 1;
    match fault {
        Some(Fault::ForwardThenClose) => {
            hangup("injected: forwarded, then closed without relaying the answer")
        }
        Some(Fault::ForwardThen502) => canned(
            502,
            &[("content-type", "text/html".to_string())],
            "<html>502 Bad Gateway (injected)</html>",
        ),
        _ => resp,
    }
}

/// Read a blob-upload body at most `rate` bytes per second.
async fn read_slowly(
    ctx: &Ctx,
    mut body: Incoming,
    rate: u64,
) -> Result<Bytes, Box<dyn std::error::Error + Send + Sync>> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(d) = frame.data_ref() {
            out.extend_from_slice(d);
            ctx.record.lock().unwrap().upload_bytes += d.len() as u64;
            tokio::time::sleep(Duration::from_secs_f64(d.len() as f64 / rate.max(1) as f64)).await;
        }
    }
    Ok(Bytes::from(out))
}

async fn forward(
    ctx: &Ctx,
    parts: &hyper::http::request::Parts,
    method: &str,
    body: Bytes,
) -> Reply {
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let mut rb = ctx.http.request(method, format!("{}{pq}", ctx.upstream));
    for (k, v) in &parts.headers {
        // Host is kept as the client sent it (the proxy's address): the registry builds upload
        // locations from it, so clients keep talking through the proxy.
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            rb = rb.header(k.as_str(), v.as_bytes());
        }
    }
    if let Some(h) = parts.headers.get("host") {
        rb = rb.header("X-Forwarded-Host", h.as_bytes());
    }
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => return canned(502, &[], &format!("proxy: upstream unreachable: {e}")),
    };
    let mut out = Response::builder().status(StatusCode::from_u16(resp.status().as_u16())?);
    for (k, v) in resp.headers() {
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let bytes = resp.bytes().await?;
    Ok(out.body(Full::new(bytes))?)
}
