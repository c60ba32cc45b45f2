//! End-to-end: the fix plan as a user sees it. The real binary gates an image whose findings
//! come from the scripted Inspector2 server in Inspector's wire format (Debian packages with
//! their release and epoch apart, as Inspector writes them), and evaluates saved
//! `aws inspector2 list-findings` output offline; the table, report.json, SARIF, JUnit and the
//! Markdown summary say which upgrades make the image pass, or that none does.

use crate::support;

use serde_json::{json, Value};
use std::collections::VecDeque;
use support::aws::{self as a, text};
use support::moto::Moto;
use support::scenario::{finding, Cov, DigestScript, Read, Scenario, ScenarioState};

const REPO: &str = "app/web";

/// An OS finding as Inspector writes it for Debian: `version` without the revision, which is
/// in `release`; `epoch` 0; the fixed version whole, with `0:`.
#[allow(clippy::too_many_arguments)]
fn deb(
    id: &str,
    sev: &str,
    pkg: &str,
    version: &str,
    release: &str,
    epoch: i64,
    fixed: Option<&str>,
    d: &str,
) -> Value {
    let mut f = finding(id, sev, pkg, version, fixed, d, REPO);
    let vp = &mut f["packageVulnerabilityDetails"]["vulnerablePackages"][0];
    vp["release"] = json!(release);
    vp["epoch"] = json!(epoch);
    vp["arch"] = json!("amd64");
    f
}

/// The demo's failing image: openssl three times with two fix versions, libc6 with its
/// Debian revision, an exploited one with a high EPSS score, and a LOW pip package.
fn findings(d: &str) -> Vec<Value> {
    let mut exploited = deb(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.11",
        "1~deb12u2",
        0,
        Some("0:3.0.13-1~deb12u1"),
        d,
    );
    exploited["exploitAvailable"] = json!("YES");
    exploited["epss"] = json!({ "score": 0.9731 });
    let mut pip = finding(
        "CVE-2024-0009",
        "LOW",
        "requests",
        "2.31.0",
        Some("2.32.0"),
        d,
        REPO,
    );
    let vp = &mut pip["packageVulnerabilityDetails"]["vulnerablePackages"][0];
    vp["packageManager"] = json!("PYTHONPKG");
    vp["filePath"] = json!("usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA");
    vec![
        exploited,
        deb(
            "CVE-2024-0002",
            "HIGH",
            "openssl",
            "3.0.11",
            "1~deb12u2",
            0,
            Some("0:3.0.14-1~deb12u2"),
            d,
        ),
        deb(
            "CVE-2024-0003",
            "MEDIUM",
            "openssl",
            "3.0.11",
            "1~deb12u2",
            0,
            Some("0:3.0.13-1~deb12u1"),
            d,
        ),
        deb(
            "CVE-2024-0004",
            "HIGH",
            "libc6",
            "2.36",
            "9+deb12u3",
            0,
            Some("0:2.36-9+deb12u7"),
            d,
        ),
        deb(
            "CVE-2024-0005",
            "MEDIUM",
            "zlib1g",
            "1.2.13.dfsg",
            "1",
            1,
            Some("1:1.2.13.dfsg-2"),
            d,
        ),
        pip,
    ]
}

