//! The pre-push hook end to end: the real binary installs it (`hook install --image
//! app/web:{sha}`) in a real git repository, and real `git push`es to a local bare repository
//! run it; the hook runs the real gate on the image built for each pushed commit, against moto
//! (ECR: the commit's tag) and the scripted Inspector2 server (its findings). Checked: a pass
//! pushes, a violation blocks with one reason line and how to skip, `INSPECTOR_GATE_SKIP=1`
//! skips, tags and deletions are not checked, every commit of a two-branch push is checked,
//! `INSPECTOR_GATE_HOOK_TIMEOUT` reaches the gate, and a committed TOML key holding `\033]52;…`
//! (OSC 52: write the clipboard) reaches the terminal only as sanitised text, never as an
//! escape sequence (dash's `echo` would have made one of it).
#![cfg(unix)]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::aws::{self as a};
use support::findings::scanned;
use support::scenario::finding;
use support::world::{self, REPO};

/// The shared world (its temp dir is git's HOME and holds the bare remote) and the work tree.
struct World {
    world: world::World,
    root: PathBuf,
    work: PathBuf,
}

impl std::ops::Deref for World {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.world
    }
}

/// `git` in `dir` with a fixed identity, no system or user config, and the AWS environment
/// the hook's gate needs (the hook inherits git's environment).
fn git_in(w: &World, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &w.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["-c", "init.defaultBranch=main", "-c", "user.name=t"])
        .args([
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(["-c", "tag.gpgsign=false"])
        .args(args);
    for (k, v) in a::aws_env(&w.moto.url) {
        c.env(k, v);
    }
    c.env("AWS_ENDPOINT_URL_ECR", &w.moto.url)
        .env("AWS_ENDPOINT_URL_INSPECTOR2", &w.scen.url)
        .env("INSPECTOR_GATE_POLL_INTERVAL", "50ms")
        .env("INSPECTOR_GATE_SETTLE", "100ms");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = a::run_bounded(c, std::time::Duration::from_secs(120));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

impl World {
    fn new() -> World {
        let world = world::World::new();
        let root = world.path().to_path_buf();
        let work = root.join("work");
        std::fs::create_dir(&work).unwrap();
        let w = World { world, root, work };
        assert!(w.git(&w.root, &["init", "-q", "--bare", "remote.git"]).0);
        assert!(w.git(&w.work, &["init", "-q"]).0);
        assert!(
            w.git(&w.work, &["remote", "add", "origin", "../remote.git"])
                .0
        );
        w
    }

    fn git(&self, dir: &Path, args: &[&str]) -> (bool, String, String) {
        git_in(self, dir, args, &[])
    }

    fn push(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let mut full = vec!["push", "-q", "origin"];
        full.extend_from_slice(args);
        git_in(self, &self.work, &full, env)
    }

    /// Commit (with the policy file `policy`), then "build" the commit's image: tag it with the
    /// commit in moto and give Inspector a finished scan with `severity`'s finding.
    fn commit(&self, msg: &str, policy: &str, severity: &str) -> (String, String) {
        std::fs::write(self.work.join(".inspector-gate.toml"), policy).unwrap();
        assert!(self.git(&self.work, &["add", "."]).0);
        assert!(
            self.git(&self.work, &["commit", "-q", "--allow-empty", "-m", msg])
                .0
        );
        let sha = self.git(&self.work, &["rev-parse", "HEAD"]).1;
        let digest = self.put_image(&sha, msg);
        let f = finding(
            "CVE-2024-0001",
            severity,
            "openssl",
            "3.0.1",
            None,
            &digest,
            REPO,
        );
        self.script(&digest, scanned(1_700_000_000, vec![f]));
        (sha, digest)
    }

    fn remote_main(&self) -> String {
        self.git(&self.root.join("remote.git"), &["rev-parse", "main"])
            .1
    }

    /// Was the image `digest` gated (its findings read)?
    fn gated(&self, digest: &str) -> bool {
        !self.scen.calls_about("ListFindings", digest).is_empty()
    }
}

const POLICY: &str = "fail-on = \"CRITICAL\"\n";

fn blocked_line(err: &str) -> &str {
    err.lines()
        .find(|l| l.starts_with("inspector-gate: push blocked"))
        .unwrap_or_else(|| panic!("no reason line in {err}"))
}

#[test]
fn git_push_runs_the_real_gate_on_each_pushed_commit() {
    let w = World::new();
    let out = Command::new(a::bin())
        .args(["hook", "install", "--image", "app/web:{sha}"])
        .current_dir(&w.work)
        .env("HOME", &w.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("pre-push") && said.contains("gate --image app/web:{sha}"),
        "{said}"
    );

    // A pass: pushed, and the gate read the findings of exactly this commit's image.
    let (first, d1) = w.commit("one", POLICY, "LOW");
    let (ok, _, err) = w.push(&["main"], &[]);
    assert!(ok, "{err}");
    assert!(w.gated(&d1), "{err}");
    assert_eq!(w.remote_main(), first);

    // A violation: blocked, one reason line and how to skip, the remote unchanged.
    let (second, d2) = w.commit("two", POLICY, "CRITICAL");
    let (ok, _, err) = w.push(&["main"], &[]);
    assert!(!ok, "the push went through: {err}");
    assert!(w.gated(&d2));
    let line = blocked_line(&err);
    assert!(
        line.starts_with(&format!(
            "inspector-gate: push blocked for {} (main): ",
            &second[..12]
        )) && line.ends_with(
            "(exit 1). Skip once: INSPECTOR_GATE_SKIP=1 git push (or git push --no-verify)."
        ),
        "{line}"
    );
    assert!(err.contains("CVE-2024-0001"), "live output lost: {err}");
    assert_eq!(w.remote_main(), first);

    // Skipped once on request: pushed without running the gate.
    let before = w.scen.calls("ListFindings");
    let (ok, _, err) = w.push(&["main"], &[("INSPECTOR_GATE_SKIP", "1")]);
    assert!(ok, "{err}");
    assert!(err.contains("skipped (INSPECTOR_GATE_SKIP=1)"), "{err}");
    assert_eq!(w.scen.calls("ListFindings"), before);
    assert_eq!(w.remote_main(), second);

    // A tag-only push and a branch deletion are not checked (the tag's commit would fail).
    assert!(w.git(&w.work, &["tag", "-a", "-m", "v1", "v1"]).0);
    let (ok, _, err) = w.push(&["v1"], &[]);
    assert!(ok, "tag push blocked: {err}");
    assert!(w.push(&["main:topic"], &[("INSPECTOR_GATE_SKIP", "1")]).0);
    let (ok, _, err) = w.push(&[":topic"], &[]);
    assert!(ok, "deletion blocked: {err}");
    assert_eq!(w.scen.calls("ListFindings"), before);

    // Two branches in one push: each pushed commit is gated (the gate never reads git's ref
    // list from stdin, or it would swallow the second line).
    let (third, d3) = w.commit("three", POLICY, "LOW");
    let (_, d4) = w.commit("four", POLICY, "LOW");
    assert!(w.git(&w.work, &["branch", "feature", &third]).0);
    let (ok, _, err) = w.push(&["main", "feature"], &[]);
    assert!(ok, "{err}");
    assert!(w.gated(&d3) && w.gated(&d4), "{err}");

    // The time limit is the developer's to change: it reaches the gate (which refuses this one).
    let (fifth, _) = w.commit("five", POLICY, "LOW");
    let (ok, _, err) = w.push(&["main"], &[("INSPECTOR_GATE_HOOK_TIMEOUT", "soon")]);
    assert!(!ok, "{err}");
    let line = blocked_line(&err);
    assert!(
        line.contains(&fifth[..12]) && line.contains("soon") && line.contains("(exit 2)"),
        "{line}"
    );

    // A committed TOML key quoting an OSC 52 sequence as backslash text: the gate names the key
    // in its error line; the hook's reason line shows the same text, never the escape codes.
    let hostile = "'\\033]52;c;aGk=\\a' = 1\nfail-on = \"CRITICAL\"\n";
    let (sixth, _) = w.commit("six", hostile, "LOW");
    let (ok, _, err) = w.push(&["main"], &[]);
    assert!(!ok, "{err}");
    assert!(
        !err.contains(['\u{1b}', '\u{7}']) && !err.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reached the terminal: {err:?}"
    );
    let line = blocked_line(&err);
    assert!(
        line.contains(&sixth[..12]) && line.contains("(exit 2)"),
        "{line}"
    );
    assert!(
        line.contains(r"\033]52;c;aGk=\a"),
        "the key is not shown as text: {line:?}"
    );
}
