//! The scripted Inspector2/CodePipeline server (tests/e2e/support/scenario.rs) answers in shapes the
//! real SDK deserialises, and is as unkind as AWS where the gate depends on it: empty pages
//! that carry a `nextToken`, throttling with `Retry-After` and `retryAfterSeconds`,
//! `ApprovalAlreadyCompletedException` on a second answer, retried stages, partitions. Each
//! test calls the server through aws-sdk-inspector2 / aws-sdk-codepipeline (no retries, dummy
//! credentials, 127.0.0.1 only) and checks what the SDK made of the answer.

use crate::support;

use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus};
use aws_sdk_inspector2::operation::list_coverage::ListCoverageError;
use aws_sdk_inspector2::operation::list_findings::ListFindingsError;
use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageStringComparison, CoverageStringFilter, FilterCriteria,
    StringComparison, StringFilter,
};
use std::collections::VecDeque;
use support::scenario::{
    finding, ApprovalExec, Cov, DigestScript, PipelineScript, Read, Scenario, ScenarioState,
};
use support::sdk::{codepipeline, inspector};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const REPO: &str = "app/web";

fn done() -> Cov {
    Cov::Row {
        code: "ACTIVE",
        reason: "SUCCESSFUL",
        last_scanned_at: Some(1_700_000_000),
    }
}

