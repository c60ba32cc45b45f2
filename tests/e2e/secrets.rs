//! Secrets never leave the process: the real binary runs push, gate and approve at `-v`
//! against moto (ECR and its authorization token), a real registry that only takes that
//! token's password (as ECR's does), and the scripted Inspector2/CodePipeline server, on
//! passing and failing paths. Neither stdout, stderr, nor any file the run writes (reports,
//! hand-off files, GitHub/CodeBuild outputs) may contain the registry password (or its base64
//! Basic-auth form), the AWS secret key, the session token, or any approval token.
//! `SECRETS_SHOW=1 cargo test --test secrets -- --nocapture` prints what each run printed.

use crate::support;

use base64::Engine as _;
use serde_json::Value;
use std::collections::VecDeque;
use std::path::Path;
use std::process::Output;
use support::aws::{self as a, text};
use support::fixtures::{self, Layout};
use support::gated::ECR_PASSWORD;
use support::moto::Moto;
use support::registry::Registry;
use support::scenario::{
    finding, ApprovalExec, DigestScript, PipelineScript, Read, Scenario, ScenarioState,
};
use support::world::{self, APPROVE, REPO};

/// `support::aws::aws_env`'s dummy secret key.
const AWS_SECRET: &str = "test-secret-key-do-not-leak";
const SESSION_TOKEN: &str = "session-token-do-not-leak-FQoGZXIvYXdzEJr";
const TOKEN: &str = "approval-token-0b7e-do-not-leak";
const DECOY_TOKEN: &str = "approval-token-decoy-do-not-leak";
/// The token of a later pipeline run of the same image (answered by `approve`).
const RERUN_TOKEN: &str = "approval-token-rerun-do-not-leak";
const OTHER_PASSWORD: &str = "other-registry-password-do-not-leak";
const STATIC_PASSWORD: &str = "static-registry-password-do-not-leak";
const FAST: &[&str] = &[
    "--poll-interval",
    "50ms",
    "--settle",
    "100ms",
    "--timeout",
    "60s",
];

fn secrets() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        ECR_PASSWORD.into(),
        b64(&format!("AWS:{ECR_PASSWORD}")),
        AWS_SECRET.into(),
        SESSION_TOKEN.into(),
        TOKEN.into(),
        DECOY_TOKEN.into(),
        RERUN_TOKEN.into(),
        OTHER_PASSWORD.into(),
        b64(&format!("AWS:{OTHER_PASSWORD}")),
        STATIC_PASSWORD.into(),
        b64(&format!("AWS:{STATIC_PASSWORD}")),
    ]
}

/// An attempt waiting at the approval from the start.
fn exec(id: &str, token: &str, custom: String) -> ApprovalExec {
    world::exec(id, token, Some(custom), 0)
}

/// A pipeline whose approval waits with a decoy execution (another image) and ours.
fn pipeline(digest: &str, put_error: Option<&'static str>) -> PipelineScript {
    PipelineScript {
        put_error,
        ..world::pipeline(vec![
            exec(
                "e-decoy",
                DECOY_TOKEN,
                format!("Image_Digest=sha256:{}", "1".repeat(64)),
            ),
            exec("e-ours", TOKEN, format!("Image_Digest={digest}")),
        ])
    }
}

/// moto (with an enhanced-scanned repository), an OCI layout to push, and a work dir.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
    src: Layout,
}

impl World {
    fn new() -> World {
        let moto = world::moto();
        let dir = tempfile::tempdir().unwrap();
        let src = fixtures::single_arch(&dir.path().join("oci"), "v1", 4242, &[30_000, 2_000]);
        World { moto, dir, src }
    }

    /// Inspector says the pushed digest was scanned long ago, with one LOW finding, unless `read` says otherwise.
    fn scenario(&self, read: Read, put_error: Option<&'static str>) -> Scenario {
        let d = &self.src.digest;
        let script = DigestScript {
            coverage: VecDeque::from(vec![world::done_long_ago()]),
            reads: VecDeque::from(vec![read]),
        };
        Scenario::start(ScenarioState {
            images: [(d.clone(), script)].into_iter().collect(),
            pipeline: Some(pipeline(d, put_error)),
            ..Default::default()
        })
    }

    fn low(&self) -> Read {
        Read::Findings(vec![finding(
            "CVE-2024-0002",
            "LOW",
            "zlib",
            "1.2.11",
            None,
            &self.src.digest,
            REPO,
        )])
    }

