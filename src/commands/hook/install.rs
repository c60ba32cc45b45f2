//! Writing and removing `.git/hooks/pre-push`: a foreign hook is never overwritten silently
//! (refused, or with `--force` kept as a backup that `uninstall` restores), nothing is written
//! through a symbolic link, an earlier backup is never overwritten, and the hook is written
//! beside its place, executable, and renamed over it by `file::replace_with_mode` (never half
//! a hook).

use super::script::{script, MARKER};
use super::template::HookSpec;
use inspector_gate::error::{Error, Result};
use inspector_gate::file;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Refuse a symbolic link at `path`: writing (or restoring) through it would change a file
/// somewhere else, possibly shared by other repositories.
fn refuse_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let target = fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            Err(Error::usage(format!(
                "{} is a symbolic link (to {target}); inspector-gate does not write through links: remove the link, or call inspector-gate from the script it points to",
                path.display()
            )))
        }
        _ => Ok(()),
    }
}

fn is_ours(path: &Path) -> bool {
    fs::read_to_string(path)
        .map(|t| t.contains(MARKER))
        .unwrap_or(false)
}

/// Copy `from` to `to`, failing if `to` exists in any form (never clobbers a backup).
fn copy_new(from: &Path, to: &Path) -> Result<()> {
    let bytes = fs::read(from)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    Ok(())
}

/// Write `spec`'s hook into the hooks directory `dir`.
pub fn install(dir: &Path, spec: &HookSpec, force: bool) -> Result<PathBuf> {
    let text = script(spec)?;
    fs::create_dir_all(dir)?;
    let hook = dir.join("pre-push");
    let backup = dir.join(BACKUP);
    refuse_symlink(&hook)?;
    if fs::symlink_metadata(&hook).is_ok() && !is_ours(&hook) {
        if !force {
            return Err(Error::usage(format!(
                "{} exists and was not written by inspector-gate; pass --force to replace it (it is kept as {BACKUP})",
                hook.display()
            )));
        }
        if fs::symlink_metadata(&backup).is_ok() {
            return Err(Error::usage(format!(
                "{} already holds an earlier backup and inspector-gate never overwrites one: move it away, then run this again",
                backup.display()
            )));
        }
        copy_new(&hook, &backup)?;
    }
    // Written beside the hook, executable, then renamed over it: never a half-written hook.
    file::replace_with_mode(&hook, text.as_bytes(), 0o755)?;
    Ok(hook)
}

/// Remove our hook from the hooks directory `dir`, restoring a backed-up one.
pub fn uninstall(dir: &Path) -> Result<String> {
    let hook = dir.join("pre-push");
    refuse_symlink(&hook)?;
    if !is_ours(&hook) {
        return Err(Error::usage(format!(
            "{} is not an inspector-gate hook; nothing removed",
            hook.display()
        )));
    }
    fs::remove_file(&hook)?;
    let backup = dir.join(BACKUP);
    if fs::symlink_metadata(&backup).is_ok() {
        fs::rename(&backup, &hook)?;
        return Ok(format!(
            "removed the inspector-gate hook and restored the previous {}",
            hook.display()
        ));
    }
    Ok(format!("removed {}", hook.display()))
}

/// The absolute path of the running binary: what the hook will call.
pub fn this_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::runtime(format!("cannot find this program's own path: {e}")))?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

/// Install `spec` as the current repository's pre-push hook and say what it does. The CLI maps
/// its flags to a [`HookSpec`] (`HookSpec::gate` for `--image`, `HookSpec::scan` for `--scan`)
/// and calls this.
pub fn install_here(spec: &HookSpec, force: bool) -> Result<PathBuf> {
    let p = install(&hooks_dir()?, spec, force)?;
    println!(
        "installed {}: before each push, runs `{}` for each pushed commit ({{sha}}); skip once with INSPECTOR_GATE_SKIP=1 git push",
        p.display(),
        spec.display()
    );
    Ok(p)
}

/// Remove the current repository's pre-push hook (if ours) and restore a backed-up one.
pub fn uninstall_here() -> Result<()> {
    println!("{}", uninstall(&hooks_dir()?)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(p: &str) -> PathBuf {
        std::env::temp_dir().join(p)
    }

    #[test]
    fn install_refuses_foreign_hook_unless_forced_and_uninstall_restores_it() {
        let d = tempfile::tempdir().unwrap();
        let hook = d.path().join("pre-push");
        let spec = HookSpec::gate(abs("ig"), "app:{sha}").unwrap();
        fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
        let e = install(d.path(), &spec, false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        install(d.path(), &spec, true).unwrap();
        assert!(fs::read_to_string(&hook)
            .unwrap()
            .contains("'app:'\"$sha\""));
        assert_eq!(
            fs::read_to_string(d.path().join(BACKUP)).unwrap(),
            "#!/bin/sh\necho mine\n"
        );
        // Re-installing over our own hook needs no --force and keeps the backup.
        let spec2 = HookSpec::gate(abs("ig"), "app:v2-{sha}").unwrap();
        install(d.path(), &spec2, false).unwrap();
        uninstall(d.path()).unwrap();
        assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\necho mine\n");
        assert!(!d.path().join(BACKUP).exists());
        assert!(uninstall(d.path()).is_err());
    }

    #[test]
    fn an_earlier_backup_is_never_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let hook = d.path().join("pre-push");
        let spec = HookSpec::gate(abs("ig"), "app:{sha}").unwrap();
        fs::write(d.path().join(BACKUP), "first backup\n").unwrap();
        fs::write(&hook, "another foreign hook\n").unwrap();
        let e = install(d.path(), &spec, true).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("earlier backup"), "{e}");
        assert_eq!(
            fs::read_to_string(d.path().join(BACKUP)).unwrap(),
            "first backup\n"
        );
        assert_eq!(fs::read_to_string(&hook).unwrap(), "another foreign hook\n");
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let shared = d.path().join("shared-hook");
        fs::write(&shared, "#!/bin/sh\necho shared\n").unwrap();
        let hooks = d.path().join("hooks");
        fs::create_dir(&hooks).unwrap();
        std::os::unix::fs::symlink(&shared, hooks.join("pre-push")).unwrap();
        let spec = HookSpec::gate(abs("ig"), "app:{sha}").unwrap();
        for force in [false, true] {
            let e = install(&hooks, &spec, force).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        assert_eq!(
            fs::read_to_string(&shared).unwrap(),
            "#!/bin/sh\necho shared\n"
        );
        assert!(!hooks.join(BACKUP).exists());
        // Even a link to one of our own hooks is left alone by uninstall.
        fs::write(&shared, script(&spec).unwrap()).unwrap();
        assert!(uninstall(&hooks).is_err());
        assert!(shared.exists() && hooks.join("pre-push").exists());
    }
}
