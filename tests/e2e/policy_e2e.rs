//! The policy as a user meets it, through the real binary: a policy file's problems are
//! refused one per line with the key that was meant; every key of the table has a flag and
//! an env variable that `config` attributes.

use crate::support;

use support::aws::{self as a, text};
use support::moto::Moto;
use support::scenario::{Scenario, ScenarioState};

const REPO: &str = "app/web";
/// moto with an enhanced-scanned repository, the scripted Inspector2 server, a scratch dir.
struct World {
    moto: Moto,
    scen: Scenario,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let moto = Moto::start();
        a::create_repo(&moto.url, REPO);
        a::enhanced_scanning(&moto.url, "app/*");
        World {
            moto,
            scen: Scenario::start(ScenarioState::default()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let full = args.to_vec();
        text(&a::run(
            &self.moto.url,
            &self.scen.url,
            &full,
            env,
            self.dir.path(),
        ))
    }

    fn write(&self, name: &str, body: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    }
}

#[test]
fn policy_problems_are_one_per_line_with_the_key_meant() {
    let w = World::new();
    w.write(".inspector-gate.toml", "fail-onn = \"HIGH\"\n");
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
    w.write(
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
    w.write(".inspector-gate.toml", "scan-unread = \"warn\"\n");
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
