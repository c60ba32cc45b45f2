//! A scripted AWS server for what moto cannot emulate: Inspector2 `ListCoverage` /
//! `ListFindings` sequences (pending → done, late findings, pagination, throttling, terminal
//! reasons) and CodePipeline approvals (`GetPipeline`, `GetPipelineState`,
//! `ListActionExecutions` — paged, with an optional long history — `GetPipelineExecution`,
//! `PutApprovalResult`). Responses follow the service models (restJson1
//! for Inspector2, awsJson1.1 for CodePipeline) and are parsed by the real SDK in the binary.
//!
//! Where AWS is unkind, so is this server (the service models, checked against the SDK's
//! deserialisers): every request is checked against botocore's service model
//! (support::model: a request AWS would refuse is answered `ValidationException` with the
//! member path, and fails the test that sent it); every filter is applied with Inspector's
//! semantics (support::filters: values of one list ORed, different filters ANDed, a read
//! without an `ecrImageHash` filter gets every image's findings, a read without
//! `findingStatus` filters gets CLOSED and SUPPRESSED findings too); list pages may be empty
//! and still carry a `nextToken` ([`ScenarioState::empty_coverage_pages`],
//! [`ScenarioState::empty_finding_pages`]) and never hold more than `maxResults`
//! (`ListCoverage`, `ListFindings` and `ListActionExecutions` all page with tokens);
//! throttling answers 429 with both the `Retry-After` header and `retryAfterSeconds` in the
//! body, and `PutApprovalResult` can be throttled ([`ScenarioState::put_throttles`]); a
//! second `PutApprovalResult` on a token answers `ApprovalAlreadyCompletedException`; a
//! retried stage keeps its pipeline execution id, so `ListActionExecutions` lists the
//! answered attempt next to the new one; coverage resource ids carry the partition of the
//! region the request was signed for (`arn:aws-cn:`, `arn:aws-us-gov:`), and a resource id
//! of another partition or region matches nothing; a scripted image's row may carry another id
//! form ([`ScenarioState::resource_ids`]); a coverage listing takes the next scripted answer of
//! every image it lists (so one listing of a repository advances each of its images once).

use super::filters;
use super::model::{ModelGuard, Refusal};
use super::serve::Served;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One answer to a `ListCoverage` call.
#[derive(Clone, Debug)]
pub enum Cov {
    NoRow,
    Row {
        code: &'static str,
        reason: &'static str,
        last_scanned_at: Option<i64>,
    },
    Throttle {
        retry_after: Option<u32>,
    },
    Error {
        status: u16,
        kind: &'static str,
        message: &'static str,
    },
}

/// One answer to a `ListFindings` call (before pagination): a finding set or an error.
#[derive(Clone, Debug)]
pub enum Read {
    Findings(Vec<Value>),
    /// The finding set, but the listing's first page is answered only after `delay` (a read
    /// that stalls: the deadline may pass while it is in flight).
    Slow {
        delay: std::time::Duration,
        findings: Vec<Value>,
    },
    Throttle {
        retry_after: Option<u32>,
    },
    Error {
        status: u16,
        kind: &'static str,
        message: &'static str,
    },
}

/// The script for one image digest. The last step of each queue repeats forever.
#[derive(Clone, Debug, Default)]
pub struct DigestScript {
    pub coverage: VecDeque<Cov>,
    pub reads: VecDeque<Read>,
}

/// One attempt of the approval action. A retried stage (`RetryStageExecution`) is two attempts
/// with the same `execution_id`: the earlier one answered (`Failed`/`Succeeded`), the later one
/// `InProgress` with a new token.
#[derive(Clone, Debug)]
pub struct ApprovalExec {
    pub execution_id: String,
    /// As scripted; `PutApprovalResult` moves an `InProgress` attempt to `Succeeded` (Approved)
    /// or `Failed` (Rejected), as CodePipeline does.
    pub status: &'static str,
    pub token: String,
    pub custom_data: Option<String>,
    pub revision: Option<String>,
    /// Number of `GetPipelineState` calls before this execution shows up at the approval.
    pub appears_after_polls: usize,
}

