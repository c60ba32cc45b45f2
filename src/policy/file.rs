//! The policy file (`.inspector-gate.toml`), the CI owner's floor, and the layering of
//! defaults < floor < file < env < flags into one effective `Policy`.
//!
//! Every key is described once, in `keys::TABLE`; parsing, layering and the floor clamp here
//! are driven by that table. Parsing is two-phase: TOML into a raw `PolicyLayer` (unknown keys
//! rejected, with the nearest key as a hint, so a typo never silently falls back to a default),
//! then validation into a `Policy`. Both phases collect every problem instead of stopping at the
//! first; each is a `Problem` naming its file:line:col and key.

use super::keys::{self, Apply, Governs, Key, Kind, Value};
use super::{IgnoreRule, Policy, BUILTIN_FAIL_ON};
use crate::baseline::{BaselineLayer, CountMode};
use crate::error::{Error, Result};
use crate::model::Severity;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use time::Date;

/// File name looked up in the working directory when `--policy` is not given.
pub const DEFAULT_POLICY_FILE: &str = ".inspector-gate.toml";

/// The reason an ignore given as a flag or env value carries.
const FLAG_IGNORE_REASON: &str = "ignored on the command line";

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
    /// Line and column of the rule in its policy file (0 when it came from a flag or env).
    #[serde(skip)]
    pub at: (usize, usize),
}

/// One layer of policy settings (a file, the floor, one flag or env variable); every key
/// optional so layers can be merged.
#[derive(Debug, Clone, Default)]
pub struct PolicyLayer {
    /// The values of the table's keys other than `ignore` and `[baseline]`, by key name.
    values: BTreeMap<&'static str, Value>,
    pub ignore: Vec<RawIgnore>,
    /// The `[baseline]` table (what thresholds count when a baseline is given).
    pub baseline: Option<BaselineLayer>,
    /// The statements of the VEX documents its `vex` key names, once read ([`load_vex`]).
    pub vex: Vec<super::vex::Statement>,
    /// Line and column of each key in its policy file, for messages.
    pub at: BTreeMap<String, (usize, usize)>,
}

impl PolicyLayer {
    /// The value this layer gives `name`, if any (not `ignore` or `[baseline]`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Set `key` to `value`; repeated values of a list or per-severity key accumulate (an
    /// id given as a flag becomes an ignore rule with a fixed reason).
    pub fn set(&mut self, key: &'static Key, value: Value) {
        match (key.kind, value) {
            (Kind::Ignores, Value::List(ids)) => {
                self.ignore.extend(ids.into_iter().map(|id| RawIgnore {
                    id,
                    reason: Some(FLAG_IGNORE_REASON.into()),
                    expires: None,
                    package: None,
                    repository: None,
                    at: (0, 0),
                }))
            }
            (Kind::CountMode, Value::Choice(w)) => {
                let b = self.baseline.get_or_insert_with(Default::default);
                b.count = count_mode(w);
            }
            (Kind::PerSeverity, Value::PerSeverity(sev, w)) => {
                let b = self.baseline.get_or_insert_with(Default::default);
                if let Some(m) = count_mode(w) {
                    b.per_severity.insert(sev, m);
                }
            }
            (Kind::Patterns | Kind::Filters | Kind::Files, Value::List(more)) => {
                match self.values.get_mut(key.name) {
                    Some(Value::List(l)) => l.extend(more),
                    _ => {
                        self.values.insert(key.name, Value::List(more));
                    }
                }
            }
            (_, v) => {
                self.values.insert(key.name, v);
            }
        }
    }

    /// This layer with `name` (a key of `keys::TABLE`) set to `value`.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        if let Some(k) = keys::get(name) {
            self.set(k, value);
        }
        self
    }
}

fn count_mode(word: &str) -> Option<CountMode> {
    toml::Value::String(word.to_string()).try_into().ok()
}

/// One problem of a policy: where (a file position, or the flag or env variable that set
/// the value), which key, what is wrong and, where known, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The policy file's path, or `flag --min-epss` / `env INSPECTOR_GATE_MIN_EPSS`.
    pub file: String,
    /// 1-based; 0 when the value did not come from a file (or the position is unknown).
    pub line: usize,
    pub col: usize,
    /// The key (`max-high`, `ignore`, `baseline`); empty for a TOML syntax error.
    pub key: String,
    pub message: String,
    /// How to fix it ("did you mean `fail-on`?").
    pub hint: Option<String>,
}

impl Problem {
    fn new(file: String, (line, col): (usize, usize), key: &str, message: String) -> Problem {
        Problem {
            file,
            line,
            col,
            key: key.to_string(),
            message,
            hint: None,
        }
    }

