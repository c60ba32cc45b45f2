//! A scripted AWS server for what moto cannot emulate: Inspector2 `ListCoverage` /
//! `ListFindings` sequences (pending → done, late findings, pagination, throttling, terminal
//! reasons) and CodePipeline approvals (`GetPipeline`, `GetPipelineState`,
//! `ListActionExecutions` — paged, with an optional long history — `GetPipelineExecution`,
//! `PutApprovalResult`). Responses follow the service models (restJson1
//! for Inspector2, awsJson1.1 for CodePipeline) and are parsed by the real SDK in the binary.
//!
//! Where AWS is unkind, so is this server (the service models, checked against the SDK's
//! deserialisers): list pages may be empty and still carry a `nextToken`
//! ([`ScenarioState::empty_coverage_pages`], [`ScenarioState::empty_finding_pages`]); throttling answers 429 with both the `Retry-After` header
//! and `retryAfterSeconds` in the body; a second `PutApprovalResult` on a token answers
//! `ApprovalAlreadyCompletedException`; a retried stage keeps its pipeline execution id, so
//! `ListActionExecutions` lists the answered attempt next to the new one; coverage resource ids
//! carry the partition of the region the request was signed for (`arn:aws-cn:`,
//! `arn:aws-us-gov:`), and a resource id of another partition or region matches nothing;
//! `ListFindings` honours `findingStatus` filters (ACTIVE / SUPPRESSED / CLOSED, values ORed)
//! like AWS, so a read without them gets CLOSED findings too, and one for ACTIVE only misses
//! the SUPPRESSED ones.

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
    /// Coverage rows served so far (one per listing); coverage `nextToken`s point into these.
    pub coverage_pages: Vec<Option<Value>>,
    /// Set when the server stops: a slow answer still waiting gives up at once.
    pub closing: bool,
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
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
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

fn ok_json(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

/// The ARN partition of a region, as AWS names it (written out here, not taken from the
/// binary's table, so that the two check each other).
pub fn partition(region: &str) -> &'static str {
    [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("eusc-", "aws-eusc"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
    ]
    .iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map_or("aws", |(_, p)| p)
}

/// A finding in Inspector2's wire format for `digest` in `repo` (us-east-1).
pub fn finding(
    id: &str,
    severity: &str,
    pkg: &str,
    version: &str,
    fixed: Option<&str>,
    digest: &str,
    repo: &str,
) -> Value {
    finding_in("us-east-1", id, severity, pkg, version, fixed, digest, repo)
}

/// [`finding`] in `region`: its ARNs name the region's partition.
#[allow(clippy::too_many_arguments)]
pub fn finding_in(
    region: &str,
    id: &str,
    severity: &str,
    pkg: &str,
    version: &str,
    fixed: Option<&str>,
    digest: &str,
    repo: &str,
) -> Value {
    let p = partition(region);
    let mut vp = json!({ "name": pkg, "version": version, "packageManager": "OS" });
    if let Some(f) = fixed {
        vp["fixedInVersion"] = json!(f);
    }
    json!({
        "awsAccountId": "123456789012",
        "findingArn": format!("arn:{p}:inspector2:{region}:123456789012:finding/{id}-{pkg}-{}", &digest[7..19]),
        "description": format!("{id} in {pkg}"),
        "title": format!("{id} - {pkg}"),
        "severity": severity,
        "status": "ACTIVE",
        "type": "PACKAGE_VULNERABILITY",
        "firstObservedAt": 1_700_000_000.0,
        "lastObservedAt": 1_700_000_100.0,
        "fixAvailable": if fixed.is_some() { "YES" } else { "NO" },
        "exploitAvailable": "NO",
        "inspectorScore": match severity { "CRITICAL" => 9.8, "HIGH" => 7.5, "MEDIUM" => 5.0, _ => 2.0 },
        "epss": { "score": 0.02 },
        "remediation": { "recommendation": { "text": format!("upgrade {pkg}") } },
        "packageVulnerabilityDetails": {
            "vulnerabilityId": id,
            "source": "NVD",
            "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{id}"),
            "vulnerablePackages": [vp]
        },
        "resources": [{
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "id": format!("arn:{p}:ecr:{region}:123456789012:repository/{repo}/{digest}"),
            "details": { "awsEcrContainerImage": {
                "imageHash": digest, "repositoryName": repo, "registry": "123456789012",
                "architecture": "amd64", "platform": "DEBIAN_12"
            } }
        }]
    })
}

