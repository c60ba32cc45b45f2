//! `inspector-gate config`: the effective policy, every key with its value and the layer that
//! decided it (flag, env, file — or the built-in default, shown as such).

use super::args::PolicyArgs;
use clap::{ArgMatches, Args};
use inspector_gate::error::Result;
use inspector_gate::policy::file::{Source, KEYS};

#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// What each key means when no layer sets it.
fn default_value(key: &str) -> &'static str {
    match key {
        "fail-on" | "min-epss" | "min-inspector-score" => "(not set)",
        k if k.starts_with("max-") => "(unlimited)",
        "ignore-unfixed" | "exploit-available-only" => "false",
        "unmatched-ignore" => "warn",
        _ => "(none)",
    }
}

use inspector_gate::sanitize::text;

pub fn run(args: ConfigArgs, m: &ArgMatches) -> Result<i32> {
    let resolved = super::resolve_policy(&args.policy, m, &Default::default())?;
    println!("{:<28} {:<24} SOURCE", "KEY", "VALUE");
    for key in KEYS.iter().filter(|k| **k != "ignore") {
        if *key == "baseline" {
            // The [baseline] table: `count`, then each per-severity override that is set.
            let set: Vec<_> = resolved
                .origins
                .iter()
                .filter(|(k, _, _)| k.starts_with("baseline."))
                .collect();
            if !set.iter().any(|(k, _, _)| k == "baseline.count") {
                println!("{:<28} {:<24} {}", "baseline.count", "new", Source::Default);
            }
            for (k, value, source) in set {
                println!("{k:<28} {:<24} {source}", text(value));
            }
            continue;
        }
        match resolved.origins.iter().find(|(k, _, _)| k == key) {
            Some((_, value, source)) => println!("{key:<28} {:<24} {source}", text(value)),
            None => println!("{key:<28} {:<24} {}", default_value(key), Source::Default),
        }
    }
    for (key, value, source) in resolved
        .origins
        .iter()
        .filter(|(k, _, _)| k.starts_with("ignore "))
    {
        // Ignore ids and reasons come from the policy file: printed as one safe line each.
        println!(
            "{:<28} {:<24} {}",
            text(key),
            text(value),
            text(&source.to_string())
        );
    }
    println!(
        "\neffective thresholds: {}",
        resolved
            .policy
            .thresholds_text()
            .unwrap_or_else(|| "none (every finding is reported, none fails the gate)".into())
    );
    Ok(0)
}
