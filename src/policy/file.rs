//! The policy file (`.inspector-gate.toml`) and the layering of defaults < file < env < flags.
//!
//! Parsing is two-phase: TOML into a raw `PolicyLayer` (unknown keys rejected, so a typo never
//! silently falls back to a default), then validation into a `Policy`. Both phases collect
//! every problem instead of stopping at the first, and each names its file:line and key.

use super::{IgnoreRule, Policy, UnmatchedIgnore};
use crate::baseline::CountMode;
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
    /// The CI owner's floor (`--policy-floor`): a file path, `ssm:/name` or `s3://bucket/key`.
    Floor(String),
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Floor(o) => write!(f, "floor {o}"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

impl Source {
    /// Precedence: defaults < floor < file < env < flags.
    fn rank(&self) -> u8 {
        match self {
            Source::Default => 0,
            Source::Floor(_) => 1,
            Source::File(_) => 2,
            Source::Env(_) => 3,
            Source::Flag(_) => 4,
        }
    }
}

/// The filters a floor can permit the repository's file to turn on (each counts fewer findings).
/// `baseline` lets the file count only new findings (`[baseline] count = "new"`) where the
/// floor says `"all"`.
pub const FILTERS: [&str; 5] = [
    "ignore-unfixed",
    "min-epss",
    "exploit-available-only",
    "min-inspector-score",
    "baseline",
];

/// What a floor lets the repository's policy file loosen.
#[derive(Debug, Clone, Default)]
pub struct FloorPermits {
    /// Ids (or `*` patterns such as `GHSA-*`) the file may ignore.
    pub allow_ignore: Vec<String>,
    /// The latest expiry a file's ignore may have, in days from today (absent: no cap).
    pub max_ignore_days: Option<u32>,
    /// Filters (see `FILTERS`) the file may turn on.
    pub allow_filters: Vec<String>,
}

/// The CI owner's policy floor: its own settings, and what the repository's file may loosen.
#[derive(Debug, Clone)]
pub struct Floor {
    pub layer: PolicyLayer,
    pub permits: FloorPermits,
    pub origin: String,
}

/// Where a floor comes from, parsed from `--policy-floor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloorSource {
    File(PathBuf),
    Ssm(String),
    S3 { bucket: String, key: String },
}

impl std::fmt::Display for FloorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FloorSource::File(p) => write!(f, "{}", p.display()),
            FloorSource::Ssm(name) => write!(f, "ssm:{name}"),
            FloorSource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

impl std::str::FromStr for FloorSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("ssm:") {
            if name.is_empty() {
                return Err(Error::usage(
                    "--policy-floor ssm: needs a parameter name (e.g. ssm:/ci/inspector-gate/floor)",
                ));
            }
            return Ok(FloorSource::Ssm(name.to_string()));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok(FloorSource::S3 {
                    bucket: b.to_string(),
                    key: k.to_string(),
                }),
                _ => Err(Error::usage(
                    "--policy-floor s3:// needs a bucket and a key (e.g. s3://ci-policies/floor.toml)",
                )),
            };
        }
        if s.is_empty() {
            return Err(Error::usage(
                "--policy-floor is empty: give a file, ssm:/name or s3://bucket/key",
            ));
        }
        Ok(FloorSource::File(PathBuf::from(s)))
    }
}

/// `true` when `id` matches `pattern` (case-insensitive; `*` matches any run of characters).
pub fn id_matches(pattern: &str, id: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((c, rest)) => s
                .split_first()
                .is_some_and(|(d, srest)| c.eq_ignore_ascii_case(d) && go(rest, srest)),
        }
    }
    go(pattern.trim().as_bytes(), id.trim().as_bytes())
}

/// The effective policy plus, per key, its value and origin, and one warning line per key
/// where the repository's file tried to loosen the floor.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub policy: Policy,
    pub origins: Vec<(String, String, Source)>,
    pub warnings: Vec<String>,
}

