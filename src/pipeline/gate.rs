//! The gate: [push] → resolve digest(s) → wait for each scan → evaluate → publish reports →
//! [sign the decision] → [hand-off] → [approve/reject] → exit code. Images are gated concurrently under one deadline.

use super::attest::AttestOptions;
use super::baseline::{BaselineOptions, Baselines};
use super::publish::{publish, PublishOptions};
use super::push::{push_all, PushRequest};
use super::{now_rfc3339, today};
use crate::approval::ApprovalTarget;
use crate::aws::{self, ecr, AwsOptions, Clients};
use crate::decision::{decide, Findings, Outcome};
use crate::error::Result;
use crate::handoff;
use crate::image_ref::ImageRef;
use crate::model::ScannedImage;
use crate::policy::eval::evaluate_against;
use crate::policy::Policy;
use crate::progress::Progress;
use crate::report::{ImageReport, NotEvaluated, Report};
use crate::retry::Schedule;
use crate::wait::{self, WaitOptions};
use futures::future::join_all;
use std::path::PathBuf;
use tokio::time::Instant;

pub use crate::decision::OnTimeout;

/// Where the approval is and which execution it must be.
#[derive(Debug, Clone)]
pub struct ApprovalOptions {
    pub target: ApprovalTarget,
    pub execution_id: Option<String>,
    pub report_url: Option<String>,
}

/// The deploy hand-off files written on pass.
#[derive(Debug, Clone, Default)]
pub struct HandoffOptions {
    /// `imagedefinitions.json` path and container name (ECS standard deploy).
    pub image_definitions: Option<(PathBuf, String)>,
    /// `imageDetail.json` path (ECS blue/green).
    pub image_detail: Option<PathBuf>,
    /// Kubernetes manifests, kustomize images and Helm values (EKS).
    pub k8s: handoff::k8s::Options,
}

/// Everything one gate run needs, already validated.
#[derive(Debug, Clone)]
pub struct GateOptions {
    pub images: Vec<ImageRef>,
    /// Push these first (then the pushed images are what is gated, one per request).
    pub push: Vec<PushRequest>,
    pub policy: Policy,
    pub wait: WaitOptions,
    pub on_timeout: OnTimeout,
    pub publish: PublishOptions,
    pub handoff: HandoffOptions,
    pub approval: Option<ApprovalOptions>,
    pub aws: AwsOptions,
    /// `--soft-fail`: a violation exits 0 (verdict `fail` in every output; no approval, no
    /// hand-off). The policy floor may forbid it (`allow-soft-fail = false`).
    pub soft_fail: bool,
    /// `--baseline`: gate only what the candidate adds to the image that runs now.
    pub baseline: Option<BaselineOptions>,
    /// `--attest KEY`: sign the decision and store it next to each image.
    pub attest: Option<AttestOptions>,
}

/// What to gate: a reference to resolve through ECR, or manifests we just pushed.
#[derive(Debug, Clone)]
pub enum Gated {
    Ref(ImageRef),
    Pushed(Vec<ScannedImage>),
}

/// Resolve one reference and wait for every platform manifest it names.
async fn scan_one(
    c: &Clients,
    batches: &wait::Batches<'_>,
    g: &Gated,
    opts: &WaitOptions,
    deadline: Instant,
    progress: &Progress,
) -> Vec<Result<(ScannedImage, wait::Waited)>> {
    let (images, r) = match g {
        Gated::Pushed(images) => (images.clone(), images[0].requested.clone()),
        Gated::Ref(r) => {
            progress.phase(&format!("resolving {r}"));
            // The run's images of one repository share their BatchGetImage.
            match ecr::resolve_via(c, r, deadline, |id| batches.manifest(r, id)).await {
                Ok(i) => (i, r.to_string()),
                Err(e) => return vec![Err(e)],
            }
        }
    };
    for img in images.iter().filter(|_| matches!(g, Gated::Ref(_))) {
        progress.info(&format!(
            "{r} → {}{}",
            img.digest,
            img.platform
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ));
    }
    let check = wait::CoverageCheck::new(&images[0].repository, Some(&images[0].registry));
    let check = &check;
    join_all(images.into_iter().map(|img| async move {
        let w = wait::wait(
            c,
            batches,
            &img,
            opts,
            deadline,
            check,
            progress,
            time::OffsetDateTime::now_utc,
        )
        .await;
        w.map(|w| (img, w))
    }))
    .await
}

