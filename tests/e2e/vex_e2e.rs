//! OpenVEX in, through the real binary: `gate --vex FILE` against moto and the scripted
//! Inspector, and offline `evaluate --vex`. A `not_affected` statement for the gated digest
//! turns a failing run into a pass and every report names the statement; one for another
//! digest does nothing; the CI owner's floor decides whether a statement may apply at all,
//! whoever named the document (so the commit being gated cannot weaken the gate with one);
//! a malformed or missing document is exit 2 on one line naming it.

use crate::support;

use serde_json::{json, Value};
use support::aws::{self as a, text};
use support::scenario::{finding, Read};
use support::world::{done_long_ago, script, World, REPO};

const CVE: &str = "CVE-2026-31001";
const AUTHOR: &str = "Platform Security <security@example.com>";
const JUSTIFICATION: &str = "vulnerable_code_not_in_execute_path";

/// The shared world with one enhanced-scanned image whose scan found one HIGH in openssl.
struct Vex {
    world: World,
    digest: String,
}

impl std::ops::Deref for Vex {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl Vex {
    fn new() -> Vex {
        let world = World::new();
        let digest = world.put_image("1.0", "vex-image");
        let f = finding(
            CVE,
            "HIGH",
            "openssl",
            "3.0.1",
            Some("3.0.13"),
            &digest,
            REPO,
        );
        world.script(
            &digest,
            script(vec![done_long_ago()], vec![Read::Findings(vec![f])]),
        );
        Vex { world, digest }
    }

    fn gate(&self, extra: &[&str]) -> (i32, String, String) {
        let mut full = vec![
            "--image",
            "app/web:1.0",
            "--fail-on",
            "HIGH",
            "--report-dir",
            "r",
        ];
        full.extend_from_slice(extra);
        self.world.gate(&full)
    }

    fn write(&self, name: &str, body: &str) -> String {
        let p = self.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, body).unwrap();
        name.to_string()
    }

    fn report(&self) -> Value {
        self.json("r/report.json")
    }
}

/// The spec's example document (Spring Boot and log4shell) reworded for our image: one
/// `not_affected` statement of `author` about `CVE` in the product `pkg:oci/web@<digest>`.
fn vex_doc(digest: &str, author: &str) -> String {
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd",
        "author": author,
        "role": "Project Release Bot",
        "timestamp": "2026-11-30T19:07:16.853479631-06:00",
        "version": 1,
        "statements": [{
            "vulnerability": { "name": CVE, "aliases": ["GHSA-xxxx-yyyy-zzzz"] },
            "products": [{
                "@id": format!(
                    "pkg:oci/web@{}?repository_url=123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web",
                    digest.replace(':', "%3A")
                ),
                "subcomponents": [{ "@id": "pkg:deb/debian/openssl@3.0.1" }]
            }],
            "status": "not_affected",
            "justification": JUSTIFICATION,
            "impact_statement": "the service never negotiates TLS itself"
        }]
    })
    .to_string()
}

/// The image's one finding in report.json.
fn the_finding(report: &Value) -> &Value {
    &report["images"][0]["evaluation"]["findings"][0]
}

