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
                "iam-policy",
                "--image",
                "team/app:v1",
                "--k8s-manifests",
                "k8s/",
                "--k8s-out",
                "out",
            ],
            vec!["--k8s-manifests k8s/: does not exist"],
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
