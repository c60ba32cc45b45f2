//! The hook's argument templates: what it runs for each pushed commit, with `{sha}` and
//! `{short_sha}` standing for that commit, checked at install time (an unknown placeholder, a
//! control character, or a command that names no commit is a usage error).

use inspector_gate::error::{Error, Result};
use std::path::PathBuf;

/// The placeholders an argument template may use, and the hook variable each becomes.
const PLACEHOLDERS: [(&str, &str); 2] = [("sha", "sha"), ("short_sha", "short_sha")];
/// A stand-in commit for checking templates at install time.
pub(super) const SAMPLE_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

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
pub(super) enum Seg<'a> {
    Lit(&'a str),
    /// The hook's shell variable holding the value.
    Var(&'static str),
}

/// Split a template into literal text and placeholders; an unknown `{name}` is an error (a
/// typo such as `{SHA}` must not silently become literal text).
pub(super) fn segments(template: &str) -> Result<Vec<Seg<'_>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(p: &str) -> PathBuf {
        std::env::temp_dir().join(p)
    }

    #[test]
    fn templates_expand_for_a_commit() {
        assert_eq!(
            expand("r:{sha}/{short_sha}", SAMPLE_SHA).unwrap(),
            format!("r:{SAMPLE_SHA}/0123456789ab")
        );
        assert_eq!(expand("a{b", SAMPLE_SHA).unwrap(), "a{b");
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
        // The local scan mode fits the same shape.
        HookSpec::new(
            p,
            vec!["scan".into(), "--from".into(), "docker:app:{sha}".into()],
        )
        .unwrap();
    }
}
