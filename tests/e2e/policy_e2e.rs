//! The policy as a user meets it, through the real binary: with no policy at all the gate
//! still gates (the built-in `fail-on = "HIGH"`, said on stderr and by `config`); a policy
//! file's problems are refused one per line with the key that was meant; every key of the
//! table has a flag and an env variable that `config` attributes.

use crate::support;

use support::scenario::{finding, Read};
use support::world::{done_long_ago, script, World};

const NOTICE: &str =
    "policy: built-in default (fail-on HIGH) — run `inspector-gate init` to choose your own";

/// Push an image tagged `tag` whose scan found one finding of `severity`.
fn image(w: &World, tag: &str, severity: &str) {
    let d = w.put_image(tag, tag);
    let f = finding(
        "CVE-2026-31001",
        severity,
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        &d,
        support::world::REPO,
    );
    w.script(
        &d,
        script(vec![done_long_ago()], vec![Read::Findings(vec![f])]),
    );
}

/// Write `body` to `name` in the world's dir; returns the file's path.
fn write(w: &World, name: &str, body: &str) -> String {
    let p = w.path().join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn no_policy_at_all_still_fails_a_high_finding() {
    let w = World::new();
    image(&w, "high", "HIGH");
    image(&w, "medium", "MEDIUM");
    // No file, no flag, no env, no floor: HIGH fails (it used to pass with exit 0).
    let (code, out, err) = w.gate_env(&["--image", "app/web:high", "--report-dir", "r"], &[]);
    assert_eq!(code, 1, "no policy must not mean no gate\n{out}\n{err}");
    assert_eq!(err.lines().filter(|l| *l == NOTICE).count(), 1, "{err}");
    let report = w.json("r/report.json");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(
        report["policy"]["max"],
        serde_json::json!({ "CRITICAL": 0, "HIGH": 0 })
    );
    // The default is fail-on HIGH, not "fail on anything": a MEDIUM passes.
    let (code, _, err) = w.gate_env(&["--image", "app/web:medium"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(NOTICE), "{err}");
    // Any threshold from any layer replaces the default, and the notice goes.
    for (args, env) in [
        (vec!["--max-high", "1"], vec![]),
        (vec![], vec![("INSPECTOR_GATE_MAX_HIGH", "1")]),
    ] {
        let mut full = vec!["--image", "app/web:high"];
        full.extend(args);
        let (code, _, err) = w.gate_env(&full, &env);
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("built-in default"), "{err}");
    }
    write(&w, ".inspector-gate.toml", "max-medium = 5\n");
    let (code, _, err) = w.gate_env(&["--image", "app/web:high"], &[]);
    assert_eq!(code, 0, "the file's own thresholds: HIGH unlimited\n{err}");
    let floor = write(&w, "floor.toml", "max-critical = 0\n");
    std::fs::remove_file(w.dir.path().join(".inspector-gate.toml")).unwrap();
    let (code, _, err) = w.gate_env(&["--image", "app/web:high", "--policy-floor", &floor], &[]);
    assert_eq!(code, 0, "the floor's thresholds: HIGH unlimited\n{err}");
    // `config` shows the default as the `default` layer.
    let (code, out, err) = w.run(&["config"], &[]);
    assert_eq!(code, 0, "{err}");
    for (key, value) in [
        ("fail-on", "HIGH"),
        ("max-critical", "0"),
        ("max-high", "0"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap();
        assert!(
            line.contains(&format!(" {value} ")) && line.ends_with(" default"),
            "{out}"
        );
    }
    assert!(err.contains(NOTICE), "{err}");
}

#[test]
fn policy_problems_are_one_per_line_with_the_key_meant() {
    let w = World::new();
    write(&w, ".inspector-gate.toml", "fail-onn = \"HIGH\"\n");
    let (code, out, err) = w.run(&["config"], &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.is_empty());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "error: invalid policy file {}:1:1: fail-onn: unknown key; did you mean `fail-on`?",
            w.dir.path().join(".inspector-gate.toml").display()
        )],
        "{err}"
    );
    // Several problems: one error line that counts them, then each on its own line.
    write(
        &w,
        ".inspector-gate.toml",
        "max-hihg = 1\nsuppresed = \"count\"\nscan-unread = \"maybe\"\nallow-soft-fail = false\n",
    );
    let (code, _, err) = w.run(&["config"], &[]);
    assert_eq!(code, 2, "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].ends_with(": 4 problems, one per line below"),
        "{err}"
    );
    for want in [
        ":1:1: max-hihg: unknown key; did you mean `max-high`?",
        ":2:1: suppresed: unknown key; did you mean `suppressed`?",
        ":3:1: scan-unread: unknown variant `maybe`, expected one of `fail`, `warn`",
        ":4:1: allow-soft-fail: only the policy floor sets this key; move it to the CI owner's floor (--policy-floor)",
    ] {
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("  ") && l.ends_with(want))
                .count(),
            1,
            "{want}\n{err}"
        );
    }
    // A flag is checked by the same rules, and named.
    std::fs::remove_file(w.dir.path().join(".inspector-gate.toml")).unwrap();
    let (code, _, err) = w.run(&["config", "--suppressed", "ignore"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.lines()
            .next()
            .unwrap_or_default()
            .contains("--suppressed")
            && err.contains("unknown variant `ignore`, expected one of `count`, `honor`"),
        "{err}"
    );
}

#[test]
fn the_new_keys_have_a_flag_an_env_variable_and_a_file_key() {
    let w = World::new();
    let row = |out: &str, key: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} missing:\n{out}"))
            .to_string()
    };
    let (_, out, _) = w.run(&["config"], &[]);
    assert!(
        row(&out, "suppressed").ends_with(" default")
            && row(&out, "suppressed").contains(" count ")
    );
    assert!(row(&out, "scan-unread").contains(" fail "), "{out}");
    assert!(row(&out, "allow-soft-fail").contains(" true "), "{out}");
    write(&w, ".inspector-gate.toml", "scan-unread = \"warn\"\n");
    let (code, out, err) = w.run(
        &["config", "--suppressed", "honor"],
        &[("INSPECTOR_GATE_SCAN_UNREAD", "fail")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        row(&out, "suppressed").ends_with("flag --suppressed"),
        "{out}"
    );
    assert!(row(&out, "suppressed").contains(" honor "), "{out}");
    assert!(
        row(&out, "scan-unread").ends_with("env INSPECTOR_GATE_SCAN_UNREAD")
            && row(&out, "scan-unread").contains(" fail "),
        "env beats the file: {out}"
    );
    let (_, out, _) = w.run(&["config"], &[]);
    assert!(
        row(&out, "scan-unread").contains(" warn ") && row(&out, "scan-unread").contains("file ")
    );
}
