//! The one table of policy keys. Each key is described once — its TOML name, flag, environment
//! variable, value type, default, doc line, which way is stricter (for the floor clamp) and how
//! the CI owner's floor governs it — and everything else is derived from this table: the policy
//! file's parser (`file`), the command-line flags (the binary's `PolicyArgs`), the layering and
//! the floor clamp (`file::resolve_with`) and `inspector-gate config`. The `init` template and
//! the `[baseline]` table's own parser are checked against it by tests, so a key added in one
//! place only fails the build's tests.

use super::file::FloorPermits;
use super::{Policy, ScanUnread, Suppressed, UnmatchedIgnore};
use crate::model::Severity;
use serde::de::DeserializeOwned;
use std::fmt;

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A severity name (`fail-on`): max 0 for it and every more severe level.
    Severity,
    /// The maximum allowed count of counted findings of one severity (`max-*`).
    Max(Severity),
    /// `true` / `false` (flags: `--key`, `--key=false`).
    Bool,
    /// A score from 0 to `max`.
    Score { max: f64 },
    /// One of these words, listed strictest first.
    Choice(&'static [&'static str]),
    /// `[baseline] count`: "new" or "all".
    CountMode,
    /// `[baseline] count-<severity>`; as a flag `SEVERITY=new|all` (repeatable).
    PerSeverity,
    /// Accepted risks: `[[ignore]]` tables; as a flag a bare id (repeatable).
    Ignores,
    /// A number of days (a floor permit).
    Days,
    /// A list of vulnerability id patterns, `*` matching any run (a floor permit).
    Patterns,
    /// A list of filter names: keys whose `Governs::File { filter }` names them (a floor permit).
    Filters,
    /// A list of files (`vex`); as a flag one file (repeatable).
    Files,
}

/// Which way is stricter, for the floor clamp: a value the floor bounds may move only this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stricter {
    /// A lower number (a maximum; absent is unlimited, the loosest).
    Lower,
    /// A lower minimum (a score filter; absent, no filter, is the strictest).
    LowerMinimum,
    /// `false`: the filter or permission is off.
    Off,
    /// The choice listed first (choices are listed strictest first).
    FirstChoice,
    /// Held through the maxima it sets: each is clamped as its `max-*` key.
    ViaMaxima,
    /// Fewer rules: the floor's `allow-ignore` and `max-ignore-days` decide which the file keeps.
    FewerIgnores,
    /// Less permitted (a floor permit, which only the floor sets).
    LessPermitted,
}

/// How the CI owner's policy floor (`--policy-floor`) governs a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Governs {
    /// The floor bounds the value the repository's policy file decides; the CI owner's own
    /// env and flags may set any value. The floor's `allow-filters` may lift the bound for the
    /// file when `filter` names it.
    File { filter: Option<&'static str> },
    /// The floor locks it: its value (its default when the floor is silent) bounds every layer
    /// above it — file, env and flags may only be stricter. Without a floor any layer sets it.
    Locked,
    /// Only the floor sets it: no flag, no env, refused in the repository's file.
    FloorOnly,
}

/// Where a resolved value goes.
#[derive(Clone, Copy)]
pub enum Apply {
    /// Into the effective policy.
    Policy(fn(&mut Policy, &Value)),
    /// Into what the floor permits (floor-only keys).
    Permits(fn(&mut FloorPermits, &Value)),
    /// Resolved by `file::resolve_with` itself (the maxima, ignore rules and `[baseline]`).
    Resolution,
}

