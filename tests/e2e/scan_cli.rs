//! `inspector-gate scan` end to end: the real binary catalogues a root filesystem or an OCI
//! image, calls the scripted ScanSbom server through the SDK, and applies the same policy,
//! reports and exit codes as `gate`.

use crate::support::scan_server;

use scan_server::{Advisory, ScanServer, Step};
use std::path::Path;
use std::process::{Command, Output};

/// `cmd` with only the environment a scan needs: dummy credentials, the scripted ScanSbom
/// server, no instance metadata, no user AWS configuration.
pub(crate) fn scan_env<'a>(cmd: &'a mut Command, server: &ScanServer) -> &'a mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-key-do-not-leak")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL_INSPECTOR_SCAN", &server.url)
        .env("NO_COLOR", "1")
}

fn scan(server: &ScanServer, cwd: &Path, args: &[&str]) -> Output {
    scan_env(
        &mut Command::new(env!("CARGO_BIN_EXE_inspector-gate")),
        server,
    )
    .arg("scan")
    .args(args)
    .current_dir(cwd)
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

pub(crate) fn text(o: &Output) -> String {
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
    // A corrupt rpm database beside the good dpkg one: named in the report, not a crash (the
    // image fails anyway, so the gap does not make the run inconclusive).
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    std::fs::write(root.join("var/lib/rpm/rpmdb.sqlite"), b"not a database").unwrap();
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
    let unread = &report["images"][0]["unread"];
    assert_eq!(
        unread[0]["path"], "/var/lib/rpm/rpmdb.sqlite",
        "the report names the unreadable file: {s}"
    );
    assert!(
        unread[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a readable rpm database"),
        "{s}"
    );
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

/// Issue 20: nothing unseen passes. A file a cataloguer wanted and could not read makes a
/// passing scan inconclusive (exit 3), the last line naming the file and why; the
/// floor-governed policy key `scan-unread = "warn"` accepts the gap, and then every report
/// names the file.
#[test]
fn an_unread_file_is_inconclusive_unless_the_policy_accepts_it() {
    // No advisory matches: the catalogued packages pass.
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    rootfs(&root);
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    std::fs::write(root.join("var/lib/rpm/rpmdb.sqlite"), b"not a database").unwrap();
    let from = format!("dir:{}", root.display());
    let out = scan(
        &server,
        tmp.path(),
        &["--from", &from, "--report-dir", "r1"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("/var/lib/rpm/rpmdb.sqlite") && last.contains("not a readable rpm database"),
        "the last line names the file and the reason: {}",
        text(&out)
    );
    assert!(
        err.contains("scan-unread"),
        "the way to accept it is named: {err}"
    );
    assert!(
        !tmp.path().join("r1/report.json").exists(),
        "an inconclusive run writes no verdict"
    );

    // Accepted: exit 0, and every report names the file.
    for accept in [
        vec!["--scan-unread", "warn"],
        vec!["--policy", "accept.toml"],
    ] {
        std::fs::write(tmp.path().join("accept.toml"), "scan-unread = \"warn\"\n").unwrap();
        let _ = std::fs::remove_dir_all(tmp.path().join("r2"));
        let mut args = vec!["--from", &from, "--report-dir", "r2"];
        args.extend(accept);
        let out = scan(&server, tmp.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("/var/lib/rpm/rpmdb.sqlite: not a readable rpm database"),
            "the table names it: {stdout}"
        );
        let r = |f: &str| std::fs::read_to_string(tmp.path().join("r2").join(f)).unwrap();
        let report: serde_json::Value = serde_json::from_str(&r("report.json")).unwrap();
        assert_eq!(
            report["images"][0]["unread"][0]["path"],
            "/var/lib/rpm/rpmdb.sqlite"
        );
        assert_eq!(report["policy"]["scanUnread"], "warn");
        for f in ["summary.md", "junit.xml", "report.sarif"] {
            assert!(r(f).contains("/var/lib/rpm/rpmdb.sqlite"), "{f}: {}", r(f));
        }
    }
}

/// `git` in `dir` with a throwaway identity and no user or system configuration.
fn git(dir: &Path, home: &Path, server: &ScanServer, args: &[&str]) -> Output {
    scan_env(&mut Command::new("git"), server)
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap()
}

#[test]
fn the_pre_push_hook_scans_the_image_built_for_the_pushed_commit() {
    let server = ScanServer::start(advisory(), vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let (repo, remote, images) = (
        tmp.path().join("repo"),
        tmp.path().join("remote.git"),
        tmp.path().join("images"),
    );
    std::fs::create_dir_all(&repo).unwrap();
    let home = tmp.path();
    let ok = |o: Output| {
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    ok(git(
        home,
        home,
        &server,
        &["init", "-q", "--bare", remote.to_str().unwrap()],
    ));
    ok(git(&repo, home, &server, &["init", "-q", "-b", "main"]));
    ok(git(
        &repo,
        home,
        &server,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    ));
    std::fs::write(repo.join("app.txt"), "v1\n").unwrap();
    std::fs::write(
        repo.join(".inspector-gate.toml"),
        "fail-on = \"CRITICAL\"\n",
    )
    .unwrap();
    ok(git(
        &repo,
        home,
        &server,
        &["add", "app.txt", ".inspector-gate.toml"],
    ));
    ok(git(&repo, home, &server, &["commit", "-q", "-m", "v1"]));
    let v1 = ok(git(&repo, home, &server, &["rev-parse", "HEAD"]));
    // "The build": the image for v1 still has the vulnerable openssl.
    rootfs(&images.join(&v1));

    let template = format!("dir:{}/{{sha}}", images.display());
    let install = Command::new(env!("CARGO_BIN_EXE_inspector-gate"))
        .args(["hook", "install", "--scan", &template])
        .current_dir(&repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", text(&install));
    assert!(
        String::from_utf8_lossy(&install.stdout).contains("scan --from"),
        "{}",
        text(&install)
    );

    let push = git(&repo, home, &server, &["push", "-q", "origin", "main"]);
    let err = String::from_utf8_lossy(&push.stderr);
    assert!(
        !push.status.success(),
        "the hook must block v1: {}",
        text(&push)
    );
    assert!(
        err.contains(&format!("push blocked for {} (main)", &v1[..12])),
        "{}",
        text(&push)
    );
    assert!(err.contains("CVE-2099-4242"), "{}", text(&push));
    let remote_refs = ok(git(
        home,
        home,
        &server,
        &["--git-dir", remote.to_str().unwrap(), "for-each-ref"],
    ));
    assert!(
        remote_refs.is_empty(),
        "nothing reached the remote: {remote_refs}"
    );

    // v2's image drops openssl: the same hook lets it through, and the remote gets v2.
    std::fs::write(repo.join("app.txt"), "v2\n").unwrap();
    ok(git(&repo, home, &server, &["commit", "-q", "-am", "v2"]));
    let v2 = ok(git(&repo, home, &server, &["rev-parse", "HEAD"]));
    let root2 = images.join(&v2);
    rootfs(&root2);
    std::fs::write(
        root2.join("var/lib/dpkg/status"),
        "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\nSource: zlib\n",
    )
    .unwrap();
    let push = git(&repo, home, &server, &["push", "-q", "origin", "main"]);
    assert!(push.status.success(), "v2 passes: {}", text(&push));
    let remote_head = ok(git(
        home,
        home,
        &server,
        &["--git-dir", remote.to_str().unwrap(), "rev-parse", "main"],
    ));
    assert_eq!(remote_head, v2);
}
