//! The scripted servers refuse what AWS refuses: for each scripted operation (Inspector2
//! `ListCoverage` / `ListFindings`, CodePipeline `GetPipelineState` / `ListActionExecutions` /
//! `GetPipelineExecution` / `PutApprovalResult`, Inspector Scan `ScanSbom`), a valid request
//! and requests that break the model's rules are sent through the AWS SDK for Rust at the
//! scripted server, and three verdicts must agree: the server's answer (`ValidationException`
//! naming each member path, or not), our validator (support::model) on the body the server
//! received, and botocore's (`scripts/lib/model_check.py`: botocore's ParamValidator plus the
//! maximums and enums it leaves to the service) on the same body.

use crate::support;

use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus};
use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageStringComparison, CoverageStringFilter, FilterCriteria,
    StringComparison, StringFilter,
};
use serde_json::{json, Value};
use std::io::Write;
use support::scan_server::ScanServer;
use support::scenario::{ApprovalExec, PipelineScript, Scenario, ScenarioState};
use support::sdk::{codepipeline, inspector, inspector_scan, refusal};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const EXEC: &str = "0e7c5a52-6a2b-4f59-9d2e-0d1c6c1a2b3c";

/// One request as sent: which model, the server's verdict, and the member paths the SDK's
/// error message names.
struct Sent {
    service: &'static str,
    op: &'static str,
    body: Value,
    /// The server's error message, when it refused.
    refusal: Option<String>,
    /// The paths the case is written to break (sorted).
    expected: Vec<&'static str>,
}

