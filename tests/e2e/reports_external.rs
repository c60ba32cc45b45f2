//! The reports, checked by real consumers rather than by our own reading of the formats:
//! SARIF by Microsoft's SARIF Multitool (with GitHub's ingestion rules) and the official
//! SARIF 2.1.0 schema, JUnit XML by PyPI junitparser, and report.json by its documented
//! schema (docs/report-schema.json). The tools are installed by scripts/setup; a missing
//! tool fails the test rather than skipping it, so a green run always means "validated".

use inspector_gate::policy::eval::{Disposition, Verdict};
use inspector_gate::report::{json, junit, sarif, testing, Report};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const SARIF_MULTITOOL_VERSION: &str = "5.7.0";
const JUNITPARSER_VERSION: &str = "5.0.3";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Vec<(&'static str, Report)> {
    vec![
        ("empty", testing::report(0)),
        ("single", testing::report(1)),
        ("mixed", testing::mixed()),
        ("compared", testing::compared()),
        ("event", testing::event()),
        ("large", testing::report(10_000)),
    ]
}

fn missing(what: &str, detail: impl std::fmt::Display) -> ! {
    panic!("{what} is not installed ({detail}): run scripts/setup, which installs the report validators");
}

/// The platform binary of the npm package `@microsoft/sarif-multitool`. Called directly:
/// the package's `bin.js` runs it through a shell, which splits `;`-separated option lists.
fn multitool() -> PathBuf {
    let path = match std::env::var_os("SARIF_MULTITOOL") {
        Some(p) => PathBuf::from(p),
        None => {
            let (pkg, exe) = match std::env::consts::OS {
                "macos" => ("sarif-multitool-darwin", "Sarif.Multitool"),
                "windows" => ("sarif-multitool-win32", "Sarif.Multitool.exe"),
                _ => ("sarif-multitool-linux", "Sarif.Multitool"),
            };
            repo()
                .join(".tools/node/node_modules/@microsoft")
                .join(pkg)
                .join(exe)
        }
    };
    let out = Command::new(&path)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            missing(
                "@microsoft/sarif-multitool",
                format!("{}: {e}", path.display()),
            )
        });
    // It prints its version on stderr.
    let version = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        version.contains(&format!("SARIF Multitool {SARIF_MULTITOOL_VERSION}")),
        "expected SARIF Multitool {SARIF_MULTITOOL_VERSION} at {}, found {version:?}: run scripts/setup",
        path.display()
    );
    path
}

fn python() -> PathBuf {
    let venv = repo().join(".venv");
    let path = if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    };
    let out = Command::new(&path)
        .args(["-c", "import junitparser; print(junitparser.version)"])
        .output()
        .unwrap_or_else(|e| {
            missing(
                "the project's Python venv",
                format!("{}: {e}", path.display()),
            )
        });
    let version = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || version.trim() != JUNITPARSER_VERSION {
        missing(
            &format!("junitparser {JUNITPARSER_VERSION}"),
            format!(
                "{} says {:?} {}",
                path.display(),
                version.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    }
    path
}

fn load_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .take(20)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

// ---- report.json ---------------------------------------------------------------------

fn report_schema() -> jsonschema::Validator {
    let schema = load_json(&repo().join("docs/report-schema.json"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("docs/report-schema.json is not a valid schema: {e}"))
}

#[test]
fn report_json_matches_documented_schema() {
    let validator = report_schema();
    for (name, report) in fixtures() {
        let instance: Value = serde_json::from_str(&json::render(&report)).unwrap();
        let errors = schema_errors(&validator, &instance);
        assert!(
            errors.is_empty(),
            "report.json of fixture '{name}' does not match docs/report-schema.json (a field added or changed \
             without documenting it? document it and bump SCHEMA_VERSION if it breaks readers):\n{}",
            errors.join("\n")
        );
    }
}

fn collect_keys(v: &Value, keys: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                keys.insert(k.clone());
                collect_keys(v, keys);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_keys(v, keys)),
        _ => {}
    }
}

fn schema_property_names(v: &Value, names: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                names.extend(props.keys().cloned());
            }
            m.values().for_each(|v| schema_property_names(v, names));
        }
        Value::Array(a) => a.iter().for_each(|v| schema_property_names(v, names)),
        _ => {}
    }
}

