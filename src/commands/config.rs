//! `inspector-gate config`: the effective policy, every key with its value and the layer that
//! decided it (flag, env, file — or the built-in default, shown as such).

use crate::cli::PolicyArgs;
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

pub fn run(args: ConfigArgs, m: &ArgMatches) -> Result<i32> {
    let resolved = super::resolve_policy("config", &args.policy, m, &Default::default())?;
    println!("{:<28} {:<24} SOURCE", "KEY", "VALUE");
    for key in KEYS.iter().filter(|k| **k != "ignore") {
        match resolved.origins.iter().find(|(k, _, _)| k == key) {
            Some((_, value, source)) => println!("{key:<28} {value:<24} {source}"),
            None => println!("{key:<28} {:<24} {}", default_value(key), Source::Default),
        }
    }
    for (key, value, source) in resolved
        .origins
        .iter()
        .filter(|(k, _, _)| k.starts_with("ignore "))
    {
        println!("{key:<28} {value:<24} {source}");
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
