//! What `verify` checks of the envelopes stored for a digest, each check one line (pure: the
//! clock and the floor are passed in). Among the envelopes, those of our predicate signed by
//! the key are the decisions; the newest of them that names the digest is the one checked:
//! its policy digest, its verdict (`pass`), its age and its policy against the floor.

use super::dsse::{pae, Envelope};
use super::key::verifies;
use super::statement::{policy_digest_of, Statement};
use super::{PAYLOAD_TYPE, PREDICATE_TYPE};
use crate::policy::eval::Verdict;
use crate::policy::file::Floor;
use p256::ecdsa::VerifyingKey;
use serde_json::Value;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How far in the future a decision may claim to be (clock skew between CI and deploy).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    pub checks: Vec<Check>,
    /// The decision checked (signed by the key and naming the digest), when there is one.
    pub decision: Option<Statement>,
}

impl Verified {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }
}

/// What to hold the decision to.
pub struct Expect<'a> {
    pub digest: &'a str,
    pub now: OffsetDateTime,
    pub max_age: Option<Duration>,
    pub floor: Option<&'a Floor>,
}

/// One envelope opened: the statement, if it is a decision signed by `key`.
enum Opened {
    NotOurs,
    BadSignature,
    Unreadable(String),
    Signed(Box<Statement>, Value),
}

fn open(bytes: &[u8], key: &VerifyingKey) -> Opened {
    let Ok(env) = Envelope::from_json(bytes) else {
        return Opened::Unreadable("not a DSSE envelope".into());
    };
    if env.payload_type != PAYLOAD_TYPE {
        return Opened::NotOurs;
    }
    let Ok(payload) = env.payload_bytes() else {
        return Opened::Unreadable("payload is not base64".into());
    };
    let Ok(value) = serde_json::from_slice::<Value>(&payload) else {
        return Opened::Unreadable("payload is not JSON".into());
    };
    if value.get("predicateType").and_then(Value::as_str) != Some(PREDICATE_TYPE) {
        return Opened::NotOurs;
    }
    let message = pae(&env.payload_type, &payload);
    if !env
        .signature_bytes()
        .iter()
        .any(|s| verifies(key, &message, s))
    {
        return Opened::BadSignature;
    }
    match serde_json::from_value::<Statement>(value.clone()) {
        Ok(st) => Opened::Signed(Box::new(st), value),
        Err(e) => Opened::Unreadable(format!("not a decision-v1 statement: {e}")),
    }
}

fn ok(name: &'static str, detail: String) -> Check {
    Check {
        name,
        ok: true,
        detail,
    }
}

fn failed(name: &'static str, detail: String) -> Check {
    Check {
        name,
        ok: false,
        detail,
    }
}