fn one_image(coverage: Vec<Cov>, reads: Vec<Read>) -> ScenarioState {
    ScenarioState {
        images: [(
            DIGEST.to_string(),
            DigestScript {
                coverage: VecDeque::from(coverage),
                reads: VecDeque::from(reads),
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

fn rid(partition: &str, region: &str) -> String {
    format!("arn:{partition}:ecr:{region}:123456789012:repository/{REPO}/{DIGEST}")
}

fn coverage_filter(resource_id: &str) -> CoverageFilterCriteria {
    CoverageFilterCriteria::builder()
        .resource_id(
            CoverageStringFilter::builder()
                .comparison(CoverageStringComparison::Equals)
                .value(resource_id)
                .build()
                .unwrap(),
        )
        .build()
}

fn eq(v: &str) -> StringFilter {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(v)
        .build()
        .unwrap()
}

fn findings_filter() -> FilterCriteria {
    FilterCriteria::builder()
        .ecr_image_hash(eq(DIGEST))
        .finding_status(eq("ACTIVE"))
        .build()
}

#[tokio::test]
async fn coverage_pages_may_be_empty_and_still_carry_a_token() {
    let mut st = one_image(vec![done()], vec![]);
    st.empty_coverage_pages = 2;
    let scen = Scenario::start(st);
    let client = inspector(&scen.url, "us-east-1");

    let first = client
        .list_coverage()
        .filter_criteria(coverage_filter(&rid("aws", "us-east-1")))
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert!(first.covered_resources().is_empty(), "page 1 is empty");
    let token = first.next_token().expect("an empty page carries a token");

    // Following the tokens finds the row on page 3.
    let second = client
        .list_coverage()
        .filter_criteria(coverage_filter(&rid("aws", "us-east-1")))
        .max_results(10)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert!(second.covered_resources().is_empty() && second.next_token().is_some());
    let third = client
        .list_coverage()
        .filter_criteria(coverage_filter(&rid("aws", "us-east-1")))
        .max_results(10)
        .next_token(second.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(third.next_token(), None, "the last page has no token");
    let row = &third.covered_resources()[0];
    assert_eq!(row.resource_id(), rid("aws", "us-east-1"));
    assert_eq!(row.account_id(), "123456789012");
    let status = row.scan_status().unwrap();
    assert_eq!(
        (status.status_code().as_str(), status.reason().as_str()),
        ("ACTIVE", "SUCCESSFUL")
    );
    assert_eq!(row.last_scanned_at().unwrap().secs(), 1_700_000_000);
    assert_eq!(
        row.resource_metadata()
            .and_then(|m| m.ecr_repository())
            .and_then(|r| r.name()),
        Some(REPO)
    );
    // The SDK's own paginator agrees: one row over three pages.
    let pages: Vec<_> = client
        .list_coverage()
        .filter_criteria(coverage_filter(&rid("aws", "us-east-1")))
        .max_results(10)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let rows: usize = pages
        .iter()
        .map(|p| p.as_ref().unwrap().covered_resources().len())
        .sum();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn finding_pages_may_be_empty_and_never_exceed_max_results() {
    let five: Vec<_> = (0..5)
        .map(|i| {
            finding(
                &format!("CVE-2024-{i:04}"),
                "HIGH",
                "pkg",
                "1",
                Some("2"),
                DIGEST,
                REPO,
            )
        })
        .collect();
    let mut st = one_image(vec![done()], vec![Read::Findings(five)]);
    st.empty_finding_pages = 1;
    let scen = Scenario::start(st);
    let client = inspector(&scen.url, "us-east-1");
    let pages: Vec<_> = client
        .list_findings()
        .filter_criteria(findings_filter())
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p.as_ref().unwrap().findings().len())
        .collect();
    // An empty page before each of the pages of 2, 2 and 1 (maxResults 2 beats the page size).
    assert_eq!(sizes, [0, 2, 0, 2, 0, 1]);
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.as_ref().unwrap().findings().to_vec())
        .map(|f| {
            f.package_vulnerability_details()
                .unwrap()
                .vulnerability_id()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[4], "CVE-2024-0004");
    let f = &pages[1].as_ref().unwrap().findings()[0];
    assert_eq!(f.severity().as_str(), "HIGH");
    assert_eq!(
        f.resources()[0]
            .details()
            .and_then(|d| d.aws_ecr_container_image())
            .map(|i| i.image_hash()),
        Some(DIGEST)
    );
}

#[tokio::test]
async fn finding_status_filters_are_ored_and_absent_means_every_status() {
    use support::scenario::with_status;
    let f = |id: &str, status: &str| {
        with_status(
            finding(id, "CRITICAL", "pkg", "1", Some("2"), DIGEST, REPO),
            status,
        )
    };
    let set = vec![
        f("CVE-A", "ACTIVE"),
        f("CVE-S", "SUPPRESSED"),
        f("CVE-C", "CLOSED"),
    ];
    let scen = Scenario::start(one_image(vec![done()], vec![Read::Findings(set)]));
    let client = inspector(&scen.url, "us-east-1");
    let read = |statuses: &'static [&'static str]| {
        let client = client.clone();
        async move {
            let mut filter = FilterCriteria::builder().ecr_image_hash(eq(DIGEST));
            for s in statuses {
                filter = filter.finding_status(eq(s));
            }
            let out = client
                .list_findings()
                .filter_criteria(filter.build())
                .max_results(100)
                .send()
                .await
                .unwrap();
            let mut got: Vec<String> = out
                .findings()
                .iter()
                .map(|f| f.status().as_str().to_string())
                .collect();
            got.sort();
            got
        }
    };
    assert_eq!(read(&["ACTIVE"]).await, ["ACTIVE"]);
    assert_eq!(read(&["SUPPRESSED"]).await, ["SUPPRESSED"]);
    assert_eq!(
        read(&["ACTIVE", "SUPPRESSED"]).await,
        ["ACTIVE", "SUPPRESSED"]
    );
    assert_eq!(read(&[]).await, ["ACTIVE", "CLOSED", "SUPPRESSED"]);
}

#[tokio::test]
async fn max_results_outside_the_model_is_a_validation_exception() {
    let scen = Scenario::start(one_image(vec![done()], vec![Read::Findings(vec![])]));
    let client = inspector(&scen.url, "us-east-1");
    let err = client
        .list_coverage()
        .filter_criteria(coverage_filter(&rid("aws", "us-east-1")))
        .max_results(201)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, ListCoverageError::ValidationException(_)),
        "{err:?}"
    );
    let err = client
        .list_findings()
        .filter_criteria(findings_filter())
        .max_results(101)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, ListFindingsError::ValidationException(_)),
        "{err:?}"
    );
    // Sent on purpose: taken, so they do not fail this test.
    let refused = scen.take_refused();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].contains("at 'maxResults'"), "{refused:?}");
}

