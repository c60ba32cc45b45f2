//! End-to-end under injected faults (docs/faults.md): the real binary pushes, gates and
//! approves through seeded fault-injecting proxies in front of moto (ECR), the scripted
//! Inspector2/CodePipeline server and a real registry. Every seeded run must reach the clean
//! run's verdict and exit code, push a digest skopeo verifies, and record exactly one approval
//! for the right execution; a failed `PutApprovalResult` is never retried; faults that outlast
//! `--timeout` end in the exit code their call site decides (3 for the scan wait and the
//! findings read, 4 for the scanning configuration and CodePipeline), naming the last error.

use crate::support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;
use support::aws::{self as a, text};
use support::faults::{self, decide, Fault, FaultProxy, Plan};
use support::fixtures;
use support::gated::ECR_PASSWORD;
use support::moto::Moto;
use support::registry::{self as reg, Registry};
use support::scenario::{Read, Scenario, ScenarioState};
use support::world::{
    self, crit, done_long_ago, done_now, exec, low, pipeline, scanning, script, APPROVE, FAST, REPO,
};

const SEEDS: u64 = 20;
/// Runs at once: each mostly sleeps (backoff, stalls), so this is what keeps the suite short.
const PARALLEL: usize = 6;

/// moto with an enhanced-scanned repository, and a registry that takes ECR's credentials.
struct Peers {
    moto: Moto,
    reg: Registry,
}

