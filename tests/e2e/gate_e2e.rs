//! End-to-end: the real `inspector-gate` binary against moto (ECR) and the scripted Inspector2
//! server, one scenario per test, as a user runs it.

use crate::support;
use support::findings::now;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::aws::{self as a, text};
use support::moto::Moto;
use support::scenario::{finding, with_status, Cov, Read, Scenario, ScenarioState};
use support::world::{crit, done_long_ago, done_now, low, scanning, script, World, FAST, REPO};

/// Whether the table heads an image `verdict` with `digest`: on its line, or (the table fits
/// 80 columns) on the next.
fn headed(out: &str, verdict: &str, digest: &str) -> bool {
    let lines: Vec<&str> = out.lines().collect();
    lines.iter().enumerate().any(|(i, l)| {
        l.starts_with(verdict)
            && (l.contains(digest)
                || lines
                    .get(i + 1)
                    .is_some_and(|n| n.trim_start().starts_with(digest)))
    })
}

/// `out` with each run of spaces one space: the table pads its columns.
fn words(out: &str) -> String {
    out.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn pending_then_done_passes_with_table_and_report() {
    let w = World::new();
    let d = w.put_image("v1", "pending");
    w.script(
        &d,
        script(
            [scanning(), vec![done_now()]].concat(),
            vec![Read::Findings(vec![low(&d)])],
        ),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "HIGH",
        "--report-dir",
        "r",
        "--timeout",
        "60s",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(headed(&out, "PASS", &d), "{out}");
    assert!(
        out.contains("CVE-2024-0002") && words(&out).contains("1.2.11 → (no fix)"),
        "{out}"
    );
    assert!(
        err.contains("PENDING_INITIAL_SCAN") && err.contains("SCAN_IN_PROGRESS"),
        "progress lines: {err}"
    );
    assert!(w.scen.calls("ListCoverage") >= 4);
    let report = w.json("r/report.json");
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["schemaVersion"], 1);
    assert_eq!(report["images"][0]["image"]["digest"], d.as_str());
    assert_eq!(
        report["images"][0]["evaluation"]["findings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for f in ["report.sarif", "junit.xml", "summary.md"] {
        assert!(w.dir.path().join("r").join(f).exists(), "{f} written");
    }
}

#[test]
fn findings_arriving_after_done_are_waited_for() {
    let w = World::new();
    let d = w.put_image("v1", "late");
    // Status says done, the first read is empty, the CRITICAL shows up one read later.
    w.script(
        &d,
        script(
            vec![done_now()],
            vec![Read::Findings(vec![]), Read::Findings(vec![crit(&d)])],
        ),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "60s",
    ]);
    assert_eq!(
        code, 1,
        "a gate that stops at the first read passes early:\n{out}\n{err}"
    );
    assert!(
        headed(&out, "FAIL", &d) && out.contains("CVE-2024-0001"),
        "{out}"
    );
    assert!(words(&out).contains("3.0.1 → 3.0.13"), "{out}");
    assert!(
        w.scen.calls("ListFindings") >= 3,
        "kept reading until two reads agreed"
    );
}

#[test]
fn an_old_scan_needs_one_read_and_no_settle_wait() {
    let w = World::new();
    let d = w.put_image("v1", "old");
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(vec![low(&d)])]),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--timeout",
        "60s",
        "--settle",
        "30s",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(w.scen.calls("ListFindings"), 1);
    assert_eq!(w.scen.calls("ListCoverage"), 1);
}

#[test]
fn two_hundred_sixty_findings_over_three_pages() {
    let w = World::start(ScenarioState {
        page_size: 100,
        ..Default::default()
    });
    let d = w.put_image("v1", "many");
    let many: Vec<Value> = (0..260)
        .map(|i| {
            finding(
                &format!("CVE-2024-{i:04}"),
                if i % 2 == 0 { "MEDIUM" } else { "LOW" },
                "pkg",
                "1",
                Some("2"),
                &d,
                REPO,
            )
        })
        .collect();
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(many)]),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--max-medium",
        "129",
        "--report-dir",
        "r",
        "--timeout",
        "60s",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "130 MEDIUM > 129:\n{err}");
    let report: Value = serde_json::from_str(&out).expect("--format json prints the report");
    assert_eq!(
        report["images"][0]["evaluation"]["findings"]
            .as_array()
            .unwrap()
            .len(),
        260
    );
    assert_eq!(report["images"][0]["evaluation"]["counted"]["MEDIUM"], 130);
    assert_eq!(
        w.scen.calls("ListFindings"),
        3,
        "three pages of 100, 100, 60"
    );
    let log = w.scen.state.lock().unwrap().log.clone();
    let first = log.iter().find(|(op, _)| op == "ListFindings").unwrap();
    let fc = &first.1["filterCriteria"];
    assert_eq!(fc["ecrImageHash"][0]["value"], d.as_str());
    assert_eq!(fc["ecrImageRepositoryName"][0]["value"], REPO);
    assert_eq!(fc["ecrImageRegistry"][0]["value"], "123456789012");
    assert_eq!(fc["findingStatus"][0]["value"], "ACTIVE");
    assert_eq!(fc["findingStatus"][1]["value"], "SUPPRESSED");
}