/// Whether a finding's `status` passes the request's `findingStatus` filters, as AWS applies
/// them: EQUALS and PREFIX values are ORed (any one matches), NOT_EQUALS values all exclude,
/// and no `findingStatus` filter at all lets every status through — CLOSED and SUPPRESSED
/// included. A comparison the model does not define is the caller's bug: `Err`.
fn status_matches(body: &Value, status: &str) -> Result<bool, String> {
    let Some(filters) = body
        .get("filterCriteria")
        .and_then(|c| c.get("findingStatus"))
        .and_then(Value::as_array)
    else {
        return Ok(true);
    };
    let (mut any_positive, mut matched, mut excluded) = (false, false, false);
    for f in filters {
        let value = f.get("value").and_then(Value::as_str).unwrap_or("");
        match f.get("comparison").and_then(Value::as_str) {
            Some("EQUALS") => {
                any_positive = true;
                matched |= status == value;
            }
            Some("PREFIX") => {
                any_positive = true;
                matched |= status.starts_with(value);
            }
            Some("NOT_EQUALS") => excluded |= status == value,
            other => {
                return Err(format!(
                    "findingStatus comparison {other:?} is not EQUALS, PREFIX or NOT_EQUALS"
                ))
            }
        }
    }
    Ok((!any_positive || matched) && !excluded)
}

/// The findings of a scripted set that a listing holds: those whose status the request's
/// filters let through (a scripted finding without a status is ACTIVE).
fn listed(body: &Value, findings: Vec<Value>) -> Vec<Value> {
    findings
        .into_iter()
        .filter(|v| {
            let status = v.get("status").and_then(Value::as_str);
            status_matches(body, status.unwrap_or("ACTIVE")).unwrap_or(false)
        })
        .collect()
}

/// `v` (a [`finding`]) with Inspector's status `status` (ACTIVE, SUPPRESSED or CLOSED).
pub fn with_status(mut v: Value, status: &str) -> Value {
    v["status"] = json!(status);
    v
}

