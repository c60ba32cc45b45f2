//! Running the real binary against the emulators, and seeding moto's ECR with images.

use std::path::Path;
use std::process::{Command, Output};

/// Environment every child process gets: dummy credentials, no instance metadata, loopback
/// endpoints only.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), "AKIDTESTTESTTESTTEST".into()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            "test-secret-key-do-not-leak".into(),
        ),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_ENDPOINT_URL".into(), endpoint.into()),
        ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ("NO_COLOR".into(), "1".into()),
    ]
}

/// POST an ECR (awsJson1.1) call straight to moto (us-east-1).
pub fn ecr(moto: &str, op: &str, body: serde_json::Value) -> serde_json::Value {
    ecr_in(moto, "us-east-1", op, body)
}

/// [`ecr`] in `region`: moto keeps one ECR per region, named by the signature's scope.
pub fn ecr_in(moto: &str, region: &str, op: &str, body: serde_json::Value) -> serde_json::Value {
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!("{moto}/"))
        .header("X-Amz-Target", format!("AmazonEC2ContainerRegistry_V20150921.{op}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTESTTEST/20260101/{region}/ecr/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .body(body.to_string())
        .send()
        .expect("moto reachable");
    let status = r.status();
    let text = r.text().unwrap();
    assert!(status.is_success(), "ecr {op} failed: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

pub use super::fixtures::sha256;

/// Create a repository covered (or not) by an enhanced continuous-scanning rule.
pub fn create_repo(moto: &str, repo: &str) {
    create_repo_in(moto, "us-east-1", repo);
}

pub fn create_repo_in(moto: &str, region: &str, repo: &str) {
    ecr_in(
        moto,
        region,
        "CreateRepository",
        serde_json::json!({ "repositoryName": repo }),
    );
}

pub fn enhanced_scanning(moto: &str, filter: &str) {
    enhanced_scanning_in(moto, "us-east-1", filter);
}

pub fn enhanced_scanning_in(moto: &str, region: &str, filter: &str) {
    ecr_in(
        moto,
        region,
        "PutRegistryScanningConfiguration",
        serde_json::json!({ "scanType": "ENHANCED", "rules": [ { "scanFrequency": "CONTINUOUS_SCAN",
            "repositoryFilters": [ { "filter": filter, "filterType": "WILDCARD" } ] } ] }),
    );
}

/// Put a single-platform image manifest (distinct per `seed`) under `tag`; returns its digest.
pub fn put_image(moto: &str, repo: &str, tag: Option<&str>, seed: &str) -> String {
    put_image_in(moto, "us-east-1", repo, tag, seed)
}

/// [`put_image`] in `region`.
pub fn put_image_in(moto: &str, region: &str, repo: &str, tag: Option<&str>, seed: &str) -> String {
    let config = sha256(seed.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[]}}"#,
        seed.len()
    );
    put_manifest_in(
        moto,
        region,
        repo,
        tag,
        &manifest,
        "application/vnd.oci.image.manifest.v1+json",
    )
}

pub fn put_manifest(
    moto: &str,
    repo: &str,
    tag: Option<&str>,
    manifest: &str,
    media_type: &str,
) -> String {
    put_manifest_in(moto, "us-east-1", repo, tag, manifest, media_type)
}

pub fn put_manifest_in(
    moto: &str,
    region: &str,
    repo: &str,
    tag: Option<&str>,
    manifest: &str,
    media_type: &str,
) -> String {
    let digest = sha256(manifest.as_bytes());
    let mut body = serde_json::json!({
        "repositoryName": repo, "imageManifest": manifest, "imageDigest": digest,
        "imageManifestMediaType": media_type
    });
    if let Some(t) = tag {
        body["imageTag"] = serde_json::json!(t);
    }
    ecr_in(moto, region, "PutImage", body);
    digest
}

/// An OCI index over `children` = [(digest, os, arch)] plus one attestation manifest.
pub fn put_index(moto: &str, repo: &str, tag: &str, children: &[(String, &str, &str)]) -> String {
    let mut manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(d, os, arch)| {
            serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": 100,
                "platform": { "os": os, "architecture": arch } })
        })
        .collect();
    manifests.push(serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha256(b"attestation"), "size": 100, "platform": { "os": "unknown", "architecture": "unknown" },
        "annotations": { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": children[0].0 } }));
    let index = serde_json::json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests })
    .to_string();
    put_manifest(
        moto,
        repo,
        Some(tag),
        &index,
        "application/vnd.oci.image.index.v1+json",
    )
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_inspector-gate")
}

/// Run the binary with the emulators' endpoints; `extra_env` overrides.
pub fn run(
    moto: &str,
    scenario: &str,
    args: &[&str],
    extra_env: &[(&str, &str)],
    cwd: &Path,
) -> Output {
    run_bounded(
        command(moto, scenario, args, extra_env, cwd),
        std::time::Duration::from_secs(120),
    )
}

/// A loopback port nothing listens on (bound, then released): an endpoint that refuses.
pub fn closed_endpoint() -> String {
    format!("http://127.0.0.1:{}", super::moto::free_port())
}

/// Run the binary with the test environment and no AWS peer: every endpoint (ECR,
/// Inspector2, CodePipeline, STS and the rest) on a closed loopback port, so a command that
/// should not call AWS (`evaluate`, `config`, bad input) fails fast if it does.
pub fn offline(args: &[&str], extra_env: &[(&str, &str)], cwd: &Path) -> Output {
    let closed = closed_endpoint();
    let mut cmd = command(&closed, &closed, args, extra_env, cwd);
    cmd.env("AWS_ENDPOINT_URL_STS", &closed);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    run_bounded(cmd, std::time::Duration::from_secs(120))
}

/// The command [`run`] runs, for tests that drive the child themselves (signals).
pub fn command(
    moto: &str,
    scenario: &str,
    args: &[&str],
    extra_env: &[(&str, &str)],
    cwd: &Path,
) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(cwd).env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", cwd);
    for (k, v) in aws_env(moto) {
        cmd.env(k, v);
    }
    cmd.env("AWS_ENDPOINT_URL_ECR", moto);
    cmd.env("AWS_ENDPOINT_URL_INSPECTOR2", scenario);
    cmd.env("AWS_ENDPOINT_URL_CODEPIPELINE", scenario);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}

/// Run `cmd`, killing it (by its own handle) if it outlives `limit`.
pub fn run_bounded(mut cmd: Command, limit: std::time::Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

pub fn text(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