#[derive(Clone, Debug, Default)]
pub struct PipelineScript {
    pub name: String,
    pub stage: String,
    pub action: String,
    /// PARALLEL mode: no token in GetPipelineState.
    pub parallel: bool,
    pub executions: Vec<ApprovalExec>,
    /// Error answered by PutApprovalResult, if any (e.g. InvalidApprovalTokenException).
    pub put_error: Option<&'static str>,
    /// Operations the caller's role may not call: answered AccessDeniedException (HTTP 400,
    /// as CodePipeline's JSON protocol does).
    pub denied: Vec<&'static str>,
    /// Older, answered action executions (of the Source, Build and approval actions, in
    /// turn) listed after the scripted ones: a busy pipeline's history. One starts every
    /// [`PipelineScript::history_every`] seconds back from the scripted executions.
    pub history: usize,
    /// Seconds between two history entries (0: 60).
    pub history_every: u64,
    /// The approval action's `timeoutInMinutes` in `GetPipeline` (None: CodePipeline's default).
    pub approval_timeout_minutes: Option<i32>,
}

/// Now, in epoch seconds (CodePipeline's timestamps).
fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[derive(Default)]
pub struct ScenarioState {
    pub images: HashMap<String, DigestScript>,
    /// Findings per page (0: 100); never more than the request's `maxResults`.
    pub page_size: usize,
    /// Coverage rows per page (0: 200); never more than the request's `maxResults`.
    pub coverage_page_size: usize,
    /// Action executions per `ListActionExecutions` page (0: 100); never more than the
    /// request's `maxResults`.
    pub action_page_size: usize,
    /// The first this many `PutApprovalResult` calls are throttled (`ThrottlingException`).
    pub put_throttles: usize,
    /// Empty pages that carry a `nextToken`, answered before the page of every `ListCoverage`
    /// listing (Inspector2 list APIs do this: "no row on page 1" is not "no row").
    pub empty_coverage_pages: usize,
    /// The same before every page of a `ListFindings` listing.
    pub empty_finding_pages: usize,
    pub pipeline: Option<PipelineScript>,
    pub state_polls: usize,
    /// Every request: (operation, body).
    pub log: Vec<(String, Value)>,
    /// When each request of `log` arrived (same index).
    pub log_at: Vec<Instant>,
    /// Every successful PutApprovalResult: (token, status, summary).
    pub approvals: Vec<(String, String, String)>,
    /// Finding sets served so far (one per read); `nextToken` points into these.
    pub pages: Vec<Vec<Value>>,
    /// Coverage rows served so far (one set per listing); coverage `nextToken`s point into
    /// these.
    pub coverage_pages: Vec<Vec<Value>>,
    /// The repository of a scripted image, for listings that do not name it (filtered by
    /// repository, or by nothing); without it, the repository its scripted findings name.
    pub repos: HashMap<String, String>,
    /// The `resourceId` a scripted image's coverage row carries, when it is not the form
    /// `arn:<partition>:ecr:<region>:123456789012:repository/<repo>/<digest>` (an id form the
    /// gate does not build).
    pub resource_ids: HashMap<String, String>,
    /// Set when the server stops: a slow answer still waiting gives up at once.
    pub closing: bool,
    /// Every request checked against botocore's service models (support::model).
    pub model: ModelGuard,
}

impl ScenarioState {
    fn record(&mut self, op: &str, body: &Value) {
        self.log.push((op.to_string(), body.clone()));
        self.log_at.push(Instant::now());
    }
}

pub type Shared = Arc<Mutex<ScenarioState>>;

pub struct Scenario {
    pub url: String,
    pub state: Shared,
    _served: Served,
}

fn pop<T: Clone>(q: &mut VecDeque<T>) -> Option<T> {
    if q.len() > 1 {
        q.pop_front()
    } else {
        q.front().cloned()
    }
}

