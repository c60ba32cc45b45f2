//! End-to-end: CodePipeline manual approvals answered by the real binary against the scripted
//! CodePipeline server. The gate must approve only the execution tied to the gated digest.

use crate::support;

use serde_json::Value;
use std::collections::VecDeque;
use support::scenario::{finding, ApprovalExec, PipelineScript, Read};
use support::world::{done_long_ago, exec, pipeline, script, World, APPROVE, REPO};

/// The shared world, plus the digest of its one image.
struct Approval {
    world: World,
    digest: String,
}

impl std::ops::Deref for Approval {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl Approval {
    /// An image scanned long ago with `findings` (CRITICAL ones when `bad`), and a pipeline
    /// built by `pipeline(digest)`.
    fn new(bad: bool, pipeline: impl FnOnce(&str) -> PipelineScript) -> Approval {
        let world = World::new();
        let digest = world.put_image("v1", if bad { "bad" } else { "good" });
        let f = if bad {
            vec![finding(
                "CVE-2024-9999",
                "CRITICAL",
                "openssl",
                "3.0.1",
                Some("3.0.13"),
                &digest,
                REPO,
            )]
        } else {
            vec![]
        };
        world.script(
            &digest,
            script(vec![done_long_ago()], vec![Read::Findings(f)]),
        );
        world.scen.state.lock().unwrap().pipeline = Some(pipeline(&digest));
        Approval { world, digest }
    }

    fn gate(&self, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec![
            "--image",
            "app/web:v1",
            "--fail-on",
            "CRITICAL",
            "--timeout",
            "20s",
            "--approve",
            APPROVE,
        ];
        args.extend_from_slice(extra);
        self.world.gate(&args)
    }

    /// `approve --report <report> --approve <approve>`, polling fast, then `extra`.
    fn approve(
        &self,
        report: &str,
        approve: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let mut args = vec![
            "approve",
            "--report",
            report,
            "--approve",
            approve,
            "--poll-interval",
            "50ms",
        ];
        args.extend_from_slice(extra);
        self.run(&args, env)
    }
}

#[test]
fn approval_that_starts_after_the_gate_is_waited_for_and_approved() {
    let w = Approval::new(false, |d| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            3,
        )])
    });
    let (code, out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1);
    assert_eq!((ap[0].0.as_str(), ap[0].1.as_str()), ("tok-1", "Approved"));
    assert!(ap[0].2.starts_with("inspector-gate PASSED"), "{}", ap[0].2);
    assert!(
        w.scen.state.lock().unwrap().state_polls >= 4,
        "polled until the approval appeared"
    );
}

#[test]
fn only_the_execution_carrying_our_digest_is_approved() {
    let w = Approval::new(false, |d| {
        pipeline(vec![
            exec("e-other", "tok-other", Some("Image_Digest=sha256:1111111111111111111111111111111111111111111111111111111111111111".into()), 0),
            exec("e-ours", "tok-ours", Some(format!("Image_Digest={d}")), 4),
        ])
    });
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1, "exactly one answer: {ap:?}");
    assert_eq!(ap[0].0, "tok-ours");
    // It saw the decoy first, refused it, and answered ours for the reason it names.
    assert!(
        err.contains("approval is waiting on execution e-other, which is not tied to this image"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "answering demo/Approve/Manual for execution e-ours (approval CustomData names {})",
            w.digest
        )),
        "{err}"
    );
}

#[test]
fn an_execution_that_cannot_be_tied_is_never_approved() {
    let w = Approval::new(false, |_| {
        pipeline(vec![exec("e-other", "tok-other", None, 0)])
    });
    let (code, _out, err) = w.gate(&["--timeout", "3s"]);
    assert_eq!(code, 4, "{err}");
    assert!(w.approvals().is_empty());
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        line.contains("did not approve demo/Approve/Manual")
            && line.contains("e-other")
            && line.contains("--pipeline-execution-id"),
        "{line}"
    );
}