#[tokio::test]
async fn throttling_carries_retry_after_in_header_and_body() {
    let scen = Scenario::start(one_image(
        vec![Cov::Throttle {
            retry_after: Some(7),
        }],
        vec![Read::Throttle {
            retry_after: Some(3),
        }],
    ));
    let client = inspector(&scen.url, "us-east-1");
    let err = client
        .list_coverage()
        .filter_criteria(coverage_filter(&rid("aws", "us-east-1")))
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 429);
    assert_eq!(raw.headers().get("Retry-After"), Some("7"));
    let body: serde_json::Value = serde_json::from_slice(raw.body().bytes().unwrap()).unwrap();
    assert_eq!(body["retryAfterSeconds"], 7);
    match err.into_service_error() {
        ListCoverageError::ThrottlingException(t) => {
            assert_eq!(t.retry_after_seconds(), Some(7));
            assert_eq!(t.message(), "Rate exceeded");
        }
        other => panic!("not a ThrottlingException: {other:?}"),
    }
    match client
        .list_findings()
        .filter_criteria(findings_filter())
        .send()
        .await
        .unwrap_err()
        .into_service_error()
    {
        ListFindingsError::ThrottlingException(t) => assert_eq!(t.retry_after_seconds(), Some(3)),
        other => panic!("not a ThrottlingException: {other:?}"),
    }
}

