//! Trust boundaries (issue 12), through the real binary: the gated commit's policy file cannot
//! loosen what the CI owner set (flags, the policy floor from a file or SSM), untrusted text
//! cannot forge CI output or render links, a forged report is not approved, and registry
//! credentials are not sent over plain http to a remote host.

use crate::support;

use inspector_gate::model::{Finding, Severity};
use inspector_gate::report::testing;
use std::path::Path;
use support::aws::{aws_env, offline, text};
use support::moto::Moto;

/// A scratch directory with a findings file holding one CRITICAL finding.
struct Ctx {
    dir: tempfile::TempDir,
}

impl Ctx {
    fn new(findings: &[Finding]) -> Ctx {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("findings.json"),
            serde_json::to_string(findings).unwrap(),
        )
        .unwrap();
        Ctx { dir }
    }
    fn critical() -> Ctx {
        let mut f = testing::finding(0, &testing::image(None));
        assert_eq!(f.severity, Severity::Critical);
        f.fix_available = Some("YES".into());
        Ctx::new(&[f])
    }
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Run the binary in the scratch dir with a clean, offline environment plus `env`.
    fn run(&self, args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        text(&offline(args, &env, self.path()))
    }
}

fn findings_arg(ctx: &Ctx) -> String {
    ctx.path().join("findings.json").display().to_string()
}

#[test]
fn a_flag_fail_on_beats_the_files_maximum() {
    let ctx = Ctx::critical();
    ctx.write(".inspector-gate.toml", "max-critical = 1000000\n");
    let f = findings_arg(&ctx);
    let (code, _, err) = ctx.run(&["evaluate", "--findings", &f], &[]);
    assert_eq!(code, 0, "the file alone allows it: {err}");
    let (code, out, err) = ctx.run(&["evaluate", "--findings", &f, "--fail-on", "HIGH"], &[]);
    assert_eq!(
        code, 1,
        "--fail-on HIGH must fail a CRITICAL finding\n{out}\n{err}"
    );
    let (code, out, _) = ctx.run(
        &["evaluate", "--findings", &f],
        &[("INSPECTOR_GATE_FAIL_ON".into(), "CRITICAL".into())],
    );
    assert_eq!(code, 1, "env beats the file too\n{out}");
    let (code, out, _) = ctx.run(&["config", "--fail-on", "HIGH"], &[]);
    assert_eq!(code, 0);
    let line = out.lines().find(|l| l.starts_with("max-critical")).unwrap();
    assert!(
        line.contains(" 0 ") && line.ends_with("flag --fail-on"),
        "{out}"
    );
    // Booleans both ways, and the missing maximum.
    ctx.write(".inspector-gate.toml", "ignore-unfixed = true\n");
    let (_, out, _) = ctx.run(
        &[
            "config",
            "--ignore-unfixed=false",
            "--max-informational",
            "3",
        ],
        &[],
    );
    assert!(
        out.lines().any(|l| l.starts_with("ignore-unfixed")
            && l.contains("false")
            && l.ends_with("flag --ignore-unfixed")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("max-informational") && l.contains(" 3 ")),
        "{out}"
    );
    // Every key has a flag: unmatched-ignore and the [baseline] counting too, over the file.
    ctx.write(
        ".inspector-gate.toml",
        "unmatched-ignore = \"warn\"\n[baseline]\ncount = \"new\"\n",
    );
    let (code, out, err) = ctx.run(
        &[
            "config",
            "--unmatched-ignore",
            "fail",
            "--baseline-count",
            "all",
            "--baseline-count-severity",
            "LOW=new",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    for (key, value, source) in [
        ("unmatched-ignore", "fail", "flag --unmatched-ignore"),
        ("baseline.count", "all", "flag --baseline-count"),
        (
            "baseline.count-low",
            "new",
            "flag --baseline-count-severity",
        ),
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{key} "))
                && l.contains(&format!(" {value} "))
                && l.ends_with(source)),
            "{key}: {out}"
        );
    }
}