#[test]
fn parallel_mode_takes_the_token_from_list_action_executions() {
    let w = Approval::new(false, |d| {
        let mut p = pipeline(vec![exec(
            "e-par",
            "tok-par",
            Some(format!("digest {d}")),
            0,
        )]);
        p.parallel = true;
        p
    });
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.approvals()[0].0, "tok-par");
    assert!(w.scen.calls("ListActionExecutions") >= 1);
}

#[test]
fn explicit_execution_id_and_ecr_source_revision_tie_executions() {
    let w = Approval::new(false, |_| {
        pipeline(vec![
            exec("e-1", "tok-1", None, 0),
            exec("e-2", "tok-2", None, 0),
        ])
    });
    let (code, _out, err) = w.gate(&["--pipeline-execution-id", "e-1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        w.approvals()[0].0,
        "tok-1",
        "approved the execution named, not the latest"
    );

    let w = Approval::new(false, |d| {
        let mut e = exec("e-src", "tok-src", None, 0);
        e.revision = Some(d.to_string());
        pipeline(vec![e])
    });
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.approvals()[0].0, "tok-src");
}

#[test]
fn failing_image_is_rejected_with_a_bounded_multibyte_summary() {
    let url = format!("https://reports.example/{}", "ü€".repeat(300));
    let w = Approval::new(true, |d| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            0,
        )])
    });
    let (code, _out, err) = w.gate(&["--report-url", &url]);
    assert_eq!(code, 1, "{err}");
    let ap = w.approvals();
    assert_eq!(ap[0].1, "Rejected");
    assert!(
        ap[0].2.chars().count() <= 512,
        "{} chars",
        ap[0].2.chars().count()
    );
    // Short URL: the counts, the fix plan's first line and the top finding fit.
    let w = Approval::new(true, |d| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            0,
        )])
    });
    let (code, _out, _err) = w.gate(&["--report-url", "https://ci.example/build/42"]);
    assert_eq!(code, 1);
    let s = &w.approvals()[0].2;
    assert!(
        s.contains("FAILED")
            && s.contains("CRITICAL 1/0")
            && s.contains("CVE-2024-9999")
            && s.ends_with("https://ci.example/build/42"),
        "{s}"
    );
    assert!(
        s.contains(
            "To pass: upgrade openssl 3.0.1 → 3.0.13 (fixes 1 CRITICAL). Top: CVE-2024-9999"
        ),
        "{s}"
    );
}

#[test]
fn expired_token_and_completed_approval_are_clear_errors() {
    for (err_kind, expect) in [
        (
            "InvalidApprovalTokenException",
            "the approval token for demo/Approve/Manual is no longer valid",
        ),
        (
            "ApprovalAlreadyCompletedException",
            "the approval demo/Approve/Manual was already answered; nothing was sent",
        ),
    ] {
        let w = Approval::new(false, |d| {
            let mut p = pipeline(vec![exec(
                "e-1",
                "tok-1",
                Some(format!("Image_Digest={d}")),
                0,
            )]);
            p.put_error = Some(err_kind);
            p
        });
        let (code, _out, err) = w.gate(&[]);
        assert_eq!(code, 4, "{err_kind}: {err}");
        assert!(err.contains(expect), "{err_kind}: {err}");
        assert_eq!(w.scen.calls("PutApprovalResult"), 1, "never sent twice");
    }
}

#[test]
fn misnamed_stage_action_or_pipeline_is_a_clear_error() {
    let w = Approval::new(false, |d| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            0,
        )])
    });
    let (code, _o, err) = w.gate(&["--approve", "demo/Aprove/Manual"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("stage Aprove not found in pipeline demo (stages: Source, Approve)"),
        "{err}"
    );
    let (code, _o, err) = w.gate(&["--approve", "demo/Approve/Manul"]);
    assert_eq!(code, 4);
    assert!(
        err.contains("action Manul not found in stage Approve (actions: Manual)"),
        "{err}"
    );
    let (code, _o, err) = w.gate(&["--approve", "nope/Approve/Manual"]);
    assert_eq!(code, 4);
    assert!(err.contains("pipeline nope not found"), "{err}");
    let (code, _o, err) = w.gate(&["--approve", "just-one-part"]);
    assert_eq!(code, 2, "{err}");
    assert!(w.approvals().is_empty());
}

