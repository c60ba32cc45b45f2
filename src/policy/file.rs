//! The policy file (`.inspector-gate.toml`) and the layering of defaults < file < env < flags.
//!
//! Parsing is two-phase: TOML into a raw `PolicyLayer` (unknown keys rejected, so a typo never
//! silently falls back to a default), then validation into a `Policy`. Both phases collect
//! every problem instead of stopping at the first, and each names its file:line and key.

use super::{IgnoreRule, Policy, UnmatchedIgnore};
use crate::error::{Error, Result};
use crate::model::Severity;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use time::Date;

/// File name looked up in the working directory when `--policy` is not given.
pub const DEFAULT_POLICY_FILE: &str = ".inspector-gate.toml";

/// A date as TOML writes it natively (`2026-12-31`) or as a string (`"2026-12-31"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDate {
    Toml(toml::value::Datetime),
    Text(String),
}

impl RawDate {
    fn parse(&self) -> std::result::Result<Date, String> {
        let text = match self {
            RawDate::Toml(dt) => match (dt.date, dt.time) {
                (Some(d), None) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
                _ => return Err(format!("'{dt}' is not a plain date (use YYYY-MM-DD)")),
            },
            // A TOML datetime read through a generic value arrives as its text.
            RawDate::Text(s) if s.contains(':') => {
                return Err(format!("'{s}' is not a plain date (use YYYY-MM-DD)"))
            }
            RawDate::Text(s) => s.clone(),
        };
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(text.trim(), &fmt)
            .map_err(|_| format!("'{text}' is not a valid date (use YYYY-MM-DD)"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIgnore {
    pub id: String,
    pub reason: Option<String>,
    pub expires: Option<RawDate>,
    pub package: Option<String>,
    pub repository: Option<String>,
    /// Line of the rule in its policy file (0 when it came from a flag or env).
    #[serde(skip)]
    pub line: usize,
}

/// One layer of policy settings; every field optional so layers can be merged.
#[derive(Debug, Clone, Default)]
pub struct PolicyLayer {
    pub fail_on: Option<Severity>,
    pub max_critical: Option<u64>,
    pub max_high: Option<u64>,
    pub max_medium: Option<u64>,
    pub max_low: Option<u64>,
    pub max_informational: Option<u64>,
    pub max_untriaged: Option<u64>,
    pub ignore_unfixed: Option<bool>,
    pub min_epss: Option<f64>,
    pub min_inspector_score: Option<f64>,
    pub exploit_available_only: Option<bool>,
    pub unmatched_ignore: Option<UnmatchedIgnoreRaw>,
    pub ignore: Vec<RawIgnore>,
    /// The `[baseline]` table (what thresholds count when a baseline is given).
    pub baseline: Option<crate::baseline::BaselineLayer>,
    /// Line of each key in its policy file, for messages.
    pub lines: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnmatchedIgnoreRaw {
    Warn,
    Fail,
}

/// Where an effective value came from, for `inspector-gate config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// The effective policy plus, per key, its value and origin.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub policy: Policy,
    pub origins: Vec<(String, String, Source)>,
}

/// Parse a policy file's text; `path` is only used in messages. Every unknown key, wrong type
/// and invalid value is reported (one line, each problem with its `file:line`), not just the
/// first.
pub fn parse(text: &str, path: &Path) -> Result<PolicyLayer> {
    let table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(&e, text, path))?;
    let mut problems = Vec::new();
    let mut layer = PolicyLayer::default();
    for (key, value) in &table {
        let line = key_line(text, key, 0);
        layer.lines.insert(key.clone(), line);
        let col = column(text, line);
        let mut bad =
            |msg: String| problems.push(format!("{}:{line}:{col}: {key}: {msg}", path.display()));
        match key.as_str() {
            "fail-on" => layer.fail_on = field(value, &mut bad),
            "max-critical" => layer.max_critical = field(value, &mut bad),
            "max-high" => layer.max_high = field(value, &mut bad),
            "max-medium" => layer.max_medium = field(value, &mut bad),
            "max-low" => layer.max_low = field(value, &mut bad),
            "max-informational" => layer.max_informational = field(value, &mut bad),
            "max-untriaged" => layer.max_untriaged = field(value, &mut bad),
            "ignore-unfixed" => layer.ignore_unfixed = field(value, &mut bad),
            "min-epss" => layer.min_epss = field(value, &mut bad),
            "min-inspector-score" => layer.min_inspector_score = field(value, &mut bad),
            "exploit-available-only" => layer.exploit_available_only = field(value, &mut bad),
            "unmatched-ignore" => layer.unmatched_ignore = field(value, &mut bad),
            "baseline" => layer.baseline = crate::baseline::parse_table(value, &mut bad),
            "ignore" => {
                let Some(rules) = value.as_array() else {
                    bad("must be a list of [[ignore]] tables".into());
                    continue;
                };
                for (n, rule) in rules.iter().enumerate() {
                    let line = key_line(text, "ignore", n + 1);
                    let mut bad_rule = |msg: String| {
                        problems.push(format!("{}:{line}: ignore: {msg}", path.display()))
                    };
                    if let Some(mut r) = field::<RawIgnore>(rule, &mut bad_rule) {
                        r.line = line;
                        layer.ignore.push(r);
                    }
                }
            }
            _ => bad(format!("unknown key (expected one of {})", KEYS.join(", "))),
        }
    }
    problems.extend(validate_layer(&layer, &Source::File(path.to_path_buf())));
    if !problems.is_empty() {
        return Err(problems_error("invalid policy file", problems));
    }
    Ok(layer)
}

/// The keys a policy file may hold.
pub const KEYS: [&str; 14] = [
    "fail-on",
    "max-critical",
    "max-high",
    "max-medium",
    "max-low",
    "max-informational",
    "max-untriaged",
    "ignore-unfixed",
    "min-epss",
    "min-inspector-score",
    "exploit-available-only",
    "unmatched-ignore",
    "ignore",
    "baseline",
];

/// One usage error listing every problem: "WHAT: p1" or "WHAT (N problems): p1; p2; …".
fn problems_error(what: &str, problems: Vec<String>) -> Error {
    match problems.len() {
        1 => Error::usage(format!("{what} {}", problems[0])),
        n => Error::usage(format!("{what} ({n} problems): {}", problems.join("; "))),
    }
}

/// Deserialize one value, reporting a type error through `bad`.
fn field<T: DeserializeOwned>(value: &toml::Value, bad: &mut impl FnMut(String)) -> Option<T> {
    match value.clone().try_into::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            bad(e.message().trim().to_string());
            None
        }
    }
}

/// The 1-based column where the text of 1-based `line` starts (after indentation).
fn column(text: &str, line: usize) -> usize {
    text.lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.len() - l.trim_start().len() + 1)
        .unwrap_or(1)
}