const LOOSE_FILE: &str = "max-critical = 1000000\nignore-unfixed = true\n\n[[ignore]]\nid = \"CVE-2026-10000\"\nreason = \"we accept it\"\n";

fn assert_floor_held(code: i32, out: &str, err: &str, floor: &str) {
    assert_eq!(code, 1, "the floor's fail-on HIGH must hold\n{out}\n{err}");
    for key in ["max-critical", "ignore-unfixed", "ignore CVE-2026-10000"] {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("warning:") && l.contains(key) && l.contains(floor))
            .collect();
        assert_eq!(lines.len(), 1, "one warning for {key}:\n{err}");
    }
}

#[test]
fn a_repository_file_cannot_loosen_a_floor_file() {
    let ctx = Ctx::critical();
    ctx.write(".inspector-gate.toml", LOOSE_FILE);
    let floor = ctx.write("floor.toml", "fail-on = \"HIGH\"\n");
    let f = findings_arg(&ctx);
    let (code, out, err) = ctx.run(
        &["evaluate", "--findings", &f, "--policy-floor", &floor],
        &[],
    );
    assert_floor_held(code, &out, &err, "floor.toml");
    // The floor can allow exactly this ignore; then the finding is accepted.
    let floor = ctx.write(
        "floor2.toml",
        "fail-on = \"HIGH\"\nallow-ignore = [\"CVE-2026-1*\"]\nallow-filters = [\"ignore-unfixed\"]\n",
    );
    ctx.write(
        ".inspector-gate.toml",
        "[[ignore]]\nid = \"CVE-2026-10000\"\nreason = \"we accept it\"\n",
    );
    let (code, out, err) = ctx.run(
        &["evaluate", "--findings", &f],
        &[("INSPECTOR_GATE_POLICY_FLOOR".into(), floor.clone())],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, out, _) = ctx.run(&["config", "--policy-floor", &floor], &[]);
    let line = out.lines().find(|l| l.starts_with("max-critical")).unwrap();
    assert!(line.contains("floor "), "{out}");
}

#[test]
fn a_repository_file_cannot_loosen_a_floor_in_ssm() {
    let moto = Moto::start();
    moto.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/ci/inspector-gate/floor",
        "--type",
        "SecureString",
        "--value",
        "fail-on = \"HIGH\"\n",
    ]);
    let ctx = Ctx::critical();
    ctx.write(".inspector-gate.toml", LOOSE_FILE);
    let f = findings_arg(&ctx);
    let env: Vec<(String, String)> = aws_env(&moto.url);
    let (code, out, err) = ctx.run(
        &[
            "evaluate",
            "--findings",
            &f,
            "--policy-floor",
            "ssm:/ci/inspector-gate/floor",
        ],
        &env,
    );
    assert_floor_held(code, &out, &err, "ssm:/ci/inspector-gate/floor");
    let (code, _, err) = ctx.run(
        &[
            "evaluate",
            "--findings",
            &f,
            "--policy-floor",
            "ssm:/ci/missing",
        ],
        &env,
    );
    assert_eq!(code, 4, "a floor that cannot be read stops the gate: {err}");
    assert!(err.contains("ssm:GetParameter"), "{err}");
}