/// Check the `envelopes` stored for `expect.digest` against `key` (named `key_name`).
pub fn verify(
    envelopes: &[Vec<u8>],
    key: &VerifyingKey,
    key_name: &str,
    expect: &Expect,
) -> Verified {
    let mut checks = Vec::new();
    let (mut signed, mut bad, mut unreadable) = (Vec::new(), 0, Vec::new());
    for e in envelopes {
        match open(e, key) {
            Opened::Signed(st, v) => signed.push((st, v)),
            Opened::BadSignature => bad += 1,
            Opened::Unreadable(why) => unreadable.push(why),
            Opened::NotOurs => {}
        }
    }
    let ours = signed.len() + bad + unreadable.len();
    if ours == 0 {
        checks.push(failed(
            "attestation",
            format!(
                "no decision attestation ({PREDICATE_TYPE}) is stored for {}: run the gate with --attest",
                expect.digest
            ),
        ));
        return Verified {
            checks,
            decision: None,
        };
    }
    checks.push(ok(
        "attestation",
        format!(
            "{ours} decision attestation(s) stored for {}",
            expect.digest
        ),
    ));
    if signed.is_empty() {
        let mut why = format!("none of them is validly signed by {key_name}");
        if bad > 0 {
            why.push_str(&format!(
                " ({bad} signature(s) do not verify: payload altered, or signed by another key)"
            ));
        }
        if let Some(u) = unreadable.first() {
            why.push_str(&format!(" ({} unreadable: {u})", unreadable.len()));
        }
        checks.push(failed("signature", why));
        return Verified {
            checks,
            decision: None,
        };
    }
    checks.push(ok(
        "signature",
        format!("signed by {key_name} ({} of {ours} verify)", signed.len()),
    ));
    let decided = |st: &Statement| OffsetDateTime::parse(&st.predicate.decided_at, &Rfc3339).ok();
    let mut naming: Vec<(Box<Statement>, Value)> = signed
        .iter()
        .filter(|(st, _)| st.names(expect.digest))
        .cloned()
        .collect();
    naming.sort_by_key(|(st, _)| decided(st));
    let Some((st, value)) = naming.pop() else {
        let named: Vec<String> = signed
            .iter()
            .flat_map(|(st, _)| st.subject.iter())
            .filter_map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
            .collect();
        checks.push(failed(
            "subject",
            format!(
                "the signed decisions name {}, not {}: this attestation belongs to another image",
                named.join(", "),
                expect.digest
            ),
        ));
        return Verified {
            checks,
            decision: None,
        };
    };
    let p = &st.predicate;
    checks.push(ok(
        "subject",
        format!(
            "{} is a subject of the decision of {} (tool {} {})",
            expect.digest, p.decided_at, p.tool.name, p.tool.version
        ),
    ));
    let recomputed = value
        .pointer("/predicate/policy")
        .map(policy_digest_of)
        .unwrap_or_default();
    checks.push(if recomputed == p.policy_digest {
        ok(
            "policy digest",
            format!(
                "sha256:{} matches the attested policy",
                p.policy_digest.get("sha256").cloned().unwrap_or_default()
            ),
        )
    } else {
        failed(
            "policy digest",
            "the attested policy does not hash to its policyDigest".into(),
        )
    });
    checks.push(match p.verdict {
        Verdict::Pass => ok("verdict", "pass".into()),
        Verdict::Fail => failed(
            "verdict",
            format!(
                "the gate decided fail{} — only a pass may deploy",
                if p.soft_fail {
                    " (with --soft-fail)"
                } else {
                    ""
                }
            ),
        ),
    });
    checks.push(age_check(decided(&st), expect));
    if let Some(floor) = expect.floor {
        let today = decided(&st).map_or(expect.now.date(), |d| d.date());
        checks.push(
            match crate::policy::file::looser_than_floor(&p.policy, floor, today) {
                Ok(l) if l.is_empty() => ok(
                    "policy floor",
                    format!(
                        "the attested policy is at least as strict as {}",
                        floor.origin
                    ),
                ),
                Ok(l) => failed(
                    "policy floor",
                    format!(
                        "the attested policy is looser than {}: {}",
                        floor.origin,
                        l.join("; ")
                    ),
                ),
                Err(e) => failed(
                    "policy floor",
                    format!(
                        "the attested policy cannot be held to {}: {e}",
                        floor.origin
                    ),
                ),
            },
        );
    }
    Verified {
        checks,
        decision: Some(*st),
    }
}

