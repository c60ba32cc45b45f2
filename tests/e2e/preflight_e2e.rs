//! The preflight: a missing or unusable local input is exit 2, named, before any AWS call,
//! in every command (`gate`, `gate --dry-run`, `push`, `scan`, `evaluate`, `approve`,
//! `verify`, `iam-policy`); and the dry run's plan (region and where it came from, account,
//! credentials, platforms, hand-off, IAM actions) is printed without any request. Every AWS
//! endpoint points at one scripted server that counts what it is sent: it must see nothing.

use crate::support;

use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::aws as a;
use support::serve::Served;

/// A server that answers every request 500 and counts them.
fn counting() -> (Served, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    let app = Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "scripted: no request expected",
            )
        }
    });
    (Served::start(app), n)
}

/// The binary with every AWS endpoint (and the registry) at the counting server.
fn run(url: &str, args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let mut env: Vec<(&str, &str)> = ["STS", "SSM", "S3", "KMS", "ECS", "INSPECTOR_SCAN"]
        .iter()
        .map(|s| {
            (
                Box::leak(format!("AWS_ENDPOINT_URL_{s}").into_boxed_str()) as &str,
                url,
            )
        })
        .collect();
    env.push(("AWS_ENDPOINT_URL", url));
    a::text(&a::run(url, url, args, &env, cwd))
}

#[test]
fn a_missing_local_input_is_exit_2_before_any_aws_request() {
    let (srv, seen) = counting();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("file"), "x").unwrap();
    let missing = format!("oci:{}", d.join("nope").display());
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![
                "gate",
                "--dry-run",
                "--push-from",
                &missing,
                "--image",
                "team/app:v1",
            ],
            vec!["--push-from oci:", "nope does not exist"],
        ),
        (
            // The floor is in SSM: before the preflight it was fetched (and failed) first.
            vec![
                "gate",
                "--push-from",
                &missing,
                "--image",
                "team/app:v1",
                "--policy-floor",
                "ssm:/ci/floor",
            ],
            vec!["nope does not exist"],
        ),
        (
            vec![
                "gate",
                "--image",
                "team/app:v1",
                "--report-dir",
                "file/reports",
                "--approve",
                "p/s/a",
            ],
            vec!["--report-dir file/reports", "is a file, not a directory"],
        ),
        (
            vec![
                "gate",
                "--image",
                "team/app:v1",
                "--image-definitions",
                "no/such/dir/defs.json",
                "--container-name",
                "web",
            ],
            vec![
                "--image-definitions no/such/dir/defs.json",
                "does not exist",
            ],
        ),
        (
            vec![
                "gate",
                "--image",
                "team/app:v1",
                "--attest",
                "file:key.pem",
                "--policy",
                "p.toml",
            ],
            vec!["2 local inputs cannot be used"],
        ),
        (
            vec![
                "push",
                "--push-from",
                "docker-archive:web.tar",
                "--image",
                "team/app:v1",
            ],
            vec!["the archive web.tar does not exist"],
        ),
        (
            vec!["scan", "--from", "dir:rootfs"],
            vec!["--from dir:rootfs", "does not exist"],
        ),
        (
            vec![
                "approve",
                "--report",
                "reports/report.json",
                "--approve",
                "p/s/a",
            ],
            vec!["--report reports/report.json: does not exist"],
        ),
        (
            vec!["verify", "team/app:v1", "--key", "file:pub.pem"],
            vec!["--key pub.pem: does not exist"],
        ),
        (
            vec!["evaluate", "--findings", "findings.json"],
            vec!["--findings findings.json: does not exist"],
        ),
        (
            vec![
                "gate",
                "--image",
                "team/app:v1",
                "--k8s-manifests",
                "k8s/",
                "--k8s-out",
                "out",
            ],
            vec!["--k8s-manifests k8s/: does not exist"],
        ),
        (
            // A malformed baseline is the preflight's, by the baseline's own parser.
            vec![
                "gate",
                "--image",
                "team/app:v1",
                "--baseline",
                "ecs:arn:aws:ecs:us-east-1:123456789012:service/web",
            ],
            vec!["old format"],
        ),
        (
            vec!["scan", "--from", "dir:"],
            vec!["--from: invalid scan source 'dir:'"],
        ),
        (
            vec!["verify", "team/app:v1", "--key", "pgp:x"],
            vec!["--key: key 'pgp:x': expected file:PATH"],
        ),
    ]
    .into_iter()
    .map(|(a, c)| (a.into_iter().map(String::from).collect(), c))
    .collect();
    for (args, causes) in cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(&srv.url, &argv, d);
        assert_eq!(code, 2, "{argv:?}: {err}");
        let first = err
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default();
        for c in causes {
            assert!(first.contains(c), "{argv:?}: {c:?} not in {first:?}\n{err}");
        }
        assert!(out.is_empty(), "{argv:?}: {out}");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            0,
            "{argv:?} sent a request: {err}"
        );
    }
}

