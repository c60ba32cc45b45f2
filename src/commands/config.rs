//! `inspector-gate config`: the effective policy, every key of the policy key table with its
//! value and the layer that decided it (flag, env, file, floor — or the built-in default,
//! shown as the `default` layer), then each ignore rule with its scope and expiry (expired
//! ones marked: their findings count again), and, where no policy file was read, how to
//! write one. Rendering is pure: the clock and the file found are passed in.

use super::args::PolicyArgs;
use clap::Args;
use inspector_gate::error::Result;
use inspector_gate::policy::file::{Resolved, Source, DEFAULT_POLICY_FILE};
use inspector_gate::policy::keys::{Kind, TABLE};
use inspector_gate::policy::IgnoreRule;
use inspector_gate::sanitize::text;
use std::path::Path;
use time::Date;

#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
}

pub fn run(args: ConfigArgs) -> Result<i32> {
    let resolved = super::block_on(super::resolve_policy(
        &args.policy,
        &Default::default(),
        inspector_gate::aws::floor::FLOOR_BUDGET,
    ))?;
    let req = args.policy.request()?;
    let file = inspector_gate::policy::file::locate(req.file.as_deref(), &req.dir)?;
    print!("{}", render(&resolved, file.as_deref(), req.today));
    Ok(0)
}

/// The table `config` prints: one line per key, then the thresholds, then each ignore rule
/// (as of `today`), then — when `file` is `None` — where a policy file would come from.
fn render(resolved: &Resolved, file: Option<&Path>, today: Date) -> String {
    let mut out = format!("{:<28} {:<24} SOURCE\n", "KEY", "VALUE");
    let mut line = |key: &str, value: &str, source: &str| {
        // Values, ids and reasons come from policy files: printed as one safe line each.
        out.push_str(&format!(
            "{:<28} {:<24} {}\n",
            text(key),
            text(value),
            text(source)
        ));
    };
    let origin = |key: &str| resolved.origins.iter().find(|(k, _, _)| k == key);
    for key in TABLE {
        match key.kind {
            // Listed below, one line per rule.
            Kind::Ignores => {}
            // Only the severities some layer overrides.
            Kind::PerSeverity => {
                for (k, value, source) in resolved
                    .origins
                    .iter()
                    .filter(|(k, _, _)| k.starts_with("baseline.count-"))
                {
                    line(k, value, &source.to_string());
                }
            }
            _ => match origin(key.name) {
                Some((_, value, source)) => line(key.name, value, &source.to_string()),
                None => line(key.name, key.default, &Source::Default.to_string()),
            },
        }
    }
    let thresholds = resolved
        .policy
        .thresholds_text()
        .unwrap_or_else(|| "none (every finding is reported, none fails the gate)".into());
    let default = if resolved.builtin_default {
        " (the built-in default: no layer sets a threshold)"
    } else {
        ""
    };
    out.push_str(&format!("\neffective thresholds: {thresholds}{default}\n"));
    ignores(&mut out, resolved, today);
    if file.is_none() {
        out.push_str(&format!(
            "\nno policy file: ./{DEFAULT_POLICY_FILE} does not exist, so the values above are flags, environment, the floor and built-in defaults; `inspector-gate init` writes a commented one\n"
        ));
    }
    out
}

/// Each ignore rule: id, expiry (or that it has none, or that it expired), scope, the layer
/// that set it, and its reason on the line below.
fn ignores(out: &mut String, resolved: &Resolved, today: Date) {
    let rules = &resolved.policy.ignores;
    if rules.is_empty() {
        out.push_str("\nignore rules: none\n");
        return;
    }
    let expired = rules
        .iter()
        .filter(|r| r.expires.is_some_and(|d| d < today))
        .count();
    let expired = match expired {
        0 => String::new(),
        n => format!(", {n} expired"),
    };
    out.push_str(&format!("\nignore rules ({}{expired}):\n", rules.len()));
    for r in rules {
        let source = resolved
            .origins
            .iter()
            .find(|(k, _, _)| *k == format!("ignore {}", r.id))
            .map(|(_, _, s)| s.to_string())
            .unwrap_or_else(|| Source::Default.to_string());
        out.push_str(&format!(
            "  {:<20} {:<36} {}  ({})\n      {}\n",
            text(&r.id),
            expiry(r, today),
            scope(r),
            text(&source),
            text(&r.reason)
        ));
    }
}

/// `until 2027-01-31 (70 days left)`, `EXPIRED 2026-11-01: counts again`, `no expiry`.
fn expiry(r: &IgnoreRule, today: Date) -> String {
    match r.expires {
        None => "no expiry".into(),
        Some(d) if d < today => {
            format!(
                "EXPIRED {d} ({} days ago): counts again",
                (today - d).whole_days()
            )
        }
        Some(d) => match (d - today).whole_days() {
            0 => format!("until {d} (its last day)"),
            1 => format!("until {d} (1 day left)"),
            n => format!("until {d} ({n} days left)"),
        },
    }
}

