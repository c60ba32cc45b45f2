//! Native signals of the CI system we run in; presentation only, never the verdict.
//!
//! GitHub Actions gets step outputs (`$GITHUB_OUTPUT`), the Markdown step summary
//! (`$GITHUB_STEP_SUMMARY`) and `::error` annotations; CodeBuild gets an env file of exported
//! variables (`IMAGE_DIGEST`, `IMAGE_URI`, `GATE_VERDICT`) for `exported-variables` and
//! `#{BuildVariables.…}`. Buildkite annotations and meta-data are written by the plugin hook
//! from `summary.md`. Everything here except [`emit`] is a pure function of the report and
//! the environment, which is passed in rather than read.

use crate::report::{markdown, Report};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Reads one environment variable; `&|k| std::env::var(k).ok()` in production.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for [`emit`] and [`detect`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// GitHub shows only this many error annotations per step.
pub const MAX_ANNOTATIONS: usize = 10;
/// Env file written in CodeBuild when `INSPECTOR_GATE_CODEBUILD_ENV_FILE` is not set.
pub const DEFAULT_CODEBUILD_ENV_FILE: &str = "inspector-gate.env";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    GitHubActions,
    Buildkite,
    CodeBuild,
}

/// Every CI system whose markers are present. Several can be: a GitHub Actions runner
/// hosted by CodeBuild sets both `GITHUB_ACTIONS` and `CODEBUILD_BUILD_ID`.
pub fn detect(env: Env) -> Vec<Ci> {
    let is_true = |k: &str| env(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut found = Vec::new();
    if is_true("GITHUB_ACTIONS") {
        found.push(Ci::GitHubActions);
    }
    if is_true("BUILDKITE") {
        found.push(Ci::Buildkite);
    }
    if env("CODEBUILD_BUILD_ID").is_some_and(|v| !v.is_empty()) {
        found.push(Ci::CodeBuild);
    }
    found
}

/// Distinct digests to hand to a deploy (the index digest for multi-arch images), in order.
fn deploy_digests(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for img in &report.images {
        let d = img.image.deploy_digest().to_string();
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Distinct `<repo-uri>@sha256:…` references, in order: what ECS should deploy.
fn pinned_uris(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for img in &report.images {
        let u = img.image.pinned_uri();
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// One `$GITHUB_OUTPUT` entry: `name=value`, or the heredoc form with a delimiter that does
/// not occur in the value when the value spans lines.
pub fn github_output_line(name: &str, value: &str) -> String {
    if !value.contains(['\n', '\r']) {
        return format!("{name}={value}\n");
    }
    let mut delim = "INSPECTOR_GATE_EOF".to_string();
    let mut n = 0;
    while value.lines().any(|l| l == delim) {
        n += 1;
        delim = format!("INSPECTOR_GATE_EOF_{n}");
    }
    format!("{name}<<{delim}\n{value}\n{delim}\n")
}

/// `$GITHUB_OUTPUT` lines for the action's outputs. Several images give one digest / URI
/// per line; `report-dir` and `sarif` only when reports were written, so the action's
/// wrapper can tell.
pub fn github_outputs(report: &Report, report_dir: Option<&Path>) -> String {
    let mut s = github_output_line("verdict", report.verdict_word());
    s.push_str(&github_output_line(
        "digest",
        &deploy_digests(report).join("\n"),
    ));
    s.push_str(&github_output_line(
        "image-uri",
        &pinned_uris(report).join("\n"),
    ));
    if let Some(dir) = report_dir {
        s.push_str(&github_output_line(
            "report-dir",
            &dir.display().to_string(),
        ));
        s.push_str(&github_output_line(
            "sarif",
            &dir.join("report.sarif").display().to_string(),
        ));
    }
    s
}

/// Escape a workflow command's message (`::error ...::<message>`).
///
/// CR and LF are encoded (GitHub decodes them inside the message, so no second line, and no
/// forged `::command`, reaches the log); every other control character (ESC, C1, …) becomes a
/// space so none reaches the log raw.
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if crate::sanitize::is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escape a workflow command's property value (`title=<value>`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The one line that puts the cause of a failed run (exit 2, 3 or 4) into the CI system's UI:
/// on GitHub Actions an `::error title=inspector-gate::<cause>` workflow command, elsewhere
/// nothing (the Buildkite plugin lifts the `error:` line into its annotation itself).
pub fn error_annotation(env: Env, cause: &str) -> Option<String> {
    detect(env)
        .contains(&Ci::GitHubActions)
        .then(|| format!("::error title=inspector-gate::{}\n", escape_data(cause)))
}

/// `::error` annotations for the first [`MAX_ANNOTATIONS`] violating findings (most severe
/// first, as evaluated), a notice for the rest, and `::warning` for the evaluation's
/// warnings (expired or unmatched ignore rules).
pub fn github_annotations(report: &Report) -> String {
    let mut s = String::new();
    let violating: Vec<_> = report
        .images
        .iter()
        .flat_map(|img| img.evaluation.violating().map(move |j| (img, j)))
        .collect();
    for (img, j) in violating.iter().take(MAX_ANNOTATIONS) {
        let f = &j.finding;
        let title = format!("{} {} in {}", f.severity, f.id, img.image.label());
        let pkg = match f.first_package() {
            Some(p) => {
                let fix = p
                    .fixed_version()
                    .map(|v| format!("fixed in {v}"))
                    .unwrap_or_else(|| "no fix available".into());
                format!("{} {} ({fix})", p.name, p.version.as_deref().unwrap_or("?"))
            }
            None => "unknown package".into(),
        };
        let mut msg = format!("{pkg}: {}", f.title);
        if let Some(u) = &f.source_url {
            msg.push_str(&format!(" {u}"));
        }
        s.push_str(&format!(
            "::error title={}::{}\n",
            escape_property(&title),
            escape_data(&msg)
        ));
    }
    if violating.len() > MAX_ANNOTATIONS {
        s.push_str(&format!(
            "::notice title=inspector-gate::{}\n",
            escape_data(&format!(
                "{} more violating finding(s) not annotated; see the step summary or report.json",
                violating.len() - MAX_ANNOTATIONS
            ))
        ));
    }
    for img in &report.images {
        for w in &img.evaluation.warnings {
            s.push_str(&format!(
                "::warning title={}::{}\n",
                escape_property(&format!("inspector-gate {}", img.image.label())),
                escape_data(w)
            ));
        }
    }
    // A failed verdict must be visible even when no single finding explains it.
    if violating.is_empty() && report.verdict == crate::policy::eval::Verdict::Fail {
        s.push_str("::error title=inspector-gate::policy failed (see the warnings above)\n");
    }
    s
}

/// A shell word for the env file: bare when it is plainly safe, else single-quoted.
fn shell_word(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// The CodeBuild env file: `KEY=value` lines that a buildspec sources (`. ./inspector-gate.env`)
/// and lists under `exported-variables`. Several images give space-separated values.
pub fn codebuild_env(report: &Report) -> String {
    format!(
        "IMAGE_DIGEST={}\nIMAGE_URI={}\nGATE_VERDICT={}\n",
        shell_word(&deploy_digests(report).join(" ")),
        shell_word(&pinned_uris(report).join(" ")),
        report.verdict_word()
    )
}

/// Where the CodeBuild env file goes: the configured path, else the default in CodeBuild,
/// else nowhere.
pub fn codebuild_env_file(env: Env) -> Option<PathBuf> {
    match env("INSPECTOR_GATE_CODEBUILD_ENV_FILE").filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None if detect(env).contains(&Ci::CodeBuild) => {
            Some(PathBuf::from(DEFAULT_CODEBUILD_ENV_FILE))
        }
        None => None,
    }
}

/// Append `text` to a file the CI runner owns and reads after the step (`$GITHUB_OUTPUT`,
/// `$GITHUB_STEP_SUMMARY`: other steps' lines are in it, so it is not replaced): the whole
/// text, made before the file is opened, in one `write_all` on an `O_APPEND` file.
fn append(path: &Path, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("writing {what} {}: {e}", path.display()))
}

/// Write the native signals of every detected CI: append to `$GITHUB_OUTPUT` and
/// `$GITHUB_STEP_SUMMARY`, print annotations to `stdout` (any writer the runner reads),
/// replace the CodeBuild env file (atomically: never appended to).
pub fn emit(
    report: &Report,
    report_dir: Option<&Path>,
    env: Env,
    stdout: &mut dyn Write,
) -> io::Result<()> {
    let cis = detect(env);
    if cis.contains(&Ci::GitHubActions) {
        if let Some(p) = env("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            append(&p, &github_outputs(report, report_dir))
                .map_err(|e| with_path(e, "GITHUB_OUTPUT", &p))?;
        }
        if let Some(p) = env("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            append(&p, &markdown::render(report))
                .map_err(|e| with_path(e, "GITHUB_STEP_SUMMARY", &p))?;
        }
        stdout.write_all(github_annotations(report).as_bytes())?;
        stdout.flush()?;
    }
    // Replaced, never appended to: lines a checkout shipped in the file, or an earlier run
    // left, never survive to be sourced.
    if let Some(p) = codebuild_env_file(env) {
        crate::file::replace(&p, codebuild_env(report).as_bytes())
            .map_err(|e| with_path(e, "CodeBuild env file", &p))?;
    }
    Ok(())
}

/// [`emit`] with the process environment. Annotations go to stderr: the Actions runner reads
/// workflow commands from both streams, and stdout may be carrying `--format json`.
pub fn emit_from_env(report: &Report, report_dir: Option<&Path>) -> io::Result<()> {
    emit(report, report_dir, &process_env, &mut io::stderr().lock())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn failed_runs_name_their_cause_in_the_github_ui() {
        let gh = env_of(&[("GITHUB_ACTIONS", "true")]);
        assert_eq!(
            error_annotation(&gh, "timed out: 50% done\nnext").as_deref(),
            Some("::error title=inspector-gate::timed out: 50%25 done%0Anext\n")
        );
        assert_eq!(
            error_annotation(&env_of(&[("BUILDKITE", "true")]), "x"),
            None
        );
    }

    #[test]
    fn detects_each_ci_and_combinations() {
        assert_eq!(detect(&env_of(&[])), vec![]);
        assert_eq!(
            detect(&env_of(&[("GITHUB_ACTIONS", "true")])),
            vec![Ci::GitHubActions]
        );
        assert_eq!(detect(&env_of(&[("GITHUB_ACTIONS", "false")])), vec![]);
        assert_eq!(
            detect(&env_of(&[("BUILDKITE", "true")])),
            vec![Ci::Buildkite]
        );
        assert_eq!(
            detect(&env_of(&[("CODEBUILD_BUILD_ID", "proj:123")])),
            vec![Ci::CodeBuild]
        );
        assert_eq!(
            detect(&env_of(&[
                ("GITHUB_ACTIONS", "true"),
                ("CODEBUILD_BUILD_ID", "proj:1")
            ])),
            vec![Ci::GitHubActions, Ci::CodeBuild]
        );
    }

    #[test]
    fn outputs_use_heredoc_only_for_multiline_values() {
        assert_eq!(github_output_line("verdict", "pass"), "verdict=pass\n");
        assert_eq!(
            github_output_line("x", "a\nb"),
            "x<<INSPECTOR_GATE_EOF\na\nb\nINSPECTOR_GATE_EOF\n"
        );
        assert_eq!(
            github_output_line("x", "a\nINSPECTOR_GATE_EOF"),
            "x<<INSPECTOR_GATE_EOF_1\na\nINSPECTOR_GATE_EOF\nINSPECTOR_GATE_EOF_1\n"
        );
    }

    #[test]
    fn outputs_pin_the_index_digest_once_for_a_multi_arch_image() {
        let r = testing::mixed();
        let index = r.images[0].image.index_digest.clone().unwrap();
        let out = github_outputs(&r, Some(Path::new("/tmp/reports")));
        assert_eq!(
            out,
            format!(
                "verdict=fail\ndigest={index}\nimage-uri=123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web@{index}\n\
                 report-dir=/tmp/reports\nsarif=/tmp/reports/report.sarif\n"
            )
        );
        assert!(!github_outputs(&r, None).contains("sarif="));
    }

    #[test]
    fn outputs_list_several_images_one_per_line() {
        let mut r = testing::report(0);
        let mut other = r.images[0].clone();
        other.image.digest = testing::digest("other");
        r.images.push(other);
        let out = github_outputs(&r, None);
        assert!(
            out.starts_with("verdict=pass\ndigest<<INSPECTOR_GATE_EOF\nsha256:"),
            "{out}"
        );
        assert_eq!(out.matches("INSPECTOR_GATE_EOF\n").count(), 4);
    }

    #[test]
    fn annotations_escape_messages_and_properties() {
        assert_eq!(escape_data("50%\r\nx: a, b"), "50%25%0D%0Ax: a, b");
        assert_eq!(escape_property("50%\nx: a, b"), "50%25%0Ax%3A a%2C b");
        let out = github_annotations(&testing::mixed());
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
        assert_eq!(errors.len(), 5, "{out}");
        assert!(
            errors[0].starts_with("::error title=CRITICAL CVE-2026-10000 in app/web@sha256%3A"),
            "{}",
            errors[0]
        );
        assert!(
            out.contains("<script>alert(1)</script>: a, b | c"),
            "message keeps ':' and ','"
        );
        assert!(
            out.lines().all(|l| l.starts_with("::")),
            "one command per line: {out}"
        );
        assert!(out.contains("::warning title=inspector-gate app/web@sha256%3A"));
    }

    #[test]
    fn annotations_stop_at_ten_and_say_how_many_more() {
        let out = github_annotations(&testing::report(10_000));
        assert_eq!(
            out.lines().filter(|l| l.starts_with("::error ")).count(),
            MAX_ANNOTATIONS
        );
        assert!(out.contains("::notice title=inspector-gate::"), "{out}");
    }

    #[test]
    fn codebuild_env_is_sourceable() {
        let r = testing::mixed();
        let index = r.images[0].image.index_digest.clone().unwrap();
        assert_eq!(
            codebuild_env(&r),
            format!(
                "IMAGE_DIGEST={index}\nIMAGE_URI=123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web@{index}\nGATE_VERDICT=fail\n"
            )
        );
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn env_file_location() {
        assert_eq!(codebuild_env_file(&env_of(&[])), None);
        assert_eq!(
            codebuild_env_file(&env_of(&[("CODEBUILD_BUILD_ID", "p:1")])),
            Some(PathBuf::from(DEFAULT_CODEBUILD_ENV_FILE))
        );
        assert_eq!(
            codebuild_env_file(&env_of(&[(
                "INSPECTOR_GATE_CODEBUILD_ENV_FILE",
                "/x/e.env"
            )])),
            Some(PathBuf::from("/x/e.env"))
        );
    }

    #[test]
    fn emit_appends_to_the_github_files_and_prints_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let out_file = dir.path().join("output");
        let summary = dir.path().join("summary");
        let envfile = dir.path().join("cb.env");
        std::fs::write(&out_file, "earlier=1\n").unwrap();
        // A file the checkout shipped: none of its lines may survive to be sourced.
        std::fs::write(&envfile, "GATE_VERDICT=pass\nIMAGE_URI=evil\n").unwrap();
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            (
                "INSPECTOR_GATE_CODEBUILD_ENV_FILE",
                envfile.to_str().unwrap(),
            ),
        ]);
        let r = testing::report(1);
        let mut stdout = Vec::new();
        emit(&r, Some(dir.path()), &env, &mut stdout).unwrap();
        let outputs = std::fs::read_to_string(&out_file).unwrap();
        assert!(
            outputs.starts_with("earlier=1\nverdict=fail\ndigest=sha256:"),
            "{outputs}"
        );
        assert!(std::fs::read_to_string(&summary)
            .unwrap()
            .starts_with("## ❌ inspector-gate: failed"));
        let envtext = std::fs::read_to_string(&envfile).unwrap();
        assert_eq!(envtext, codebuild_env(&r), "replaced, not appended");
        assert!(envtext.ends_with("GATE_VERDICT=fail\n"));
        let printed = String::from_utf8(stdout).unwrap();
        assert!(
            printed.starts_with("::error title=CRITICAL CVE-2026-10000"),
            "{printed}"
        );
    }

    #[test]
    fn emit_outside_ci_does_nothing() {
        let mut stdout = Vec::new();
        emit(&testing::report(1), None, &env_of(&[]), &mut stdout).unwrap();
        assert!(stdout.is_empty());
    }

    #[test]
    fn emit_names_the_file_it_could_not_write() {
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", "/nonexistent/dir/out"),
        ]);
        let err = emit(&testing::report(0), None, &env, &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("GITHUB_OUTPUT /nonexistent/dir/out"),
            "{err}"
        );
    }
}