#[test]
fn the_dry_run_prints_the_plan_and_sends_nothing() {
    let (srv, seen) = counting();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let layout = support::fixtures::multi_arch(&d.join("oci"), "v1");
    let spec = layout.spec();
    let image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1";
    let (code, out, err) = run(
        &srv.url,
        &[
            "gate",
            "--dry-run",
            "--push-from",
            &spec,
            "--image",
            image,
            "--report-dir",
            "reports",
            "--image-definitions",
            "imagedefinitions.json",
            "--container-name",
            "web",
            "--approve",
            "deploy/Approve/Gate",
            "--policy-floor",
            "ssm:/ci/floor",
            "--attest",
            "awskms:///alias/decision",
        ],
        d,
    );
    assert_eq!(code, 0, "{err}");
    for want in [
        "region: eu-west-1 (from the image's registry host)",
        "account: 123456789012 (from the image's registry host)",
        "credentials: environment variables (AWS_ACCESS_KEY_ID",
        "platforms: linux/amd64, linux/arm64/v8",
        "reports: reports/ (report.json, report.sarif, junit.xml, summary.md)",
        "hand-off, written only when the gate passes: imagedefinitions.json (container web)",
        "codepipeline:PutApprovalResult on arn:aws:codepipeline:eu-west-1:123456789012:deploy/Approve/Gate",
        "ssm:GetParameter on arn:aws:ssm:eu-west-1:123456789012:parameter/ci/floor",
        "kms:Sign on arn:aws:kms:eu-west-1:123456789012:key/* (with a condition)",
        "policy floor: ssm:/ci/floor (not read in a dry run",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    assert!(!d.join("reports").exists(), "a dry run writes no report");
    // Without a registry host: the region is AWS_REGION's and the account is not looked up.
    let (code, out, err) = run(
        &srv.url,
        &["gate", "--dry-run", "--image", "team/app:v1"],
        d,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("region: us-east-1 (from AWS_REGION)"), "{out}");
    assert!(out.contains("not looked up"), "{out}");
    assert!(out.contains("hand-off: none"), "{out}");
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

/// The binary without AWS_REGION / AWS_DEFAULT_REGION, its home holding `config`.
fn run_with_config(
    url: &str,
    args: &[&str],
    cwd: &std::path::Path,
    config: &str,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    std::fs::create_dir_all(cwd.join(".aws")).unwrap();
    std::fs::write(cwd.join(".aws/config"), config).unwrap();
    let mut cmd = a::command(url, url, args, env, cwd);
    cmd.env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env("AWS_ENDPOINT_URL", url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    a::text(&a::run_bounded(cmd, std::time::Duration::from_secs(60)))
}

#[test]
fn the_dry_run_names_the_region_and_credentials_the_sdk_chain_would_use() {
    let (srv, seen) = counting();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Read by the SDK's own profile loader: the selected profile's region, not default's.
    let config = "# ci\n[default]\nregion = eu-west-1\n[profile ci]\nregion=ap-south-1\nrole_arn = arn:aws:iam::123456789012:role/ci\nsource_profile = default\n";
    let argv = [
        "gate",
        "--dry-run",
        "--image",
        "team/app:v1",
        "--profile",
        "ci",
    ];
    let (code, out, err) = run_with_config(&srv.url, &argv, d, config, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("region: ap-south-1 (from profile ci in the AWS config file)"),
        "{out}"
    );
    // The environment's keys come first in the SDK's DefaultCredentialsChain, --profile or not.
    assert!(
        out.contains("credentials: environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); the SDK's chain takes them before profile ci"),
        "{out}"
    );
    // Without keys in the environment, the profile's role answers.
    let mut cmd_env = vec![("AWS_PROFILE", "ci")];
    let (code, out, err) = {
        let mut c = a::command(
            &srv.url,
            &srv.url,
            &["gate", "--dry-run", "--image", "team/app:v1"],
            &cmd_env,
            d,
        );
        c.env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        a::text(&a::run_bounded(c, std::time::Duration::from_secs(60)))
    };
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("region: ap-south-1 (from profile ci in the AWS config file)"),
        "{out}"
    );
    assert!(
        out.contains(
            "credentials: profile ci (AWS_PROFILE): assumes arn:aws:iam::123456789012:role/ci"
        ),
        "{out}"
    );
    // AWS_DEFAULT_REGION alone is named as such.
    cmd_env.clear();
    cmd_env.push(("AWS_DEFAULT_REGION", "ca-central-1"));
    let (code, out, err) = run_with_config(
        &srv.url,
        &["gate", "--dry-run", "--image", "team/app:v1"],
        d,
        config,
        &cmd_env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("region: ca-central-1 (from AWS_DEFAULT_REGION)"),
        "{out}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[test]
fn iam_policy_reads_no_local_file() {
    // iam-policy prints the policy the flags need: paths that do not exist here (they will
    // on the build host) are not its business; a malformed flag still is.
    let (srv, seen) = counting();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &srv.url,
        &[
            "iam-policy",
            "--image",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1",
            "--push-from",
            "oci:build/oci",
            "--k8s-manifests",
            "k8s/",
            "--k8s-out",
            "out",
            "--attest",
            "file:key.pem",
            "--baseline",
            "reports/old.json",
            "--policy",
            "gate.toml",
            "--report-dir",
            "no/such/dir",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("IAM JSON");
    assert!(v["Statement"].to_string().contains("ecr:PutImage"), "{v}");
    let (code, _, err) = run(
        &srv.url,
        &["iam-policy", "--image", "team/app:v1", "--attest", "pgp:x"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected file:PATH"), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[test]
fn iam_policy_prints_the_flags_policy_as_iam_json() {
    let (srv, seen) = counting();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &srv.url,
        &[
            "iam-policy",
            "--image",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1",
            "--approve",
            "deploy/Approve/Gate",
            "--verify-key",
            "awskms:///alias/decision",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("IAM JSON");
    assert_eq!(v["Version"], "2012-10-17");
    let actions: Vec<String> = v["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
        })
        .collect();
    for want in [
        "inspector2:ListFindings",
        "codepipeline:PutApprovalResult",
        "kms:GetPublicKey",
        "ecr:GetAuthorizationToken",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want}: {actions:?}");
    }
    for absent in ["ecr:PutImage", "kms:Sign", "ssm:GetParameter"] {
        assert!(
            !actions.iter().any(|a| a == absent),
            "{absent}: {actions:?}"
        );
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[test]
fn push_opens_its_source_before_asking_ecr_for_a_token() {
    // A source that exists but is no image: refused on its cause, and ECR never asked
    // (before, ecr:GetAuthorizationToken came first, and its failure hid the cause).
    let (srv, seen) = counting();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.tar"), "not a tar").unwrap();
    for cmd in ["push", "gate"] {
        let (code, _, err) = run(
            &srv.url,
            &[
                cmd,
                "--push-from",
                "oci-archive:web.tar",
                "--image",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1",
                "--timeout",
                "20s",
            ],
            dir.path(),
        );
        assert_ne!(code, 0, "{cmd}: {err}");
        assert!(err.contains("web.tar"), "{cmd}: the source is named: {err}");
        assert!(!err.contains("GetAuthorizationToken"), "{cmd}: {err}");
        assert_eq!(seen.load(Ordering::SeqCst), 0, "{cmd} asked AWS: {err}");
    }
}