#[test]
fn approve_command_answers_from_a_saved_report() {
    let w = Approval::new(true, |d| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            0,
        )])
    });
    // Gate without approving, keep the report, then approve from it.
    let o = w.world.gate(&[
        "--image",
        "app/web:v1",
        "--fail-on",
        "CRITICAL",
        "--timeout",
        "20s",
        "--report-dir",
        "r",
    ]);
    assert_eq!(o.0, 1);
    let report = w.json("r/report.json");
    assert_eq!(report["images"][0]["image"]["digest"], w.digest.as_str());
    let (code, _out, err) = w.approve("r/report.json", APPROVE, &["--timeout", "10s"], &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(w.approvals()[0].1, "Rejected");
    // The same report again: tok-1 is answered (CodePipeline marks the attempt Failed and
    // refuses a second answer), so nothing waits for this image and nothing is sent.
    let (code, _out, err) = w.approve("r/report.json", APPROVE, &["--timeout", "2s"], &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "did not approve demo/Approve/Manual: no execution of this image reached the approval"
        ),
        "{err}"
    );
    assert_eq!(w.scen.calls("PutApprovalResult"), 1, "never answered twice");
    // A new run of the pipeline for the same image; CODEBUILD_INITIATOR supplies the
    // pipeline name.
    let d = w.digest.clone();
    w.scen
        .state
        .lock()
        .unwrap()
        .pipeline
        .as_mut()
        .unwrap()
        .executions
        .push(exec("e-2", "tok-2", Some(format!("Image_Digest={d}")), 0));
    let o = w.approve(
        "r/report.json",
        "Approve/Manual",
        &["--timeout", "10s"],
        &[("CODEBUILD_INITIATOR", "codepipeline/demo")],
    );
    assert_eq!(o.0, 1, "{}", o.2);
    let ap = w.approvals();
    assert_eq!(ap.len(), 2, "{ap:?}");
    assert_eq!((ap[1].0.as_str(), ap[1].1.as_str()), ("tok-2", "Rejected"));
}

/// A retried stage (RetryStageExecution keeps the execution id): attempt 1 of e-1 was
/// rejected, attempt 2 waits InProgress with a new token. Both tie to our digest.
fn retried(d: &str) -> PipelineScript {
    let mut answered = exec("e-1", "tok-1a", Some(format!("Image_Digest={d}")), 0);
    answered.status = "Failed";
    pipeline(vec![
        answered,
        exec("e-1", "tok-1b", Some(format!("Image_Digest={d}")), 0),
    ])
}

#[test]
fn a_retried_stage_is_answered_on_its_live_attempt() {
    let w = Approval::new(false, retried);
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1, "{ap:?}");
    assert_eq!((ap[0].0.as_str(), ap[0].1.as_str()), ("tok-1b", "Approved"));
}

#[test]
fn a_retried_stage_named_by_execution_id_is_answered_on_its_live_attempt() {
    let w = Approval::new(false, retried);
    let (code, _out, err) = w.gate(&["--pipeline-execution-id", "e-1"]);
    assert_eq!(code, 0, "{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1, "{ap:?}");
    assert_eq!((ap[0].0.as_str(), ap[0].1.as_str()), ("tok-1b", "Approved"));
}

#[test]
fn a_retried_stage_in_parallel_mode_is_answered_on_its_live_attempt() {
    let w = Approval::new(false, |d| {
        let mut p = retried(d);
        p.parallel = true;
        p
    });
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1, "{ap:?}");
    assert_eq!((ap[0].0.as_str(), ap[0].1.as_str()), ("tok-1b", "Approved"));
}

