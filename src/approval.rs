//! CodePipeline manual approval: find the approval action, wait until it is InProgress with a
//! token, make sure the waiting execution is tied to the digest we gated, and answer it.
//! Never approves an execution it cannot tie to this image.

use crate::aws::{classify, CallError, Class, Clients};
use crate::error::{Error, Result};
use crate::model::Severity;
use crate::progress::Progress;
use crate::report::Report;
use crate::retry::{self, Schedule};
use aws_sdk_codepipeline::types::{ActionExecutionFilter, ApprovalResult, ApprovalStatus};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// CodePipeline's limit on the approval summary.
pub const SUMMARY_MAX_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalTarget {
    pub pipeline: String,
    pub stage: String,
    pub action: String,
}

impl ApprovalTarget {
    /// `PIPELINE/STAGE/ACTION`, or `STAGE/ACTION` inside CodeBuild started by a pipeline
    /// (`CODEBUILD_INITIATOR=codepipeline/<name>`).
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_with(s, std::env::var("CODEBUILD_INITIATOR").ok().as_deref())
    }

    pub fn parse_with(s: &str, initiator: Option<&str>) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').map(str::trim).collect();
        let from_initiator = initiator
            .and_then(|i| i.strip_prefix("codepipeline/"))
            .map(str::to_string);
        let (pipeline, stage, action) = match parts.as_slice() {
            [p, st, a] if !p.is_empty() => (p.to_string(), st.to_string(), a.to_string()),
            ["", st, a] => match from_initiator {
                Some(p) => (p, st.to_string(), a.to_string()),
                None => return Err(Error::usage(format!("--approve '{s}' has no pipeline name and CODEBUILD_INITIATOR does not name one: write PIPELINE/STAGE/ACTION"))),
            },
            [st, a] => match from_initiator {
                Some(p) => (p, st.to_string(), a.to_string()),
                None => return Err(Error::usage(format!("--approve '{s}' has no pipeline name and CODEBUILD_INITIATOR does not name one: write PIPELINE/STAGE/ACTION"))),
            },
            _ => return Err(Error::usage(format!("--approve '{s}' must be PIPELINE/STAGE/ACTION"))),
        };
        if stage.is_empty() || action.is_empty() {
            return Err(Error::usage(format!(
                "--approve '{s}' must be PIPELINE/STAGE/ACTION with no empty part"
            )));
        }
        Ok(ApprovalTarget {
            pipeline,
            stage,
            action,
        })
    }
}

impl std::fmt::Display for ApprovalTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.pipeline, self.stage, self.action)
    }
}

