//! A scripted Amazon Inspector Scan server (`inspector-scan:ScanSbom`, restJson1
//! `POST /scan/sbom`) on 127.0.0.1, for what no real peer emulates. Answers follow the service
//! model as the SDK deserialises it: `{"sbom": <document>}` on success; errors with the code in
//! `x-amzn-ErrorType`, a JSON body (`message`, and `reason`/`fields` for validation errors)
//! and `Retry-After` for throttling.
//!
//! Like the real service it refuses more than 5,000 components per request, refuses to send
//! an answer larger than 10 MB (the API reference's "maximum response size"; a test may lower
//! the limit with [`ScanServer::limit_answers`]), requires a SigV4-signed request for the
//! `inspector-scan` service, assigns its own `comp-N` bom-refs, and matches vulnerabilities
//! by package URL against a small advisory table the test gives. The service model names no
//! error for an oversized answer: it is refused here as a `ValidationException` (reason
//! `OTHER`, one of the model's reasons) saying the response size exceeds the maximum.
#![allow(dead_code)]

use super::model::ModelGuard;
use super::serve::Served;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One advisory: every component whose purl starts with `purl_prefix` is affected.
#[derive(Clone, Debug)]
pub struct Advisory {
    pub id: &'static str,
    pub purl_prefix: &'static str,
    /// (source, severity) ratings, e.g. [("NVD", "critical"), ("DEBIAN", "low")].
    pub ratings: Vec<(&'static str, &'static str)>,
    pub fixed: Option<&'static str>,
    pub epss: Option<f64>,
}

/// A scripted answer for the next call; when the script is empty, calls are scanned.
#[derive(Clone, Debug)]
pub enum Step {
    Throttle {
        retry_after: Option<u32>,
    },
    Internal,
    AccessDenied,
    Validation {
        reason: &'static str,
        message: &'static str,
    },
    Scan,
}

/// What a test can inspect after the calls.
#[derive(Clone, Debug)]
pub struct Call {
    pub components: usize,
    pub output_format: Option<String>,
    pub signed_for_service: bool,
    /// The size of the answer it was scanned into (0 when not scanned).
    pub answer_bytes: usize,
    /// Refused because that answer was over the size limit.
    pub too_large: bool,
}

/// The API reference's maximum response size.
pub const MAX_ANSWER_BYTES: usize = 10 * 1024 * 1024;

#[derive(Default)]
struct Inner {
    model: ModelGuard,
    script: VecDeque<Step>,
    advisories: Vec<Advisory>,
    calls: Vec<Call>,
    /// Every request body, in order.
    bodies: Vec<Value>,
    /// Answers larger than this are refused, as AWS refuses those over 10 MB.
    max_answer_bytes: usize,
}

type Shared = Arc<Mutex<Inner>>;

pub struct ScanServer {
    pub url: String,
    state: Shared,
    _served: Served,
}

impl ScanServer {
    pub fn start(advisories: Vec<Advisory>, script: Vec<Step>) -> ScanServer {
        let state: Shared = Arc::new(Mutex::new(Inner {
            model: ModelGuard::new(),
            script: script.into(),
            advisories,
            calls: Vec::new(),
            bodies: Vec::new(),
            max_answer_bytes: MAX_ANSWER_BYTES,
        }));
        let served = Served::start(
            Router::new()
                .route("/scan/sbom", post(scan_sbom))
                .with_state(state.clone()),
        );
        ScanServer {
            url: served.url.clone(),
            state,
            _served: served,
        }
    }

    /// The requests refused so far (model violations), taken: they no longer fail the test.
    pub fn take_refused(&self) -> Vec<String> {
        self.state.lock().unwrap().model.take_refused()
    }

    /// Every request body received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.state.lock().unwrap().bodies.clone()
    }

    /// Refuse answers larger than `bytes` (instead of 10 MB), so a test needs no 10 MB answer.
    pub fn limit_answers(&self, bytes: usize) {
        self.state.lock().unwrap().max_answer_bytes = bytes;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }
}

fn error(status: u16, kind: &str, body: Value, retry_after: Option<u32>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-ErrorType", kind.parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    if let Some(r) = retry_after {
        headers.insert("Retry-After", r.to_string().parse().unwrap());
    }
    (
        StatusCode::from_u16(status).unwrap(),
        headers,
        body.to_string(),
    )
        .into_response()
}

