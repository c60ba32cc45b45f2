//! End-to-end: offline `evaluate` (no AWS call: every endpoint is a closed loopback port) on
//! real files, as `aws inspector2 list-findings`, `inspector-gate findings` and EventBridge
//! write them. Offline evaluation passes nothing it did not get: one page of a listing, a
//! document of no image and the severities an event does not count are never a pass.

use crate::support;

use serde_json::{json, Value};
use support::aws::{self as a, text};
use support::scenario::{finding, with_status};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const REPO: &str = "app/web";

struct Offline {
    dir: tempfile::TempDir,
    closed: String,
}

impl Offline {
    fn new() -> Offline {
        Offline {
            dir: tempfile::tempdir().unwrap(),
            closed: format!("http://127.0.0.1:{}", support::moto::free_port()),
        }
    }

    fn write(&self, name: &str, v: &Value) -> String {
        std::fs::write(self.dir.path().join(name), v.to_string()).unwrap();
        name.to_string()
    }

    fn evaluate(&self, args: &[&str]) -> (i32, String, String) {
        let mut full = vec!["evaluate"];
        full.extend_from_slice(args);
        text(&a::run(
            &self.closed,
            &self.closed,
            &full,
            &[],
            self.dir.path(),
        ))
    }
}

fn low(i: usize) -> Value {
    finding(
        &format!("CVE-2024-{i:04}"),
        "LOW",
        "zlib",
        "1.2.11",
        None,
        DIGEST,
        REPO,
    )
}

