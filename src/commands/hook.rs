//! `inspector-gate hook install|uninstall`: a git pre-push hook a developer can keep installed.
//!
//! The hook reads the refs git passes on stdin (`<local ref> <local sha> <remote ref> <remote
//! sha>`) and, for each pushed commit, runs the binary that installed it (by absolute path) on
//! the image built for that commit: the arguments are templates in which `{sha}` and
//! `{short_sha}` stand for the pushed commit, e.g. `gate --image app:{sha}` (or, with the local
//! scan mode, `scan --from docker:app:{sha}`). Deletions and tag-only pushes are not checked,
//! `INSPECTOR_GATE_SKIP=1` skips it once, and it gets a short default timeout. When it blocks,
//! its last line is one reason and how to skip once.
//!
//! A foreign hook is never overwritten silently: it is refused, or with `--force` kept as a
//! backup that `uninstall` restores. Nothing is written through a symbolic link, and an earlier
//! backup is never overwritten.

use clap::Subcommand;
use inspector_gate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// First line after the shebang of every hook we write; how we recognise our own.
pub const MARKER: &str = "# installed by inspector-gate hook install";
const BACKUP: &str = "pre-push.inspector-gate-backup";
/// The hook's time limit unless `INSPECTOR_GATE_HOOK_TIMEOUT` says otherwise: a push should
/// not hang for the gate's CI default of 30 minutes.
pub const DEFAULT_TIMEOUT: &str = "2m";
/// The placeholders an argument template may use, and the hook variable each becomes.
const PLACEHOLDERS: [(&str, &str); 2] = [("sha", "sha"), ("short_sha", "short_sha")];
/// A stand-in commit for checking templates at install time.
const SAMPLE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// What the hook runs for each pushed commit: `program` (an absolute path) with `args`, in
/// which `{sha}` / `{short_sha}` are replaced by the pushed commit's full / 12-character id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl HookSpec {
    /// Run `args` (templates) with `program`. At least one argument must name the commit: a
    /// fixed tag would check the same image whatever is pushed.
    pub fn new(program: PathBuf, args: Vec<String>) -> Result<Self> {
        if !program.is_absolute() {
            return Err(Error::usage(format!(
                "the hook needs an absolute program path, not {}",
                program.display()
            )));
        }
        if args.is_empty() {
            return Err(Error::usage("the hook needs a command to run"));
        }
        let mut names_commit = false;
        for arg in &args {
            if arg.chars().any(char::is_control) {
                return Err(Error::usage(format!(
                    "hook argument {arg:?} contains a control character"
                )));
            }
            names_commit |= !segments(arg)?.iter().all(|s| matches!(s, Seg::Lit(_)));
        }
        if !names_commit {
            return Err(Error::usage(format!(
                "`{}` names no commit: the hook checks the image built for each pushed commit, so put {{sha}} (or {{short_sha}}) where the commit goes, e.g. --image app:{{sha}}",
                args.join(" ")
            )));
        }
        Ok(Self { program, args })
    }

    /// `program gate --image IMAGE`, IMAGE a template checked as an image reference.
    pub fn gate(program: PathBuf, image: &str) -> Result<Self> {
        let sample = expand(image, SAMPLE_SHA)?;
        sample
            .parse::<inspector_gate::image_ref::ImageRef>()
            .map_err(|e| Error::usage(format!("--image {image}: {e}")))?;
        Self::new(program, vec!["gate".into(), "--image".into(), image.into()])
    }

    /// `program scan --from SOURCE`, SOURCE a template checked as a scan source (the local
    /// check: no push, no registry scan to wait for).
    pub fn scan(program: PathBuf, from: &str) -> Result<Self> {
        let sample = expand(from, SAMPLE_SHA)?;
        sample
            .parse::<inspector_gate::scan::layers::ScanSource>()
            .map_err(|e| Error::usage(format!("--scan {from}: {e}")))?;
        Self::new(program, vec!["scan".into(), "--from".into(), from.into()])
    }

    /// The command as a person reads it (templates unexpanded).
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seg<'a> {
    Lit(&'a str),
    /// The hook's shell variable holding the value.
    Var(&'static str),
}

/// Split a template into literal text and placeholders; an unknown `{name}` is an error (a
/// typo such as `{SHA}` must not silently become literal text).
fn segments(template: &str) -> Result<Vec<Seg<'_>>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + len];
        let Some((_, var)) = PLACEHOLDERS.iter().find(|(n, _)| *n == name) else {
            return Err(Error::usage(format!(
                "unknown placeholder {{{name}}} in {template:?}: use {{sha}} or {{short_sha}}"
            )));
        };
        if open > 0 {
            out.push(Seg::Lit(&rest[..open]));
        }
        out.push(Seg::Var(var));
        rest = &rest[open + len + 1..];
    }
    if !rest.is_empty() {
        out.push(Seg::Lit(rest));
    }
    Ok(out)
}

