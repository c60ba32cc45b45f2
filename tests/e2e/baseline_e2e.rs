//! End-to-end `gate --baseline`: the real binary against moto (ECR), the scripted Inspector2
//! server, and a small scripted ECS server. moto's ECS models services and tasks but its
//! DescribeTasks never returns `containers[].imageDigest` (its Container has no digest), so
//! ECS is served here in the awsJson1.1 shape the SDK deserialises.

use crate::support;
use support::findings::now;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use support::aws::{self as a, text};
use support::moto::Moto;
use support::scenario::{finding, Cov, DigestScript, Scenario, ScenarioState};
use support::serve::Served;

const REPO: &str = "app/web";
const FAST: &[&str] = &["--poll-interval", "50ms", "--settle", "200ms"];
const CLUSTER: &str = "prod";
const SERVICE: &str = "web";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
const TD_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";

/// One running task: its task definition and the digest its container reports.
#[derive(Clone)]
struct Task {
    td: &'static str,
    digest: String,
}

#[derive(Clone, Default)]
struct Ecs {
    /// None = the service does not exist (DescribeServices answers a MISSING failure).
    service: Option<Vec<Task>>,
    calls: Vec<String>,
    model: std::sync::Arc<support::model::ModelGuard>,
}

type SharedEcs = Arc<Mutex<Ecs>>;

fn image_uri() -> String {
    format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPO}:prod")
}

async fn ecs(State(s): State<SharedEcs>, headers: HeaderMap, body: Bytes) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = s.lock().unwrap();
    st.calls.push(op.clone());
    if let Err(r) = st.model.check("ecs", &op, &req) {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            r.json_body().to_string(),
        )
            .into_response();
    }
    let svc_arn = format!("arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}");
    let answer = match (op.as_str(), &st.service) {
        ("DescribeServices", None) => json!({
            "services": [],
            "failures": [{ "arn": svc_arn, "reason": "MISSING" }]
        }),
        ("DescribeServices", Some(_)) => json!({
            "services": [{
                "serviceArn": svc_arn, "serviceName": SERVICE, "status": "ACTIVE",
                "taskDefinition": TD_NEW,
                // Mid-deployment: the old task definition still runs beside the primary.
                "deployments": [
                    { "id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": TD_NEW, "runningCount": 2 },
                    { "id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": TD_OLD, "runningCount": 1 }
                ]
            }],
            "failures": []
        }),
        ("ListTasks", Some(tasks)) => json!({
            "taskArns": (0..tasks.len())
                .map(|i| format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/t{i}"))
                .collect::<Vec<_>>()
        }),
        ("DescribeTasks", Some(tasks)) => {
            let wanted: Vec<String> = req["tasks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let tasks: Vec<Value> = tasks
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/t{i}"), t))
                .filter(|(arn, _)| wanted.contains(arn))
                .map(|(arn, t)| json!({
                    "taskArn": arn, "taskDefinitionArn": t.td, "lastStatus": "RUNNING",
                    "containers": [{ "name": "app", "image": image_uri(), "imageDigest": t.digest, "lastStatus": "RUNNING" }]
                }))
                .collect();
            json!({ "tasks": tasks, "failures": [] })
        }
        _ => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                json!({ "__type": "ServiceNotFoundException", "message": "Service not found." })
                    .to_string(),
            )
                .into_response()
        }
    };
    (
        [("content-type", "application/x-amz-json-1.1")],
        answer.to_string(),
    )
        .into_response()
}

struct EcsServer {
    url: String,
    state: SharedEcs,
    _served: Served,
}

impl Drop for EcsServer {
    fn drop(&mut self) {
        let guard = self.state.lock().unwrap().model.clone();
        guard.finish();
    }
}

impl EcsServer {
    fn start(ecs_state: Ecs) -> EcsServer {
        let state: SharedEcs = Arc::new(Mutex::new(ecs_state));
        let app = Router::new()
            .route("/", post(ecs))
            .with_state(state.clone());
        let served = Served::start(app);
        EcsServer {
            url: served.url.clone(),
            state,
            _served: served,
        }
    }
}

fn scanned(findings: Vec<Value>) -> DigestScript {
    support::findings::scanned(now() - 60, findings)
}

fn f(id: &str, sev: &str, pkg: &str, d: &str) -> Value {
    finding(id, sev, pkg, "1.0", Some("1.1"), d, REPO)
}

struct World {
    moto: Moto,
    scen: Scenario,
    ecs: EcsServer,
    dir: tempfile::TempDir,
    /// What the primary deployment runs.
    base: String,
    /// What the draining old deployment still runs.
    old: String,
    /// The image being gated.
    cand: String,
}

