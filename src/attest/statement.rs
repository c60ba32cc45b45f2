//! The in-toto statement of a decision and its `decision-v1` predicate, built from the one
//! [`Report`] every output renders (pure), and the canonical JSON that names the policy.

use super::{PREDICATE_TYPE, STATEMENT_TYPE};
use crate::error::{Error, Result};
use crate::model::Severity;
use crate::policy::eval::{Disposition, Verdict};
use crate::policy::Policy;
use crate::report::{Report, Tool};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    pub predicate: Decision,
}

/// One attested artifact: the repository URI and `{"sha256": "<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

/// The `decision-v1` predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The worst verdict over the images (what `report.json` says).
    pub verdict: Verdict,
    /// RFC 3339 UTC: when the gate decided (`report.json`'s `generatedAt`).
    pub decided_at: String,
    pub tool: Tool,
    /// The effective policy, as `report.json` holds it.
    pub policy: Policy,
    /// `{"sha256": "<hex>"}` of the policy's canonical JSON ([`canonical_json`]).
    pub policy_digest: BTreeMap<String, String>,
    /// Where each effective value came from (`inspector-gate config`'s table).
    pub policy_sources: Vec<PolicySource>,
    pub images: Vec<DecidedImage>,
    /// What `--on-timeout pass` let through unevaluated (each a reason naming the image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_evaluated: Vec<String>,
    /// `--soft-fail` was on (the verdict is still the real one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub soft_fail: bool,
}

/// One key of the effective policy, its value and the layer that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySource {
    pub key: String,
    pub value: String,
    /// `default`, `floor ssm:/…`, `file .inspector-gate.toml`, `env …`, `flag …`.
    pub source: String,
}

/// Counts of one severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Counted against the threshold (after filters, ignores, baseline, suppressions).
    pub counted: u64,
    /// Every ACTIVE and SUPPRESSED finding read.
    pub total: u64,
    /// Of `total`, how many Inspector suppression rules hide.
    pub suppressed: u64,
}

/// What was decided for one platform image manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecidedImage {
    /// `<acct>.dkr.ecr.<region>.<suffix>/<repo>`.
    pub repository: String,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    pub verdict: Verdict,
    /// Inspector's `lastScannedAt` of the scan the findings came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scanned_at: Option<String>,
    pub counts: BTreeMap<Severity, Counts>,
    /// The ids of the counted findings, most severe first, each once.
    pub counted_findings: Vec<String>,
    /// The digest of the baseline the findings were compared with (`--baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_digest: Option<String>,
}

/// Canonical JSON: object keys sorted by their UTF-16 code units (RFC 8785), no insignificant
/// whitespace, strings and numbers as serde_json writes them (the values a policy holds —
/// integers, short decimals, ASCII words — are written as RFC 8785 writes them).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `{"sha256": "<hex>"}` of the canonical JSON of a policy given as JSON.
pub fn policy_digest_of(policy: &Value) -> BTreeMap<String, String> {
    let hex = hex::encode(Sha256::digest(canonical_json(policy).as_bytes()));
    BTreeMap::from([("sha256".to_string(), hex)])
}

/// `sha256:<hex>` → `{"sha256": "<hex>"}`.
fn digest_set(digest: &str) -> BTreeMap<String, String> {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    BTreeMap::from([(alg.to_string(), hex.to_string())])
}

