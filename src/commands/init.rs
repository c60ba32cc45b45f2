//! `inspector-gate init`: write the commented policy template.

use crate::cli::InitArgs;
use crate::error::{Error, Result};
use crate::policy::file::TEMPLATE;

pub fn run(args: InitArgs) -> Result<i32> {
    if args.path.exists() && !args.force {
        return Err(Error::usage(format!(
            "{} already exists; pass --force to overwrite it",
            args.path.display()
        )));
    }
    std::fs::write(&args.path, TEMPLATE)
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", args.path.display())))?;
    println!("wrote {}", args.path.display());
    Ok(0)
}