    /// Run the binary at `-v` with a session token and every CI output switched on, writing
    /// into the work dir.
    fn run(&self, scen: &Scenario, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let ci = self.dir.path().join("ci");
        std::fs::create_dir_all(&ci).unwrap();
        let paths: Vec<(String, String)> = [
            ("GITHUB_OUTPUT", "github-output"),
            ("GITHUB_STEP_SUMMARY", "step-summary.md"),
            ("INSPECTOR_GATE_CODEBUILD_ENV_FILE", "codebuild.env"),
        ]
        .iter()
        .map(|(k, f)| (k.to_string(), ci.join(f).display().to_string()))
        .collect();
        let mut env: Vec<(&str, &str)> = vec![
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ("GITHUB_ACTIONS", "true"),
            ("CODEBUILD_BUILD_ID", "inspector-gate:1"),
        ];
        env.extend(paths.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        env.extend_from_slice(extra);
        let mut full = vec!["-v"];
        full.extend_from_slice(args);
        a::run(&self.moto.url, &scen.url, &full, &env, self.dir.path())
    }

    /// No secret in the run's stdout and stderr, nor in any file under the work dir (the
    /// image layout aside: it is the input).
    fn assert_clean(&self, what: &str, o: &Output) {
        let (_, out, err) = text(o);
        if std::env::var_os("SECRETS_SHOW").is_some() {
            eprintln!("== {what}\n{out}{err}");
        }
        for s in secrets() {
            assert!(!out.contains(&s), "{what}: stdout contains {s}:\n{out}");
            assert!(!err.contains(&s), "{what}: stderr contains {s}:\n{err}");
        }
        let mut files = Vec::new();
        walk(self.dir.path(), &self.src.dir, &mut files);
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            for s in secrets() {
                assert!(
                    !contains(&bytes, s.as_bytes()),
                    "{what}: {} contains {s}",
                    f.display()
                );
            }
        }
    }
}

