//! `inspector-gate hook install|uninstall`: a git pre-push hook a developer can keep installed.
//!
//! The hook reads the refs git passes on stdin (`<local ref> <local sha> <remote ref> <remote
//! sha>`) and, for each pushed commit, runs the binary that installed it (by absolute path) on
//! the image built for that commit: the arguments are templates in which `{sha}` and
//! `{short_sha}` stand for the pushed commit, e.g. `gate --image app:{sha}` (or, with the local
//! scan mode, `scan --from docker:app:{sha}`). Deletions and tag-only pushes are not checked,
//! `INSPECTOR_GATE_SKIP=1` skips it once, and it gets a short default timeout. When it blocks,
//! its last line is one reason and how to skip once, sanitized.
//!
//! `template` checks the argument templates, `script` writes the POSIX sh hook, `install`
//! puts it in place (never over a foreign hook silently, never through a link). The real-git
//! end-to-end test is `tests/e2e/hook_git.rs`.

mod install;
mod script;
mod template;

use install::{install_here, this_binary, uninstall_here};
use template::HookSpec;

use clap::Subcommand;
use inspector_gate::error::{Error, Result};

#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// Write .git/hooks/pre-push running `inspector-gate gate --image IMAGE` for each pushed
    /// commit; IMAGE may name it with {sha} or {short_sha} (e.g. app/web:{sha}).
    Install {
        /// Gate this ECR image (pushed by your build) for each pushed commit.
        #[arg(
            long,
            env = "INSPECTOR_GATE_IMAGE",
            required_unless_present = "scan",
            conflicts_with = "scan"
        )]
        image: Option<String>,
        /// Instead, scan this local image without pushing it (`inspector-gate scan --from`,
        /// seconds, needs only inspector-scan:ScanSbom), e.g. docker:app:{sha}.
        #[arg(long, value_name = "SOURCE")]
        scan: Option<String>,
        /// Replace a pre-push hook that we did not write (it is kept as pre-push.inspector-gate-backup).
        #[arg(long)]
        force: bool,
    },
    /// Remove our pre-push hook (restoring a backed-up one).
    Uninstall,
}

pub fn run(cmd: HookCommand) -> Result<i32> {
    match cmd {
        HookCommand::Install { image, scan, force } => {
            let spec = match (image, scan) {
                (_, Some(from)) => HookSpec::scan(this_binary()?, &from)?,
                (Some(image), None) => HookSpec::gate(this_binary()?, &image)?,
                (None, None) => {
                    return Err(Error::usage(
                        "hook install needs --image IMAGE or --scan SOURCE",
                    ))
                }
            };
            install_here(&spec, force)?;
        }
        HookCommand::Uninstall => uninstall_here()?,
    }
    Ok(0)
}