#[test]
fn a_failing_gate_names_the_fewest_upgrades_that_pass_in_every_report() {
    let moto = Moto::start();
    a::create_repo(&moto.url, REPO);
    a::enhanced_scanning(&moto.url, "app/*");
    let d = a::put_image(&moto.url, REPO, Some("v1"), "fixplan");
    let now = crate::support::findings::now();
    let script = DigestScript {
        coverage: VecDeque::from(vec![Cov::Row {
            code: "ACTIVE",
            reason: "SUCCESSFUL",
            last_scanned_at: Some(now - 86_400),
        }]),
        reads: VecDeque::from(vec![Read::Findings(findings(&d))]),
    };
    let scen = Scenario::start(ScenarioState {
        images: [(d.clone(), script)].into_iter().collect(),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = text(&a::run(
        &moto.url,
        &scen.url,
        &[
            "gate",
            "--image",
            "app/web:v1",
            "--fail-on",
            "HIGH",
            "--report-dir",
            "r",
            "--timeout",
            "60s",
            "--poll-interval",
            "50ms",
            "--settle",
            "200ms",
            "--color",
            "never",
        ],
        &[],
        dir.path(),
    ));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");

    // The table: the plan after the counts, then whole versions, types, EPSS and exploits.
    let block: Vec<&str> = out
        .lines()
        .skip_while(|l| l.trim() != "To pass:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        block,
        [
            "upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2 (fixes 1 CRITICAL, 1 HIGH, 1 MEDIUM)",
            "upgrade libc6 2.36-9+deb12u3 → 2.36-9+deb12u7 (fixes 1 HIGH)",
        ],
        "{out}"
    );
    assert!(
        out.find("To pass:") < out.find("CVE-2024-0001"),
        "the plan comes before the rows: {out}"
    );
    let row = |id: &str| {
        out.lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} in {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("CVE-2024-0001"),
        [
            "!",
            "CVE-2024-0001",
            "CRITICAL",
            "97.3%",
            "yes",
            "deb",
            "openssl",
            "3.0.11-1~deb12u2",
            "→",
            "3.0.13-1~deb12u1"
        ]
    );
    let tail = |id: &str| {
        let r = row(id);
        r[r.len() - 5..].join(" ")
    };
    assert_eq!(
        tail("CVE-2024-0004"),
        "deb libc6 2.36-9+deb12u3 → 2.36-9+deb12u7"
    );
    // Not counted (MEDIUM is not limited) but listed: a Debian epoch kept.
    assert_eq!(
        tail("CVE-2024-0005"),
        "deb zlib1g 1:1.2.13.dfsg-1 → 1:1.2.13.dfsg-2"
    );
    assert_eq!(tail("CVE-2024-0009"), "pypi requests 2.31.0 → 2.32.0");
    assert!(!out.contains("→ 0:"), "no 0: epochs shown: {out}");

    // report.json: the plan per image, the release and epoch kept.
    let r = dir.path().join("r");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("report.json")).unwrap()).unwrap();
    let plan = &report["images"][0]["fixPlan"];
    assert_eq!(plan["passesAfter"], true);
    assert_eq!(plan["exact"], true);
    assert_eq!(plan["unfixable"], json!([]));
    assert_eq!(
        plan["steps"][0],
        json!({
            "package": "openssl",
            "type": "deb",
            "installed": "3.0.11-1~deb12u2",
            "upgradeTo": "3.0.14-1~deb12u2",
            "fixes": { "CRITICAL": 1, "HIGH": 1, "MEDIUM": 1 }
        })
    );
    assert_eq!(plan["steps"].as_array().unwrap().len(), 2);
    let libc = report["images"][0]["evaluation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2024-0004")
        .unwrap()
        .clone();
    assert_eq!(libc["packages"][0]["release"], "9+deb12u3");
    assert!(
        libc["packages"][0].get("epoch").is_none(),
        "epoch 0 is none"
    );

    // SARIF: the upgrade as a fix of the result.
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("report.sarif")).unwrap()).unwrap();
    let res = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ruleId"] == "CVE-2024-0003")
        .unwrap()
        .clone();
    assert_eq!(
        res["fixes"][0]["description"]["text"],
        "Upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2 and rebuild the image."
    );
    // JUnit and Markdown say it too.
    let junit = std::fs::read_to_string(r.join("junit.xml")).unwrap();
    assert!(
        junit.contains("to pass:\n  upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2"),
        "{junit}"
    );
    let md = std::fs::read_to_string(r.join("summary.md")).unwrap();
    assert!(
        md.contains("#### To pass\n\n- upgrade libc6 2.36-9+deb12u3 → 2.36-9+deb12u7")
            || md.contains("- upgrade libc6 2.36-9+deb12u3 → 2.36-9+deb12u7"),
        "{md}"
    );
    assert!(
        md.contains("| 97.3% | ⚠️ yes | deb | openssl | 3.0.11-1\\~deb12u2 |"),
        "{md}"
    );
}

/// `aws inspector2 list-findings` output, saved and evaluated offline.
fn list_findings(findings: Vec<Value>) -> String {
    json!({ "findings": findings }).to_string()
}

#[test]
fn evaluating_saved_findings_says_when_no_upgrade_passes_and_what_else_is_needed() {
    let d = format!("sha256:{}", "ab".repeat(32));
    let mut fs = findings(&d);
    // A CRITICAL in libc6 that Debian has not fixed yet.
    fs.push(deb(
        "CVE-2024-0666",
        "CRITICAL",
        "libc6",
        "2.36",
        "9+deb12u3",
        0,
        None,
        &d,
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("findings.json");
    std::fs::write(&file, list_findings(fs)).unwrap();
    let file_arg = file.display().to_string();
    let out = a::offline(
        &[
            "evaluate",
            "--findings",
            &file_arg,
            "--fail-on",
            "HIGH",
            "--color",
            "never",
            "--format",
            "json",
        ],
        &[],
        dir.path(),
    );
    let (code, stdout, err) = text(&out);
    assert_eq!(code, 1, "{stdout}\n{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let plan = &report["images"][0]["fixPlan"];
    assert_eq!(plan["passesAfter"], false, "{plan}");
    assert_eq!(plan["unfixable"], json!(["CVE-2024-0666"]));
    // Once it is ignored, the same two upgrades are still needed.
    let names: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["package"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["openssl", "libc6"]);

    let table = a::offline(
        &[
            "evaluate",
            "--findings",
            &file_arg,
            "--fail-on",
            "HIGH",
            "--color",
            "never",
        ],
        &[],
        dir.path(),
    );
    let (_, table, _) = text(&table);
    assert!(
        table.contains(
            "no upgrade makes it pass: no fix is known for CVE-2024-0666; ignore it with a reason and an expiry, or wait for a fix"
        ) && table.contains("once it is ignored: upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2"),
        "{table}"
    );

    // Doing what the plan says (the finding ignored with a reason and an expiry, the two
    // packages upgraded: their findings gone) passes.
    let after: Vec<Value> = findings(&d)
        .into_iter()
        .filter(|f| {
            let p = &f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"];
            p != "openssl" && p != "libc6"
        })
        .chain([deb(
            "CVE-2024-0666",
            "CRITICAL",
            "libc6",
            "2.36",
            "9+deb12u7",
            0,
            None,
            &d,
        )])
        .collect();
    std::fs::write(&file, list_findings(after)).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "fail-on = \"HIGH\"\n\n[[ignore]]\nid = \"CVE-2024-0666\"\nreason = \"no fix in Debian yet; not reachable\"\nexpires = 2099-01-01\n",
    )
    .unwrap();
    let policy_arg = policy.display().to_string();
    let out = a::offline(
        &["evaluate", "--findings", &file_arg, "--policy", &policy_arg],
        &[],
        dir.path(),
    );
    let (code, stdout, err) = text(&out);
    assert_eq!(code, 0, "{stdout}\n{err}");
}