#[test]
fn a_retried_stage_in_parallel_mode_named_by_execution_id_is_answered_on_its_live_attempt() {
    let w = Approval::new(false, |d| {
        let mut p = retried(d);
        p.parallel = true;
        p
    });
    let (code, _out, err) = w.gate(&["--pipeline-execution-id", "e-1"]);
    assert_eq!(code, 0, "{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1, "{ap:?}");
    assert_eq!((ap[0].0.as_str(), ap[0].1.as_str()), ("tok-1b", "Approved"));
}

#[test]
fn an_execution_id_never_overrides_the_digest_its_approval_names() {
    let other = format!("sha256:{}", "e".repeat(64));
    // CustomData names another image: the id picks the execution, the digest refuses it.
    let w = Approval::new(false, |_| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={other}")),
            0,
        )])
    });
    let (code, _out, err) = w.gate(&["--pipeline-execution-id", "e-1", "--timeout", "20s"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("refusing to answer") && err.contains(&other) && err.contains(&w.digest),
        "names both digests: {err}"
    );
    assert!(
        w.approvals().is_empty(),
        "answered an approval for another image"
    );

    // The same through the execution's ECR source revision.
    let w = Approval::new(false, |_| {
        let mut e = exec("e-2", "tok-2", None, 0);
        e.revision = Some(other.clone());
        pipeline(vec![e])
    });
    let (code, _out, err) = w.gate(&["--pipeline-execution-id", "e-2", "--timeout", "20s"]);
    assert_eq!(code, 4, "{err}");
    assert!(w.approvals().is_empty());
}

#[test]
fn an_execution_id_is_not_trusted_when_its_sources_cannot_be_read() {
    // No digest in CustomData and GetPipelineExecution denied: the tie cannot be checked, so
    // nothing is answered and the error names the permission to grant.
    let w = Approval::new(false, |_| {
        let mut p = pipeline(vec![exec("e-1", "tok-1", None, 0)]);
        p.denied = vec!["GetPipelineExecution"];
        p
    });
    let (code, _out, err) = w.gate(&["--pipeline-execution-id", "e-1", "--timeout", "20s"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("codepipeline:GetPipelineExecution") && err.contains("access denied"),
        "{err}"
    );
    assert!(w.approvals().is_empty(), "answered an unchecked approval");
}

#[test]
fn a_report_of_no_image_is_never_approved() {
    // The execution names no digest, so --pipeline-execution-id alone ties it: the only thing
    // between an emptied report and an approval is the decision that evaluated nothing never
    // passes.
    let w = Approval::new(false, |_| pipeline(vec![exec("e-1", "tok-1", None, 0)]));
    let o = w.world.gate(&[
        "--image",
        "app/web:v1",
        "--timeout",
        "20s",
        "--report-dir",
        "r",
    ]);
    assert_eq!(o.0, 0, "{}", o.2);
    let path = w.dir.path().join("r/report.json");
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(report["verdict"], "pass");
    report["images"] = serde_json::json!([]);
    std::fs::write(w.dir.path().join("empty.json"), report.to_string()).unwrap();
    let (code, _out, err) = w.approve(
        "empty.json",
        APPROVE,
        &["--pipeline-execution-id", "e-1", "--timeout", "5s"],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no image was evaluated"), "{err}");
    assert!(w.approvals().is_empty(), "approved a report of no image");
    assert_eq!(w.scen.calls("PutApprovalResult"), 0);
}

#[test]
fn the_summary_says_how_many_suppressed_findings_counted() {
    let w = Approval::new(false, |d| {
        pipeline(vec![exec(
            "e-1",
            "tok-1",
            Some(format!("Image_Digest={d}")),
            0,
        )])
    });
    // The image's one CRITICAL is suppressed in Inspector: counted all the same.
    let hidden = support::scenario::with_status(
        finding(
            "CVE-2024-9999",
            "CRITICAL",
            "openssl",
            "3.0.1",
            Some("3.0.13"),
            &w.digest,
            REPO,
        ),
        "SUPPRESSED",
    );
    w.scen
        .state
        .lock()
        .unwrap()
        .images
        .get_mut(&w.digest)
        .unwrap()
        .reads = VecDeque::from(vec![Read::Findings(vec![hidden])]);
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 1, "{err}");
    let ap = w.approvals();
    assert_eq!(ap.len(), 1, "{ap:?}");
    assert_eq!(ap[0].1, "Rejected");
    assert!(
        ap[0]
            .2
            .contains("1 suppressed in Inspector, 1 of them counted."),
        "{}",
        ap[0].2
    );
}

/// The approval calls per poll while a busy pipeline's approval (5,000 older action
/// executions, one every 10 minutes: five weeks of history) is waited for: the approval
/// shows up at the 5th poll. (calls, polls) of each mode.
fn busy_pipeline_calls(parallel: bool, timeout_minutes: Option<i32>) -> (usize, usize, String) {
    let w = Approval::new(false, |d| {
        let mut p = pipeline(vec![exec(
            "e-new",
            "tok-new",
            Some(format!("Image_Digest={d}")),
            4,
        )]);
        p.parallel = parallel;
        p.history = 5_000;
        p.history_every = 600;
        p.approval_timeout_minutes = timeout_minutes;
        p
    });
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.approvals()[0].0, "tok-new");
    let calls: usize = [
        "GetPipeline",
        "GetPipelineState",
        "ListActionExecutions",
        "GetPipelineExecution",
    ]
    .iter()
    .map(|op| w.scen.calls(op))
    .sum();
    let polls = w.scen.state.lock().unwrap().state_polls;
    (calls, polls, err)
}

