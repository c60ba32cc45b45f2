//! A scripted AWS server for what moto cannot emulate: Inspector2 `ListCoverage` /
//! `ListFindings` sequences (pending → done, late findings, pagination, throttling, terminal
//! reasons) and CodePipeline approvals (`GetPipelineState`, `ListActionExecutions`,
//! `GetPipelineExecution`, `PutApprovalResult`). Responses follow the service models (restJson1
//! for Inspector2, awsJson1.1 for CodePipeline) and are parsed by the real SDK in the binary.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

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

#[derive(Clone, Debug)]
pub struct ApprovalExec {
    pub execution_id: String,
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
}

#[derive(Default)]
pub struct ScenarioState {
    pub images: HashMap<String, DigestScript>,
    pub page_size: usize,
    pub pipeline: Option<PipelineScript>,
    pub state_polls: usize,
    /// Every request: (operation, body).
    pub log: Vec<(String, Value)>,
    /// Every PutApprovalResult: (token, status, summary).
    pub approvals: Vec<(String, String, String)>,
    /// Finding sets served so far (one per read); `nextToken` points into these.
    pub pages: Vec<Vec<Value>>,
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
    if let Some(r) = retry_after {
        headers.insert("Retry-After", r.to_string().parse().unwrap());
    }
    (
        StatusCode::from_u16(status).unwrap(),
        headers,
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn ok_json(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

/// A finding in Inspector2's wire format for `digest` in `repo`.
pub fn finding(
    id: &str,
    severity: &str,
    pkg: &str,
    version: &str,
    fixed: Option<&str>,
    digest: &str,
    repo: &str,
) -> Value {
    let mut vp = json!({ "name": pkg, "version": version, "packageManager": "OS" });
    if let Some(f) = fixed {
        vp["fixedInVersion"] = json!(f);
    }
    json!({
        "awsAccountId": "123456789012",
        "findingArn": format!("arn:aws:inspector2:us-east-1:123456789012:finding/{id}-{pkg}-{}", &digest[7..19]),
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
            "id": format!("arn:aws:ecr:us-east-1:123456789012:repository/{repo}/{digest}"),
            "details": { "awsEcrContainerImage": {
                "imageHash": digest, "repositoryName": repo, "registry": "123456789012",
                "architecture": "amd64", "platform": "DEBIAN_12"
            } }
        }]
    })
}

fn filter_value(body: &Value, key: &str) -> Option<String> {
    body.get("filterCriteria")?
        .get(key)?
        .get(0)?
        .get("value")?
        .as_str()
        .map(str::to_string)
}

async fn inspector_coverage(State(s): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = s.lock().unwrap();
    st.log.push(("ListCoverage".into(), body.clone()));
    let rid = filter_value(&body, "resourceId").unwrap_or_default();
    let digest = rid.rsplit('/').next().unwrap_or_default().to_string();
    let Some(script) = st.images.get_mut(&digest) else {
        return ok_json(json!({ "coveredResources": [] }));
    };
    match pop(&mut script.coverage).unwrap_or(Cov::NoRow) {
        Cov::NoRow => ok_json(json!({ "coveredResources": [] })),
        Cov::Row {
            code,
            reason,
            last_scanned_at,
        } => {
            let mut row = json!({
                "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                "resourceId": rid,
                "accountId": "123456789012",
                "scanType": "PACKAGE",
                "scanStatus": { "statusCode": code, "reason": reason },
                "resourceMetadata": { "ecrRepository": { "name": "x", "scanFrequency": "CONTINUOUS_SCAN" } }
            });
            if let Some(t) = last_scanned_at {
                row["lastScannedAt"] = json!(t as f64);
            }
            ok_json(json!({ "coveredResources": [row] }))
        }
        Cov::Throttle { retry_after } => {
            rest_error(429, "ThrottlingException", "Rate exceeded", retry_after)
        }
        Cov::Error {
            status,
            kind,
            message,
        } => rest_error(status, kind, message, None),
    }
}

async fn inspector_findings(State(s): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = s.lock().unwrap();
    st.log.push(("ListFindings".into(), body.clone()));
    let page_size = if st.page_size == 0 { 100 } else { st.page_size };
    let digest = filter_value(&body, "ecrImageHash").unwrap_or_default();
    let status = filter_value(&body, "findingStatus");
    if status.as_deref() != Some("ACTIVE") {
        return rest_error(
            400,
            "ValidationException",
            "test server: findingStatus ACTIVE filter missing",
            None,
        );
    }
    let Some(script) = st.images.get_mut(&digest) else {
        return ok_json(json!({ "findings": [] }));
    };
    // A call without nextToken starts a new read (the next finding set); pages continue it.
    let (set, offset) = match body.get("nextToken").and_then(|t| t.as_str()) {
        Some(tok) => {
            let (g, o) = tok.split_once('-').unwrap();
            let g: usize = g.trim_start_matches('g').parse().unwrap();
            let o: usize = o.trim_start_matches('o').parse().unwrap();
            (g, o)
        }
        None => match pop(&mut script.reads) {
            Some(Read::Throttle { retry_after }) => {
                return rest_error(429, "ThrottlingException", "Rate exceeded", retry_after)
            }
            Some(Read::Error {
                status,
                kind,
                message,
            }) => return rest_error(status, kind, message, None),
            Some(Read::Findings(f)) => {
                st.pages.push(f);
                (st.pages.len() - 1, 0)
            }
            None => return ok_json(json!({ "findings": [] })),
        },
    };
    let Some(all) = st.pages.get(set).cloned() else {
        return rest_error(400, "ValidationException", "bad nextToken", None);
    };
    let end = (offset + page_size).min(all.len());
    let mut out = json!({ "findings": all[offset..end].to_vec() });
    if end < all.len() {
        out["nextToken"] = json!(format!("g{set}-o{end}"));
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

async fn codepipeline(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let op = target.rsplit('.').next().unwrap_or("").to_string();
    let mut st = s.lock().unwrap();
    st.log.push((op.clone(), body.clone()));
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
    match op.as_str() {
        "GetPipelineState" => {
            st.state_polls += 1;
            let polls = st.state_polls;
            let visible: Vec<&ApprovalExec> = p
                .executions
                .iter()
                .filter(|e| polls > e.appears_after_polls)
                .collect();
            let latest = visible.last();
            let mut action = json!({ "actionName": p.action });
            let mut stage = json!({ "stageName": p.stage });
            if let Some(e) = latest {
                let mut le = json!({ "status": e.status, "lastStatusChange": 1_700_000_000.0 });
                if !p.parallel && e.status == "InProgress" {
                    le["token"] = json!(e.token);
                }
                action["latestExecution"] = le;
                stage["latestExecution"] =
                    json!({ "pipelineExecutionId": e.execution_id, "status": "InProgress" });
            }
            stage["actionStates"] = json!([action]);
            ok_json(json!({
                "pipelineName": p.name,
                "pipelineVersion": 1,
                "stageStates": [ { "stageName": "Source", "actionStates": [ { "actionName": "Source" } ] }, stage ]
            }))
        }
        "ListActionExecutions" => {
            let polls = st.state_polls;
            let filter = body
                .get("filter")
                .and_then(|f| f.get("pipelineExecutionId"))
                .and_then(|v| v.as_str());
            let details: Vec<Value> = p
                .executions
                .iter()
                .filter(|e| polls > e.appears_after_polls)
                .filter(|e| filter.is_none_or(|f| f == e.execution_id))
                .map(|e| {
                    let mut resolved = json!({});
                    if let Some(cd) = &e.custom_data {
                        resolved["CustomData"] = json!(cd);
                    }
                    json!({
                        "pipelineExecutionId": e.execution_id,
                        "actionExecutionId": format!("act-{}", e.execution_id),
                        "pipelineVersion": 1,
                        "stageName": p.stage,
                        "actionName": p.action,
                        "status": e.status,
                        "startTime": 1_700_000_000.0,
                        "input": { "actionTypeId": { "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1" },
                                   "configuration": {}, "resolvedConfiguration": resolved },
                        "output": { "executionResult": { "externalExecutionId": e.token } }
                    })
                })
                .collect();
            ok_json(json!({ "actionExecutionDetails": details }))
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