/// botocore's verdicts on `sent`, one sorted path list per request.
fn botocore(sent: &[Sent]) -> Vec<Vec<String>> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/model_check.py");
    let mut child = std::process::Command::new(support::moto::venv_bin("python"))
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for s in sent {
            let line = json!({ "service": s.service, "operation": s.op, "body": s.body });
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ours(s: &Sent) -> Vec<String> {
    let mut paths: Vec<String> = support::model::model(s.service)
        .check(s.op, &s.body)
        .into_iter()
        .map(|v| v.path)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

fn agree(sent: &[Sent]) {
    let theirs = botocore(sent);
    assert_eq!(theirs.len(), sent.len());
    for (s, theirs) in sent.iter().zip(theirs) {
        let ours = ours(s);
        let case = format!("{}:{} {}", s.service, s.op, s.body);
        assert_eq!(ours, s.expected, "our validator, {case}");
        assert_eq!(theirs, s.expected, "botocore's validator, {case}");
        match &s.refusal {
            None => assert!(s.expected.is_empty(), "the server accepted {case}"),
            Some(msg) => {
                assert!(!s.expected.is_empty(), "the server refused {case}: {msg}");
                for p in &s.expected {
                    assert!(msg.contains(&format!("at '{p}'")), "{msg} names {p}");
                }
            }
        }
    }
}

fn last_body(scen: &Scenario) -> Value {
    scen.state.lock().unwrap().log.last().unwrap().1.clone()
}

fn sf(c: &str, v: &str) -> StringFilter {
    StringFilter::builder()
        .comparison(StringComparison::from(c))
        .value(v)
        .build()
        .unwrap()
}

fn cf(c: &str, v: &str) -> CoverageStringFilter {
    CoverageStringFilter::builder()
        .comparison(CoverageStringComparison::from(c))
        .value(v)
        .build()
        .unwrap()
}

#[tokio::test]
async fn inspector2_requests_are_refused_as_aws_and_botocore_refuse_them() {
    let scen = Scenario::start(ScenarioState::default());
    let c = inspector(&scen.url, "us-east-1");
    let mut sent = Vec::new();
    let findings = [
        (
            FilterCriteria::builder()
                .ecr_image_hash(sf("EQUALS", DIGEST))
                .finding_status(sf("EQUALS", "ACTIVE"))
                .finding_status(sf("EQUALS", "SUPPRESSED"))
                .build(),
            100,
            vec![],
        ),
        (
            FilterCriteria::builder()
                .finding_status(sf("BOGUS", ""))
                .build(),
            101,
            vec![
                "filterCriteria.findingStatus.1.member.comparison",
                "filterCriteria.findingStatus.1.member.value",
                "maxResults",
            ],
        ),
        (
            (0..11)
                .fold(FilterCriteria::builder(), |b, i| {
                    b.severity(sf("EQUALS", &format!("S{i}")))
                })
                .build(),
            0,
            vec!["filterCriteria.severity", "maxResults"],
        ),
    ];
    for (filter, max, expected) in findings {
        let r = c
            .list_findings()
            .filter_criteria(filter)
            .max_results(max)
            .send()
            .await;
        sent.push(Sent {
            service: "inspector2",
            op: "ListFindings",
            body: last_body(&scen),
            refusal: refusal(r),
            expected,
        });
    }
    let coverage = [
        (
            cf(
                "EQUALS",
                "arn:aws:ecr:us-east-1:123456789012:repository/a/b/x",
            ),
            10,
            vec![],
        ),
        (
            cf("PREFIX", "arn:aws:ecr:"),
            201,
            vec![
                "filterCriteria.resourceId.1.member.comparison",
                "maxResults",
            ],
        ),
    ];
    for (filter, max, expected) in coverage {
        let r = c
            .list_coverage()
            .filter_criteria(
                CoverageFilterCriteria::builder()
                    .resource_id(filter)
                    .build(),
            )
            .max_results(max)
            .send()
            .await;
        sent.push(Sent {
            service: "inspector2",
            op: "ListCoverage",
            body: last_body(&scen),
            refusal: refusal(r),
            expected,
        });
    }
    agree(&sent);
    assert_eq!(scen.take_refused().len(), 3);
}

fn pipeline() -> ScenarioState {
    ScenarioState {
        pipeline: Some(PipelineScript {
            name: "demo".into(),
            stage: "Approve".into(),
            action: "Manual".into(),
            executions: vec![ApprovalExec {
                execution_id: EXEC.into(),
                status: "InProgress",
                token: "tok-1".into(),
                custom_data: None,
                revision: None,
                appears_after_polls: 0,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn codepipeline_requests_are_refused_as_aws_and_botocore_refuse_them() {
    let scen = Scenario::start(pipeline());
    let c = codepipeline(&scen.url);
    let answer = |status: ApprovalStatus, summary: String, token: Option<&str>| {
        c.put_approval_result()
            .pipeline_name("demo")
            .stage_name("Approve")
            .action_name("Manual")
            .set_token(token.map(str::to_string))
            .result(
                ApprovalResult::builder()
                    .status(status)
                    .summary(summary)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let long_name = "x".repeat(101);
    let cases: Vec<(&'static str, Option<String>, Vec<&'static str>)> = vec![
        (
            "GetPipelineState",
            refusal(c.get_pipeline_state().name("demo").send().await),
            vec![],
        ),
        (
            "GetPipelineState",
            refusal(c.get_pipeline_state().name(&long_name).send().await),
            vec!["name"],
        ),
        (
            "ListActionExecutions",
            refusal(
                c.list_action_executions()
                    .pipeline_name("demo")
                    .max_results(100)
                    .send()
                    .await,
            ),
            vec![],
        ),
        (
            "ListActionExecutions",
            refusal(
                c.list_action_executions()
                    .pipeline_name("demo")
                    .max_results(101)
                    .send()
                    .await,
            ),
            vec!["maxResults"],
        ),
        (
            "GetPipelineExecution",
            refusal(
                c.get_pipeline_execution()
                    .pipeline_name("demo")
                    .pipeline_execution_id(EXEC)
                    .send()
                    .await,
            ),
            vec![],
        ),
        (
            "GetPipelineExecution",
            refusal(
                c.get_pipeline_execution()
                    .pipeline_name("demo")
                    .send()
                    .await,
            ),
            vec!["pipelineExecutionId"],
        ),
        (
            "PutApprovalResult",
            refusal(answer(ApprovalStatus::from("Maybe"), "x".repeat(513), None).await),
            vec!["result.status", "result.summary", "token"],
        ),
        (
            "PutApprovalResult",
            refusal(answer(ApprovalStatus::Approved, "x".repeat(512), Some("tok-1")).await),
            vec![],
        ),
    ];
    // The server logs every request in order: the bodies of the cases, one each.
    let log = scen.state.lock().unwrap().log.clone();
    assert_eq!(log.len(), cases.len());
    let sent: Vec<Sent> = cases
        .into_iter()
        .zip(log)
        .map(|((op, refusal, expected), (logged, body))| {
            assert_eq!(op, logged);
            Sent {
                service: "codepipeline",
                op,
                body,
                refusal,
                expected,
            }
        })
        .collect();
    agree(&sent);
    assert_eq!(scen.take_refused().len(), 4);
}

#[tokio::test]
async fn scan_sbom_requests_are_refused_as_aws_and_botocore_refuse_them() {
    use aws_sdk_inspectorscan::types::OutputFormat;
    let server = ScanServer::start(vec![], vec![]);
    let c = inspector_scan(&server.url);
    let sbom = aws_smithy_types::Document::Object(
        [
            ("bomFormat".to_string(), "CycloneDX".into()),
            ("specVersion".to_string(), "1.5".into()),
            (
                "components".to_string(),
                aws_smithy_types::Document::Array(vec![]),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let mut sent = Vec::new();
    for (format, expected) in [
        (OutputFormat::CycloneDx15, vec![]),
        (OutputFormat::from("XML"), vec!["outputFormat"]),
    ] {
        let r = c
            .scan_sbom()
            .sbom(sbom.clone())
            .output_format(format)
            .send()
            .await;
        sent.push(Sent {
            service: "inspector-scan",
            op: "ScanSbom",
            body: server.bodies().last().unwrap().clone(),
            refusal: refusal(r),
            expected,
        });
    }
    agree(&sent);
    assert_eq!(server.take_refused().len(), 1);
}
