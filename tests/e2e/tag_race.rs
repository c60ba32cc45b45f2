//! A tag that moves while the gate waits changes nothing: the real binary resolves the tag to
//! a digest once, waits for and evaluates exactly that digest, and hands off that digest —
//! never whatever the tag points at by the time the scan is done (moto for ECR, the scripted
//! Inspector2 server for the scan).

use crate::support;

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use support::aws as a;
use support::scenario::{Cov, DigestScript, Read};
use support::world::{self, World, REPO};

#[test]
fn a_tag_moved_during_the_wait_is_not_followed() {
    let w = World::new();
    let (moto, scen) = (&w.moto, &w.scen);
    let first = w.put_image("v1", "first");
    let pending = Cov::Row {
        code: "ACTIVE",
        reason: "SCAN_IN_PROGRESS",
        last_scanned_at: None,
    };
    let done = world::done_now();
    // The scan of the first digest stays pending until this test has moved the tag; only
    // then does it finish (clean). So the gate is provably still waiting when the tag moves.
    let clean = DigestScript {
        coverage: VecDeque::from(vec![pending]),
        reads: VecDeque::from(vec![Read::Findings(vec![])]),
    };
    w.script(&first, clean);

    let (moto_url, scen_url, cwd) = (moto.url.clone(), scen.url.clone(), w.path().to_path_buf());
    let gate = std::thread::spawn(move || {
        let args = [
            "--image",
            "app/web:v1",
            "--fail-on",
            "CRITICAL",
            "--timeout",
            "60s",
            "--report-dir",
            "r",
            "--image-definitions",
            "defs.json",
            "--container-name",
            "web",
        ];
        world::gate_at(&moto_url, &scen_url, &args, &[], &cwd)
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
    let crit = world::crit(&moved);
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
    let report = w.json("r/report.json");
    assert_eq!(report["images"][0]["image"]["digest"], first.as_str());
    let defs = w.json("defs.json");
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