#[test]
fn a_critical_suppressed_in_inspector_fails_the_gate_by_default() {
    // A suppression rule such as "not in use" hides every finding of a candidate that is not
    // deployed yet: the gate still reads, lists and counts them. A CLOSED (fixed) finding is
    // not read at all.
    let w = World::new();
    let d = w.put_image("v1", "suppressed");
    let closed = finding(
        "CVE-2024-0003",
        "HIGH",
        "curl",
        "8.0",
        Some("8.1"),
        &d,
        REPO,
    );
    w.script(
        &d,
        script(
            vec![done_long_ago()],
            vec![Read::Findings(vec![
                with_status(crit(&d), "SUPPRESSED"),
                with_status(closed, "CLOSED"),
                low(&d),
            ])],
        ),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "HIGH",
        "--report-dir",
        "r",
        "--timeout",
        "30s",
    ]);
    assert_eq!(code, 1, "a suppressed CRITICAL passed:\n{out}\n{err}");
    // Marked on the line under its row.
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .windows(2)
            .any(|w| w[0].contains("CVE-2024-0001") && w[1].trim() == "(suppressed in Inspector)"),
        "{out}"
    );
    assert!(
        out.contains("1 finding(s) suppressed in Inspector: 1 counted"),
        "{out}"
    );
    assert!(
        !out.contains("CVE-2024-0003"),
        "a CLOSED finding was read: {out}"
    );
    let dir = w.dir.path().join("r");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let f = &report["images"][0]["evaluation"]["findings"][0];
    assert_eq!(
        (f["id"].as_str(), f["suppressed"].as_bool()),
        (Some("CVE-2024-0001"), Some(true))
    );
    assert_eq!(f["disposition"]["status"], "counted");
    let sarif = std::fs::read_to_string(dir.join("report.sarif")).unwrap();
    assert!(
        sarif.contains("\"inspectorStatus\": \"SUPPRESSED\""),
        "{sarif}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("suppressed in Inspector, counted"),
        "{junit}"
    );
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("violation (suppressed in Inspector)"), "{md}");

    // `findings` writes them marked, and the saved file evaluates to the same verdict.
    let o = w.run(
        &[
            "findings",
            "--image",
            "app/web:v1",
            "--timeout",
            "30s",
            "--output",
            "f.json",
        ],
        &[],
    );
    assert_eq!(o.0, 0, "{}", o.2);
    let doc: Value =
        serde_json::from_slice(&std::fs::read(w.dir.path().join("f.json")).unwrap()).unwrap();
    assert_eq!(doc["images"][0]["findings"][0]["suppressed"], true, "{doc}");
    let o = w.run(
        &["evaluate", "--findings", "f.json", "--fail-on", "HIGH"],
        &[],
    );
    assert_eq!(o.0, 1, "{}", o.2);

    // A suppressed finding that arrives after the scan is done is waited for like any other:
    // the reads settle on the set with it.
    let late = w.put_image("v2", "suppressed-late");
    w.script(
        &late,
        script(
            vec![done_now()],
            vec![
                Read::Findings(vec![]),
                Read::Findings(vec![with_status(crit(&late), "SUPPRESSED")]),
            ],
        ),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v2",
        "--fail-on",
        "HIGH",
        "--timeout",
        "60s",
    ]);
    assert_eq!(code, 1, "a late suppressed CRITICAL passed:\n{out}\n{err}");
}

#[test]
fn throttling_is_retried_honouring_retry_after() {
    let w = World::new();
    let d = w.put_image("v1", "throttle");
    w.script(
        &d,
        script(
            vec![
                Cov::Throttle {
                    retry_after: Some(1),
                },
                Cov::Throttle { retry_after: None },
                done_long_ago(),
            ],
            vec![
                Read::Throttle {
                    retry_after: Some(1),
                },
                Read::Findings(vec![low(&d)]),
            ],
        ),
    );
    let t = Instant::now();
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "two Retry-After: 1 hints honoured, took {:?}",
        t.elapsed()
    );
    assert_eq!(w.scen.calls("ListCoverage"), 3);
    assert_eq!(w.scen.calls("ListFindings"), 2);
}

#[test]
fn terminal_coverage_reasons_end_at_once() {
    let w = World::new();
    for (i, (reason, code)) in [
        ("UNSUPPORTED_OS", 3),
        ("SCAN_ELIGIBILITY_EXPIRED", 3),
        ("UNSUPPORTED_MEDIA_TYPE", 3),
        ("EXCLUDED_BY_TAG", 3),
        ("IMAGE_ARCHIVED", 3),
        ("ACCESS_DENIED", 4),
    ]
    .into_iter()
    .enumerate()
    {
        let tag = format!("t{i}");
        let d = w.put_image(&tag, reason);
        w.script(
            &d,
            script(
                vec![Cov::Row {
                    code: "INACTIVE",
                    reason,
                    last_scanned_at: None,
                }],
                vec![],
            ),
        );
        let t = Instant::now();
        let before = w.scen.calls("ListCoverage");
        let (got, out, err) = w.gate(&["--image", &format!("app/web:{tag}"), "--timeout", "60s"]);
        assert_eq!(got, code, "{reason}: {out}\n{err}");
        // Ends on the first answer: one coverage read, no second poll. (The clock is only a
        // generous ceiling under the 60 s timeout, for a loaded machine.)
        assert_eq!(
            w.scen.calls("ListCoverage") - before,
            1,
            "{reason} must end at the first answer"
        );
        assert!(
            t.elapsed() < Duration::from_secs(45),
            "{reason} must not wait out the timeout"
        );
        let line = err
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{reason}: no error line in {err}"));
        assert!(line.contains(reason), "{line}");
    }
}