#[tokio::test]
async fn coverage_ids_carry_the_partition_of_the_signed_region() {
    for (region, partition) in [
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("eu-west-1", "aws"),
    ] {
        // Two listings: the first with the right partition, the second with `aws`.
        let scen = Scenario::start(one_image(vec![done()], vec![]));
        let client = inspector(&scen.url, region);
        let right = client
            .list_coverage()
            .filter_criteria(coverage_filter(&rid(partition, region)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            right.covered_resources().len(),
            1,
            "{region}: {partition} id"
        );
        assert_eq!(
            right.covered_resources()[0].resource_id(),
            rid(partition, region)
        );
        if partition != "aws" {
            let wrong = client
                .list_coverage()
                .filter_criteria(coverage_filter(&rid("aws", region)))
                .send()
                .await
                .unwrap();
            assert!(
                wrong.covered_resources().is_empty(),
                "{region}: an arn:aws: id matches nothing in {partition}"
            );
        }
        // Another region's id matches nothing either.
        let elsewhere = client
            .list_coverage()
            .filter_criteria(coverage_filter(&rid(partition, "ap-south-2")))
            .send()
            .await
            .unwrap();
        assert!(elsewhere.covered_resources().is_empty(), "{region}");
    }
}

fn attempt(id: &str, status: &'static str, token: &str) -> ApprovalExec {
    ApprovalExec {
        execution_id: id.into(),
        status,
        token: token.into(),
        custom_data: Some(format!("Image_Digest={DIGEST}")),
        revision: None,
        appears_after_polls: 0,
    }
}

fn pipeline_state(attempts: Vec<ApprovalExec>) -> ScenarioState {
    ScenarioState {
        pipeline: Some(PipelineScript {
            name: "demo".into(),
            stage: "Approve".into(),
            action: "Manual".into(),
            executions: attempts,
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn answer(
    c: &aws_sdk_codepipeline::Client,
    token: &str,
    summary: &str,
) -> Result<(), aws_sdk_codepipeline::operation::put_approval_result::PutApprovalResultError> {
    c.put_approval_result()
        .pipeline_name("demo")
        .stage_name("Approve")
        .action_name("Manual")
        .token(token)
        .result(
            ApprovalResult::builder()
                .status(ApprovalStatus::Approved)
                .summary(summary)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

#[tokio::test]
async fn a_second_answer_to_the_same_token_is_approval_already_completed() {
    let scen = Scenario::start(pipeline_state(vec![attempt("e-1", "InProgress", "tok-1")]));
    let c = codepipeline(&scen.url);
    // The pipeline state must be read before the attempt is visible (appears_after_polls 0).
    c.get_pipeline_state().name("demo").send().await.unwrap();
    answer(&c, "tok-1", "first").await.unwrap();
    let err = answer(&c, "tok-1", "second").await.unwrap_err();
    assert!(err.is_approval_already_completed_exception(), "{err:?}");
    let err = answer(&c, "tok-unknown", "x").await.unwrap_err();
    assert!(err.is_invalid_approval_token_exception(), "{err:?}");
    let err = answer(&c, "tok-1", &"x".repeat(513)).await.unwrap_err();
    assert!(err.is_validation_exception(), "{err:?}");
    // Sent on purpose: taken, so it does not fail this test.
    let refused = scen.take_refused();
    assert!(
        refused.len() == 1 && refused[0].contains("at 'result.summary'"),
        "{refused:?}"
    );
    assert_eq!(
        scen.state.lock().unwrap().approvals,
        [("tok-1".into(), "Approved".into(), "first".into())],
        "only the first answer was recorded"
    );
    // CodePipeline shows the answered attempt as Succeeded, with no token to answer.
    let state = c.get_pipeline_state().name("demo").send().await.unwrap();
    let latest = state.stage_states()[1].action_states()[0]
        .latest_execution()
        .unwrap();
    assert_eq!(latest.status().map(|s| s.as_str()), Some("Succeeded"));
    assert_eq!(latest.token(), None);
    assert_eq!(latest.summary(), Some("first"));
}

#[tokio::test]
async fn a_retried_stage_lists_the_answered_attempt_and_the_new_one() {
    // RetryStageExecution keeps the execution id: attempt 1 was rejected, attempt 2 waits.
    let scen = Scenario::start(pipeline_state(vec![
        attempt("e-1", "Failed", "tok-1a"),
        attempt("e-1", "InProgress", "tok-1b"),
    ]));
    let c = codepipeline(&scen.url);
    let state = c.get_pipeline_state().name("demo").send().await.unwrap();
    let stage = &state.stage_states()[1];
    assert_eq!(
        stage.latest_execution().map(|e| e.pipeline_execution_id()),
        Some("e-1")
    );
    let latest = stage.action_states()[0].latest_execution().unwrap();
    assert_eq!(
        (latest.status().map(|s| s.as_str()), latest.token()),
        (Some("InProgress"), Some("tok-1b"))
    );
    let listed = c
        .list_action_executions()
        .pipeline_name("demo")
        .filter(
            aws_sdk_codepipeline::types::ActionExecutionFilter::builder()
                .pipeline_execution_id("e-1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let details = listed.action_execution_details();
    let seen: Vec<(&str, &str, &str)> = details
        .iter()
        .map(|d| {
            (
                d.pipeline_execution_id().unwrap(),
                d.status().unwrap().as_str(),
                d.output()
                    .and_then(|o| o.execution_result())
                    .and_then(|r| r.external_execution_id())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("e-1", "InProgress", "tok-1b"), ("e-1", "Failed", "tok-1a")],
        "newest first, both attempts of the same execution"
    );
    assert_ne!(
        details[0].action_execution_id(),
        details[1].action_execution_id()
    );
    assert_eq!(
        details[0]
            .input()
            .and_then(|i| i.resolved_configuration())
            .and_then(|m| m.get("CustomData"))
            .map(String::as_str),
        Some(format!("Image_Digest={DIGEST}").as_str())
    );
    // The earlier attempt is answered for good; the new one takes an answer.
    let err = answer(&c, "tok-1a", "again").await.unwrap_err();
    assert!(err.is_approval_already_completed_exception(), "{err:?}");
    answer(&c, "tok-1b", "retry approved").await.unwrap();
}

const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// The finding ids a `ListFindings` read with `filter` gets, every page (sorted).
async fn ids(c: &aws_sdk_inspector2::Client, filter: Option<FilterCriteria>) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = None;
    for _ in 0..20 {
        let page = c
            .list_findings()
            .set_filter_criteria(filter.clone())
            .max_results(1)
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        out.extend(page.findings().iter().map(|f| {
            f.package_vulnerability_details()
                .unwrap()
                .vulnerability_id()
                .to_string()
        }));
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn every_filter_is_applied_and_a_read_without_a_digest_gets_every_image() {
    let mut st = one_image(
        vec![done()],
        vec![Read::Findings(vec![
            finding("CVE-1", "HIGH", "zlib", "1", None, DIGEST, REPO),
            finding("CVE-2", "LOW", "zlib", "1", None, DIGEST, REPO),
        ])],
    );
    st.images.insert(
        OTHER.into(),
        DigestScript {
            coverage: VecDeque::from(vec![done()]),
            reads: VecDeque::from(vec![Read::Findings(vec![finding(
                "CVE-3", "CRITICAL", "curl", "1", None, OTHER, "app/api",
            )])]),
        },
    );
    let scen = Scenario::start(st);
    let c = inspector(&scen.url, "us-east-1");
    // No digest filter: every image's findings, as Inspector answers (paged, one per page).
    assert_eq!(ids(&c, None).await, ["CVE-1", "CVE-2", "CVE-3"]);
    let sev = |v: &str| {
        StringFilter::builder()
            .comparison(StringComparison::Equals)
            .value(v)
            .build()
            .unwrap()
    };
    let prefix = StringFilter::builder()
        .comparison(StringComparison::Prefix)
        .value(&DIGEST[..12])
        .build()
        .unwrap();
    // Values of one filter are ORed …
    let f = FilterCriteria::builder()
        .severity(sev("HIGH"))
        .severity(sev("CRITICAL"))
        .build();
    assert_eq!(ids(&c, Some(f)).await, ["CVE-1", "CVE-3"]);
    // … different filters ANDed, PREFIX and NOT_EQUALS as Inspector compares.
    let f = FilterCriteria::builder()
        .ecr_image_hash(prefix)
        .severity(
            StringFilter::builder()
                .comparison(StringComparison::NotEquals)
                .value("LOW")
                .build()
                .unwrap(),
        )
        .build();
    assert_eq!(ids(&c, Some(f)).await, ["CVE-1"]);
    // The repository and registry filters are applied too.
    let f = FilterCriteria::builder()
        .ecr_image_hash(eq(OTHER))
        .ecr_image_repository_name(eq(REPO))
        .build();
    assert!(ids(&c, Some(f)).await.is_empty());
    let f = FilterCriteria::builder()
        .ecr_image_registry(eq("210987654321"))
        .build();
    assert!(ids(&c, Some(f)).await.is_empty());
    // Coverage without a resource id: every image of the repository the listing names.
    let rows = c
        .list_coverage()
        .filter_criteria(
            CoverageFilterCriteria::builder()
                .ecr_repository_name(
                    CoverageStringFilter::builder()
                        .comparison(CoverageStringComparison::Equals)
                        .value("app/api")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = rows
        .covered_resources()
        .iter()
        .map(|r| r.resource_id())
        .collect();
    assert_eq!(
        ids,
        [format!(
            "arn:aws:ecr:us-east-1:123456789012:repository/app/api/{OTHER}"
        )]
    );
}

#[tokio::test]
async fn action_executions_page_and_put_approval_result_can_be_throttled() {
    let mut st = pipeline_state(vec![
        attempt("e-1", "Succeeded", "tok-1"),
        attempt("e-2", "Failed", "tok-2"),
        attempt("e-3", "InProgress", "tok-3"),
    ]);
    st.action_page_size = 1;
    st.put_throttles = 1;
    let scen = Scenario::start(st);
    let c = codepipeline(&scen.url);
    c.get_pipeline_state().name("demo").send().await.unwrap();
    let mut seen = Vec::new();
    let mut next = None;
    for _ in 0..10 {
        let page = c
            .list_action_executions()
            .pipeline_name("demo")
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        assert_eq!(page.action_execution_details().len(), 1);
        seen.extend(
            page.action_execution_details()
                .iter()
                .map(|d| d.pipeline_execution_id().unwrap().to_string()),
        );
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["e-3", "e-2", "e-1"], "newest first, one per page");
    let bad = c
        .list_action_executions()
        .pipeline_name("demo")
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad.is_invalid_next_token_exception(), "{bad:?}");
    let err = answer(&c, "tok-3", "ok").await.unwrap_err();
    assert_eq!(
        aws_sdk_codepipeline::error::ProvideErrorMetadata::code(&err),
        Some("ThrottlingException"),
        "{err:?}"
    );
    answer(&c, "tok-3", "ok").await.unwrap();
}
