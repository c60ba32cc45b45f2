//! `inspector-gate config`: the effective policy, every key of the policy key table with its
//! value and the layer that decided it (flag, env, file, floor — or the built-in default,
//! shown as the `default` layer).

use super::args::PolicyArgs;
use clap::Args;
use inspector_gate::error::Result;
use inspector_gate::policy::file::{Resolved, Source};
use inspector_gate::policy::keys::{Kind, TABLE};
use inspector_gate::sanitize::text;

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
    print!("{}", render(&resolved));
    Ok(0)
}

/// The table `config` prints: one line per key, then each ignore rule, then the thresholds.
fn render(resolved: &Resolved) -> String {
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
    for (key, value, source) in resolved
        .origins
        .iter()
        .filter(|(k, _, _)| k.starts_with("ignore "))
    {
        line(key, value, &source.to_string());
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use inspector_gate::policy::file::{parse, parse_floor, resolve, resolve_with};
    use std::path::Path;

    #[test]
    fn every_key_of_the_table_is_shown_with_its_layer() {
        let out = render(&resolve(&[]).unwrap());
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
        let out = render(&r);
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