/// One policy key.
#[derive(Clone, Copy)]
pub struct Key {
    /// The TOML key; `table.key` for a key inside a table (`baseline.count`).
    pub name: &'static str,
    /// The long flag, without its dashes (also the clap argument id).
    pub flag: Option<&'static str>,
    /// The environment variable (`INSPECTOR_GATE_` + the flag in upper snake case).
    pub env: Option<&'static str>,
    pub kind: Kind,
    /// The value when no layer sets it, as `config` shows it; a parenthesised text means
    /// "absent" (`(unlimited)`, `(not set)`), any other text parses as a value of `kind`.
    pub default: &'static str,
    /// One line: the flag's help.
    pub doc: &'static str,
    pub stricter: Stricter,
    pub governs: Governs,
    /// A valid TOML value other than the default (tests; the template's examples).
    pub example: &'static str,
    pub apply: Apply,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A parsed value of a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Severity(Severity),
    Count(u64),
    Bool(bool),
    Score(f64),
    /// One of the key's words.
    Choice(&'static str),
    /// One `SEVERITY=MODE` of a per-severity key.
    PerSeverity(Severity, &'static str),
    /// Ids, patterns or names.
    List(Vec<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Severity(s) => write!(f, "{s}"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Score(s) => write!(f, "{s}"),
            Value::Choice(c) => f.write_str(c),
            Value::PerSeverity(s, m) => write!(f, "{s}={m}"),
            Value::List(l) if l.is_empty() => f.write_str("(none)"),
            Value::List(l) => f.write_str(&l.join(", ")),
        }
    }
}

const COUNT_MODES: &[&str] = &["all", "new"];

/// A word of `Kind::Choice` into its enum (the choices are the enums' serde names).
fn word<T: DeserializeOwned>(v: &Value) -> Option<T> {
    match v {
        Value::Choice(c) => toml::Value::String((*c).to_string()).try_into().ok(),
        _ => None,
    }
}

/// Every policy key, in the order `config` lists them.
pub static TABLE: &[Key] = &[
    Key {
        name: "fail-on",
        flag: Some("fail-on"),
        env: Some("INSPECTOR_GATE_FAIL_ON"),
        kind: Kind::Severity,
        default: "(not set)",
        doc: "Fail on any finding of SEVERITY or worse; each such severity gets max 0.",
        stricter: Stricter::ViaMaxima,
        governs: Governs::File { filter: None },
        example: "\"HIGH\"",
        apply: Apply::Resolution,
    },
    Key {
        name: "max-critical",
        flag: Some("max-critical"),
        env: Some("INSPECTOR_GATE_MAX_CRITICAL"),
        kind: Kind::Max(Severity::Critical),
        default: "(unlimited)",
        doc: "Fail when CRITICAL findings exceed N.",
        stricter: Stricter::Lower,
        governs: Governs::File { filter: None },
        example: "0",
        apply: Apply::Resolution,
    },
    Key {
        name: "max-high",
        flag: Some("max-high"),
        env: Some("INSPECTOR_GATE_MAX_HIGH"),
        kind: Kind::Max(Severity::High),
        default: "(unlimited)",
        doc: "Fail when HIGH findings exceed N.",
        stricter: Stricter::Lower,
        governs: Governs::File { filter: None },
        example: "5",
        apply: Apply::Resolution,
    },
    Key {
        name: "max-medium",
        flag: Some("max-medium"),
        env: Some("INSPECTOR_GATE_MAX_MEDIUM"),
        kind: Kind::Max(Severity::Medium),
        default: "(unlimited)",
        doc: "Fail when MEDIUM findings exceed N.",
        stricter: Stricter::Lower,
        governs: Governs::File { filter: None },
        example: "20",
        apply: Apply::Resolution,
    },
    Key {
        name: "max-low",
        flag: Some("max-low"),
        env: Some("INSPECTOR_GATE_MAX_LOW"),
        kind: Kind::Max(Severity::Low),
        default: "(unlimited)",
        doc: "Fail when LOW findings exceed N.",
        stricter: Stricter::Lower,
        governs: Governs::File { filter: None },
        example: "100",
        apply: Apply::Resolution,
    },
    Key {
        name: "max-informational",
        flag: Some("max-informational"),
        env: Some("INSPECTOR_GATE_MAX_INFORMATIONAL"),
        kind: Kind::Max(Severity::Informational),
        default: "(unlimited)",
        doc: "Fail when INFORMATIONAL findings exceed N.",
        stricter: Stricter::Lower,
        governs: Governs::File { filter: None },
        example: "1000",
        apply: Apply::Resolution,
    },
    Key {
        name: "max-untriaged",
        flag: Some("max-untriaged"),
        env: Some("INSPECTOR_GATE_MAX_UNTRIAGED"),
        kind: Kind::Max(Severity::Untriaged),
        default: "(unlimited)",
        doc: "Fail when UNTRIAGED findings exceed N; only this key gates UNTRIAGED.",
        stricter: Stricter::Lower,
        governs: Governs::File { filter: None },
        example: "0",
        apply: Apply::Resolution,
    },
    Key {
        name: "ignore-unfixed",
        flag: Some("ignore-unfixed"),
        env: Some("INSPECTOR_GATE_IGNORE_UNFIXED"),
        kind: Kind::Bool,
        default: "false",
        doc: "Do not count findings without a fix; those with fixAvailable = NO. `--ignore-unfixed=false` turns it off over the policy file.",
        stricter: Stricter::Off,
        governs: Governs::File {
            filter: Some("ignore-unfixed"),
        },
        example: "true",
        apply: Apply::Policy(|p, v| {
            if let Value::Bool(b) = v {
                p.ignore_unfixed = *b;
            }
        }),
    },
    Key {
        name: "min-epss",
        flag: Some("min-epss"),
        env: Some("INSPECTOR_GATE_MIN_EPSS"),
        kind: Kind::Score { max: 1.0 },
        default: "(not set)",
        doc: "Count only findings of EPSS >= this (0..1); findings with no EPSS score still count.",
        stricter: Stricter::LowerMinimum,
        governs: Governs::File {
            filter: Some("min-epss"),
        },
        example: "0.05",
        apply: Apply::Policy(|p, v| {
            if let Value::Score(s) = v {
                p.min_epss = Some(*s);
            }
        }),
    },
    Key {
        name: "min-inspector-score",
        flag: Some("min-inspector-score"),
        env: Some("INSPECTOR_GATE_MIN_INSPECTOR_SCORE"),
        kind: Kind::Score { max: 10.0 },
        default: "(not set)",
        doc: "Count only Inspector scores >= this (0..10); findings with no Inspector score still count.",
        stricter: Stricter::LowerMinimum,
        governs: Governs::File {
            filter: Some("min-inspector-score"),
        },
        example: "7.0",
        apply: Apply::Policy(|p, v| {
            if let Value::Score(s) = v {
                p.min_inspector_score = Some(*s);
            }
        }),
    },
    Key {
        name: "exploit-available-only",
        flag: Some("exploit-available-only"),
        env: Some("INSPECTOR_GATE_EXPLOIT_AVAILABLE_ONLY"),
        kind: Kind::Bool,
        default: "false",
        doc: "Count only findings with a known exploit; `=false` turns it off over the policy file.",
        stricter: Stricter::Off,
        governs: Governs::File {
            filter: Some("exploit-available-only"),
        },
        example: "true",
        apply: Apply::Policy(|p, v| {
            if let Value::Bool(b) = v {
                p.exploit_available_only = *b;
            }
        }),
    },
    Key {
        name: "unmatched-ignore",
        flag: Some("unmatched-ignore"),
        env: Some("INSPECTOR_GATE_UNMATCHED_IGNORE"),
        kind: Kind::Choice(&["fail", "warn"]),
        default: "warn",
        doc: "An ignore rule that matched nothing: warn or fail.",
        stricter: Stricter::FirstChoice,
        governs: Governs::File { filter: None },
        example: "\"fail\"",
        apply: Apply::Policy(|p, v| {
            if let Some(u) = word::<UnmatchedIgnore>(v) {
                p.unmatched_ignore = u;
            }
        }),
    },
    Key {
        name: "suppressed",
        flag: Some("suppressed"),
        env: Some("INSPECTOR_GATE_SUPPRESSED"),
        kind: Kind::Choice(&["count", "honor"]),
        default: "count",
        doc: "Suppressed in Inspector: count (default) or honor; with a policy floor, honor only where the floor says honor.",
        stricter: Stricter::FirstChoice,
        governs: Governs::Locked,
        example: "\"honor\"",
        apply: Apply::Policy(|p, v| {
            if let Some(s) = word::<Suppressed>(v) {
                p.suppressed = s;
            }
        }),
    },
    Key {
        name: "scan-unread",
        flag: Some("scan-unread"),
        env: Some("INSPECTOR_GATE_SCAN_UNREAD"),
        kind: Kind::Choice(&["fail", "warn"]),
        default: "fail",
        doc: "Unreadable files (local scan): fail or warn; fail (inconclusive, exit 3) is the default, and with a policy floor warn only where the floor says warn.",
        stricter: Stricter::FirstChoice,
        governs: Governs::Locked,
        example: "\"warn\"",
        apply: Apply::Policy(|p, v| {
            if let Some(s) = word::<ScanUnread>(v) {
                p.scan_unread = s;
            }
        }),
    },
    Key {
        name: "ignore",
        flag: Some("ignore"),
        env: Some("INSPECTOR_GATE_IGNORE"),
        kind: Kind::Ignores,
        default: "(none)",
        doc: "Ignore a vulnerability id (repeatable); prefer [[ignore]] rules with a reason and an expiry.",
        stricter: Stricter::FewerIgnores,
        governs: Governs::File { filter: None },
        example: "[{ id = \"CVE-2023-4863\", reason = \"not reachable\" }]",
        apply: Apply::Resolution,
    },
    Key {
        name: "vex",
        flag: Some("vex"),
        env: Some("INSPECTOR_GATE_VEX"),
        kind: Kind::Files,
        default: "(none)",
        doc: "Apply an OpenVEX document (repeatable); its not_affected and fixed statements about the gated image's digest become ignores (with a policy floor, only those its allow-vex and allow-ignore permit).",
        stricter: Stricter::FewerIgnores,
        governs: Governs::Locked,
        example: "[\"vex/web.openvex.json\"]",
        apply: Apply::Resolution,
    },
    Key {
        name: "baseline.count",
        flag: Some("baseline-count"),
        env: Some("INSPECTOR_GATE_BASELINE_COUNT"),
        kind: Kind::CountMode,
        default: "new",
        doc: "With --baseline: count new or all findings; new ones are those the image adds to the baseline.",
        stricter: Stricter::FirstChoice,
        governs: Governs::File {
            filter: Some("baseline"),
        },
        example: "\"all\"",
        apply: Apply::Resolution,
    },
    Key {
        name: "baseline.count-<severity>",
        flag: Some("baseline-count-severity"),
        env: Some("INSPECTOR_GATE_BASELINE_COUNT_SEVERITY"),
        kind: Kind::PerSeverity,
        default: "(as baseline.count)",
        doc: "The same for one severity: SEVERITY=new|all; repeatable, over --baseline-count.",
        stricter: Stricter::FirstChoice,
        governs: Governs::File {
            filter: Some("baseline"),
        },
        example: "\"all\"",
        apply: Apply::Resolution,
    },
    Key {
        name: "allow-ignore",
        flag: None,
        env: None,
        kind: Kind::Patterns,
        default: "(none)",
        doc: "Ids (or `*` patterns such as GHSA-*) the repository's file may ignore.",
        stricter: Stricter::LessPermitted,
        governs: Governs::FloorOnly,
        example: "[\"GHSA-*\"]",
        apply: Apply::Permits(|p, v| {
            if let Value::List(l) = v {
                p.allow_ignore = l.clone();
            }
        }),
    },
    Key {
        name: "allow-vex",
        flag: None,
        env: None,
        kind: Kind::Patterns,
        default: "(none)",
        doc: "Authors (or `*` patterns) of OpenVEX documents whose not_affected and fixed statements may apply; each vulnerability must also be in allow-ignore.",
        stricter: Stricter::LessPermitted,
        governs: Governs::FloorOnly,
        example: "[\"Platform Security <security@example.com>\"]",
        apply: Apply::Permits(|p, v| {
            if let Value::List(l) = v {
                p.allow_vex = l.clone();
            }
        }),
    },
    Key {
        name: "max-ignore-days",
        flag: None,
        env: None,
        kind: Kind::Days,
        default: "(no cap)",
        doc: "The latest expiry a repository file's ignore rule may have, in days from today.",
        stricter: Stricter::Lower,
        governs: Governs::FloorOnly,
        example: "30",
        apply: Apply::Permits(|p, v| {
            if let Value::Count(n) = v {
                p.max_ignore_days = u32::try_from(*n).ok();
            }
        }),
    },
    Key {
        name: "allow-filters",
        flag: None,
        env: None,
        kind: Kind::Filters,
        default: "(none)",
        doc: "Filters the repository's file may turn on (each counts fewer findings).",
        stricter: Stricter::LessPermitted,
        governs: Governs::FloorOnly,
        example: "[\"ignore-unfixed\"]",
        apply: Apply::Permits(|p, v| {
            if let Value::List(l) = v {
                p.allow_filters = l.clone();
            }
        }),
    },
    Key {
        name: "allow-soft-fail",
        flag: None,
        env: None,
        kind: Kind::Bool,
        default: "true",
        doc: "Whether `--soft-fail` (a violation exits 0 with verdict fail) is allowed.",
        stricter: Stricter::Off,
        governs: Governs::FloorOnly,
        example: "false",
        apply: Apply::Permits(|p, v| {
            if let Value::Bool(b) = v {
                p.allow_soft_fail = *b;
            }
        }),
    },
];

/// The key named `name` (`baseline.count-high` finds `baseline.count-<severity>`).
pub fn get(name: &str) -> Option<&'static Key> {
    let name = match name.strip_prefix("baseline.count-") {
        Some(sev) if sev.parse::<Severity>().is_ok() => "baseline.count-<severity>",
        _ => name,
    };
    TABLE.iter().find(|k| k.name == name)
}

/// The key whose flag is `--flag`.
pub fn by_flag(flag: &str) -> Option<&'static Key> {
    TABLE.iter().find(|k| k.flag == Some(flag))
}