/// The `mixed` fixture sets every optional field, so `additionalProperties: false` in the
/// schema catches a new field; this keeps it so by failing when the schema documents a
/// property the fixture never writes.
#[test]
fn mixed_fixture_exercises_every_documented_field() {
    let mut written = BTreeSet::new();
    for r in [testing::mixed(), testing::compared(), testing::event()] {
        collect_keys(
            &serde_json::from_str(&json::render(&r)).unwrap(),
            &mut written,
        );
    }
    let mut documented = BTreeSet::new();
    schema_property_names(
        &load_json(&repo().join("docs/report-schema.json")),
        &mut documented,
    );
    let never_written: Vec<_> = documented.difference(&written).collect();
    assert!(
        never_written.is_empty(),
        "docs/report-schema.json documents {never_written:?}, which none of testing::mixed(), testing::compared() and testing::event() writes: \
         set them in a fixture (or drop them from the schema)"
    );
}

#[test]
fn report_schema_rejects_undocumented_fields() {
    let validator = report_schema();
    let mut instance: Value = serde_json::from_str(&json::render(&testing::report(1))).unwrap();
    instance["images"][0]["evaluation"]["findings"][0]["newField"] = Value::Bool(true);
    assert!(!validator.is_valid(&instance));
}

// ---- SARIF -----------------------------------------------------------------------------

/// SARIF2006 fetches every URI in the log over HTTP; with no network it only slows the
/// run down (minutes for thousands of advisory links), so it is switched off.
const MULTITOOL_CONFIG: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Properties>
  <Properties Key="SARIF2006.UrisShouldBeReachable.Options">
    <Property Key="RuleEnabled" Value="Disabled" />
  </Properties>
</Properties>
"#;

#[test]
fn sarif_passes_sarif_multitool_with_github_rules() {
    let tool = multitool();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("multitool.xml");
    std::fs::write(&config, MULTITOOL_CONFIG).unwrap();
    // The multitool takes minutes over the 10,000-finding fixture (its rules run per result,
    // and the size adds no rule our SARIF could break that 1,000 results do not reach): it
    // reads the 1,000-finding one instead. The schema test below still takes all six.
    let fixtures = fixtures().into_iter().map(|(name, report)| match name {
        "large" => (name, testing::report(1_000)),
        _ => (name, report),
    });
    for (name, report) in fixtures {
        let input = dir.path().join(format!("{name}.sarif"));
        let output = dir.path().join(format!("{name}.validation.sarif"));
        std::fs::write(&input, sarif::render(&report)).unwrap();
        let out = Command::new(&tool)
            .arg("validate")
            .arg(&input)
            .args(["--rule-kind", "Sarif;Ghas", "--level", "Error;Warning;Note"])
            .args([
                "--max-file-size-in-kb",
                "1048576",
                "--log",
                "ForceOverwrite",
            ])
            .arg("-c")
            .arg(&config)
            .arg("-o")
            .arg(&output)
            .output()
            .expect("running sarif-multitool");
        let console = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "sarif-multitool failed on '{name}':\n{console}"
        );
        let log = load_json(&output);
        let results = log["runs"][0]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let problems: Vec<String> = results
            .iter()
            .filter(|r| r["level"] != "note")
            .take(20)
            .map(|r| format!("{} {}: {}", r["level"], r["ruleId"], r["message"]["text"]))
            .collect();
        assert!(
            problems.is_empty(),
            "sarif-multitool found problems in '{name}':\n{}",
            problems.join("\n")
        );
        // The multitool silently skips a file it cannot deserialize; its run-level note
        // SARIF2003 proves the file was actually analysed.
        assert!(
            results.iter().any(|r| r["ruleId"] == "SARIF2003"),
            "sarif-multitool did not analyse '{name}' (unreadable SARIF?):\n{console}"
        );
    }
}

#[test]
fn sarif_matches_the_official_sarif_2_1_0_schema() {
    let tool = multitool();
    // The multitool package ships the official schema beside its binary.
    let schema_path = tool.with_file_name("sarif-2.1.0.json");
    let schema = load_json(&schema_path);
    let validator = jsonschema::validator_for(&schema).expect("SARIF schema compiles");
    for (name, report) in fixtures() {
        let instance: Value = serde_json::from_str(&sarif::render(&report)).unwrap();
        let errors = schema_errors(&validator, &instance);
        assert!(
            errors.is_empty(),
            "SARIF of '{name}' violates {}:\n{}",
            schema_path.display(),
            errors.join("\n")
        );
    }
}