/// The line where `key` is set: at the top level when `nth_ignore` is 0, else inside the
/// `nth_ignore`-th `[[ignore]]` table (its header line). 0 when it cannot be found.
fn key_line(text: &str, key: &str, nth_ignore: usize) -> usize {
    let mut section = 0usize;
    let mut in_other_table = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.starts_with("[[ignore]]") {
            section += 1;
            in_other_table = false;
            if nth_ignore != 0 && section == nth_ignore {
                return i + 1;
            }
            continue;
        }
        if line.starts_with('[') {
            in_other_table = true;
            continue;
        }
        let is_key = line
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if nth_ignore == 0 && section == 0 && !in_other_table && is_key {
            return i + 1;
        }
    }
    0
}

/// A TOML syntax error, at its line and column.
fn syntax_error(e: &toml::de::Error, text: &str, path: &Path) -> Error {
    let (line, col) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0)
                + 1;
            (line, col)
        }
        None => (0, 0),
    };
    Error::usage(format!(
        "invalid policy file {}:{line}:{col}: {}",
        path.display(),
        e.message().trim()
    ))
}

/// Where a key of `layer` was set, for messages: `file:line` or the flag/env name.
fn origin_of(src: &Source, line: usize) -> String {
    match src {
        Source::File(p) if line > 0 => format!("{}:{line}", p.display()),
        other => other.to_string(),
    }
}