/// The `max-*` key of `sev`.
pub fn max_key(sev: Severity) -> &'static Key {
    TABLE
        .iter()
        .find(|k| k.kind == Kind::Max(sev))
        .expect("every severity has a max-* key (keys::tests)")
}

/// The filter names a floor's `allow-filters` may hold.
pub fn filters() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLE
        .iter()
        .filter_map(|k| match k.governs {
            Governs::File { filter } => filter,
            _ => None,
        })
        .collect();
    names.dedup();
    names
}

/// The top-level TOML keys (a table counts once: `baseline`).
pub fn toml_keys(floor: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLE
        .iter()
        .filter(|k| floor || k.governs != Governs::FloorOnly)
        .map(|k| k.name.split('.').next().unwrap_or(k.name))
        .collect();
    names.dedup();
    names
}

impl Key {
    /// The value when no layer sets it (`None`: absent, e.g. no maximum).
    pub fn default_value(&self) -> Option<Value> {
        parse_text(self, self.default).ok()
    }

    /// True when `value` would count or allow more than `bound` (the floor's value, `None`
    /// when absent), i.e. moves the wrong way for the floor clamp.
    pub fn looser(&self, value: &Value, bound: Option<&Value>) -> bool {
        match (self.stricter, value, bound) {
            (Stricter::Lower, Value::Count(v), Some(Value::Count(b))) => v > b,
            (Stricter::Lower, _, None) => false,
            (Stricter::LowerMinimum, Value::Score(v), Some(Value::Score(b))) => v > b,
            (Stricter::LowerMinimum, Value::Score(_), None) => true,
            (Stricter::Off, Value::Bool(v), b) => *v && b != Some(&Value::Bool(true)),
            (Stricter::FirstChoice, Value::Choice(v), Some(Value::Choice(b))) => {
                let rank = |w: &str| self.choices().iter().position(|c| *c == w);
                rank(v) > rank(b)
            }
            (Stricter::FirstChoice, Value::Choice(_), None) => false,
            // Values of another shape, and keys held elsewhere (maxima, ignores): not here.
            _ => false,
        }
    }

