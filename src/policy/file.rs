//! The policy file (`.inspector-gate.toml`) and the layering of defaults < file < env < flags.
//!
//! Parsing is two-phase: TOML into a raw `PolicyLayer` (unknown keys rejected, so a typo never
//! silently falls back to a default), then validation into a `Policy`. Errors name the file,
//! line and key.

use super::{IgnoreRule, Policy, UnmatchedIgnore};
use crate::error::{Error, Result};
use crate::model::Severity;
use serde::Deserialize;
use std::collections::HashSet;
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
}

/// One layer of policy settings; every field optional so layers can be merged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
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
    #[serde(default)]
    pub ignore: Vec<RawIgnore>,
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

/// Parse a policy file's text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<PolicyLayer> {
    toml::from_str::<PolicyLayer>(text).map_err(|e| {
        let (line, col, key) = match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before
                    .rsplit('\n')
                    .next()
                    .map(|l| l.chars().count())
                    .unwrap_or(0)
                    + 1;
                let line_text = text.lines().nth(line - 1).unwrap_or("");
                let key = line_text.split('=').next().unwrap_or("").trim().to_string();
                (line, col, key)
            }
            None => (0, 0, String::new()),
        };
        let key = if key.is_empty() || key.starts_with('[') {
            String::new()
        } else {
            format!("{key}: ")
        };
        Error::usage(format!(
            "invalid policy file {}:{line}:{col}: {key}{}",
            path.display(),
            e.message().trim()
        ))
    })
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
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::usage(format!(
                    "min-epss {v} ({src}) must be between 0 and 1"
                )));
            }
            policy.min_epss = Some(v);
            set("min-epss", Some(v.to_string()), src);
        }
        if let Some(v) = layer.min_inspector_score {
            if !(0.0..=10.0).contains(&v) {
                return Err(Error::usage(format!(
                    "min-inspector-score {v} ({src}) must be between 0 and 10"
                )));
            }
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
        if id.is_empty() {
            return Err(Error::usage(format!(
                "ignore rule with an empty id ({src})"
            )));
        }
        let reason = match raw.reason.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => {
                return Err(Error::usage(format!(
                    "ignore rule {id} ({src}) has no reason: every accepted risk needs one (add reason = \"...\")"
                )))
            }
        };
        let expires = match &raw.expires {
            Some(d) => Some(
                d.parse()
                    .map_err(|m| Error::usage(format!("ignore rule {id} ({src}): expires {m}")))?,
            ),
            None => None,
        };
        let key = (
            id.to_ascii_uppercase(),
            raw.package.clone(),
            raw.repository.clone(),
        );
        if !seen.insert(key) {
            return Err(Error::usage(format!(
                "ignore rule {id} ({src}) is listed twice with the same scope: keep one"
            )));
        }
        set(&format!("ignore {id}"), Some(reason.clone()), &src);
        policy.ignores.push(IgnoreRule {
            id,
            reason,
            expires,
            package: raw.package,
            repository: raw.repository,
        });
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
    fn template_parses_and_resolves() {
        let layer = p(TEMPLATE).expect("template is valid");
        resolve(&[(layer, Source::File("t".into()))]).expect("template resolves");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = p("max-critical = 0\nmax-hihg = 1\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("policy.toml:2:1"), "{}", e.message);
        assert!(e.message.contains("max-hihg"), "{}", e.message);
    }

    #[test]
    fn type_errors_and_negative_thresholds_are_refused() {
        let e = p("max-high = \"five\"\n").unwrap_err();
        assert!(
            e.message.contains("policy.toml:1:") && e.message.contains("max-high"),
            "{}",
            e.message
        );
        let e = p("\nmax-low = -1\n").unwrap_err();
        assert!(
            e.message.contains(":2:") && e.message.contains("max-low"),
            "{}",
            e.message
        );
        let e = p("fail-on = \"SEVERE\"\n").unwrap_err();
        assert!(e.message.contains("unknown severity"), "{}", e.message);
    }

    #[test]
    fn ignore_rules_need_reason_valid_date_and_no_duplicates() {
        let l = p("[[ignore]]\nid = \"CVE-1\"\n").unwrap();
        let e = resolve(&[(l, Source::Default)]).unwrap_err();
        assert!(e.message.contains("has no reason"), "{}", e.message);
        let l =
            p("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"2026-13-01\"\n").unwrap();
        let e = resolve(&[(l, Source::Default)]).unwrap_err();
        assert!(e.message.contains("not a valid date"), "{}", e.message);
        let l = p("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\n[[ignore]]\nid = \"cve-1\"\nreason = \"y\"\n").unwrap();
        let e = resolve(&[(l, Source::Default)]).unwrap_err();
        assert!(e.message.contains("listed twice"), "{}", e.message);
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
