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
use support::world::{self, FAST, REPO};

const CLUSTER: &str = "prod";
const SERVICE: &str = "web";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
const TD_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";

/// One running task: who started it, its task definition and the digest its container reports.
#[derive(Clone)]
struct Task {
    /// ECS writes the deployment id here; task-set tasks are left without it.
    started_by: Option<&'static str>,
    td: &'static str,
    digest: String,
}

/// The service as DescribeServices answers it, and its running tasks.
#[derive(Clone)]
struct Svc {
    /// ECS, CODE_DEPLOY or EXTERNAL.
    controller: &'static str,
    deployments: Vec<Value>,
    task_sets: Vec<Value>,
    tasks: Vec<Task>,
}

#[derive(Clone, Default)]
struct Ecs {
    /// None = the service does not exist (DescribeServices answers a MISSING failure).
    service: Option<Svc>,
    calls: Vec<String>,
    /// Every request body, in order.
    bodies: Vec<Value>,
    model: std::sync::Arc<support::model::ModelGuard>,
}

type SharedEcs = Arc<Mutex<Ecs>>;

/// A deployment in DescribeServices' shape (`rolloutState` only where ECS reports one).
fn deployment(id: &str, status: &str, rollout: Option<&str>, td: &str, running: usize) -> Value {
    let mut d = json!({
        "id": id, "status": status, "taskDefinition": td,
        "desiredCount": running, "runningCount": running, "pendingCount": 0,
        "createdAt": 1.7e9, "updatedAt": 1.7e9
    });
    if let Some(r) = rollout {
        d["rolloutState"] = json!(r);
        d["rolloutStateReason"] = json!(format!("ECS deployment {id} {r}"));
    }
    d
}

