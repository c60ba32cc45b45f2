//! Pure policy evaluation: (policy, findings, today) → one `Evaluation` that every report
//! renders. No I/O, no clock: `today` is passed in so expiry is testable.

use super::{IgnoreRule, Policy, Suppressed, UnmatchedIgnore};
use crate::baseline::{self, Baseline, BaselineBlock, CountMode, Origin};
use crate::model::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::Date;

/// Days before expiry at which an ignore rule starts warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    /// `pass` / `fail`: the word every machine-readable output uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }

    /// `passed` / `failed`: the word human-readable outputs use.
    pub fn past_tense(self) -> &'static str {
        match self {
            Verdict::Pass => "passed",
            Verdict::Fail => "failed",
        }
    }
}

/// Why a finding is or is not counted against the thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Disposition {
    /// Counted against its severity's threshold.
    Counted {
        /// True when its severity's count exceeds the maximum.
        violation: bool,
    },
    /// Matched an unexpired ignore rule.
    Ignored {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires: Option<Date>,
    },
    /// Removed by a filter (unfixed, EPSS, score, exploit).
    Filtered { filter: String },
    /// Would be counted, but the baseline has it too and the policy counts only new
    /// findings of its severity (`[baseline] count = "new"`).
    Inherited,
    /// Would be counted, but an Inspector suppression rule hides it and the policy honours
    /// those (`suppressed = "honor"`). A suppressed finding the policy counts (the default)
    /// is `Counted`, and says it is suppressed in Inspector through `Finding::suppressed`.
    Suppressed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    #[serde(flatten)]
    pub finding: Finding,
    pub disposition: Disposition,
    /// `new` or `inherited` when the image was compared with a baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// A severity whose counted findings exceed its maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub severity: Severity,
    pub count: u64,
    pub max: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub verdict: Verdict,
    /// Counted findings per severity (after filters and ignores).
    pub counted: BTreeMap<Severity, u64>,
    /// All findings per severity, before filters and ignores.
    pub total: BTreeMap<Severity, u64>,
    pub violations: Vec<Violation>,
    /// Every finding, most severe first, with its disposition.
    pub findings: Vec<Judged>,
    /// Expired, soon-expiring and unmatched ignore rules, in plain words.
    pub warnings: Vec<String>,
    /// The comparison with a baseline (`--baseline`), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineBlock>,
    /// Set when the input had severity counts and no findings (an `Inspector2 Scan` event):
    /// `findings` is empty and `counted` / `total` are the counts it gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts_only: Option<CountsOnly>,
}

impl Evaluation {
    pub fn counted(&self, s: Severity) -> u64 {
        self.counted.get(&s).copied().unwrap_or(0)
    }
    pub fn ignored(&self) -> impl Iterator<Item = &Judged> {
        self.findings
            .iter()
            .filter(|j| matches!(j.disposition, Disposition::Ignored { .. }))
    }
    pub fn violating(&self) -> impl Iterator<Item = &Judged> {
        self.findings
            .iter()
            .filter(|j| matches!(j.disposition, Disposition::Counted { violation: true }))
    }
    /// Findings suppressed in Inspector, counted or not.
    pub fn suppressed(&self) -> impl Iterator<Item = &Judged> {
        self.findings.iter().filter(|j| j.finding.suppressed)
    }
    /// How many findings suppressed in Inspector count against the thresholds.
    pub fn suppressed_counted(&self) -> usize {
        self.suppressed()
            .filter(|j| matches!(j.disposition, Disposition::Counted { .. }))
            .count()
    }
}

/// Whether `rule` matches `f` of the image in `repository` (expiry aside).
pub fn rule_matches(rule: &IgnoreRule, f: &Finding, repository: Option<&str>) -> bool {
    if !rule.id.eq_ignore_ascii_case(&f.id) {
        return false;
    }
    if let Some(pkg) = &rule.package {
        if !f.packages.iter().any(|p| &p.name == pkg) {
            return false;
        }
    }
    if let Some(repo) = &rule.repository {
        let finding_repo = f.repository.as_deref().or(repository);
        if finding_repo != Some(repo.as_str()) {
            return false;
        }
    }
    // A VEX statement's subcomponents: only findings in one of those packages.
    if let Some(v) = rule.vex.as_ref().filter(|v| !v.subcomponents.is_empty()) {
        let named = |p: &crate::model::Package| {
            v.subcomponents
                .iter()
                .any(|c| super::vex::component_is(c, p))
        };
        if !f.packages.iter().any(named) {
            return false;
        }
    }
    true
}