/// THE resolve-and-wait fan-out of `gate` and `findings`: every reference resolved and every
/// platform manifest it names waited for, concurrently under one `deadline`. One result per
/// platform manifest (or per reference that did not resolve), in the order given.
pub async fn scan_all(
    c: &Clients,
    refs: &[Gated],
    opts: &WaitOptions,
    deadline: Instant,
    progress: &Progress,
) -> Vec<Result<(ScannedImage, wait::Waited)>> {
    // Every image of the run reads through the same batches: one coverage listing and one
    // findings listing serve up to 10 images at a time (wait::batch).
    let batches = wait::Batches::new(c, deadline);
    let batches = &batches;
    let all = join_all(
        refs.iter()
            .map(|r| scan_one(c, batches, r, opts, deadline, progress)),
    )
    .await;
    progress.finish();
    all.into_iter().flatten().collect()
}

/// What a gate run evaluated, and what `--on-timeout pass` let through without evaluating.
#[derive(Debug)]
pub struct Evaluated {
    pub reports: Vec<ImageReport>,
    pub not_evaluated: Vec<NotEvaluated>,
}

/// Gate every image under one `deadline`, comparing each with its platform's `baseline` when
/// given; returns the evaluated reports or the error that decides the exit code. Findings
/// that were read are always evaluated; what the outcomes add up to is [`decide`]'s.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's clients, images, policy, baseline, waiting rules, timeout rule, deadline and progress are each one input"
)]
pub async fn scan_and_evaluate_against(
    c: &Clients,
    refs: &[Gated],
    policy: &Policy,
    baseline: Option<&Baselines>,
    opts: &WaitOptions,
    on_timeout: OnTimeout,
    deadline: Instant,
    progress: &Progress,
) -> Result<Evaluated> {
    let all = scan_all(c, refs, opts, deadline, progress).await;
    let outcomes = all.into_iter().map(|res| match res {
        Ok((img, waited)) => {
            let base = match baseline.map(|b| b.pick(&img, progress)).transpose() {
                Ok(b) => b.flatten(),
                Err(e) => return Outcome::failed(e),
            };
            let evaluation = evaluate_against(
                &policy.for_image(&img),
                &waited.findings,
                base.as_ref(),
                Some(&img.repository),
                today(),
            );
            let findings = if waited.complete {
                Findings::Final
            } else {
                Findings::NotFinal
            };
            let report = ImageReport {
                image: img,
                scan: waited.scan,
                evaluation,
                fix_plan: None,
                unread: Vec::new(),
            };
            Outcome::Evaluated(report, findings)
        }
        Err(e) => Outcome::failed(e),
    });
    let d = decide(outcomes.collect::<Vec<_>>(), on_timeout);
    for w in &d.warnings {
        progress.warn(w);
    }
    super::end_on_error(d.error, d.other_errors)?;
    Ok(Evaluated {
        reports: d.images,
        not_evaluated: d.not_evaluated,
    })
}

/// Write the hand-off files: the Kubernetes ones for every gated image, the ECS ones for the
/// (single) gated image.
fn hand_off(report: &Report, opts: &HandoffOptions, progress: &Progress) -> Result<()> {
    let images: Vec<&ScannedImage> = report.images.iter().map(|i| &i.image).collect();
    let k8s = handoff::k8s::write(&opts.k8s, &images)?;
    k8s.pinned.iter().for_each(|l| progress.info(l));
    k8s.warnings.iter().for_each(|w| progress.warn(w));
    let Some(img) = report.images.first() else {
        return Ok(());
    };
    if let Some((path, name)) = &opts.image_definitions {
        crate::file::write(path, &handoff::image_definitions(name, &img.image))?;
    }
    if let Some(path) = &opts.image_detail {
        crate::file::write(path, &handoff::image_detail(&img.image))?;
    }
    Ok(())
}

/// What the run says about its hand-off files, one line each (the one place that announces
/// them): on a pass what each written file pins, otherwise that it was not written and why, so
/// a deploy step that then finds no file knows the reason without reading the verdict.
pub fn handoff_lines(report: &Report, opts: &HandoffOptions, soft_fail: bool) -> Vec<String> {
    let written = report.passed();
    let why = if report.images.is_empty() {
        "no image was evaluated"
    } else if soft_fail {
        "the gate failed (--soft-fail exits 0 but hands nothing off)"
    } else {
        "the gate failed"
    };
    let first = report.images.first().map(|i| i.image.pinned_uri());
    let mut lines = Vec::new();
    let mut say = |path: &std::path::Path, what: Option<String>| {
        let path = path.display();
        lines.push(match (written, what) {
            (true, Some(what)) => format!("wrote {path}: {what}"),
            (true, None) => format!("wrote {path}"),
            (false, _) => format!("{path} not written: {why}"),
        });
    };
    if let Some((path, name)) = &opts.image_definitions {
        say(path, first.as_ref().map(|uri| format!("{name} → {uri}")));
    }
    if let Some(path) = &opts.image_detail {
        say(path, first.clone());
    }
    // Each pinned manifest line is already logged by the k8s hand-off itself.
    if !written {
        for m in &opts.k8s.manifests {
            say(&m.path, None);
        }
    }
    for path in [&opts.k8s.kustomize_images, &opts.k8s.helm_values]
        .into_iter()
        .flatten()
    {
        say(path, None);
    }
    lines
}