fn rest_error(status: u16, kind: &str, message: &str, retry_after: Option<u32>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-ErrorType", kind.parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    let mut body = json!({ "message": message });
    // The model binds retryAfterSeconds to the Retry-After header (the SDK reads it from
    // there and overwrites the body's value with it); AWS sends both, and so do we.
    if let Some(r) = retry_after {
        headers.insert("Retry-After", r.to_string().parse().unwrap());
        body["retryAfterSeconds"] = json!(r);
    }
    (
        StatusCode::from_u16(status).unwrap(),
        headers,
        body.to_string(),
    )
        .into_response()
}

/// AWS's answer to a request its model refuses (restJson1).
fn rest_refusal(r: &Refusal) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            ("x-amzn-ErrorType", r.error),
            ("content-type", "application/json"),
        ],
        r.rest_body().to_string(),
    )
        .into_response()
}

/// One page of a listing: at most `size` items of `all` from `offset` under `key`, and
/// `nextToken` = `token(end)` while more remain.
fn page(
    all: &[Value],
    key: &str,
    offset: usize,
    size: usize,
    token: impl Fn(usize) -> String,
) -> Value {
    let end = (offset + size).min(all.len());
    let mut out = serde_json::Map::new();
    out.insert(key.into(), Value::Array(all[offset.min(end)..end].to_vec()));
    if end < all.len() {
        out.insert("nextToken".into(), json!(token(end)));
    }
    Value::Object(out)
}

