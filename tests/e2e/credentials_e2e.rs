//! Credentials from `--role-arn`: the real binary assumes the role through moto's STS behind
//! the fault proxy. A throttled AssumeRole (STS's own 400 `Throttling`, more times than the
//! SDK's three attempts absorb) is retried and the gate goes on; a denial is one clear line
//! naming sts:AssumeRole and STS's cause, never "no credentials" and never a permission the
//! gated call would need; `--role-external-id` reaches STS as `ExternalId`.

use crate::support;

use support::aws::{self as a, text};
use support::faults::{Fault, FaultProxy, Plan};
use support::findings::{now, scanned};
use support::world::World;

const ROLE: &str = "arn:aws:iam::123456789012:role/inspector-gate";

fn world() -> World {
    let w = World::new();
    let digest = w.put_image("v1", "assumed");
    w.script(&digest, scanned(now() - 60, vec![]));
    w
}

fn gate(w: &World, sts: &str) -> (i32, String, String) {
    w.gate_env(
        &[
            "--image",
            "app/web:v1",
            "--fail-on",
            "CRITICAL",
            "--timeout",
            "90s",
            "--role-arn",
            ROLE,
            "--role-external-id",
            "ext-4711",
        ],
        &[("AWS_ENDPOINT_URL_STS", sts)],
    )
}

#[test]
fn a_throttled_assume_role_is_retried_and_the_gate_goes_on() {
    let w = world();
    let sts = FaultProxy::start(
        &w.moto.url,
        Plan::first(
            "POST /",
            4,
            Fault::Query {
                status: 400,
                code: "Throttling",
            },
        ),
    );
    let (code, out, err) = gate(&w, &sts.url);
    assert_eq!(code, 0, "{out}\n{err}");
    let rec = sts.record();
    assert_eq!(rec.faults.get("query-error"), Some(&4), "{:?}", rec.log);
    assert!(sts.forwarded("POST /") >= 1, "moto's STS answered at last");
    let assume: Vec<&String> = rec
        .query_bodies
        .iter()
        .filter(|b| b.contains("Action=AssumeRole"))
        .collect();
    assert!(assume.len() >= 5, "{assume:?}");
    assert!(
        assume
            .iter()
            .all(|b| b.contains("ExternalId=ext-4711")
                && b.contains("RoleSessionName=inspector-gate")),
        "{assume:?}"
    );
    eprintln!(
        "AssumeRole calls: {} ({} throttled)",
        assume.len(),
        rec.faults["query-error"]
    );
}

#[test]
fn a_denied_assume_role_names_sts_and_its_cause() {
    let w = world();
    let sts = FaultProxy::start(
        &w.moto.url,
        Plan::always(
            "POST /",
            Fault::Query {
                status: 403,
                code: "AccessDenied",
            },
        ),
    );
    let (code, out, err) = gate(&w, &sts.url);
    assert_eq!(code, 4, "{out}\n{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        line.contains("sts:AssumeRole")
            && line.contains("AccessDenied (injected)")
            && line.contains("trust policy"),
        "{line}"
    );
    assert!(!line.contains("no usable AWS credentials"), "{line}");
    assert!(!line.contains("grant ecr:"), "{line}");
    assert_eq!(sts.seen("POST /"), 1, "a denial is not asked again");
}

#[test]
fn an_external_id_without_a_role_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = text(&a::offline(
        &["gate", "--image", "app/web:v1", "--role-external-id", "x"],
        &[],
        dir.path(),
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--role-arn"), "{err}");
}