#[test]
fn a_list_findings_page_with_a_next_token_is_inconclusive() {
    let o = Offline::new();
    // Page 1 of `aws inspector2 list-findings --max-items 2`: clean so far; the CRITICAL is
    // on a page nobody read. The CLI's own token is NextToken; the service's is nextToken.
    for (n, key) in ["NextToken", "nextToken"].into_iter().enumerate() {
        let page = o.write(
            &format!("page{n}.json"),
            &json!({ "findings": [low(1), low(2)], key: "eyJ0b2tlbiI6IDJ9" }),
        );
        let (code, out, err) = o.evaluate(&["--findings", &page, "--fail-on", "HIGH"]);
        assert_eq!(code, 3, "{key}: one page passed:\n{out}\n{err}");
        assert!(
            err.contains("one page of 2 finding(s)")
                && err.contains("the rest was not read")
                && err.contains("without `--max-items`"),
            "{err}"
        );
        assert!(out.is_empty(), "no report for a page: {out}");
    }
    // Every page (no token): evaluated.
    let all = o.write("all.json", &json!({ "findings": [low(1), low(2)] }));
    let (code, out, err) = o.evaluate(&["--findings", &all, "--fail-on", "HIGH"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn a_document_of_no_image_is_inconclusive() {
    let o = Offline::new();
    let empty = o.write("empty.json", &json!({ "schemaVersion": 1, "images": [] }));
    let (code, out, err) = o.evaluate(&["--findings", &empty, "--fail-on", "HIGH"]);
    assert_eq!(code, 3, "a document of no image passed:\n{out}\n{err}");
    assert!(
        err.contains("lists no image") && err.contains("cannot pass"),
        "{err}"
    );
}

#[test]
fn a_suppressed_finding_in_a_listing_counts() {
    let o = Offline::new();
    let crit = finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        DIGEST,
        REPO,
    );
    let fixed = finding(
        "CVE-2024-0009",
        "CRITICAL",
        "curl",
        "8.0",
        Some("8.1"),
        DIGEST,
        REPO,
    );
    let f = o.write(
        "f.json",
        &json!({ "findings": [with_status(crit, "SUPPRESSED"), with_status(fixed, "CLOSED"), low(1)] }),
    );
    let (code, out, err) = o.evaluate(&["--findings", &f, "--fail-on", "CRITICAL"]);
    assert_eq!(code, 1, "a suppressed CRITICAL passed:\n{out}\n{err}");
    assert!(out.contains("(suppressed in Inspector)"), "{out}");
    assert!(
        !out.contains("CVE-2024-0009"),
        "a CLOSED finding gated: {out}"
    );
}

#[test]
fn findings_read_from_stdin_are_gated_as_from_a_file() {
    let o = Offline::new();
    let crit = finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        DIGEST,
        REPO,
    );
    let f = o.write("f.json", &json!({ "findings": [crit, low(1)] }));
    let args = ["evaluate", "--findings", "-", "--fail-on", "CRITICAL"];
    let mut cmd = a::command(&o.closed, &o.closed, &args, &[], o.dir.path());
    cmd.stdin(std::fs::File::open(o.dir.path().join(&f)).unwrap());
    let (code, out, err) = text(&a::run_bounded(cmd, std::time::Duration::from_secs(120)));
    assert_eq!(code, 1, "`--findings -` did not gate stdin:\n{out}\n{err}");
    assert!(out.contains("CVE-2024-0001"), "{out}");
    // Nothing on stdin is no findings document, never a pass.
    let mut cmd = a::command(&o.closed, &o.closed, &args, &[], o.dir.path());
    cmd.stdin(std::process::Stdio::null());
    let (code, out, err) = text(&a::run_bounded(cmd, std::time::Duration::from_secs(120)));
    assert_eq!(code, 2, "an empty stdin passed:\n{out}\n{err}");
}

fn event(counts: Value) -> Value {
    json!({
        "version": "0", "id": "4f8b3c55-0000-0000-0000-000000000000",
        "detail-type": "Inspector2 Scan", "source": "aws.inspector2",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:ecr:us-east-1:123456789012:repository/app/web"],
        "detail": {
            "scan-status": "INITIAL_SCAN_COMPLETE",
            "repository-name": "arn:aws:ecr:us-east-1:123456789012:repository/app/web",
            "finding-severity-counts": counts,
            "image-digest": DIGEST,
            "image-tags": ["v1"]
        }
    })
}

#[test]
fn an_event_is_shown_as_counts_only() {
    let o = Offline::new();
    // 31 findings: 1 CRITICAL, 2 HIGH, no MEDIUM, and 28 the event does not split.
    let ev = o.write(
        "event.json",
        &event(json!({ "CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "TOTAL": 31 })),
    );
    let (code, out, err) = o.evaluate(&["--event", &ev, "--fail-on", "CRITICAL"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        !out.contains("CRITICAL-1") && !out.contains("HIGH-2"),
        "placeholder rows: {out}"
    );
    assert!(
        out.contains("LOW/INFORMATIONAL/UNTRIAGED together: 28"),
        "the remainder of TOTAL: {out}"
    );
    let low_row = out
        .lines()
        .find(|l| l.trim_start().starts_with("LOW "))
        .unwrap();
    assert!(
        low_row.contains('–') && !low_row.contains(" 0 "),
        "LOW shown as 0: {low_row}"
    );
    let (code, out, err) =
        o.evaluate(&["--event", &ev, "--fail-on", "CRITICAL", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let e = &report["images"][0]["evaluation"];
    assert_eq!(e["findings"], json!([]), "no placeholder findings");
    assert_eq!(e["total"], json!({ "CRITICAL": 1, "HIGH": 2 }));
    assert_eq!(e["countsOnly"]["remainder"], 28);
    assert_eq!(
        e["countsOnly"]["unsplit"],
        json!(["LOW", "INFORMATIONAL", "UNTRIAGED"])
    );
    // The remainder decides a LOW maximum it fits, and cannot decide one it exceeds.
    let (code, _, err) = o.evaluate(&["--event", &ev, "--max-low", "28"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = o.evaluate(&["--event", &ev, "--max-low", "27"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("28 LOW/INFORMATIONAL/UNTRIAGED findings together"),
        "{err}"
    );
}