#[test]
fn scanning_not_enabled_or_not_covered_is_inconclusive() {
    let w = World::new();
    a::create_repo(&w.moto.url, "other");
    let d = a::put_image(&w.moto.url, "other", Some("v1"), "uncovered");
    w.script(&d, script(vec![Cov::NoRow], vec![]));
    let (code, _out, err) = w.gate(&["--image", "other:v1", "--timeout", "60s"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("repository other matches no enhanced scanning rule")
            && err.contains("put-registry-scanning-configuration"),
        "{err}"
    );

    a::ecr(
        &w.moto.url,
        "PutRegistryScanningConfiguration",
        serde_json::json!({ "scanType": "BASIC", "rules": [] }),
    );
    let (code, _out, err) = w.gate(&["--image", "app/web:nope-but-basic", "--timeout", "60s"]);
    // The tag does not exist: resolution fails first (exit 4), before scanning is checked.
    assert_eq!(code, 4, "{err}");
    w.put_image("b1", "basic");
    let (code, _out, err) = w.gate(&["--image", "app/web:b1", "--timeout", "60s"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("BASIC scanning"), "{err}");
}

#[test]
fn inspector_not_enabled_is_inconclusive_with_the_fix() {
    let w = World::new();
    let d = w.put_image("v1", "not-enabled");
    w.script(
        &d,
        script(
            vec![Cov::Error {
                status: 403,
                kind: "AccessDeniedException",
                message: "Amazon Inspector is not enabled for account 123456789012 in us-east-1",
            }],
            vec![],
        ),
    );
    let (code, _out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "30s"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("Amazon Inspector is not enabled")
            && err.contains("aws inspector2 enable --resource-types ECR"),
        "{err}"
    );
    // Not mistaken for a missing permission: no fallback to the ECR scan status.
    assert!(!err.contains("falling back"), "{err}");
}

#[test]
fn access_denied_names_the_missing_permission() {
    let w = World::new();
    let d = w.put_image("v1", "denied");
    w.script(
        &d,
        script(
            vec![done_long_ago()],
            vec![Read::Error {
                status: 403,
                kind: "AccessDeniedException",
                message: "User: arn:aws:sts::123456789012:assumed-role/ci is not authorized to perform: inspector2:ListFindings",
            }],
        ),
    );
    let (code, _out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "60s"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("access denied calling inspector2:ListFindings")
            && err.contains("grant inspector2:ListFindings"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one error line: {err}"
    );
}

#[test]
fn timeout_fails_closed_unless_on_timeout_pass() {
    let w = World::new();
    let d = w.put_image("v1", "slow");
    w.script(
        &d,
        script(
            vec![Cov::Row {
                code: "ACTIVE",
                reason: "SCAN_IN_PROGRESS",
                last_scanned_at: None,
            }],
            vec![],
        ),
    );
    let t = Instant::now();
    let (code, _out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "2s"]);
    assert_eq!(code, 3, "{err}");
    // A generous ceiling (a loaded machine), far below the 120 s the harness allows.
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "--timeout 2s took {:?}",
        t.elapsed()
    );
    assert!(
        err.contains("timed out after 2s") && err.contains("SCAN_IN_PROGRESS"),
        "{err}"
    );
    // --on-timeout pass never turns a run that evaluated no image into a pass.
    let (code, _out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--timeout",
        "2s",
        "--on-timeout",
        "pass",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no image was evaluated"), "{err}");

    // Beside an evaluated image, --on-timeout pass passes, and every report names the image
    // it let through unevaluated.
    let ok = w.put_image("v2", "scanned");
    w.script(&ok, script(vec![done_long_ago()], vec![]));
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--image",
        "app/web:v2",
        "--timeout",
        "2s",
        "--on-timeout",
        "pass",
        "--report-dir",
        "r-pass",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The paragraph (wrapped to 80 columns) names the image.
    let para: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("NOT EVALUATED"))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        para.join(" ").contains(&format!("app/web@{}", &d[..19])),
        "{out}"
    );
    assert!(out.contains("1 not evaluated"), "{out}");
    let dir = w.dir.path().join("r-pass");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let ne = report["notEvaluated"].as_array().expect("notEvaluated");
    assert_eq!(ne.len(), 1, "{report}");
    assert!(ne[0]["reason"]
        .as_str()
        .unwrap()
        .contains("--on-timeout pass"));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("**Not evaluated:**"), "{md}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite name=\"not evaluated\" tests=\"1\""),
        "{junit}"
    );
    let sarif = std::fs::read_to_string(dir.join("report.sarif")).unwrap();
    assert!(sarif.contains("not evaluated: "), "{sarif}");
}