/// The reviewer's summary: verdict, counts against maxima, what to do to pass (the first image's
/// fix plan in one line), top findings, link; ≤ 512 chars, cut on a character boundary (the
/// top findings go first).
pub fn summary(report: &Report, url: Option<&str>) -> String {
    let verdict = report.verdict.past_tense().to_uppercase();
    let counts: Vec<String> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .iter()
    .map(|s| match report.policy.max.get(s) {
        Some(m) => format!("{} {}/{m}", s.as_str(), report.counted(*s)),
        None => format!("{} {}", s.as_str(), report.counted(*s)),
    })
    .collect();
    let digests: Vec<&str> = report
        .images
        .iter()
        .map(|i| crate::model::short(&i.image.digest))
        .collect();
    let head = format!(
        "inspector-gate {verdict} for {}: {}.",
        digests.join(", "),
        counts.join(", ")
    );
    let tail = url.map(|u| format!(" Report: {u}")).unwrap_or_default();
    // New vs inherited, so a reviewer sees what this change itself brings.
    let vs: Vec<String> = report
        .images
        .iter()
        .filter_map(|i| i.evaluation.baseline.as_ref())
        .map(|b| format!(" vs baseline: {}.", b.summary()))
        .collect();
    let mut head = format!("{head}{}", vs.join(""));
    // Suppressed in Inspector: the reviewer sees how many a suppression rule hid, and whether
    // the policy counted them.
    let hidden: usize = report
        .images
        .iter()
        .map(|i| i.evaluation.suppressed().count())
        .sum();
    if hidden > 0 {
        let counted: usize = report
            .images
            .iter()
            .map(|i| i.evaluation.suppressed_counted())
            .sum();
        head.push_str(&format!(
            " {hidden} suppressed in Inspector, {counted} of them counted."
        ));
    }
    if !report.not_evaluated.is_empty() {
        head.push_str(&format!(
            " {} image(s) NOT evaluated (scan unfinished; passed by --on-timeout pass).",
            report.not_evaluated.len()
        ));
    }
    // What to do comes before the findings, so that a cut keeps it.
    let plans: Vec<String> = report
        .images
        .iter()
        .filter_map(|i| i.fix_plan.as_ref().and_then(|p| p.headline()))
        .collect();
    if let Some(first) = plans.first() {
        head.push(' ');
        head.push_str(first);
        if plans.len() > 1 {
            head.push_str(&format!(
                " ({} more image(s) need work too.)",
                plans.len() - 1
            ));
        }
    }
    let mut top = String::new();
    let violating = report.images.iter().flat_map(|i| i.evaluation.violating());
    for (n, j) in violating.take(5).enumerate() {
        let f = &j.finding;
        let pkg = f
            .first_package()
            .map(|p| match p.fixed_version() {
                Some(fix) => format!(" {} → {fix}", p.name),
                None => format!(" {}", p.name),
            })
            .unwrap_or_default();
        top.push_str(&format!(
            "{} {} ({}{pkg})",
            if n == 0 { " Top:" } else { ";" },
            f.id,
            f.severity
        ));
    }
    let budget = SUMMARY_MAX_CHARS.saturating_sub(tail.chars().count());
    let mut body: String = format!("{head}{top}");
    if body.chars().count() > budget {
        body = body
            .chars()
            .take(budget.saturating_sub(1))
            .collect::<String>()
            + "…";
    }
    let mut out = body + &tail;
    if out.chars().count() > SUMMARY_MAX_CHARS {
        out = out.chars().take(SUMMARY_MAX_CHARS - 1).collect::<String>() + "…";
    }
    out
}

/// One approval waiting for an answer.
#[derive(Debug, Clone)]
struct Candidate {
    execution_id: String,
    token: String,
    custom_data: Option<String>,
}

fn map_err(e: CallError, action: &str, t: &ApprovalTarget) -> Error {
    match e.code.as_str() {
        "PipelineNotFoundException" => Error::runtime(format!("pipeline {} not found (check --approve and --region)", t.pipeline)),
        "InvalidApprovalTokenException" => Error::runtime(format!(
            "the approval token for {t} is no longer valid (the approval expired or was answered); nothing was sent"
        )),
        "ApprovalAlreadyCompletedException" => Error::runtime(format!("the approval {t} was already answered; nothing was sent")),
        "ActionNotFoundException" => Error::runtime(format!("action {} not found in stage {} of pipeline {}", t.action, t.stage, t.pipeline)),
        "StageNotFoundException" => Error::runtime(format!("stage {} not found in pipeline {}", t.stage, t.pipeline)),
        _ => e.into_error(action),
    }
}

/// A failed `PutApprovalResult`. Transient failures (5xx, throttling, a lost connection) are
/// ambiguous: the answer may have been recorded. It is never sent again, so say what to check.
fn put_failed(e: CallError, t: &ApprovalTarget) -> Error {
    match e.class {
        Class::Transient(_) => Error::runtime(format!(
            "codepipeline:PutApprovalResult failed: {}; not retried, so that {t} is never answered twice: the answer may or may not have been recorded, check the approval in the CodePipeline console",
            e.message
        )),
        _ => map_err(e, "codepipeline:PutApprovalResult", t),
    }
}

/// What `GetPipelineState` shows at the approval.
#[derive(Debug, Default)]
struct StateView {
    /// The stage's latest execution, when its approval is InProgress with a token
    /// (SUPERSEDED/QUEUED modes: one execution at a time in a stage).
    cands: Vec<Candidate>,
    /// The approval is InProgress but the state carries no token: PARALLEL mode, whose
    /// waiting executions only `ListActionExecutions` shows.
    waiting_without_token: bool,
}

