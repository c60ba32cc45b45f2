//! The integration tests: one crate, so the AWS SDKs are linked once (each file under
//! tests/ used to be its own test binary, linking every SDK again). Each module below is one
//! concern, run against the real binary and real peers (see ../shared/TESTING.md).

mod scan_common;
mod support;

mod approval_e2e;
mod attest_e2e;
mod bad_input;
mod baseline_e2e;
mod credentials_e2e;
mod ecr_failures;
mod evaluate_e2e;
mod faults_e2e;
mod fixplan_e2e;
mod gate_e2e;
mod hook_git;
mod index_rule;
mod k8s_e2e;
mod model_conformance;
mod policy_e2e;
mod preflight_e2e;
mod push_e2e;
mod reports_external;
mod scan_bench;
mod scan_bounds;
mod scan_cli;
mod scan_deadline;
mod scan_lang;
mod scan_layers;
mod scan_os;
mod scan_rpm;
mod scan_sbom;
mod scenario_conformance;
mod secrets;
mod signals_e2e;
mod tag_race;
mod trust;
mod vex_e2e;
