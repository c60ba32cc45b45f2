//! A moto server (emulated ECR API) on 127.0.0.1:<free port>, stopped by PID on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn venv_bin(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let p = root.join(".venv/bin").join(name);
    assert!(
        p.exists(),
        "{} missing: run scripts/setup first",
        p.display()
    );
    p
}

impl Moto {
    pub fn start() -> Moto {
        // The port is free when chosen, but another server may take it before moto binds it
        // (tests run in parallel): ready means moto itself answers (its /moto-api/), and a
        // moto that could not bind is started again on another port.
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(venv_bin("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let url = format!("http://127.0.0.1:{port}");
            let mut m = Moto { child, url };
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if m.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                let own = http
                    .get(format!("{}/moto-api/data.json", m.url))
                    .send()
                    .is_ok_and(|r| r.status().is_success());
                if own {
                    return m;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("moto did not start within 20s (5 ports tried)");
    }

    /// Run an `aws` CLI command against moto (the awscli in the test venv).
    pub fn aws(&self, args: &[&str]) -> String {
        let out = Command::new(venv_bin("aws"))
            .args(args)
            .envs(crate::support::aws::aws_env(&self.url))
            .output()
            .expect("run aws cli");
        assert!(
            out.status.success(),
            "aws {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
