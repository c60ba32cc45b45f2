//! `inspector-gate hook install|uninstall`: a git pre-push hook that runs the gate with the
//! repository's policy. A foreign hook is never overwritten silently: it is refused, or with
//! `--force` kept as a backup that `uninstall` restores.

use clap::Subcommand;
use inspector_gate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// Write .git/hooks/pre-push running `inspector-gate gate` on IMAGE.
    Install {
        #[arg(long, env = "INSPECTOR_GATE_IMAGE")]
        image: String,
        /// Replace a pre-push hook that we did not write (it is kept as pre-push.inspector-gate-backup).
        #[arg(long)]
        force: bool,
    },
    /// Remove our pre-push hook (restoring a backed-up one).
    Uninstall,
}

/// First line after the shebang of every hook we write; how we recognise our own.
pub const MARKER: &str = "# installed by inspector-gate hook install";
const BACKUP: &str = "pre-push.inspector-gate-backup";

fn hooks_dir() -> Result<PathBuf> {
    let out = Command::new("git")
        .args(["rev-parse", "--git-path", "hooks"])
        .output()
        .map_err(|e| Error::runtime(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Error::usage(
            "not inside a git repository (run this from your repository's working tree)",
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The hook script: POSIX sh, so it runs under Git for Windows' bundled shell too.
pub fn script(image: &str) -> String {
    let quoted = image.replace('\'', "'\\''");
    format!(
        "#!/bin/sh\n{MARKER}\n# Runs the gate on the image before every push; remove with `inspector-gate hook uninstall`.\n\
         # Skip once with: git push --no-verify\nexec inspector-gate gate --image '{quoted}'\n"
    )
}

pub fn install(dir: &Path, image: &str, force: bool) -> Result<PathBuf> {
    image.parse::<inspector_gate::image_ref::ImageRef>()?;
    std::fs::create_dir_all(dir)?;
    let hook = dir.join("pre-push");
    if hook.exists() {
        let existing = std::fs::read_to_string(&hook).unwrap_or_default();
        if !existing.contains(MARKER) {
            if !force {
                return Err(Error::usage(format!(
                    "{} exists and was not written by inspector-gate; pass --force to replace it (it is kept as {BACKUP})",
                    hook.display()
                )));
            }
            std::fs::rename(&hook, dir.join(BACKUP))?;
        }
    }
    std::fs::write(&hook, script(image))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(hook)
}

pub fn uninstall(dir: &Path) -> Result<String> {
    let hook = dir.join("pre-push");
    let ours = std::fs::read_to_string(&hook)
        .map(|t| t.contains(MARKER))
        .unwrap_or(false);
    if !ours {
        return Err(Error::usage(format!(
            "{} is not an inspector-gate hook; nothing removed",
            hook.display()
        )));
    }
    std::fs::remove_file(&hook)?;
    let backup = dir.join(BACKUP);
    if backup.exists() {
        std::fs::rename(&backup, &hook)?;
        return Ok(format!(
            "removed the inspector-gate hook and restored the previous {}",
            hook.display()
        ));
    }
    Ok(format!("removed {}", hook.display()))
}

pub fn run(cmd: HookCommand) -> Result<i32> {
    let dir = hooks_dir()?;
    match cmd {
        HookCommand::Install { image, force } => {
            let p = install(&dir, &image, force)?;
            println!(
                "installed {} (runs `inspector-gate gate --image {image}` before each push)",
                p.display()
            );
        }
        HookCommand::Uninstall => println!("{}", uninstall(&dir)?),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_refuses_foreign_hook_unless_forced_and_uninstall_restores_it() {
        let d = tempfile::tempdir().unwrap();
        let hook = d.path().join("pre-push");
        std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
        let e = install(d.path(), "app:v1", false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        install(d.path(), "app:v1", true).unwrap();
        assert!(std::fs::read_to_string(&hook)
            .unwrap()
            .contains("--image 'app:v1'"));
        // Re-installing over our own hook needs no --force.
        install(d.path(), "app:v2", false).unwrap();
        uninstall(d.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&hook).unwrap(),
            "#!/bin/sh\necho mine\n"
        );
        assert!(uninstall(d.path()).is_err());
        assert_eq!(
            install(d.path(), "Bad Ref", true).unwrap_err().exit_code(),
            2
        );
    }
}