    /// The words a `Choice` or `CountMode` key takes, strictest first.
    pub fn choices(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Choice(c) => c,
            Kind::CountMode | Kind::PerSeverity => COUNT_MODES,
            _ => &[],
        }
    }

    /// The placeholder of the flag's value in `--help`.
    pub fn value_name(&self) -> &'static str {
        match self.kind {
            Kind::Severity => "SEVERITY",
            Kind::Max(_) | Kind::Days => "N",
            Kind::Bool => "BOOL",
            Kind::Score { .. } => "SCORE",
            Kind::Choice(_) | Kind::CountMode => "MODE",
            Kind::PerSeverity => "SEVERITY=MODE",
            Kind::Ignores => "ID",
            Kind::Patterns | Kind::Filters => "NAME",
            Kind::Files => "FILE",
        }
    }

    /// Scalar keys are resolved alike (the highest layer wins, then the floor clamp): every
    /// key except the maxima, the ignore rules, the `[baseline]` table and the list permits.
    pub fn is_scalar(&self) -> bool {
        matches!(self.kind, Kind::Bool | Kind::Score { .. } | Kind::Choice(_))
    }
}

/// Parse the text of a flag or environment variable (or a default) as a value of `key`.
pub fn parse_text(key: &Key, s: &str) -> Result<Value, String> {
    let t = s.trim();
    match key.kind {
        Kind::Severity => t.parse().map(Value::Severity),
        Kind::Max(_) | Kind::Days => t
            .parse::<u64>()
            .map(Value::Count)
            .map_err(|_| format!("'{t}' is not a whole number >= 0")),
        Kind::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("'{t}' is not true or false")),
        },
        Kind::Score { .. } => t
            .parse::<f64>()
            .map(Value::Score)
            .map_err(|_| format!("'{t}' is not a number")),
        Kind::Choice(_) | Kind::CountMode => choice(key, t).map(Value::Choice),
        Kind::PerSeverity => {
            let (sev, mode) = t
                .split_once('=')
                .ok_or_else(|| format!("'{t}' is not SEVERITY=new|all (e.g. CRITICAL=all)"))?;
            Ok(Value::PerSeverity(sev.trim().parse()?, choice(key, mode)?))
        }
        Kind::Ignores | Kind::Patterns | Kind::Filters | Kind::Files if t.is_empty() => {
            Err("is empty".to_string())
        }
        Kind::Ignores | Kind::Patterns | Kind::Filters | Kind::Files => {
            Ok(Value::List(vec![t.to_string()]))
        }
    }
}