fn ok_json(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

// Re-exported where the tests have always found them.
#[allow(unused_imports)]
pub use super::findings::{finding, finding_in, partition, with_status};

/// The request's `filterCriteria` (`{}` when it has none).
fn criteria(body: &Value) -> Value {
    body.get("filterCriteria").cloned().unwrap_or(json!({}))
}

/// A filter this server does not emulate: refused (and the test fails), never ignored.
fn not_emulated(st: &ScenarioState, why: String) -> Response {
    st.model.refuse(why.clone());
    rest_error(400, "ValidationException", &why, None)
}

/// The repository of a scripted image: [`ScenarioState::repos`], else the one its scripted
/// findings name.
fn repo_of(st: &ScenarioState, digest: &str) -> Option<String> {
    if let Some(r) = st.repos.get(digest) {
        return Some(r.clone());
    }
    st.images.get(digest)?.reads.iter().find_map(|r| match r {
        Read::Findings(f) | Read::Slow { findings: f, .. } => f.iter().find_map(|f| {
            f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"]
                .as_str()
                .map(str::to_string)
        }),
        _ => None,
    })
}

/// The region a request was signed for (SigV4 credential scope
/// `AKID/DATE/REGION/SERVICE/aws4_request`); us-east-1 when unsigned.
fn signed_region(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

fn bad_token() -> Response {
    rest_error(400, "ValidationException", "invalid nextToken", None)
}

/// `c{listing}-o{offset}-e{empty pages served before this page}`.
fn parse_coverage_token(tok: &str) -> Option<(usize, usize, usize)> {
    let mut it = tok.split('-');
    let c = it.next()?.strip_prefix('c')?.parse().ok()?;
    let o = it.next()?.strip_prefix('o')?.parse().ok()?;
    let e = it.next()?.strip_prefix('e')?.parse().ok()?;
    Some((c, o, e))
}

/// `g{finding set}-o{offset}-e{empty pages served before this page}`.
fn parse_findings_token(tok: &str) -> Option<(usize, usize, usize)> {
    let mut it = tok.split('-');
    let g = it.next()?.strip_prefix('g')?.parse().ok()?;
    let o = it.next()?.strip_prefix('o')?.parse().ok()?;
    let e = it.next()?.strip_prefix('e')?.parse().ok()?;
    Some((g, o, e))
}

/// The identity of a scripted image's coverage row (before its scripted state is taken): what
/// the resource filters (`resourceId`, `accountId`, `resourceType`, `ecrRepositoryName`) see.
fn coverage_identity(rid: &str, repo: &str) -> Value {
    let account = rid.split(':').nth(4).unwrap_or("123456789012");
    json!({
        "resourceType": "AWS_ECR_CONTAINER_IMAGE",
        "resourceId": rid,
        "accountId": account,
        "scanType": "PACKAGE",
        "resourceMetadata": { "ecrImage": { "tags": [] },
                              "ecrRepository": { "name": repo, "scanFrequency": "CONTINUOUS_SCAN" } }
    })
}

/// The coverage row a new listing answers for the image `digest` whose row identity is `row`
/// (its next scripted answer, taken), or the scripted error.
fn coverage_row(
    st: &mut ScenarioState,
    digest: &str,
    mut row: Value,
) -> Result<Option<Value>, Box<Response>> {
    let Some(script) = st.images.get_mut(digest) else {
        return Ok(None);
    };
    match pop(&mut script.coverage).unwrap_or(Cov::NoRow) {
        Cov::NoRow => Ok(None),
        Cov::Row {
            code,
            reason,
            last_scanned_at,
        } => {
            row["scanStatus"] = json!({ "statusCode": code, "reason": reason });
            if reason == "SCAN_FREQUENCY_SCAN_ON_PUSH" {
                row["resourceMetadata"]["ecrRepository"]["scanFrequency"] = json!("SCAN_ON_PUSH");
            }
            if let Some(t) = last_scanned_at {
                row["lastScannedAt"] = json!(t as f64);
            }
            Ok(Some(row))
        }
        Cov::Throttle { retry_after } => Err(Box::new(rest_error(
            429,
            "ThrottlingException",
            "Rate exceeded",
            retry_after,
        ))),
        Cov::Error {
            status,
            kind,
            message,
        } => Err(Box::new(rest_error(status, kind, message, None))),
    }
}

async fn inspector_coverage(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = s.lock().unwrap();
    st.record("ListCoverage", &body);
    if let Err(r) = st.model.check("inspector2", "ListCoverage", &body) {
        return rest_refusal(&r);
    }
    let asked = body
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(200) as usize;
    let page_size = match st.coverage_page_size {
        0 => 200,
        n => n,
    }
    .min(asked);
    // A call without nextToken starts a listing (the next scripted answer); tokens continue it.
    let (listing, offset, empties) = match body.get("nextToken").and_then(Value::as_str) {
        Some(tok) => match parse_coverage_token(tok) {
            Some((c, o, e)) if c < st.coverage_pages.len() => (c, o, e),
            _ => return bad_token(),
        },
        None => {
            let crit = criteria(&body);
            let region = signed_region(&headers);
            // Every scripted image is a resource of the account (Inspector lists them all);
            // the listing's filters pick rows. An image whose repository the script does not
            // give is in the one the listing names (or whose resource id it names).
            let named: Vec<String> = crit["resourceId"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["comparison"] == "EQUALS")
                .filter_map(|f| f["value"].as_str().map(str::to_string))
                .collect();
            let repo_named = crit["ecrRepositoryName"]
                .as_array()
                .and_then(|l| l.iter().find(|f| f["comparison"] == "EQUALS"))
                .and_then(|f| f["value"].as_str())
                .map(str::to_string);
            let mut digests: Vec<String> = st.images.keys().cloned().collect();
            digests.sort();
            let mut rows = Vec::new();
            for d in digests {
                let repo = repo_of(&st, &d)
                    .or_else(|| {
                        named.iter().find_map(|rid| {
                            let path = rid.split_once(":repository/")?.1;
                            let (repo, digest) = path.rsplit_once('/')?;
                            (digest == d).then(|| repo.to_string())
                        })
                    })
                    .or_else(|| repo_named.clone());
                let Some(repo) = repo else { continue };
                let rid = st.resource_ids.get(&d).cloned().unwrap_or_else(|| {
                    format!(
                        "arn:{}:ecr:{region}:123456789012:repository/{repo}/{d}",
                        partition(&region)
                    )
                });
                // Only a listing that includes the image takes its next scripted answer.
                let identity = coverage_identity(&rid, &repo);
                let resource_filters: serde_json::Map<String, Value> = crit
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| {
                        [
                            "resourceId",
                            "accountId",
                            "resourceType",
                            "ecrRepositoryName",
                        ]
                        .contains(&k.as_str())
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                match filters::coverage_passes(&Value::Object(resource_filters), &identity) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(why) => return not_emulated(&st, why),
                }
                match coverage_row(&mut st, &d, identity) {
                    Ok(Some(row)) => match filters::coverage_passes(&crit, &row) {
                        Ok(true) => rows.push(row),
                        Ok(false) => {}
                        Err(why) => return not_emulated(&st, why),
                    },
                    Ok(None) => {}
                    Err(response) => return *response,
                }
            }
            st.coverage_pages.push(rows);
            (st.coverage_pages.len() - 1, 0, 0)
        }
    };
    if empties < st.empty_coverage_pages {
        return ok_json(json!({
            "coveredResources": [],
            "nextToken": format!("c{listing}-o{offset}-e{}", empties + 1)
        }));
    }
    ok_json(page(
        &st.coverage_pages[listing],
        "coveredResources",
        offset,
        page_size,
        |end| format!("c{listing}-o{end}-e0"),
    ))
}

async fn inspector_findings(State(s): State<Shared>, body: Bytes) -> Response {
    let mut delay = std::time::Duration::ZERO;
    let response = findings_response(&s, &body, &mut delay);
    // The lock is not held while a slow answer waits: other calls go on being answered.
    let until = Instant::now() + delay;
    while Instant::now() < until && !s.lock().unwrap().closing {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    response
}

/// The answer to one `ListFindings` call; `delay` is set to how long to wait before sending
/// it (the mutex is held here, never while waiting).
fn findings_response(s: &Shared, body: &Bytes, delay: &mut std::time::Duration) -> Response {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut st = s.lock().unwrap();
    st.record("ListFindings", &body);
    if let Err(r) = st.model.check("inspector2", "ListFindings", &body) {
        return rest_refusal(&r);
    }
    let asked = body
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(100) as usize;
    let page_size = if st.page_size == 0 { 100 } else { st.page_size }.min(asked);
    // A call without nextToken starts a new read (the next finding set); pages continue it.
    let (set, offset, empties) = match body.get("nextToken").and_then(Value::as_str) {
        Some(tok) => match parse_findings_token(tok) {
            Some((g, o, e)) if g < st.pages.len() => (g, o, e),
            _ => return bad_token(),
        },
        None => {
            let crit = criteria(&body);
            // The images the read covers: those the ecrImageHash filter lets through —
            // every image when there is none, as Inspector answers.
            let mut digests: Vec<String> = st.images.keys().cloned().collect();
            digests.sort();
            let hash = crit["ecrImageHash"].as_array().cloned().unwrap_or_default();
            digests
                .retain(|d| filters::strings_pass(&hash, std::slice::from_ref(d)).unwrap_or(false));
            let mut found = Vec::new();
            for d in digests {
                let read = st.images.get_mut(&d).and_then(|s| pop(&mut s.reads));
                match read {
                    Some(Read::Throttle { retry_after }) => {
                        return rest_error(429, "ThrottlingException", "Rate exceeded", retry_after)
                    }
                    Some(Read::Error {
                        status,
                        kind,
                        message,
                    }) => return rest_error(status, kind, message, None),
                    Some(Read::Slow { delay: d, findings }) => {
                        *delay = (*delay).max(d);
                        found.extend(findings);
                    }
                    Some(Read::Findings(f)) => found.extend(f),
                    None => {}
                }
            }
            let mut kept = Vec::new();
            for f in found {
                match filters::finding_passes(&crit, &f) {
                    Ok(true) => kept.push(f),
                    Ok(false) => {}
                    Err(why) => return not_emulated(&st, why),
                }
            }
            st.pages.push(kept);
            (st.pages.len() - 1, 0, 0)
        }
    };
    if empties < st.empty_finding_pages {
        return ok_json(json!({
            "findings": [],
            "nextToken": format!("g{set}-o{offset}-e{}", empties + 1)
        }));
    }
    ok_json(page(&st.pages[set], "findings", offset, page_size, |end| {
        format!("g{set}-o{end}-e0")
    }))
}

fn pipeline_error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        json!({ "__type": kind, "message": message }).to_string(),
    )
        .into_response()
}

/// The approval attempts visible after `polls` GetPipelineState calls, with their index.
fn visible(p: &PipelineScript, polls: usize) -> impl Iterator<Item = (usize, &ApprovalExec)> {
    p.executions
        .iter()
        .enumerate()
        .filter(move |(_, e)| polls > e.appears_after_polls)
}

async fn codepipeline(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let op = target.rsplit('.').next().unwrap_or("").to_string();
    let mut st = s.lock().unwrap();
    st.record(&op, &body);
    if let Err(r) = st.model.check("codepipeline", &op, &body) {
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            r.json_body().to_string(),
        )
            .into_response();
    }
    let Some(p) = st.pipeline.clone() else {
        return pipeline_error("PipelineNotFoundException", "no pipeline");
    };
    let name = body
        .get("name")
        .or_else(|| body.get("pipelineName"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if name != p.name {
        return pipeline_error(
            "PipelineNotFoundException",
            &format!("Account does not have a pipeline with name '{name}'"),
        );
    }
    if p.denied.contains(&op.as_str()) {
        return pipeline_error(
            "AccessDeniedException",
            &format!("User: arn:aws:sts::123456789012:assumed-role/gate/ci is not authorized to perform: codepipeline:{op}"),
        );
    }
    // The summary an answered attempt was given, if any.
    let answered = st.approvals.clone();
    let summary_of = |token: &str| {
        answered
            .iter()
            .rfind(|(t, _, _)| t == token)
            .map(|(_, _, s)| s.clone())
    };
    match op.as_str() {
        "GetPipelineState" => {
            st.state_polls += 1;
            let polls = st.state_polls;
            let latest = visible(&p, polls).last();
            let mut action = json!({ "actionName": p.action });
            let mut stage = json!({ "stageName": p.stage });
            if let Some((i, e)) = latest {
                let mut le = json!({ "actionExecutionId": format!("act-{i}"), "status": e.status,
                                     "lastStatusChange": 1_700_000_000.0 });
                if !p.parallel && e.status == "InProgress" {
                    le["token"] = json!(e.token);
                }
                if let Some(s) = summary_of(&e.token) {
                    le["summary"] = json!(s);
                }
                action["latestExecution"] = le;
                stage["latestExecution"] = json!({ "pipelineExecutionId": e.execution_id,
                                                   "status": "InProgress", "type": "STANDARD" });
            }
            stage["actionStates"] = json!([action]);
            ok_json(json!({
                "pipelineName": p.name,
                "pipelineVersion": 1,
                "stageStates": [ { "stageName": "Source", "actionStates": [ { "actionName": "Source" } ] }, stage ]
            }))
        }
        "ListActionExecutions" => {
            // A PARALLEL pipeline's approval is polled by listing (the state shows no token):
            // each listing's first page is one poll there.
            if p.parallel && body.get("nextToken").is_none() {
                st.state_polls += 1;
            }
            let polls = st.state_polls;
            let filter = body
                .get("filter")
                .and_then(|f| f.get("pipelineExecutionId"))
                .and_then(|v| v.as_str());
            // Newest first, as CodePipeline lists them; a retried stage shows every attempt.
            // The scripted executions started in the last minutes (one a second, the last
            // now), the history before them.
            let now = epoch_now();
            let n = p.executions.len();
            let mut attempts: Vec<(usize, &ApprovalExec)> = visible(&p, polls)
                .filter(|(_, e)| filter.is_none_or(|f| f == e.execution_id))
                .collect();
            attempts.reverse();
            let mut details: Vec<Value> = attempts
                .into_iter()
                .map(|(i, e)| {
                    let started = now - (n - i) as f64;
                    let mut resolved = json!({});
                    if let Some(cd) = &e.custom_data {
                        resolved["CustomData"] = json!(cd);
                    }
                    let mut result = json!({ "externalExecutionId": e.token });
                    if let Some(s) = summary_of(&e.token) {
                        result["externalExecutionSummary"] = json!(s);
                    }
                    json!({
                        "pipelineExecutionId": e.execution_id,
                        "actionExecutionId": format!("act-{i}"),
                        "pipelineVersion": 1,
                        "stageName": p.stage,
                        "actionName": p.action,
                        "status": e.status,
                        "startTime": started,
                        "lastUpdateTime": started,
                        "input": { "actionTypeId": { "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1" },
                                   "configuration": {}, "resolvedConfiguration": resolved },
                        "output": { "executionResult": result }
                    })
                })
                .collect();
            if filter.is_none() {
                let every = if p.history_every == 0 {
                    60.0
                } else {
                    p.history_every as f64
                };
                let oldest_scripted = now - n as f64;
                details.extend((0..p.history).map(|k| {
                    let started = oldest_scripted - (k + 1) as f64 * every;
                    let (stage, action) = match k % 3 {
                        0 => (p.stage.as_str(), p.action.as_str()),
                        1 => ("Build", "Build"),
                        _ => ("Source", "Source"),
                    };
                    json!({
                        "pipelineExecutionId": format!("old-{}", k / 3),
                        "actionExecutionId": format!("old-act-{k}"),
                        "pipelineVersion": 1,
                        "stageName": stage,
                        "actionName": action,
                        "status": "Succeeded",
                        "startTime": started,
                        "lastUpdateTime": started + 30.0,
                        "input": { "actionTypeId": { "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1" },
                                   "configuration": {}, "resolvedConfiguration": {} },
                        "output": { "executionResult": { "externalExecutionId": format!("old-tok-{k}") } }
                    })
                }));
            }
            // Paged like CodePipeline: `maxResults` (1-100, default 100) per page, a token
            // for the rest.
            let asked = body["maxResults"].as_u64().unwrap_or(100) as usize;
            let size = match st.action_page_size {
                0 => 100,
                n => n,
            }
            .min(asked);
            let offset = match body["nextToken"].as_str() {
                None => 0,
                Some(t) => match t.strip_prefix('a').and_then(|o| o.parse::<usize>().ok()) {
                    Some(o) if o <= details.len() => o,
                    _ => {
                        return pipeline_error(
                            "InvalidNextTokenException",
                            "The next token was specified in an invalid format.",
                        )
                    }
                },
            };
            ok_json(page(
                &details,
                "actionExecutionDetails",
                offset,
                size,
                |end| format!("a{end}"),
            ))
        }
        "GetPipeline" => {
            let mut approval = json!({
                "name": p.action,
                "actionTypeId": { "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1" },
                "runOrder": 1
            });
            if let Some(m) = p.approval_timeout_minutes {
                approval["timeoutInMinutes"] = json!(m);
            }
            ok_json(json!({
                "pipeline": {
                    "name": p.name,
                    "roleArn": "arn:aws:iam::123456789012:role/pipeline",
                    "artifactStore": { "type": "S3", "location": "artifacts" },
                    "stages": [
                        { "name": "Source", "actions": [ { "name": "Source", "actionTypeId": { "category": "Source", "owner": "AWS", "provider": "ECR", "version": "1" } } ] },
                        { "name": p.stage, "actions": [ approval ] }
                    ],
                    "version": 1,
                    "executionMode": if p.parallel { "PARALLEL" } else { "SUPERSEDED" },
                    "pipelineType": "V2"
                },
                "metadata": { "pipelineArn": format!("arn:aws:codepipeline:us-east-1:123456789012:{}", p.name) }
            }))
        }
        "GetPipelineExecution" => {
            let id = body
                .get("pipelineExecutionId")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let Some(e) = p.executions.iter().find(|e| e.execution_id == id) else {
                return pipeline_error("PipelineExecutionNotFoundException", "no such execution");
            };
            let revs: Vec<Value> = e
                .revision
                .iter()
                .map(|r| json!({ "name": "SourceArtifact", "revisionId": r }))
                .collect();
            ok_json(json!({ "pipelineExecution": {
                "pipelineName": p.name, "pipelineVersion": 1, "pipelineExecutionId": id,
                "status": "InProgress", "artifactRevisions": revs } }))
        }
        "PutApprovalResult" => {
            if body.get("stageName").and_then(|v| v.as_str()) != Some(p.stage.as_str()) {
                return pipeline_error("StageNotFoundException", "stage not found");
            }
            if body.get("actionName").and_then(|v| v.as_str()) != Some(p.action.as_str()) {
                return pipeline_error("ActionNotFoundException", "action not found");
            }
            if st.put_throttles > 0 {
                st.put_throttles -= 1;
                return pipeline_error("ThrottlingException", "Rate exceeded");
            }
            if let Some(err) = p.put_error {
                return pipeline_error(err, "scripted failure");
            }
            let token = body
                .get("token")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let status = body["result"]["status"].as_str().unwrap_or("").to_string();
            let summary = body["result"]["summary"].as_str().unwrap_or("").to_string();
            let Some((i, e)) = visible(&p, st.state_polls).find(|(_, e)| e.token == token) else {
                return pipeline_error(
                    "InvalidApprovalTokenException",
                    &format!("The token {token} is not valid for this approval action"),
                );
            };
            if e.status != "InProgress" {
                return pipeline_error(
                    "ApprovalAlreadyCompletedException",
                    &format!(
                        "The approval action {} in stage {} was already {}",
                        p.action, p.stage, e.status
                    ),
                );
            }
            let done = if status == "Approved" {
                "Succeeded"
            } else {
                "Failed"
            };
            if let Some(pl) = st.pipeline.as_mut() {
                pl.executions[i].status = done;
            }
            st.approvals.push((token, status, summary));
            ok_json(json!({ "approvedAt": 1_700_000_500.0 }))
        }
        _ => pipeline_error(
            "InvalidActionDeclarationException",
            &format!("test server: unsupported op {op}"),
        ),
    }
}

impl Scenario {
    pub fn start(state: ScenarioState) -> Scenario {
        let state: Shared = Arc::new(Mutex::new(state));
        let app = Router::new()
            .route("/coverage/list", post(inspector_coverage))
            .route("/findings/list", post(inspector_findings))
            .route("/", post(codepipeline))
            .with_state(state.clone());
        let served = Served::start(app);
        Scenario {
            url: served.url.clone(),
            state,
            _served: served,
        }
    }

    /// When `op` was called about `digest` (the digest appears in the request body).
    pub fn calls_about(&self, op: &str, digest: &str) -> Vec<Instant> {
        let st = self.state.lock().unwrap();
        st.log
            .iter()
            .zip(&st.log_at)
            .filter(|((o, body), _)| o == op && body.to_string().contains(digest))
            .map(|(_, at)| *at)
            .collect()
    }

    /// When `op` was called (every call, whatever it was about).
    pub fn calls_at(&self, op: &str) -> Vec<Instant> {
        let st = self.state.lock().unwrap();
        st.log
            .iter()
            .zip(&st.log_at)
            .filter(|((o, _), _)| o == op)
            .map(|(_, at)| *at)
            .collect()
    }

    /// The bodies of every `op` request so far.
    pub fn bodies(&self, op: &str) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        st.log
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The requests refused so far (model violations), taken: a test that sends bad requests
    /// on purpose asserts on these, and they no longer fail it.
    pub fn take_refused(&self) -> Vec<String> {
        self.state.lock().unwrap().model.take_refused()
    }

    pub fn calls(&self, op: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(o, _)| o == op)
            .count()
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if let Ok(mut st) = self.state.lock() {
            st.closing = true;
        }
        // `_served` stops the server after this; a refusal no test took fails the test.
        let guard = std::mem::take(&mut self.state.lock().unwrap().model);
        guard.finish();
    }
}