#[test]
fn a_not_affected_statement_for_the_gated_digest_passes_and_every_report_says_why() {
    let w = Vex::new();
    let (code, _, err) = w.gate(&[]);
    assert_eq!(code, 1, "the HIGH fails without VEX\n{err}");

    let vex = w.write("web.openvex.json", &vex_doc(&w.digest, AUTHOR));
    let (code, out, err) = w.gate(&["--vex", &vex]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report = w.report();
    assert_eq!(report["verdict"], "pass");
    let f = the_finding(&report);
    assert_eq!(f["id"], CVE);
    assert_eq!(f["disposition"]["status"], "ignored");
    let reason = f["disposition"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "OpenVEX not_affected: {JUSTIFICATION} — the service"
        )),
        "{reason}"
    );
    assert!(reason.contains(AUTHOR), "{reason}");
    // The statement is in the policy the report records.
    assert_eq!(report["policy"]["vex"][0]["justification"], JUSTIFICATION);
    assert_eq!(report["policy"]["vex"][0]["author"], AUTHOR);
    // The other reports name it too (Markdown escapes the underscores).
    for file in ["summary.md", "junit.xml", "report.sarif"] {
        let body = std::fs::read_to_string(w.dir.path().join("r").join(file)).unwrap();
        let plain = body.replace('\\', "");
        assert!(
            plain.contains(JUSTIFICATION) && plain.contains("Platform Security"),
            "{file}:\n{body}"
        );
    }
    assert!(out.contains(JUSTIFICATION), "the table:\n{out}");

    // The same document as the policy file's key, its path from the file's directory.
    w.write("policy/vex/web.openvex.json", &vex_doc(&w.digest, AUTHOR));
    let policy = w.write("policy/gate.toml", "vex = [\"vex/web.openvex.json\"]\n");
    let (code, _, err) = w.gate(&["--policy", &policy]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_statement_for_another_digest_or_package_does_nothing() {
    let w = Vex::new();
    let other = format!("sha256:{}", "1".repeat(64));
    let vex = w.write("other.openvex.json", &vex_doc(&other, AUTHOR));
    let (code, _, err) = w.gate(&["--vex", &vex]);
    assert_eq!(
        code, 1,
        "another image's statement must not pass this one\n{err}"
    );
    assert_eq!(the_finding(&w.report())["disposition"]["status"], "counted");
    // The gated digest, but the statement is narrowed to another package.
    let narrowed =
        vex_doc(&w.digest, AUTHOR).replace("pkg:deb/debian/openssl", "pkg:deb/debian/zlib");
    let vex = w.write("zlib.openvex.json", &narrowed);
    let (code, _, err) = w.gate(&["--vex", &vex]);
    assert_eq!(code, 1, "{err}");
    // A later `affected` statement cancels the `not_affected` one.
    let first = w.write("first.openvex.json", &vex_doc(&w.digest, AUTHOR));
    let later = vex_doc(&w.digest, AUTHOR)
        .replace(
            "2026-11-30T19:07:16.853479631-06:00",
            "2026-12-01T10:00:00Z",
        )
        .replace("\"not_affected\"", "\"affected\"");
    let later = w.write("later.openvex.json", &later);
    let (code, _, err) = w.gate(&["--vex", &first, "--vex", &later]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn the_floor_decides_whether_a_statement_may_apply() {
    let w = Vex::new();
    let vex = w.write("web.openvex.json", &vex_doc(&w.digest, AUTHOR));
    // A floor silent on VEX: no statement applies, from a flag or from the repository's file,
    // and the run says which and why.
    let floor = w.write("floor.toml", "fail-on = \"HIGH\"\n");
    let policy = w.write(".inspector-gate.toml", "vex = [\"web.openvex.json\"]\n");
    for args in [
        vec!["--vex", vex.as_str(), "--policy-floor", floor.as_str()],
        vec![
            "--policy",
            policy.as_str(),
            "--policy-floor",
            floor.as_str(),
        ],
    ] {
        let (code, _, err) = w.gate(&args);
        assert_eq!(code, 1, "{args:?}: the floor does not allow VEX\n{err}");
        assert!(
            err.contains(&format!("VEX not_affected {CVE} by {AUTHOR}"))
                && err.contains("see allow-vex): not applied"),
            "{err}"
        );
        assert_eq!(the_finding(&w.report())["disposition"]["status"], "counted");
    }
    std::fs::remove_file(w.dir.path().join(&policy)).unwrap();
    // The author allowed but not the id: still failing.
    let floor = w.write(
        "floor.toml",
        &format!("fail-on = \"HIGH\"\nallow-vex = [\"{AUTHOR}\"]\nallow-ignore = [\"GHSA-*\"]\n"),
    );
    let (code, _, err) = w.gate(&["--vex", &vex, "--policy-floor", &floor]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("ignoring {CVE} is not allowed")),
        "{err}"
    );
    // A document whose author the floor does not name cannot borrow an allowed id.
    let floor = w.write(
        "floor.toml",
        &format!("fail-on = \"HIGH\"\nallow-vex = [\"{AUTHOR}\"]\nallow-ignore = [\"{CVE}\"]\n"),
    );
    let forged = w.write(
        "forged.openvex.json",
        &vex_doc(&w.digest, "Mallory <m@example.com>"),
    );
    let (code, _, err) = w.gate(&["--vex", &forged, "--policy-floor", &floor]);
    assert_eq!(code, 1, "{err}");
    // Author and id allowed: it applies.
    let (code, _, err) = w.gate(&["--vex", &vex, "--policy-floor", &floor]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_malformed_or_missing_document_is_exit_2_naming_it() {
    let w = Vex::new();
    let bad = w.write(
        "bad.openvex.json",
        &vex_doc(&w.digest, AUTHOR).replace("\"not_affected\"", "\"unaffected\""),
    );
    let (code, _, err) = w.gate(&["--vex", &bad]);
    assert_eq!(code, 2, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("bad.openvex.json"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("invalid VEX document") && line.contains("status 'unaffected'"),
        "{err}"
    );
    // A CycloneDX document is named as such.
    let cdx = w.write(
        "bom.json",
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.5"}"#,
    );
    let (code, _, err) = w.gate(&["--vex", &cdx]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bom.json: a CycloneDX document, not OpenVEX"),
        "{err}"
    );
    // A missing one is refused before any AWS call.
    let before = w.scen.state.lock().unwrap().log.len();
    let (code, _, err) = w.gate(&["--vex", "nowhere.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--vex nowhere.json"), "{err}");
    assert_eq!(w.scen.state.lock().unwrap().log.len(), before, "{err}");
}

#[test]
fn evaluate_applies_vex_offline() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("http://127.0.0.1:{}", support::moto::free_port());
    let digest = format!("sha256:{}", "ab".repeat(32));
    let f = finding(
        CVE,
        "HIGH",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        &digest,
        REPO,
    );
    std::fs::write(
        dir.path().join("findings.json"),
        json!({ "findings": [f] }).to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().join("v.json"), vex_doc(&digest, AUTHOR)).unwrap();
    let run = |extra: &[&str]| {
        let mut full = vec![
            "evaluate",
            "--findings",
            "findings.json",
            "--fail-on",
            "HIGH",
        ];
        full.extend_from_slice(extra);
        text(&a::run(&closed, &closed, &full, &[], dir.path()))
    };
    let (code, _, err) = run(&[]);
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = run(&["--vex", "v.json", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let reason = the_finding(&report)["disposition"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains(JUSTIFICATION) && reason.contains(AUTHOR),
        "{reason}"
    );
}
