//! The scripted Inspector2/CodePipeline server of the test suite, as a standalone process for
//! `scripts/demo` and the benchmarks: `cargo run --example scenario_server -- SCRIPT.json`.
//! Prints `listening on http://127.0.0.1:PORT` and serves until killed.
//!
//! Script: `{"pageSize": 100, "images": {"sha256:…": {"coverage": [{"reason": "SUCCESSFUL",
//! "code": "ACTIVE", "lastScannedAt": 1700000000} | {"noRow": true}], "reads": [[finding…]]}}}`.

// The server and the support modules it is built from, as the test suite has them.
#[allow(dead_code)]
#[path = "../tests/e2e/support/filters.rs"]
mod filters;
#[allow(dead_code)]
#[path = "../tests/e2e/support/findings.rs"]
mod findings;
#[allow(dead_code)]
#[path = "../tests/e2e/support/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../tests/e2e/support/scenario.rs"]
mod scenario;
#[allow(dead_code)]
#[path = "../tests/e2e/support/serve.rs"]
mod serve;

use scenario::{Cov, DigestScript, Read, Scenario, ScenarioState};
use serde_json::Value;

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: scenario_server SCRIPT.json");
    let script: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read script"))
        .expect("script is JSON");
    let mut st = ScenarioState {
        page_size: script["pageSize"].as_u64().unwrap_or(100) as usize,
        ..Default::default()
    };
    if let Some(images) = script["images"].as_object() {
        for (digest, s) in images {
            let coverage = s["coverage"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    if c.get("noRow").is_some() {
                        Cov::NoRow
                    } else {
                        Cov::Row {
                            code: leak(c["code"].as_str().unwrap_or("ACTIVE")),
                            reason: leak(c["reason"].as_str().unwrap_or("SUCCESSFUL")),
                            last_scanned_at: c["lastScannedAt"].as_i64(),
                        }
                    }
                })
                .collect();
            let reads = s["reads"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| Read::Findings(r.as_array().cloned().unwrap_or_default()))
                .collect();
            st.images
                .insert(digest.clone(), DigestScript { coverage, reads });
        }
    }
    let server = Scenario::start(st);
    println!("listening on {}", server.url);
    loop {
        std::thread::park();
    }
}