fn walk(dir: &Path, skip: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p == skip {
            continue;
        }
        if p.is_dir() {
            walk(&p, skip, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn approvals(scen: &Scenario) -> Vec<(String, String)> {
    scen.state
        .lock()
        .unwrap()
        .approvals
        .iter()
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect()
}

#[test]
fn push_gate_and_approve_at_verbose_print_no_secret() {
    let w = World::new();
    let reg = Registry::start_as("AWS", ECR_PASSWORD);
    let scen = w.scenario(w.low(), None);
    let spec = w.src.spec();
    let url = reg.url();

    let mut args = vec![
        "gate",
        "--push-from",
        &spec,
        "--image",
        "app/web:v1",
        "--registry-url",
        &url,
    ];
    args.extend_from_slice(&[
        "--fail-on",
        "CRITICAL",
        "--approve",
        APPROVE,
        "--report-dir",
        "r",
    ]);
    args.extend_from_slice(&[
        "--image-definitions",
        "imagedefinitions.json",
        "--container-name",
        "web",
        "--image-detail",
        "imageDetail.json",
    ]);
    args.extend_from_slice(FAST);
    let o = w.run(&scen, &args, &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("debug:"), "ran at -v: {err}");
    assert_eq!(
        approvals(&scen),
        vec![(TOKEN.to_string(), "Approved".to_string())],
        "approved our execution only"
    );
    for f in [
        "r/report.json",
        "r/report.sarif",
        "r/junit.xml",
        "r/summary.md",
        "imagedefinitions.json",
        "imageDetail.json",
        "ci/github-output",
        "ci/step-summary.md",
    ] {
        assert!(w.dir.path().join(f).exists(), "{f} written");
    }
    w.assert_clean("gate --push-from --approve", &o);

    // The phases alone: push, findings, approve from the saved report.
    let o = w.run(
        &scen,
        &[
            "push",
            "--push-from",
            &spec,
            "--image",
            "app/web:v2",
            "--registry-url",
            &url,
            "--json",
        ],
        &[],
    );
    let (code, out, err) = text(&o);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["digest"], w.src.digest.as_str());
    w.assert_clean("push", &o);

    // moto's ECR learns the image too (the push went to the real registry), so that
    // `findings` resolves the tag to the same digest.
    let manifest = String::from_utf8(w.src.bytes.clone()).unwrap();
    a::put_manifest(
        &w.moto.url,
        REPO,
        Some("v1"),
        &manifest,
        fixtures::OCI_MANIFEST,
    );
    let mut args = vec![
        "findings",
        "--image",
        "app/web:v1",
        "--output",
        "findings.json",
    ];
    args.extend_from_slice(FAST);
    let o = w.run(&scen, &args, &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(std::fs::read_to_string(w.dir.path().join("findings.json"))
        .unwrap()
        .contains("CVE-2024-0002"));
    w.assert_clean("findings", &o);

    // The gate answered TOKEN; CodePipeline refuses a second answer to it. A later run of
    // the pipeline for the same image waits at the approval: `approve` answers that one.
    let d = w.src.digest.clone();
    scen.state
        .lock()
        .unwrap()
        .pipeline
        .as_mut()
        .unwrap()
        .executions
        .push(exec("e-rerun", RERUN_TOKEN, format!("Image_Digest={d}")));
    let mut args = vec!["approve", "--report", "r/report.json", "--approve", APPROVE];
    args.extend_from_slice(&["--poll-interval", "50ms", "--timeout", "20s"]);
    let o = w.run(&scen, &args, &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 0, "{out}\n{err}");
    let answered: Vec<String> = scen
        .state
        .lock()
        .unwrap()
        .approvals
        .iter()
        .map(|(t, _, _)| t.clone())
        .collect();
    assert_eq!(answered, [TOKEN, RERUN_TOKEN]);
    w.assert_clean("approve", &o);
}

#[test]
fn failing_paths_at_verbose_print_no_secret() {
    let w = World::new();
    let spec = w.src.spec();
    let gate = |scen: &Scenario, url: &str, extra: &[(&str, &str)]| {
        let mut args = vec![
            "gate",
            "--push-from",
            &spec,
            "--image",
            "app/web:v1",
            "--registry-url",
            url,
        ];
        args.extend_from_slice(&[
            "--fail-on",
            "CRITICAL",
            "--approve",
            APPROVE,
            "--report-dir",
            "r",
        ]);
        args.extend_from_slice(FAST);
        w.run(scen, &args, extra)
    };

    // The registry wants another password than the one ECR handed out.
    let other = Registry::start_as("AWS", OTHER_PASSWORD);
    let scen = w.scenario(w.low(), None);
    let o = gate(&scen, &other.url(), &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 4, "{out}\n{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        line.contains("registry authentication failed for app/web")
            // (while connecting or while checking a blob: concurrent requests race)
            && line.contains("HTTP 401")
            && line.contains("check the registry username and password"),
        "names the refusal: {err}"
    );
    assert!(approvals(&scen).is_empty());
    w.assert_clean("gate against a registry refusing the ECR password", &o);

    // Static credentials for a non-ECR registry, wrong ones.
    let o = w.run(
        &scen,
        &[
            "push",
            "--push-from",
            &spec,
            "--image",
            "app/web:v1",
            "--registry-url",
            &other.url(),
        ],
        &[
            ("INSPECTOR_GATE_REGISTRY_USERNAME", "AWS"),
            ("INSPECTOR_GATE_REGISTRY_PASSWORD", STATIC_PASSWORD),
        ],
    );
    let (code, out, err) = text(&o);
    assert_eq!(code, 4, "{out}\n{err}");
    w.assert_clean("push with wrong static credentials", &o);

    // Inspector denies ListFindings.
    let reg = Registry::start_as("AWS", ECR_PASSWORD);
    let denied = Read::Error {
        status: 403,
        kind: "AccessDeniedException",
        message: "User: arn:aws:sts::123456789012:assumed-role/ci/session is not authorized to perform: inspector2:ListFindings",
    };
    let scen = w.scenario(denied, None);
    let o = gate(&scen, &reg.url(), &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        err.contains("access denied calling inspector2:ListFindings"),
        "{err}"
    );
    assert!(approvals(&scen).is_empty());
    w.assert_clean("gate with inspector2:ListFindings denied", &o);

    // CodePipeline refuses the token (expired): the error names the cause, not the token.
    let scen = w.scenario(w.low(), Some("InvalidApprovalTokenException"));
    let o = gate(&scen, &reg.url(), &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(err.contains("no longer valid"), "{err}");
    w.assert_clean("gate with an expired approval token", &o);

    // An approval that cannot be tied to the image: nothing approved, no token printed.
    let mut args = vec![
        "gate",
        "--push-from",
        &spec,
        "--image",
        "app/web:v1",
        "--registry-url",
    ];
    let url = reg.url();
    args.push(&url);
    args.extend_from_slice(&["--approve", APPROVE, "--pipeline-execution-id", "e-unknown"]);
    args.extend_from_slice(&[
        "--poll-interval",
        "50ms",
        "--settle",
        "100ms",
        "--timeout",
        "3s",
    ]);
    let scen = w.scenario(w.low(), None);
    let o = w.run(&scen, &args, &[]);
    let (code, out, err) = text(&o);
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(approvals(&scen).is_empty());
    w.assert_clean("gate with an untied execution id", &o);
}

/// Every encoding of `user:password` a registry could echo: the raw password and pair, the
/// Basic token padded, unpadded and URL-safe (both), and the whole `Authorization` value.
fn credential_forms(user: &str, password: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let pair = format!("{user}:{password}");
    let mut forms = vec![password.to_string(), pair.clone()];
    for e in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        let token = e.encode(&pair);
        forms.push(format!("Basic {token}"));
        forms.push(token);
    }
    forms
}

/// Nothing of `forms` in `text`: not whole, and for the encoded forms not even 16 characters
/// of them (a message cut to length inside a token must not leave its first part behind).
fn assert_nothing_of(what: &str, text: &str, forms: &[String]) {
    for f in forms {
        assert!(!text.contains(f.as_str()), "{what} contains {f}:\n{text}");
        if f.starts_with("Basic ")
            || f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c))
        {
            let b = f.as_bytes();
            for w in b.windows(16) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(
                    !text.contains(w),
                    "{what} contains part of {f} ({w}):\n{text}"
                );
            }
        }
    }
}

