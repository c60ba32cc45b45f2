//! Baseline comparison (pure): which findings of the gated image are `new` (absent from the
//! images that serve now), which are `inherited` (already in every one of them), and which
//! baseline findings the candidate `fixed`. A finding's identity is (vulnerability id, package
//! name): the same CVE in another package is a different exposure. Also the policy's `[baseline]` table, which
//! says which groups the thresholds count.

use crate::model::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Which findings a severity's threshold counts when a baseline is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountMode {
    /// Only findings the candidate introduces (the default: no flag day).
    #[default]
    New,
    /// Every finding, inherited or not (the baseline only labels them).
    All,
}

/// The policy's `[baseline]` table: `count = "new" | "all"` and `count-<severity>` overrides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselinePolicy {
    pub count: CountMode,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_severity: BTreeMap<Severity, CountMode>,
}

impl BaselinePolicy {
    /// True for the default (`count = "new"`, no overrides): kept out of serialized policies.
    pub fn is_default(&self) -> bool {
        *self == BaselinePolicy::default()
    }

    /// The mode for `sev`: its override, else `count`.
    pub fn mode(&self, sev: Severity) -> CountMode {
        self.per_severity.get(&sev).copied().unwrap_or(self.count)
    }
}

/// A `[baseline]` table as read from one policy file: `count` only when written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BaselineLayer {
    pub count: Option<CountMode>,
    pub per_severity: BTreeMap<Severity, CountMode>,
}

/// The keys a `[baseline]` table may hold.
pub fn table_keys() -> Vec<String> {
    std::iter::once("count".to_string())
        .chain(
            Severity::ALL
                .iter()
                .map(|s| format!("count-{}", s.as_str().to_lowercase())),
        )
        .collect()
}

/// Parse a policy file's `[baseline]` value; every problem goes through `bad`.
pub fn parse_table(value: &toml::Value, bad: &mut impl FnMut(String)) -> Option<BaselineLayer> {
    let Some(table) = value.as_table() else {
        bad("must be a table: [baseline] with count = \"new\" | \"all\"".into());
        return None;
    };
    let mut layer = BaselineLayer::default();
    let mut ok = true;
    for (k, v) in table {
        let mode = match v.as_str() {
            Some("new") => Some(CountMode::New),
            Some("all") => Some(CountMode::All),
            _ => None,
        };
        let Some(mode) = mode else {
            bad(format!("{k} must be \"new\" or \"all\", not {v}"));
            ok = false;
            continue;
        };
        if k == "count" {
            layer.count = Some(mode);
        } else if let Some(sev) = k
            .strip_prefix("count-")
            .and_then(|s| s.parse::<Severity>().ok())
        {
            layer.per_severity.insert(sev, mode);
        } else {
            bad(format!(
                "unknown key {k} in [baseline] (expected one of {})",
                table_keys().join(", ")
            ));
            ok = false;
        }
    }
    ok.then_some(layer)
}

/// Where a candidate finding stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Absent from the baseline: this change introduces it.
    New,
    /// The baseline has it too (same vulnerability id in the same package).
    Inherited,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::New => "new",
            Origin::Inherited => "inherited",
        }
    }
}

/// The images a candidate is compared against, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// What the user passed (`ecs:prod/web`, `app/web:prod`, `report.json`).
    pub source: String,
    /// Every image manifest that serves traffic (one, or several while a service runs more
    /// than one digest): a finding is inherited only when every one of them has it.
    pub images: Vec<BaselineImage>,
}

/// One serving image manifest and its findings.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineImage {
    /// The manifest digest whose findings these are, when known.
    pub digest: Option<String>,
    pub findings: Vec<Finding>,
}

impl Baseline {
    /// A baseline of one image.
    pub fn single(source: &str, digest: Option<String>, findings: Vec<Finding>) -> Baseline {
        Baseline {
            source: source.to_string(),
            images: vec![BaselineImage { digest, findings }],
        }
    }

    /// The digests compared with, in order.
    pub fn digests(&self) -> Vec<String> {
        self.images
            .iter()
            .filter_map(|i| i.digest.clone())
            .collect()
    }
}

/// Identity keys of a finding: (upper-cased id, package name) per package, or (id, "") when
/// the finding names no package.
fn keys(f: &Finding) -> Vec<(String, String)> {
    let id = f.id.trim().to_ascii_uppercase();
    if f.packages.is_empty() {
        return vec![(id, String::new())];
    }
    f.packages
        .iter()
        .map(|p| (id.clone(), p.name.clone()))
        .collect()
}

