//! Bad input, refused cleanly: the real binary run on malformed image references, policy
//! files, findings files and events, OCI layouts and archives, and CLI combinations that make
//! no sense. Every case must exit with the documented code (2 usage/configuration, 4 runtime
//! or I/O), print exactly one `error:` line that names the cause, print nothing on stdout and
//! never panic. Every AWS endpoint and the registry point at a closed loopback port, so a case
//! that reached the network would say so ("connect") instead of naming its cause.
//! `BAD_INPUT_SHOW=1 cargo test --test bad_input -- --nocapture` prints every error line.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::aws as a;
use support::fixtures::{self, sha256, write_blob, OCI_INDEX, OCI_MANIFEST};

/// One run of the binary and what it must print.
struct Case {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    code: i32,
    /// Every one of these must appear in the `error:` line.
    cause: Vec<&'static str>,
    /// The registry connection is the first thing that can fail (closed port): the cause is
    /// then the connection, and that is all the case can show.
    fails_on_connect: bool,
}

fn case(name: &str, args: &[&str], code: i32, cause: &[&'static str]) -> Case {
    Case {
        name: name.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        code,
        cause: cause.to_vec(),
        fails_on_connect: false,
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    support::moto::free_port()
}

struct Ctx {
    dir: tempfile::TempDir,
    closed: String,
}

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            dir: tempfile::tempdir().unwrap(),
            closed: format!("http://127.0.0.1:{}", closed_port()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    /// Run one case with a clean environment: dummy credentials, no instance metadata, every
    /// endpoint on the closed port.
    fn run(&self, c: &Case) -> (i32, String, String) {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = c
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut cmd = a::command(&self.closed, &self.closed, &args, &env, self.dir.path());
        cmd.env("AWS_ENDPOINT_URL_STS", &self.closed);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        a::text(&a::run_bounded(cmd, Duration::from_secs(60)))
    }

    /// Run every case; report all failures at once.
    fn check(&self, cases: Vec<Case>) {
        let mut failures = Vec::new();
        for c in &cases {
            let (code, out, err) = self.run(c);
            let mut why = Vec::new();
            // A cause that merely echoes the input (a file name, a flag) proves nothing: at
            // least one must be words the input does not contain.
            if c.cause
                .iter()
                .all(|cause| c.args.iter().any(|a| a.contains(cause)))
            {
                why.push(format!(
                    "the expected cause {:?} only repeats the input: name the cause",
                    c.cause
                ));
            }
            if code != c.code {
                why.push(format!("exit {code}, expected {}", c.code));
            }
            if !out.is_empty() {
                why.push("stdout is not empty".to_string());
            }
            if out.contains("panicked") || err.contains("panicked") {
                why.push("panicked".to_string());
            }
            let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
            if std::env::var_os("BAD_INPUT_SHOW").is_some() {
                eprintln!("[{}] exit {code}: {}", c.name, lines.join(" | "));
            }
            match lines.as_slice() {
                [line] => {
                    if line.chars().any(char::is_control) {
                        why.push("the error line has control characters".to_string());
                    }
                    for cause in &c.cause {
                        if !line.contains(cause) {
                            why.push(format!("the error line does not name {cause:?}"));
                        }
                    }
                    if !c.fails_on_connect && line.to_lowercase().contains("connect") {
                        why.push("reached the network before refusing the input".to_string());
                    }
                }
                _ => why.push(format!(
                    "{} error: lines, expected exactly one",
                    lines.len()
                )),
            }
            if !why.is_empty() {
                failures.push(format!(
                    "[{}] {}\n  args: {:?}\n  stdout: {out}\n  stderr: {err}",
                    c.name,
                    why.join("; "),
                    c.args
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn bad_image_references_are_usage_errors() {
    let ctx = Ctx::new();
    let upper = format!(
        "app/web@{}",
        DIGEST.to_uppercase().replace("SHA256", "sha256")
    );
    let long_digest = format!("app/web@{DIGEST}0");
    let md5 = "app/web@md5:0123456789abcdef0123456789abcdef".to_string();
    let long_tag = format!("app/web:{}", "t".repeat(129));
    let refs: Vec<(&str, &str, Vec<&'static str>)> = vec![
        (
            "short digest",
            "app/web@sha256:abc",
            vec!["bad image reference", "64 lowercase hex"],
        ),
        ("uppercase digest", &upper, vec!["64 lowercase hex"]),
        ("digest too long", &long_digest, vec!["64 lowercase hex"]),
        (
            "not sha256",
            &md5,
            vec!["digest must be sha256: followed by 64 lowercase hex digits"],
        ),
        (
            "uppercase repository",
            "App/Web:v1",
            vec!["invalid repository name", "lowercase"],
        ),
        (
            "wrong registry host",
            "docker.io/library/nginx:1",
            vec!["not an ECR registry host", "--registry-url"],
        ),
        (
            "short account in host",
            "12345.dkr.ecr.us-east-1.amazonaws.com/app:1",
            vec!["not an ECR registry host"],
        ),
        (
            "host without repository",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/:v1",
            vec!["missing repository name"],
        ),
        ("missing repository", ":v1", vec!["missing repository name"]),
        ("missing tag", "app/web", vec!["missing tag or digest"]),
        ("empty tag", "app/web:", vec!["invalid tag ''"]),
        (
            "tag starting with a dash",
            "app/web:-v1",
            vec!["invalid tag '-v1'", "not starting with '.' or '-'"],
        ),
        (
            "tag too long",
            &long_tag,
            vec!["invalid tag", "at most 128"],
        ),
        (
            "empty path component",
            "app//web:v1",
            vec!["invalid repository name 'app//web'"],
        ),
        (
            "https scheme",
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1",
            vec!["drop the scheme"],
        ),
        (
            "docker scheme",
            "docker://app/web:v1",
            vec!["drop the scheme"],
        ),
        // Printed lines collapse whitespace runs (sanitize::text), so the echo is one space.
        ("whitespace only", "   ", vec!["' ': empty (expected"]),
    ];
    let mut cases: Vec<Case> = refs
        .into_iter()
        .map(|(name, r, cause)| Case {
            cause,
            ..case(
                &format!("gate --image {name}"),
                &["gate", "--image", r],
                2,
                &[],
            )
        })
        .collect();
    // The same parser guards the other commands that take an image.
    cases.push(case(
        "push --image uppercase",
        &["push", "--push-from", "oci:x", "--image", "App:v1"],
        2,
        &["lowercase"],
    ));
    cases.push(case(
        "findings --image no tag",
        &["findings", "--image", "app/web"],
        2,
        &["missing tag or digest"],
    ));
    cases.push(case(
        "gate --image empty",
        &["gate", "--image", ""],
        2,
        &["bad image reference '': empty"],
    ));
    ctx.check(cases);
}

#[test]
fn bad_policy_files_are_usage_errors_naming_file_and_key() {
    let ctx = Ctx::new();
    let findings = ctx.write("findings.json", "[]");
    let policies: Vec<(&str, &str, Vec<&'static str>)> = vec![
        ("unknown key", "max-critical = 0\nmax-hihg = 1\n", vec!["unknown-key.toml:2:1", "max-hihg"]),
        ("unknown key in an ignore rule", "[[ignore]]\nid = \"CVE-1\"\nreson = \"typo\"\n", vec!["unknown field `reson`"]),
        ("wrong type", "max-high = \"five\"\n", vec!["wrong-type.toml:1:", "max-high: invalid type: string \"five\""]),
        ("boolean as a string", "ignore-unfixed = \"yes\"\n", vec!["ignore-unfixed: invalid type: string \"yes\", expected a boolean"]),
        ("negative threshold", "\nmax-low = -1\n", vec![":2:", "max-low: invalid value: integer `-1`"]),
        ("unknown severity", "fail-on = \"SEVERE\"\n", vec!["unknown severity"]),
        ("bad month", "[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"2026-13-01\"\n", vec!["CVE-1", "not a valid date"]),
        ("datetime instead of a date", "[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = 2026-12-01T10:00:00Z\n", vec!["not a plain date"]),
        ("date as words", "[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"next year\"\n", vec!["not a valid date"]),
        ("duplicate ignore ids", "[[ignore]]\nid = \"CVE-1\"\nreason = \"a\"\n[[ignore]]\nid = \"cve-1\"\nreason = \"b\"\n", vec!["listed twice"]),
        ("missing reason", "[[ignore]]\nid = \"CVE-2023-4863\"\n", vec!["CVE-2023-4863", "has no reason"]),
        ("blank reason", "[[ignore]]\nid = \"CVE-1\"\nreason = \"  \"\n", vec!["has no reason"]),
        ("empty id", "[[ignore]]\nid = \"\"\nreason = \"x\"\n", vec!["empty id"]),
        ("epss above 1", "min-epss = 1.5\n", vec!["min-epss", "between 0 and 1"]),
        ("negative epss", "min-epss = -0.1\n", vec!["min-epss", "between 0 and 1"]),
        ("inspector score above 10", "min-inspector-score = 11.0\n", vec!["min-inspector-score", "between 0 and 10"]),
        ("bad unmatched-ignore", "unmatched-ignore = \"maybe\"\n", vec!["unmatched-ignore: unknown variant `maybe`"]),
        ("not toml", "\u{0}\u{1}PK\u{3}\u{4} binary", vec!["invalid policy file", "invalid key"]),
    ];
    let mut cases = Vec::new();
    for (name, text, cause) in policies {
        let file = ctx.write(&format!("{}.toml", name.replace(' ', "-")), text);
        cases.push(Case {
            cause,
            ..case(
                &format!("policy: {name}"),
                &["gate", "--image", "app/web:v1", "--policy", &file],
                2,
                &[],
            )
        });
    }
    cases.push(case(
        "policy: missing file",
        &["gate", "--image", "app/web:v1", "--policy", "nope.toml"],
        2,
        &["--policy nope.toml", "does not exist"],
    ));
    cases.push(case(
        "policy: a directory",
        &["evaluate", "--findings", &findings, "--policy", "."],
        2,
        &["--policy .", "is a directory"],
    ));
    // evaluate reads the same file the same way.
    let bad = ctx.write("eval-bad.toml", "max-critical = \"zero\"\n");
    cases.push(case(
        "evaluate --policy wrong type",
        &["evaluate", "--findings", &findings, "--policy", &bad],
        2,
        &["max-critical: invalid type: string \"zero\""],
    ));
    // The same limits hold for flags.
    cases.push(case(
        "--min-epss flag out of range",
        &["evaluate", "--findings", &findings, "--min-epss", "2"],
        2,
        &["--min-epss", "must be between 0 and 1"],
    ));
    cases.push(case(
        "--max-critical negative flag",
        &["gate", "--image", "app/web:v1", "--max-critical", "-1"],
        2,
        &["'-1'", "--max-critical"],
    ));
    cases.push(case(
        "--min-epss negative flag",
        &["evaluate", "--findings", &findings, "--min-epss", "-0.5"],
        2,
        &["min-epss", "between 0 and 1"],
    ));
    ctx.check(cases);
}

#[test]
fn bad_findings_files_and_events_are_usage_errors() {
    let ctx = Ctx::new();
    let finding = r#"{"id":"CVE-1","severity":"HIGH","title":"t","packages":[]}"#;
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "truncated.json",
            format!("[{finding}").into_bytes()[..30].to_vec(),
        ),
        ("object.json", br#"{"foo": 1}"#.to_vec()),
        ("findings-string.json", br#"{"findings": "x"}"#.to_vec()),
        (
            "images-number.json",
            br#"{"schemaVersion":1,"images": 5}"#.to_vec(),
        ),
        (
            "bad-severity.json",
            br#"[{"id":"CVE-1","severity":"SEVERE","title":"t","packages":[]}]"#.to_vec(),
        ),
        (
            "wire-no-id.json",
            br#"{"findings":[{"severity":"HIGH"}]}"#.to_vec(),
        ),
        ("number.json", b"42".to_vec()),
        (
            "garbage.bin",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
                .collect(),
        ),
        ("empty.json", Vec::new()),
    ];
    let mut cases = Vec::new();
    let causes: [&[&'static str]; 9] = [
        &["is not a findings file", "invalid JSON"],
        &["expected an object with \"images\""],
        &[
            "not `aws inspector2 list-findings` output",
            "invalid type: string \"x\", expected a sequence",
        ],
        &[
            "is not a findings file",
            "invalid type: integer `5`, expected a sequence",
        ],
        &["unknown severity 'SEVERE'"],
        &["a finding has no vulnerabilityId, title or findingArn"],
        &["expected an object"],
        &["not UTF-8"],
        &["is empty: pass what `aws inspector2 list-findings`"],
    ];
    for ((name, bytes), cause) in files.into_iter().zip(causes) {
        let p = ctx.write(name, bytes);
        cases.push(case(
            &format!("findings: {name}"),
            &["evaluate", "--findings", &p],
            2,
            cause,
        ));
    }
    // Over the 256 MiB limit without writing 256 MiB: a sparse file.
    let huge = ctx.path("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(257 << 20)
        .unwrap();
    let huge = huge.display().to_string();
    cases.push(case(
        "findings: huge sparse file",
        &["evaluate", "--findings", &huge],
        2,
        &["over the 256 MiB limit"],
    ));
    cases.push(case(
        "event: huge sparse file",
        &["evaluate", "--event", &huge],
        2,
        &["over the 256 MiB limit"],
    ));
    cases.push(case(
        "findings: missing file",
        &["evaluate", "--findings", "nope.json"],
        2,
        &["--findings nope.json", "does not exist"],
    ));
    cases.push(case(
        "findings: a directory",
        &["evaluate", "--findings", "."],
        2,
        &["--findings .", "is a directory"],
    ));

    let event = |detail_type: &str, repo: &str, digest: &str| {
        format!(
            r#"{{"version":"0","detail-type":"{detail_type}","source":"aws.inspector2","detail":{{"scan-status":"INITIAL_SCAN_COMPLETE","repository-name":"{repo}","image-digest":"{digest}","finding-severity-counts":{{"CRITICAL":1,"HIGH":0,"MEDIUM":0,"TOTAL":1}}}}}}"#
        )
    };
    let arn = "arn:aws:ecr:us-east-1:123456789012:repository/app/web";
    let events: Vec<(&str, String, Vec<&'static str>)> = vec![
        (
            "wrong detail-type",
            event("ECR Image Scan", arn, DIGEST),
            vec!["detail-type is 'ECR Image Scan'"],
        ),
        (
            "repository name, not ARN",
            event("Inspector2 Scan", "app/web", DIGEST),
            vec!["'app/web' is not an ECR repository ARN"],
        ),
        (
            "ARN of another service",
            event(
                "Inspector2 Scan",
                "arn:aws:s3:us-east-1:123456789012:bucket/app",
                DIGEST,
            ),
            vec!["not an ECR repository ARN"],
        ),
        (
            "ARN without repository/",
            event(
                "Inspector2 Scan",
                "arn:aws:ecr:us-east-1:123456789012:app/web",
                DIGEST,
            ),
            vec!["not a repository ARN"],
        ),
        (
            "bad digest",
            event("Inspector2 Scan", arn, "sha256:xyz"),
            vec!["image-digest 'sha256:xyz' is not a sha256 digest"],
        ),
        (
            "no detail",
            r#"{"detail-type":"Inspector2 Scan"}"#.to_string(),
            vec!["not an Inspector2 Scan event", "missing field `detail`"],
        ),
        (
            "counts not numbers",
            event("Inspector2 Scan", arn, DIGEST)
                .replace("\"CRITICAL\":1", "\"CRITICAL\":\"many\""),
            vec![
                "not an Inspector2 Scan event",
                "invalid type: string \"many\", expected u64",
            ],
        ),
        (
            "truncated",
            event("Inspector2 Scan", arn, DIGEST)[..60].to_string(),
            vec!["not an Inspector2 Scan event", "EOF while parsing"],
        ),
        (
            "a findings file",
            "[]".to_string(),
            vec!["is a findings file, not an event: pass it with --findings"],
        ),
    ];
    for (name, text, cause) in events {
        let p = ctx.write(
            &format!("event-{}.json", name.replace([' ', ',', '/'], "-")),
            text,
        );
        cases.push(Case {
            cause,
            ..case(
                &format!("event: {name}"),
                &["evaluate", "--event", &p],
                2,
                &[],
            )
        });
    }
    cases.push(case(
        "event: binary garbage",
        &[
            "evaluate",
            "--event",
            &ctx.path("garbage.bin").display().to_string(),
        ],
        2,
        &["not UTF-8"],
    ));
    ctx.check(cases);
}

/// Documents a user plausibly has at hand instead of what `--findings` or `--event` takes:
/// each is named for what it is, with what to pass instead, in one line (exit 2, no AWS call).
#[test]
fn misplaced_inputs_say_what_they_are_and_what_to_pass() {
    let ctx = Ctx::new();
    // What trivy 0.x (`trivy fs --format json`) printed for a directory with nothing found,
    // verbatim: no Results at all.
    let trivy_empty = r#"{
  "SchemaVersion": 2,
  "ArtifactName": "src",
  "ArtifactType": "filesystem",
  "Metadata": {
    "ImageConfig": {
      "architecture": "",
      "created": "0001-01-01T00:00:00Z",
      "os": "",
      "rootfs": { "type": "", "diff_ids": null },
      "config": {}
    }
  }
}"#;
    // An image report with one vulnerability (trivy's documented JSON: Results[].Vulnerabilities).
    let trivy_image = r#"{"SchemaVersion":2,"ArtifactName":"app/web:v1","ArtifactType":"container_image","Results":[{"Target":"app/web:v1 (debian 12.5)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-5535","PkgName":"openssl","InstalledVersion":"3.0.11-1~deb12u2","FixedVersion":"3.0.13-1~deb12u1","Severity":"CRITICAL"}]}]}"#;
    // grype's JSON (its presenter's document: matches, source, distro, descriptor).
    let grype = r#"{"matches":[{"vulnerability":{"id":"CVE-2023-45853","dataSource":"https://security-tracker.debian.org/tracker/CVE-2023-45853","namespace":"debian:distro:debian:12","severity":"Critical","urls":[],"fix":{"versions":[],"state":"wont-fix"}},"relatedVulnerabilities":[],"matchDetails":[],"artifact":{"id":"4c8b0e0b0a2e6f1c","name":"zlib1g","version":"1:1.2.13.dfsg-1","type":"deb","locations":[],"language":"","licenses":[],"cpes":[],"purl":"pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12","upstreams":[{"name":"zlib"}]}}],"source":{"type":"image","target":{"userInput":"app/web:v1"}},"distro":{"name":"debian","version":"12","idLike":[]},"descriptor":{"name":"grype","version":"0.74.0","timestamp":"2024-01-01T00:00:00Z"}}"#;
    // `aws ecr describe-image-scan-findings` (botocore ecr model: DescribeImageScanFindingsResponse).
    let ecr = format!(
        r#"{{"registryId":"123456789012","repositoryName":"app/web","imageId":{{"imageDigest":"{DIGEST}"}},"imageScanStatus":{{"status":"COMPLETE"}},"imageScanFindings":{{"findingSeverityCounts":{{"HIGH":1}},"findings":[{{"name":"CVE-2024-5535","severity":"HIGH"}}]}}}}"#
    );
    let cyclonedx = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"openssl","version":"3.0.11"}]}"#;
    let scan_event = format!(
        r#"{{"version":"0","detail-type":"Inspector2 Scan","source":"aws.inspector2","detail":{{"scan-status":"INITIAL_SCAN_COMPLETE","repository-name":"arn:aws:ecr:us-east-1:123456789012:repository/app/web","image-digest":"{DIGEST}","finding-severity-counts":{{"CRITICAL":1,"HIGH":0,"MEDIUM":0,"TOTAL":1}}}}}}"#
    );
    let finding_event = r#"{"version":"0","detail-type":"Inspector2 Finding","source":"aws.inspector2","region":"us-east-1","detail":{"findingArn":"arn:aws:inspector2:us-east-1:123456789012:finding/abc","severity":"HIGH","status":"ACTIVE","type":"PACKAGE_VULNERABILITY"}}"#;
    let findings = r#"{"findings":[]}"#;
    let files = [
        ("trivy-empty.json", trivy_empty.to_string()),
        ("trivy-image.json", trivy_image.to_string()),
        ("grype.json", grype.to_string()),
        ("ecr.json", ecr),
        ("sbom.cdx.json", cyclonedx.to_string()),
        ("scan-event.json", scan_event),
        ("finding-event.json", finding_event.to_string()),
        ("findings.json", findings.to_string()),
        ("blank.json", " \n\t\n".to_string()),
    ];
    for (name, text) in &files {
        ctx.write(name, text);
    }
    let p = |name: &str| ctx.path(name).display().to_string();
    const INSPECTOR: &str = "inspector-gate evaluates Amazon Inspector findings: pass `aws inspector2 list-findings` output, or run the gate";
    let mut cases = Vec::new();
    for flag in ["--findings", "--event"] {
        let of = |s: &str| format!("{flag} {s}");
        for (name, cause) in [
            ("trivy-empty.json", "is a trivy report; "),
            ("trivy-image.json", "is a trivy report; "),
            ("grype.json", "is a grype report; "),
            (
                "ecr.json",
                "is `aws ecr describe-image-scan-findings` output; ",
            ),
        ] {
            cases.push(case(
                &of(name),
                &["evaluate", flag, &p(name)],
                2,
                &[cause, INSPECTOR],
            ));
        }
        cases.push(case(
            &of("sbom"),
            &["evaluate", flag, &p("sbom.cdx.json")],
            2,
            &["is a CycloneDX SBOM, not findings: scan it with `inspector-gate scan --sbom FILE`"],
        ));
        cases.push(case(
            &of("finding event"),
            &["evaluate", flag, &p("finding-event.json")],
            2,
            &["is an Inspector2 Finding event (EventBridge): one finding, not the image's findings"],
        ));
    }
    cases.push(case(
        "--findings scan event",
        &["evaluate", "--findings", &p("scan-event.json")],
        2,
        &["is an Inspector2 Scan event (EventBridge): pass it with --event, not --findings"],
    ));
    cases.push(case(
        "--event findings",
        &["evaluate", "--event", &p("findings.json")],
        2,
        &["is a findings file, not an event: pass it with --findings, not --event"],
    ));
    cases.push(case(
        "--findings blank",
        &["evaluate", "--findings", &p("blank.json")],
        2,
        &["is empty: pass what `aws inspector2 list-findings` or `inspector-gate findings` wrote"],
    ));
    cases.push(case(
        "--event blank",
        &["evaluate", "--event", &p("blank.json")],
        2,
        &["is empty: pass the Inspector2 Scan event as EventBridge delivers it"],
    ));
    ctx.check(cases);
    // What each flag takes still works: the scan event is evaluated (its CRITICAL fails).
    let (code, out, err) = ctx.run(&case(
        "the event where it belongs",
        &[
            "evaluate",
            "--event",
            &p("scan-event.json"),
            "--fail-on",
            "CRITICAL",
        ],
        1,
        &[],
    ));
    assert_eq!(code, 1, "{out}\n{err}");
}

/// Paths inside a layout, by digest.
fn blob(dir: &Path, digest: &str) -> PathBuf {
    fixtures::blob_path(dir, digest)
}

fn write_index_json(dir: &Path, descs: serde_json::Value) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index =
        serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn desc(media_type: &str, digest: &str, size: u64) -> serde_json::Value {
    serde_json::json!({ "mediaType": media_type, "digest": digest, "size": size })
}

/// Write an index listing `child` `copies` times; returns (digest, size).
fn write_fanout(dir: &Path, child: &serde_json::Value, copies: usize) -> (String, u64) {
    let idx = serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": vec![child.clone(); copies] });
    write_blob(dir, &serde_json::to_vec(&idx).unwrap())
}

/// A tar written header by header, so that names and links `tar::Builder` refuses can be made.
fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        if !link.is_empty() {
            h.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

#[test]
fn bad_oci_layouts_and_archives_fail_on_the_source() {
    let ctx = Ctx::new();
    let root = ctx.dir.path();
    // Each case gets its own copy of a good single-arch layout, then breaks it.
    let fresh = |name: &str| fixtures::single_arch(&root.join(name), "v1", 3, &[2_000, 500]);
    let mut cases = Vec::new();
    let mut push = |name: &str, spec: String, code: i32, cause: &[&'static str]| {
        cases.push(case(
            &format!("push: {name}"),
            &["push", "--push-from", &spec, "--image", "app/web:v1"],
            code,
            cause,
        ));
    };

    push(
        "nonexistent oci dir",
        format!("oci:{}/nope", root.display()),
        2,
        &["the OCI layout directory", "does not exist"],
    );
    push(
        "nonexistent oci-archive",
        format!("oci-archive:{}/nope.tar", root.display()),
        2,
        &["the archive", "does not exist"],
    );
    push(
        "nonexistent docker-archive",
        format!("docker-archive:{}/nope.tar", root.display()),
        2,
        &["the archive", "does not exist"],
    );
    push(
        "unknown source kind",
        "tarball:x.tar".into(),
        2,
        &["unknown kind 'tarball'"],
    );
    push(
        "oci: on a file",
        format!("oci:{}", ctx.write("plain-file", "x")),
        2,
        &["is not a directory", "oci-archive:"],
    );

    let l = fresh("no-index");
    std::fs::remove_file(l.dir.join("index.json")).unwrap();
    push("missing index.json", l.spec(), 4, &["has no index.json"]);

    let l = fresh("no-marker");
    std::fs::remove_file(l.dir.join("oci-layout")).unwrap();
    push("missing oci-layout", l.spec(), 4, &["no oci-layout file"]);

    let l = fresh("bad-index");
    std::fs::write(l.dir.join("index.json"), b"{\"manifests\": [").unwrap();
    push(
        "truncated index.json",
        l.spec(),
        4,
        &["index.json", "not a valid image index"],
    );

    let l = fresh("empty-index");
    write_index_json(&l.dir, serde_json::json!([]));
    push(
        "index.json lists nothing",
        format!("oci:{}", l.dir.display()),
        4,
        &["holds no image"],
    );

    let l = fresh("no-such-ref");
    push(
        "unknown ref name",
        format!("oci:{}:v2", l.dir.display()),
        2,
        &["no image named 'v2'", "v1"],
    );

    let l = fresh("missing-layer");
    std::fs::remove_file(l.blob_path(&l.images[0].1.layers[1])).unwrap();
    push(
        "missing layer blob",
        l.spec(),
        4,
        &["layer sha256:", "is missing from"],
    );

    let l = fresh("missing-config");
    std::fs::remove_file(l.blob_path(&l.images[0].1.config)).unwrap();
    push(
        "missing config blob",
        l.spec(),
        4,
        &["config sha256:", "is missing from"],
    );

    let l = fresh("missing-manifest");
    std::fs::remove_file(l.blob_path(&l.digest)).unwrap();
    push(
        "missing manifest blob",
        l.spec(),
        4,
        &["manifest sha256:", "is missing from"],
    );

    let l = fresh("manifest-mismatch");
    fixtures::corrupt(&l.blob_path(&l.digest));
    push(
        "manifest digest mismatch",
        l.spec(),
        4,
        &["does not match its digest"],
    );

    let l = fresh("layer-size");
    fixtures::truncate(&l.blob_path(&l.images[0].1.layers[0]), 100);
    push(
        "layer size mismatch",
        l.spec(),
        4,
        &["has 100 bytes but its descriptor says"],
    );

    let l = fresh("bad-digest");
    write_index_json(
        &l.dir,
        serde_json::json!([desc(OCI_MANIFEST, "sha256:../../../etc/passwd", 10)]),
    );
    push(
        "invalid digest in index.json",
        format!("oci:{}", l.dir.display()),
        4,
        &["invalid digest 'sha256:../../../etc/passwd'"],
    );

    // A manifest of an unknown media type, correctly addressed.
    let l = fresh("unknown-media-type");
    let odd =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json","blobs":[]}"#;
    let (d, n) = write_blob(&l.dir, odd);
    write_index_json(
        &l.dir,
        serde_json::json!([desc("application/vnd.example.thing.v1+json", &d, n)]),
    );
    push(
        "unknown manifest media type",
        format!("oci:{}", l.dir.display()),
        4,
        &[
            "application/vnd.example.thing.v1+json",
            "not an image manifest or index",
        ],
    );

    let l = fresh("schema1");
    let (d, n) = write_blob(
        &l.dir,
        br#"{"schemaVersion":1,"name":"app","tag":"v1","fsLayers":[]}"#,
    );
    write_index_json(
        &l.dir,
        serde_json::json!([desc(
            "application/vnd.docker.distribution.manifest.v1+json",
            &d,
            n
        )]),
    );
    push(
        "docker schema 1 manifest",
        format!("oci:{}", l.dir.display()),
        4,
        &["schema 1"],
    );

    #[cfg(unix)]
    {
        let outside = ctx.write("outside-secret", br#"{"schemaVersion":2,"manifests":[]}"#);
        let l = fresh("link-index");
        std::fs::remove_file(l.dir.join("index.json")).unwrap();
        std::os::unix::fs::symlink(&outside, l.dir.join("index.json")).unwrap();
        push(
            "index.json links outside the layout",
            l.spec(),
            4,
            &["outside the layout", "refusing to read it"],
        );

        let l = fresh("link-blob");
        let layer = l.blob_path(&l.images[0].1.layers[0]);
        std::fs::remove_file(&layer).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &layer).unwrap();
        push(
            "layer blob links to /etc/passwd",
            l.spec(),
            4,
            &["outside the layout"],
        );

        let l = fresh("link-dir");
        let blobs = l.dir.join("blobs");
        std::fs::rename(&blobs, root.join("moved-blobs")).unwrap();
        std::os::unix::fs::symlink(root.join("moved-blobs"), &blobs).unwrap();
        push(
            "blobs/ links outside the layout",
            l.spec(),
            4,
            &["outside the layout"],
        );
    }

    // An index naming itself: the blob at digest D lists D. It can only be found by its digest
    // check (a document cannot contain its own hash).
    let l = fresh("self-ref");
    let fake = sha256(b"self");
    let mut size = 0;
    let bytes = loop {
        // Its own size is part of it: iterate to the fixed point so only the digest is wrong.
        let me = serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc(OCI_INDEX, &fake, size)] });
        let bytes = serde_json::to_vec(&me).unwrap();
        if bytes.len() as u64 == size {
            break bytes;
        }
        size = bytes.len() as u64;
    };
    std::fs::write(blob(&l.dir, &fake), &bytes).unwrap();
    write_index_json(&l.dir, serde_json::json!([desc(OCI_INDEX, &fake, size)]));
    push(
        "index referring to itself",
        format!("oci:{}", l.dir.display()),
        4,
        &["does not match its digest"],
    );

    // Indexes nested deeper than any builder writes.
    let l = fresh("deep");
    let mut child = desc(OCI_MANIFEST, &l.digest, l.bytes.len() as u64);
    for _ in 0..8 {
        let (d, n) = write_fanout(&l.dir, &child, 1);
        child = desc(OCI_INDEX, &d, n);
    }
    write_index_json(&l.dir, serde_json::json!([child]));
    push(
        "indexes nested 8 deep",
        format!("oci:{}", l.dir.display()),
        4,
        &["nests indexes more than"],
    );

    // A "zip bomb" of indexes: each level lists the next 100 times (10^8 paths to one manifest).
    let l = fresh("fanout");
    let mut child = desc(OCI_MANIFEST, &l.digest, l.bytes.len() as u64);
    for _ in 0..4 {
        let (d, n) = write_fanout(&l.dir, &child, 100);
        child = desc(OCI_INDEX, &d, n);
    }
    write_index_json(&l.dir, serde_json::json!([child]));
    push(
        "index fan-out of 10^8 manifests",
        format!("oci:{}", l.dir.display()),
        4,
        &["more than 1000 manifests"],
    );

    // Few manifests, but one of 1 MiB listed 100 times: every copy would be held in memory.
    let l = fresh("fat-fanout");
    let img = &l.images[0].1;
    let fat = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", &img.config, std::fs::metadata(l.blob_path(&img.config)).unwrap().len()),
        "layers": [],
        "annotations": { "padding": "x".repeat(1 << 20) }
    });
    let (d, n) = write_blob(&l.dir, &serde_json::to_vec(&fat).unwrap());
    let (d, n) = write_fanout(&l.dir, &desc(OCI_MANIFEST, &d, n), 100);
    write_index_json(&l.dir, serde_json::json!([desc(OCI_INDEX, &d, n)]));
    push(
        "index listing a 1 MiB manifest 100 times",
        format!("oci:{}", l.dir.display()),
        4,
        &["more than 64 MiB of manifests"],
    );

    // Archives.
    let l = fresh("for-tar");
    let tar = root.join("image.tar");
    fixtures::tar_layout(&l.dir, &tar);
    let len = std::fs::metadata(&tar).unwrap().len();
    let cut = root.join("cut.tar");
    std::fs::copy(&tar, &cut).unwrap();
    fixtures::truncate(&cut, len / 2);
    push(
        "truncated oci-archive",
        format!("oci-archive:{}", cut.display()),
        4,
        &["truncated"],
    );
    push(
        "truncated docker-archive",
        format!("docker-archive:{}", cut.display()),
        4,
        &["truncated"],
    );
    push(
        "oci-archive is a layout dir",
        format!("oci-archive:{}", l.dir.display()),
        2,
        &["is a directory, not a tar file", "oci:"],
    );
    push(
        "docker-archive of an OCI layout",
        format!("docker-archive:{}", tar.display()),
        4,
        &["no manifest.json", "use oci-archive:"],
    );
    let garbage = ctx.write(
        "garbage.tar",
        (0..10_000u32)
            .map(|i| (i * 7 + 3) as u8)
            .collect::<Vec<u8>>(),
    );
    push(
        "oci-archive of garbage",
        format!("oci-archive:{garbage}"),
        4,
        &["not a tar file"],
    );
    let escapes = ctx.write("escapes.tar", b"\x1b]0;pwned\x07\x1b[2J".repeat(64));
    push(
        "oci-archive of terminal escapes",
        format!("oci-archive:{escapes}"),
        4,
        &["not a tar file"],
    );

    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let f = ctx.write(
        "dotdot.tar",
        raw_tar(&[
            ("oci-layout", tar::EntryType::Regular, layout, ""),
            ("../escape", tar::EntryType::Regular, b"x", ""),
        ]),
    );
    push(
        "archive entry climbing out with ..",
        format!("oci-archive:{f}"),
        4,
        &["'../escape'", "'..'"],
    );
    let f = ctx.write(
        "abs.tar",
        raw_tar(&[("/etc/index.json", tar::EntryType::Regular, b"{}", "")]),
    );
    push(
        "archive entry with an absolute name",
        format!("oci-archive:{f}"),
        4,
        &["absolute path"],
    );
    let f = ctx.write(
        "symlink-out.tar",
        raw_tar(&[
            ("oci-layout", tar::EntryType::Regular, layout, ""),
            (
                "index.json",
                tar::EntryType::Symlink,
                b"",
                "../../etc/passwd",
            ),
        ]),
    );
    push(
        "archive symlink escaping",
        format!("oci-archive:{f}"),
        4,
        &["points outside the source"],
    );
    let f = ctx.write(
        "symlink-abs.tar",
        raw_tar(&[("index.json", tar::EntryType::Symlink, b"", "/etc/passwd")]),
    );
    push(
        "archive symlink to an absolute path",
        format!("oci-archive:{f}"),
        4,
        &["absolute path"],
    );
    let f = ctx.write(
        "hardlink-out.tar",
        raw_tar(&[("index.json", tar::EntryType::Link, b"", "../etc/passwd")]),
    );
    push(
        "archive hard link escaping",
        format!("oci-archive:{f}"),
        4,
        &["'..'"],
    );
    let f = ctx.write(
        "loop.tar",
        raw_tar(&[
            ("oci-layout", tar::EntryType::Regular, layout, ""),
            ("index.json", tar::EntryType::Symlink, b"", "a"),
            ("a", tar::EntryType::Symlink, b"", "index.json"),
        ]),
    );
    push(
        "archive symlink loop",
        format!("oci-archive:{f}"),
        4,
        &["link loop"],
    );
    let f = ctx.write(
        "no-manifest.tar",
        raw_tar(&[("repositories", tar::EntryType::Regular, b"{}", "")]),
    );
    push(
        "docker-archive without manifest.json",
        format!("docker-archive:{f}"),
        4,
        &["no manifest.json"],
    );
    let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]}}"#;
    let f = ctx.write(
        "docker-missing-layer.tar",
        raw_tar(&[
            (
                "manifest.json",
                tar::EntryType::Regular,
                br#"[{"Config":"config.json","RepoTags":["app:1"],"Layers":["abc/layer.tar"]}]"#,
                "",
            ),
            ("config.json", tar::EntryType::Regular, cfg, ""),
        ]),
    );
    push(
        "docker-archive missing a layer",
        format!("docker-archive:{f}"),
        4,
        &["layer 1 (abc/layer.tar)", "is missing"],
    );
    let f = ctx.write(
        "docker-config-escape.tar",
        raw_tar(&[(
            "manifest.json",
            tar::EntryType::Regular,
            br#"[{"Config":"../../etc/passwd","Layers":[]}]"#,
            "",
        )]),
    );
    push(
        "docker-archive config path escaping",
        format!("docker-archive:{f}"),
        4,
        &["'..'"],
    );

    // The one corruption the source cannot see without hashing every layer twice: a layer of
    // the right size with the wrong bytes is caught while it is hashed during the upload, so
    // with nothing listening the registry connection fails first.
    let l = fresh("layer-bytes");
    fixtures::corrupt(&l.blob_path(&l.images[0].1.layers[0]));
    push(
        "layer bytes corrupt (fails on connect)",
        l.spec(),
        4,
        &["cannot talk to registry 127.0.0.1", "Connection refused"],
    );
    cases.last_mut().unwrap().fails_on_connect = true;

    let creds = [
        (
            "INSPECTOR_GATE_REGISTRY_USERNAME".to_string(),
            "AWS".to_string(),
        ),
        (
            "INSPECTOR_GATE_REGISTRY_PASSWORD".to_string(),
            "not-a-real-password".to_string(),
        ),
    ];
    for c in &mut cases {
        c.args
            .extend(["--registry-url".to_string(), ctx.closed.clone()]);
        c.env.extend(creds.iter().cloned());
    }
    ctx.check(cases);
}