/// The problems of one layer that do not depend on the others (ranges, ignore rules).
fn validate_layer(layer: &PolicyLayer, src: &Source) -> Vec<String> {
    let mut problems = Vec::new();
    let at = |key: &str| origin_of(src, layer.lines.get(key).copied().unwrap_or(0));
    if let Some(v) = layer.min_epss.filter(|v| !(0.0..=1.0).contains(v)) {
        problems.push(format!(
            "{}: min-epss {v} must be between 0 and 1",
            at("min-epss")
        ));
    }
    if let Some(v) = layer
        .min_inspector_score
        .filter(|v| !(0.0..=10.0).contains(v))
    {
        problems.push(format!(
            "{}: min-inspector-score {v} must be between 0 and 10",
            at("min-inspector-score")
        ));
    }
    for raw in &layer.ignore {
        let at = origin_of(src, raw.line);
        let id = raw.id.trim();
        if id.is_empty() {
            problems.push(format!("{at}: ignore rule with an empty id"));
            continue;
        }
        if raw.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            problems.push(format!(
                "{at}: ignore rule {id} has no reason: every accepted risk needs one (add reason = \"...\")"
            ));
        }
        if let Some(Err(m)) = raw.expires.as_ref().map(RawDate::parse) {
            problems.push(format!("{at}: ignore rule {id}: expires {m}"));
        }
    }
    problems
}

/// Read and parse a policy file.
pub fn load(path: &Path) -> Result<PolicyLayer> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read policy file {}: {e}", path.display())))?;
    parse(&text, path)
}

/// Find the policy: an explicit path must exist; otherwise `.inspector-gate.toml` in `dir` if present.
pub fn locate(explicit: Option<&Path>, dir: &Path) -> Result<Option<PathBuf>> {
    match explicit {
        Some(p) if p.is_file() => Ok(Some(p.to_path_buf())),
        Some(p) => Err(Error::usage(format!(
            "policy file {} not found (create one with `inspector-gate init`)",
            p.display()
        ))),
        None => {
            let p = dir.join(DEFAULT_POLICY_FILE);
            Ok(p.is_file().then_some(p))
        }
    }
}