/// Per-severity counts of the three groups.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupCounts {
    pub new: BTreeMap<Severity, u64>,
    pub inherited: BTreeMap<Severity, u64>,
    pub fixed: BTreeMap<Severity, u64>,
}

impl GroupCounts {
    pub fn total(map: &BTreeMap<Severity, u64>) -> u64 {
        map.values().sum()
    }
}

/// A candidate compared with its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// One origin per candidate finding, in the candidate's order.
    pub origins: Vec<Origin>,
    /// Baseline findings no candidate finding matches.
    pub fixed: Vec<Finding>,
}

/// Classify each candidate finding. A finding is inherited only when every (id, package) it
/// names is in every baseline image: a CVE that spreads to one more package, or that one of
/// the serving images does not have, is new exposure. No baseline image: everything is new.
pub fn compare(candidate: &[Finding], baseline: &[&[Finding]]) -> Comparison {
    let bases: Vec<BTreeSet<(String, String)>> = baseline
        .iter()
        .map(|fs| fs.iter().flat_map(keys).collect())
        .collect();
    let cand: BTreeSet<(String, String)> = candidate.iter().flat_map(keys).collect();
    let origins = candidate
        .iter()
        .map(|f| {
            let k = keys(f);
            if !bases.is_empty() && bases.iter().all(|b| k.iter().all(|k| b.contains(k))) {
                Origin::Inherited
            } else {
                Origin::New
            }
        })
        .collect();
    // A baseline finding (of any serving image) is fixed when none of its (id, package)
    // pairs remains.
    let mut seen = BTreeSet::new();
    let fixed = baseline
        .iter()
        .flat_map(|fs| fs.iter())
        .filter(|f| keys(f).iter().all(|k| !cand.contains(k)))
        .filter(|f| seen.insert(keys(f)))
        .cloned()
        .collect();
    Comparison { origins, fixed }
}

/// "introduces 1 HIGH, fixes 3 CRITICAL, 12 inherited": the one-line summary reports share.
pub fn summary_line(counts: &GroupCounts) -> String {
    fn by_sev(m: &BTreeMap<Severity, u64>) -> String {
        let parts: Vec<String> = m
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
    format!(
        "introduces {}, fixes {}, {} inherited",
        by_sev(&counts.new),
        by_sev(&counts.fixed),
        GroupCounts::total(&counts.inherited)
    )
}

/// What every report shows about the comparison: the source, the baseline's digest, the
/// counts of the three groups, and the fixed findings themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineBlock {
    pub source: String,
    /// The (first) baseline image manifest compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Every serving image manifest compared with, when there is more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<String>,
    pub counts: GroupCounts,
    /// Baseline findings the candidate no longer has.
    #[serde(default)]
    pub fixed: Vec<Finding>,
}

impl BaselineBlock {
    /// Count the candidate's findings by (severity, origin) and the `fixed` ones. Takes the
    /// labels rather than the evaluation's findings so that this module stays below the
    /// policy (which uses it), never beside it.
    pub fn new(
        base: &Baseline,
        labelled: impl IntoIterator<Item = (Severity, Option<Origin>)>,
        fixed: Vec<Finding>,
    ) -> Self {
        let mut counts = GroupCounts::default();
        for (severity, origin) in labelled {
            let group = match origin {
                Some(Origin::Inherited) => &mut counts.inherited,
                _ => &mut counts.new,
            };
            *group.entry(severity).or_insert(0) += 1;
        }
        for f in &fixed {
            *counts.fixed.entry(f.severity).or_insert(0) += 1;
        }
        let digests = base.digests();
        BaselineBlock {
            source: base.source.clone(),
            digest: digests.first().cloned(),
            digests: if digests.len() > 1 { digests } else { vec![] },
            counts,
            fixed,
        }
    }

