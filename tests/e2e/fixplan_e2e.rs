//! End-to-end: the fix plan as a user sees it. The real binary gates an image whose findings
//! come from the scripted Inspector2 server in Inspector's wire format (Debian packages with
//! their release and epoch apart, as Inspector writes them), and evaluates saved
//! `aws inspector2 list-findings` output offline; the table, report.json, SARIF, JUnit and the
//! Markdown summary say which upgrades make the image pass, or that none does.

use crate::support;

use serde_json::{json, Value};
use support::aws::{self as a, text};
use support::scenario::{finding, Read};
use support::world::{done_long_ago, script, World, REPO};

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
    let w = World::new();
    let d = w.put_image("v1", "fixplan");
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(findings(&d))]),
    );
    let dir = &w.dir;
    let (code, out, err) = w.gate_env(
        &[
            "--image",
            "app/web:v1",
            "--fail-on",
            "HIGH",
            "--report-dir",
            "r",
            "--timeout",
            "60s",
            "--color",
            "never",
        ],
        // A wide terminal: whole rows, the plan unwrapped (80 columns is the table tests').
        &[("COLUMNS", "200")],
    );
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
        // A wide terminal: whole rows, the plan unwrapped (80 columns is the table tests').
        &[("COLUMNS", "200")],
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

/// The table as a terminal shows it: `script` gives the binary a real pty, `stty` makes it
/// 80 columns wide (COLUMNS unset: the width comes from the terminal). Every line fits, the
/// severity cells are coloured; through a pipe, or with NO_COLOR, not a colour code.
#[test]
fn on_an_80_column_terminal_the_table_fits_and_only_there_is_coloured() {
    let d = format!("sha256:{}", "ab".repeat(32));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("findings.json");
    std::fs::write(&file, list_findings(findings(&d))).unwrap();
    let file_arg = file.display().to_string();
    let sgr = regex_lite::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    let on_tty = |no_color: bool| {
        let inner = format!(
            "stty cols 80 rows 60; exec '{}' evaluate --findings '{file_arg}' --fail-on HIGH 2>err.txt",
            a::bin()
        );
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-q", "-e", "-c", &inner, "/dev/null"])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("TERM", "xterm")
            .stdin(std::process::Stdio::null());
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let (code, out, _) = text(&a::run_bounded(cmd, std::time::Duration::from_secs(60)));
        let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap_or_default();
        assert_eq!(code, 1, "{out}\n{err}");
        out.replace('\r', "")
    };
    let fits = |out: &str| {
        let plain = sgr.replace_all(out, "");
        for l in plain.lines() {
            let w = unicode_width::UnicodeWidthStr::width(l);
            assert!(w <= 80, "{w} columns: {l:?}\n{plain}");
        }
        assert!(plain.contains("CVE-2024-0009"), "{plain}");
        plain.to_string()
    };

    let coloured = on_tty(false);
    let plain = fits(&coloured);
    let row = coloured
        .lines()
        .find(|l| l.contains("CVE-2024-0001"))
        .unwrap();
    assert!(row.contains("\x1b[1;31mCRITICAL\x1b[0m"), "{row:?}");
    assert!(
        coloured
            .lines()
            .any(|l| l.contains("CVE-2024-0009") && l.contains("\x1b[36mLOW\x1b[0m")),
        "{coloured:?}"
    );
    // The whole upgrade targets are in the plan, wrapped to the width, never cut.
    assert!(
        plain.contains("upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2"),
        "{plain}"
    );

    let no_color = on_tty(true);
    assert!(!no_color.contains('\x1b'), "NO_COLOR: {no_color:?}");
    assert_eq!(fits(&no_color), plain);

    // Through a pipe: 80 columns and no colour, the same table.
    let (code, piped, err) = text(&a::offline(
        &["evaluate", "--findings", &file_arg, "--fail-on", "HIGH"],
        &[],
        dir.path(),
    ));
    assert_eq!(code, 1, "{piped}\n{err}");
    assert!(!piped.contains('\x1b'), "{piped:?}");
    assert_eq!(fits(&piped), plain);
    // COLUMNS widens it: the rows whole.
    let (_, wide, _) = text(&a::offline(
        &["evaluate", "--findings", &file_arg, "--fail-on", "HIGH"],
        &[("COLUMNS", "200")],
        dir.path(),
    ));
    assert!(wide.lines().any(|l| l.len() > 80), "{wide}");
    assert!(
        wide.lines()
            .any(|l| l.contains("CVE-2024-0005") && l.contains("1:1.2.13.dfsg-1")),
        "{wide}"
    );
}