fn age_check(decided: Option<OffsetDateTime>, expect: &Expect) -> Check {
    let Some(at) = decided else {
        return failed("age", "decidedAt is not an RFC 3339 time".into());
    };
    let age = expect.now - at;
    if age < -time::Duration::try_from(MAX_CLOCK_SKEW).unwrap_or_default() {
        return failed(
            "age",
            format!("decided at {at}, in the future (clock skew over 5 minutes)"),
        );
    }
    let age_std = Duration::try_from(age).unwrap_or_default();
    let shown = crate::duration::humanize(Duration::from_secs(age_std.as_secs()));
    match expect.max_age {
        Some(max) if age_std > max => failed(
            "age",
            format!(
                "decided {shown} ago, older than --max-age {}: run the gate again",
                crate::duration::humanize(max)
            ),
        ),
        Some(max) => ok(
            "age",
            format!(
                "decided {shown} ago (max {})",
                crate::duration::humanize(max)
            ),
        ),
        None => ok("age", format!("decided {shown} ago (no --max-age)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::statement::build;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn envelope(st: &Statement, k: &SigningKey) -> Vec<u8> {
        let payload = st.to_payload().unwrap();
        let sig: Signature = k.sign(&pae(PAYLOAD_TYPE, &payload));
        Envelope::new(PAYLOAD_TYPE, &payload, "", sig.to_der().as_bytes()).to_json()
    }

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap()
    }

    fn names(v: &Verified) -> Vec<(&'static str, bool)> {
        v.checks.iter().map(|c| (c.name, c.ok)).collect()
    }

    #[test]
    fn a_signed_pass_for_the_digest_within_its_age_verifies() {
        let report = crate::report::testing::report(0);
        let st = build(&report, &[]).unwrap();
        let k = key(3);
        let digest = report.images[0].image.digest.clone();
        let expect = Expect {
            digest: &digest,
            now: at("2026-11-22T11:00:00Z"),
            max_age: Some(Duration::from_secs(2 * 3600)),
            floor: None,
        };
        let v = verify(&[envelope(&st, &k)], k.verifying_key(), "file:k", &expect);
        assert!(v.passed(), "{:?}", v.checks);
        assert_eq!(
            names(&v),
            [
                ("attestation", true),
                ("signature", true),
                ("subject", true),
                ("policy digest", true),
                ("verdict", true),
                ("age", true)
            ]
        );
        // Too old.
        let old = Expect {
            max_age: Some(Duration::from_secs(1800)),
            ..expect
        };
        let v = verify(&[envelope(&st, &k)], k.verifying_key(), "file:k", &old);
        assert_eq!(v.checks.last().unwrap().name, "age");
        assert!(!v.passed());
    }

    #[test]
    fn another_key_a_tampered_payload_another_digest_and_a_fail_do_not_verify() {
        let report = crate::report::testing::report(0);
        let st = build(&report, &[]).unwrap();
        let k = key(3);
        let digest = report.images[0].image.digest.clone();
        let expect = Expect {
            digest: &digest,
            now: at("2026-11-22T11:00:00Z"),
            max_age: None,
            floor: None,
        };
        // Another key.
        let v = verify(
            &[envelope(&st, &key(4))],
            k.verifying_key(),
            "file:k",
            &expect,
        );
        assert_eq!(names(&v), [("attestation", true), ("signature", false)]);
        // The payload edited after signing (fail → pass).
        let mut failing = st.clone();
        failing.predicate.verdict = Verdict::Fail;
        let mut env: Envelope = serde_json::from_slice(&envelope(&failing, &k)).unwrap();
        let edited = String::from_utf8(env.payload_bytes().unwrap())
            .unwrap()
            .replace("\"verdict\":\"fail\"", "\"verdict\":\"pass\"");
        use base64::Engine as _;
        env.payload = base64::engine::general_purpose::STANDARD.encode(edited);
        let v = verify(&[env.to_json()], k.verifying_key(), "file:k", &expect);
        assert_eq!(names(&v), [("attestation", true), ("signature", false)]);
        // A decision of another image, stored under this digest.
        let other = crate::report::testing::digest("other");
        let v = verify(
            &[envelope(&st, &k)],
            k.verifying_key(),
            "file:k",
            &Expect {
                digest: &other,
                ..expect
            },
        );
        assert_eq!(names(&v)[2], ("subject", false));
        // The signed decision is fail.
        let v = verify(
            &[envelope(&failing, &k)],
            k.verifying_key(),
            "file:k",
            &expect,
        );
        assert!(v.checks.iter().any(|c| c.name == "verdict" && !c.ok));
        // Nothing stored, or only others' attestations.
        let v = verify(&[], k.verifying_key(), "file:k", &expect);
        assert_eq!(names(&v), [("attestation", false)]);
        // The newest decision wins: a later fail overrides an earlier pass.
        let mut later = failing.clone();
        later.predicate.decided_at = "2026-11-22T10:30:00Z".into();
        let v = verify(
            &[envelope(&st, &k), envelope(&later, &k)],
            k.verifying_key(),
            "file:k",
            &expect,
        );
        assert!(!v.passed());
        assert_eq!(
            v.decision.unwrap().predicate.decided_at,
            "2026-11-22T10:30:00Z"
        );
    }

    #[test]
    fn a_policy_looser_than_the_floor_is_refused() {
        let report = crate::report::testing::report(0);
        let st = build(&report, &[]).unwrap();
        let k = key(3);
        let digest = report.images[0].image.digest.clone();
        let strict =
            crate::policy::file::parse_floor("max-critical = 0\nmax-medium = 0\n", "floor.toml")
                .unwrap();
        let expect = Expect {
            digest: &digest,
            now: at("2026-11-22T11:00:00Z"),
            max_age: None,
            floor: Some(&strict),
        };
        let v = verify(&[envelope(&st, &k)], k.verifying_key(), "file:k", &expect);
        let c = v.checks.last().unwrap();
        assert_eq!((c.name, c.ok), ("policy floor", false));
        assert!(c.detail.contains("max-medium"), "{}", c.detail);
        // The fixture's own policy (fail-on HIGH, max-medium 1000, ignore-unfixed and two ignores)
        // against a floor it meets.
        let met = crate::policy::file::parse_floor(
            "fail-on = \"HIGH\"\nallow-filters = [\"ignore-unfixed\"]\nallow-ignore = [\"CVE-2026-*\"]\n",
            "floor.toml",
        )
        .unwrap();
        let v = verify(
            &[envelope(&st, &k)],
            k.verifying_key(),
            "file:k",
            &Expect {
                floor: Some(&met),
                ..expect
            },
        );
        assert!(v.passed(), "{:?}", v.checks);
    }
}
