//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on
//! 127.0.0.1:<free port>, with filesystem storage in a temp dir and htpasswd (bcrypt) Basic
//! auth like ECR's. Stopped by its PID when dropped. Also `skopeo`, the second client that
//! checks what we pushed, run with a bounded wait.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "pusher";
pub const PASSWORD: &str = "Pa55-w0rd-never-printed";

pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The one htpasswd user (`USER`/`PASSWORD` unless started with [`Registry::start_as`]).
    pub user: String,
    pub password: String,
}

impl Registry {
    /// Start a registry and wait (at most 20 s) until it answers `GET /v2/`.
    pub fn start() -> Registry {
        Self::start_as(USER, PASSWORD)
    }

    /// Like [`Registry::start`], with `user`/`password` as the only login (e.g. `AWS` and the
    /// password moto's `GetAuthorizationToken` hands out, as ECR would).
    pub fn start_as(user: &str, password: &str) -> Registry {
        let mut last_log = String::new();
        // The free port can be taken between probing and binding: try a few.
        for _ in 0..3 {
            match Self::try_start(user, password) {
                Ok(r) => return r,
                Err(log) => last_log = log,
            }
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    fn try_start(user: &str, password: &str) -> Result<Registry, String> {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd not found: apt-get install -y apache2-utils");
        assert!(htpasswd.status.success(), "htpasswd failed");
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();
        let port = super::moto::free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\nauth:\n  htpasswd:\n    realm: test\n    path: {pw}\n",
            root = dir.path().join("data").display(),
            pw = dir.path().join("htpasswd").display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry not found: apt-get install -y docker-registry");
        let mut reg = Registry {
            child,
            port,
            dir,
            user: user.into(),
            password: password.into(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = reg.child.try_wait() {
                return Err(reg.log());
            }
            if reg.answers() {
                return Ok(reg);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not ready after 20 s\n{}", reg.log()))
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = format!(
            "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 401")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:<port>`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn creds() -> String {
        format!("{USER}:{PASSWORD}")
    }

    /// `user:password` of this registry's login (for `skopeo --creds`).
    pub fn login(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a command with a bounded wait; kill it (by PID) if it overruns.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// `skopeo <args>` (global `--insecure-policy` added), with a 120 s bound.
pub fn skopeo(args: &[&str]) -> Output {
    let mut cmd = Command::new("skopeo");
    cmd.arg("--insecure-policy").args(args);
    run_bounded(&mut cmd, Duration::from_secs(120))
}

/// Like [`skopeo`] but panics with its stderr on failure.
pub fn skopeo_ok(args: &[&str]) -> Vec<u8> {
    let out = skopeo(args);
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The exact manifest bytes the registry serves for `repo:reference` (tag or digest).
pub fn raw_manifest(reg: &Registry, repo: &str, reference: &str) -> Vec<u8> {
    let sep = if reference.starts_with("sha256:") {
        "@"
    } else {
        ":"
    };
    let image = format!("docker://{}/{repo}{sep}{reference}", reg.host());
    skopeo_ok(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &Registry::creds(),
        &image,
    ])
}

/// Copy `repo:reference` out of the registry into an OCI layout at `dest` (all platforms).
pub fn pull_to_oci(reg: &Registry, repo: &str, reference: &str, dest: &Path) {
    let sep = if reference.starts_with("sha256:") {
        "@"
    } else {
        ":"
    };
    let image = format!("docker://{}/{repo}{sep}{reference}", reg.host());
    let out = format!("oci:{}:pulled", dest.display());
    skopeo_ok(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--src-creds",
        &Registry::creds(),
        &image,
        &out,
    ]);
}