impl World {
    /// The service runs `base` (primary, 2 tasks) and `old` (1 task of the previous
    /// deployment). `base` has CVE-1 CRITICAL (openssl), CVE-2 CRITICAL (zlib) and CVE-3 LOW;
    /// `old` has CVE-OLD CRITICAL; the candidate has `cand_findings`.
    fn new(cand_findings: &dyn Fn(&str) -> Vec<Value>, service: bool) -> World {
        let moto = Moto::start();
        a::create_repo(&moto.url, REPO);
        a::enhanced_scanning(&moto.url, "app/*");
        let base = a::put_image(&moto.url, REPO, Some("prod"), "baseline");
        let old = a::put_image(&moto.url, REPO, Some("old"), "old");
        let cand = a::put_image(&moto.url, REPO, Some("v2"), "candidate");
        let mut st = ScenarioState::default();
        st.images.insert(
            base.clone(),
            scanned(vec![
                f("CVE-1", "CRITICAL", "openssl", &base),
                f("CVE-2", "CRITICAL", "zlib", &base),
                f("CVE-3", "LOW", "curl", &base),
            ]),
        );
        st.images.insert(
            old.clone(),
            scanned(vec![f("CVE-OLD", "CRITICAL", "bash", &old)]),
        );
        st.images
            .insert(cand.clone(), scanned(cand_findings(&cand)));
        let tasks = service.then(|| {
            vec![
                Task {
                    td: TD_OLD,
                    digest: old.clone(),
                },
                Task {
                    td: TD_NEW,
                    digest: base.clone(),
                },
                Task {
                    td: TD_NEW,
                    digest: base.clone(),
                },
            ]
        });
        World {
            ecs: EcsServer::start(Ecs {
                service: tasks,
                ..Default::default()
            }),
            scen: Scenario::start(st),
            moto,
            dir: tempfile::tempdir().unwrap(),
            base,
            old,
            cand,
        }
    }

    fn gate(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let cand = format!("{REPO}@{}", self.cand);
        let mut full = vec!["gate", "--image", &cand, "--fail-on", "HIGH"];
        full.extend_from_slice(FAST);
        full.extend_from_slice(args);
        let mut env = env.to_vec();
        env.push(("AWS_ENDPOINT_URL_ECS", &self.ecs.url));
        text(&a::run(
            &self.moto.url,
            &self.scen.url,
            &full,
            &env,
            self.dir.path(),
        ))
    }

    fn report(&self, dir: &str) -> Value {
        let p = self.dir.path().join(dir).join("report.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn file(&self, dir: &str, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(dir).join(name)).unwrap()
    }
}

/// The candidate keeps CVE-1 (inherited), fixes CVE-2 and CVE-3, adds a MEDIUM.
fn fixes_two(d: &str) -> Vec<Value> {
    vec![
        f("CVE-1", "CRITICAL", "openssl", d),
        f("CVE-NEW", "MEDIUM", "libxml2", d),
    ]
}

#[test]
fn ecs_baseline_passes_inherited_and_reports_what_the_change_fixes() {
    let w = World::new(&fixes_two, true);
    // Without a baseline the inherited CRITICAL fails the gate: the baseline is what passes it.
    let (code, _, err) = w.gate(&[], &[]);
    assert_eq!(code, 1, "{err}");

    let (code, out, err) = w.gate(&["--baseline", "ecs:prod/web", "--report-dir", "r"], &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("baseline ecs:prod/web"), "{out}");
    let r = w.report("r");
    let b = &r["images"][0]["evaluation"]["baseline"];
    // The primary deployment's digest, not the draining old one's.
    assert_eq!(b["digest"], json!(w.base), "{b}");
    assert_ne!(b["digest"], json!(w.old));
    assert_eq!(b["source"], "ecs:prod/web");
    assert_eq!(b["counts"]["inherited"], json!({ "CRITICAL": 1 }));
    assert_eq!(b["counts"]["new"], json!({ "MEDIUM": 1 }));
    assert_eq!(b["counts"]["fixed"], json!({ "CRITICAL": 1, "LOW": 1 }));
    let fixed: Vec<&str> = b["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(fixed, vec!["CVE-2", "CVE-3"]);
    let inherited = r["images"][0]["evaluation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-1")
        .unwrap()
        .clone();
    assert_eq!(inherited["origin"], "inherited");
    assert_eq!(inherited["disposition"]["status"], "inherited");

    let md = w.file("r", "summary.md");
    assert!(
        md.contains("introduces 1 MEDIUM, fixes 1 CRITICAL, 1 LOW, 1 inherited"),
        "{md}"
    );
    let sarif: Value = serde_json::from_str(&w.file("r", "report.sarif")).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let cve1 = results.iter().find(|x| x["ruleId"] == "CVE-1").unwrap();
    assert!(
        cve1["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("inherited"),
        "{cve1}"
    );
    let new = results.iter().find(|x| x["ruleId"] == "CVE-NEW").unwrap();
    assert!(new.get("suppressions").is_none(), "{new}");
    let junit = w.file("r", "junit.xml");
    assert!(
        junit.contains("inherited: already in the baseline image"),
        "{junit}"
    );
    assert!(junit.contains("fixes 1 CRITICAL"), "{junit}");
    let calls = w.ecs.state.lock().unwrap().calls.clone();
    assert_eq!(
        calls,
        vec!["DescribeServices", "ListTasks", "DescribeTasks"]
    );
}

#[test]
fn a_candidate_that_introduces_a_critical_fails() {
    let w = World::new(
        &|d| {
            vec![
                f("CVE-1", "CRITICAL", "openssl", d),
                f("CVE-9", "CRITICAL", "glibc", d),
            ]
        },
        true,
    );
    let (code, _, err) = w.gate(
        &["--report-dir", "r"],
        &[("INSPECTOR_GATE_BASELINE", "ecs:prod/web")],
    );
    assert_eq!(code, 1, "{err}");
    let r = w.report("r");
    let e = &r["images"][0]["evaluation"];
    assert_eq!(
        e["violations"],
        json!([{ "severity": "CRITICAL", "count": 1, "max": 0 }])
    );
    let cve9 = e["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-9")
        .unwrap();
    assert_eq!(cve9["origin"], "new");
    assert_eq!(cve9["disposition"]["violation"], true);
    assert!(
        w.file("r", "summary.md").contains("introduces 1 CRITICAL"),
        "{}",
        w.file("r", "summary.md")
    );
}

#[test]
fn policy_count_all_counts_inherited_findings() {
    let w = World::new(&fixes_two, true);
    std::fs::write(
        w.dir.path().join("policy.toml"),
        "[baseline]\ncount = \"new\"\ncount-critical = \"all\"\n",
    )
    .unwrap();
    let (code, _, err) = w.gate(
        &["--baseline", "ecs:prod/web", "--policy", "policy.toml"],
        &[],
    );
    assert_eq!(
        code, 1,
        "an inherited CRITICAL counts with count-critical = all: {err}"
    );
}

#[test]
fn unreadable_baseline_is_exit_3_unless_optional() {
    // The service does not exist.
    let w = World::new(&fixes_two, false);
    let (code, out, err) = w.gate(&["--baseline", "ecs:prod/web"], &[]);
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("cannot read the baseline ecs:prod/web") && err.contains("MISSING"),
        "{err}"
    );
    // Optional: a warning, and every finding is gated (the inherited CRITICAL fails).
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod/web", "--baseline-optional"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--baseline-optional"), "{err}");