#[test]
fn unknown_repository_tag_and_bad_references_are_clear() {
    let w = World::new();
    let (code, _o, err) = w.gate(&["--image", "app/web:missing", "--timeout", "30s"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("image app/web:missing not found"), "{err}");
    let (code, _o, err) = w.gate(&["--image", "nope/repo:v1", "--timeout", "30s"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("repository nope/repo does not exist"), "{err}");
    let (code, _o, err) = w.gate(&["--image", "App/Web:v1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lowercase"), "{err}");
    let (code, _o, err) = w.gate(&["--image", "app/web"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing tag or digest"), "{err}");
    let (code, _o, err) = w.gate(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("no image to gate"), "{err}");
}

#[test]
fn multi_arch_index_fails_naming_the_bad_platform() {
    let w = World::new();
    let amd = a::put_image(&w.moto.url, REPO, None, "amd64");
    let arm = a::put_image(&w.moto.url, REPO, None, "arm64");
    let idx = a::put_index(
        &w.moto.url,
        REPO,
        "multi",
        &[
            (amd.clone(), "linux", "amd64"),
            (arm.clone(), "linux", "arm64"),
        ],
    );
    w.script(
        &amd,
        script(vec![done_long_ago()], vec![Read::Findings(vec![low(&amd)])]),
    );
    w.script(
        &arm,
        script(
            vec![done_long_ago()],
            vec![Read::Findings(vec![crit(&arm)])],
        ),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:multi",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "60s",
        "--report-dir",
        "r",
        "--image-definitions",
        "imagedefinitions.json",
        "--container-name",
        "web",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(headed(&out, "FAIL", &arm), "{out}");
    assert!(out.contains("platform linux/arm64"), "{out}");
    assert!(headed(&out, "PASS", &amd), "{out}");
    assert!(
        !out.contains(&a::sha256(b"attestation")),
        "attestation manifests are not gated"
    );
    // Only the platform manifests are asked about, never the index itself.
    let log = w.scen.state.lock().unwrap().log.clone();
    assert!(log.iter().all(|(_, b)| !b.to_string().contains(&idx)));
    assert!(
        !w.dir.path().join("imagedefinitions.json").exists(),
        "no hand-off on fail"
    );
    // Said, with the reports written.
    assert!(
        err.contains("imagedefinitions.json not written: the gate failed"),
        "{err}"
    );
    assert!(
        err.contains("wrote r/ (report.json, report.sarif, junit.xml, summary.md)"),
        "{err}"
    );
}

#[test]
fn hand_off_files_pin_the_digest_on_pass() {
    let w = World::new();
    let d = w.put_image("v1", "handoff");
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(vec![])]),
    );
    let (code, _o, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--timeout",
        "30s",
        "--image-definitions",
        "defs.json",
        "--container-name",
        "web",
        "--image-detail",
        "imageDetail.json",
    ]);
    assert_eq!(code, 0, "{err}");
    // Each file announced with what it pins; no report directory, no line about reports.
    let pinned = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web@{d}");
    assert!(
        err.contains(&format!("wrote defs.json: web → {pinned}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("wrote imageDetail.json: {pinned}")),
        "{err}"
    );
    assert!(!err.contains("wrote r"), "{err}");
    assert!(!err.contains("not written"), "{err}");
    let defs: Value =
        serde_json::from_str(&std::fs::read_to_string(w.dir.path().join("defs.json")).unwrap())
            .unwrap();
    assert_eq!(defs[0]["name"], "web");
    assert_eq!(
        defs[0]["imageUri"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web@{d}")
    );
    let det: Value = serde_json::from_str(
        &std::fs::read_to_string(w.dir.path().join("imageDetail.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        det["ImageURI"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web@{d}")
    );
}

#[test]
fn several_images_are_gated_concurrently() {
    let w = World::new();
    let d1 = w.put_image("a", "c1");
    let d2 = w.put_image("b", "c2");
    // Each scan stays pending for five polls. Waited concurrently, the polls of one image fall
    // between the first and the last poll of the other; waited one after the other, none do.
    for d in [&d1, &d2] {
        let pending = Cov::Row {
            code: "ACTIVE",
            reason: "SCAN_IN_PROGRESS",
            last_scanned_at: None,
        };
        let mut cov = vec![pending; 5];
        cov.push(done_long_ago());
        w.script(d, script(cov, vec![Read::Findings(vec![])]));
    }
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:a",
        "--image",
        "app/web:b",
        "--timeout",
        "60s",
        "--poll-interval",
        "300ms",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        headed(&out, "PASS", &d1) && headed(&out, "PASS", &d2),
        "{out}"
    );
    assert!(out.contains("passed (2 image(s))"), "{out}");
    // Both images are in one repository, and their waits share each coverage listing (one
    // listing lists, and advances, both): five pending polls and one done, six listings in
    // all. Waited one after the other, the first wait alone would take six and the second one
    // more; unbatched, each poll of each image would be its own listing (twelve).
    let polls = w.scen.calls("ListCoverage");
    assert_eq!(polls, 6, "{polls} coverage listings");
    for d in [&d1, &d2] {
        assert!(
            err.lines()
                .any(|l| l.contains("waiting for scan of") && l.contains(&d[..19])),
            "the wait on {d} saw its scan pending: {err}"
        );
    }
}

#[test]
fn findings_command_prints_json_without_a_verdict() {
    let w = World::new();
    let d = w.put_image("v1", "findings");
    w.script(
        &d,
        script(
            vec![done_long_ago()],
            vec![Read::Findings(vec![crit(&d), low(&d)])],
        ),
    );
    let (code, out, err) = w.run(
        &[
            "findings",
            "--image",
            "app/web:v1",
            "--timeout",
            "30s",
            "--poll-interval",
            "50ms",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["images"][0]["findings"].as_array().unwrap().len(), 2);
    assert_eq!(v["images"][0]["findings"][0]["id"], "CVE-2024-0001");
    // The saved file evaluates offline to the same verdict the gate would give.
    std::fs::write(w.dir.path().join("f.json"), &out).unwrap();
    let o = w.run(
        &["evaluate", "--findings", "f.json", "--fail-on", "CRITICAL"],
        &[],
    );
    assert_eq!(o.0, 1);
}

#[test]
fn a_coverage_row_behind_an_empty_first_page_is_found() {
    // Inspector2 list APIs may answer an empty page that still carries a nextToken: "no row on
    // page 1" is not "no row". Here every listing has one empty page before the row.
    let w = World::new();
    w.scen.state.lock().unwrap().empty_coverage_pages = 1;
    let d = w.put_image("v1", "paged-coverage");
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(vec![crit(&d)])]),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "20s",
    ]);
    assert_eq!(
        code, 1,
        "the CRITICAL behind the paged coverage row:\n{out}\n{err}"
    );
    assert!(
        headed(&out, "FAIL", &d) && out.contains("CVE-2024-0001"),
        "{out}"
    );
    let log = w.scen.state.lock().unwrap().log.clone();
    assert!(
        log.iter()
            .any(|(op, body)| op == "ListCoverage" && body.get("nextToken").is_some()),
        "followed the coverage nextToken"
    );
}

#[test]
fn findings_behind_empty_pages_are_all_read() {
    // Two empty pages (with a nextToken) before each page of 100, 100 and 60 findings.
    let w = World::start(ScenarioState {
        page_size: 100,
        ..Default::default()
    });
    w.scen.state.lock().unwrap().empty_finding_pages = 2;
    let d = w.put_image("v1", "paged-findings");
    let mut many: Vec<Value> = (0..259)
        .map(|i| {
            finding(
                &format!("CVE-2024-{i:04}"),
                "LOW",
                "pkg",
                "1",
                Some("2"),
                &d,
                REPO,
            )
        })
        .collect();
    // The one CRITICAL is on the last page, behind six empty pages and two full ones.
    many.push(crit(&d));
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(many)]),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "60s",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&out).expect("--format json prints the report");
    assert_eq!(
        report["images"][0]["evaluation"]["findings"]
            .as_array()
            .unwrap()
            .len(),
        260
    );
    assert_eq!(report["images"][0]["evaluation"]["counted"]["CRITICAL"], 1);
    assert_eq!(
        w.scen.calls("ListFindings"),
        9,
        "3 pages, each behind 2 empty ones"
    );
}