fn filter_reason(policy: &Policy, f: &Finding) -> Option<String> {
    if policy.ignore_unfixed && f.is_unfixed() {
        return Some("unfixed".into());
    }
    if let Some(min) = policy.min_epss {
        // Findings without an EPSS score are kept: dropping them would fail open.
        if let Some(score) = f.epss_score {
            if score < min {
                return Some(format!("epss below {min}"));
            }
        }
    }
    if let Some(min) = policy.min_inspector_score {
        // Unscored findings are kept: dropping them would fail open.
        if let Some(score) = f.inspector_score {
            if score < min {
                return Some(format!("inspector score below {min}"));
            }
        }
    }
    if policy.exploit_available_only && f.exploit_available.as_deref() != Some("YES") {
        return Some("no known exploit".into());
    }
    None
}

/// The severity counts an `Inspector2 Scan` event carries, and nothing else: no finding is
/// listed. CRITICAL, HIGH and MEDIUM are always given (a missing key is zero); LOW,
/// INFORMATIONAL and UNTRIAGED usually are not, only the TOTAL that includes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventCounts {
    /// The counts the event gives, per severity.
    pub given: BTreeMap<Severity, u64>,
    /// The event's TOTAL, when it has one (at least the sum of `given`).
    pub total: Option<u64>,
}

impl EventCounts {
    /// The severities the event does not split out (it counts them only in its TOTAL).
    pub fn unsplit(&self) -> Vec<Severity> {
        Severity::ALL
            .into_iter()
            .filter(|s| !self.given.contains_key(s))
            .collect()
    }

    /// How many findings the unsplit severities hold together: TOTAL minus the given counts
    /// (`None` without a TOTAL: then nobody counted them).
    pub fn remainder(&self) -> Option<u64> {
        self.total
            .map(|t| t.saturating_sub(self.given.values().sum::<u64>()))
    }
}

/// An evaluation from severity counts alone: what the report shows instead of findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountsOnly {
    /// Where the counts came from (e.g. "Inspector2 Scan event").
    pub source: String,
    /// Severities the source counts only together, in its TOTAL (usually LOW,
    /// INFORMATIONAL and UNTRIAGED); empty when it gives every severity.
    pub unsplit: Vec<Severity>,
    /// How many findings those severities hold together: the remainder of TOTAL. Absent
    /// when the source gives no TOTAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remainder: Option<u64>,
}

/// What can be decided from an event's counts alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDecision {
    Pass,
    /// At least one maximum is exceeded whatever the filters and ignores would remove.
    Fail,
    /// Neither: each string names a threshold the counts cannot decide.
    Undecidable(Vec<String>),
}

/// Whether the policy has filters or ignore rules: only a list of findings can apply them,
/// and they only ever remove findings.
pub fn reduces(policy: &Policy) -> bool {
    policy.ignore_unfixed
        || policy.min_epss.is_some()
        || policy.min_inspector_score.is_some()
        || policy.exploit_available_only
        || !policy.ignores.is_empty()
}

