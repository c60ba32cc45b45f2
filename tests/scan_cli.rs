//! `inspector-gate scan` end to end: the real binary catalogues a root filesystem or an OCI
//! image, calls the scripted ScanSbom server through the SDK, and applies the same policy,
//! reports and exit codes as `gate`.

#[path = "support/scan_server.rs"]
mod scan_server;

use scan_server::{Advisory, ScanServer, Step};
use std::path::Path;
use std::process::{Command, Output};

fn scan(server: &ScanServer, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inspector-gate"))
        .arg("scan")
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-key-do-not-leak")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL_INSPECTOR_SCAN", &server.url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn rootfs(dir: &Path) {
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("var/lib/dpkg")).unwrap();
    std::fs::write(dir.join("etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n").unwrap();
    std::fs::write(
        dir.join("var/lib/dpkg/status"),
        "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u1\nArchitecture: amd64\n\nPackage: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\nSource: zlib\n",
    )
    .unwrap();
}

fn advisory() -> Vec<Advisory> {
    vec![Advisory {
        id: "CVE-2099-4242",
        purl_prefix: "pkg:deb/debian/openssl@",
        ratings: vec![("NVD", "critical")],
        fixed: Some("3.0.11-1~deb12u2"),
        epss: Some(0.2),
    }]
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn scan_fails_on_policy_writes_reports_and_the_sbom_then_passes_with_an_ignore() {
    let server = ScanServer::start(advisory(), vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    rootfs(&root);
    let from = format!("dir:{}", root.display());
    let out = scan(
        &server,
        tmp.path(),
        &[
            "--from",
            &from,
            "--fail-on",
            "high",
            "--sbom-out",
            "sbom.json",
            "--report-dir",
            "reports",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = report.to_string();
    assert!(s.contains("CVE-2099-4242"), "{s}");
    for f in ["report.json", "report.sarif", "junit.xml", "summary.md"] {
        assert!(tmp.path().join("reports").join(f).exists(), "{f}");
    }
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("sbom.json")).unwrap()).unwrap();
    assert_eq!(sbom["components"].as_array().unwrap().len(), 2);

    // The same SBOM through --sbom, with the finding ignored by a policy file: pass.
    std::fs::write(
        tmp.path().join(".inspector-gate.toml"),
        "fail-on = \"HIGH\"\n\n[[ignore]]\nid = \"CVE-2099-4242\"\nreason = \"accepted in a test\"\n",
    )
    .unwrap();
    let out = scan(&server, tmp.path(), &["--sbom", "sbom.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.calls().len(), 2);
}

#[test]
fn scan_errors_have_their_exit_codes() {
    let server = ScanServer::start(advisory(), vec![Step::AccessDenied]);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    rootfs(&root);
    let from = format!("dir:{}", root.display());
    let out = scan(&server, tmp.path(), &["--from", &from]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inspector-scan:ScanSbom"), "{err}");
    assert!(!err.contains("test-secret-key"), "{err}");

    let out = scan(&server, tmp.path(), &["--from", "nonsense:x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = scan(
        &server,
        tmp.path(),
        &["--from", &format!("dir:{}", empty.display())],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "nothing to scan is inconclusive: {}",
        text(&out)
    );
    assert_eq!(server.calls().len(), 1, "no call for an empty inventory");
}