/// moto with an enhanced-scanned repository in `region`, one image scanned long ago with a
/// LOW finding, and a gate run with `AWS_REGION=env_region`; returns (digest, exit code,
/// stdout, stderr, hand-off).
fn gate_in_region(
    region: &str,
    image: &str,
    env_region: &str,
) -> (String, i32, String, String, Value) {
    let moto = Moto::start();
    a::create_repo_in(&moto.url, region, REPO);
    a::enhanced_scanning_in(&moto.url, region, "app/*");
    let d = a::put_image_in(&moto.url, region, REPO, Some("v1"), region);
    let low = support::scenario::finding_in(
        region,
        "CVE-2024-0002",
        "LOW",
        "zlib",
        "1.2.11",
        None,
        &d,
        REPO,
    );
    let scen = Scenario::start(ScenarioState {
        images: [(
            d.clone(),
            script(vec![done_long_ago()], vec![Read::Findings(vec![low])]),
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["gate"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(&[
        "--image",
        image,
        "--timeout",
        "20s",
        "--image-definitions",
        "defs.json",
        "--container-name",
        "web",
    ]);
    let (code, out, err) = text(&a::run(
        &moto.url,
        &scen.url,
        &args,
        &[
            ("AWS_REGION", env_region),
            ("AWS_DEFAULT_REGION", env_region),
        ],
        dir.path(),
    ));
    let defs = std::fs::read_to_string(dir.path().join("defs.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    (d, code, out, err, defs)
}

#[test]
fn china_partition_coverage_and_hand_off() {
    let uri = |d: &str| format!("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app/web@{d}");
    let (d, code, out, err, defs) = gate_in_region("cn-north-1", "app/web:v1", "cn-north-1");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(defs[0]["imageUri"], uri(&d));
    // The same image named by its China registry host, from a runner whose AWS_REGION is
    // elsewhere: the host decides the region and partition (moto holds the repository in
    // cn-north-1 only, so a call to us-east-1 finds nothing).
    let (d, code, out, err, defs) = gate_in_region(
        "cn-north-1",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app/web:v1",
        "us-east-1",
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(defs[0]["imageUri"], uri(&d));
}

#[test]
fn govcloud_partition_coverage_and_hand_off() {
    let (d, code, out, err, defs) = gate_in_region("us-gov-west-1", "app/web:v1", "us-gov-west-1");
    assert_eq!(code, 0, "{out}\n{err}");
    let uri = format!("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/app/web@{d}");
    assert_eq!(defs[0]["imageUri"], uri);
    let (d, code, out, err, defs) = gate_in_region(
        "us-gov-west-1",
        "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/app/web:v1",
        "eu-west-1",
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        defs[0]["imageUri"],
        format!("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/app/web@{d}")
    );
}

/// Every partition of the SDK's table, and the FIPS and dual-stack host forms: the host names
/// the region and partition (moto holds the repository only there, the scripted Inspector2
/// matches only that partition's resource ids), and the hand-off pins the host as written.
#[test]
fn every_partition_and_host_form_is_gated_and_pinned_under_its_host() {
    for (region, host) in [
        (
            "eusc-de-east-1",
            "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
        ),
        (
            "us-isof-south-1",
            "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
        ),
        (
            "us-iso-east-1",
            "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
        ),
        (
            "eu-isoe-west-1",
            "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
        ),
        (
            "us-east-1",
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        ),
        ("eu-west-1", "123456789012.dkr-ecr.eu-west-1.on.aws"),
    ] {
        let (d, code, out, err, defs) =
            gate_in_region(region, &format!("{host}/app/web:v1"), "us-west-2");
        assert_eq!(code, 0, "{host}\n{out}\n{err}");
        assert_eq!(defs[0]["imageUri"], format!("{host}/app/web@{d}"), "{err}");
    }
}

/// An index whose runnable amd64 image carries BuildKit's attestation annotation, and an OCI
/// artifact (an SBOM: its config is not an image config) without a platform.
fn put_index_with_disguised_image(w: &World, image: &str) -> (String, String) {
    let sbom = a::put_manifest(
        &w.moto.url,
        REPO,
        None,
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#,
        "application/vnd.oci.image.manifest.v1+json",
    );
    let index = serde_json::json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": 100,
              "platform": { "os": "linux", "architecture": "amd64" },
              "annotations": { "vnd.docker.reference.type": "attestation-manifest" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sbom, "size": 100,
              "artifactType": "application/spdx+json" }
        ] })
    .to_string();
    a::put_manifest(
        &w.moto.url,
        REPO,
        Some("disguised"),
        &index,
        "application/vnd.oci.image.index.v1+json",
    );
    (image.to_string(), sbom)
}

#[test]
fn an_annotation_never_skips_a_runnable_image_but_artifacts_are_skipped() {
    let w = World::new();
    let amd = a::put_image(&w.moto.url, REPO, None, "disguised-amd64");
    let (amd, sbom) = put_index_with_disguised_image(&w, &amd);
    w.script(
        &amd,
        script(
            vec![done_long_ago()],
            vec![Read::Findings(vec![crit(&amd)])],
        ),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:disguised",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "60s",
    ]);
    // The CRITICAL of the annotated (but runnable) image is gated: exit 1, not a pass.
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains(&amd) && out.contains("CVE-2024-0001"), "{out}");
    // The SBOM artifact is provably not an image: never waited for.
    assert!(
        w.scen.calls_about("ListFindings", &sbom).is_empty(),
        "the artifact was waited for"
    );
}

#[test]
fn a_critical_read_while_settling_fails_even_with_on_timeout_pass() {
    let w = World::new();
    let d = w.put_image("v1", "cut-short");
    w.script(
        &d,
        script(vec![done_now()], vec![Read::Findings(vec![crit(&d)])]),
    );
    // The settle window (60 s) outlasts the deadline (4 s): the CRITICAL was read once.
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--settle",
        "60s",
        "--timeout",
        "4s",
        "--on-timeout",
        "pass",
    ]);
    assert_eq!(
        code, 1,
        "a CRITICAL already read became a pass:\n{out}\n{err}"
    );
    assert!(out.contains("CVE-2024-0001"), "{out}");
    assert!(err.contains("while the findings"), "{err}");
}

#[test]
fn the_registry_host_decides_the_region() {
    let w = World::new();
    let (code, _out, err) = w.gate(&[
        "--image",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web:v1",
        "--region",
        "us-east-1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--region us-east-1 conflicts") && err.contains("eu-west-1"),
        "{err}"
    );
    assert_eq!(
        w.scen.calls("ListCoverage"),
        0,
        "looked up the wrong region"
    );
}

#[test]
fn findings_read_stalling_past_the_deadline_is_inconclusive_even_with_on_timeout_pass() {
    // Two images: a clean one evaluated, and one whose scan is done but whose findings read
    // stalls past --timeout. The scan finished, so its findings are an input the verdict
    // depends on: --on-timeout pass (only for scans that never finished) must not skip it.
    let w = World::new();
    let ok = w.put_image("ok", "clean");
    w.script(
        &ok,
        script(vec![done_long_ago()], vec![Read::Findings(vec![])]),
    );
    let d = w.put_image("stall", "stalling-read");
    w.script(
        &d,
        script(
            vec![done_long_ago()],
            vec![Read::Slow {
                delay: Duration::from_secs(30),
                findings: vec![crit(&d)],
            }],
        ),
    );
    let t = Instant::now();
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:ok",
        "--image",
        "app/web:stall",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "4s",
        "--on-timeout",
        "pass",
        "--report-dir",
        "r",
    ]);
    assert_eq!(
        code, 3,
        "an unread findings listing was passed by --on-timeout pass:\n{out}\n{err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(25),
        "waited out the stall"
    );
    // The clean image's findings are read in the same listing as the stalling one's (a
    // shared listing stalls for every image in it), so the run may name both: the stalling
    // image must be among them.
    let line = err
        .lines()
        .find(|l| l.contains(&d[..19]) && l.contains("was done"))
        .unwrap_or("");
    assert!(
        line.contains(&d[..19])
            && line.contains("was done")
            && line.contains("findings were not read completely")
            && line.contains("--on-timeout pass accepts only a scan that never finished"),
        "{err}"
    );
    assert!(
        !w.dir.path().join("r/report.json").exists(),
        "an inconclusive run wrote a passing report"
    );
    // The same edge with findings read once and not final is inconclusive too, whatever
    // --on-timeout says (the passing counterpart of the CRITICAL read while settling).
    let settling = w.put_image("settling", "settling");
    w.script(
        &settling,
        script(vec![done_now()], vec![Read::Findings(vec![low(&settling)])]),
    );
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:ok",
        "--image",
        "app/web:settling",
        "--settle",
        "60s",
        "--timeout",
        "4s",
        "--on-timeout",
        "pass",
    ]);
    assert_eq!(
        code, 3,
        "findings not final at the deadline passed:\n{out}\n{err}"
    );
    assert!(err.contains("were settling"), "{err}");
}