// ---- JUnit -----------------------------------------------------------------------------

/// Reads a JUnit file the way junitparser's users do and prints what it saw as JSON.
const JUNIT_READER: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromfile(sys.argv[1])
out = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped, "suites": []}
for suite in xml:
    cases = list(suite)
    def kinds(kind):
        return [c for c in cases if any(isinstance(r, kind) for r in c.result)]
    out["suites"].append({
        "name": suite.name,
        "declared": [suite.tests, suite.failures, suite.errors, suite.skipped],
        "seen": [len(cases), len(kinds(Failure)), len(kinds(Error)), len(kinds(Skipped))],
        "properties": {p.name: p.value for p in suite.properties()},
        "policy": [[type(r).__name__, r.message] for c in cases if c.name == "policy" for r in c.result],
        "texts": [r.text or "" for c in cases[:10] for r in c.result],
        "names": [c.name for c in cases[:10]],
    })
json.dump(out, sys.stdout)
"#;

#[test]
fn junit_is_read_by_junitparser() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let reader = dir.path().join("read_junit.py");
    std::fs::write(&reader, JUNIT_READER).unwrap();
    for (name, report) in fixtures() {
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, junit::render(&report)).unwrap();
        let out = Command::new(&py)
            .arg(&reader)
            .arg(&file)
            .output()
            .expect("running python");
        assert!(
            out.status.success(),
            "junitparser rejected '{name}': {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
        let suites = seen["suites"].as_array().unwrap();
        // One testsuite per image, and one for the images left unevaluated, if any.
        let unevaluated = report.not_evaluated.len();
        assert_eq!(
            suites.len(),
            report.images.len() + usize::from(unevaluated > 0),
            "{name}: one testsuite per image"
        );
        let mut totals = [0usize; 3];
        for (suite, img) in suites.iter().zip(&report.images) {
            let e = &img.evaluation;
            let failed = e.violating().count() + usize::from(e.verdict == Verdict::Fail);
            let skipped = e
                .findings
                .iter()
                .filter(|j| {
                    matches!(
                        j.disposition,
                        Disposition::Ignored { .. }
                            | Disposition::Filtered { .. }
                            | Disposition::Inherited
                            | Disposition::Suppressed
                    )
                })
                .count();
            let expected = serde_json::json!([e.findings.len() + 1, failed, 0, skipped]);
            assert_eq!(
                suite["declared"], expected,
                "{name}: counts declared on the testsuite"
            );
            assert_eq!(
                suite["seen"], expected,
                "{name}: counts junitparser finds in the testcases"
            );
            assert!(suite["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}@{}", img.image.repository, img.image.digest)));
            assert_eq!(suite["properties"]["digest"], img.image.digest.as_str());
            let policy = &suite["policy"];
            match e.verdict {
                Verdict::Pass => {
                    assert_eq!(policy, &serde_json::json!([]), "{name}: policy case passes")
                }
                Verdict::Fail => assert_eq!(policy[0][0], "Failure", "{name}: policy case fails"),
            }
            totals[0] += e.findings.len() + 1;
            totals[1] += failed;
            totals[2] += skipped;
        }
        if unevaluated > 0 {
            let last = &suites[suites.len() - 1];
            let expected = serde_json::json!([unevaluated, 0, 0, unevaluated]);
            assert_eq!(last["declared"], expected, "{name}: the unevaluated suite");
            assert_eq!(last["seen"], expected, "{name}: the unevaluated suite");
            totals[0] += unevaluated;
            totals[2] += unevaluated;
        }
        assert_eq!(
            [&seen["tests"], &seen["failures"], &seen["skipped"]]
                .map(|v| v.as_u64().unwrap() as usize),
            totals,
            "{name}: testsuites totals"
        );
        if name == "mixed" {
            // Text that needs escaping survives the round trip.
            let suite = &suites[0];
            assert!(
                suite["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n == "GHSA-xvch-5gv4-984h pkg|pipe<x>"),
                "{suite}"
            );
            let texts = suite["texts"].to_string();
            assert!(
                texts.contains(r#"line one\nline two\r\n50% of \\u{1b}[31mred"#),
                "{texts}"
            );
            assert!(texts.contains(r#"& \"quoted\" 'text' ]]> --"#), "{texts}");
        }
    }
}