    fn with_hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// A problem of a value that `src` set, at `at` in it when `src` is a file.
    fn of(src: &Source, at: (usize, usize), key: &str, message: String) -> Problem {
        match src {
            Source::File(p) => Problem::new(p.display().to_string(), at, key, message),
            other => Problem::new(other.to_string(), (0, 0), key, message),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        match (self.line, self.col) {
            (0, _) => {}
            (l, 0) => write!(f, ":{l}")?,
            (l, c) => write!(f, ":{l}:{c}")?,
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
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

/// What a floor lets the repository's policy file loosen, and what it allows the CI step.
#[derive(Debug, Clone)]
pub struct FloorPermits {
    /// Ids (or `*` patterns such as `GHSA-*`) the file may ignore.
    pub allow_ignore: Vec<String>,
    /// The latest expiry a file's ignore may have, in days from today (absent: no cap).
    pub max_ignore_days: Option<u32>,
    /// Filters (`keys::filters()`) the file may turn on.
    pub allow_filters: Vec<String>,
    /// Whether `--soft-fail` may be used (`allow-soft-fail`, default true).
    pub allow_soft_fail: bool,
    /// Authors (or `*` patterns) whose OpenVEX statements may ignore (`allow-vex`).
    pub allow_vex: Vec<String>,
}

impl Default for FloorPermits {
    fn default() -> Self {
        FloorPermits {
            allow_ignore: Vec::new(),
            max_ignore_days: None,
            allow_filters: Vec::new(),
            allow_soft_fail: true,
            allow_vex: Vec::new(),
        }
    }
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
/// where a layer tried to loosen the floor.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub policy: Policy,
    pub origins: Vec<(String, String, Source)>,
    pub warnings: Vec<String>,
    /// Whether `--soft-fail` may be used: the floor's `allow-soft-fail` (true without a floor).
    pub allow_soft_fail: bool,
    /// No layer (flag, env, file, floor) set any threshold, so the built-in default
    /// (`fail-on = BUILTIN_FAIL_ON`) applies.
    pub builtin_default: bool,
}

/// Parse a policy file's text; `path` is only used in messages. Every unknown key, wrong type
/// and invalid value is reported (each problem with its `file:line:col`), not just the first.
pub fn parse(text: &str, path: &Path) -> Result<PolicyLayer> {
    parse_with(text, path, false)
}

/// Parse a policy floor (`--policy-floor`): the policy keys plus the floor-only keys, which
/// say what the floor permits the repository's file to loosen (`allow-ignore`,
/// `max-ignore-days`, `allow-filters`) and the CI step to do (`allow-soft-fail`).
pub fn parse_floor(text: &str, origin: &str) -> Result<Floor> {
    let layer = parse_with(text, Path::new(origin), true)?;
    let mut permits = FloorPermits::default();
    for key in keys::TABLE {
        if let (Apply::Permits(apply), Some(v)) = (key.apply, layer.get(key.name)) {
            apply(&mut permits, v);
        }
    }
    Ok(Floor {
        layer,
        permits,
        origin: origin.to_string(),
    })
}

fn parse_with(text: &str, path: &Path, floor: bool) -> Result<PolicyLayer> {
    let file = path.display().to_string();
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| problems_error(&file, vec![syntax_error(&e, text, path)]))?;
    let mut problems = Vec::new();
    let mut layer = PolicyLayer::default();
    for (name, value) in &table {
        let line = key_line(text, name, 0);
        let at = (line, column(text, line));
        layer.at.insert(name.clone(), at);
        let problem = |message: String| Problem::new(file.clone(), at, name, message);
        if name == "baseline" {
            layer.baseline =
                crate::baseline::parse_table(value, &mut |m| problems.push(problem(m)));
            continue;
        }
        // A quoted `"baseline.count"` is not the [baseline] table's key.
        let key = keys::get(name).filter(|_| !name.contains('.'));
        match key {
            None => {
                let known = keys::toml_keys(floor);
                let p = problem("unknown key".into());
                problems.push(match keys::did_you_mean(name, &known) {
                    Some(k) => p.with_hint(format!("did you mean `{k}`?")),
                    None => p.with_hint(format!("expected one of {}", known.join(", "))),
                });
            }
            Some(k) if k.governs == Governs::FloorOnly && !floor => problems.push(
                problem("only the policy floor sets this key".into())
                    .with_hint("move it to the CI owner's floor (--policy-floor)"),
            ),
            Some(k) if k.kind == Kind::Ignores => {
                let Some(rules) = value.as_array() else {
                    problems.push(problem("must be a list of [[ignore]] tables".into()));
                    continue;
                };
                for (n, rule) in rules.iter().enumerate() {
                    let line = key_line(text, "ignore", n + 1);
                    let at = (line, column(text, line));
                    match field::<RawIgnore>(rule) {
                        Ok(mut r) => {
                            r.at = at;
                            layer.ignore.push(r);
                        }
                        Err(m) => problems.push(Problem::new(file.clone(), at, "ignore", m)),
                    }
                }
            }
            Some(k) => match keys::parse_toml(k, value) {
                Ok(v) => {
                    if let (Kind::Filters, Value::List(names)) = (k.kind, &v) {
                        problems.extend(unknown_filters(names).map(&problem));
                    }
                    layer.set(k, v);
                }
                Err(m) => problems.push(problem(m)),
            },
        }
    }
    problems.extend(validate_layer(&layer, &Source::File(path.to_path_buf())));
    if !problems.is_empty() {
        return Err(problems_error(&file, problems));
    }
    Ok(layer)
}

/// One message per name in an `allow-filters` list that names no filter.
fn unknown_filters(names: &[String]) -> impl Iterator<Item = String> + '_ {
    let known = keys::filters();
    names
        .iter()
        .filter(move |n| !known.contains(&n.as_str()))
        .map(|n| {
            let known = keys::filters();
            let hint = keys::did_you_mean(n, &known)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            format!(
                "unknown filter '{n}'{hint} (expected one of {})",
                known.join(", ")
            )
        })
}

/// One usage error for the problems of `what` (a file, or the policy as a whole): the one
/// problem on the error line, or a count there and each problem on its own line below it.
fn problems_error(what: &str, problems: Vec<Problem>) -> Error {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    match lines.as_slice() {
        [one] if what.is_empty() => Error::usage(format!("invalid policy: {one}")),
        [one] => Error::usage(format!("invalid policy file {one}")),
        _ if what.is_empty() => Error::usage(format!(
            "invalid policy: {} problems, one per line below",
            lines.len()
        ))
        .with_details(lines),
        _ => Error::usage(format!(
            "invalid policy file {what}: {} problems, one per line below",
            lines.len()
        ))
        .with_details(lines),
    }
}

/// Deserialize one value into `T`, or serde's message.
fn field<T: DeserializeOwned>(value: &toml::Value) -> std::result::Result<T, String> {
    value
        .clone()
        .try_into::<T>()
        .map_err(|e| e.message().trim().to_string())
}

/// The 1-based column where the text of 1-based `line` starts (after indentation).
fn column(text: &str, line: usize) -> usize {
    text.lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.len() - l.trim_start().len() + 1)
        .unwrap_or(0)
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
fn syntax_error(e: &toml::de::Error, text: &str, path: &Path) -> Problem {
    let at = match e.span() {
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
    Problem::new(
        path.display().to_string(),
        at,
        "",
        e.message().trim().to_string(),
    )
}

/// The problems of one layer that do not depend on the others (ranges, ignore rules).
fn validate_layer(layer: &PolicyLayer, src: &Source) -> Vec<Problem> {
    let mut problems = Vec::new();
    let at = |key: &str| layer.at.get(key).copied().unwrap_or((0, 0));
    for key in keys::TABLE {
        if let (Kind::Score { max }, Some(Value::Score(v))) = (key.kind, layer.get(key.name)) {
            if !(0.0..=max).contains(v) {
                problems.push(Problem::of(
                    src,
                    at(key.name),
                    key.name,
                    format!("{v} must be between 0 and {max}"),
                ));
            }
        }
    }
    for raw in &layer.ignore {
        let problem = |m: String| Problem::of(src, raw.at, "ignore", m);
        let id = raw.id.trim();
        if id.is_empty() {
            problems.push(problem("rule with an empty id".into()));
            continue;
        }
        if raw.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            problems.push(
                problem(format!(
                    "rule {id} has no reason: every accepted risk needs one"
                ))
                .with_hint("add reason = \"...\""),
            );
        }
        if let Some(Err(m)) = raw.expires.as_ref().map(RawDate::parse) {
            problems.push(problem(format!("rule {id}: expires {m}")));
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

/// Read the VEX documents `layer`'s `vex` key names into `layer.vex`; a relative path is
/// taken from `base` (the policy file's directory; the working directory for env and flags).
/// A missing, oversized or malformed document is a usage error (exit 2).
pub fn load_vex(layer: &mut PolicyLayer, base: &Path) -> Result<()> {
    if let Some(Value::List(files)) = layer.get("vex").cloned() {
        for f in files {
            let statements = super::vex::load(&base.join(f))?;
            layer.vex.extend(statements);
        }
    }
    Ok(())
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

/// The layer that sets exactly `policy` — every maximum, filter, choice, ignore rule and
/// `[baseline]` mode — as a repository's policy file would write it.
pub fn layer_of(policy: &Policy) -> PolicyLayer {
    let mut layer = PolicyLayer::default();
    for (sev, n) in &policy.max {
        layer.set(keys::max_key(*sev), Value::Count(*n));
    }
    let mut set = |name: &str, v: Value| {
        if let Some(k) = keys::get(name) {
            layer.set(k, v);
        }
    };
    set("ignore-unfixed", Value::Bool(policy.ignore_unfixed));
    set(
        "exploit-available-only",
        Value::Bool(policy.exploit_available_only),
    );
    if let Some(s) = policy.min_epss {
        set("min-epss", Value::Score(s));
    }
    if let Some(s) = policy.min_inspector_score {
        set("min-inspector-score", Value::Score(s));
    }
    let words = [
        (
            "unmatched-ignore",
            serde_json::to_value(policy.unmatched_ignore),
        ),
        ("suppressed", serde_json::to_value(policy.suppressed)),
        ("scan-unread", serde_json::to_value(policy.scan_unread)),
    ];
    for (name, word) in words {
        let word = word.ok().and_then(|w| w.as_str().map(str::to_string));
        let choice =
            keys::get(name).and_then(|k| k.choices().iter().find(|c| Some(**c) == word.as_deref()));
        if let Some(c) = choice {
            set(name, Value::Choice(c));
        }
    }
    layer.ignore = policy
        .ignores
        .iter()
        .map(|r| RawIgnore {
            id: r.id.clone(),
            reason: Some(r.reason.clone()),
            expires: r.expires.map(|d| RawDate::Text(d.to_string())),
            package: r.package.clone(),
            repository: r.repository.clone(),
            at: (0, 0),
        })
        .collect();
    layer.baseline = Some(BaselineLayer {
        count: Some(policy.baseline.count),
        per_severity: policy.baseline.per_severity.clone(),
    });
    layer.vex = policy.vex.clone();
    layer
}

/// Where `policy` (an effective policy, e.g. an attested one) is looser than `floor` lets a
/// repository's policy file be, one line each; empty when it is at least as strict. The policy
/// is held to the floor as the gate holds a policy file (`resolve_with`, with the floor's
/// `allow-filters`, `allow-ignore` and `max-ignore-days` from `today`), plus every maximum the
/// floor sets that the policy leaves unlimited. The floor's own ignore rules are the floor's.
pub fn looser_than_floor(policy: &Policy, floor: &Floor, today: Date) -> Result<Vec<String>> {
    let mut layer = layer_of(policy);
    let floor_rule = |r: &RawIgnore| {
        floor.layer.ignore.iter().any(|f| {
            f.id.trim().eq_ignore_ascii_case(r.id.trim())
                && f.package == r.package
                && f.repository == r.repository
        })
    };
    layer.ignore.retain(|r| !floor_rule(r));
    let src = Source::File(PathBuf::from("attested policy"));
    let resolved = resolve_with(Some(floor), &[(layer, src)], today)?;
    let mut looser = resolved.warnings;
    for (sev, max) in &resolved.policy.max {
        if !policy.max.contains_key(sev) {
            looser.push(format!(
                "max-{} is unlimited, the floor ({}) sets {max}",
                sev.as_str().to_lowercase(),
                floor.origin
            ));
        }
    }
    Ok(looser)
}

/// The maxima a layer sets explicitly, in `Severity::ALL` order with their keys.
fn explicit_max(
    layer: &PolicyLayer,
) -> impl Iterator<Item = (Severity, &'static Key, Option<u64>)> + '_ {
    keys::TABLE
        .iter()
        .filter_map(move |k| match (k.kind, layer.get(k.name)) {
            (Kind::Max(sev), Some(Value::Count(v))) => Some((sev, k, Some(*v))),
            (Kind::Max(sev), _) => Some((sev, k, None)),
            _ => None,
        })
}

/// A layer's `fail-on`, if it sets one.
fn fail_on(layer: &PolicyLayer) -> Option<Severity> {
    match layer.get("fail-on") {
        Some(Value::Severity(s)) => Some(*s),
        _ => None,
    }
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
        .find(|(s, _, _)| *s == sev)
        .and_then(|(_, _, v)| v)
        .or_else(|| {
            fail_on(&floor.layer)
                .filter(|l| fail_on_covers(*l, sev))
                .map(|_| 0)
        })
}

/// Merge `floor` (if any) and `layers` (in increasing precedence) into a `Policy`.
///
/// Per severity, the maximum is decided by the highest layer that speaks about it: a layer's
/// `fail-on` sets 0 for its ladder, an explicit `max-*` from the same or a higher layer refines
/// it, so a flag `--fail-on HIGH` beats a file's `max-critical = 1000000`. Every other key is
/// decided by the highest layer that sets it. With a floor, each key the floor governs
/// (`keys::Governs`) may only move the stricter way (`keys::Stricter`) from the floor's value:
/// a looser one is replaced by the floor's, with one warning per key. When no layer sets any
/// threshold, the built-in default `fail-on = BUILTIN_FAIL_ON` applies. `today` caps ignore
/// expiries (`max-ignore-days`).
pub fn resolve_with(
    floor: Option<&Floor>,
    layers: &[(PolicyLayer, Source)],
    today: Date,
) -> Result<Resolved> {
    let all: Vec<(&PolicyLayer, Source)> = floor
        .map(|f| (&f.layer, Source::Floor(f.origin.clone())))
        .into_iter()
        .chain(layers.iter().map(|(l, s)| (l, s.clone())))
        .collect();
    let mut problems: Vec<Problem> = all
        .iter()
        .flat_map(|(layer, src)| validate_layer(layer, src))
        .collect();
    let mut out = Resolution::default();
    out.maxima(floor, &all);
    out.settings(floor, &all);
    out.baseline(floor, &all);
    out.ignores(floor, &all, today, &mut problems);
    out.vex(floor, &all, today);
    let builtin_default = out.policy.max.is_empty();
    if builtin_default {
        out.builtin_default();
    }
    if !problems.is_empty() {
        return Err(problems_error("", problems));
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
        allow_soft_fail: floor.is_none_or(|f| f.permits.allow_soft_fail),
        builtin_default,
    })
}

/// The policy being resolved, which layer decided each key, and the floor's warnings.
#[derive(Default)]
struct Resolution {
    policy: Policy,
    origins: BTreeMap<String, (String, Source)>,
    warnings: Vec<String>,
}

/// Does the floor bound the value of `key` that `src` decided?
fn bounded(key: &Key, src: &Source, floor: &Floor) -> bool {
    match key.governs {
        Governs::File { filter } => {
            matches!(src, Source::File(_))
                && !filter.is_some_and(|f| floor.permits.allow_filters.iter().any(|a| a == f))
        }
        Governs::Locked => src.rank() > Source::Floor(String::new()).rank(),
        Governs::FloorOnly => false,
    }
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
        let mut level: Option<(Severity, Source)> = None;
        for (layer, src) in all {
            if let Some(l) = fail_on(layer) {
                for sev in Severity::ALL.into_iter().filter(|s| fail_on_covers(l, *s)) {
                    consider(sev, 0, src, false);
                }
                level = Some((l, src.clone()));
            }
            for (sev, _, v) in explicit_max(layer) {
                if let Some(v) = v {
                    consider(sev, v, src, true);
                }
            }
        }
        if let Some((l, src)) = &level {
            self.origins
                .insert("fail-on".into(), (l.to_string(), src.clone()));
        }
        for (sev, key, _) in explicit_max(&PolicyLayer::default()) {
            let Some((mut v, mut src, _)) = decided.get(&sev).cloned() else {
                continue;
            };
            if let Some(f) = floor.filter(|f| bounded(key, &src, f)) {
                let bound = floor_max(f, sev).map(Value::Count);
                if let (true, Some(Value::Count(fv))) =
                    (key.looser(&Value::Count(v), bound.as_ref()), bound)
                {
                    self.warnings.push(format!(
                        "{src}: {} = {v} is looser than the policy floor ({fv} from {}): applying {fv}",
                        key.name, f.origin
                    ));
                    v = fv;
                    src = Source::Floor(f.origin.clone());
                }
            }
            self.policy.max.insert(sev, v);
            self.origins
                .insert(key.name.to_string(), (v.to_string(), src));
        }
    }

    /// Every key the table applies directly (`Apply::Policy`, `Apply::Permits`): the highest
    /// layer that sets it decides; a value the floor bounds that is looser than the floor's
    /// (or, when the floor is silent, than the key's default) is replaced by that bound.
    fn settings(&mut self, floor: Option<&Floor>, all: &[(&PolicyLayer, Source)]) {
        for key in keys::TABLE {
            if matches!(key.apply, Apply::Resolution) {
                continue;
            }
            let mut decided: Option<(Value, Source)> = None;
            for (layer, src) in all {
                let floor_only = key.governs == Governs::FloorOnly;
                if floor_only && !matches!(src, Source::Floor(_)) {
                    continue;
                }
                if let Some(v) = layer.get(key.name) {
                    decided = Some((v.clone(), src.clone()));
                }
            }
            if let (Some(f), Some((v, src))) = (floor, &decided) {
                if bounded(key, src, f) {
                    let bound = f
                        .layer
                        .get(key.name)
                        .cloned()
                        .or_else(|| key.default_value());
                    if key.looser(v, bound.as_ref()) {
                        let shown = bound
                            .as_ref()
                            .map_or_else(|| key.default.to_string(), ToString::to_string);
                        self.warnings.push(format!(
                            "{src}: {} = {v} loosens the policy floor ({}), which does not allow it: applying {shown}",
                            key.name, f.origin
                        ));
                        decided = bound.map(|b| (b, Source::Floor(f.origin.clone())));
                    }
                }
            }
            let Some((v, src)) = decided else { continue };
            if let Apply::Policy(apply) = key.apply {
                apply(&mut self.policy, &v);
            }
            // Floor permits are read from the floor itself (Floor::permits); shown here.
            self.origins
                .insert(key.name.to_string(), (v.to_string(), src));
        }
    }

    /// The `[baseline]` table: `count` and each `count-<severity>`, the highest layer
    /// deciding. "new" counts fewer findings than "all": where the floor says "all" for a
    /// severity, the repository's file may not switch that severity to "new" (unless the
    /// floor's `allow-filters` holds `baseline`).
    fn baseline(&mut self, floor: Option<&Floor>, all: &[(&PolicyLayer, Source)]) {
        let mut count: Option<(CountMode, Source)> = None;
        let mut per_sev: BTreeMap<Severity, (CountMode, Source)> = BTreeMap::new();
        for (layer, src) in all {
            let Some(b) = &layer.baseline else { continue };
            if let Some(c) = b.count {
                count = Some((c, src.clone()));
            }
            for (sev, m) in &b.per_severity {
                per_sev.insert(*sev, (*m, src.clone()));
            }
        }
        if let Some(f) = floor {
            let fb = f.layer.baseline.clone().unwrap_or_default();
            let word = |m: CountMode| Value::Choice(mode_word(m));
            let floor_src = || Source::Floor(f.origin.clone());
            let mut refuse = |name: &str, src: &Source, mode: CountMode, floor_mode: CountMode| {
                self.warnings.push(format!(
                    "{src}: {name} = \"{}\" loosens the policy floor ({}), which does not allow it: applying \"{}\"",
                    mode_word(mode),
                    f.origin,
                    mode_word(floor_mode)
                ));
            };
            // The table-wide count first (one warning for it), then each severity.
            if let (Some(key), Some((mode, src)), Some(floor_mode)) =
                (keys::get("baseline.count"), count.clone(), fb.count)
            {
                if bounded(key, &src, f) && key.looser(&word(mode), Some(&word(floor_mode))) {
                    refuse(key.name, &src, mode, floor_mode);
                    count = Some((floor_mode, floor_src()));
                }
            }
            if let Some(key) = keys::get("baseline.count-<severity>") {
                for sev in Severity::ALL {
                    let Some(floor_mode) = fb.per_severity.get(&sev).copied().or(fb.count) else {
                        continue;
                    };
                    let Some((mode, src)) = per_sev.get(&sev).or(count.as_ref()).cloned() else {
                        continue;
                    };
                    if bounded(key, &src, f) && key.looser(&word(mode), Some(&word(floor_mode))) {
                        let name = format!("baseline.count-{}", sev.as_str().to_lowercase());
                        refuse(&name, &src, mode, floor_mode);
                        per_sev.insert(sev, (floor_mode, floor_src()));
                    }
                }
            }
        }
        if let Some((c, src)) = count {
            self.policy.baseline.count = c;
            self.origins
                .insert("baseline.count".into(), (mode_word(c).into(), src));
        }
        for (sev, (m, src)) in per_sev {
            self.policy.baseline.per_severity.insert(sev, m);
            let name = format!("baseline.count-{}", sev.as_str().to_lowercase());
            self.origins.insert(name, (mode_word(m).into(), src));
        }
    }

    /// The ignore rules, in layer order: the floor's `allow-ignore` and `max-ignore-days`
    /// govern the policy file's; a rule listed twice with the same scope is a problem.
    fn ignores(
        &mut self,
        floor: Option<&Floor>,
        all: &[(&PolicyLayer, Source)],
        today: Date,
        problems: &mut Vec<Problem>,
    ) {
        let mut seen = HashSet::new();
        for (layer, src) in all {
            for raw in &layer.ignore {
                self.ignore(floor, raw, src, today, &mut seen, problems);
            }
        }
    }

    fn ignore(
        &mut self,
        floor: Option<&Floor>,
        raw: &RawIgnore,
        src: &Source,
        today: Date,
        seen: &mut HashSet<(String, Option<String>, Option<String>)>,
        problems: &mut Vec<Problem>,
    ) {
        let id = raw.id.trim().to_string();
        // Empty ids, missing reasons and bad dates were reported by validate_layer.
        let reason = raw.reason.as_deref().map(str::trim).unwrap_or_default();
        let mut expires = match raw.expires.as_ref().map(RawDate::parse) {
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => return,
            None => None,
        };
        if id.is_empty() || reason.is_empty() {
            return;
        }
        if let (Some(f), Source::File(p)) = (floor, src) {
            let at = match raw.at.0 {
                0 => src.to_string(),
                line => format!("{}:{line}", p.display()),
            };
            if !f.permits.allow_ignore.iter().any(|p| id_matches(p, &id)) {
                self.warnings.push(format!(
                    "{at}: ignore {id} is not allowed by the policy floor ({}; see allow-ignore): not applied",
                    f.origin
                ));
                return;
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
        let scope = (
            id.to_ascii_uppercase(),
            raw.package.clone(),
            raw.repository.clone(),
        );
        if !seen.insert(scope) {
            problems.push(
                Problem::of(
                    src,
                    raw.at,
                    "ignore",
                    format!("rule {id} is listed twice with the same scope"),
                )
                .with_hint("keep one"),
            );
            return;
        }
        self.origins
            .insert(format!("ignore {id}"), (reason.to_string(), src.clone()));
        self.policy.ignores.push(IgnoreRule {
            id,
            reason: reason.to_string(),
            expires,
            package: raw.package.clone(),
            repository: raw.repository.clone(),
            vex: None,
        });
    }

    /// The VEX statements of every layer, in layer order. With a floor, a statement that
    /// ignores (`not_affected`, `fixed`) applies only when the floor's `allow-vex` names its
    /// document's author and its `allow-ignore` its vulnerability ids (ids it does not name
    /// are dropped), whichever layer named the document: the statements are the document's
    /// words, not the CI step's. `max-ignore-days` caps them as it caps ignore rules.
    /// `affected` and `under_investigation` statements only ever cancel, so they always apply.
    fn vex(&mut self, floor: Option<&Floor>, all: &[(&PolicyLayer, Source)], today: Date) {
        for (layer, src) in all {
            if let Some(files) = layer.get("vex") {
                self.origins
                    .insert("vex".into(), (files.to_string(), src.clone()));
            }
            for st in &layer.vex {
                let mut st = st.clone();
                if let Some(f) = floor.filter(|_| st.status.ignores()) {
                    if !self.vex_permitted(f, src, &mut st, today) {
                        continue;
                    }
                }
                self.policy.vex.push(st);
            }
        }
    }

    /// Whether the floor lets `st` ignore, narrowing its ids and capping its expiry; one
    /// warning for what it refuses.
    fn vex_permitted(
        &mut self,
        f: &Floor,
        src: &Source,
        st: &mut super::vex::Statement,
        today: Date,
    ) -> bool {
        let what = format!(
            "{src}: VEX {} {} by {} ({})",
            st.status.as_str(),
            st.vulnerability,
            st.author,
            st.document
        );
        if !f
            .permits
            .allow_vex
            .iter()
            .any(|p| id_matches(p, &st.author))
        {
            self.warnings.push(format!(
                "{what}: this author's VEX statements are not allowed by the policy floor ({}; see allow-vex): not applied",
                f.origin
            ));
            return false;
        }
        let (allowed, refused): (Vec<String>, Vec<String>) = st
            .ids
            .iter()
            .cloned()
            .partition(|id| f.permits.allow_ignore.iter().any(|p| id_matches(p, id)));
        if allowed.is_empty() {
            self.warnings.push(format!(
                "{what}: ignoring {} is not allowed by the policy floor ({}; see allow-ignore): not applied",
                refused.join(", "),
                f.origin
            ));
            return false;
        }
        if !refused.is_empty() {
            self.warnings.push(format!(
                "{what}: ignoring {} is not allowed by the policy floor ({}; see allow-ignore): applied to {} only",
                refused.join(", "),
                f.origin,
                allowed.join(", ")
            ));
        }
        st.ids = allowed;
        if let Some(days) = f.permits.max_ignore_days {
            let cap = today.saturating_add(time::Duration::days(i64::from(days)));
            // A statement has no expiry of its own; one that carries a later one (an attested
            // policy's) is looser than the floor.
            if let Some(e) = st.expires.filter(|e| *e > cap) {
                self.warnings.push(format!(
                    "{what}: expires {e} — later than the policy floor allows ({days} days, {}): expires {cap}",
                    f.origin
                ));
            }
            st.expires = Some(st.expires.map_or(cap, |e| e.min(cap)));
        }
        true
    }

    /// No layer set a threshold: `fail-on = BUILTIN_FAIL_ON`, shown as the `default` layer.
    fn builtin_default(&mut self) {
        self.policy.apply_fail_on(BUILTIN_FAIL_ON);
        self.origins.insert(
            "fail-on".into(),
            (BUILTIN_FAIL_ON.to_string(), Source::Default),
        );
        for (sev, v) in &self.policy.max {
            let name = format!("max-{}", sev.as_str().to_lowercase());
            self.origins.insert(name, (v.to_string(), Source::Default));
        }
    }
}

fn mode_word(m: CountMode) -> &'static str {
    match m {
        CountMode::New => "new",
        CountMode::All => "all",
    }
}

/// The commented policy file written by `inspector-gate init`.
pub const TEMPLATE: &str = include_str!("template.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn p(text: &str) -> Result<PolicyLayer> {
        parse(text, Path::new("policy.toml"))
    }

    /// Every line of an error: the error line and the problems listed below it.
    fn all_lines(e: &Error) -> String {
        std::iter::once(e.message.clone())
            .chain(e.details.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn baseline_table_sets_count_modes() {
        let l = p("max-high = 0\n[baseline]\ncount = \"new\"\ncount-critical = \"all\"\n").unwrap();
        let r = resolve(&[(l, Source::File("policy.toml".into()))]).unwrap();
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

    /// The keys a layer sets, by table name.
    fn keys_set(layer: &PolicyLayer) -> BTreeSet<&'static str> {
        let mut set: BTreeSet<&'static str> = keys::TABLE
            .iter()
            .filter(|k| layer.get(k.name).is_some())
            .map(|k| k.name)
            .collect();
        if !layer.ignore.is_empty() {
            set.insert("ignore");
        }
        if let Some(b) = &layer.baseline {
            if b.count.is_some() {
                set.insert("baseline.count");
            }
            if !b.per_severity.is_empty() {
                set.insert("baseline.count-<severity>");
            }
        }
        set
    }

    #[test]
    fn the_parser_accepts_exactly_the_tables_keys() {
        for k in keys::TABLE {
            let text = match k.name.split_once('.') {
                Some((table, _)) if k.kind == Kind::PerSeverity => {
                    format!("[{table}]\ncount-high = {}\n", k.example)
                }
                Some((table, key)) => format!("[{table}]\n{key} = {}\n", k.example),
                None if k.kind == Kind::Ignores => format!("{} = {}\n", k.name, k.example),
                None => format!("{} = {}\n", k.name, k.example),
            };
            let floor_only = k.governs == Governs::FloorOnly;
            let layer = if floor_only {
                assert!(p(&text).is_err(), "{k:?} is refused in a repository file");
                parse_floor(&text, "floor.toml").unwrap().layer
            } else {
                p(&text).unwrap_or_else(|e| panic!("{k:?}: {e}"))
            };
            assert_eq!(keys_set(&layer), BTreeSet::from([k.name]), "{text}");
        }
        // ... and nothing else: the top-level keys are the table's.
        let e = p("colour = \"red\"\n").unwrap_err();
        assert!(e.message.contains("colour: unknown key"), "{e}");
        let e = p("\"baseline.count\" = \"all\"\n").unwrap_err();
        assert!(e.message.contains("unknown key"), "{e}");
        // The [baseline] table's own parser holds the table's two baseline keys.
        let table: Vec<String> = crate::baseline::table_keys();
        assert_eq!(table[0], "count");
        assert!(table[1..]
            .iter()
            .all(|k| keys::get(&format!("baseline.{k}")).map(|k| k.name)
                == Some("baseline.count-<severity>")));
    }

    #[test]
    fn the_init_template_names_every_repository_key() {
        // Uncomment every example (`# key = value`, `# [table]`): the result must parse and
        // hold every key of the table a repository's file may set, and no other.
        let uncommented: String = TEMPLATE
            .lines()
            .map(|l| {
                let rest = l.strip_prefix("# ").unwrap_or(l);
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                let is_example = rest.starts_with('[')
                    || (!word.is_empty() && rest[word.len()..].trim_start().starts_with('='));
                if is_example {
                    rest.to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let layer = p(&uncommented).unwrap_or_else(|e| panic!("{}\n{uncommented}", all_lines(&e)));
        let want: BTreeSet<&str> = keys::TABLE
            .iter()
            .filter(|k| k.governs != Governs::FloorOnly)
            .map(|k| k.name)
            .collect();
        assert_eq!(keys_set(&layer), want);
    }

    #[test]
    fn unknown_key_names_file_line_and_key_and_the_key_meant() {
        let e = p("max-critical = 0\nmax-hihg = 1\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.message,
            "invalid policy file policy.toml:2:1: max-hihg: unknown key; did you mean `max-high`?"
        );
        let e = p("  fail-onn = \"HIGH\"\n").unwrap_err();
        assert!(
            e.message
                .ends_with("policy.toml:1:3: fail-onn: unknown key; did you mean `fail-on`?"),
            "{e}"
        );
        let e = p("colour = 1\n").unwrap_err();
        assert!(
            e.message.contains("expected one of fail-on, max-critical"),
            "{e}"
        );
        let e = p("allow-soft-fail = false\n").unwrap_err();
        assert!(
            e.message
                .contains("allow-soft-fail: only the policy floor sets this key; move it"),
            "{e}"
        );
    }

    #[test]
    fn every_problem_is_reported_one_per_line() {
        let text = "max-hihg = 1\nmax-high = \"five\"\nmin-epss = 3.0\n\n[[ignore]]\nid = \"CVE-1\"\n\n[[ignore]]\nid = \"CVE-2\"\nreason = \"x\"\nexpires = \"2026-13-01\"\n";
        let e = p(text).unwrap_err();
        assert_eq!(
            e.message,
            "invalid policy file policy.toml: 5 problems, one per line below"
        );
        assert_eq!(e.details.len(), 5, "{:#?}", e.details);
        for want in [
            "policy.toml:1:1: max-hihg: unknown key; did you mean `max-high`?",
            "policy.toml:2:1: max-high: invalid type: string \"five\", expected u64",
            "policy.toml:3:1: min-epss: 3 must be between 0 and 1",
            "policy.toml:5:1: ignore: rule CVE-1 has no reason: every accepted risk needs one; add reason = \"...\"",
            "policy.toml:8:1: ignore: rule CVE-2: expires '2026-13-01' is not a valid date (use YYYY-MM-DD)",
        ] {
            assert!(e.details.iter().any(|d| d == want), "{want}: {:#?}", e.details);
        }
        assert_eq!(e.to_string().lines().count(), 1);
    }

    #[test]
    fn problems_are_structured() {
        let layer = PolicyLayer::default().with("min-epss", Value::Score(2.0));
        let problems = validate_layer(&layer, &Source::Flag("--min-epss".into()));
        assert_eq!(
            problems,
            [Problem {
                file: "flag --min-epss".into(),
                line: 0,
                col: 0,
                key: "min-epss".into(),
                message: "2 must be between 0 and 1".into(),
                hint: None,
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "flag --min-epss: min-epss: 2 must be between 0 and 1"
        );
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
        let e = p("suppressed = \"ignore\"\n").unwrap_err();
        assert!(
            e.message
                .contains("suppressed: unknown variant `ignore`, expected one of `count`, `honor`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn ignore_rules_need_reason_valid_date_and_no_duplicates() {
        let e = p("[[ignore]]\nid = \"CVE-1\"\n").unwrap_err();
        assert!(
            e.message
                .contains("policy.toml:1:1: ignore: rule CVE-1 has no reason"),
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
                .contains("policy.toml:4:1: ignore: rule cve-1 is listed twice"),
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
        let env = PolicyLayer::default().with("max-medium", Value::Count(5));
        let flags = PolicyLayer::default().with("max-high", Value::Count(2));
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
        assert!(!r.builtin_default);
    }

    #[test]
    fn a_flag_fail_on_beats_a_file_maximum() {
        // The repro: the file's max-critical = 1000000 used to beat --fail-on HIGH.
        let file = p("max-critical = 1000000\nmax-high = 7\nmax-medium = 3\n").unwrap();
        let flags = PolicyLayer::default().with("fail-on", Value::Severity(Severity::High));
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
        let env = PolicyLayer::default().with("max-critical", Value::Count(1));
        let r = resolve(&[
            (file, Source::File("f.toml".into())),
            (env, Source::Env("INSPECTOR_GATE_MAX_CRITICAL".into())),
        ])
        .unwrap();
        assert_eq!(r.policy.max.get(&Severity::High), Some(&2));
        assert_eq!(r.policy.max.get(&Severity::Critical), Some(&1));
    }

    #[test]
    fn no_threshold_anywhere_means_the_built_in_fail_on_high() {
        let r = resolve(&[]).unwrap();
        assert!(r.builtin_default);
        assert_eq!(
            r.policy.max,
            BTreeMap::from([(Severity::Critical, 0), (Severity::High, 0)])
        );
        for key in ["fail-on", "max-critical", "max-high"] {
            let o = r.origins.iter().find(|o| o.0 == key).unwrap();
            assert_eq!(o.2, Source::Default, "{key}");
        }
        // Filters alone set no threshold: the default still applies.
        let file = p("ignore-unfixed = true\n").unwrap();
        let r = resolve(&[(file, Source::File("f.toml".into()))]).unwrap();
        assert!(r.builtin_default && r.policy.ignore_unfixed);
        // Any threshold from any layer replaces it: a lone maximum, or the floor's.
        let flag = PolicyLayer::default().with("max-medium", Value::Count(4));
        let r = resolve(&[(flag, Source::Flag("--max-medium".into()))]).unwrap();
        assert!(!r.builtin_default);
        assert_eq!(r.policy.max, BTreeMap::from([(Severity::Medium, 4)]));
        let f = floor("max-critical = 2\n");
        let r = resolve_with(Some(&f), &[], TODAY).unwrap();
        assert!(!r.builtin_default);
        assert_eq!(r.policy.max, BTreeMap::from([(Severity::Critical, 2)]));
    }

    fn floor(text: &str) -> Floor {
        parse_floor(text, "floor.toml").unwrap()
    }

    const TODAY: Date = time::macros::date!(2026 - 11 - 28);

    /// One key's clamp in both directions: `kept` is (floor, file) where the file is at least
    /// as strict as the floor, `held` where it is looser.
    struct Clamp {
        key: &'static str,
        kept: (&'static str, &'static str),
        held: (&'static str, &'static str),
    }

    const CLAMPS: &[Clamp] = &[
        Clamp {
            key: "fail-on",
            kept: ("fail-on = \"HIGH\"\n", "fail-on = \"MEDIUM\"\n"),
            // A file fail-on only adds maxima of 0: the floor's HIGH = 0 still holds.
            held: ("fail-on = \"HIGH\"\n", "fail-on = \"CRITICAL\"\n"),
        },
        Clamp {
            key: "max-critical",
            kept: ("max-critical = 5\n", "max-critical = 2\n"),
            held: ("max-critical = 5\n", "max-critical = 9\n"),
        },
        Clamp {
            key: "max-high",
            kept: ("max-high = 5\n", "max-high = 2\n"),
            held: ("fail-on = \"HIGH\"\n", "max-high = 3\n"),
        },
        Clamp {
            key: "max-medium",
            kept: ("max-medium = 5\n", "max-medium = 2\n"),
            held: ("max-medium = 5\n", "max-medium = 9\n"),
        },
        Clamp {
            key: "max-low",
            kept: ("max-low = 5\n", "max-low = 2\n"),
            held: ("max-low = 5\n", "max-low = 9\n"),
        },
        Clamp {
            key: "max-informational",
            kept: ("max-informational = 5\n", "max-informational = 2\n"),
            held: ("max-informational = 5\n", "max-informational = 9\n"),
        },
        Clamp {
            key: "max-untriaged",
            kept: ("max-untriaged = 5\n", "max-untriaged = 0\n"),
            held: ("max-untriaged = 5\n", "max-untriaged = 6\n"),
        },
        Clamp {
            key: "ignore-unfixed",
            kept: ("ignore-unfixed = true\n", "ignore-unfixed = false\n"),
            held: ("ignore-unfixed = false\n", "ignore-unfixed = true\n"),
        },
        Clamp {
            key: "min-epss",
            // A lower minimum counts more findings: the file may lower the floor's, never raise it.
            kept: ("min-epss = 0.3\n", "min-epss = 0.1\n"),
            held: ("min-epss = 0.3\n", "min-epss = 0.5\n"),
        },
        Clamp {
            key: "min-inspector-score",
            kept: ("min-inspector-score = 7.0\n", "min-inspector-score = 4.5\n"),
            held: ("min-inspector-score = 7.0\n", "min-inspector-score = 9.0\n"),
        },
        Clamp {
            key: "exploit-available-only",
            kept: (
                "exploit-available-only = true\n",
                "exploit-available-only = false\n",
            ),
            held: ("max-low = 1\n", "exploit-available-only = true\n"),
        },
        Clamp {
            key: "unmatched-ignore",
            kept: (
                "unmatched-ignore = \"warn\"\n",
                "unmatched-ignore = \"fail\"\n",
            ),
            held: (
                "unmatched-ignore = \"fail\"\n",
                "unmatched-ignore = \"warn\"\n",
            ),
        },
        Clamp {
            key: "suppressed",
            kept: ("suppressed = \"honor\"\n", "suppressed = \"count\"\n"),
            held: ("suppressed = \"count\"\n", "suppressed = \"honor\"\n"),
        },
        Clamp {
            key: "scan-unread",
            kept: ("scan-unread = \"warn\"\n", "scan-unread = \"fail\"\n"),
            held: ("scan-unread = \"fail\"\n", "scan-unread = \"warn\"\n"),
        },
        Clamp {
            key: "ignore",
            kept: (
                "allow-ignore = [\"CVE-1\"]\nmax-ignore-days = 30\n",
                "[[ignore]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = 2026-12-01\n",
            ),
            held: (
                "allow-ignore = [\"CVE-1\"]\n",
                "[[ignore]]\nid = \"CVE-2\"\nreason = \"r\"\n",
            ),
        },
        Clamp {
            key: "baseline.count",
            kept: (
                "[baseline]\ncount-critical = \"all\"\n",
                "[baseline]\ncount = \"all\"\n",
            ),
            held: (
                "[baseline]\ncount = \"all\"\n",
                "[baseline]\ncount = \"new\"\n",
            ),
        },
        Clamp {
            key: "baseline.count-<severity>",
            kept: (
                "[baseline]\ncount-critical = \"all\"\n",
                "[baseline]\ncount-high = \"all\"\n",
            ),
            held: (
                "[baseline]\ncount-critical = \"all\"\n",
                "[baseline]\ncount-critical = \"new\"\n",
            ),
        },
    ];

    fn with_floor(f: &str, layer: PolicyLayer, src: Source) -> Resolved {
        resolve_with(Some(&floor(f)), &[(layer, src)], TODAY).unwrap()
    }

    fn json(p: &Policy) -> serde_json::Value {
        serde_json::to_value(p).unwrap()
    }

    #[test]
    fn the_floor_clamp_holds_every_key_both_ways() {
        let file = || Source::File("repo.toml".into());
        // `vex` names documents, which only `pipeline::policy` reads: its floor is held in
        // the_floor_governs_vex_statements_from_every_layer, with statements in the layer.
        for k in keys::TABLE
            .iter()
            .filter(|k| k.governs != Governs::FloorOnly && k.kind != Kind::Files)
        {
            let c = CLAMPS
                .iter()
                .find(|c| c.key == k.name)
                .unwrap_or_else(|| panic!("{k:?} has no clamp case: add one to CLAMPS"));
            let prefix = k.name.trim_end_matches("-<severity>");
            // At least as strict as the floor: the file's value is applied, silently.
            let (f, text) = c.kept;
            let alone = resolve_with(Some(&floor(f)), &[], TODAY).unwrap();
            let r = with_floor(f, p(text).unwrap(), file());
            assert!(r.warnings.is_empty(), "{}: {:?}", k.name, r.warnings);
            assert_ne!(
                json(&r.policy),
                json(&alone.policy),
                "{}: not applied",
                k.name
            );
            // Looser: the floor holds and one warning names the key.
            let (f, text) = c.held;
            let alone = resolve_with(Some(&floor(f)), &[], TODAY).unwrap();
            let r = with_floor(f, p(text).unwrap(), file());
            assert_eq!(json(&r.policy), json(&alone.policy), "{}: loosened", k.name);
            if k.stricter != keys::Stricter::ViaMaxima {
                assert_eq!(
                    r.warnings
                        .iter()
                        .filter(|w| w.contains(prefix) && w.contains("floor.toml"))
                        .count(),
                    1,
                    "{}: {:?}",
                    k.name,
                    r.warnings
                );
            }
            // The CI owner's env and flags: a locked key holds against them too; for every
            // other key they may loosen what the floor set.
            let layer = p(text).unwrap();
            for src in [
                Source::Env("INSPECTOR_GATE_X".into()),
                Source::Flag("--x".into()),
            ] {
                let r = with_floor(f, layer.clone(), src.clone());
                let held = json(&r.policy) == json(&alone.policy);
                match k.governs {
                    Governs::Locked => assert!(held, "{} from {src}: loosened", k.name),
                    _ if k.stricter == keys::Stricter::ViaMaxima => {}
                    _ => assert!(!held, "{} from {src}: the CI owner's value", k.name),
                }
            }
        }
    }

    /// A layer holding the statements of one OpenVEX document (as `load_vex` leaves it).
    fn vex_layer(author: &str, status: &str, ids: &[&str]) -> PolicyLayer {
        let extra = if status == "not_affected" {
            r#", "justification": "vulnerable_code_not_present""#
        } else {
            ""
        };
        let aliases: Vec<String> = ids[1..].iter().map(|a| format!("\"{a}\"")).collect();
        let doc = format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://openvex.dev/docs/example/vex-1",
              "author": "{author}", "timestamp": "2023-01-08T18:02:03Z", "version": 1,
              "statements": [{{"vulnerability": {{"name": "{}", "aliases": [{}]}},
                "products": [{{"@id": "sha256:{}"}}], "status": "{status}"{extra}}}]}}"#,
            ids[0],
            aliases.join(", "),
            "a".repeat(64)
        );
        let mut layer = PolicyLayer::default().with("vex", Value::List(vec!["d.json".into()]));
        layer.vex = super::super::vex::parse(&doc, "d.json").unwrap();
        layer
    }

    #[test]
    fn the_floor_governs_vex_statements_from_every_layer() {
        let sec = "Platform Security <security@example.com>";
        // No floor: every statement applies.
        let l = vex_layer("anyone", "not_affected", &["CVE-1"]);
        let r = resolve(&[(l, Source::File("repo.toml".into()))]).unwrap();
        assert_eq!(r.policy.vex.len(), 1);
        // A floor: the author must be in allow-vex and the id in allow-ignore, for a
        // document named by the file, the env or a flag alike; the run says why not.
        let f = format!("allow-vex = [\"{sec}\"]\nallow-ignore = [\"CVE-1\", \"GHSA-*\"]\nmax-ignore-days = 30\n");
        for src in [
            Source::File("repo.toml".into()),
            Source::Env("INSPECTOR_GATE_VEX".into()),
            Source::Flag("--vex".into()),
        ] {
            let r = with_floor(
                &f,
                vex_layer("Mallory", "not_affected", &["CVE-1"]),
                src.clone(),
            );
            assert!(r.policy.vex.is_empty(), "{src}");
            assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
            assert!(
                r.warnings[0].contains("VEX not_affected CVE-1 by Mallory")
                    && r.warnings[0].contains("see allow-vex): not applied"),
                "{:?}",
                r.warnings
            );
            let r = with_floor(&f, vex_layer(sec, "fixed", &["CVE-2"]), src.clone());
            assert!(r.policy.vex.is_empty(), "{src}");
            assert!(
                r.warnings[0].contains("ignoring CVE-2 is not allowed"),
                "{:?}",
                r.warnings
            );
            // Allowed: applied, capped at max-ignore-days; an alias the floor does not name
            // is dropped, and the run says so.
            let r = with_floor(
                &f,
                vex_layer(sec, "not_affected", &["CVE-1", "DLA-9"]),
                src.clone(),
            );
            assert_eq!(r.policy.vex.len(), 1);
            assert_eq!(r.policy.vex[0].ids, ["CVE-1"]);
            assert_eq!(
                r.policy.vex[0].expires,
                Some(time::macros::date!(2026 - 12 - 28))
            );
            assert!(
                r.warnings[0].contains("ignoring DLA-9 is not allowed"),
                "{:?}",
                r.warnings
            );
            assert!(
                r.warnings[0].ends_with("applied to CVE-1 only"),
                "{:?}",
                r.warnings
            );
        }
        // A floor without allow-vex: none applies. `affected` only cancels: it always applies.
        let r = with_floor(
            "fail-on = \"HIGH\"\n",
            vex_layer(sec, "not_affected", &["CVE-1"]),
            Source::Flag("--vex".into()),
        );
        assert!(r.policy.vex.is_empty());
        let r = with_floor(
            "fail-on = \"HIGH\"\n",
            vex_layer("x", "affected", &["CVE-1"]),
            Source::Flag("--vex".into()),
        );
        assert_eq!(r.policy.vex.len(), 1);
        // An attested policy's statements are held to the floor too (`verify`).
        let r = resolve(&[(
            vex_layer("Mallory", "not_affected", &["CVE-1"]),
            Source::Flag("--vex".into()),
        )])
        .unwrap();
        let looser = looser_than_floor(&r.policy, &floor(&f), TODAY).unwrap();
        assert_eq!(looser.len(), 1, "{looser:?}");
        assert!(looser[0].contains("see allow-vex"), "{looser:?}");
    }

    #[test]
    fn vex_paths_are_read_from_the_layers_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut layer = p("vex = [\"missing.json\"]\n").unwrap();
        let e = load_vex(&mut layer, dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("missing.json"), "{e}");
        std::fs::write(dir.path().join("missing.json"), "{}").unwrap();
        let e = load_vex(&mut layer, dir.path()).unwrap_err();
        assert!(
            e.message.contains("invalid VEX document") && e.message.contains("no @context"),
            "{e}"
        );
    }

    #[test]
    fn a_score_filter_the_floor_does_not_set_stays_off() {
        for key in ["min-epss", "min-inspector-score"] {
            let r = with_floor(
                "fail-on = \"HIGH\"\n",
                p(&format!("{key} = 0.5\n")).unwrap(),
                Source::File("repo.toml".into()),
            );
            assert_eq!(
                (r.policy.min_epss, r.policy.min_inspector_score),
                (None, None)
            );
            assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
            assert!(
                r.warnings[0].contains("applying (not set)"),
                "{:?}",
                r.warnings
            );
            // allow-filters lets the file set it.
            let r = with_floor(
                &format!("allow-filters = [\"{key}\"]\n"),
                p(&format!("{key} = 0.5\n")).unwrap(),
                Source::File("repo.toml".into()),
            );
            assert!(r.warnings.is_empty());
            assert!(r.policy.min_epss.or(r.policy.min_inspector_score) == Some(0.5));
        }
    }

    #[test]
    fn suppressed_and_scan_unread_are_locked_by_the_floor() {
        use crate::policy::{ScanUnread, Suppressed};
        // No floor: any layer may choose.
        let r = resolve(&[(
            p("suppressed = \"honor\"\nscan-unread = \"warn\"\n").unwrap(),
            Source::File("repo.toml".into()),
        )])
        .unwrap();
        assert_eq!(r.policy.suppressed, Suppressed::Honor);
        assert_eq!(r.policy.scan_unread, ScanUnread::Warn);
        // A floor silent on them bounds them at their defaults, for flags too.
        let flag = PolicyLayer::default()
            .with("suppressed", Value::Choice("honor"))
            .with("scan-unread", Value::Choice("warn"));
        let r = with_floor(
            "fail-on = \"HIGH\"\n",
            flag,
            Source::Flag("--suppressed".into()),
        );
        assert_eq!(r.policy.suppressed, Suppressed::Count);
        assert_eq!(r.policy.scan_unread, ScanUnread::Fail);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        // A floor that honors lets a layer honor, or count.
        let r = with_floor(
            "suppressed = \"honor\"\n",
            PolicyLayer::default(),
            Source::File("repo.toml".into()),
        );
        assert_eq!(r.policy.suppressed, Suppressed::Honor);
        let o = r.origins.iter().find(|o| o.0 == "suppressed").unwrap();
        assert_eq!(
            (o.1.as_str(), &o.2),
            ("honor", &Source::Floor("floor.toml".into()))
        );
    }

    #[test]
    fn allow_soft_fail_is_the_floors_alone() {
        assert!(resolve(&[]).unwrap().allow_soft_fail, "default true");
        let r = resolve_with(Some(&floor("allow-soft-fail = false\n")), &[], TODAY).unwrap();
        assert!(!r.allow_soft_fail);
        let o = r.origins.iter().find(|o| o.0 == "allow-soft-fail").unwrap();
        assert_eq!(
            (o.1.as_str(), &o.2),
            ("false", &Source::Floor("floor.toml".into()))
        );
        // A layer other than the floor cannot set it, even one built by hand.
        let l = PolicyLayer::default().with("allow-soft-fail", Value::Bool(false));
        let r = resolve(&[(l, Source::Flag("--x".into()))]).unwrap();
        assert!(r.allow_soft_fail);
    }

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
        assert_eq!(pol.unmatched_ignore, crate::policy::UnmatchedIgnore::Fail);
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
        let flags = PolicyLayer::default().with("max-critical", Value::Count(9));
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
        let e =
            parse_floor("allow-filters = [\"everything\", \"ignore-unfixd\"]\n", "f").unwrap_err();
        let text = all_lines(&e);
        assert!(text.contains("unknown filter 'everything'"), "{text}");
        assert!(
            text.contains("unknown filter 'ignore-unfixd' (did you mean `ignore-unfixed`?)"),
            "{text}"
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