/// The signed decision's DSSE envelope, written in `--report-dir` with `--attest`.
pub const ATTESTATION_FILE: &str = "attestation.dsse.json";

/// Run the gate; returns the exit code of the verdict (0 or 1), or the error that ends it.
pub async fn run(opts: &GateOptions, progress: &Progress) -> Result<i32> {
    let clients = aws::clients(&opts.aws).await?;
    let deadline = Instant::now() + opts.wait.timeout;
    let gated: Vec<Gated> = if opts.push.is_empty() {
        opts.images.iter().cloned().map(Gated::Ref).collect()
    } else {
        push_all(Some(&clients), &opts.push, deadline, progress)
            .await?
            .into_iter()
            .map(Gated::Pushed)
            .collect()
    };
    let baseline = match &opts.baseline {
        Some(b) => super::baseline::resolve(&clients, b, deadline, progress).await?,
        None => None,
    };
    let evaluated = scan_and_evaluate_against(
        &clients,
        &gated,
        &opts.policy,
        baseline.as_ref(),
        &opts.wait,
        opts.on_timeout,
        deadline,
        progress,
    )
    .await?;
    let report = Report::new(now_rfc3339(), opts.policy.clone(), evaluated.reports)
        .with_not_evaluated(evaluated.not_evaluated)
        .with_soft_fail(opts.soft_fail);
    publish(&report, &opts.publish, progress)?;
    // Signed before the hand-off and the approval: a decision that cannot be signed and stored
    // (exit 4) approves and hands off nothing.
    if let Some(a) = &opts.attest {
        let attested = super::attest::attest(&clients, &report, a, deadline, progress).await?;
        if let Some(dir) = &opts.publish.report_dir {
            let path = dir.join(ATTESTATION_FILE);
            crate::file::write(&path, &String::from_utf8_lossy(&attested.envelope))?;
            progress.info(&format!("wrote {}", path.display()));
        }
    }
    if report.passed() {
        hand_off(&report, &opts.handoff, progress)?;
    }
    for line in handoff_lines(&report, &opts.handoff, opts.soft_fail) {
        progress.info(&line);
    }
    if let Some(a) = &opts.approval {
        // The approval wait shares the run's one deadline: --timeout 30m never means an hour.
        crate::approval::decide(
            &clients,
            &a.target,
            &report,
            a.execution_id.as_deref(),
            a.report_url.as_deref(),
            poll_schedule(opts.wait.first_poll),
            deadline,
            progress,
        )
        .await?;
    }
    let code = crate::decision::soft_fail(report.exit_code(), opts.soft_fail);
    if code != report.exit_code() {
        progress.warn("the gate would have failed (verdict fail): exit 0 because --soft-fail; nothing was approved or handed off");
    }
    Ok(code)
}

/// The poll schedule for a first poll interval (`--poll-interval`).
pub fn poll_schedule(first: std::time::Duration) -> Schedule {
    Schedule::POLL.scaled(first)
}

#[cfg(test)]
mod tests {
    use super::{handoff_lines, HandoffOptions};
    use crate::report::testing;
    use std::path::PathBuf;

    fn opts() -> HandoffOptions {
        HandoffOptions {
            image_definitions: Some((PathBuf::from("imagedefinitions.json"), "web".into())),
            image_detail: Some(PathBuf::from("imageDetail.json")),
            k8s: crate::handoff::k8s::Options {
                helm_values: Some(PathBuf::from("values.yaml")),
                ..Default::default()
            },
        }
    }

    #[test]
    fn each_hand_off_file_is_announced_written_or_why_not() {
        let pass = testing::report(0);
        let uri = pass.images[0].image.pinned_uri();
        assert!(uri.contains("@sha256:"), "{uri}");
        assert_eq!(
            handoff_lines(&pass, &opts(), false),
            [
                format!("wrote imagedefinitions.json: web → {uri}"),
                format!("wrote imageDetail.json: {uri}"),
                "wrote values.yaml".to_string(),
            ]
        );
        let fail = testing::report(1);
        assert_eq!(
            handoff_lines(&fail, &opts(), false),
            [
                "imagedefinitions.json not written: the gate failed",
                "imageDetail.json not written: the gate failed",
                "values.yaml not written: the gate failed",
            ]
        );
        assert_eq!(
            handoff_lines(&fail, &opts(), true)[0],
            "imagedefinitions.json not written: the gate failed (--soft-fail exits 0 but hands nothing off)"
        );
        // Nothing asked for, nothing said.
        assert!(handoff_lines(&fail, &HandoffOptions::default(), false).is_empty());
    }
}
