//! `inspector-gate config`: the effective policy and the origin of every value.

use crate::cli::ConfigArgs;
use crate::error::Result;
use clap::ArgMatches;

pub fn run(args: ConfigArgs, m: &ArgMatches) -> Result<i32> {
    let resolved = super::resolve_policy(&args.policy, m)?;
    println!("{:<28} {:<24} SOURCE", "KEY", "VALUE");
    if resolved.origins.is_empty() {
        println!("(no thresholds set: every finding is reported, none fails the gate)");
    }
    for (key, value, source) in &resolved.origins {
        println!("{key:<28} {value:<24} {source}");
    }
    let max: Vec<String> = resolved
        .policy
        .max
        .iter()
        .map(|(s, n)| format!("{s}<={n}"))
        .collect();
    println!(
        "\neffective thresholds: {}",
        if max.is_empty() {
            "none".into()
        } else {
            max.join(", ")
        }
    );
    Ok(0)
}