#[test]
fn a_repository_file_cannot_loosen_a_floor_in_s3() {
    let moto = Moto::start();
    moto.aws(&["s3api", "create-bucket", "--bucket", "ci-policies"]);
    let ctx = Ctx::critical();
    ctx.write("floor-body.toml", "fail-on = \"HIGH\"\n");
    let body = ctx.path().join("floor-body.toml").display().to_string();
    moto.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        "ci-policies",
        "--key",
        "inspector-gate/floor.toml",
        "--body",
        &body,
    ]);
    ctx.write(".inspector-gate.toml", LOOSE_FILE);
    let f = findings_arg(&ctx);
    let env: Vec<(String, String)> = aws_env(&moto.url);
    let floor = "s3://ci-policies/inspector-gate/floor.toml";
    let (code, out, err) = ctx.run(
        &["evaluate", "--findings", &f, "--policy-floor", floor],
        &env,
    );
    assert_floor_held(code, &out, &err, floor);
    let (code, _, err) = ctx.run(
        &[
            "evaluate",
            "--findings",
            &f,
            "--policy-floor",
            "s3://ci-policies/missing.toml",
        ],
        &env,
    );
    assert_eq!(code, 4, "a floor that cannot be read stops the gate: {err}");
    assert!(err.contains("s3:GetObject"), "{err}");
}

/// Issue 21: the floor is read where it lives. A bucket in another region is read again
/// once in the region S3's PermanentRedirect names (`x-amz-bucket-region`; moto serves every
/// region alike, so support::s3_regions answers the redirect as S3 does), and an access
/// denial names `kms:Decrypt` (an SSE-KMS object is denied without it).
#[test]
fn a_floor_bucket_in_another_region_is_read_in_its_region() {
    let moto = Moto::start();
    moto.aws(&[
        "s3api",
        "create-bucket",
        "--bucket",
        "eu-policies",
        "--region",
        "eu-west-1",
        "--create-bucket-configuration",
        "LocationConstraint=eu-west-1",
    ]);
    let ctx = Ctx::critical();
    let body = ctx.write("floor-body.toml", "fail-on = \"HIGH\"\n");
    moto.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        "eu-policies",
        "--key",
        "floor.toml",
        "--body",
        &body,
        "--region",
        "eu-west-1",
    ]);
    let s3 = support::s3_regions::S3Regions::start(&moto.url);
    ctx.write(".inspector-gate.toml", LOOSE_FILE);
    let f = findings_arg(&ctx);
    let mut env: Vec<(String, String)> = aws_env(&moto.url);
    env.push(("AWS_ENDPOINT_URL_S3".into(), s3.url.clone()));
    let floor = "s3://eu-policies/floor.toml";
    let (code, out, err) = ctx.run(
        &["evaluate", "--findings", &f, "--policy-floor", floor],
        &env,
    );
    assert_floor_held(code, &out, &err, floor);
    assert_eq!(
        s3.reads(),
        [
            ("us-east-1".to_string(), 301),
            ("eu-west-1".to_string(), 200)
        ],
        "asked in the run's region, redirected, read once in the bucket's"
    );
    s3.deny_reads();
    let (code, _, err) = ctx.run(
        &["evaluate", "--findings", &f, "--policy-floor", floor],
        &env,
    );
    assert_eq!(code, 4, "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        line.contains("AccessDenied")
            && line.contains("s3:GetObject")
            && line.contains("kms:Decrypt"),
        "{line}"
    );
}

/// An SSM parameter ARN names its region: the floor is read there, not in the run's region.
#[test]
fn an_ssm_floor_arn_is_read_in_its_region() {
    let moto = Moto::start();
    moto.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/ci/floor",
        "--type",
        "SecureString",
        "--value",
        "fail-on = \"HIGH\"\n",
        "--region",
        "eu-west-1",
    ]);
    let ctx = Ctx::critical();
    ctx.write(".inspector-gate.toml", LOOSE_FILE);
    let f = findings_arg(&ctx);
    let env: Vec<(String, String)> = aws_env(&moto.url);
    let floor = "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/ci/floor";
    let (code, out, err) = ctx.run(
        &["evaluate", "--findings", &f, "--policy-floor", floor],
        &env,
    );
    assert_floor_held(code, &out, &err, floor);
}