fn filter_value(body: &Value, key: &str) -> Option<String> {
    body.get("filterCriteria")?
        .get(key)?
        .get(0)?
        .get("value")?
        .as_str()
        .map(str::to_string)
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

/// `maxResults` outside the model's range is a ValidationException, as on AWS.
fn bad_max_results(body: &Value, max: u64) -> Option<Response> {
    let n = body.get("maxResults")?.as_u64().unwrap_or(0);
    (n < 1 || n > max).then(|| {
        rest_error(
            400,
            "ValidationException",
            &format!("maxResults must be between 1 and {max}"),
            None,
        )
    })
}

fn bad_token() -> Response {
    rest_error(400, "ValidationException", "invalid nextToken", None)
}

/// `c{listing}-e{empty pages served}`.
fn parse_coverage_token(tok: &str) -> Option<(usize, usize)> {
    let (c, e) = tok.split_once('-')?;
    Some((
        c.strip_prefix('c')?.parse().ok()?,
        e.strip_prefix('e')?.parse().ok()?,
    ))
}

/// `g{finding set}-o{offset}-e{empty pages served before this page}`.
fn parse_findings_token(tok: &str) -> Option<(usize, usize, usize)> {
    let mut it = tok.split('-');
    let g = it.next()?.strip_prefix('g')?.parse().ok()?;
    let o = it.next()?.strip_prefix('o')?.parse().ok()?;
    let e = it.next()?.strip_prefix('e')?.parse().ok()?;
    Some((g, o, e))
}

/// The coverage row a new listing answers for `rid`, or the scripted error. A resource id
/// of another partition or region than the one the request was signed for matches nothing.
fn coverage_row(
    st: &mut ScenarioState,
    rid: &str,
    region: &str,
) -> Result<Option<Value>, Box<Response>> {
    let prefix = format!("arn:{}:ecr:{region}:", partition(region));
    let Some((account, path)) = rid
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once(":repository/"))
    else {
        return Ok(None);
    };
    let Some((repo, digest)) = path.rsplit_once('/') else {
        return Ok(None);
    };
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
            let mut row = json!({
                "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                "resourceId": rid,
                "accountId": account,
                "scanType": "PACKAGE",
                "scanStatus": { "statusCode": code, "reason": reason },
                "resourceMetadata": { "ecrImage": { "tags": [] },
                                      "ecrRepository": { "name": repo, "scanFrequency": "CONTINUOUS_SCAN" } }
            });
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
    if let Some(r) = bad_max_results(&body, 200) {
        return r;
    }
    // A call without nextToken starts a listing (the next scripted answer); tokens continue it.
    let (listing, empties) = match body.get("nextToken").and_then(Value::as_str) {
        Some(tok) => match parse_coverage_token(tok) {
            Some((c, e)) if c < st.coverage_pages.len() => (c, e),
            _ => return bad_token(),
        },
        None => {
            let rid = filter_value(&body, "resourceId").unwrap_or_default();
            let region = signed_region(&headers);
            match coverage_row(&mut st, &rid, &region) {
                Ok(row) => st.coverage_pages.push(row),
                Err(response) => return *response,
            }
            (st.coverage_pages.len() - 1, 0)
        }
    };
    if empties < st.empty_coverage_pages {
        return ok_json(json!({
            "coveredResources": [],
            "nextToken": format!("c{listing}-e{}", empties + 1)
        }));
    }
    let rows: Vec<Value> = st.coverage_pages[listing].iter().cloned().collect();
    ok_json(json!({ "coveredResources": rows }))
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
    if let Some(r) = bad_max_results(&body, 100) {
        return r;
    }
    let asked = body
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(100) as usize;
    let page_size = if st.page_size == 0 { 100 } else { st.page_size }.min(asked);
    let digest = filter_value(&body, "ecrImageHash").unwrap_or_default();
    if let Err(why) = status_matches(&body, "ACTIVE") {
        return rest_error(400, "ValidationException", &why, None);
    }
    // A call without nextToken starts a new read (the next finding set); pages continue it.
    let (set, offset, empties) = match body.get("nextToken").and_then(Value::as_str) {
        Some(tok) => match parse_findings_token(tok) {
            Some((g, o, e)) if g < st.pages.len() => (g, o, e),
            _ => return bad_token(),
        },
        None => {
            let read = match st.images.get_mut(&digest) {
                Some(script) => pop(&mut script.reads),
                None => None,
            };
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
                    *delay = d;
                    st.pages.push(listed(&body, findings));
                }
                Some(Read::Findings(f)) => st.pages.push(listed(&body, f)),
                None => st.pages.push(Vec::new()),
            }
            (st.pages.len() - 1, 0, 0)
        }
    };
    if empties < st.empty_finding_pages {
        return ok_json(json!({
            "findings": [],
            "nextToken": format!("g{set}-o{offset}-e{}", empties + 1)
        }));
    }
    let all = &st.pages[set];
    let end = (offset + page_size).min(all.len());
    let mut out = json!({ "findings": all[offset.min(end)..end].to_vec() });
    if end < all.len() {
        out["nextToken"] = json!(format!("g{set}-o{end}-e0"));
    }
    ok_json(out)
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
            // Pages of maxResults (1-100, default 100), `nextToken` the offset.
            let size = body
                .get("maxResults")
                .and_then(|v| v.as_u64())
                .unwrap_or(100)
                .clamp(1, 100) as usize;
            let from: usize = body
                .get("nextToken")
                .and_then(|v| v.as_str())
                .and_then(|t| t.strip_prefix("lae-"))
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page: Vec<Value> = details.iter().skip(from).take(size).cloned().collect();
            let mut out = json!({ "actionExecutionDetails": page });
            if from + size < details.len() {
                out["nextToken"] = json!(format!("lae-{}", from + size));
            }
            ok_json(out)
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
            if !matches!(status.as_str(), "Approved" | "Rejected") {
                return pipeline_error(
                    "ValidationException",
                    &format!("result.status '{status}' is not Approved or Rejected"),
                );
            }
            if summary.chars().count() > 512 {
                return pipeline_error(
                    "ValidationException",
                    "result.summary must be at most 512 characters",
                );
            }
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
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Scenario {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