/// A template with the placeholders replaced for commit `sha`.
pub fn expand(template: &str, sha: &str) -> Result<String> {
    let short: String = sha.chars().take(12).collect();
    Ok(segments(template)?
        .into_iter()
        .map(|s| match s {
            Seg::Lit(l) => l.to_string(),
            Seg::Var("sha") => sha.to_string(),
            Seg::Var(_) => short.clone(),
        })
        .collect())
}

/// A POSIX sh single-quoted word.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A template as one sh word: literal parts single-quoted, placeholders as "$var".
fn sh_word(template: &str) -> Result<String> {
    let segs = segments(template)?;
    if segs.is_empty() {
        return Ok("''".into());
    }
    Ok(segs
        .into_iter()
        .map(|s| match s {
            Seg::Lit(l) => sh_quote(l),
            Seg::Var(v) => format!("\"${v}\""),
        })
        .collect())
}

/// The program path as the hook's shell sees it: Git for Windows' sh takes `C:/x/y.exe`.
fn program_for_sh(p: &Path) -> String {
    let s = p.display().to_string();
    if cfg!(windows) {
        s.trim_start_matches(r"\\?\").replace('\\', "/")
    } else {
        s
    }
}

/// The hook script: POSIX sh, so it runs under Git for Windows' bundled shell too.
pub fn script(spec: &HookSpec) -> Result<String> {
    let program = sh_quote(&program_for_sh(&spec.program));
    let mut command = String::from("\"$ig_bin\"");
    for a in &spec.args {
        command.push(' ');
        command.push_str(&sh_word(a)?);
    }
    let shown = spec.args.join(" ");
    Ok(format!(
        r#"#!/bin/sh
{MARKER}
# Before git sends anything, checks the image built for each pushed commit with
#   inspector-gate {shown}
# ({{sha}} is the pushed commit, {{short_sha}} its first 12 characters). Deletions and tag-only
# pushes are not checked.
# Skip once:  INSPECTOR_GATE_SKIP=1 git push   (or: git push --no-verify)
# Time limit: INSPECTOR_GATE_HOOK_TIMEOUT (default {DEFAULT_TIMEOUT}).  Remove: inspector-gate hook uninstall
ig_skip='Skip once: INSPECTOR_GATE_SKIP=1 git push (or git push --no-verify).'
if [ "${{INSPECTOR_GATE_SKIP:-}}" = 1 ]; then
  echo 'inspector-gate: pre-push check skipped (INSPECTOR_GATE_SKIP=1)' >&2
  exit 0
fi
INSPECTOR_GATE_TIMEOUT=${{INSPECTOR_GATE_HOOK_TIMEOUT:-{DEFAULT_TIMEOUT}}}
export INSPECTOR_GATE_TIMEOUT
ig_bin={program}
if [ ! -x "$ig_bin" ]; then
  echo "inspector-gate: push blocked: $ig_bin is gone; reinstall the hook (inspector-gate hook install) or remove $0. $ig_skip" >&2
  exit 1
fi
ig_log=$(mktemp "${{TMPDIR:-/tmp}}/inspector-gate-hook.XXXXXX") || exit 1
trap 'rm -f "$ig_log" "$ig_log.status"' EXIT
ig_done=' '
while read -r local_ref local_sha remote_ref remote_sha; do
  case $local_sha in *[!0]*) ;; *) continue ;; esac      # a deletion: nothing to check
  case $remote_ref in refs/tags/*) continue ;; esac      # a tag: its commit was checked with its branch
  case $ig_done in *" $local_sha "*) continue ;; esac    # already checked in this push
  ig_done="$ig_done$local_sha "
  sha=$local_sha
  short_sha=$(printf '%.12s' "$sha")
  # Live output; stderr also kept to name the cause. stdin is git's ref list: not for the gate.
  {{ {command} </dev/null 2>&1 >&3 3>&-; echo $? >"$ig_log.status"; }} 3>&1 | tee "$ig_log" >&2
  ig_status=$(cat "$ig_log.status" 2>/dev/null || echo 1)
  if [ "$ig_status" != 0 ]; then
    ig_reason=$(grep '^error: ' "$ig_log" | tail -n 1 | cut -c 8-)
    if [ -z "$ig_reason" ]; then
      case $ig_status in
        1) ig_reason='the image violates the policy (findings above)' ;;
        3) ig_reason='inconclusive: no finished scan of the image in time' ;;
        *) ig_reason="inspector-gate failed" ;;
      esac
    fi
    echo "inspector-gate: push blocked for $short_sha (${{local_ref#refs/heads/}}): $ig_reason (exit $ig_status). $ig_skip" >&2
    exit 1
  fi
done
exit 0
"#
    ))
}

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

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
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
    // Write beside the hook, then rename over it: never a half-written hook.
    let tmp = dir.join(".pre-push.inspector-gate.tmp");
    let _ = fs::remove_file(&tmp);
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    make_executable(&tmp)?;
    fs::rename(&tmp, &hook)?;
    Ok(hook)
}

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
/// its flags to a [`HookSpec`] (`HookSpec::gate` for `--image`, `HookSpec::new` for any other
/// command, e.g. `scan --from docker:app:{sha}`) and calls this.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(p: &str) -> PathBuf {
        std::env::temp_dir().join(p)
    }

    #[test]
    fn templates_become_quoted_sh_words() {
        assert_eq!(sh_word("app:{sha}").unwrap(), r#"'app:'"$sha""#);
        assert_eq!(sh_word("{short_sha}-x").unwrap(), r#""$short_sha"'-x'"#);
        assert_eq!(sh_word("it's $HOME `x`").unwrap(), r"'it'\''s $HOME `x`'");
        assert_eq!(sh_word("").unwrap(), "''");
        assert_eq!(sh_word("a{b").unwrap(), "'a{b'");
        assert_eq!(
            expand("r:{sha}/{short_sha}", SAMPLE_SHA).unwrap(),
            format!("r:{SAMPLE_SHA}/0123456789ab")
        );
    }

    #[test]
    fn bad_templates_are_usage_errors() {
        let p = abs("ig");
        for (args, needle) in [
            (
                vec!["gate", "--image", "app:{SHA}"],
                "unknown placeholder {SHA}",
            ),
            (vec!["gate", "--image", "app:latest"], "names no commit"),
            (
                vec!["gate", "--image", "app:{sha}\nrm -rf /"],
                "control character",
            ),
        ] {
            let e =
                HookSpec::new(p.clone(), args.into_iter().map(String::from).collect()).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(needle), "{e}");
        }
        let e = HookSpec::gate(p.clone(), "Bad Ref:{sha}").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(HookSpec::new(PathBuf::from("relative/ig"), vec!["{sha}".into()]).is_err());
        // The later local scan mode fits the same shape.
        HookSpec::new(
            p,
            vec!["scan".into(), "--from".into(), "docker:app:{sha}".into()],
        )
        .unwrap();
    }

    #[test]
    fn script_calls_the_absolute_binary_with_the_template() {
        let spec = HookSpec::gate(abs("it's/inspector-gate"), "acct/app:{short_sha}").unwrap();
        let s = script(&spec).unwrap();
        assert!(s.starts_with("#!/bin/sh\n") && s.contains(MARKER));
        let path = program_for_sh(&abs("it's/inspector-gate"));
        assert!(s.contains(&format!("ig_bin={}\n", sh_quote(&path))), "{s}");
        assert!(s.contains(r#""$ig_bin" 'gate' '--image' 'acct/app:'"$short_sha" </dev/null"#));
        assert!(s.contains("INSPECTOR_GATE_TIMEOUT=${INSPECTOR_GATE_HOOK_TIMEOUT:-2m}"));
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

    /// End to end: real git runs the installed hook on `git push` to a local bare repository,
    /// with a stub standing in for inspector-gate.
    #[cfg(unix)]
    #[test]
    fn git_push_runs_the_hook_on_each_pushed_commit() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let calls = root.join("calls");
        let stub = root.join("stub-gate");
        fs::write(
            &stub,
            format!(
                "#!/bin/sh\n\
                 printf '%s|timeout=%s|stdin=%s\\n' \"$*\" \"$INSPECTOR_GATE_TIMEOUT\" \"$(cat)\" >>{calls}\n\
                 code=$(cat {code} 2>/dev/null || echo 0)\n\
                 if [ \"$code\" != 0 ]; then echo 'error: CVE-2024-0001 (CRITICAL) exceeds max-critical 0' >&2; fi\n\
                 exit \"$code\"\n",
                calls = sh_quote(&calls.display().to_string()),
                code = sh_quote(&root.join("code").display().to_string()),
            ),
        )
        .unwrap();
        make_executable(&stub).unwrap();
        let set_code = |c: &str| fs::write(root.join("code"), c).unwrap();

        let git = |dir: &Path, args: &[&str], env: &[(&str, &str)]| {
            let mut c = Command::new("git");
            c.current_dir(dir)
                .args(["-c", "init.defaultBranch=main", "-c", "user.name=t"])
                .args([
                    "-c",
                    "user.email=t@example.com",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(["-c", "tag.gpgsign=false"])
                .args(args)
                .env("HOME", root)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env_remove("GIT_DIR")
                .env_remove("INSPECTOR_GATE_SKIP")
                .env_remove("INSPECTOR_GATE_HOOK_TIMEOUT");
            for (k, v) in env {
                c.env(k, v);
            }
            let out = c.output().expect("git runs");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            )
        };
        let work = root.join("work");
        fs::create_dir(&work).unwrap();
        assert!(git(root, &["init", "-q", "--bare", "remote.git"], &[]).0);
        assert!(git(&work, &["init", "-q"], &[]).0);
        assert!(git(&work, &["remote", "add", "origin", "../remote.git"], &[]).0);
        let commit = |msg: &str| {
            assert!(git(&work, &["commit", "-q", "--allow-empty", "-m", msg], &[]).0);
            git(&work, &["rev-parse", "HEAD"], &[]).1
        };
        let remote_main = || git(&root.join("remote.git"), &["rev-parse", "main"], &[]).1;
        let calls_text = || fs::read_to_string(&calls).unwrap_or_default();

        let spec = HookSpec::new(
            stub.clone(),
            vec!["gate".into(), "--image".into(), "acct/app:{sha}".into()],
        )
        .unwrap();
        let hooks = PathBuf::from(git(&work, &["rev-parse", "--git-path", "hooks"], &[]).1);
        install(&work.join(hooks), &spec, false).unwrap();

        // A pass: pushed, the stub saw the commit, the default timeout and no ref list.
        let first = commit("one");
        set_code("0");
        let (ok, _, err) = git(&work, &["push", "-q", "origin", "main"], &[]);
        assert!(ok, "{err}");
        assert_eq!(
            calls_text(),
            format!("gate --image acct/app:{first}|timeout=2m|stdin=\n")
        );
        assert_eq!(remote_main(), first);

        // A violation: blocked, one reason line and how to skip, the remote unchanged.
        let second = commit("two");
        set_code("1");
        let (ok, _, err) = git(&work, &["push", "-q", "origin", "main"], &[]);
        assert!(!ok, "the push went through");
        let short = &second[..12];
        let last = err
            .lines()
            .find(|l| l.starts_with("inspector-gate: push blocked"))
            .unwrap_or_else(|| panic!("no reason line in {err}"));
        assert_eq!(
            last,
            format!("inspector-gate: push blocked for {short} (main): CVE-2024-0001 (CRITICAL) exceeds max-critical 0 (exit 1). Skip once: INSPECTOR_GATE_SKIP=1 git push (or git push --no-verify).")
        );
        assert!(
            err.contains("error: CVE-2024-0001"),
            "live output lost: {err}"
        );
        assert_eq!(remote_main(), first);

        // Skipped once on request: pushed without running the check.
        fs::remove_file(&calls).unwrap();
        let (ok, _, err) = git(
            &work,
            &["push", "-q", "origin", "main"],
            &[("INSPECTOR_GATE_SKIP", "1")],
        );
        assert!(ok, "{err}");
        assert!(err.contains("skipped (INSPECTOR_GATE_SKIP=1)"), "{err}");
        assert_eq!(calls_text(), "");
        assert_eq!(remote_main(), second);

        // A tag-only push and a branch deletion are not checked, even with a failing gate.
        set_code("1");
        assert!(git(&work, &["tag", "-a", "-m", "v1", "v1"], &[]).0);
        let (ok, _, err) = git(&work, &["push", "-q", "origin", "v1"], &[]);
        assert!(ok, "tag push blocked: {err}");
        assert!(
            git(
                &work,
                &["push", "-q", "origin", "main:topic"],
                &[("INSPECTOR_GATE_SKIP", "1")]
            )
            .0
        );
        let (ok, _, err) = git(&work, &["push", "-q", "origin", ":topic"], &[]);
        assert!(ok, "deletion blocked: {err}");
        assert_eq!(calls_text(), "");

        // Two branches in one push: each pushed commit is checked, and the gate never reads
        // git's ref list (or it would swallow the second line).
        set_code("0");
        let third = commit("three");
        assert!(git(&work, &["branch", "feature", "HEAD~1"], &[]).0);
        let (ok, _, err) = git(&work, &["push", "-q", "origin", "main", "feature"], &[]);
        assert!(ok, "{err}");
        let mut seen: Vec<String> = calls_text().lines().map(String::from).collect();
        seen.sort();
        let mut want = vec![
            format!("gate --image acct/app:{second}|timeout=2m|stdin="),
            format!("gate --image acct/app:{third}|timeout=2m|stdin="),
        ];
        want.sort();
        assert_eq!(seen, want);

        // The time limit is the developer's to change.
        fs::remove_file(&calls).unwrap();
        let fourth = commit("four");
        let (ok, _, err) = git(
            &work,
            &["push", "-q", "origin", "main"],
            &[("INSPECTOR_GATE_HOOK_TIMEOUT", "7m")],
        );
        assert!(ok, "{err}");
        assert_eq!(
            calls_text(),
            format!("gate --image acct/app:{fourth}|timeout=7m|stdin=\n")
        );
    }
}
