//! `inspector-gate init`: write the commented policy template.

use clap::Args;
use inspector_gate::error::{Error, Result};
use inspector_gate::policy::file::TEMPLATE;
use std::path::PathBuf;

/// Examples under `init --help`.
const EXAMPLES: &str = "\
Examples:
  # Write ./.inspector-gate.toml, then see what it resolves to
  inspector-gate init && inspector-gate config

  # A policy elsewhere, replacing one that exists
  inspector-gate init --path ci/inspector-gate.toml --force";

#[derive(Args, Debug, Clone)]
#[command(after_help = EXAMPLES)]
pub struct InitArgs {
    /// Where to write the policy.
    #[arg(long, default_value = ".inspector-gate.toml", value_name = "FILE")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: InitArgs) -> Result<i32> {
    if args.path.exists() && !args.force {
        return Err(Error::usage(format!(
            "{} already exists; pass --force to overwrite it",
            args.path.display()
        )));
    }
    inspector_gate::file::write(&args.path, TEMPLATE)?;
    println!("wrote {}", args.path.display());
    Ok(0)
}