/// Where a rule applies: its package and repository, or everywhere.
fn scope(r: &IgnoreRule) -> String {
    let package = r
        .package
        .as_deref()
        .map(|p| format!("package {}", text(p)))
        .unwrap_or_else(|| "any package".into());
    let repository = r
        .repository
        .as_deref()
        .map(|p| format!("repository {}", text(p)))
        .unwrap_or_else(|| "any repository".into());
    format!("{package}, {repository}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use inspector_gate::policy::file::{parse, parse_floor, resolve, resolve_with};
    use std::path::Path;

    const TODAY: Date = time::macros::date!(2026 - 11 - 28);

    #[test]
    fn ignore_rules_show_scope_and_expiry_and_the_expired_are_marked() {
        let file = parse(
            "fail-on = \"HIGH\"\n\n[[ignore]]\nid = \"CVE-2026-1\"\nreason = \"not reachable\"\nexpires = 2027-01-31\npackage = \"libxml2\"\n\n[[ignore]]\nid = \"CVE-2026-2\"\nreason = \"vendor fix pending\"\nexpires = 2026-11-01\nrepository = \"app/web\"\n\n[[ignore]]\nid = \"CVE-2026-3\"\nreason = \"false positive\"\nexpires = 2026-11-28\n",
            Path::new("repo.toml"),
        )
        .unwrap();
        // Resolved as of a day when none had expired (an expiry in the past is allowed to
        // stand: its findings count again, which the gate warns about).
        let r = resolve_with(
            None,
            &[(file, Source::File("repo.toml".into()))],
            time::macros::date!(2026 - 10 - 01),
        )
        .unwrap();
        let out = render(&r, Some(Path::new("repo.toml")), TODAY);
        assert!(out.contains("\nignore rules (3, 1 expired):\n"), "{out}");
        let rule = |id: &str| {
            let mut lines = out.lines().skip_while(|l| !l.trim_start().starts_with(id));
            (
                lines.next().unwrap().to_string(),
                lines.next().unwrap().trim().to_string(),
            )
        };
        let (l, reason) = rule("CVE-2026-1");
        assert!(l.contains("until 2027-01-31 (64 days left)"), "{l}");
        assert!(l.contains("package libxml2, any repository"), "{l}");
        assert!(l.ends_with("(file repo.toml)"), "{l}");
        assert_eq!(reason, "not reachable");
        let (l, _) = rule("CVE-2026-2");
        assert!(
            l.contains("EXPIRED 2026-11-01 (27 days ago): counts again"),
            "{l}"
        );
        assert!(l.contains("any package, repository app/web"), "{l}");
        let (l, _) = rule("CVE-2026-3");
        assert!(l.contains("until 2026-11-28 (its last day)"), "{l}");
        // A policy file was read: no pointer at init.
        assert!(!out.contains("inspector-gate init"), "{out}");
    }

    #[test]
    fn with_no_policy_file_it_points_at_init() {
        let out = render(&resolve(&[]).unwrap(), None, TODAY);
        assert!(out.contains("\nignore rules: none\n"), "{out}");
        assert!(
            out.trim_end().ends_with(
                "no policy file: ./.inspector-gate.toml does not exist, so the values above are flags, environment, the floor and built-in defaults; `inspector-gate init` writes a commented one"
            ),
            "{out}"
        );
    }

    #[test]
    fn every_key_of_the_table_is_shown_with_its_layer() {
        let out = render(&resolve(&[]).unwrap(), None, TODAY);
        for key in TABLE
            .iter()
            .filter(|k| !matches!(k.kind, Kind::Ignores | Kind::PerSeverity))
        {
            assert!(
                out.lines()
                    .any(|l| l.starts_with(&format!("{} ", key.name))),
                "{key:?} missing:\n{out}"
            );
        }
        // No threshold anywhere: the built-in default, as the `default` layer.
        for (key, value) in [
            ("fail-on", "HIGH"),
            ("max-critical", "0"),
            ("max-high", "0"),
        ] {
            let l = out
                .lines()
                .find(|l| l.starts_with(&format!("{key} ")))
                .unwrap();
            assert!(
                l.contains(&format!(" {value} ")) && l.ends_with(" default"),
                "{l}"
            );
        }
        assert!(
            out.contains("CRITICAL<=0, HIGH<=0 (the built-in default"),
            "{out}"
        );
        let l = out.lines().find(|l| l.starts_with("max-medium ")).unwrap();
        assert!(l.contains("(unlimited)"), "{l}");
    }

    #[test]
    fn the_new_keys_show_their_layer() {
        let file = parse(
            "max-high = 1\nsuppressed = \"count\"\nscan-unread = \"warn\"\n",
            Path::new("repo.toml"),
        )
        .unwrap();
        let floor = parse_floor(
            "scan-unread = \"warn\"\nallow-soft-fail = false\n",
            "ssm:/ci/floor",
        )
        .unwrap();
        let r = resolve_with(
            Some(&floor),
            &[(file, Source::File("repo.toml".into()))],
            time::macros::date!(2026 - 11 - 28),
        )
        .unwrap();
        let out = render(&r, Some(Path::new("repo.toml")), TODAY);
        for (key, value, source) in [
            ("suppressed", "count", "file repo.toml"),
            ("scan-unread", "warn", "file repo.toml"),
            ("allow-soft-fail", "false", "floor ssm:/ci/floor"),
            ("fail-on", "(not set)", "default"),
        ] {
            let l = out
                .lines()
                .find(|l| l.starts_with(&format!("{key} ")))
                .unwrap();
            assert!(
                l.contains(&format!(" {value} ")) && l.ends_with(source),
                "{key}: {l}"
            );
        }
    }
}