#[test]
fn cli_combinations_that_make_no_sense_are_usage_errors() {
    let ctx = Ctx::new();
    // `oci:x` exists (empty): the combination is the error, not the source (the preflight
    // would name a missing one first).
    std::fs::create_dir_all(ctx.path("x")).unwrap();
    let report = ctx.write("report.json", "{}");
    let img = ["gate", "--image", "app/web:v1"];
    let with = |extra: &[&str]| -> Vec<String> {
        img.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let mut cases = Vec::new();
    let mut add = |name: &str, args: Vec<String>, cause: &[&'static str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cases.push(case(name, &args, 2, cause));
    };
    add(
        "--pipeline-execution-id without --approve",
        with(&["--pipeline-execution-id", "e-1"]),
        &["--pipeline-execution-id", "--approve"],
    );
    add(
        "--image-definitions without --container-name",
        with(&["--image-definitions", "defs.json"]),
        &["required arguments were not provided: --container-name"],
    );
    add(
        "--push-from with two images",
        vec![
            "gate".into(),
            "--push-from".into(),
            "oci:x".into(),
            "--image".into(),
            "app/a:v1".into(),
            "--image".into(),
            "app/b:v1".into(),
        ],
        &["1 --push-from and 2 --image", "one destination per source"],
    );
    let two_pushes = |dests: [&str; 2], extra: &[&str]| -> Vec<String> {
        let mut v = vec!["gate".to_string()];
        for d in dests {
            v.extend(["--push-from", "oci:x", "--image", d].map(str::to_string));
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    add(
        "two --push-from to one destination",
        two_pushes(["app/a:v1", "app/a:v1"], &[]),
        &["two --push-from go to app/a:v1"],
    );
    add(
        "--tag with two --push-from into one repository",
        two_pushes(["app/a:v1", "app/a:v2"], &["--tag", "latest"]),
        &["--tag with two --push-from into app/a", "move it"],
    );
    add(
        "--tag without --push-from",
        with(&["--tag", "latest"]),
        &["--tag adds tags to a pushed image: it needs --push-from"],
    );
    add(
        "--image-definitions with two images",
        vec![
            "gate".into(),
            "--image".into(),
            "app/a:v1,app/b:v1".into(),
            "--image-definitions".into(),
            "d.json".into(),
            "--container-name".into(),
            "web".into(),
        ],
        &["exactly one --image"],
    );
    add(
        "--timeout 0",
        with(&["--timeout", "0"]),
        &["--timeout", "greater than zero"],
    );
    add(
        "--timeout 0s",
        with(&["--timeout", "0s"]),
        &["--timeout", "greater than zero"],
    );
    // What trivy users type by habit gets what this tool does instead.
    add(
        "trivy's --severity",
        with(&["--severity", "HIGH,CRITICAL"]),
        &["'--severity'", "--fail-on SEVERITY"],
    );
    add(
        "trivy's --exit-code",
        with(&["--exit-code", "1"]),
        &["'--exit-code'", "exit code is fixed"],
    );
    add(
        "trivy's --ignorefile",
        with(&["--ignorefile=.trivyignore"]),
        &["'--ignorefile'", "[[ignore]]"],
    );
    add(
        "--timeout without a unit",
        with(&["--timeout", "30"]),
        &["--timeout", "'30' has no unit", "30s or 30m"],
    );
    add(
        "--timeout words",
        with(&["--timeout", "soon"]),
        &["--timeout", "invalid duration 'soon'"],
    );
    add(
        "--poll-interval 0",
        with(&["--poll-interval", "0"]),
        &["--poll-interval", "greater than zero"],
    );
    add(
        "unknown --format",
        with(&["--format", "xml"]),
        &["'xml'", "--format"],
    );
    add(
        "unknown --on-timeout",
        with(&["--on-timeout", "maybe"]),
        &["'maybe'", "--on-timeout"],
    );
    add(
        "unknown --color",
        with(&["--color", "sometimes"]),
        &["'sometimes'", "--color"],
    );
    add(
        "unknown --fail-on severity",
        with(&["--fail-on", "SEVERE"]),
        &["--fail-on", "unknown severity 'SEVERE'"],
    );
    add(
        "--approve with 1 part",
        with(&["--approve", "just-one-part"]),
        &["--approve 'just-one-part'", "PIPELINE/STAGE/ACTION"],
    );
    add(
        "--approve with 2 parts outside CodeBuild",
        with(&["--approve", "Stage/Action"]),
        &["no pipeline name", "CODEBUILD_INITIATOR"],
    );
    add(
        "--approve with 4 parts",
        with(&["--approve", "a/b/c/d"]),
        &["--approve 'a/b/c/d'", "PIPELINE/STAGE/ACTION"],
    );
    add(
        "--approve with an empty part",
        with(&["--approve", "p//a"]),
        &["no empty part"],
    );
    add(
        "--quiet with --verbose",
        with(&["--quiet", "--verbose"]),
        &["the argument '--quiet' cannot be used with '--verbose'"],
    );
    add(
        "-q with -v",
        vec![
            "-q".into(),
            "-v".into(),
            "gate".into(),
            "--image".into(),
            "app/web:v1".into(),
        ],
        &["the argument '--quiet' cannot be used with '--verbose'"],
    );
    add(
        "unknown flag",
        with(&["--frobnicate"]),
        &["unexpected argument '--frobnicate'"],
    );
    add("no image", vec!["gate".into()], &["no image to gate"]);
    add("no subcommand", vec![], &["a command is required"]);
    add(
        "hook without its subcommand",
        vec!["hook".into()],
        &["a command is required"],
    );
    add(
        "unknown subcommand",
        vec!["sacn".into()],
        &["unrecognized subcommand 'sacn'"],
    );
    add(
        "push to a digest",
        vec![
            "push".into(),
            "--push-from".into(),
            "oci:x".into(),
            "--image".into(),
            format!("app/web@{DIGEST}"),
        ],
        &["is a digest", "give a tag"],
    );
    add(
        "push with a bad extra tag",
        vec![
            "push".into(),
            "--push-from".into(),
            "oci:x".into(),
            "--image".into(),
            "app/web:v1".into(),
            "--tag".into(),
            "bad tag!".into(),
        ],
        &["invalid tag"],
    );
    add(
        "push without --push-from",
        vec!["push".into(), "--image".into(), "app/web:v1".into()],
        &["required arguments were not provided: --push-from"],
    );
    add(
        "evaluate with --findings and --event",
        vec![
            "evaluate".into(),
            "--findings".into(),
            "a".into(),
            "--event".into(),
            "b".into(),
        ],
        &["'--findings <FILE>' cannot be used with '--event <FILE>'"],
    );
    add(
        "evaluate with neither",
        vec!["evaluate".into()],
        &["required arguments were not provided: --findings"],
    );
    add(
        "approve with 1 part",
        vec![
            "approve".into(),
            "--report".into(),
            report.clone(),
            "--approve".into(),
            "x".into(),
        ],
        &["PIPELINE/STAGE/ACTION"],
    );
    add(
        "approve --timeout 0",
        vec![
            "approve".into(),
            "--report".into(),
            report.clone(),
            "--approve".into(),
            "p/s/a".into(),
            "--timeout".into(),
            "0".into(),
        ],
        &["--timeout", "greater than zero"],
    );
    add(
        "approve a report that is not one",
        vec![
            "approve".into(),
            "--report".into(),
            report,
            "--approve".into(),
            "p/s/a".into(),
        ],
        &["is not an inspector-gate report.json: no schemaVersion"],
    );
    add(
        "findings --timeout 0",
        vec![
            "findings".into(),
            "--image".into(),
            "app/web:v1".into(),
            "--timeout".into(),
            "0".into(),
        ],
        &["--timeout", "greater than zero"],
    );
    ctx.check(cases);
}

/// An `Inspector2 Scan` event carries CRITICAL/HIGH/MEDIUM/TOTAL counts only: what they cannot
/// decide is exit 3, never a pass; what they can decide is decided.
#[test]
fn scan_events_decide_only_what_their_counts_can() {
    let ctx = Ctx::new();
    let ev = ctx.write(
        "event.json",
        format!(
            r#"{{"detail-type":"Inspector2 Scan","source":"aws.inspector2","detail":{{"scan-status":"INITIAL_SCAN_COMPLETE",
            "repository-name":"arn:aws:ecr:us-east-1:123456789012:repository/app/web","image-digest":"sha256:{}",
            "image-tags":["v1"],"finding-severity-counts":{{"CRITICAL":1,"HIGH":0,"MEDIUM":2,"TOTAL":7}}}}}}"#,
            "a".repeat(64)
        ),
    );
    ctx.check(vec![
        // LOW shares the remainder 7 - 1 - 0 - 2 = 4 with INFORMATIONAL and UNTRIAGED.
        case(
            "low max below the remainder",
            &["evaluate", "--event", &ev, "--max-low", "3"],
            3,
            &["cannot be checked"],
        ),
        // A filter could remove the CRITICAL: the counts cannot decide it.
        case(
            "critical with a filter",
            &[
                "evaluate",
                "--event",
                &ev,
                "--max-critical",
                "0",
                "--min-epss",
                "0.5",
            ],
            3,
            &["cannot show what the filters"],
        ),
    ]);
    // Decided: a CRITICAL over its maximum with nothing to remove it fails; a LOW maximum the
    // remainder fits passes.
    let (code, out, err) = ctx.run(&case(
        "critical over its maximum",
        &["evaluate", "--event", &ev, "--fail-on", "CRITICAL"],
        1,
        &[],
    ));
    assert_eq!(code, 1, "{out}\n{err}");
    let (code, out, err) = ctx.run(&case(
        "low max at the remainder",
        &["evaluate", "--event", &ev, "--max-low", "4"],
        0,
        &[],
    ));
    assert_eq!(code, 0, "{out}\n{err}");
}