/// Merge layers in increasing precedence and validate into a `Policy`.
pub fn resolve(layers: &[(PolicyLayer, Source)]) -> Result<Resolved> {
    let mut origins: Vec<(String, String, Source)> = Vec::new();
    let mut set = |key: &str, value: Option<String>, src: &Source| {
        if let Some(v) = value {
            origins.retain(|(k, _, _)| k != key);
            origins.push((key.to_string(), v, src.clone()));
        }
    };
    let mut fail_on: Option<Severity> = None;
    let mut max: [(Severity, &str, Option<u64>); 6] = [
        (Severity::Critical, "max-critical", None),
        (Severity::High, "max-high", None),
        (Severity::Medium, "max-medium", None),
        (Severity::Low, "max-low", None),
        (Severity::Informational, "max-informational", None),
        (Severity::Untriaged, "max-untriaged", None),
    ];
    let mut policy = Policy::default();
    let mut ignores: Vec<(RawIgnore, Source)> = Vec::new();

    let mut problems: Vec<String> = layers
        .iter()
        .flat_map(|(layer, src)| validate_layer(layer, src))
        .collect();
    for (layer, src) in layers {
        if let Some(s) = layer.fail_on {
            fail_on = Some(s);
            set("fail-on", Some(s.to_string()), src);
        }
        let values = [
            layer.max_critical,
            layer.max_high,
            layer.max_medium,
            layer.max_low,
            layer.max_informational,
            layer.max_untriaged,
        ];
        for (slot, v) in max.iter_mut().zip(values) {
            if let Some(v) = v {
                slot.2 = Some(v);
                set(slot.1, Some(v.to_string()), src);
            }
        }
        if let Some(v) = layer.ignore_unfixed {
            policy.ignore_unfixed = v;
            set("ignore-unfixed", Some(v.to_string()), src);
        }
        if let Some(v) = layer.min_epss {
            policy.min_epss = Some(v);
            set("min-epss", Some(v.to_string()), src);
        }
        if let Some(v) = layer.min_inspector_score {
            policy.min_inspector_score = Some(v);
            set("min-inspector-score", Some(v.to_string()), src);
        }
        if let Some(v) = layer.exploit_available_only {
            policy.exploit_available_only = v;
            set("exploit-available-only", Some(v.to_string()), src);
        }
        if let Some(v) = layer.unmatched_ignore {
            policy.unmatched_ignore = match v {
                UnmatchedIgnoreRaw::Warn => UnmatchedIgnore::Warn,
                UnmatchedIgnoreRaw::Fail => UnmatchedIgnore::Fail,
            };
            set(
                "unmatched-ignore",
                Some(format!("{v:?}").to_lowercase()),
                src,
            );
        }
        ignores.extend(layer.ignore.iter().cloned().map(|r| (r, src.clone())));
        if let Some(b) = &layer.baseline {
            if let Some(c) = b.count {
                policy.baseline.count = c;
                set("baseline.count", Some(format!("{c:?}").to_lowercase()), src);
            }
            for (sev, m) in &b.per_severity {
                policy.baseline.per_severity.insert(*sev, *m);
                set(
                    &format!("baseline.count-{}", sev.as_str().to_lowercase()),
                    Some(format!("{m:?}").to_lowercase()),
                    src,
                );
            }
        }
    }

    // fail-on sets the ladder to 0; an explicit max-* (from any layer) then refines it.
    if let Some(s) = fail_on {
        policy.apply_fail_on(s);
    }
    for (sev, _, v) in max {
        if let Some(v) = v {
            policy.max.insert(sev, v);
        }
    }

    let mut seen = HashSet::new();
    for (raw, src) in ignores {
        let id = raw.id.trim().to_string();
        // Empty ids, missing reasons and bad dates were reported by validate_layer.
        let reason = raw.reason.as_deref().map(str::trim).unwrap_or_default();
        let expires = match raw.expires.as_ref().map(RawDate::parse) {
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => continue,
            None => None,
        };
        if id.is_empty() || reason.is_empty() {
            continue;
        }
        let key = (
            id.to_ascii_uppercase(),
            raw.package.clone(),
            raw.repository.clone(),
        );
        if !seen.insert(key) {
            problems.push(format!(
                "{}: ignore rule {id} is listed twice with the same scope: keep one",
                origin_of(&src, raw.line)
            ));
            continue;
        }
        set(&format!("ignore {id}"), Some(reason.to_string()), &src);
        policy.ignores.push(IgnoreRule {
            id,
            reason: reason.to_string(),
            expires,
            package: raw.package,
            repository: raw.repository,
        });
    }
    if !problems.is_empty() {
        return Err(problems_error("invalid policy:", problems));
    }
    origins.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Resolved { policy, origins })
}