    /// "introduces 1 HIGH, fixes 3 CRITICAL, 12 inherited".
    pub fn summary(&self) -> String {
        summary_line(&self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Package;

    fn f(id: &str, sev: Severity, pkgs: &[&str]) -> Finding {
        Finding {
            id: id.into(),
            severity: sev,
            title: id.into(),
            description: None,
            finding_arn: None,
            fix_available: None,
            exploit_available: None,
            inspector_score: None,
            epss_score: None,
            packages: pkgs
                .iter()
                .map(|p| Package {
                    name: p.to_string(),
                    ..Default::default()
                })
                .collect(),
            source_url: None,
            remediation: None,
            image_digest: None,
            repository: None,
            suppressed: false,
        }
    }

    #[test]
    fn new_inherited_and_fixed_by_id_and_package() {
        let base = [
            f("CVE-1", Severity::Critical, &["openssl"]),
            f("CVE-2", Severity::High, &["zlib"]),
            f("CVE-3", Severity::Low, &["libxml2"]),
        ];
        let cand = [
            f("cve-1", Severity::Critical, &["openssl"]),
            // Same CVE, another package: new exposure.
            f("CVE-2", Severity::High, &["curl"]),
            f("CVE-4", Severity::Medium, &[]),
        ];
        let c = compare(&cand, &[&base]);
        assert_eq!(c.origins, vec![Origin::Inherited, Origin::New, Origin::New]);
        let fixed: Vec<&str> = c.fixed.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(fixed, vec!["CVE-2", "CVE-3"]);
    }

    #[test]
    fn a_finding_in_one_more_package_is_new() {
        let base = [f("CVE-1", Severity::High, &["a"])];
        let cand = [f("CVE-1", Severity::High, &["a", "b"])];
        let c = compare(&cand, &[&base]);
        assert_eq!(c.origins, vec![Origin::New]);
        assert!(c.fixed.is_empty(), "CVE-1 in a still exists");
    }

    #[test]
    fn inherited_only_when_every_serving_image_has_it() {
        let old = [
            f("CVE-1", Severity::Critical, &["a"]),
            f("CVE-2", Severity::High, &["b"]),
        ];
        let new = [f("CVE-1", Severity::Critical, &["a"])];
        let cand = [
            f("CVE-1", Severity::Critical, &["a"]),
            f("CVE-2", Severity::High, &["b"]),
        ];
        let c = compare(&cand, &[&old, &new]);
        // CVE-2 is not in the second serving image: the candidate brings it to those tasks.
        assert_eq!(c.origins, vec![Origin::Inherited, Origin::New]);
        assert!(c.fixed.is_empty());
        // Fixed counts each baseline finding once, whichever images had it.
        let c = compare(&[], &[&old, &new]);
        let fixed: Vec<&str> = c.fixed.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(fixed, vec!["CVE-1", "CVE-2"]);
    }

    #[test]
    fn empty_baseline_makes_everything_new() {
        let cand = [f("CVE-1", Severity::High, &["a"])];
        assert_eq!(compare(&cand, &[&[]]).origins, vec![Origin::New]);
        assert_eq!(compare(&cand, &[]).origins, vec![Origin::New]);
        let c = compare(&[], &[&cand]);
        assert_eq!(c.fixed.len(), 1);
    }

    #[test]
    fn policy_table_parses_modes_and_overrides() {
        let v: toml::Value = toml::from_str("count = \"new\"\ncount-critical = \"all\"").unwrap();
        let mut problems = Vec::new();
        let l = parse_table(&v, &mut |m| problems.push(m)).unwrap();
        assert!(problems.is_empty());
        assert_eq!(l.count, Some(CountMode::New));
        assert_eq!(
            l.per_severity.get(&Severity::Critical),
            Some(&CountMode::All)
        );
        let v: toml::Value = toml::from_str("count = \"some\"\ncount-bogus = \"all\"").unwrap();
        let mut problems = Vec::new();
        assert!(parse_table(&v, &mut |m| problems.push(m)).is_none());
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn mode_uses_override_then_default() {
        let mut p = BaselinePolicy::default();
        p.per_severity.insert(Severity::Critical, CountMode::All);
        assert_eq!(p.mode(Severity::Critical), CountMode::All);
        assert_eq!(p.mode(Severity::High), CountMode::New);
    }

    #[test]
    fn summary_line_names_groups() {
        let mut c = GroupCounts::default();
        c.new.insert(Severity::High, 1);
        c.fixed.insert(Severity::Critical, 3);
        c.inherited.insert(Severity::Medium, 12);
        assert_eq!(
            summary_line(&c),
            "introduces 1 HIGH, fixes 3 CRITICAL, 12 inherited"
        );
    }
}
