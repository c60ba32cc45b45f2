//! End-to-end: SIGTERM and SIGINT (sent with `kill` to the child's own pid) while the gate
//! waits for a scan and while it pushes a large layer through a slow link. The binary must exit
//! promptly (a generous 10 s ceiling for a loaded machine; left alone, the wait would last 60 s
//! and the upload more than 30 s), non-zero, having sent no approval, and leave no tag pointing
//! at a half-pushed image (skopeo: the tag is absent, or its manifest and every blob it names
//! are complete).

use crate::support;

use std::collections::VecDeque;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::aws as a;
use support::faults::{FaultProxy, Plan};
use support::fixtures;
use support::gated::ECR_PASSWORD;
use support::registry::{self as reg, Registry};
use support::scenario::{Cov, DigestScript, PipelineScript, Scenario, ScenarioState};
use support::world::{self, exec, pipeline, APPROVE, REPO};
/// How fast the slow link reads blob uploads: the 3 MB layer takes over 30 s, far longer than
/// [`EXIT_LIMIT`], so an exit within it was caused by the signal.
const SLOW_LINK: u64 = 96 * 1024;
/// A ceiling, not a target: the exit takes milliseconds on a quiet machine.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// A running binary whose stderr is collected as it arrives (also used by
/// `scan_deadline`).
pub(crate) struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    pub(crate) fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut se = child.stderr.take().unwrap();
        let mut so = child.stdout.take().unwrap();
        let sink = stderr.clone();
        let readers = vec![
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = se.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }),
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = so.read_to_end(&mut v);
            }),
        ];
        Running {
            child,
            stderr,
            readers,
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything the child wrote, once it has exited: the readers drain the pipes first (a
    /// read right after the exit can miss the last lines).
    pub(crate) fn all_stderr(&mut self) -> String {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.stderr()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -<sig> <pid>` on this child only.
    pub(crate) fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success(), "kill -{sig} failed");
    }

    /// Wait (bounded) for the exit; a child still running after `limit` × 5 is killed by its
    /// handle and reported as `None`.
    pub(crate) fn exit_within(&mut self, limit: Duration) -> (Option<ExitStatus>, Duration) {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (Some(st), t.elapsed());
            }
            if t.elapsed() > limit * 5 {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return (None, t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

/// Poll `cond` every 20 ms for at most `limit`.
pub(crate) fn wait_until(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn pipeline_for(digest: &str) -> PipelineScript {
    pipeline(vec![exec(
        "e-1",
        "tok-1",
        Some(format!("Image_Digest={digest}")),
        0,
    )])
}

/// The interrupted run: exited in time, non-zero, said why, answered nothing.
fn assert_interrupted(r: &mut Running, sig: &str, scen: &Scenario) {
    let (status, took) = r.exit_within(EXIT_LIMIT);
    let err = r.all_stderr();
    let status =
        status.unwrap_or_else(|| panic!("SIG{sig}: still running {took:?} later (killed):\n{err}"));
    assert!(
        took <= EXIT_LIMIT,
        "SIG{sig}: exited {took:?} after the signal (limit {EXIT_LIMIT:?}):\n{err}"
    );
    assert!(
        !status.success(),
        "SIG{sig}: exit {status:?} must be non-zero:\n{err}"
    );
    assert_eq!(
        status.code(),
        Some(4),
        "SIG{sig}: a runtime error, not death by signal:\n{err}"
    );
    assert!(
        err.contains(&format!("interrupted by SIG{sig}")),
        "SIG{sig}: {err}"
    );
    assert_eq!(
        scen.calls("PutApprovalResult"),
        0,
        "SIG{sig}: an approval was sent"
    );
    assert!(scen.state.lock().unwrap().approvals.is_empty());
    eprintln!(
        "SIG{sig}: exit {:?} {took:?} after the signal",
        status.code()
    );
}

#[test]
fn sigterm_and_sigint_during_the_scan_wait_exit_at_once_without_approving() {
    let moto = world::moto();
    let digest = a::put_image(&moto.url, REPO, Some("v1"), "signals");
    for sig in ["TERM", "INT"] {
        let in_progress = Cov::Row {
            code: "ACTIVE",
            reason: "SCAN_IN_PROGRESS",
            last_scanned_at: None,
        };
        let scen = Scenario::start(ScenarioState {
            images: [(
                digest.clone(),
                DigestScript {
                    coverage: VecDeque::from(vec![in_progress]),
                    reads: VecDeque::new(),
                },
            )]
            .into_iter()
            .collect(),
            pipeline: Some(pipeline_for(&digest)),
            ..Default::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "gate",
            "--image",
            "app/web:v1",
            "--approve",
            APPROVE,
            "--timeout",
            "60s",
            "--poll-interval",
            "100ms",
            "--settle",
            "100ms",
        ];
        let mut r = Running::spawn(a::command(&moto.url, &scen.url, &args, &[], dir.path()));
        assert!(
            wait_until(Duration::from_secs(30), || r
                .stderr()
                .contains("SCAN_IN_PROGRESS")),
            "SIG{sig}: the gate never reached the scan wait:\n{}",
            r.stderr()
        );
        r.signal(sig);
        assert_interrupted(&mut r, sig, &scen);
    }
}

/// Is `repo:tag` absent, or present with a manifest whose blobs are all in the registry?
fn tag_absent_or_complete(registry: &Registry, tag: &str) -> Result<bool, String> {
    let image = format!("docker://{}/{REPO}:{tag}", registry.host());
    let out = reg::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &registry.login(),
        &image,
    ]);
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return if why.contains("manifest unknown") {
            Ok(false)
        } else {
            Err(format!("skopeo failed oddly: {why}"))
        };
    }
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let blobs = std::iter::once(&m["config"]).chain(m["layers"].as_array().into_iter().flatten());
    let http = reqwest::blocking::Client::new();
    for b in blobs {
        let d = b["digest"].as_str().unwrap_or_default();
        let resp = http
            .head(format!("{}/v2/{REPO}/blobs/{d}", registry.url()))
            .basic_auth(&registry.user, Some(&registry.password))
            .send()
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!(
                "tag {tag} points at a manifest whose blob {d} is missing"
            ));
        }
    }
    Ok(true)
}

#[test]
fn sigterm_and_sigint_during_a_push_leave_no_tag_on_a_half_pushed_image() {
    let moto = world::moto();
    let registry = Registry::start_as("AWS", ECR_PASSWORD);
    for (i, sig) in ["TERM", "INT"].into_iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let src = fixtures::single_arch(
            &tmp.path().join("oci"),
            "v1",
            500 + i as u64,
            &[3_000_000, 2_000],
        );
        let scen = Scenario::start(ScenarioState {
            pipeline: Some(pipeline_for(&src.digest)),
            ..Default::default()
        });
        let slow = FaultProxy::start(
            &registry.url(),
            Plan {
                upload_rate: Some(SLOW_LINK),
                ..Plan::clean()
            },
        );
        let tag = format!("sig{sig}");
        let push_from = format!("oci:{}:v1", src.dir.display());
        let image = format!("{REPO}:{tag}");
        let args = [
            "gate",
            "--push-from",
            &push_from,
            "--image",
            &image,
            "--registry-url",
            &slow.url,
            "--approve",
            APPROVE,
            "--timeout",
            "60s",
            "--poll-interval",
            "100ms",
            "--settle",
            "100ms",
        ];
        let mut r = Running::spawn(a::command(&moto.url, &scen.url, &args, &[], tmp.path()));
        // Mid-upload: the big layer is partly through the slow link.
        assert!(
            wait_until(Duration::from_secs(30), || slow.record().upload_bytes
                >= 400_000),
            "SIG{sig}: the upload never got going:\n{}",
            r.stderr()
        );
        r.signal(sig);
        assert_interrupted(&mut r, sig, &scen);
        assert_eq!(
            slow.seen("PutManifest"),
            0,
            "SIG{sig}: a manifest was pushed before the blobs were complete"
        );
        match tag_absent_or_complete(&registry, &tag) {
            Ok(present) => assert!(!present, "SIG{sig}: an interrupted push created tag {tag}"),
            Err(e) => panic!("SIG{sig}: {e}"),
        }
    }
}