/// A registry (or a proxy) that echoes the request's `Authorization: Basic …` header in its
/// error bodies, in every encoding, on a 401 (JSON, `\/`-escaped), a 403 (text) and a 503
/// (text, retried: the retry notices print it too): the ECR token (from moto's
/// GetAuthorizationToken) and static registry credentials reach neither stdout, stderr (with
/// the GitHub `::error` annotation), the reports nor any CI output file, in any form or in
/// part.
#[test]
fn an_echoing_registry_never_gets_the_token_printed() {
    use support::echo_registry::{Echo, EchoRegistry};
    const ECHO_STATIC: &str = "static-echo-password-3b9f1c0a7e";
    let w = World::new();
    let spec = w.src.spec();
    let scen = w.scenario(w.low(), None);
    let ecr_forms = credential_forms("AWS", ECR_PASSWORD);
    let static_forms = credential_forms("AWS", ECHO_STATIC);
    for mode in [
        Echo::Unauthorized401Json,
        Echo::Forbidden403Text,
        Echo::Unavailable503Text,
    ] {
        for (creds, forms) in [(None, &ecr_forms), (Some(ECHO_STATIC), &static_forms)] {
            let echo = EchoRegistry::start(mode);
            let _ = std::fs::remove_dir_all(w.dir.path().join("r"));
            let mut env: Vec<(&str, &str)> = Vec::new();
            if let Some(p) = creds {
                env.push(("INSPECTOR_GATE_REGISTRY_USERNAME", "AWS"));
                env.push(("INSPECTOR_GATE_REGISTRY_PASSWORD", p));
            }
            let o = w.run(
                &scen,
                &[
                    "gate",
                    "--push-from",
                    &spec,
                    "--image",
                    "app/web:v1",
                    "--registry-url",
                    &echo.url,
                    "--fail-on",
                    "CRITICAL",
                    "--report-dir",
                    "r",
                    "--timeout",
                    "4s",
                ],
                &env,
            );
            let what = format!(
                "{mode:?}, {}",
                if creds.is_some() {
                    "static credentials"
                } else {
                    "ECR token"
                }
            );
            let (code, out, err) = text(&o);
            assert_eq!(code, 4, "{what}: {out}\n{err}");
            // The registry did get the credentials, so its answers held them.
            let seen = echo.seen();
            assert!(
                !seen.is_empty(),
                "{what}: no request reached the echoing registry"
            );
            assert!(seen.iter().all(|a| a == &forms[2]), "{what}: sent {seen:?}");
            let annotation = err
                .lines()
                .find(|l| l.starts_with("::error title=inspector-gate::"))
                .unwrap_or_else(|| panic!("{what}: no ::error annotation: {err}"));
            assert!(annotation.contains("<redacted>"), "{what}: {annotation}");
            if mode == Echo::Unavailable503Text {
                assert!(
                    err.contains("retrying in"),
                    "{what}: no retry notice: {err}"
                );
            }
            assert!(
                err.contains("<redacted>"),
                "{what}: the echo was not shown redacted: {err}"
            );
            assert_nothing_of(&format!("{what}: stdout"), &out, forms);
            assert_nothing_of(&format!("{what}: stderr"), &err, forms);
            let mut files = Vec::new();
            walk(w.dir.path(), &w.src.dir, &mut files);
            for f in &files {
                let body = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
                assert_nothing_of(&format!("{what}: {}", f.display()), &body, forms);
            }
            w.assert_clean(&what, &o);
        }
    }
}