/// A task set (CODE_DEPLOY / EXTERNAL controllers).
fn task_set(id: &str, status: &str, td: &str, running: usize) -> Value {
    json!({
        "id": id, "taskSetArn": format!("arn:aws:ecs:us-east-1:123456789012:task-set/{CLUSTER}/{SERVICE}/{id}"),
        "status": status, "taskDefinition": td, "startedBy": "CODE_DEPLOY",
        "computedDesiredCount": running, "runningCount": running, "pendingCount": 0,
        "stabilityStatus": "STEADY_STATE", "scale": { "value": 100.0, "unit": "PERCENT" }
    })
}

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
    st.bodies.push(req.clone());
    if let Err(r) = st.model.check("ecs", &op, &req) {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            r.json_body().to_string(),
        )
            .into_response();
    }
    let svc_arn = format!("arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}");
    // As ECS: the cluster by its short name or full ARN (absent: the `default` cluster, which
    // does not exist here); DescribeServices takes a service's name or ARN, ListTasks'
    // serviceName is a name.
    let cluster_arn = format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}");
    let refuse = |code: &str, message: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            json!({ "__type": code, "message": message }).to_string(),
        )
            .into_response()
    };
    if !matches!(req["cluster"].as_str(), Some(c) if c == CLUSTER || c == cluster_arn) {
        return refuse("ClusterNotFoundException", "Cluster not found.");
    }
    let service_named = |v: &Value| v.as_str() == Some(SERVICE) || v.as_str() == Some(&svc_arn);
    match op.as_str() {
        "DescribeServices"
            if !req["services"]
                .as_array()
                .is_some_and(|a| a.iter().all(service_named)) =>
        {
            return (
                [("content-type", "application/x-amz-json-1.1")],
                json!({ "services": [], "failures": [{ "arn": req["services"][0], "reason": "MISSING" }] }).to_string(),
            )
                .into_response();
        }
        "ListTasks" if req["serviceName"].as_str() != Some(SERVICE) => {
            return refuse("ServiceNotFoundException", "Service not found.");
        }
        _ => {}
    }
    let answer = match (op.as_str(), &st.service) {
        ("DescribeServices", None) => json!({
            "services": [],
            "failures": [{ "arn": svc_arn, "reason": "MISSING" }]
        }),
        ("DescribeServices", Some(svc)) => {
            let mut d = json!({
                "serviceArn": svc_arn, "serviceName": SERVICE, "status": "ACTIVE",
                "deploymentController": { "type": svc.controller },
                "deployments": svc.deployments,
            });
            if svc.controller == "ECS" {
                d["taskDefinition"] = json!(TD_NEW);
            } else {
                d["taskSets"] = json!(svc.task_sets);
            }
            json!({ "services": [d], "failures": [] })
        }
        ("ListTasks", Some(Svc { tasks, .. })) => json!({
            "taskArns": (0..tasks.len())
                .map(|i| format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/t{i}"))
                .collect::<Vec<_>>()
        }),
        ("DescribeTasks", Some(Svc { tasks, .. })) => {
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
                .map(|(arn, t)| {
                    let mut task = json!({
                        "taskArn": arn, "taskDefinitionArn": t.td, "lastStatus": "RUNNING",
                        "containers": [{ "name": "app", "image": image_uri(), "imageDigest": t.digest, "lastStatus": "RUNNING" }]
                    });
                    if let Some(by) = t.started_by {
                        task["startedBy"] = json!(by);
                    }
                    task
                })
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
    /// What the service serves (the COMPLETED deployment, the PRIMARY task set).
    base: String,
    /// A second image some tasks still run.
    old: String,
    /// The image being gated.
    cand: String,
}

/// How the service stands when the gate reads it.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Layout {
    /// The service does not exist.
    Missing,
    /// The candidate is rolling out: PRIMARY IN_PROGRESS runs it (1 task), the ACTIVE
    /// COMPLETED deployment runs `base` (2 tasks) and serves.
    Rollout,
    /// The candidate's rollout FAILED (circuit breaker): it still has a task, `base` serves.
    FailedRollout,
    /// No `rolloutState` (a service behind a Classic Load Balancer): PRIMARY runs `base`,
    /// ACTIVE still runs `old`, and both serve.
    NoRolloutState,
    /// The candidate is deployed already: its deployment is the COMPLETED one.
    Deployed,
    /// CODE_DEPLOY blue/green: no deployments; PRIMARY task set (blue) runs `base`, the
    /// ACTIVE replacement (green) runs the candidate.
    CodeDeploy,
}

impl World {
    /// `base` has CVE-1 CRITICAL (openssl), CVE-2 CRITICAL (zlib) and CVE-3 LOW; `old` has
    /// CVE-1 and CVE-OLD CRITICAL; the candidate has `cand_findings`.
    fn new(cand_findings: &dyn Fn(&str) -> Vec<Value>, layout: Layout) -> World {
        let moto = world::moto();
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
            scanned(vec![
                f("CVE-1", "CRITICAL", "openssl", &old),
                f("CVE-OLD", "CRITICAL", "bash", &old),
            ]),
        );
        st.images
            .insert(cand.clone(), scanned(cand_findings(&cand)));
        let task = |by: Option<&'static str>, td: &'static str, d: &str| Task {
            started_by: by,
            td,
            digest: d.to_string(),
        };
        let ecs = |deployments: Vec<Value>, tasks: Vec<Task>| Svc {
            controller: "ECS",
            deployments,
            task_sets: vec![],
            tasks,
        };
        let (d1, d2) = (Some("ecs-svc/1"), Some("ecs-svc/2"));
        let service = match layout {
            Layout::Missing => None,
            Layout::Rollout | Layout::FailedRollout => Some(ecs(
                vec![
                    deployment(
                        "ecs-svc/2",
                        "PRIMARY",
                        Some(if layout == Layout::Rollout {
                            "IN_PROGRESS"
                        } else {
                            "FAILED"
                        }),
                        TD_NEW,
                        1,
                    ),
                    deployment("ecs-svc/1", "ACTIVE", Some("COMPLETED"), TD_OLD, 2),
                ],
                vec![
                    task(d2, TD_NEW, &cand),
                    task(d1, TD_OLD, &base),
                    task(d1, TD_OLD, &base),
                ],
            )),
            Layout::NoRolloutState => Some(ecs(
                vec![
                    deployment("ecs-svc/2", "PRIMARY", None, TD_NEW, 2),
                    deployment("ecs-svc/1", "ACTIVE", None, TD_OLD, 1),
                ],
                vec![
                    task(d1, TD_OLD, &old),
                    task(d2, TD_NEW, &base),
                    task(d2, TD_NEW, &base),
                ],
            )),
            Layout::Deployed => Some(ecs(
                vec![deployment(
                    "ecs-svc/2",
                    "PRIMARY",
                    Some("COMPLETED"),
                    TD_NEW,
                    2,
                )],
                vec![task(d2, TD_NEW, &cand), task(d2, TD_NEW, &cand)],
            )),
            Layout::CodeDeploy => Some(Svc {
                controller: "CODE_DEPLOY",
                deployments: vec![],
                task_sets: vec![
                    task_set("ecs-svc/green", "ACTIVE", TD_NEW, 1),
                    task_set("ecs-svc/blue", "PRIMARY", TD_OLD, 2),
                ],
                tasks: vec![
                    task(None, TD_NEW, &cand),
                    task(None, TD_OLD, &base),
                    task(None, TD_OLD, &base),
                ],
            }),
        };
        World {
            ecs: EcsServer::start(Ecs {
                service,
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
    // Mid-rollout of the candidate itself: the PRIMARY deployment runs it; the COMPLETED one
    // serves, and is the baseline.
    let w = World::new(&fixes_two, Layout::Rollout);
    // Without a baseline the inherited CRITICAL fails the gate: the baseline is what passes it.
    let (code, _, err) = w.gate(&[], &[]);
    assert_eq!(code, 1, "{err}");

    let (code, out, err) = w.gate(&["--baseline", "ecs:prod/web", "--report-dir", "r"], &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("baseline ecs:prod/web"), "{out}");
    let r = w.report("r");
    let b = &r["images"][0]["evaluation"]["baseline"];
    // The COMPLETED deployment's digest, never the candidate's own rollout.
    assert_eq!(b["digest"], json!(w.base), "{b}");
    assert!(b.get("digests").is_none(), "one serving image: {b}");
    assert!(
        err.contains("deployment ecs-svc/1 (ACTIVE, COMPLETED) runs") && err.contains(&w.base),
        "{err}"
    );
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
fn the_cluster_or_the_service_may_be_given_by_its_arn() {
    let w = World::new(&fixes_two, Layout::Rollout);
    let cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    for source in [
        format!("ecs:{cluster_arn}/web"),
        format!("ecs:{cluster_arn}/web/app"),
        "ecs:arn:aws:ecs:us-east-1:123456789012:service/prod/web".to_string(),
    ] {
        let before = w.ecs.state.lock().unwrap().bodies.len();
        let (code, out, err) = w.gate(&["--baseline", &source, "--report-dir", "r"], &[]);
        assert_eq!(code, 0, "{source}\nstdout:\n{out}\nstderr:\n{err}");
        let b = &w.report("r")["images"][0]["evaluation"]["baseline"];
        assert_eq!(b["digest"], json!(w.base), "{b}");
        assert_eq!(b["counts"]["inherited"], json!({ "CRITICAL": 1 }));
        // Every ECS call names the cluster by its ARN, and the service by its name.
        let bodies = w.ecs.state.lock().unwrap().bodies[before..].to_vec();
        assert_eq!(bodies.len(), 3, "{bodies:?}");
        for body in &bodies {
            assert_eq!(body["cluster"], cluster_arn, "{body}");
        }
        assert_eq!(bodies[1]["serviceName"], "web", "{}", bodies[1]);
    }
    // The stand-in refuses another cluster, as ECS does: its ARN is not read as "prod".
    let (code, _, err) = w.gate(
        &[
            "--baseline",
            "ecs:arn:aws:ecs:us-east-1:123456789012:cluster/staging/web",
        ],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("ClusterNotFoundException") || err.contains("Cluster not found"),
        "{err}"
    );
    // A cluster in another region than the run's: one line saying so, before any ECS call.
    let calls = w.ecs.state.lock().unwrap().calls.len();
    let (code, _, err) = w.gate(
        &[
            "--baseline",
            "ecs:arn:aws:ecs:eu-west-1:123456789012:cluster/prod/web",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("names a cluster in eu-west-1") && err.contains("--region eu-west-1"),
        "{err}"
    );
    assert_eq!(w.ecs.state.lock().unwrap().calls.len(), calls);
    // A malformed ARN is exit 2 from the preflight, before any AWS call.
    let (code, _, err) = w.gate(
        &[
            "--baseline",
            "ecs:arn:aws:ecs:us-east-1:123456789012:service/web",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("old format"), "{err}");
}

#[test]
fn a_candidate_that_introduces_a_critical_fails() {
    // During its own rollout (taking the PRIMARY deployment as the baseline, every finding
    // of the candidate would be "inherited" and pass).
    let w = World::new(
        &|d| {
            vec![
                f("CVE-1", "CRITICAL", "openssl", d),
                f("CVE-9", "CRITICAL", "glibc", d),
            ]
        },
        Layout::Rollout,
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
    let w = World::new(&fixes_two, Layout::Rollout);
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
    let w = World::new(&fixes_two, Layout::Missing);
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
    w.ecs.state.lock().unwrap().service = Some(Svc {
        controller: "ECS",
        deployments: vec![deployment(
            "ecs-svc/1",
            "PRIMARY",
            Some("COMPLETED"),
            TD_OLD,
            0,
        )],
        task_sets: vec![],
        tasks: vec![],
    });
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod/web"], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no running task"), "{err}");

    // A malformed source is a usage error.
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn image_and_saved_report_baselines() {
    let w = World::new(&fixes_two, Layout::Rollout);
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

/// The ECS stand-in refuses what ECS's model refuses, as botocore does (model_conformance):
/// a DescribeTasks without its required tasks, a ListTasks with an unknown desiredStatus.
#[tokio::test]
async fn the_ecs_stand_in_refuses_what_the_model_refuses() {
    use crate::model_conformance::{agree, Sent};
    use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
    let server = EcsServer::start(Ecs {
        service: Some(Svc {
            controller: "ECS",
            deployments: vec![],
            task_sets: vec![],
            tasks: vec![],
        }),
        ..Default::default()
    });
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTESTTESTTESTTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(&server.url)
        .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())
        .build();
    let c = aws_sdk_ecs::Client::from_conf(conf);
    let r1 = c.describe_tasks().cluster(CLUSTER).tasks("t0").send().await;
    let r2 = c.describe_tasks().cluster(CLUSTER).send().await;
    let r3 = c
        .list_tasks()
        .cluster(CLUSTER)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::from("SLEEPING"))
        .send()
        .await;
    let bodies = server.state.lock().unwrap().bodies.clone();
    let sent = vec![
        Sent {
            service: "ecs",
            op: "DescribeTasks",
            body: bodies[0].clone(),
            refusal: support::sdk::refusal(r1),
            expected: vec![],
        },
        Sent {
            service: "ecs",
            op: "DescribeTasks",
            body: bodies[1].clone(),
            refusal: support::sdk::refusal(r2),
            expected: vec!["tasks"],
        },
        Sent {
            service: "ecs",
            op: "ListTasks",
            body: bodies[2].clone(),
            refusal: support::sdk::refusal(r3),
            expected: vec!["desiredStatus"],
        },
    ];
    agree(&sent);
    assert_eq!(server.state.lock().unwrap().model.take_refused().len(), 2);
}

/// The candidate adds CVE-9 CRITICAL (glibc) and keeps CVE-1.
fn adds_a_critical(d: &str) -> Vec<Value> {
    vec![
        f("CVE-1", "CRITICAL", "openssl", d),
        f("CVE-9", "CRITICAL", "glibc", d),
    ]
}

#[test]
fn a_failed_rollout_of_the_candidate_is_not_its_baseline() {
    let w = World::new(&adds_a_critical, Layout::FailedRollout);
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod/web", "--report-dir", "r"], &[]);
    assert_eq!(code, 1, "CVE-9 is new: {err}");
    let e = &w.report("r")["images"][0]["evaluation"];
    assert_eq!(e["baseline"]["digest"], json!(w.base), "{e}");
    assert_eq!(e["baseline"]["counts"]["new"], json!({ "CRITICAL": 1 }));
    assert_eq!(
        e["baseline"]["counts"]["inherited"],
        json!({ "CRITICAL": 1 })
    );
}

#[test]
fn without_rollout_state_every_running_deployment_is_the_baseline() {
    // CVE-2 is in base (PRIMARY) but not in old (the ACTIVE deployment still serving): the
    // candidate brings it to the tasks that run old, so it is new. CVE-1 is in both.
    let w = World::new(
        &|d| {
            vec![
                f("CVE-1", "CRITICAL", "openssl", d),
                f("CVE-2", "CRITICAL", "zlib", d),
            ]
        },
        Layout::NoRolloutState,
    );
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod/web", "--report-dir", "r"], &[]);
    assert_eq!(code, 1, "{err}");
    let e = &w.report("r")["images"][0]["evaluation"];
    let b = &e["baseline"];
    assert_eq!(b["digests"], json!([w.base, w.old]), "{b}");
    assert_eq!(b["counts"]["inherited"], json!({ "CRITICAL": 1 }));
    assert_eq!(b["counts"]["new"], json!({ "CRITICAL": 1 }));
    let origin = |id: &str| {
        e["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()["origin"]
            .clone()
    };
    assert_eq!(origin("CVE-1"), "inherited");
    assert_eq!(origin("CVE-2"), "new");
    // What only one of them has and the candidate dropped is fixed: CVE-3 (base) and CVE-OLD (old).
    assert_eq!(
        b["counts"]["fixed"],
        json!({ "CRITICAL": 1, "LOW": 1 }),
        "{b}"
    );
}

#[test]
fn a_baseline_that_already_runs_the_candidate_is_exit_3() {
    let w = World::new(&adds_a_critical, Layout::Deployed);
    let (code, out, err) = w.gate(&["--baseline", "ecs:prod/web"], &[]);
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("the baseline already runs the candidate")
            && err.contains("deployment ecs-svc/2 (PRIMARY, COMPLETED)")
            && err.contains(&w.cand),
        "{err}"
    );
    // Optional: a warning, and every finding is gated.
    let (code, _, err) = w.gate(&["--baseline", "ecs:prod/web", "--baseline-optional"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already runs the candidate"), "{err}");
    // The same for an image reference that names the candidate.
    let (code, _, err) = w.gate(&["--baseline", &format!("{REPO}:v2")], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("already runs the candidate"), "{err}");
}

#[test]
fn code_deploy_services_compare_with_the_primary_task_set() {
    let w = World::new(&fixes_two, Layout::CodeDeploy);
    let (code, out, err) = w.gate(&["--baseline", "ecs:prod/web", "--report-dir", "r"], &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let b = &w.report("r")["images"][0]["evaluation"]["baseline"];
    assert_eq!(
        b["digest"],
        json!(w.base),
        "the blue (PRIMARY) task set: {b}"
    );
    assert_eq!(b["counts"]["inherited"], json!({ "CRITICAL": 1 }));
    assert!(
        err.contains("task set ecs-svc/blue (PRIMARY) runs"),
        "{err}"
    );
}