/// One throttle is not exit 4: the floor read goes through the retry engine (two
/// ThrottlingException answers from the fault proxy in front of moto, then moto's answer).
#[test]
fn a_throttled_floor_read_is_retried() {
    use support::faults::{Fault, FaultProxy, Plan};
    let moto = Moto::start();
    moto.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/ci/inspector-gate/floor",
        "--type",
        "SecureString",
        "--value",
        "fail-on = \"HIGH\"\n",
    ]);
    let proxy = FaultProxy::start(
        &moto.url,
        Plan::first("GetParameter", 2, Fault::Throttle { retry_after: None }),
    );
    let ctx = Ctx::critical();
    ctx.write(".inspector-gate.toml", LOOSE_FILE);
    let f = findings_arg(&ctx);
    let env: Vec<(String, String)> = aws_env(&proxy.url);
    let floor = "ssm:/ci/inspector-gate/floor";
    let (code, out, err) = ctx.run(
        &["evaluate", "--findings", &f, "--policy-floor", floor],
        &env,
    );
    assert_floor_held(code, &out, &err, floor);
    assert_eq!(proxy.record().faults.get("throttle"), Some(&2));
    assert_eq!(proxy.seen("GetParameter"), 3, "two throttled, one read");
}

/// The floor is read in the region the image's registry host names, before anything else,
/// when no region is configured: `allow-soft-fail = false` from a floor in eu-west-1 refuses
/// `--soft-fail` (before the fix the read had no region at all).
#[test]
fn the_floor_is_read_in_the_image_hosts_region() {
    let moto = Moto::start();
    moto.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/ci/floor",
        "--type",
        "String",
        "--value",
        "allow-soft-fail = false\n",
        "--region",
        "eu-west-1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let closed = support::aws::closed_endpoint();
    let mut cmd = support::aws::command(
        &closed,
        &closed,
        &[
            "gate",
            "--image",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web:v1",
            "--soft-fail",
            "--policy-floor",
            "ssm:/ci/floor",
            "--timeout",
            "20s",
        ],
        &[],
        dir.path(),
    );
    cmd.env("AWS_ENDPOINT_URL_SSM", &moto.url)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION");
    let (code, out, err) = text(&support::aws::run_bounded(
        cmd,
        std::time::Duration::from_secs(60),
    ));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("forbidden by the policy floor"),
        "the floor in eu-west-1 was read: {err}"
    );
}

const HOSTILE: &str = "1.0\u{1b}]8;;https://evil.example\u{7}x\u{1b}[2J\r\n::warning::forged\u{9b}";

#[test]
fn untrusted_text_reaches_no_sink_raw() {
    let mut f = testing::finding(0, &testing::image(None));
    f.packages[0].version = Some(HOSTILE.into());
    f.title = "[click me](https://evil.example) ![x](https://evil.example/p.png)".into();
    let ctx = Ctx::new(&[f]);
    let summary = ctx.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let gh: Vec<(String, String)> = vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()),
    ];
    let fa = findings_arg(&ctx);
    for format in ["table", "markdown", "json"] {
        let (code, out, err) = ctx.run(
            &[
                "evaluate",
                "--findings",
                &fa,
                "--fail-on",
                "CRITICAL",
                "--format",
                format,
            ],
            &gh,
        );
        assert_eq!(code, 1, "{err}");
        for (name, s) in [("stdout", &out), ("stderr", &err)] {
            assert!(
                !s.contains('\u{1b}') && !s.contains('\u{9b}') && !s.contains('\r'),
                "{format} {name}: {s:?}"
            );
            let forged: Vec<&str> = s
                .lines()
                .filter(|l| l.trim_start().starts_with("::warning::forged"))
                .collect();
            assert!(
                forged.is_empty(),
                "{format} {name} forges a workflow command: {forged:?}"
            );
        }
        assert!(
            err.lines().any(|l| l.starts_with("::error ")),
            "the real annotation is still there: {err}"
        );
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("openssl"), "the summary has the finding: {md}");
    assert!(
        !md.contains("[click me](") && !md.contains("![x]("),
        "a link would render:\n{md}"
    );
    assert!(!md.contains('\u{1b}'));
}