/// Candidates from `GetPipelineState` (SUPERSEDED/QUEUED modes carry the token there; an
/// InProgress approval without a token there is PARALLEL mode, found by the list instead).
async fn from_state(c: &Clients, t: &ApprovalTarget, deadline: Instant) -> Result<StateView> {
    let state = retry::call(Schedule::CALL, deadline, || async {
        c.codepipeline
            .get_pipeline_state()
            .name(&t.pipeline)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| map_err(e, "codepipeline:GetPipelineState", t))?;
    let stages = state.stage_states();
    let Some(stage) = stages
        .iter()
        .find(|s| s.stage_name() == Some(t.stage.as_str()))
    else {
        let names: Vec<&str> = stages.iter().filter_map(|s| s.stage_name()).collect();
        return Err(Error::runtime(format!(
            "stage {} not found in pipeline {} (stages: {})",
            t.stage,
            t.pipeline,
            names.join(", ")
        )));
    };
    let actions = stage.action_states();
    let Some(action) = actions
        .iter()
        .find(|a| a.action_name() == Some(t.action.as_str()))
    else {
        let names: Vec<&str> = actions.iter().filter_map(|a| a.action_name()).collect();
        return Err(Error::runtime(format!(
            "action {} not found in stage {} (actions: {})",
            t.action,
            t.stage,
            names.join(", ")
        )));
    };
    let mut out = StateView::default();
    if let Some(latest) = action.latest_execution() {
        let in_progress = latest.status().map(|s| s.as_str()) == Some("InProgress");
        match (in_progress, latest.token(), stage.latest_execution()) {
            (true, Some(token), Some(se)) => out.cands.push(Candidate {
                execution_id: se.pipeline_execution_id().to_string(),
                token: token.to_string(),
                custom_data: None,
            }),
            (true, _, _) => out.waiting_without_token = true,
            _ => {}
        }
    }
    Ok(out)
}

/// The longest a manual approval can wait: `timeoutInMinutes` is at most 86,400 (60 days) in
/// CodePipeline's model (`ActionTimeout`).
pub const APPROVAL_TIMEOUT_MAX: Duration = Duration::from_secs(86_400 * 60);
/// A manual approval's default timeout (CodePipeline quotas: 7 days).
pub const APPROVAL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What `GetPipeline` says about the approval, read once per run: the execution mode and how
/// long the approval waits before CodePipeline fails it (no approval still waiting started
/// earlier than that).
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    /// `Some(true)` in PARALLEL mode; `None` when `GetPipeline` may not be called (then the
    /// state decides, as it always can).
    parallel: Option<bool>,
    approval_timeout: Duration,
}