#[test]
fn soft_fail_exits_0_on_a_violation_but_reports_fail_and_hands_nothing_off() {
    let w = World::new();
    let d = w.put_image("v1", "softfail");
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(vec![crit(&d)])]),
    );
    let args = [
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "30s",
        "--report-dir",
        "r",
        "--image-definitions",
        "defs.json",
        "--container-name",
        "web",
        "--soft-fail",
    ];
    let (code, out, err) = w.gate(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("would have failed"), "{err}");
    let report = w.json("r/report.json");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["softFail"], true);
    let md = std::fs::read_to_string(w.dir.path().join("r/summary.md")).unwrap();
    assert!(md.contains("Soft-fail"), "{md}");
    assert!(
        !w.dir.path().join("defs.json").exists(),
        "a failing verdict is never handed off, soft-fail or not"
    );

    // The CI owner's floor can forbid it: a usage error before any AWS call.
    std::fs::write(w.dir.path().join("floor.toml"), "allow-soft-fail = false\n").unwrap();
    let mut forbidden = args.to_vec();
    forbidden.extend(["--policy-floor", "floor.toml"]);
    let (code, _out, err) = w.gate(&forbidden);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("forbidden by the policy floor"), "{err}");
}

#[test]
fn soft_fail_keeps_an_inconclusive_run_inconclusive() {
    let w = World::new();
    let d = w.put_image("v1", "softfail-pending");
    let pending = Cov::Row {
        code: "ACTIVE",
        reason: "SCAN_IN_PROGRESS",
        last_scanned_at: None,
    };
    w.script(&d, script(vec![pending], vec![]));
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "2s", "--soft-fail"]);
    assert_eq!(code, 3, "{out}\n{err}");
}

/// Coverage is listed by repository (with the account and resource type) and the image's row
/// matched by its digest locally: a listing by the resource id this version builds is only
/// ever taken when it returns the row; one that does not is followed by the repository
/// listing in the same round.
#[test]
fn coverage_is_listed_by_repository_and_matched_by_digest() {
    let w = World::new();
    let d = w.put_image("v1", "by-repo");
    let other = w.put_image("v2", "by-repo-other");
    // No row for the by-id listing; the repository listing of the same round has it.
    w.script(
        &d,
        script(
            vec![Cov::NoRow, done_long_ago()],
            vec![Read::Findings(vec![low(&d)])],
        ),
    );
    // Another image of the repository, still scanning: listed too, and not taken for ours.
    w.script(
        &other,
        script(
            vec![Cov::Row {
                code: "ACTIVE",
                reason: "SCAN_IN_PROGRESS",
                last_scanned_at: None,
            }],
            vec![],
        ),
    );
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let bodies = w.scen.bodies("ListCoverage");
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let ours = format!("arn:aws:ecr:us-east-1:123456789012:repository/{REPO}/{d}");
    let c = &bodies[0]["filterCriteria"];
    assert_eq!(c["resourceId"][0]["value"], ours.as_str(), "{c}");
    assert_eq!(c["resourceId"].as_array().unwrap().len(), 1, "{c}");
    let c = &bodies[1]["filterCriteria"];
    assert!(c.get("resourceId").is_none(), "{c}");
    assert_eq!(c["ecrRepositoryName"][0]["value"], REPO, "{c}");
    for c in bodies.iter().map(|b| &b["filterCriteria"]) {
        assert_eq!(c["accountId"][0]["value"], "123456789012", "{c}");
        assert_eq!(
            c["resourceType"][0]["value"], "AWS_ECR_CONTAINER_IMAGE",
            "{c}"
        );
    }
}

