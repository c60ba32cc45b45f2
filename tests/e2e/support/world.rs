//! The world most gate tests start from, written once: moto (ECR) with the repository
//! `app/web` under an enhanced continuous-scanning rule, the scripted Inspector2/CodePipeline
//! server, and a temp dir the real binary runs in; the fast schedule a test gates with; the
//! stock findings, scan scripts and approval pipeline the gate tests share.

use super::aws::{self as a, text};
use super::findings::{finding, now, scanned_at};
use super::moto::Moto;
use super::scenario::{
    ApprovalExec, Cov, DigestScript, PipelineScript, Read, Scenario, ScenarioState,
};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::Path;

pub const REPO: &str = "app/web";
/// Fast schedule for tests: the production defaults are a 3s first poll (`--poll-interval`)
/// and a settle window of 8% of the wait, 2.5s to 60s (`--settle` unset). Later flags
/// override earlier ones, so a test's own `--settle` beats this one.
pub const FAST: &[&str] = &["--poll-interval", "50ms", "--settle", "200ms"];
/// The approval action every scripted pipeline has (`--approve`).
pub const APPROVE: &str = "demo/Approve/Manual";

/// moto with [`REPO`] created and covered by an enhanced continuous-scanning rule (`app/*`).
pub fn moto() -> Moto {
    let moto = Moto::start();
    a::create_repo(&moto.url, REPO);
    a::enhanced_scanning(&moto.url, "app/*");
    moto
}

/// `inspector-gate <args>` against ECR at `ecr` and the scripted server at `scen`, in `cwd`:
/// exit code, stdout, stderr.
pub fn run_at(
    ecr: &str,
    scen: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
) -> (i32, String, String) {
    text(&a::run(ecr, scen, args, env, cwd))
}

/// `inspector-gate gate` on the [`FAST`] schedule, then `args`, against ECR at `ecr` and the
/// scripted server at `scen`, in `cwd` (for tests that run it on a thread of their own or in
/// front of another ECR).
pub fn gate_at(
    ecr: &str,
    scen: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
) -> (i32, String, String) {
    let mut full = vec!["gate"];
    full.extend_from_slice(FAST);
    full.extend_from_slice(args);
    run_at(ecr, scen, &full, env, cwd)
}

pub struct World {
    pub moto: Moto,
    pub scen: Scenario,
    pub dir: tempfile::TempDir,
}

impl World {
    /// [`moto`], the scripted server with nothing scripted yet, and a temp dir.
    pub fn new() -> World {
        World::start(ScenarioState::default())
    }

    /// [`moto`], the scripted server with `state`, and a temp dir.
    pub fn start(state: ScenarioState) -> World {
        World {
            moto: moto(),
            scen: Scenario::start(state),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Put an image (distinct per `seed`) under `tag` in [`REPO`]; returns its digest.
    pub fn put_image(&self, tag: &str, seed: &str) -> String {
        a::put_image(&self.moto.url, REPO, Some(tag), seed)
    }

    /// From now on Inspector answers `digest` with `s`.
    pub fn script(&self, digest: &str, s: DigestScript) {
        self.scen
            .state
            .lock()
            .unwrap()
            .images
            .insert(digest.to_string(), s);
    }

    /// `inspector-gate <args>` (as given) against the peers, in the temp dir.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        run_at(&self.moto.url, &self.scen.url, args, env, self.dir.path())
    }

    /// `inspector-gate gate` on the [`FAST`] schedule, then `args`.
    pub fn gate(&self, args: &[&str]) -> (i32, String, String) {
        self.gate_env(args, &[])
    }

    /// [`World::gate`] with `env` added to the child's environment.
    pub fn gate_env(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        gate_at(&self.moto.url, &self.scen.url, args, env, self.dir.path())
    }

    /// The JSON file at `rel` in the temp dir (a report, a hand-off).
    pub fn json(&self, rel: &str) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join(rel)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every successful `PutApprovalResult`: (token, status, summary).
    pub fn approvals(&self) -> Vec<(String, String, String)> {
        self.scen.state.lock().unwrap().approvals.clone()
    }
}

pub fn script(cov: Vec<Cov>, reads: Vec<Read>) -> DigestScript {
    DigestScript {
        coverage: VecDeque::from(cov),
        reads: VecDeque::from(reads),
    }
}

/// A scan that finished just now.
pub fn done_now() -> Cov {
    scanned_at(now())
}

/// A scan that finished a day ago: one read and no settle wait.
pub fn done_long_ago() -> Cov {
    scanned_at(now() - 86_400)
}

/// The coverage answers of a scan that is not done yet: no row, then the two states a new
/// image goes through (a script ends them with its done row).
pub fn scanning() -> Vec<Cov> {
    vec![
        Cov::NoRow,
        Cov::Row {
            code: "ACTIVE",
            reason: "PENDING_INITIAL_SCAN",
            last_scanned_at: None,
        },
        Cov::Row {
            code: "ACTIVE",
            reason: "SCAN_IN_PROGRESS",
            last_scanned_at: None,
        },
    ]
}

/// CVE-2024-0001, CRITICAL in openssl 3.0.1, fixed in 3.0.13, for `d` in [`REPO`].
pub fn crit(d: &str) -> Value {
    finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        d,
        REPO,
    )
}

/// CVE-2024-0002, LOW in zlib 1.2.11, no fix, for `d` in [`REPO`].
pub fn low(d: &str) -> Value {
    finding("CVE-2024-0002", "LOW", "zlib", "1.2.11", None, d, REPO)
}

/// An attempt at the approval, `InProgress`, that shows up after `after` state polls.
pub fn exec(id: &str, token: &str, custom: Option<String>, after: usize) -> ApprovalExec {
    ApprovalExec {
        execution_id: id.into(),
        status: "InProgress",
        token: token.into(),
        custom_data: custom,
        revision: None,
        appears_after_polls: after,
    }
}

/// The pipeline of [`APPROVE`] with `executions` waiting at it.
pub fn pipeline(executions: Vec<ApprovalExec>) -> PipelineScript {
    PipelineScript {
        name: "demo".into(),
        stage: "Approve".into(),
        action: "Manual".into(),
        executions,
        ..Default::default()
    }
}