/// Decide `policy` from an event's counts without failing open. The counts are upper bounds
/// of what the policy would count (filters and ignore rules only remove findings): a count
/// within its maximum passes for sure; one above it fails for sure only when nothing could
/// remove findings. Severities the event does not split share the remainder of its TOTAL: a
/// maximum at least that remainder passes; a smaller one (or no TOTAL) cannot be decided.
pub fn decide_event(policy: &Policy, c: &EventCounts) -> EventDecision {
    let reducible = reduces(policy);
    let rest = c.remainder();
    let unsplit = c
        .unsplit()
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("/");
    let mut undecided = Vec::new();
    let mut failed = false;
    for (&sev, &max) in &policy.max {
        match (c.given.get(&sev).copied(), rest) {
            (Some(n), _) if n <= max => {}
            (Some(_), _) if !reducible => failed = true,
            (Some(n), _) => undecided.push(format!(
                "{n} {sev} exceed max-{} = {max}, but the event's counts cannot show what the filters and ignore rules would remove",
                sev.as_str().to_lowercase()
            )),
            (None, Some(rest)) if rest <= max => {}
            (None, Some(rest)) => undecided.push(format!(
                "max-{} = {max} cannot be checked: the event counts {rest} {unsplit} findings together",
                sev.as_str().to_lowercase()
            )),
            (None, None) => undecided.push(format!(
                "max-{} = {max} cannot be checked: the event has no TOTAL, so nobody counted its {unsplit} findings",
                sev.as_str().to_lowercase()
            )),
        }
    }
    // Whether an ignore rule matched nothing needs the findings themselves.
    if policy.unmatched_ignore == UnmatchedIgnore::Fail && !policy.ignores.is_empty() {
        undecided.push(
            "unmatched-ignore = \"fail\" cannot be checked: the event lists no findings for the ignore rules to match".into(),
        );
    }
    if failed {
        EventDecision::Fail
    } else if undecided.is_empty() {
        EventDecision::Pass
    } else {
        EventDecision::Undecidable(undecided)
    }
}

/// The evaluation of an event's counts (see [`decide_event`]): counts only, no finding
/// listed, the severities it does not split shown as the remainder of its TOTAL. `Err` names
/// every threshold the counts cannot decide.
pub fn evaluate_counts(
    policy: &Policy,
    c: &EventCounts,
    source: &str,
) -> Result<Evaluation, Vec<String>> {
    let verdict = match decide_event(policy, c) {
        EventDecision::Pass => Verdict::Pass,
        EventDecision::Fail => Verdict::Fail,
        EventDecision::Undecidable(why) => return Err(why),
    };
    let total: Counts = c
        .given
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (*s, *n))
        .collect();
    // Upper bounds of what the policy counts; a decided verdict does not depend on more.
    let violations = policy
        .max
        .iter()
        .filter_map(|(&severity, &max)| {
            let count = total.get(&severity).copied().unwrap_or(0);
            (count > max).then_some(Violation {
                severity,
                count,
                max,
            })
        })
        .collect();
    let mut warnings = Vec::new();
    if reduces(policy) {
        warnings.push(format!(
            "the {source} carries counts only: filters and ignore rules were not applied (the counts already decide the verdict)"
        ));
    }
    Ok(Evaluation {
        verdict,
        counted: total.clone(),
        total,
        violations,
        findings: Vec::new(),
        warnings,
        baseline: None,
        counts_only: Some(CountsOnly {
            source: source.into(),
            unsplit: c.unsplit(),
            remainder: c.remainder(),
        }),
    })
}

/// Judge `findings` of the image in `repository` against `policy` as of `today`.
pub fn evaluate(
    policy: &Policy,
    findings: &[Finding],
    repository: Option<&str>,
    today: Date,
) -> Evaluation {
    evaluate_against(policy, findings, None, repository, today)
}