/// In a repository of many images the whole-repository listing costs a page per 200 of them
/// at every poll: the image's coverage is read by its resourceId (one short page). A by-id
/// read that misses the row goes to the whole repository in the same round (the row may not
/// be there yet, or be there in another form), and stays there until the row is seen again.
#[test]
fn coverage_is_read_by_resource_id_and_a_missed_row_with_its_repository() {
    let w = World::new();
    let d = a::put_image(&w.moto.url, REPO, Some("v1"), "large-repo");
    let in_progress = || Cov::Row {
        code: "ACTIVE",
        reason: "SCAN_IN_PROGRESS",
        last_scanned_at: None,
    };
    w.script(
        &d,
        script(
            vec![
                in_progress(),
                in_progress(),
                Cov::NoRow,
                Cov::NoRow,
                in_progress(),
                done_long_ago(),
            ],
            vec![Read::Findings(vec![low(&d)])],
        ),
    );
    // 30 older images of the repository, scanned long ago (more rows than 20 per image).
    for i in 0..30 {
        let other = format!("sha256:{:064x}", i + 1);
        w.scen
            .state
            .lock()
            .unwrap()
            .repos
            .insert(other.clone(), REPO.to_string());
        w.script(&other, script(vec![done_long_ago()], vec![]));
    }
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let ours = format!("arn:aws:ecr:us-east-1:123456789012:repository/{REPO}/{d}");
    let kinds: Vec<&str> = w
        .scen
        .bodies("ListCoverage")
        .iter()
        .map(|b| {
            let c = &b["filterCriteria"];
            match (c.get("resourceId"), c.get("ecrRepositoryName")) {
                (Some(ids), None) => {
                    assert_eq!(ids[0]["value"], ours.as_str(), "{b}");
                    assert_eq!(ids.as_array().unwrap().len(), 1, "{b}");
                    "id"
                }
                (None, Some(r)) => {
                    assert_eq!(r[0]["value"], REPO, "{b}");
                    "repo"
                }
                _ => panic!("neither one repository nor our id: {b}"),
            }
        })
        .collect();
    // By id (the repository's only image) twice → missed by id, the repository in the same
    // round (no row: 30 rows learnt) → the repository while the row is missing (row back) →
    // by id, 31 rows being more than 20 (done).
    assert_eq!(kinds, ["id", "id", "id", "repo", "repo", "id"], "{err}");
}

/// A coverage row that carries our digest under an id form this version does not build is an
/// error naming both forms, at the first poll — not a wait until --timeout.
#[test]
fn a_coverage_id_in_another_form_is_an_error_naming_both_forms() {
    let w = World::new();
    let d = w.put_image("v1", "other-form");
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(vec![low(&d)])]),
    );
    let theirs = format!("arn:aws-eusc:ecr:us-east-1:123456789012:repository/{REPO}/{d}");
    let ours = format!("arn:aws:ecr:us-east-1:123456789012:repository/{REPO}/{d}");
    w.scen
        .state
        .lock()
        .unwrap()
        .resource_ids
        .insert(d.clone(), theirs.clone());
    let t = Instant::now();
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "40s"]);
    assert_eq!(code, 4, "{out}\n{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains(&theirs) && line.contains(&ours), "{line}");
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "waited for the timeout"
    );
    // Decided at the first poll: its by-id listing misses the row, the repository listing of
    // the same round finds it.
    let kinds: Vec<bool> = w
        .scen
        .bodies("ListCoverage")
        .iter()
        .map(|b| b["filterCriteria"].get("resourceId").is_some())
        .collect();
    assert_eq!(
        kinds,
        [true, false],
        "one round: by id, then the repository"
    );
}

/// Scan-on-push coverage means Inspector scanned the image once: the gate says its findings
/// may be stale (and still gates them).
#[test]
fn scan_on_push_coverage_warns_that_findings_may_be_stale() {
    let w = World::new();
    let d = w.put_image("v1", "on-push");
    w.script(
        &d,
        script(
            vec![Cov::Row {
                code: "ACTIVE",
                reason: "SCAN_FREQUENCY_SCAN_ON_PUSH",
                last_scanned_at: Some(now() - 86_400),
            }],
            vec![Read::Findings(vec![crit(&d)])],
        ),
    );
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "60s"]);
    assert_eq!(code, 1, "the CRITICAL is gated: {out}\n{err}");
    let warning = err
        .lines()
        .find(|l| l.contains("scanned this image once"))
        .unwrap_or_else(|| panic!("no stale-findings warning: {err}"));
    assert!(
        warning.contains("may be stale") && warning.contains("CONTINUOUS_SCAN"),
        "{warning}"
    );
    // A continuously scanned image gets no such warning.
    let d2 = w.put_image("v2", "continuous");
    w.script(
        &d2,
        script(vec![done_long_ago()], vec![Read::Findings(vec![])]),
    );
    let (code, out, err) = w.gate(&["--image", "app/web:v2", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("may be stale"), "{err}");
}

