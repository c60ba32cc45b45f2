//! The gate's policy: what it is (`Policy`), its keys (`keys`, the one table), where it
//! comes from (`file`: the policy file and the floor, layered with env and flags), and how
//! findings are judged against it (`eval`, pure), and the OpenVEX statements that become
//! ignores for one image (`vex`).

pub mod eval;
pub mod file;
pub mod keys;
pub mod vex;

use crate::model::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::Date;

/// The policy when no layer (flag, env, file, floor) sets any threshold: `fail-on = "HIGH"`,
/// max 0 CRITICAL and 0 HIGH. "No policy" must not mean "no gate".
pub const BUILTIN_FAIL_ON: Severity = Severity::High;

/// What to do with an ignore rule that matched no finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnmatchedIgnore {
    #[default]
    Warn,
    Fail,
}

/// Findings that an Inspector suppression rule hides (policy key `suppressed`). Counted by
/// default: a rule such as "not in use" suppresses every finding of a candidate that is not
/// deployed yet. Only the floor-governed policy may choose `honor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suppressed {
    #[default]
    Count,
    Honor,
}

impl Suppressed {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A file a local-scan cataloguer wanted and did not read, an unreadable package database or a
/// missing layer (policy key `scan-unread`): inconclusive (exit 3) by default; `warn` accepts
/// the gap and names it in every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanUnread {
    #[default]
    Fail,
    Warn,
}

impl ScanUnread {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// An accepted risk: findings with this id (optionally only in this package/repository)
/// are not counted until `expires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IgnoreRule {
    pub id: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Set on a rule made from an OpenVEX statement (`vex::rules_for`): where it came from
    /// and the subcomponents that narrow it. Such a rule is never "unmatched": a document
    /// speaks of many vulnerabilities the image may not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<vex::Origin>,
}

/// The validated, effective policy. Thresholds are maximum allowed counts per severity:
/// the gate fails when a count is greater than its maximum; an absent maximum is unlimited.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub max: BTreeMap<Severity, u64>,
    pub ignore_unfixed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_epss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_inspector_score: Option<f64>,
    pub exploit_available_only: bool,
    pub ignores: Vec<IgnoreRule>,
    pub unmatched_ignore: UnmatchedIgnore,
    /// Which findings the thresholds count when a baseline is given (`[baseline]`).
    #[serde(
        default,
        skip_serializing_if = "crate::baseline::BaselinePolicy::is_default"
    )]
    pub baseline: crate::baseline::BaselinePolicy,
    /// Whether findings suppressed in Inspector count (`suppressed`).
    #[serde(default, skip_serializing_if = "Suppressed::is_default")]
    pub suppressed: Suppressed,
    /// What a local scan does with files it could not read (`scan-unread`).
    #[serde(default, skip_serializing_if = "ScanUnread::is_default")]
    pub scan_unread: ScanUnread,
    /// The OpenVEX statements of the `vex` documents that the floor let through; each image
    /// gets the ignores of those about it ([`Policy::for_image`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex: Vec<vex::Statement>,
}

impl Policy {
    /// The policy one image is judged by: this one plus the ignores its VEX statements make
    /// for the image's platform manifest (or index) digest.
    pub fn for_image(&self, image: &crate::model::ScannedImage) -> std::borrow::Cow<'_, Policy> {
        if self.vex.is_empty() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut digests = vec![image.digest.as_str()];
        digests.extend(image.index_digest.as_deref());
        let mut p = self.clone();
        p.ignores.extend(vex::rules_for(&self.vex, &digests));
        std::borrow::Cow::Owned(p)
    }

    /// `CRITICAL<=0, HIGH<=5`, or `None` when no maximum is set.
    pub fn thresholds_text(&self) -> Option<String> {
        let max: Vec<String> = self.max.iter().map(|(s, n)| format!("{s}<={n}")).collect();
        (!max.is_empty()).then(|| max.join(", "))
    }

    /// `fail-on SEVERITY`: max 0 for that severity and every more severe one
    /// (UNTRIAGED is outside the ladder and only gated by its own maximum).
    pub fn apply_fail_on(&mut self, sev: Severity) {
        for s in Severity::ALL {
            if s != Severity::Untriaged && s.rank() <= sev.rank() {
                let e = self.max.entry(s).or_insert(0);
                *e = 0;
            }
        }
        if sev == Severity::Untriaged {
            self.max.insert(Severity::Untriaged, 0);
        }
    }
}