#[test]
fn a_busy_pipelines_history_is_not_paged_on_every_poll() {
    // SUPERSEDED: the state names the one execution at the approval; only it is listed
    // (one page), and only once it waits there: 7 calls for 5 polls. Before: 256 (the state
    // and the 51 pages of the whole history on every poll).
    let (calls, polls, err) = busy_pipeline_calls(false, None);
    assert_eq!(polls, 5, "{err}");
    assert!(calls <= 2 * polls, "{calls} calls for {polls} polls\n{err}");
    eprintln!("SUPERSEDED: {calls} calls / {polls} polls");
    // PARALLEL: the history is read back only as far as the approval's timeout (7 days by
    // default: ~1,000 of the 5,000 entries, 11 pages), and with a 1-hour timeout one page.
    let (calls, polls, err) = busy_pipeline_calls(true, None);
    assert_eq!(polls, 5, "{err}");
    assert!(
        calls <= 1 + 11 * polls,
        "{calls} calls for {polls} polls\n{err}"
    );
    eprintln!("PARALLEL, 7 days: {calls} calls / {polls} polls");
    let (calls, polls, err) = busy_pipeline_calls(true, Some(60));
    assert!(calls <= 1 + polls, "{calls} calls for {polls} polls\n{err}");
    eprintln!("PARALLEL, 1 hour: {calls} calls / {polls} polls");
}

/// PARALLEL mode on a pipeline whose live approval is behind three answered ones, listed one
/// per page (`ListActionExecutions` pages as CodePipeline does).
fn paged_parallel(d: &str) -> PipelineScript {
    let ours = exec("e-live", "tok-live", Some(format!("Image_Digest={d}")), 0);
    let answered = |i: usize| ApprovalExec {
        status: "Succeeded",
        ..exec(
            &format!("e-old-{i}"),
            &format!("tok-old-{i}"),
            Some(format!("Image_Digest=sha256:{}", format!("{i}").repeat(64))),
            0,
        )
    };
    let mut p = pipeline(vec![ours, answered(1), answered(2), answered(3)]);
    p.parallel = true;
    p
}

#[test]
fn parallel_mode_pages_through_the_action_executions() {
    let w = Approval::new(false, paged_parallel);
    w.scen.state.lock().unwrap().action_page_size = 1;
    let (code, _out, err) = w.gate(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.approvals()[0].0, "tok-live");
    assert!(
        w.scen.calls("ListActionExecutions") >= 4,
        "the live attempt is on the fourth page"
    );
}

#[test]
fn a_throttled_put_approval_result_is_not_sent_twice() {
    let w = Approval::new(false, paged_parallel);
    w.scen.state.lock().unwrap().put_throttles = 1;
    let (code, _out, err) = w.gate(&[]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("PutApprovalResult"), "{err}");
    assert!(w.approvals().is_empty());
    assert_eq!(
        w.scen.calls("PutApprovalResult"),
        1,
        "an answer that may have been recorded is never sent again"
    );
}