fn peers() -> Peers {
    let moto = world::moto();
    Peers {
        moto,
        reg: Registry::start_as("AWS", ECR_PASSWORD),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// One unfixed LOW: passes `--fail-on CRITICAL` → Approved, exit 0.
    Good,
    /// A CRITICAL that shows up one read after the scan is done → Rejected, exit 1.
    Bad,
}

/// A finished run: (job index, seed, image kind, faulted, outcome).
type Done = (usize, u64, Kind, bool, Outcome);

#[derive(Debug, Default)]
struct Outcome {
    code: i32,
    verdict: String,
    /// Digest the gate reported (report.json).
    digest: String,
    /// Digest of the manifest bytes the registry serves under the tag (skopeo).
    served: String,
    source_digest: String,
    approvals: Vec<(String, String)>,
    put_seen: usize,
    put_forwarded: usize,
    token: String,
    faults: BTreeMap<&'static str, usize>,
    /// Every fault decision, sorted (concurrent uploads arrive in any order).
    log: Vec<String>,
    gaps: Vec<(String, u32, f64)>,
    secs: f64,
    stderr: String,
}

/// Push (from an OCI layout built from `image`) + gate + approve once, through proxies
/// faulting per `seed` (or forwarding everything when `faulted` is false).
fn run_once(p: &Peers, seed: u64, image: u64, kind: Kind, faulted: bool) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::single_arch(
        &tmp.path().join("oci"),
        "v1",
        10_000 + image,
        &[200_000, 40_000, 3_000],
    );
    let d = src.digest.clone();
    let script = script(
        [scanning(), vec![done_now()]].concat(),
        match kind {
            Kind::Good => vec![Read::Findings(vec![low(&d)])],
            Kind::Bad => vec![
                Read::Findings(vec![low(&d)]),
                Read::Findings(vec![low(&d), crit(&d)]),
            ],
        },
    );
    let token = format!("tok-{image}-{faulted}");
    // A decoy execution of another image waits at the approval first; ours arrives later.
    let other = format!("Image_Digest=sha256:{}", "1".repeat(64));
    let scen = Scenario::start(ScenarioState {
        images: [(d.clone(), script)].into_iter().collect(),
        pipeline: Some(pipeline(vec![
            exec("e-decoy", "tok-decoy", Some(other), 0),
            exec(
                &format!("e-{image}"),
                &token,
                Some(format!("Image_Digest={d}")),
                2,
            ),
        ])),
        ..Default::default()
    });
    let (aws_plan, reg_plan) = if faulted {
        (Plan::aws(seed), Plan::registry(seed))
    } else {
        (Plan::clean(), Plan::clean())
    };
    let ecr = FaultProxy::start(&p.moto.url, aws_plan.clone());
    let aws = FaultProxy::start(&scen.url, aws_plan);
    let regp = FaultProxy::start(&p.reg.url(), reg_plan);

    let tag = format!("i{image}-{}", if faulted { "f" } else { "c" });
    let push_from = format!("oci:{}:v1", src.dir.display());
    let image = format!("{REPO}:{tag}");
    let mut args = vec![
        "gate",
        "--push-from",
        &push_from,
        "--image",
        &image,
        "--registry-url",
        &regp.url,
    ];
    args.extend_from_slice(&[
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "90s",
        "--approve",
        APPROVE,
        "--report-dir",
        "r",
    ]);
    args.extend_from_slice(FAST);
    let env = [
        ("AWS_ENDPOINT_URL_ECR", ecr.url.as_str()),
        ("AWS_ENDPOINT_URL_INSPECTOR2", aws.url.as_str()),
        ("AWS_ENDPOINT_URL_CODEPIPELINE", aws.url.as_str()),
    ];
    let t = Instant::now();
    let (code, _out, stderr) = text(&a::run(&p.moto.url, &scen.url, &args, &env, tmp.path()));
    let secs = t.elapsed().as_secs_f64();

    let report: Value = std::fs::read_to_string(tmp.path().join("r/report.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    let raw = reg::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &p.reg.login(),
        &format!("docker://{}/{REPO}:{tag}", p.reg.host()),
    ]);
    let served = if raw.status.success() {
        fixtures::sha256(&raw.stdout)
    } else {
        String::from_utf8_lossy(&raw.stderr).into_owned()
    };
    let approvals = scen
        .state
        .lock()
        .unwrap()
        .approvals
        .iter()
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect();
    let mut faults = BTreeMap::new();
    let mut log = Vec::new();
    let mut gaps = Vec::new();
    for (name, px) in [("ecr", &ecr), ("aws", &aws), ("registry", &regp)] {
        let r = px.record();
        for (k, n) in r.faults {
            *faults.entry(k).or_default() += n;
        }
        log.extend(r.log.into_iter().map(|l| format!("{name}: {l}")));
        gaps.extend(r.retry_after_gaps);
    }
    log.sort();
    Outcome {
        code,
        verdict: report["verdict"].as_str().unwrap_or("none").to_string(),
        digest: report["images"][0]["image"]["digest"]
            .as_str()
            .unwrap_or("none")
            .to_string(),
        served,
        source_digest: d,
        approvals,
        put_seen: aws.seen("PutApprovalResult"),
        put_forwarded: aws.forwarded("PutApprovalResult"),
        token,
        faults,
        log,
        gaps,
        secs,
        stderr,
    }
}

/// Everything a seeded run must share with the clean run; the problems found, if any.
fn check(o: &Outcome, clean: &Outcome, kind: Kind) -> Vec<String> {
    let mut bad = Vec::new();
    if (o.code, &o.verdict) != (clean.code, &clean.verdict) {
        bad.push(format!(
            "exit {} verdict {} (clean: exit {} verdict {})",
            o.code, o.verdict, clean.code, clean.verdict
        ));
    }
    if o.digest != o.source_digest || o.served != o.digest {
        bad.push(format!(
            "digest: reported {}, source {}, registry serves {}",
            o.digest, o.source_digest, o.served
        ));
    }
    let status = if kind == Kind::Good {
        "Approved"
    } else {
        "Rejected"
    };
    if o.approvals != [(o.token.clone(), status.to_string())] {
        bad.push(format!(
            "approvals {:?}, want exactly one {status} for {}",
            o.approvals, o.token
        ));
    }
    if (o.put_seen, o.put_forwarded) != (1, 1) {
        bad.push(format!(
            "PutApprovalResult: {} sent, {} reached the pipeline (want 1 and 1)",
            o.put_seen, o.put_forwarded
        ));
    }
    for (op, asked, waited) in &o.gaps {
        if *waited + 0.05 < f64::from(*asked) {
            bad.push(format!(
                "{op} came back {waited:.2}s after Retry-After: {asked}"
            ));
        }
    }
    bad
}

