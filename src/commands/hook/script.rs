//! The pre-push hook script: POSIX sh (it runs under dash, busybox and Git for Windows' sh
//! too). It prints text only with `printf '%s\n'`, never `echo` (dash's `echo` turns a `\033`
//! in a repository's text, e.g. a TOML key quoted back in the gate's error line, into a real
//! escape sequence: OSC 52 writes the clipboard), and every line it prints itself goes through
//! `ig_clean`, the shell form of [`inspector_gate::sanitize::text`] (one printable line: control
//! characters, Unicode line separators and bidirectional overrides become spaces, whitespace
//! runs one space, no line starts a `::` workflow command). The gate's own live output is
//! printed by the gate, which sanitizes it itself.

use super::template::{segments, HookSpec, Seg};
use inspector_gate::error::Result;
use std::path::Path;

/// First line after the shebang of every hook we write; how we recognise our own.
pub const MARKER: &str = "# installed by inspector-gate hook install";
/// The hook's time limit unless `INSPECTOR_GATE_HOOK_TIMEOUT` says otherwise: a push should
/// not hang for the gate's CI default of 30 minutes.
pub const DEFAULT_TIMEOUT: &str = "2m";

/// `ig_clean TEXT` prints TEXT as `sanitize::text` would (bytes, in the C locale, so any awk
/// treats the UTF-8 sequences below alike): C0 controls, space and DEL; C1 controls and
/// U+00A0 (`\302\200`–`\302\240`); U+1680; U+2000–U+200A, U+200E/F, U+2028–U+202F;
/// U+205F, U+2066–U+2069; U+3000; U+061C. `ig_say TEXT` prints it cleaned on stderr.
pub(super) const CLEAN_FUNCTIONS: &str = r#"ig_clean() {
  printf '%s' "$1" | LC_ALL=C awk '
    { s = (NR > 1) ? s " " $0 : $0 }
    END {
      gsub(/\302[\200-\240]|\341\232\200|\342\200[\200-\212\216\217\250-\257]|\342\201[\237\246-\251]|\343\200\200|\330\234/, " ", s)
      gsub(/[\001-\040\177]+/, " ", s)
      gsub(/  +/, " ", s)
      sub(/^ /, "", s)
      sub(/ $/, "", s)
      if (substr(s, 1, 2) == "::") s = "\\" s
      printf "%s", s
    }'
}
ig_say() {
  printf '%s\n' "$(ig_clean "$*")" >&2
}
"#;

/// A POSIX sh single-quoted word.
pub(super) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A template as one sh word: literal parts single-quoted, placeholders as "$var".
pub(super) fn sh_word(template: &str) -> Result<String> {
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
pub(super) fn program_for_sh(p: &Path) -> String {
    let s = p.display().to_string();
    if cfg!(windows) {
        s.trim_start_matches(r"\\?\").replace('\\', "/")
    } else {
        s
    }
}

/// The hook script for `spec`.
pub fn script(spec: &HookSpec) -> Result<String> {
    let program = sh_quote(&program_for_sh(&spec.program));
    let mut command = String::from("\"$ig_bin\"");
    for a in &spec.args {
        command.push(' ');
        command.push_str(&sh_word(a)?);
    }
    // The comment shows the command; a template is free of control characters (HookSpec::new),
    // so it cannot end the comment line.
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
# Prints only with printf '%s\n' (never echo, which may interpret backslashes), through ig_clean.
{CLEAN_FUNCTIONS}ig_skip='Skip once: INSPECTOR_GATE_SKIP=1 git push (or git push --no-verify).'
if [ "${{INSPECTOR_GATE_SKIP:-}}" = 1 ]; then
  ig_say 'inspector-gate: pre-push check skipped (INSPECTOR_GATE_SKIP=1)'
  exit 0
fi
INSPECTOR_GATE_TIMEOUT=${{INSPECTOR_GATE_HOOK_TIMEOUT:-{DEFAULT_TIMEOUT}}}
export INSPECTOR_GATE_TIMEOUT
ig_bin={program}
if [ ! -x "$ig_bin" ]; then
  ig_say "inspector-gate: push blocked: $ig_bin is gone; reinstall the hook (inspector-gate hook install) or remove $0. $ig_skip"
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
  {{ {command} </dev/null 2>&1 >&3 3>&-; printf '%s\n' "$?" >"$ig_log.status"; }} 3>&1 | tee "$ig_log" >&2
  ig_status=$(cat "$ig_log.status" 2>/dev/null || printf '1')
  if [ "$ig_status" != 0 ]; then
    ig_reason=$(grep '^error: ' "$ig_log" | tail -n 1 | cut -c 8-)
    if [ -z "$ig_reason" ]; then
      case $ig_status in
        1) ig_reason='the image violates the policy (findings above)' ;;
        3) ig_reason='inconclusive: no finished scan of the image in time' ;;
        *) ig_reason="inspector-gate failed" ;;
      esac
    fi
    ig_say "inspector-gate: push blocked for $short_sha (${{local_ref#refs/heads/}}): $ig_reason (exit $ig_status). $ig_skip"
    exit 1
  fi
done
exit 0
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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

    /// No `echo` anywhere in the script (dash's interprets backslashes): every line the hook
    /// prints itself is `ig_say`, i.e. `printf '%s\n'` of `ig_clean`.
    #[test]
    fn the_script_never_echoes() {
        let spec = HookSpec::gate(abs("ig"), "app:{sha}").unwrap();
        let s = script(&spec).unwrap();
        for line in s.lines().filter(|l| !l.trim_start().starts_with('#')) {
            assert!(
                !line
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|w| w == "echo"),
                "echo in {line:?}"
            );
        }
        assert!(s.contains("ig_say \"inspector-gate: push blocked for $short_sha"));
    }

    /// `ig_clean` under the system's `/bin/sh` (dash on Debian) and `awk` gives exactly what
    /// `sanitize::text` gives, on hostile text: escape sequences as real bytes and as the
    /// backslash text dash's `echo` would have turned into them, C1 controls, bidi overrides,
    /// Unicode spaces, a forged workflow command.
    #[cfg(unix)]
    #[test]
    fn the_shell_sanitizer_is_sanitize_text() {
        let cases = [
            "plain reason (exit 1)",
            "key \\033]52;c;aGk=\\a in .inspector-gate.toml",
            "osc \u{1b}]52;c;aGk=\u{7} and csi \u{1b}[2J\u{1b}[31mred",
            "c1 \u{9b}31m and \u{85}next and nbsp\u{a0}x",
            "bidi a\u{202E}b\u{2066}c\u{2069}d\u{200F}e\u{61C}f",
            "spaces \u{2003}\u{3000}\u{1680}\u{202F}\u{205F}\u{2028}\u{2029}end",
            "tabs\tand\r\ncrlf\u{7f}del",
            "::warning::forged",
            "\n  ::error::forged after a newline",
            "  leading and trailing  ",
            "ünïcödé stays: 日本語 ✓",
            "",
        ];
        let functions = CLEAN_FUNCTIONS;
        for case in cases {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("{functions}ig_clean \"$1\""))
                .arg("sh")
                .arg(case)
                .output()
                .expect("/bin/sh runs");
            assert!(out.status.success(), "{case:?}: {out:?}");
            let got = String::from_utf8(out.stdout).unwrap();
            assert_eq!(got, inspector_gate::sanitize::text(case), "{case:?}");
        }
    }
}