async fn pipeline_shape(
    c: &Clients,
    t: &ApprovalTarget,
    deadline: Instant,
    progress: &Progress,
) -> Result<Shape> {
    let got = retry::call(Schedule::CALL, deadline, || async {
        c.codepipeline
            .get_pipeline()
            .name(&t.pipeline)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await;
    let out = match got {
        Ok(o) => o,
        Err(e) if e.class == Class::AccessDenied => {
            progress.warn(&format!(
                "codepipeline:GetPipeline denied ({}): the pipeline's execution mode and the approval's timeout are unknown, so a PARALLEL pipeline's history is read back {} days; grant codepipeline:GetPipeline on the pipeline",
                e.message,
                APPROVAL_TIMEOUT_MAX.as_secs() / 86_400
            ));
            return Ok(Shape {
                parallel: None,
                approval_timeout: APPROVAL_TIMEOUT_MAX,
            });
        }
        Err(e) => return Err(map_err(e, "codepipeline:GetPipeline", t)),
    };
    let decl = out.pipeline();
    let parallel = decl
        .and_then(|p| p.execution_mode())
        .map(|m| m.as_str() == "PARALLEL")
        .unwrap_or(false);
    let minutes = decl
        .into_iter()
        .flat_map(|p| p.stages())
        .filter(|s| s.name() == t.stage)
        .flat_map(|s| s.actions())
        .find(|a| a.name() == t.action)
        .and_then(|a| a.timeout_in_minutes());
    let approval_timeout = minutes
        .map(|m| Duration::from_secs(m.max(0) as u64 * 60))
        .unwrap_or(APPROVAL_TIMEOUT_DEFAULT)
        .min(APPROVAL_TIMEOUT_MAX);
    Ok(Shape {
        parallel: Some(parallel),
        approval_timeout,
    })
}

/// Candidates from `ListActionExecutions` (PARALLEL mode; also gives resolved CustomData).
/// A retried stage keeps its execution id, so one execution can list an answered attempt and
/// a new InProgress one: only when no attempt of the given execution is InProgress does an
/// answered one mean "already answered".
///
/// `filter` lists one pipeline execution (one page, whatever the history); without it the
/// whole history is listed newest first, and paging stops at the first page that reaches
/// back before `since` (no approval still waiting started before its own timeout).
/// `execution_id` is the one `--pipeline-execution-id` gave.
async fn from_executions(
    c: &Clients,
    t: &ApprovalTarget,
    filter: Option<&str>,
    execution_id: Option<&str>,
    since: Option<SystemTime>,
    deadline: Instant,
) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    let mut answered: Option<(String, String)> = None;
    let mut next: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = retry::call(Schedule::CALL, deadline, || async {
            let mut req = c
                .codepipeline
                .list_action_executions()
                .pipeline_name(&t.pipeline)
                .max_results(100)
                .set_next_token(next.clone());
            if let Some(id) = filter {
                req = req.filter(
                    ActionExecutionFilter::builder()
                        .pipeline_execution_id(id)
                        .build(),
                );
            }
            req.send().await.map_err(|e| classify(e, |_| None))
        })
        .await
        .map_err(|e| map_err(e, "codepipeline:ListActionExecutions", t))?;
        let mut reached_back = false;
        for d in page.action_execution_details() {
            let started = d.start_time().and_then(|t| SystemTime::try_from(*t).ok());
            if since.is_some_and(|s| started.is_some_and(|st| st < s)) {
                reached_back = true;
            }
            if d.stage_name() != Some(t.stage.as_str())
                || d.action_name() != Some(t.action.as_str())
            {
                continue;
            }
            let status = d.status().map(|s| s.as_str()).unwrap_or("");
            let exec = d.pipeline_execution_id().unwrap_or_default().to_string();
            if status == "InProgress" {
                out.push(Candidate {
                    execution_id: exec,
                    token: d
                        .output()
                        .and_then(|o| o.execution_result())
                        .and_then(|r| r.external_execution_id())
                        .map(str::to_string)
                        .unwrap_or_default(),
                    custom_data: d
                        .input()
                        .and_then(|i| i.resolved_configuration())
                        .and_then(|m| m.get("CustomData").cloned()),
                });
            } else if execution_id == Some(exec.as_str())
                && (status == "Succeeded" || status == "Failed")
            {
                answered.get_or_insert((exec, status.to_string()));
            }
        }
        next = crate::aws::inspector::next_page(
            &mut seen,
            page.next_token(),
            "codepipeline:ListActionExecutions",
        )
        .map_err(|e| e.into_error("codepipeline:ListActionExecutions"))?;
        if next.is_none() || reached_back {
            break;
        }
    }
    if let Some((exec, status)) = answered {
        if !out.iter().any(|c| c.execution_id == exec) {
            return Err(Error::runtime(format!(
                "the approval {t} for execution {exec} was already answered ({status}) and no attempt of it is waiting; nothing was sent"
            )));
        }
    }
    Ok(out)
}

/// What one approval poll lists with `ListActionExecutions`.
enum List {
    /// Nothing waits at the approval: no list call.
    Nothing,
    /// One pipeline execution (the state's latest, or `--pipeline-execution-id`).
    Execution(String),
    /// PARALLEL mode: the history back to the approval's timeout.
    Recent,
}

/// Every `sha256:<64 hex>` digest named in `text`.
pub fn digests_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        let cand: String = rest[i..].chars().take(71).collect();
        if crate::image_ref::is_valid_digest(&cand) && !out.contains(&cand) {
            out.push(cand);
        }
        rest = &rest[i + 7..];
    }
    out
}

/// Whether the waiting execution is this image's, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tie {
    Yes(String),
    No,
}

