//! A tag that moves while the gate waits changes nothing: the real binary resolves the tag to
//! a digest once, waits for and evaluates exactly that digest, and hands off that digest —
//! never whatever the tag points at by the time the scan is done (moto for ECR, the scripted
//! Inspector2 server for the scan).

use crate::support;

use serde_json::Value;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use support::aws::{self as a, text};
use support::moto::Moto;
use support::scenario::{finding, Cov, DigestScript, Read, Scenario, ScenarioState};

const REPO: &str = "app/web";

#[test]
fn a_tag_moved_during_the_wait_is_not_followed() {
    let moto = Moto::start();
    a::create_repo(&moto.url, REPO);
    a::enhanced_scanning(&moto.url, "app/*");
    let first = a::put_image(&moto.url, REPO, Some("v1"), "first");
    let now = crate::support::findings::now();
    let pending = Cov::Row {
        code: "ACTIVE",
        reason: "SCAN_IN_PROGRESS",
        last_scanned_at: None,
    };
    let done = Cov::Row {
        code: "ACTIVE",
        reason: "SUCCESSFUL",
        last_scanned_at: Some(now),
    };
    // The scan of the first digest stays pending until this test has moved the tag; only
    // then does it finish (clean). So the gate is provably still waiting when the tag moves.
    let clean = DigestScript {
        coverage: VecDeque::from(vec![pending]),
        reads: VecDeque::from(vec![Read::Findings(vec![])]),
    };
    let scen = Scenario::start(ScenarioState {
        images: [(first.clone(), clean)].into_iter().collect(),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();

    let (moto_url, scen_url, cwd) = (moto.url.clone(), scen.url.clone(), dir.path().to_path_buf());
    let gate = std::thread::spawn(move || {
        let args = [
            "gate",
            "--image",
            "app/web:v1",
            "--fail-on",
            "CRITICAL",
            "--poll-interval",
            "50ms",
            "--settle",
            "100ms",
            "--timeout",
            "60s",
            "--report-dir",
            "r",
            "--image-definitions",
            "defs.json",
            "--container-name",
            "web",
        ];
        text(&a::run(&moto_url, &scen_url, &args, &[], &cwd))
    });

    // As soon as the gate waits on the first digest, push another image over the tag; its scan
    // is done at once and has a CRITICAL, so following the tag would fail the gate.
    let t = Instant::now();
    while scen.calls("ListCoverage") == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the gate never started waiting"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let moved = a::put_image(&moto.url, REPO, Some("v1"), "moved");
    let crit = finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        &moved,
        REPO,
    );
    scen.state.lock().unwrap().images.insert(
        moved.clone(),
        DigestScript {
            coverage: VecDeque::from(vec![done.clone()]),
            reads: VecDeque::from(vec![Read::Findings(vec![crit])]),
        },
    );
    let now_at = a::ecr(
        &moto.url,
        "BatchGetImage",
        serde_json::json!({ "repositoryName": REPO, "imageIds": [{ "imageTag": "v1" }] }),
    );
    assert_eq!(
        now_at["images"][0]["imageId"]["imageDigest"],
        moved.as_str(),
        "moto moved the tag"
    );
    let moved_at = Instant::now();
    assert!(
        !gate.is_finished(),
        "the gate ended before the tag moved: the race was not run"
    );
    // Let the first digest's scan finish, then see the gate wait on it past the move.
    scen.state
        .lock()
        .unwrap()
        .images
        .get_mut(&first)
        .unwrap()
        .coverage = VecDeque::from(vec![done]);

    let (code, out, err) = gate.join().unwrap();
    assert_eq!(
        code, 0,
        "judged the digest the tag had when resolved:\n{out}\n{err}"
    );
    // Only the first digest is gated: every coverage listing is a poll of it.
    let polls = scen.calls_at("ListCoverage");
    assert!(
        polls.iter().any(|t| *t < moved_at) && polls.iter().any(|t| *t > moved_at),
        "the gate was waiting on {first} both before and after the tag moved: {} polls before, {} after",
        polls.iter().filter(|t| **t < moved_at).count(),
        polls.iter().filter(|t| **t > moved_at).count()
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["images"][0]["image"]["digest"], first.as_str());
    let defs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("defs.json")).unwrap())
            .unwrap();
    assert_eq!(
        defs[0]["imageUri"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPO}@{first}")
    );
    let log = scen.state.lock().unwrap().log.clone();
    assert!(
        log.iter()
            .all(|(_, body)| !body.to_string().contains(&moved)),
        "never asked about the new digest"
    );
}