/// An image whose coverage never appears, in a repository the caller's own scanning
/// configuration cannot vouch for (another account's registry — moto answers every image with
/// its own account id, so the repository here is one created under another registry id, which
/// the caller's `BatchGetRepositoryScanningConfiguration` does not list): the timeout says what
/// the caller needs (the organisation's Inspector delegated administrator, or a role in the
/// image's account). An image of a covered repository of our own gets no such advice.
#[test]
fn coverage_that_never_appears_for_another_registry_says_what_the_caller_needs() {
    let w = World::new();
    a::ecr(
        &w.moto.url,
        "CreateRepository",
        serde_json::json!({ "repositoryName": "shared/base", "registryId": "111122223333" }),
    );
    let d = a::put_image(&w.moto.url, "shared/base", Some("v1"), "cross-account");
    w.script(&d, script(vec![Cov::NoRow], vec![]));
    w.scen
        .state
        .lock()
        .unwrap()
        .repos
        .insert(d.clone(), "shared/base".into());
    let (code, out, err) = w.gate(&["--image", "shared/base:v1", "--timeout", "3s"]);
    assert_eq!(code, 3, "{out}\n{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains("timed out"), "{line}");
    assert!(
        line.contains("delegated administrator")
            && line.contains("--role-arn of a role in account 123456789012"),
        "{line}"
    );
    // Covered by our own enhanced scanning rule: a late row is only late.
    let own = w.put_image("v1", "own-late");
    w.script(&own, script(vec![Cov::NoRow], vec![]));
    let (code, out, err) = w.gate(&["--image", "app/web:v1", "--timeout", "3s"]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(!err.contains("delegated administrator"), "{err}");
}

/// Many images, few calls: the images of one run share their coverage listing (one per
/// repository group) and their findings listings (at most 10 digests each), and each image is
/// judged on exactly its own findings — ACTIVE and SUPPRESSED — split from the shared pages.
#[test]
fn images_share_coverage_and_findings_listings_and_each_gets_its_own_findings() {
    let w = World::start(ScenarioState {
        page_size: 7,
        ..Default::default()
    });
    a::create_repo(&w.moto.url, "app/api");
    let mut images = Vec::new();
    for i in 0..12 {
        let repo = if i % 3 == 0 { "app/api" } else { REPO };
        let tag = format!("t{i}");
        let d = a::put_image(&w.moto.url, repo, Some(&tag), &format!("many-{i}"));
        let sev = if i == 4 { "CRITICAL" } else { "LOW" };
        let own = finding(
            &format!("CVE-2024-{:04}", 1000 + i),
            sev,
            "zlib",
            "1.0",
            None,
            &d,
            repo,
        );
        let hidden = with_status(
            finding(
                &format!("CVE-2024-{:04}", 2000 + i),
                "LOW",
                "bash",
                "5.0",
                None,
                &d,
                repo,
            ),
            "SUPPRESSED",
        );
        let pending = Cov::Row {
            code: "ACTIVE",
            reason: "SCAN_IN_PROGRESS",
            last_scanned_at: None,
        };
        w.script(
            &d,
            script(
                vec![pending, done_long_ago()],
                vec![Read::Findings(vec![own, hidden])],
            ),
        );
        w.scen
            .state
            .lock()
            .unwrap()
            .repos
            .insert(d.clone(), repo.into());
        images.push((i, repo, tag, d));
    }
    let mut args = vec![
        "--fail-on",
        "CRITICAL",
        "--report-dir",
        "r",
        "--timeout",
        "60s",
    ];
    let refs: Vec<String> = images
        .iter()
        .map(|(_, repo, tag, _)| format!("{repo}:{tag}"))
        .collect();
    for r in &refs {
        args.extend(["--image", r.as_str()]);
    }
    let (code, out, err) = w.gate(&args);
    assert_eq!(code, 1, "the one CRITICAL fails the run: {out}\n{err}");
    let report = w.json("r/report.json");
    for (i, _, _, d) in &images {
        let img = report["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["image"]["digest"] == d.as_str())
            .unwrap_or_else(|| panic!("{d} not in the report"));
        let mut ids: Vec<&str> = img["evaluation"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        ids.sort();
        let own = format!("CVE-2024-{:04}", 1000 + i);
        let hidden = format!("CVE-2024-{:04}", 2000 + i);
        assert_eq!(
            ids,
            vec![own.as_str(), hidden.as_str()],
            "{d}: its own findings only"
        );
    }
    // Shared listings: the two repositories in every coverage listing, at most 10 digests per
    // findings listing (botocore's limit, checked by the model guard too), pages followed
    // (7 findings a page).
    let coverage = w.scen.bodies("ListCoverage");
    let findings = w.scen.bodies("ListFindings");
    let first_pages = |b: &[Value]| b.iter().filter(|b| b.get("nextToken").is_none()).count();
    assert!(
        first_pages(&coverage) <= 4,
        "{} coverage listings for 12 images polled twice (unbatched: 24)",
        first_pages(&coverage)
    );
    for b in &findings {
        let n = b["filterCriteria"]["ecrImageHash"]
            .as_array()
            .map_or(0, Vec::len);
        assert!((1..=10).contains(&n), "{n} digests in one listing: {b}");
    }
    assert!(
        first_pages(&findings) <= 4,
        "{} findings listings for 12 images (unbatched: 12)",
        first_pages(&findings)
    );
    assert!(
        findings.iter().any(|b| b.get("nextToken").is_some()),
        "the shared findings pages were followed"
    );
}

/// `--api-rate`: the run's Inspector calls keep to the budget (a burst of the rate, then one
/// call per 1/rate seconds), however fast the poll schedule asks; a rate that is not a
/// number from 0.2 (the lowest a run slows to) to 1000 is a usage error, never silently raised.
#[test]
fn api_rate_spaces_the_calls_of_a_run() {
    let w = World::new();
    let d = w.put_image("v1", "rated");
    let pending = Cov::Row {
        code: "ACTIVE",
        reason: "SCAN_IN_PROGRESS",
        last_scanned_at: None,
    };
    let mut cov = vec![pending; 6];
    cov.push(done_long_ago());
    w.script(&d, script(cov, vec![Read::Findings(vec![])]));
    let (code, out, err) = w.gate(&[
        "--image",
        "app/web:v1",
        "--timeout",
        "60s",
        "--api-rate",
        "1",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let at = w.scen.calls_at("ListCoverage");
    assert_eq!(at.len(), 7, "six pending polls and the done one");
    // The 50 ms poll schedule would make all seven within half a second; at 1 a second,
    // after the burst (five seconds' worth: 5 calls), the sixth waits for its token (less
    // than a second: the bucket refilled a little during the burst) and the seventh a whole
    // second after it.
    assert!(at[5] - at[4] >= Duration::from_millis(400), "{at:?}");
    assert!(at[6] - at[5] >= Duration::from_millis(900), "{at:?}");
    for bad in ["0", "0.1", "-1", "1001", "fast"] {
        let (code, _, err) = w.gate(&["--image", "app/web:v1", "--api-rate", bad]);
        assert_eq!(code, 2, "--api-rate {bad}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "one error line: {err}");
        assert!(lines[0].contains("not a rate"), "{err}");
    }
}