    // A service with no running task (stopped) is unreadable too.
    w.ecs.state.lock().unwrap().service = Some(vec![]);
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod/web"], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no running task"), "{err}");

    // A malformed source is a usage error.
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn image_and_saved_report_baselines() {
    let w = World::new(&fixes_two, true);
    // An image reference: read from Inspector like any image.
    let base_ref = format!("{REPO}:prod");
    let (code, _, err) = w.gate(&["--baseline", &base_ref, "--report-dir", "img"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        w.report("img")["images"][0]["evaluation"]["baseline"]["digest"],
        json!(w.base)
    );

    // A saved report.json of an earlier gate of the baseline image. That gate's verdict is
    // beside the point: an explicit permissive policy lets its CRITICAL pass (with no
    // threshold at all, the built-in fail-on HIGH would fail it).
    let (code, _, err) = text(&a::run(
        &w.moto.url,
        &w.scen.url,
        &[
            "gate",
            "--image",
            &base_ref,
            "--report-dir",
            "prev",
            "--poll-interval",
            "50ms",
            "--settle",
            "200ms",
            "--max-critical",
            "1000",
            "--max-high",
            "1000",
        ],
        &[],
        w.dir.path(),
    ));
    assert_eq!(code, 0, "a permissive policy: {err}");
    let (code, _, err) = w.gate(
        &["--baseline", "prev/report.json", "--report-dir", "file"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let b = &w.report("file")["images"][0]["evaluation"]["baseline"];
    assert_eq!(
        b["counts"]["fixed"],
        json!({ "CRITICAL": 1, "LOW": 1 }),
        "{b}"
    );

    // A baseline image that is not scanned: exit 3, never waited for.
    w.scen.state.lock().unwrap().images.insert(
        w.base.clone(),
        DigestScript {
            coverage: VecDeque::from(vec![Cov::Row {
                code: "ACTIVE",
                reason: "PENDING_INITIAL_SCAN",
                last_scanned_at: None,
            }]),
            reads: VecDeque::new(),
        },
    );
    let (code, _, err) = w.gate(&["--baseline", &base_ref], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not scanned yet"), "{err}");
    // A file that is not a report.
    std::fs::write(w.dir.path().join("junk.json"), "{}").unwrap();
    let (code, _, err) = w.gate(&["--baseline", "junk.json"], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not a report.json"), "{err}");
}