/// The commented policy file written by `inspector-gate init`.
pub const TEMPLATE: &str = include_str!("template.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<PolicyLayer> {
        parse(text, Path::new("policy.toml"))
    }

    #[test]
    fn baseline_table_sets_count_modes() {
        let l = p("max-high = 0\n[baseline]\ncount = \"new\"\ncount-critical = \"all\"\n").unwrap();
        let r = resolve(&[(l, Source::File("policy.toml".into()))]).unwrap();
        use crate::baseline::CountMode;
        assert_eq!(r.policy.baseline.mode(Severity::Critical), CountMode::All);
        assert_eq!(r.policy.baseline.mode(Severity::High), CountMode::New);
        let e = p("[baseline]\ncount = \"everything\"\n").unwrap_err();
        assert!(e.message.contains("baseline: count must be"), "{e}");
    }

    #[test]
    fn template_parses_and_resolves() {
        let layer = p(TEMPLATE).expect("template is valid");
        resolve(&[(layer, Source::File("t".into()))]).expect("template resolves");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = p("max-critical = 0\nmax-hihg = 1\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.message.contains("policy.toml:2:1: max-hihg: unknown key"),
            "{}",
            e.message
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "max-hihg = 1\nmax-high = \"five\"\nmin-epss = 3.0\n\n[[ignore]]\nid = \"CVE-1\"\n\n[[ignore]]\nid = \"CVE-2\"\nreason = \"x\"\nexpires = \"2026-13-01\"\n";
        let e = p(text).unwrap_err();
        for want in [
            "5 problems",
            "policy.toml:1:1: max-hihg: unknown key",
            "policy.toml:2:1: max-high:",
            "policy.toml:3: min-epss 3 must be between 0 and 1",
            "policy.toml:5: ignore rule CVE-1 has no reason",
            "policy.toml:8: ignore rule CVE-2: expires '2026-13-01' is not a valid date",
        ] {
            assert!(e.message.contains(want), "{want}: {}", e.message);
        }
        assert_eq!(e.to_string().lines().count(), 1);
    }

    #[test]
    fn type_errors_and_negative_thresholds_are_refused() {
        let e = p("max-high = \"five\"\n").unwrap_err();
        assert!(
            e.message.contains("policy.toml:1:1: max-high:"),
            "{}",
            e.message
        );
        let e = p("\nmax-low = -1\n").unwrap_err();
        assert!(
            e.message.contains("policy.toml:2:1: max-low:"),
            "{}",
            e.message
        );
        let e = p("fail-on = \"SEVERE\"\n").unwrap_err();
        assert!(e.message.contains("unknown severity"), "{}", e.message);
        let e = p("max-low = [1\n").unwrap_err();
        assert!(e.message.contains("policy.toml:2:1:"), "{}", e.message);
    }

    #[test]
    fn ignore_rules_need_reason_valid_date_and_no_duplicates() {
        let e = p("[[ignore]]\nid = \"CVE-1\"\n").unwrap_err();
        assert!(
            e.message
                .contains("policy.toml:1: ignore rule CVE-1 has no reason"),
            "{}",
            e.message
        );
        let e = p("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"2026-13-01\"\n")
            .unwrap_err();
        assert!(e.message.contains("not a valid date"), "{}", e.message);
        let l = p("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\n[[ignore]]\nid = \"cve-1\"\nreason = \"y\"\n").unwrap();
        let e = resolve(&[(l, Source::File("policy.toml".into()))]).unwrap_err();
        assert!(
            e.message
                .contains("policy.toml:4: ignore rule cve-1 is listed twice"),
            "{}",
            e.message
        );
        let l = p("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = 2026-12-01\n").unwrap();
        let r = resolve(&[(l, Source::Default)]).unwrap();
        assert_eq!(
            r.policy.ignores[0].expires,
            Some(time::macros::date!(2026 - 12 - 01))
        );
    }

    #[test]
    fn later_layers_win_and_origins_are_tracked() {
        let file = p("fail-on = \"HIGH\"\nmax-medium = 3\n").unwrap();
        let env = PolicyLayer {
            max_medium: Some(5),
            ..Default::default()
        };
        let flags = PolicyLayer {
            max_high: Some(2),
            ..Default::default()
        };
        let r = resolve(&[
            (file, Source::File("f.toml".into())),
            (env, Source::Env("INSPECTOR_GATE_MAX_MEDIUM".into())),
            (flags, Source::Flag("--max-high".into())),
        ])
        .unwrap();
        assert_eq!(r.policy.max.get(&Severity::Critical), Some(&0));
        assert_eq!(r.policy.max.get(&Severity::High), Some(&2));
        assert_eq!(r.policy.max.get(&Severity::Medium), Some(&5));
        let medium = r.origins.iter().find(|o| o.0 == "max-medium").unwrap();
        assert_eq!(medium.2, Source::Env("INSPECTOR_GATE_MAX_MEDIUM".into()));
    }
}