async fn scan_sbom(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return error(
                400,
                "ValidationException",
                json!({"message": "Request body is not JSON", "reason": "CANNOT_PARSE"}),
                None,
            )
        }
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let signed =
        auth.starts_with("AWS4-HMAC-SHA256") && auth.contains("/inspector-scan/aws4_request");
    let sbom = req.get("sbom").cloned().unwrap_or(Value::Null);
    let components = sbom
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let format = req
        .get("outputFormat")
        .and_then(Value::as_str)
        .map(str::to_string);
    let (step, advisories) = {
        let mut st = s.lock().unwrap();
        st.bodies.push(req.clone());
        if let Err(r) = st.model.check("inspector-scan", "ScanSbom", &req) {
            return error(400, r.error, r.rest_body(), None);
        }
        st.calls.push(Call {
            components: components.len(),
            output_format: format.clone(),
            signed_for_service: signed,
            answer_bytes: 0,
            too_large: false,
        });
        (
            st.script.pop_front().unwrap_or(Step::Scan),
            st.advisories.clone(),
        )
    };
    if !signed {
        return error(
            403,
            "AccessDeniedException",
            json!({"message": "Missing Authentication Token"}),
            None,
        );
    }
    match step {
        Step::Throttle { retry_after } => {
            return error(
                429,
                "ThrottlingException",
                json!({"message": "Rate exceeded"}),
                retry_after,
            )
        }
        Step::Internal => {
            return error(
                500,
                "InternalServerException",
                json!({"message": "Internal failure", "reason": "OTHER"}),
                None,
            )
        }
        Step::AccessDenied => {
            return error(
                403,
                "AccessDeniedException",
                json!({"message": "User: arn:aws:sts::123456789012:assumed-role/dev/x is not authorized to perform: inspector-scan:ScanSbom"}),
                None,
            )
        }
        Step::Validation { reason, message } => {
            return error(
                400,
                "ValidationException",
                json!({"message": message, "reason": reason, "fields": []}),
                None,
            )
        }
        Step::Scan => {}
    }
    if sbom.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX")
        || sbom.get("specVersion").and_then(Value::as_str) != Some("1.5")
    {
        return error(
            400,
            "ValidationException",
            json!({"message": "Unsupported SBOM: expected CycloneDX 1.5", "reason": "UNSUPPORTED_SBOM_TYPE"}),
            None,
        );
    }
    if components.len() > 5000 {
        return error(
            400,
            "ValidationException",
            json!({"message": format!("SBOM has {} components; at most 5000 are allowed", components.len()),
                   "reason": "FIELD_VALIDATION_FAILED",
                   "fields": [{"name": "sbom.components", "message": "too many components"}]}),
            None,
        );
    }
    let answer = match format.as_deref() {
        Some("INSPECTOR") => inspector_answer(&components, &advisories),
        _ => cyclonedx_answer(&components, &advisories),
    };
    let body = json!({ "sbom": answer }).to_string();
    let limit = {
        let mut st = s.lock().unwrap();
        let limit = st.max_answer_bytes;
        if let Some(c) = st.calls.last_mut() {
            c.answer_bytes = body.len();
            c.too_large = body.len() > limit;
        }
        limit
    };
    if body.len() > limit {
        return error(
            400,
            "ValidationException",
            json!({"message": format!("The response size ({} bytes) exceeds the maximum response size of {limit} bytes", body.len()),
                   "reason": "OTHER", "fields": []}),
            None,
        );
    }
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

fn purl_of(c: &Value) -> &str {
    c.get("purl").and_then(Value::as_str).unwrap_or("")
}

fn cyclonedx_answer(components: &[Value], advisories: &[Advisory]) -> Value {
    let comps: Vec<Value> = components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut c = c.clone();
            c["bom-ref"] = json!(format!("comp-{}", i + 1));
            c
        })
        .collect();
    let mut vulns = Vec::new();
    for a in advisories {
        let affected: Vec<String> = comps
            .iter()
            .filter(|c| purl_of(c).starts_with(a.purl_prefix))
            .map(|c| c["bom-ref"].as_str().unwrap().to_string())
            .collect();
        if affected.is_empty() {
            continue;
        }
        let mut ratings: Vec<Value> = a
            .ratings
            .iter()
            .map(|(src, sev)| json!({"source": {"name": src}, "severity": sev, "score": 7.5, "method": "CVSSv31"}))
            .collect();
        if let Some(e) = a.epss {
            ratings.push(json!({"source": {"name": "EPSS"}, "score": e, "severity": "none", "method": "other"}));
        }
        let mut props = vec![
            json!({"name": "amazon:inspector:sbom_scanner:exploit_available", "value": "false"}),
        ];
        if let Some(f) = a.fixed {
            for r in &affected {
                props.push(json!({"name": format!("amazon:inspector:sbom_scanner:fixed_version:{r}"), "value": f}));
            }
        }
        vulns.push(json!({
            "bom-ref": format!("vuln-{}", vulns.len() + 1),
            "id": a.id,
            "source": {"name": "NVD", "url": format!("https://nvd.nist.gov/vuln/detail/{}", a.id)},
            "ratings": ratings,
            "description": format!("{} test advisory", a.id),
            "affects": affected.iter().map(|r| json!({"ref": r})).collect::<Vec<_>>(),
            "properties": props,
        }));
    }
    json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "metadata": {"properties": [
            {"name": "amazon:inspector:sbom_scanner:critical_vulnerabilities", "value": "0"}]},
        "components": comps,
        "vulnerabilities": vulns,
    })
}

fn inspector_answer(components: &[Value], advisories: &[Advisory]) -> Value {
    let mut vulns = Vec::new();
    for a in advisories {
        let affects: Vec<Value> = components
            .iter()
            .filter(|c| purl_of(c).starts_with(a.purl_prefix))
            .map(|c| json!({"installed_version": purl_of(c), "fixed_version": a.fixed.unwrap_or("")}))
            .collect();
        if affects.is_empty() {
            continue;
        }
        vulns.push(json!({
            "id": a.id,
            "severity": a.ratings.first().map(|r| r.1).unwrap_or("untriaged"),
            "source": format!("https://nvd.nist.gov/vuln/detail/{}", a.id),
            "description": format!("{} test advisory", a.id),
            "properties": {"epss": a.epss, "exploit_available": false},
            "affects": affects,
        }));
    }
    json!({"status": format!("SBOM parsed successfully, {} vulnerabilities found", vulns.len()),
           "inspector": {"messages": [], "vulnerabilities": vulns}})
}

impl Drop for ScanServer {
    fn drop(&mut self) {
        let guard = std::mem::take(&mut self.state.lock().unwrap().model);
        guard.finish();
    }
}