/// `evaluate`, comparing with `baseline` when given: inherited findings are labelled and,
/// for severities the policy counts as `new` (the default), not counted.
pub fn evaluate_against(
    policy: &Policy,
    findings: &[Finding],
    base: Option<&Baseline>,
    repository: Option<&str>,
    today: Date,
) -> Evaluation {
    let comparison = base.map(|b| {
        let images: Vec<&[Finding]> = b.images.iter().map(|i| i.findings.as_slice()).collect();
        baseline::compare(findings, &images)
    });
    let mut warnings = expiry_warnings(policy, today);
    let mut rule_hits = vec![0usize; policy.ignores.len()];

    let mut judged: Vec<Judged> = findings
        .iter()
        .enumerate()
        .map(|(n, f)| {
            let origin = comparison.as_ref().map(|c| c.origins[n]);
            let active_rule = policy.ignores.iter().enumerate().find(|(_, r)| {
                r.expires.is_none_or(|e| e >= today) && rule_matches(r, f, repository)
            });
            // Count matches of expired rules too, so they are not also reported as unmatched.
            for (i, r) in policy.ignores.iter().enumerate() {
                if rule_matches(r, f, repository) {
                    rule_hits[i] += 1;
                }
            }
            let disposition = if let Some((_, rule)) = active_rule {
                Disposition::Ignored {
                    reason: rule.reason.clone(),
                    expires: rule.expires,
                }
            } else if let Some(filter) = filter_reason(policy, f) {
                Disposition::Filtered { filter }
            } else if f.suppressed && policy.suppressed == Suppressed::Honor {
                Disposition::Suppressed
            } else if origin == Some(Origin::Inherited)
                && policy.baseline.mode(f.severity) == CountMode::New
            {
                Disposition::Inherited
            } else {
                Disposition::Counted { violation: false }
            };
            Judged {
                finding: f.clone(),
                disposition,
                origin,
            }
        })
        .collect();

    let mut unmatched_fail = false;
    for (rule, hits) in policy.ignores.iter().zip(&rule_hits) {
        if *hits == 0 && rule.vex.is_none() {
            let scope = match repository {
                Some(r) => format!(" in {r}"),
                None => String::new(),
            };
            warnings.push(format!("ignore rule {} matched no finding{scope}", rule.id));
            unmatched_fail |= policy.unmatched_ignore == UnmatchedIgnore::Fail;
        }
    }

    let (total, counted, violations) = count_and_mark(policy, &mut judged);

    let verdict = if violations.is_empty() && !unmatched_fail {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let baseline = base.zip(comparison).map(|(b, c)| {
        let labelled = judged.iter().map(|j| (j.finding.severity, j.origin));
        BaselineBlock::new(b, labelled, c.fixed)
    });
    Evaluation {
        verdict,
        counted,
        total,
        violations,
        findings: judged,
        warnings,
        baseline,
        counts_only: None,
    }
}

/// Warnings for ignore rules that expired (their findings count again) or expire soon.
fn expiry_warnings(policy: &Policy, today: Date) -> Vec<String> {
    let mut warnings = Vec::new();
    for rule in &policy.ignores {
        if let Some(exp) = rule.expires {
            if exp < today {
                warnings.push(format!(
                    "ignore rule {} expired on {exp}: its findings count again (reason was: {})",
                    rule.id, rule.reason
                ));
            } else if (exp - today).whole_days() <= EXPIRY_WARNING_DAYS {
                warnings.push(format!(
                    "ignore rule {} expires on {exp} ({} days left)",
                    rule.id,
                    (exp - today).whole_days()
                ));
            }
        }
    }
    warnings
}

type Counts = BTreeMap<Severity, u64>;

/// Totals and counted findings per severity, the maxima they exceed, each counted finding
/// marked as a violation or not, and the findings sorted most severe (then highest score)
/// first.
fn count_and_mark(policy: &Policy, judged: &mut [Judged]) -> (Counts, Counts, Vec<Violation>) {
    let mut total = BTreeMap::new();
    let mut counted = BTreeMap::new();
    for j in judged.iter() {
        *total.entry(j.finding.severity).or_insert(0u64) += 1;
        if matches!(j.disposition, Disposition::Counted { .. }) {
            *counted.entry(j.finding.severity).or_insert(0u64) += 1;
        }
    }
    let violations: Vec<Violation> = policy
        .max
        .iter()
        .filter_map(|(&severity, &max)| {
            let count = counted.get(&severity).copied().unwrap_or(0);
            (count > max).then_some(Violation {
                severity,
                count,
                max,
            })
        })
        .collect();
    for j in judged.iter_mut() {
        if let Disposition::Counted { violation } = &mut j.disposition {
            *violation = violations.iter().any(|v| v.severity == j.finding.severity);
        }
    }
    judged.sort_by(|a, b| {
        a.finding
            .severity
            .cmp(&b.finding.severity)
            .then_with(|| {
                b.finding
                    .inspector_score
                    .unwrap_or(0.0)
                    .total_cmp(&a.finding.inspector_score.unwrap_or(0.0))
            })
            .then_with(|| a.finding.id.cmp(&b.finding.id))
    });
    (total, counted, violations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Package;
    use proptest::prelude::*;
    use time::macros::date;

    fn finding(id: &str, sev: Severity) -> Finding {
        Finding {
            id: id.into(),
            severity: sev,
            title: id.into(),
            description: None,
            finding_arn: None,
            fix_available: Some("YES".into()),
            exploit_available: Some("NO".into()),
            inspector_score: Some(5.0),
            epss_score: Some(0.01),
            packages: vec![Package {
                name: "openssl".into(),
                ..Default::default()
            }],
            source_url: None,
            remediation: None,
            image_digest: None,
            repository: Some("app/web".into()),
            suppressed: false,
        }
    }

    fn rule(id: &str, expires: Option<Date>) -> IgnoreRule {
        IgnoreRule {
            id: id.into(),
            reason: "accepted".into(),
            expires,
            package: None,
            repository: None,
            vex: None,
        }
    }

    const TODAY: Date = date!(2026 - 11 - 22);

    #[test]
    fn baseline_counts_only_new_findings_unless_policy_says_all() {
        let mut p = Policy::default();
        p.apply_fail_on(Severity::High);
        let base = Baseline::single(
            "app/web:prod",
            Some("sha256:aa".into()),
            vec![
                finding("CVE-1", Severity::Critical),
                finding("CVE-2", Severity::Critical),
            ],
        );
        let cand = [
            finding("CVE-1", Severity::Critical),
            finding("CVE-3", Severity::Low),
        ];
        let e = evaluate_against(&p, &cand, Some(&base), None, TODAY);
        assert_eq!(e.verdict, Verdict::Pass, "CVE-1 is inherited");
        assert_eq!(e.counted(Severity::Critical), 0);
        let b = e.baseline.as_ref().unwrap();
        assert_eq!(
            b.summary(),
            "introduces 1 LOW, fixes 1 CRITICAL, 1 inherited"
        );
        assert_eq!(b.fixed[0].id, "CVE-2");
        assert_eq!(e.findings[0].disposition, Disposition::Inherited);
        assert_eq!(e.findings[0].origin, Some(Origin::Inherited));

        // A new CRITICAL fails.
        let cand = [finding("CVE-9", Severity::Critical)];
        let e = evaluate_against(&p, &cand, Some(&base), None, TODAY);
        assert_eq!(e.verdict, Verdict::Fail);

        // count-critical = "all": inherited criticals count again.
        p.baseline
            .per_severity
            .insert(Severity::Critical, CountMode::All);
        let cand = [finding("CVE-1", Severity::Critical)];
        let e = evaluate_against(&p, &cand, Some(&base), None, TODAY);
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(e.findings[0].origin, Some(Origin::Inherited));
        // Without a baseline nothing is labelled.
        let e = evaluate(&p, &cand, None, TODAY);
        assert!(e.baseline.is_none() && e.findings[0].origin.is_none());
    }

    #[test]
    fn suppressed_findings_count_unless_the_policy_honours_them() {
        let mut p = Policy::default();
        p.apply_fail_on(Severity::Critical);
        let mut hidden = finding("CVE-1", Severity::Critical);
        hidden.suppressed = true;
        let fs = [hidden, finding("CVE-2", Severity::Low)];
        // Default: counted, and still marked as suppressed in Inspector.
        let e = evaluate(&p, &fs, None, TODAY);
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(
            e.findings[0].disposition,
            Disposition::Counted { violation: true }
        );
        assert!(e.findings[0].finding.suppressed);
        assert_eq!((e.suppressed().count(), e.suppressed_counted()), (1, 1));
        // `suppressed = "honor"`: listed with its own disposition, not counted.
        p.suppressed = Suppressed::Honor;
        let e = evaluate(&p, &fs, None, TODAY);
        assert_eq!(e.verdict, Verdict::Pass);
        assert_eq!(e.findings[0].disposition, Disposition::Suppressed);
        assert_eq!(
            e.total.get(&Severity::Critical),
            Some(&1),
            "still in the totals"
        );
        assert_eq!(e.counted(Severity::Critical), 0);
        assert_eq!((e.suppressed().count(), e.suppressed_counted()), (1, 0));
        // An ignore rule still says why, first.
        p.ignores = vec![rule("CVE-1", None)];
        let e = evaluate(&p, &fs, None, TODAY);
        assert!(matches!(
            e.findings[0].disposition,
            Disposition::Ignored { .. }
        ));
    }

    #[test]
    fn threshold_is_max_allowed_count() {
        let mut p = Policy::default();
        p.max.insert(Severity::High, 1);
        let one = [finding("CVE-1", Severity::High)];
        assert_eq!(evaluate(&p, &one, None, TODAY).verdict, Verdict::Pass);
        let two = [
            finding("CVE-1", Severity::High),
            finding("CVE-2", Severity::High),
        ];
        let e = evaluate(&p, &two, None, TODAY);
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(
            e.violations,
            vec![Violation {
                severity: Severity::High,
                count: 2,
                max: 1
            }]
        );
        assert_eq!(e.violating().count(), 2);
    }

    #[test]
    fn fail_on_covers_more_severe_levels_only() {
        let mut p = Policy::default();
        p.apply_fail_on(Severity::High);
        assert_eq!(p.max.get(&Severity::Critical), Some(&0));
        assert_eq!(p.max.get(&Severity::High), Some(&0));
        assert_eq!(p.max.get(&Severity::Medium), None);
        assert_eq!(p.max.get(&Severity::Untriaged), None);
        let e = evaluate(&p, &[finding("CVE-1", Severity::Medium)], None, TODAY);
        assert_eq!(e.verdict, Verdict::Pass);
        let e = evaluate(&p, &[finding("CVE-1", Severity::Critical)], None, TODAY);
        assert_eq!(e.verdict, Verdict::Fail);
    }

    #[test]
    fn ignore_rules_expire_and_warn() {
        let mut p = Policy::default();
        p.apply_fail_on(Severity::Critical);
        let fs = [finding("CVE-9", Severity::Critical)];
        p.ignores = vec![rule("cve-9", Some(date!(2026 - 12 - 31)))];
        let e = evaluate(&p, &fs, None, TODAY);
        assert_eq!(e.verdict, Verdict::Pass);
        assert_eq!(e.ignored().count(), 1);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);

        p.ignores = vec![rule("CVE-9", Some(date!(2026 - 11 - 30)))];
        let e = evaluate(&p, &fs, None, TODAY);
        assert_eq!(e.verdict, Verdict::Pass);
        assert!(
            e.warnings[0].contains("expires on 2026-11-30 (8 days left)"),
            "{:?}",
            e.warnings
        );

        p.ignores = vec![rule("CVE-9", Some(date!(2026 - 11 - 21)))];
        let e = evaluate(&p, &fs, None, TODAY);
        assert_eq!(e.verdict, Verdict::Fail);
        assert!(e.warnings[0].contains("expired on 2026-11-21"));
        assert_eq!(
            e.warnings.len(),
            1,
            "an expired rule that matched is not also 'unmatched'"
        );
    }

    #[test]
    fn unmatched_rule_warns_or_fails() {
        let mut p = Policy {
            ignores: vec![rule("CVE-404", None)],
            ..Default::default()
        };
        let fs = [finding("CVE-1", Severity::Low)];
        let e = evaluate(&p, &fs, Some("app/web"), TODAY);
        assert_eq!(e.verdict, Verdict::Pass);
        assert_eq!(
            e.warnings,
            vec!["ignore rule CVE-404 matched no finding in app/web"]
        );
        p.unmatched_ignore = UnmatchedIgnore::Fail;
        assert_eq!(evaluate(&p, &fs, None, TODAY).verdict, Verdict::Fail);
    }

    #[test]
    fn scoped_rules_match_only_their_package_and_repository() {
        let mut p = Policy::default();
        p.apply_fail_on(Severity::High);
        let fs = [finding("CVE-1", Severity::High)];
        let mut r = rule("CVE-1", None);
        r.package = Some("zlib".into());
        p.ignores = vec![r.clone()];
        assert_eq!(evaluate(&p, &fs, None, TODAY).verdict, Verdict::Fail);
        r.package = Some("openssl".into());
        r.repository = Some("other/repo".into());
        p.ignores = vec![r.clone()];
        assert_eq!(evaluate(&p, &fs, None, TODAY).verdict, Verdict::Fail);
        r.repository = Some("app/web".into());
        p.ignores = vec![r];
        assert_eq!(evaluate(&p, &fs, None, TODAY).verdict, Verdict::Pass);
    }

    #[test]
    fn filters_drop_findings_but_keep_them_visible() {
        let mut p = Policy {
            ignore_unfixed: true,
            ..Default::default()
        };
        p.apply_fail_on(Severity::Low);
        let mut f = finding("CVE-1", Severity::Critical);
        f.fix_available = Some("NO".into());
        let e = evaluate(&p, &[f.clone()], None, TODAY);
        assert_eq!(e.verdict, Verdict::Pass);
        assert_eq!(e.findings.len(), 1);
        assert_eq!(
            e.findings[0].disposition,
            Disposition::Filtered {
                filter: "unfixed".into()
            }
        );

        let p2 = Policy {
            min_epss: Some(0.5),
            max: p.max.clone(),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&p2, &[finding("CVE-2", Severity::High)], None, TODAY).verdict,
            Verdict::Pass
        );
        let p3 = Policy {
            exploit_available_only: true,
            max: p.max.clone(),
            ..Default::default()
        };
        let mut ex = finding("CVE-3", Severity::High);
        assert_eq!(
            evaluate(&p3, &[ex.clone()], None, TODAY).verdict,
            Verdict::Pass
        );
        ex.exploit_available = Some("YES".into());
        assert_eq!(evaluate(&p3, &[ex], None, TODAY).verdict, Verdict::Fail);
    }

    #[test]
    fn min_epss_keeps_findings_without_a_score() {
        let p = Policy {
            min_epss: Some(0.5),
            max: [(Severity::High, 0)].into_iter().collect(),
            ..Default::default()
        };
        let mut f = finding("CVE-9", Severity::High);
        f.epss_score = None;
        let e = evaluate(&p, &[f], None, TODAY);
        assert_eq!(
            e.verdict,
            Verdict::Fail,
            "an unscored HIGH must still count"
        );
    }

    fn counts(pairs: &[(Severity, u64)], total: Option<u64>) -> EventCounts {
        EventCounts {
            given: pairs.iter().copied().collect(),
            total,
        }
    }

    #[test]
    fn events_decide_only_what_their_counts_can() {
        use Severity::*;
        let c = counts(&[(Critical, 1), (High, 2), (Medium, 0)], Some(5));
        let max = |pairs: &[(Severity, u64)]| Policy {
            max: pairs.iter().copied().collect(),
            ..Default::default()
        };
        assert_eq!(
            decide_event(&max(&[(Critical, 0)]), &c),
            EventDecision::Fail
        );
        assert_eq!(
            decide_event(&max(&[(Critical, 1)]), &c),
            EventDecision::Pass
        );
        // LOW shares the remainder 5 - 1 - 2 - 0 = 2 with INFORMATIONAL and UNTRIAGED.
        assert_eq!(decide_event(&max(&[(Low, 2)]), &c), EventDecision::Pass);
        assert!(matches!(
            decide_event(&max(&[(Low, 1)]), &c),
            EventDecision::Undecidable(ref why) if why[0].contains("2 LOW/INFORMATIONAL/UNTRIAGED")
        ));
        // Without a TOTAL nobody counted them: any LOW maximum is undecidable.
        let no_total = counts(&[(Critical, 0), (High, 0), (Medium, 0)], None);
        assert!(matches!(
            decide_event(&max(&[(Low, 100)]), &no_total),
            EventDecision::Undecidable(ref why) if why[0].contains("no TOTAL")
        ));
        // An event that splits LOW out decides it exactly.
        let split = counts(&[(Critical, 0), (High, 0), (Medium, 0), (Low, 3)], Some(4));
        assert_eq!(decide_event(&max(&[(Low, 2)]), &split), EventDecision::Fail);
        assert_eq!(
            decide_event(&max(&[(Informational, 1)]), &split),
            EventDecision::Pass
        );
        // A filter could remove the CRITICAL: the count alone cannot fail it, nor pass it.
        let mut p = max(&[(Critical, 0)]);
        p.ignore_unfixed = true;
        assert!(matches!(
            decide_event(&p, &c),
            EventDecision::Undecidable(_)
        ));
        // ... but a count within its maximum passes whatever the filters do.
        p.max.insert(Critical, 1);
        assert_eq!(decide_event(&p, &c), EventDecision::Pass);
        // unmatched-ignore = "fail" needs the findings: never passed from counts.
        let mut p = max(&[(Critical, 1)]);
        p.ignores.push(IgnoreRule {
            id: "CVE-2099-1".into(),
            reason: "r".into(),
            expires: None,
            package: None,
            repository: None,
            vex: None,
        });
        assert_eq!(decide_event(&p, &c), EventDecision::Pass);
        p.unmatched_ignore = UnmatchedIgnore::Fail;
        assert!(matches!(
            decide_event(&p, &c),
            EventDecision::Undecidable(ref why) if why[0].contains("unmatched-ignore")
        ));
        // A decided failure wins over an undecidable LOW.
        assert_eq!(
            decide_event(&max(&[(High, 0), (Low, 0)]), &c),
            EventDecision::Fail
        );
    }

    #[test]
    fn an_event_evaluates_to_counts_only() {
        use Severity::*;
        // TOTAL 31 with 1 CRITICAL, 2 HIGH: 28 findings nobody split out.
        let c = counts(&[(Critical, 1), (High, 2), (Medium, 0)], Some(31));
        let mut p = Policy::default();
        p.apply_fail_on(Critical);
        let e = evaluate_counts(&p, &c, "Inspector2 Scan event").unwrap();
        assert_eq!(e.verdict, Verdict::Fail);
        assert!(e.findings.is_empty(), "no placeholder findings");
        assert_eq!(e.counted(Critical), 1);
        assert_eq!(e.total.get(&High), Some(&2));
        assert_eq!(e.total.get(&Low), None, "LOW is not claimed to be 0");
        assert_eq!(e.violations.len(), 1);
        let only = e.counts_only.unwrap();
        assert_eq!(only.unsplit, [Low, Informational, Untriaged]);
        assert_eq!(only.remainder, Some(28));
        let mut p = Policy::default();
        p.max.insert(Low, 5);
        let why = evaluate_counts(&p, &c, "Inspector2 Scan event").unwrap_err();
        assert!(why[0].contains("28"), "{why:?}");
    }

    fn arb_findings() -> impl Strategy<Value = Vec<Finding>> {
        prop::collection::vec(
            (0usize..6, 0u8..20, any::<bool>()).prop_map(|(s, id, fixed)| {
                let mut f = finding(&format!("CVE-{id}"), Severity::ALL[s]);
                f.fix_available = Some(if fixed { "YES" } else { "NO" }.into());
                f
            }),
            0..40,
        )
    }

    fn arb_policy() -> impl Strategy<Value = Policy> {
        (
            prop::collection::btree_map(0usize..6, 0u64..5, 0..6),
            any::<bool>(),
            prop::collection::vec(0u8..20, 0..5),
        )
            .prop_map(|(max, unfixed, ids)| Policy {
                max: max
                    .into_iter()
                    .map(|(s, m)| (Severity::ALL[s], m))
                    .collect(),
                ignore_unfixed: unfixed,
                ignores: ids
                    .into_iter()
                    .map(|i| rule(&format!("CVE-{i}"), None))
                    .collect(),
                ..Default::default()
            })
    }

    proptest! {
        #[test]
        fn adding_an_ignore_rule_never_adds_violations(p in arb_policy(), fs in arb_findings(), id in 0u8..20) {
            let before = evaluate(&p, &fs, None, TODAY);
            let mut p2 = p.clone();
            p2.ignores.push(rule(&format!("CVE-{id}"), None));
            let after = evaluate(&p2, &fs, None, TODAY);
            prop_assert!(after.violating().count() <= before.violating().count());
            prop_assert!(after.verdict <= before.verdict);
        }

        #[test]
        fn raising_a_threshold_never_adds_violations(p in arb_policy(), fs in arb_findings(), s in 0usize..6) {
            let before = evaluate(&p, &fs, None, TODAY);
            let mut p2 = p.clone();
            if let Some(m) = p2.max.get_mut(&Severity::ALL[s]) { *m += 1; }
            let after = evaluate(&p2, &fs, None, TODAY);
            prop_assert!(after.violations.len() <= before.violations.len());
            prop_assert!(after.verdict <= before.verdict);
        }
    }
}