/// Parse a policy file's text; `path` is only used in messages. Every unknown key, wrong type
/// and invalid value is reported (one line, each problem with its `file:line`), not just the
/// first.
pub fn parse(text: &str, path: &Path) -> Result<PolicyLayer> {
    parse_with(text, path, None)
}

/// Parse a policy floor (`--policy-floor`): the policy keys plus what the floor permits the
/// repository's file to loosen (`allow-ignore`, `max-ignore-days`, `allow-filters`).
pub fn parse_floor(text: &str, origin: &str) -> Result<Floor> {
    let mut permits = FloorPermits::default();
    let layer = parse_with(text, Path::new(origin), Some(&mut permits))?;
    Ok(Floor {
        layer,
        permits,
        origin: origin.to_string(),
    })
}

fn parse_with(
    text: &str,
    path: &Path,
    mut floor: Option<&mut FloorPermits>,
) -> Result<PolicyLayer> {
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
            "allow-ignore" | "max-ignore-days" | "allow-filters" if floor.is_some() => {
                let permits = floor.as_deref_mut().expect("checked");
                match key.as_str() {
                    "allow-ignore" => {
                        permits.allow_ignore = field(value, &mut bad).unwrap_or_default()
                    }
                    "max-ignore-days" => permits.max_ignore_days = field(value, &mut bad),
                    _ => {
                        let filters: Vec<String> = field(value, &mut bad).unwrap_or_default();
                        for f in &filters {
                            if !FILTERS.contains(&f.as_str()) {
                                bad(format!(
                                    "unknown filter '{f}' (expected one of {})",
                                    FILTERS.join(", ")
                                ));
                            }
                        }
                        permits.allow_filters = filters;
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
            // A table key (`[baseline]`) is reported at its header.
            if nth_ignore == 0
                && line
                    .trim_end()
                    .strip_prefix('[')
                    .and_then(|l| l.strip_suffix(']'))
                    .map(str::trim)
                    == Some(key)
            {
                return i + 1;
            }
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

/// Merge layers in increasing precedence and validate into a `Policy` (no floor).
pub fn resolve(layers: &[(PolicyLayer, Source)]) -> Result<Resolved> {
    resolve_with(None, layers, Date::MIN)
}

/// The maxima a layer sets explicitly, in `Severity::ALL` order with their key names.
fn explicit_max(layer: &PolicyLayer) -> [(Severity, &'static str, Option<u64>); 6] {
    [
        (Severity::Critical, "max-critical", layer.max_critical),
        (Severity::High, "max-high", layer.max_high),
        (Severity::Medium, "max-medium", layer.max_medium),
        (Severity::Low, "max-low", layer.max_low),
        (
            Severity::Informational,
            "max-informational",
            layer.max_informational,
        ),
        (Severity::Untriaged, "max-untriaged", layer.max_untriaged),
    ]
}

/// Does `fail-on` at `level` set a maximum of 0 for `sev`? (UNTRIAGED is outside the ladder.)
fn fail_on_covers(level: Severity, sev: Severity) -> bool {
    if level == Severity::Untriaged {
        sev == Severity::Untriaged
    } else {
        sev != Severity::Untriaged && sev.rank() <= level.rank()
    }
}

/// The floor's own maximum for `sev`: its explicit maximum refines its own fail-on.
fn floor_max(floor: &Floor, sev: Severity) -> Option<u64> {
    explicit_max(&floor.layer)
        .into_iter()
        .find(|(s, _, _)| *s == sev)
        .and_then(|(_, _, v)| v)
        .or_else(|| {
            floor
                .layer
                .fail_on
                .filter(|l| fail_on_covers(*l, sev))
                .map(|_| 0)
        })
}

/// Merge `floor` (if any) and `layers` (in increasing precedence) into a `Policy`.
///
/// Per severity, the maximum is decided by the highest layer that speaks about it: a layer's
/// `fail-on` sets 0 for its ladder, an explicit `max-*` from the same or a higher layer refines
/// it, so a flag `--fail-on HIGH` beats a file's `max-critical = 1000000`. With a floor, a
/// value decided by the policy file (the gated commit's) may only be tighter than the floor's:
/// a looser one is replaced by the floor's, with one warning per key. `today` caps ignore
/// expiries (`max-ignore-days`).
pub fn resolve_with(
    floor: Option<&Floor>,
    layers: &[(PolicyLayer, Source)],
    today: Date,
) -> Result<Resolved> {
    let floor_src = floor.map(|f| Source::Floor(f.origin.clone()));
    let all: Vec<(&PolicyLayer, Source)> = floor
        .iter()
        .map(|f| (&f.layer, floor_src.clone().expect("floor")))
        .chain(layers.iter().map(|(l, s)| (l, s.clone())))
        .collect();
    let mut problems: Vec<String> = all
        .iter()
        .flat_map(|(layer, src)| validate_layer(layer, src))
        .collect();
    let mut out = Resolution::default();
    out.maxima(floor, &all);
    let mut keys = Keys::collect(&all);
    if let Some(f) = floor {
        keys.clamp_to(f, &mut out.warnings);
    }
    let ignores = keys.apply(&mut out);
    out.ignores(floor, ignores, today, &mut problems);
    if !problems.is_empty() {
        return Err(problems_error("invalid policy:", problems));
    }
    let origins = out
        .origins
        .into_iter()
        .map(|(k, (v, s))| (k, v, s))
        .collect();
    Ok(Resolved {
        policy: out.policy,
        origins,
        warnings: out.warnings,
    })
}

/// The policy being resolved, which layer decided each key, and the floor's warnings.
#[derive(Default)]
struct Resolution {
    policy: Policy,
    origins: BTreeMap<String, (String, Source)>,
    warnings: Vec<String>,
}

impl Resolution {
    /// Per severity, the maximum of the highest layer that speaks about it (`fail-on` sets
    /// its ladder to 0, an explicit `max-*` of the same or a higher layer refines it); a
    /// policy file's value looser than the floor's is replaced by the floor's.
    fn maxima(&mut self, floor: Option<&Floor>, all: &[(&PolicyLayer, Source)]) {
        // Per severity: (value, source, rank, explicit?) of the deciding layer.
        let mut decided: BTreeMap<Severity, (u64, Source, (u8, bool))> = BTreeMap::new();
        let mut consider = |sev: Severity, v: u64, src: &Source, explicit: bool| {
            let key = (src.rank(), explicit);
            if decided.get(&sev).is_none_or(|d| key >= d.2) {
                decided.insert(sev, (v, src.clone(), key));
            }
        };
        let mut fail_on: Option<(Severity, Source)> = None;
        for (layer, src) in all {
            if let Some(level) = layer.fail_on {
                for sev in Severity::ALL
                    .into_iter()
                    .filter(|s| fail_on_covers(level, *s))
                {
                    consider(sev, 0, src, false);
                }
                fail_on = Some((level, src.clone()));
            }
            for (sev, _, v) in explicit_max(layer) {
                if let Some(v) = v {
                    consider(sev, v, src, true);
                }
            }
        }
        if let Some((level, src)) = &fail_on {
            self.origins
                .insert("fail-on".into(), (level.to_string(), src.clone()));
        }
        for (sev, key, _) in explicit_max(&PolicyLayer::default()) {
            let Some((mut v, mut src, _)) = decided.get(&sev).cloned() else {
                continue;
            };
            if let (Some(f), Source::File(_)) = (floor, &src) {
                if let Some(fv) = floor_max(f, sev).filter(|fv| v > *fv) {
                    self.warnings.push(format!(
                        "{src}: {key} = {v} is looser than the policy floor ({fv} from {}): applying {fv}",
                        f.origin
                    ));
                    v = fv;
                    src = Source::Floor(f.origin.clone());
                }
            }
            self.policy.max.insert(sev, v);
            self.origins.insert(key.to_string(), (v.to_string(), src));
        }
    }

    /// The ignore rules, in layer order: the floor's `allow-ignore` and `max-ignore-days`
    /// govern the policy file's; a rule listed twice with the same scope is a problem.
    fn ignores(
        &mut self,
        floor: Option<&Floor>,
        ignores: Vec<(RawIgnore, Source)>,
        today: Date,
        problems: &mut Vec<String>,
    ) {
        let mut seen = HashSet::new();
        for (raw, src) in ignores {
            let id = raw.id.trim().to_string();
            // Empty ids, missing reasons and bad dates were reported by validate_layer.
            let reason = raw.reason.as_deref().map(str::trim).unwrap_or_default();
            let mut expires = match raw.expires.as_ref().map(RawDate::parse) {
                Some(Ok(d)) => Some(d),
                Some(Err(_)) => continue,
                None => None,
            };
            if id.is_empty() || reason.is_empty() {
                continue;
            }
            if let (Some(f), Source::File(_)) = (floor, &src) {
                let at = origin_of(&src, raw.line);
                if !f.permits.allow_ignore.iter().any(|p| id_matches(p, &id)) {
                    self.warnings.push(format!(
                        "{at}: ignore {id} is not allowed by the policy floor ({}; see allow-ignore): not applied",
                        f.origin
                    ));
                    continue;
                }
                if let Some(days) = f.permits.max_ignore_days {
                    let cap = today.saturating_add(time::Duration::days(i64::from(days)));
                    if expires.is_none_or(|e| e > cap) {
                        self.warnings.push(format!(
                            "{at}: ignore {id} expires {} — later than the policy floor allows ({days} days, {}): expires {cap}",
                            expires.map_or("never".to_string(), |e| e.to_string()),
                            f.origin
                        ));
                        expires = Some(cap);
                    }
                }
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
            self.origins
                .insert(format!("ignore {id}"), (reason.to_string(), src));
            self.policy.ignores.push(IgnoreRule {
                id,
                reason: reason.to_string(),
                expires,
                package: raw.package,
                repository: raw.repository,
            });
        }
    }
}

/// The keys other than the maxima, each with the layer that set it last (the highest wins).
#[derive(Default)]
struct Keys {
    ignore_unfixed: Option<(bool, Source)>,
    exploit_only: Option<(bool, Source)>,
    min_epss: Option<(f64, Source)>,
    min_score: Option<(f64, Source)>,
    unmatched: Option<(UnmatchedIgnore, Source)>,
    ignores: Vec<(RawIgnore, Source)>,
    base_count: Option<(CountMode, Source)>,
    base_per_sev: BTreeMap<Severity, (CountMode, Source)>,
}

impl Keys {
    fn collect(all: &[(&PolicyLayer, Source)]) -> Keys {
        let mut k = Keys::default();
        for (layer, src) in all {
            let s = || src.clone();
            if let Some(v) = layer.ignore_unfixed {
                k.ignore_unfixed = Some((v, s()));
            }
            if let Some(v) = layer.exploit_available_only {
                k.exploit_only = Some((v, s()));
            }
            if let Some(v) = layer.min_epss {
                k.min_epss = Some((v, s()));
            }
            if let Some(v) = layer.min_inspector_score {
                k.min_score = Some((v, s()));
            }
            if let Some(v) = layer.unmatched_ignore {
                let v = match v {
                    UnmatchedIgnoreRaw::Warn => UnmatchedIgnore::Warn,
                    UnmatchedIgnoreRaw::Fail => UnmatchedIgnore::Fail,
                };
                k.unmatched = Some((v, s()));
            }
            k.ignores
                .extend(layer.ignore.iter().cloned().map(|r| (r, s())));
            if let Some(b) = &layer.baseline {
                if let Some(c) = b.count {
                    k.base_count = Some((c, s()));
                }
                for (sev, m) in &b.per_severity {
                    k.base_per_sev.insert(*sev, (*m, s()));
                }
            }
        }
        k
    }

    /// Replace each value the policy file decided that would count fewer findings than the
    /// floor allows (unless the floor's `allow-filters` permits it), one warning per key.
    fn clamp_to(&mut self, f: &Floor, warnings: &mut Vec<String>) {
        let fl = &f.layer;
        let permits = |name: &str| f.permits.allow_filters.iter().any(|a| a == name);
        let mut refuse = |key: &str, value: String, src: &Source, floor_value: String| {
            warnings.push(format!(
                "{src}: {key} = {value} loosens the policy floor ({}), which does not allow it: applying {floor_value}",
                f.origin
            ));
        };
        let fsrc = Source::Floor(f.origin.clone());
        // Boolean filters: turning one on counts fewer findings.
        for (slot, key, floor_v) in [
            (
                &mut self.ignore_unfixed,
                "ignore-unfixed",
                fl.ignore_unfixed,
            ),
            (
                &mut self.exploit_only,
                "exploit-available-only",
                fl.exploit_available_only,
            ),
        ] {
            if let Some((true, src @ Source::File(_))) = slot.clone() {
                if !floor_v.unwrap_or(false) && !permits(key) {
                    refuse(key, "true".into(), &src, "false".into());
                    *slot = Some((false, fsrc.clone()));
                }
            }
        }
        // Score filters: a higher minimum counts fewer findings.
        for (slot, key, floor_v) in [
            (&mut self.min_epss, "min-epss", fl.min_epss),
            (
                &mut self.min_score,
                "min-inspector-score",
                fl.min_inspector_score,
            ),
        ] {
            if let Some((v, src @ Source::File(_))) = slot.clone() {
                let tighter = floor_v.is_some_and(|fv| v <= fv);
                if !tighter && !permits(key) {
                    let shown = floor_v.map_or("(not set)".to_string(), |fv| fv.to_string());
                    refuse(key, v.to_string(), &src, shown);
                    *slot = floor_v.map(|fv| (fv, fsrc.clone()));
                }
            }
        }
        // Baseline counting: "new" counts fewer findings than "all". Where the floor says "all"
        // for a severity, the repository's file may not switch that severity to "new".
        if let Some(fb) = fl.baseline.as_ref().filter(|_| !permits("baseline")) {
            for sev in Severity::ALL {
                let floor_mode = fb.per_severity.get(&sev).copied().or(fb.count);
                if floor_mode != Some(CountMode::All) {
                    continue;
                }
                let deciding = self
                    .base_per_sev
                    .get(&sev)
                    .or(self.base_count.as_ref())
                    .cloned();
                if let Some((CountMode::New, src @ Source::File(_))) = deciding {
                    let key = format!("baseline.count-{}", sev.as_str().to_lowercase());
                    refuse(&key, "\"new\"".into(), &src, "\"all\"".into());
                    self.base_per_sev
                        .insert(sev, (CountMode::All, fsrc.clone()));
                }
            }
        }
        if let (
            Some((UnmatchedIgnore::Warn, src @ Source::File(_))),
            Some(UnmatchedIgnoreRaw::Fail),
        ) = (self.unmatched.clone(), fl.unmatched_ignore)
        {
            refuse("unmatched-ignore", "warn".into(), &src, "fail".into());
            self.unmatched = Some((UnmatchedIgnore::Fail, fsrc.clone()));
        }
    }

    /// Write the decided values into the policy and their origins; returns the ignore rules
    /// (resolved separately, against the floor's permits).
    fn apply(self, out: &mut Resolution) -> Vec<(RawIgnore, Source)> {
        let (policy, origins) = (&mut out.policy, &mut out.origins);
        if let Some((c, src)) = self.base_count {
            policy.baseline.count = c;
            origins.insert(
                "baseline.count".into(),
                (format!("{c:?}").to_lowercase(), src),
            );
        }
        for (sev, (m, src)) in self.base_per_sev {
            policy.baseline.per_severity.insert(sev, m);
            let key = format!("baseline.count-{}", sev.as_str().to_lowercase());
            origins.insert(key, (format!("{m:?}").to_lowercase(), src));
        }
        if let Some((v, src)) = self.ignore_unfixed {
            policy.ignore_unfixed = v;
            origins.insert("ignore-unfixed".into(), (v.to_string(), src));
        }
        if let Some((v, src)) = self.exploit_only {
            policy.exploit_available_only = v;
            origins.insert("exploit-available-only".into(), (v.to_string(), src));
        }
        if let Some((v, src)) = self.min_epss {
            policy.min_epss = Some(v);
            origins.insert("min-epss".into(), (v.to_string(), src));
        }
        if let Some((v, src)) = self.min_score {
            policy.min_inspector_score = Some(v);
            origins.insert("min-inspector-score".into(), (v.to_string(), src));
        }
        if let Some((v, src)) = self.unmatched {
            policy.unmatched_ignore = v;
            let text = match v {
                UnmatchedIgnore::Warn => "warn",
                UnmatchedIgnore::Fail => "fail",
            };
            origins.insert("unmatched-ignore".into(), (text.into(), src));
        }
        self.ignores
    }
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

    #[test]
    fn a_flag_fail_on_beats_a_file_maximum() {
        // The repro: the file's max-critical = 1000000 used to beat --fail-on HIGH.
        let file = p("max-critical = 1000000\nmax-high = 7\nmax-medium = 3\n").unwrap();
        let flags = PolicyLayer {
            fail_on: Some(Severity::High),
            ..Default::default()
        };
        let r = resolve(&[
            (file, Source::File("f.toml".into())),
            (flags, Source::Flag("--fail-on".into())),
        ])
        .unwrap();
        assert_eq!(r.policy.max.get(&Severity::Critical), Some(&0));
        assert_eq!(r.policy.max.get(&Severity::High), Some(&0));
        assert_eq!(r.policy.max.get(&Severity::Medium), Some(&3));
        let crit = r.origins.iter().find(|o| o.0 == "max-critical").unwrap();
        assert_eq!(crit.2, Source::Flag("--fail-on".into()));
        // An explicit maximum from the same or a higher layer refines fail-on.
        let file = p("fail-on = \"HIGH\"\nmax-high = 2\n").unwrap();
        let env = PolicyLayer {
            max_critical: Some(1),
            ..Default::default()
        };
        let r = resolve(&[
            (file, Source::File("f.toml".into())),
            (env, Source::Env("INSPECTOR_GATE_MAX_CRITICAL".into())),
        ])
        .unwrap();
        assert_eq!(r.policy.max.get(&Severity::High), Some(&2));
        assert_eq!(r.policy.max.get(&Severity::Critical), Some(&1));
    }

    fn floor(text: &str) -> Floor {
        parse_floor(text, "floor.toml").unwrap()
    }

    const TODAY: Date = time::macros::date!(2026 - 11 - 28);

    #[test]
    fn the_file_may_tighten_but_not_loosen_the_floor() {
        let f = floor("fail-on = \"HIGH\"\nmax-medium = 5\nunmatched-ignore = \"fail\"\nallow-ignore = [\"GHSA-*\", \"CVE-2024-1\"]\nmax-ignore-days = 30\n");
        let file = p("max-critical = 1000000\nmax-medium = 2\nignore-unfixed = true\nmin-epss = 0.5\nexploit-available-only = true\nunmatched-ignore = \"warn\"\n[[ignore]]\nid = \"CVE-2099-9\"\nreason = \"x\"\n[[ignore]]\nid = \"ghsa-abcd\"\nreason = \"y\"\n[[ignore]]\nid = \"CVE-2024-1\"\nreason = \"z\"\nexpires = 2026-12-05\n").unwrap();
        let r = resolve_with(Some(&f), &[(file, Source::File("repo.toml".into()))], TODAY).unwrap();
        let pol = &r.policy;
        assert_eq!(pol.max.get(&Severity::Critical), Some(&0));
        assert_eq!(pol.max.get(&Severity::High), Some(&0));
        assert_eq!(
            pol.max.get(&Severity::Medium),
            Some(&2),
            "tightening is kept"
        );
        assert!(!pol.ignore_unfixed && !pol.exploit_available_only);
        assert_eq!(pol.min_epss, None);
        assert_eq!(pol.unmatched_ignore, UnmatchedIgnore::Fail);
        let ids: Vec<&str> = pol.ignores.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["ghsa-abcd", "CVE-2024-1"]);
        assert_eq!(
            pol.ignores[0].expires,
            Some(time::macros::date!(2026 - 12 - 28))
        );
        assert_eq!(
            pol.ignores[1].expires,
            Some(time::macros::date!(2026 - 12 - 05))
        );
        for key in [
            "max-critical",
            "ignore-unfixed",
            "min-epss",
            "exploit-available-only",
            "unmatched-ignore",
            "ignore CVE-2099-9",
            "ignore ghsa-abcd expires never",
        ] {
            assert_eq!(
                r.warnings.iter().filter(|w| w.contains(key)).count(),
                1,
                "{key}: {:#?}",
                r.warnings
            );
        }
        assert_eq!(r.warnings.len(), 7, "{:#?}", r.warnings);
        let crit = r.origins.iter().find(|o| o.0 == "max-critical").unwrap();
        assert_eq!(crit.2, Source::Floor("floor.toml".into()));
    }

    #[test]
    fn the_file_cannot_count_only_new_findings_where_the_floor_counts_all() {
        use crate::baseline::CountMode;
        let f = floor("fail-on = \"HIGH\"\n[baseline]\ncount-critical = \"all\"\n");
        let file = p("[baseline]\ncount = \"new\"\ncount-critical = \"new\"\n").unwrap();
        let r = resolve_with(Some(&f), &[(file, Source::File("repo.toml".into()))], TODAY).unwrap();
        assert_eq!(r.policy.baseline.mode(Severity::Critical), CountMode::All);
        assert_eq!(r.policy.baseline.mode(Severity::High), CountMode::New);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("baseline.count-critical"),
            "{:?}",
            r.warnings
        );
        // A floor that permits it lets the file decide.
        let f = floor("allow-filters = [\"baseline\"]\n[baseline]\ncount = \"all\"\n");
        let file = p("[baseline]\ncount = \"new\"\n").unwrap();
        let r = resolve_with(Some(&f), &[(file, Source::File("repo.toml".into()))], TODAY).unwrap();
        assert_eq!(r.policy.baseline.mode(Severity::Critical), CountMode::New);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn the_floor_permits_filters_and_flags_stay_the_ci_owners() {
        let f = floor("fail-on = \"CRITICAL\"\nallow-filters = [\"ignore-unfixed\"]\n");
        let file = p("ignore-unfixed = true\nmax-critical = 3\n").unwrap();
        let flags = PolicyLayer {
            max_critical: Some(9),
            ..Default::default()
        };
        let r = resolve_with(
            Some(&f),
            &[
                (file, Source::File("repo.toml".into())),
                (flags, Source::Flag("--max-critical".into())),
            ],
            TODAY,
        )
        .unwrap();
        assert!(r.policy.ignore_unfixed);
        assert_eq!(r.policy.max.get(&Severity::Critical), Some(&9));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let e = parse_floor("allow-filters = [\"everything\"]\n", "f").unwrap_err();
        assert!(
            e.message.contains("unknown filter 'everything'"),
            "{}",
            e.message
        );
        assert!(
            p("allow-ignore = []\n").is_err(),
            "floor keys only in a floor"
        );
    }

    #[test]
    fn floor_sources_and_patterns() {
        assert_eq!(
            "ssm:/ci/floor".parse::<FloorSource>().unwrap(),
            FloorSource::Ssm("/ci/floor".into())
        );
        assert_eq!(
            "s3://b/k/f.toml".parse::<FloorSource>().unwrap(),
            FloorSource::S3 {
                bucket: "b".into(),
                key: "k/f.toml".into()
            }
        );
        assert!("s3://b".parse::<FloorSource>().is_err());
        assert!("ssm:".parse::<FloorSource>().is_err());
        assert!(id_matches("GHSA-*", "ghsa-1234"));
        assert!(id_matches("CVE-2024-1", "cve-2024-1"));
        assert!(!id_matches("CVE-2024-1", "CVE-2024-10"));
        assert!(!id_matches("GHSA-*", "CVE-1"));
    }
}