/// `word` as one of the key's choices (case-insensitive on the command line).
fn choice(key: &Key, word: &str) -> Result<&'static str, String> {
    let word = word.trim();
    key.choices()
        .iter()
        .find(|c| c.eq_ignore_ascii_case(word))
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown variant `{word}`, expected one of {}",
                quoted(key.choices())
            )
        })
}

fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse a TOML value of `key` (not `ignore` or `[baseline]`, which have their own parsers).
/// The messages are serde's, so a file and a flag are refused in the same words.
pub fn parse_toml(key: &Key, v: &toml::Value) -> Result<Value, String> {
    fn de<T: DeserializeOwned>(v: &toml::Value) -> Result<T, String> {
        v.clone()
            .try_into::<T>()
            .map_err(|e| e.message().trim().to_string())
    }
    match key.kind {
        Kind::Severity => de::<Severity>(v).map(Value::Severity),
        Kind::Max(_) => de::<u64>(v).map(Value::Count),
        Kind::Days => de::<u32>(v).map(|d| Value::Count(u64::from(d))),
        Kind::Bool => de::<bool>(v).map(Value::Bool),
        Kind::Score { .. } => de::<f64>(v).map(Value::Score),
        Kind::Choice(_) | Kind::CountMode | Kind::PerSeverity => {
            choice(key, &de::<String>(v)?).map(Value::Choice)
        }
        Kind::Patterns | Kind::Filters | Kind::Files => de::<Vec<String>>(v).map(Value::List),
        Kind::Ignores => Err("an [[ignore]] table is parsed as such".into()),
    }
}