#[test]
fn a_hostile_platform_string_is_sanitized_in_every_renderer() {
    let img = testing::image(Some(HOSTILE));
    let report = inspector_gate::report::Report::new(
        "2026-11-28T00:00:00Z".into(),
        testing::policy(),
        vec![testing::report(1).images[0].clone()]
            .into_iter()
            .map(|mut r| {
                r.image = img.clone();
                r
            })
            .collect(),
    );
    let table = inspector_gate::report::table::render(&report, &Default::default());
    let md = inspector_gate::report::markdown::render(&report);
    let ann = inspector_gate::ci::github_annotations(&report);
    for (name, s) in [("table", &table), ("markdown", &md), ("annotations", &ann)] {
        assert!(
            !s.contains('\u{1b}') && !s.contains('\u{9b}') && !s.contains('\r'),
            "{name}: {s:?}"
        );
        assert!(
            !s.lines()
                .any(|l| l.trim_start().starts_with("::warning::forged")),
            "{name} forges a workflow command:\n{s}"
        );
    }
}

#[test]
fn approve_refuses_a_report_whose_verdict_disagrees() {
    let ctx = Ctx::critical();
    let mut report = testing::mixed();
    assert!(!report.passed(), "the fixture fails");
    report.verdict = inspector_gate::policy::eval::Verdict::Pass;
    for img in &mut report.images {
        img.evaluation.verdict = inspector_gate::policy::eval::Verdict::Pass;
    }
    let p = ctx.write("report.json", &serde_json::to_string(&report).unwrap());
    let (code, _, err) = ctx.run(
        &[
            "approve",
            "--report",
            &p,
            "--approve",
            "pipe/stage/action",
            "--region",
            "us-east-1",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("was altered or is corrupt"), "{err}");

    // Also with the totals and violations cleared: the counted findings themselves decide.
    for img in &mut report.images {
        img.evaluation.counted.clear();
        img.evaluation.violations.clear();
    }
    let p = ctx.write("report2.json", &serde_json::to_string(&report).unwrap());
    let (code, _, err) = ctx.run(
        &[
            "approve",
            "--report",
            &p,
            "--approve",
            "pipe/stage/action",
            "--region",
            "us-east-1",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was altered or is corrupt") && err.contains("counted over a maximum"),
        "{err}"
    );
}

#[test]
fn a_token_is_not_sent_over_http_to_a_remote_registry() {
    let ctx = Ctx::critical();
    let env: Vec<(String, String)> = vec![
        ("INSPECTOR_GATE_REGISTRY_USERNAME".into(), "AWS".into()),
        (
            "INSPECTOR_GATE_REGISTRY_PASSWORD".into(),
            "s3cr3t-token".into(),
        ),
    ];
    // A real layout: the push reads its source first (local input before any network), and
    // the refusal comes before anything is sent to the registry.
    let layout = support::fixtures::single_arch(&ctx.path().join("layout"), "1", 7, &[64]);
    let src = layout.spec();
    let (code, out, err) = ctx.run(
        &[
            "push",
            "--push-from",
            &src,
            "--image",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
            "--registry-url",
            "http://user:pw@registry.invalid:5000",
        ],
        &env,
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("refusing to send registry credentials over plain http"),
        "{err}"
    );
    assert!(err.contains("http://registry.invalid:5000"), "{err}");
    assert!(!err.contains("s3cr3t") && !err.contains("user:pw"), "{err}");
}

/// Filters never fail open: a finding without an EPSS score (or Inspector score) is kept by
/// `--min-epss` (`--min-inspector-score`), so a CRITICAL nobody has scored yet still fails.
#[test]
fn score_filters_keep_findings_that_have_no_score() {
    let mut scored = testing::finding(0, &testing::image(None));
    scored.id = "CVE-2026-20001".into();
    scored.epss_score = Some(0.01);
    scored.inspector_score = Some(1.0);
    let mut unscored = testing::finding(0, &testing::image(None));
    unscored.id = "CVE-2026-20002".into();
    unscored.epss_score = None;
    unscored.inspector_score = None;
    assert_eq!(unscored.severity, Severity::Critical);
    let ctx = Ctx::new(&[scored.clone(), unscored]);
    let f = findings_arg(&ctx);
    for filter in [["--min-epss", "0.5"], ["--min-inspector-score", "9"]] {
        let (code, out, err) = ctx.run(
            &[
                "evaluate",
                "--findings",
                &f,
                "--fail-on",
                "CRITICAL",
                filter[0],
                filter[1],
                "--format",
                "json",
            ],
            &[],
        );
        assert_eq!(
            code, 1,
            "{filter:?}: the unscored CRITICAL counts\n{out}\n{err}"
        );
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["images"][0]["evaluation"]["counted"]["CRITICAL"], 1);
    }
    // The scored, low-EPSS finding alone is filtered out: the filter itself works.
    let ctx = Ctx::new(&[scored]);
    let f = findings_arg(&ctx);
    let (code, out, err) = ctx.run(
        &[
            "evaluate",
            "--findings",
            &f,
            "--fail-on",
            "CRITICAL",
            "--min-epss",
            "0.5",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
}

/// `suppressed` and `scan-unread` are locked by the floor: no layer above it — the repository's
/// file, env or flags — may honor suppression rules or accept unread files unless the floor
/// itself does; `allow-soft-fail` is the floor's alone.
#[test]
fn the_floor_locks_suppressed_and_scan_unread() {
    let ctx = Ctx::critical();
    let row = |out: &str, key: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} missing:\n{out}"))
            .to_string()
    };
    ctx.write(
        ".inspector-gate.toml",
        "suppressed = \"honor\"\nscan-unread = \"warn\"\n",
    );
    // Without a floor, the repository may choose.
    let (code, out, err) = ctx.run(&["config"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(row(&out, "suppressed").contains(" honor "), "{out}");
    // A floor silent on them holds their defaults, against the file, env and flags alike.
    let floor = ctx.write(
        "floor.toml",
        "fail-on = \"HIGH\"\nallow-soft-fail = false\n",
    );
    let (code, out, err) = ctx.run(
        &["config", "--policy-floor", &floor, "--suppressed", "honor"],
        &[("INSPECTOR_GATE_SCAN_UNREAD".into(), "warn".into())],
    );
    assert_eq!(code, 0, "{err}");
    for (key, value) in [("suppressed", "count"), ("scan-unread", "fail")] {
        let r = row(&out, key);
        assert!(
            r.contains(&format!(" {value} ")) && r.contains("floor "),
            "{key}: {out}"
        );
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("warning:")
                    && l.contains(key)
                    && l.contains("floor.toml"))
                .count(),
            1,
            "{key}: {err}"
        );
    }
    assert!(row(&out, "allow-soft-fail").contains(" false "), "{out}");
    // A floor that honors them lets the repository honor them too.
    let floor = ctx.write(
        "floor2.toml",
        "fail-on = \"HIGH\"\nsuppressed = \"honor\"\nscan-unread = \"warn\"\n",
    );
    let (code, out, err) = ctx.run(&["config", "--policy-floor", &floor], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        row(&out, "suppressed").contains(" honor ") && row(&out, "suppressed").contains("file "),
        "{out}"
    );
    assert!(!err.contains("warning:"), "{err}");
    // ... and the CI owner's flag may still count them.
    let (_, out, _) = ctx.run(
        &["config", "--policy-floor", &floor, "--suppressed", "count"],
        &[],
    );
    assert!(
        row(&out, "suppressed").ends_with("flag --suppressed"),
        "{out}"
    );
}