/// Tie `cand` to the gated `digests`. With `--pipeline-execution-id` the id picks the
/// execution, but never overrides a digest its approval's CustomData or its source revisions
/// name: if they name any digest, one must be gated, or this refuses (exit 4) and nothing is
/// answered. Without an id, CustomData or a source revision must name a gated digest.
async fn tied(
    c: &Clients,
    t: &ApprovalTarget,
    cand: &Candidate,
    digests: &BTreeSet<String>,
    execution_id: Option<&str>,
    deadline: Instant,
) -> Result<Tie> {
    if execution_id.is_some_and(|id| cand.execution_id != id) {
        return Ok(Tie::No);
    }
    let from_data = cand
        .custom_data
        .as_deref()
        .map(digests_in)
        .unwrap_or_default();
    if let Some(d) = from_data.iter().find(|d| digests.contains(*d)) {
        return Ok(Tie::Yes(format!("approval CustomData names {d}")));
    }
    let exec = retry::call(Schedule::CALL, deadline, || async {
        c.codepipeline
            .get_pipeline_execution()
            .pipeline_name(&t.pipeline)
            .pipeline_execution_id(&cand.execution_id)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await;
    let revisions: Vec<String> = match exec {
        Ok(o) => o
            .pipeline_execution()
            .map(|p| {
                p.artifact_revisions()
                    .iter()
                    .filter_map(|r| r.revision_id().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        // Without the sources the tie cannot be checked: never answer on a guess.
        Err(e) => return Err(e.into_error("codepipeline:GetPipelineExecution")),
    };
    let from_sources: Vec<String> = revisions.iter().flat_map(|r| digests_in(r)).collect();
    if let Some(d) = from_sources.iter().find(|d| digests.contains(*d)) {
        return Ok(Tie::Yes(format!("execution source revision names {d}")));
    }
    let named: Vec<&String> = from_data.iter().chain(&from_sources).collect();
    match (execution_id, named.first()) {
        (Some(id), Some(other)) => Err(Error::runtime(format!(
            "refusing to answer {t}: execution {id} (--pipeline-execution-id) is for {other}, not the gated {}; nothing was sent",
            digests.iter().next().map(String::as_str).unwrap_or("?")
        ))),
        (Some(id), None) => Ok(Tie::Yes(format!(
            "execution id {id} given with --pipeline-execution-id"
        ))),
        (None, _) => Ok(Tie::No),
    }
}

/// Wait for the approval and answer it: Approved on pass, Rejected on fail.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a distinct input of the one approval decision"
)]
pub async fn decide(
    c: &Clients,
    t: &ApprovalTarget,
    report: &Report,
    execution_id: Option<&str>,
    report_url: Option<&str>,
    poll: Schedule,
    deadline: Instant,
    progress: &Progress,
) -> Result<()> {
    let mut digests = BTreeSet::new();
    for i in &report.images {
        digests.insert(i.image.digest.clone());
        if let Some(d) = &i.image.index_digest {
            digests.insert(d.clone());
        }
    }
    let shape = pipeline_shape(c, t, deadline, progress).await?;
    let mut delays = poll.delays();
    let mut untied_seen: Option<String> = None;
    loop {
        // Which executions to list. The state shows the latest execution (SUPERSEDED/QUEUED:
        // the only one a stage can hold) without its CustomData: list just that execution.
        // PARALLEL mode: only the list shows the waiting executions, read back as far as the
        // approval's own timeout. A busy pipeline's whole history (12 months) is never paged.
        let (mut cands, list) = if shape.parallel == Some(true) {
            (Vec::new(), List::Recent)
        } else {
            let st = from_state(c, t, deadline).await?;
            let list = match (execution_id, st.cands.first()) {
                (Some(id), _) => List::Execution(id.to_string()),
                (None, Some(cand)) => List::Execution(cand.execution_id.clone()),
                (None, None) if st.waiting_without_token => List::Recent,
                (None, None) => List::Nothing,
            };
            (st.cands, list)
        };
        let list = match (list, execution_id) {
            (List::Recent, Some(id)) => List::Execution(id.to_string()),
            (l, _) => l,
        };
        let since = SystemTime::now().checked_sub(shape.approval_timeout);
        let listed = match &list {
            List::Nothing => Vec::new(),
            List::Execution(id) => {
                from_executions(c, t, Some(id), execution_id, None, deadline).await?
            }
            List::Recent => from_executions(c, t, None, execution_id, since, deadline).await?,
        };
        // The list carries every listed execution's resolved CustomData, which the tie checks.
        {
            for l in listed {
                match cands.iter_mut().find(|x| x.execution_id == l.execution_id) {
                    Some(x) => {
                        x.custom_data = l.custom_data.clone();
                    }
                    None if !l.token.is_empty() => cands.push(l),
                    None => {}
                }
            }
        }
        for cand in &cands {
            if let Tie::Yes(why) = tied(c, t, cand, &digests, execution_id, deadline).await? {
                let status = if report.passed() {
                    ApprovalStatus::Approved
                } else {
                    ApprovalStatus::Rejected
                };
                let text = summary(report, report_url);
                progress.info(&format!(
                    "answering {t} for execution {} ({why}): {}",
                    cand.execution_id,
                    status.as_str()
                ));
                let result = ApprovalResult::builder()
                    .status(status.clone())
                    .summary(text)
                    .build()
                    .map_err(|e| {
                        Error::runtime(format!("cannot build the approval result: {e}"))
                    })?;
                // Not retried on ambiguous failures: a second answer must never be sent.
                c.codepipeline
                    .put_approval_result()
                    .pipeline_name(&t.pipeline)
                    .stage_name(&t.stage)
                    .action_name(&t.action)
                    .token(&cand.token)
                    .result(result)
                    .send()
                    .await
                    .map_err(|e| put_failed(classify(e, |_| None), t))?;
                progress.info(&format!("{t}: {}", status.as_str()));
                return Ok(());
            } else {
                untied_seen = Some(cand.execution_id.clone());
            }
        }
        let why = match &untied_seen {
            Some(e) => {
                format!("approval is waiting on execution {e}, which is not tied to this image")
            }
            None => "approval not in progress yet".to_string(),
        };
        let d = delays.next().unwrap_or(poll.max);
        if Instant::now() + d >= deadline {
            let fix = "pass --pipeline-execution-id, or put Image_Digest=#{BuildVariables.IMAGE_DIGEST} in the approval's CustomData";
            return Err(match untied_seen {
                Some(e) => Error::runtime(format!(
                    "did not approve {t}: execution {e} is waiting there but cannot be tied to digest {}; {fix}",
                    digests.iter().next().map(String::as_str).unwrap_or("?")
                )),
                None => Error::runtime(format!(
                    "did not approve {t}: no execution of this image reached the approval before the deadline; {fix} if it did"
                )),
            });
        }
        progress.phase(&format!(
            "{t}: {why}; checking again in {:.1}s",
            d.as_secs_f64()
        ));
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_leads_with_the_fix_plan_and_stays_within_512_characters() {
        use crate::report::testing;
        let r = testing::mixed();
        let s = summary(&r, Some("https://ci.example/build/42"));
        let plan = r.images[0].fix_plan.as_ref().unwrap().headline().unwrap();
        assert!(plan.starts_with("To pass: upgrade "), "{plan}");
        assert!(s.contains(&plan), "{s}");
        assert!(s.find("To pass:") < s.find("Top:"), "{s}");
        assert!(s.contains("(1 more image(s) need work too.)"), "{s}");
        assert!(s.chars().count() <= SUMMARY_MAX_CHARS);
        // 10,000 findings (a greedy plan of many upgrades), a long URL: still bounded, the
        // plan's first line still there.
        let r = testing::report(10_000);
        let url = format!("https://reports.example/{}", "ü".repeat(200));
        let s = summary(&r, Some(&url));
        assert!(
            s.chars().count() <= SUMMARY_MAX_CHARS,
            "{}",
            s.chars().count()
        );
        assert!(s.contains("To pass: upgrade "), "{s}");
        assert!(s.ends_with(&url));
        // A passing report has no plan line.
        let s = summary(&testing::report(0), None);
        assert!(!s.contains("To pass"), "{s}");
    }

    #[test]
    fn digests_are_found_in_free_text() {
        let d = format!("sha256:{}", "a".repeat(64));
        let e = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            digests_in(&format!(
                "Image_Digest={d}, also {e}; short sha256:abc; again {d}"
            )),
            vec![d.clone(), e]
        );
        assert!(digests_in("no digest here").is_empty());
    }

    #[test]
    fn target_parsing_and_codebuild_default() {
        let t = ApprovalTarget::parse_with("p/s/a", None).unwrap();
        assert_eq!(
            (t.pipeline.as_str(), t.stage.as_str(), t.action.as_str()),
            ("p", "s", "a")
        );
        let t = ApprovalTarget::parse_with("Approve/Manual", Some("codepipeline/my-pipe")).unwrap();
        assert_eq!(t.pipeline, "my-pipe");
        assert_eq!(
            ApprovalTarget::parse_with("Approve/Manual", None)
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            ApprovalTarget::parse_with("a/b/c/d", None)
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            ApprovalTarget::parse_with("p//a", None)
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