/// The closest of `candidates` to a misspelt `word`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance with transpositions (optimal string alignment): `hihg` is one edit from `high`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_flags_and_env_vars_are_unique_and_follow_one_rule() {
        let names: BTreeSet<_> = TABLE.iter().map(|k| k.name).collect();
        assert_eq!(names.len(), TABLE.len());
        for k in TABLE {
            match k.governs {
                Governs::FloorOnly => {
                    assert!(k.flag.is_none() && k.env.is_none(), "{k:?} is floor-only");
                    assert!(matches!(k.apply, Apply::Permits(_)), "{k:?}");
                }
                _ => {
                    let flag = k.flag.expect("every repository key has a flag");
                    let env = format!("INSPECTOR_GATE_{}", flag.replace('-', "_").to_uppercase());
                    assert_eq!(k.env, Some(env.as_str()), "{k:?}");
                    assert!(!k.doc.is_empty());
                }
            }
        }
        for sev in Severity::ALL {
            assert_eq!(
                max_key(sev).name,
                format!("max-{}", sev.as_str().to_lowercase())
            );
        }
    }

    #[test]
    fn defaults_and_examples_are_values_of_their_key() {
        for k in TABLE {
            if !k.default.starts_with('(') {
                assert!(k.default_value().is_some(), "{k:?} default {}", k.default);
            }
            if k.kind == Kind::Ignores {
                continue;
            }
            let v: toml::Table = toml::from_str(&format!("v = {}", k.example)).unwrap();
            let parsed = parse_toml(k, &v["v"]).unwrap_or_else(|e| panic!("{k:?}: {e}"));
            assert_ne!(
                Some(parsed),
                k.default_value(),
                "{k:?}: the example is the default"
            );
        }
    }

    #[test]
    fn every_choice_applies_its_own_value() {
        // The words of a Choice key are its enum's serde names: each one lands as itself.
        for k in TABLE.iter().filter(|k| matches!(k.kind, Kind::Choice(_))) {
            let Apply::Policy(apply) = k.apply else {
                panic!("{k:?} goes into the policy")
            };
            let mut seen = Vec::new();
            for w in k.choices() {
                let mut p = Policy::default();
                apply(&mut p, &Value::Choice(w));
                let json = serde_json::to_value(&p).unwrap();
                assert!(
                    !seen.contains(&json),
                    "{k:?}: {w} applies like another word"
                );
                seen.push(json);
            }
            let default = k.default_value().unwrap();
            let mut p = Policy::default();
            apply(&mut p, &default);
            assert_eq!(
                p,
                Policy::default(),
                "{k:?}: its default is Policy::default()"
            );
        }
    }

    #[test]
    fn the_stricter_direction_of_every_clamped_kind() {
        let k = |n| get(n).unwrap();
        let max = k("max-high");
        assert!(max.looser(&Value::Count(3), Some(&Value::Count(2))));
        assert!(!max.looser(&Value::Count(2), Some(&Value::Count(2))));
        assert!(
            !max.looser(&Value::Count(9), None),
            "no floor maximum: unlimited"
        );
        let epss = k("min-epss");
        assert!(epss.looser(&Value::Score(0.5), Some(&Value::Score(0.3))));
        assert!(!epss.looser(&Value::Score(0.1), Some(&Value::Score(0.3))));
        assert!(
            epss.looser(&Value::Score(0.1), None),
            "no floor filter: the strictest"
        );
        let unfixed = k("ignore-unfixed");
        assert!(unfixed.looser(&Value::Bool(true), None));
        assert!(!unfixed.looser(&Value::Bool(true), Some(&Value::Bool(true))));
        assert!(!unfixed.looser(&Value::Bool(false), None));
        let sup = k("suppressed");
        assert!(sup.looser(&Value::Choice("honor"), Some(&Value::Choice("count"))));
        assert!(!sup.looser(&Value::Choice("count"), Some(&Value::Choice("honor"))));
    }

    #[test]
    fn misspelt_keys_find_their_key() {
        let keys = toml_keys(false);
        assert_eq!(did_you_mean("max-hihg", &keys), Some("max-high"));
        assert_eq!(did_you_mean("fail_on", &keys), Some("fail-on"));
        assert_eq!(did_you_mean("failon", &keys), Some("fail-on"));
        assert_eq!(did_you_mean("supressed", &keys), Some("suppressed"));
        assert_eq!(did_you_mean("colour", &keys), None);
        assert_eq!(distance("ab", "ba"), 1);
    }

    #[test]
    fn flag_text_parses_like_the_file() {
        let k = |n| get(n).unwrap();
        assert_eq!(
            parse_text(k("suppressed"), "HONOR"),
            Ok(Value::Choice("honor"))
        );
        assert!(parse_text(k("suppressed"), "maybe")
            .unwrap_err()
            .contains("unknown variant `maybe`"));
        assert_eq!(
            parse_text(k("ignore-unfixed"), "no"),
            Ok(Value::Bool(false))
        );
        assert!(parse_text(k("max-low"), "-1").is_err());
        assert_eq!(
            parse_text(k("baseline.count-low"), "LOW=all"),
            Ok(Value::PerSeverity(Severity::Low, "all"))
        );
        assert_eq!(
            filters(),
            [
                "ignore-unfixed",
                "min-epss",
                "min-inspector-score",
                "exploit-available-only",
                "baseline"
            ]
        );
    }
}