#[test]
fn fault_decisions_are_a_function_of_seed_key_and_occurrence() {
    let p = Plan::aws(7);
    let a: Vec<_> = (1..400)
        .map(|n| decide(&p, "ListCoverage", "ListCoverage", n))
        .collect();
    let b: Vec<_> = (1..400)
        .map(|n| decide(&p, "ListCoverage", "ListCoverage", n))
        .collect();
    assert_eq!(a, b);
    let faulted = a.iter().filter(|f| f.is_some()).count();
    assert!((80..160).contains(&faulted), "about 30% of 399: {faulted}");
    assert_ne!(
        a,
        (1..400)
            .map(|n| decide(&Plan::aws(8), "ListCoverage", "ListCoverage", n))
            .collect::<Vec<_>>()
    );
    assert!((1..100).all(|n| decide(&p, "PutApprovalResult", "PutApprovalResult", n).is_none()));
    let r = Plan::registry(7);
    assert!((1..100).all(|n| decide(&r, "HeadBlob", "HeadBlob x", n).is_none()));
    assert!((1..100).all(|n| matches!(
        decide(&r, "BlobUpload", "BlobUpload d", n),
        None | Some(Fault::Cut)
    )));
}

#[test]
fn twenty_seeded_fault_runs_reach_the_clean_verdict_with_one_approval() {
    let started = Instant::now();
    let p = peers();
    // Clean runs first (the reference), then 20 seeds alternating a passing and a failing
    // image, then seed 0 again (with a fresh image, so its blobs are uploaded again) to show
    // that a seed replays the same faults. (seed, image, kind, faulted):
    let mut jobs: Vec<(u64, u64, Kind, bool)> =
        vec![(0, 900, Kind::Good, false), (0, 901, Kind::Bad, false)];
    jobs.extend((0..SEEDS).map(|s| (s, s, if s % 2 == 0 { Kind::Good } else { Kind::Bad }, true)));
    jobs.push((0, 1000, Kind::Good, true));
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let results: Mutex<Vec<Done>> = Mutex::default();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let Some((i, (seed, image, kind, faulted))) = queue.lock().unwrap().next() else {
                    break;
                };
                let o = run_once(&p, seed, image, kind, faulted);
                results.lock().unwrap().push((i, seed, kind, faulted, o));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let clean_good = &results[0].4;
    let clean_bad = &results[1].4;
    assert_eq!(
        (clean_good.code, clean_good.verdict.as_str()),
        (0, "pass"),
        "clean run:\n{}",
        clean_good.stderr
    );
    assert_eq!(
        (clean_bad.code, clean_bad.verdict.as_str()),
        (1, "fail"),
        "clean run:\n{}",
        clean_bad.stderr
    );
    assert!(clean_good.faults.is_empty() && clean_bad.faults.is_empty());

    let mut failures = Vec::new();
    let mut total: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, seed, kind, faulted, o) in &results {
        let clean = if *kind == Kind::Good {
            clean_good
        } else {
            clean_bad
        };
        let problems = check(o, clean, *kind);
        let faults: Vec<String> = o.faults.iter().map(|(k, n)| format!("{k}×{n}")).collect();
        eprintln!(
            "run {i:2} seed {seed:3} {kind:?} {}: exit {} in {:5.1}s, faults [{}]{}",
            if *faulted { "faulted" } else { "clean  " },
            o.code,
            o.secs,
            faults.join(" "),
            if problems.is_empty() {
                String::new()
            } else {
                format!(" PROBLEMS: {}", problems.join("; "))
            }
        );
        if !problems.is_empty() {
            failures.push(format!(
                "seed {seed} ({kind:?}): {}\nfault log: {:?}\nstderr:\n{}",
                problems.join("; "),
                o.log,
                o.stderr
            ));
        }
        if *faulted && *i < SEEDS as usize + 2 {
            for (k, n) in &o.faults {
                *total.entry(k).or_default() += n;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs differ from the clean run:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );

    // Every fault of the model was exercised somewhere in the 20 seeds.
    let mut expected: Vec<&str> = faults::aws_menu().iter().map(Fault::kind).collect();
    expected.extend(["cut", "503", "forward-then-502"]);
    for k in expected {
        assert!(
            total.get(k).copied().unwrap_or(0) > 0,
            "fault {k} never injected in {SEEDS} seeds: {total:?}"
        );
    }
    // Same seed, same faults. The replay pushed another image (registry keys name blob
    // digests), so compare the AWS side, whose keys are operations only.
    let aws_side = |o: &Outcome| {
        o.log
            .iter()
            .filter(|l| !l.starts_with("registry"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let original = &results[2].4;
    let replay = &results.last().unwrap().4;
    assert!(!aws_side(original).is_empty());
    assert_eq!(
        aws_side(original),
        aws_side(replay),
        "seed 0 replayed different AWS faults"
    );
    eprintln!(
        "{} runs in {:.1}s; faults injected over {SEEDS} seeds: {total:?}",
        results.len(),
        started.elapsed().as_secs_f64()
    );
}

/// An image already in moto, scanned long ago (one coverage read, one findings read).
struct Steady {
    moto: Moto,
    digest: String,
}

fn steady() -> Steady {
    let moto = world::moto();
    let digest = a::put_image(&moto.url, REPO, Some("v1"), "steady");
    Steady { moto, digest }
}

struct Gated {
    code: i32,
    stderr: String,
    secs: f64,
    scen: Scenario,
    aws: FaultProxy,
    ecr: FaultProxy,
}

impl Gated {
    fn error_line(&self) -> String {
        self.stderr
            .lines()
            .rfind(|l| l.starts_with("error:"))
            .unwrap_or("")
            .to_string()
    }
}

/// `gate --image app/web:v1 <extra>` with ECR behind a proxy following `ecr_plan` and
/// Inspector2/CodePipeline behind one following `aws_plan`.
fn gate_steady(s: &Steady, ecr_plan: Plan, aws_plan: Plan, extra: &[&str]) -> Gated {
    let d = &s.digest;
    let script = script(vec![done_long_ago()], vec![Read::Findings(vec![low(d)])]);
    let scen = Scenario::start(ScenarioState {
        images: [(d.clone(), script)].into_iter().collect(),
        pipeline: Some(pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            0,
        )])),
        ..Default::default()
    });
    let ecr = FaultProxy::start(&s.moto.url, ecr_plan);
    let aws = FaultProxy::start(&scen.url, aws_plan);
    let mut args = vec!["gate", "--image", "app/web:v1", "--fail-on", "CRITICAL"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(extra);
    let env = [
        ("AWS_ENDPOINT_URL_ECR", ecr.url.as_str()),
        ("AWS_ENDPOINT_URL_INSPECTOR2", aws.url.as_str()),
        ("AWS_ENDPOINT_URL_CODEPIPELINE", aws.url.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (code, _out, stderr) = text(&a::run(&s.moto.url, &scen.url, &args, &env, dir.path()));
    Gated {
        code,
        stderr,
        secs: t.elapsed().as_secs_f64(),
        scen,
        aws,
        ecr,
    }
}

#[test]
fn a_failed_put_approval_result_is_never_retried() {
    let s = steady();
    // (fault, whether the pipeline recorded the answer before the failure)
    let cases = [
        (Fault::Internal500, 0),
        (Fault::Unavailable503, 0),
        (
            Fault::Throttle {
                retry_after: Some(1),
            },
            0,
        ),
        (Fault::Close, 0),
        (Fault::Reset, 0),
        (Fault::ForwardThenClose, 1),
        (Fault::ForwardThen502, 1),
    ];
    for (fault, recorded) in cases {
        let g = gate_steady(
            &s,
            Plan::clean(),
            Plan::always("PutApprovalResult", fault.clone()),
            &["--timeout", "20s", "--approve", APPROVE],
        );
        let line = g.error_line();
        assert_eq!(
            g.code, 4,
            "{fault:?}: a failed answer is a runtime error, never a pass:\n{}",
            g.stderr
        );
        assert_eq!(
            g.aws.seen("PutApprovalResult"),
            1,
            "{fault:?}: sent exactly once, never retried"
        );
        assert_eq!(g.aws.forwarded("PutApprovalResult"), recorded, "{fault:?}");
        let approvals = g.scen.state.lock().unwrap().approvals.clone();
        assert_eq!(approvals.len(), recorded, "{fault:?}: {approvals:?}");
        assert!(
            line.contains("PutApprovalResult") && line.contains("not retried"),
            "{fault:?}: {line}"
        );
    }
}

/// One fault that never stops, on one operation.
struct Persistent {
    op: &'static str,
    fault: Fault,
    /// ECR (moto) or the Inspector2/CodePipeline scenario server.
    on_ecr: bool,
    extra: &'static [&'static str],
    /// The exit code, and what the error (or warning) line must name.
    want: i32,
    needle: &'static str,
}

/// Long enough that a loaded machine still reaches the faulted call before the deadline
/// (resolution and the coverage read go through moto first).
const FAULT_TIMEOUT: &str = "8s";

#[test]
fn faults_outlasting_the_timeout_exit_with_their_code_naming_the_last_error() {
    let s = steady();
    let t3: &[&str] = &["--timeout", FAULT_TIMEOUT, "--approve", APPROVE];
    let pass: &[&str] = &["--timeout", FAULT_TIMEOUT, "--on-timeout", "pass"];
    let pass_approve: &[&str] = &[
        "--timeout",
        FAULT_TIMEOUT,
        "--on-timeout",
        "pass",
        "--approve",
        APPROVE,
    ];
    let throttle = Fault::Throttle {
        retry_after: Some(1),
    };
    let cases = [
        Persistent {
            op: "ListCoverage",
            fault: throttle.clone(),
            on_ecr: false,
            extra: t3,
            want: 3,
            needle: "ThrottlingException",
        },
        Persistent {
            op: "ListCoverage",
            fault: Fault::Reset,
            on_ecr: false,
            extra: t3,
            want: 3,
            needle: "Connection reset",
        },
        Persistent {
            op: "ListCoverage",
            fault: Fault::Close,
            on_ecr: false,
            extra: t3,
            want: 3,
            needle: "connection closed",
        },
        Persistent {
            op: "ListCoverage",
            // Longer than the timeout and the ceiling below, shorter than the SDK's 60 s
            // attempt timeout: only the gate's own deadline can end it in time.
            fault: Fault::Stall(std::time::Duration::from_secs(50)),
            on_ecr: false,
            extra: t3,
            want: 3,
            needle: "timed out after 8s",
        },
        Persistent {
            op: "ListFindings",
            fault: Fault::Internal500,
            on_ecr: false,
            extra: t3,
            want: 3,
            needle: "InternalFailure",
        },
        // GetRegistryScanningConfiguration is only called when an image has no coverage row
        // (a covered image never pays for it), so the steady scenario never reaches it.
        Persistent {
            op: "GetPipelineState",
            fault: Fault::Unavailable503,
            on_ecr: false,
            extra: t3,
            want: 4,
            needle: "HTTP 503",
        },
        // --on-timeout pass accepts only a scan seen unfinished, never a status, a findings
        // read or an approval that could not be done, and never a run that evaluated nothing.
        Persistent {
            op: "ListCoverage",
            fault: throttle.clone(),
            on_ecr: false,
            extra: pass,
            want: 3,
            needle: "ThrottlingException",
        },
        Persistent {
            op: "ListFindings",
            fault: throttle.clone(),
            on_ecr: false,
            extra: pass,
            want: 3,
            needle: "ThrottlingException",
        },
        Persistent {
            op: "GetPipelineState",
            fault: Fault::Close,
            on_ecr: false,
            extra: pass_approve,
            want: 4,
            needle: "connection closed",
        },
    ];
    let results: Mutex<Vec<(usize, Gated)>> = Mutex::default();
    let queue = Mutex::new(cases.iter().enumerate());
    std::thread::scope(|sc| {
        for _ in 0..PARALLEL {
            sc.spawn(|| loop {
                let Some((i, c)) = queue.lock().unwrap().next() else {
                    break;
                };
                let plan = Plan::always(c.op, c.fault.clone());
                let (ecr_plan, aws_plan) = if c.on_ecr {
                    (plan, Plan::clean())
                } else {
                    (Plan::clean(), plan)
                };
                let g = gate_steady(&s, ecr_plan, aws_plan, c.extra);
                results.lock().unwrap().push((i, g));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    for (i, g) in &results {
        let c = &cases[*i];
        let what = format!("{} {:?} {:?}", c.op, c.fault, c.extra);
        let faulted = if c.on_ecr {
            g.ecr.record()
        } else {
            g.aws.record()
        };
        assert!(
            faulted.faults.values().sum::<usize>() >= 1,
            "{what}: the fault was never injected"
        );
        assert_eq!(
            g.code, c.want,
            "{what}: exit {} (want {}):\n{}",
            g.code, c.want, g.stderr
        );
        let line = if g.code == 0 {
            g.stderr
                .lines()
                .rfind(|l| l.contains("warning:"))
                .unwrap_or("")
                .to_string()
        } else {
            g.error_line()
        };
        assert!(
            line.contains(c.needle),
            "{what}: the line must name the last error ({}): {line}",
            c.needle
        );
        // The deadline holds even while a call is stalled or backing off: a generous ceiling
        // over the 8 s timeout (a loaded machine), still well under the SDK's 60 s attempt
        // timeout a stalled call would otherwise wait out.
        assert!(g.secs < 40.0, "{what}: took {:.1}s", g.secs);
        assert!(
            g.scen.state.lock().unwrap().approvals.is_empty(),
            "{what}: approved on an error path"
        );
        eprintln!("{what}: exit {} in {:.1}s: {line}", g.code, g.secs);
    }
}

#[test]
fn a_registry_that_keeps_failing_ends_in_exit_4_and_tags_nothing() {
    let p = peers();
    let cases = [
        ("BlobUpload", Fault::Cut, "uploading blob"),
        ("PutManifest", Fault::Unavailable503, "HTTP 503"),
    ];
    // Both cases at once: each waits out the push's own retries.
    std::thread::scope(|sc| {
        for (i, (op, fault, needle)) in cases.into_iter().enumerate() {
            let p = &p;
            sc.spawn(move || {
                let tmp = tempfile::tempdir().unwrap();
                let src = fixtures::single_arch(
                    &tmp.path().join("oci"),
                    "v1",
                    700 + i as u64,
                    &[100_000, 2_000],
                );
                let scen = Scenario::start(ScenarioState::default());
                let regp = FaultProxy::start(&p.reg.url(), Plan::always(op, fault.clone()));
                let tag = format!("broken-{i}");
                let push_from = format!("oci:{}:v1", src.dir.display());
                let image = format!("{REPO}:{tag}");
                let args = [
                    "gate",
                    "--push-from",
                    &push_from,
                    "--image",
                    &image,
                    "--registry-url",
                    &regp.url,
                    "--timeout",
                    "30s",
                ];
                let t = Instant::now();
                let (code, _out, err) =
                    text(&a::run(&p.moto.url, &scen.url, &args, &[], tmp.path()));
                let line = err.lines().rfind(|l| l.starts_with("error:")).unwrap_or("");
                assert_eq!(code, 4, "{op} {fault:?}:\n{err}");
                assert!(
                    line.contains(needle) && line.contains("pushing to"),
                    "{op} {fault:?}: {line}"
                );
                assert!(regp.seen(op) > 1, "{op}: retried before giving up");
                assert_eq!(
                    scen.calls("ListCoverage"),
                    0,
                    "{op}: nothing is gated after a failed push"
                );
                let raw = reg::skopeo(&[
                    "inspect",
                    "--raw",
                    "--tls-verify=false",
                    "--creds",
                    &p.reg.login(),
                    &format!("docker://{}/{REPO}:{tag}", p.reg.host()),
                ]);
                assert!(!raw.status.success(), "{op}: a failed push left tag {tag}");
                eprintln!(
                    "{op} {fault:?}: exit {code} after {} tries in {:.1}s: {line}",
                    regp.seen(op),
                    t.elapsed().as_secs_f64()
                );
            });
        }
    });
}

/// `--push-from` and `--image` share the runnable-child rule: an index that holds only an
/// attestation is inconclusive as soon as it is pushed, never a wait for a scan Inspector
/// will not make.
#[test]
fn a_pushed_index_with_nothing_runnable_is_inconclusive_at_once() {
    let p = peers();
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures::multi_arch(&tmp.path().join("oci"), "v1");
    let mut index: Value = serde_json::from_slice(&src.bytes).unwrap();
    let attestation = index["manifests"][2].clone();
    index["manifests"] = serde_json::json!([attestation]);
    let bytes = serde_json::to_vec_pretty(&index).unwrap();
    let (digest, size) = fixtures::write_blob(&src.dir, &bytes);
    fixtures::write_layout_files(&src.dir, "att-only", fixtures::OCI_INDEX, &digest, size);
    let scen = Scenario::start(ScenarioState::default());
    let push_from = format!("oci:{}:att-only", src.dir.display());
    let image = format!("{REPO}:att-only");
    let args = [
        "gate",
        "--push-from",
        &push_from,
        "--image",
        &image,
        "--registry-url",
        &p.reg.url(),
        "--timeout",
        "60s",
    ];
    let (code, _out, err) = text(&a::run(&p.moto.url, &scen.url, &args, &[], tmp.path()));
    assert_eq!(code, 3, "{err}");
    let line = err.lines().rfind(|l| l.starts_with("error:")).unwrap_or("");
    assert!(line.contains("no runnable image"), "{line}");
    assert_eq!(scen.calls("ListCoverage"), 0, "nothing to wait for");
}

/// Expired credentials are not a transient fault: the first refusal ends the run with exit 4
/// and says how to refresh them, on ECR and Inspector alike; nothing is retried or approved.
#[test]
fn expired_credentials_end_the_run_at_once_saying_how_to_refresh_them() {
    let s = steady();
    for (op, on_ecr) in [("BatchGetImage", true), ("ListCoverage", false)] {
        let plan = Plan::always(op, Fault::ExpiredToken);
        let (ecr_plan, aws_plan) = if on_ecr {
            (plan, Plan::clean())
        } else {
            (Plan::clean(), plan)
        };
        let g = gate_steady(
            &s,
            ecr_plan,
            aws_plan,
            &["--timeout", "60s", "--approve", APPROVE],
        );
        let line = g.error_line();
        assert_eq!(g.code, 4, "{op}: {}", g.stderr);
        assert!(
            line.contains("refused the credentials") && line.contains("refresh them"),
            "{op}: {line}"
        );
        let seen = if on_ecr {
            g.ecr.seen(op)
        } else {
            g.aws.seen(op)
        };
        assert_eq!(seen, 1, "{op}: an expired token is not retried");
        assert!(
            g.scen.state.lock().unwrap().approvals.is_empty(),
            "{op}: approved on an error path"
        );
    }
}