/// The statement of `report`'s decision: every gated platform digest and every index digest
/// as subjects; `sources` is the resolved policy's origin table `(key, value, source)`.
pub fn build(report: &Report, sources: &[(String, String, String)]) -> Result<Statement> {
    let policy_json = serde_json::to_value(&report.policy)
        .map_err(|e| Error::runtime(format!("cannot serialise the policy: {e}")))?;
    let mut subject: Vec<Subject> = Vec::new();
    let mut add = |name: String, digest: &str| {
        let s = Subject {
            name,
            digest: digest_set(digest),
        };
        if !subject.contains(&s) {
            subject.push(s);
        }
    };
    let mut images = Vec::new();
    for r in &report.images {
        let uri = r.image.repository_uri();
        add(uri.clone(), &r.image.digest);
        if let Some(ix) = &r.image.index_digest {
            add(uri.clone(), ix);
        }
        let mut counts: BTreeMap<Severity, Counts> = BTreeMap::new();
        let mut counted_findings: Vec<String> = Vec::new();
        for j in &r.evaluation.findings {
            let c = counts.entry(j.finding.severity).or_default();
            c.total += 1;
            c.suppressed += u64::from(j.finding.suppressed);
            if matches!(j.disposition, Disposition::Counted { .. }) {
                c.counted += 1;
                if !counted_findings.contains(&j.finding.id) {
                    counted_findings.push(j.finding.id.clone());
                }
            }
        }
        // An evaluation of counts only (no findings listed) has its counts in the evaluation.
        if r.evaluation.findings.is_empty() {
            for (sev, n) in &r.evaluation.total {
                counts.entry(*sev).or_default().total = *n;
            }
            for (sev, n) in &r.evaluation.counted {
                counts.entry(*sev).or_default().counted = *n;
            }
        }
        images.push(DecidedImage {
            repository: uri,
            digest: r.image.digest.clone(),
            platform: r.image.platform.clone(),
            index_digest: r.image.index_digest.clone(),
            verdict: r.evaluation.verdict,
            last_scanned_at: r.scan.last_scanned_at.clone(),
            counts,
            counted_findings,
            baseline_digest: r
                .evaluation
                .baseline
                .as_ref()
                .and_then(|b| b.digest.clone()),
        });
    }
    Ok(Statement {
        type_: STATEMENT_TYPE.into(),
        subject,
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Decision {
            verdict: report.verdict,
            decided_at: report.generated_at.clone(),
            tool: Tool::default(),
            policy_digest: policy_digest_of(&policy_json),
            policy: report.policy.clone(),
            policy_sources: sources
                .iter()
                .map(|(k, v, s)| PolicySource {
                    key: k.clone(),
                    value: v.clone(),
                    source: s.clone(),
                })
                .collect(),
            images,
            not_evaluated: report
                .not_evaluated
                .iter()
                .map(|n| n.reason.clone())
                .collect(),
            soft_fail: report.soft_fail,
        },
    })
}

impl Statement {
    /// The statement's JSON bytes: the DSSE payload.
    pub fn to_payload(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::runtime(format!("cannot serialise the statement: {e}")))
    }

    /// Whether `digest` (`sha256:<hex>`) is one of the subjects.
    pub fn names(&self, digest: &str) -> bool {
        let want = digest_set(digest);
        self.subject.iter().any(|s| s.digest == want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_without_whitespace() {
        let v = json!({"b": [ {"z": 1, "a": "x"} ], "a": {"é": true, "e": null}, "A": 0.5});
        assert_eq!(
            canonical_json(&v),
            r#"{"A":0.5,"a":{"e":null,"é":true},"b":[{"a":"x","z":1}]}"#
        );
        // The digest does not depend on the order the keys were written in.
        let w: Value =
            serde_json::from_str(r#"{"A":0.5,"b":[{"a":"x","z":1}],"a":{"e":null,"é":true}}"#)
                .unwrap();
        assert_eq!(policy_digest_of(&v), policy_digest_of(&w));
        assert_ne!(policy_digest_of(&v), policy_digest_of(&json!({"A": 0.6})));
    }

    #[test]
    fn the_statement_names_every_platform_and_the_index_and_counts_each_severity() {
        let report = crate::report::testing::mixed();
        let sources = vec![(
            "max-critical".to_string(),
            "0".to_string(),
            "floor ssm:/ci/floor".to_string(),
        )];
        let st = build(&report, &sources).unwrap();
        assert_eq!(st.type_, STATEMENT_TYPE);
        assert_eq!(st.predicate_type, PREDICATE_TYPE);
        let n_platforms = report.images.len();
        assert_eq!(st.subject.len(), n_platforms + 1, "{:?}", st.subject);
        for r in &report.images {
            assert!(st.names(&r.image.digest));
            assert!(st.names(r.image.index_digest.as_deref().unwrap()));
        }
        assert!(!st.names(&format!("sha256:{}", "0".repeat(64))));
        let p = &st.predicate;
        assert_eq!(p.verdict, report.verdict);
        assert_eq!(p.policy_sources[0].source, "floor ssm:/ci/floor");
        let policy_json = serde_json::to_value(&report.policy).unwrap();
        assert_eq!(p.policy_digest, policy_digest_of(&policy_json));
        // The first platform's counted finding 0 is suppressed in Inspector, and counted.
        let first = &p.images[0];
        let sev = report.images[0]
            .evaluation
            .findings
            .iter()
            .find(|j| j.finding.suppressed)
            .unwrap()
            .finding
            .severity;
        assert_eq!(first.counts[&sev].suppressed, 1);
        let total: u64 = first.counts.values().map(|c| c.total).sum();
        assert_eq!(total as usize, report.images[0].evaluation.findings.len());
        let counted: u64 = first.counts.values().map(|c| c.counted).sum();
        assert_eq!(
            counted,
            report.images[0].evaluation.counted.values().sum::<u64>()
        );
        assert_eq!(
            first.last_scanned_at.as_deref(),
            Some("2026-11-22T09:58:12Z")
        );
        // Round trip: what verify reads back is what was signed.
        let back: Statement = serde_json::from_slice(&st.to_payload().unwrap()).unwrap();
        assert_eq!(back, st);
    }
}
