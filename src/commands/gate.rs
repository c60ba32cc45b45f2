//! `inspector-gate gate`: [push] → resolve digest(s) → wait for scan → fetch findings →
//! evaluate → reports → [approve/reject] → [hand-off] → exit code.

use super::{now_rfc3339, resolve_policy, today};
use crate::aws::{self, ecr, Clients};
use crate::cli::{Format, GateArgs, OnTimeout};
use crate::error::{Error, ErrorKind, Result, EXIT_PASS};
use crate::handoff;
use crate::image_ref::ImageRef;
use crate::model::ScannedImage;
use crate::policy::eval::{evaluate, Verdict};
use crate::policy::Policy;
use crate::progress::Progress;
use crate::report::{self, ImageReport, Report};
use crate::retry::Schedule;
use crate::wait::{self, WaitOptions};
use clap::ArgMatches;
use futures::future::join_all;
use std::path::Path;
use tokio::time::Instant;

pub fn wait_options(w: &crate::cli::WaitArgs) -> WaitOptions {
    WaitOptions {
        timeout: w.timeout,
        poll: Schedule::POLL.scaled(w.poll_interval),
        settle: w.settle,
        ..WaitOptions::default()
    }
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
    g: &Gated,
    opts: &WaitOptions,
    deadline: Instant,
    progress: &Progress,
) -> Vec<Result<(ScannedImage, wait::Waited)>> {
    let (images, repository, r) = match g {
        Gated::Pushed(images) => (
            images.clone(),
            images[0].repository.clone(),
            images[0].requested.clone(),
        ),
        Gated::Ref(r) => {
            progress.phase(&format!("resolving {r}"));
            match ecr::resolve(c, r, deadline).await {
                Ok(i) => (i, r.repository.clone(), r.to_string()),
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
    match ecr::check_coverage(c, &repository, deadline).await {
        Ok(Some(freq)) => progress.debug(&format!(
            "{repository} is covered by enhanced scanning ({freq})"
        )),
        Ok(None) => progress
            .debug("could not read the scanning configuration; relying on Inspector coverage"),
        Err(e) => return vec![Err(e)],
    }
    join_all(images.into_iter().map(|img| async move {
        let w = wait::wait(
            c,
            &img,
            opts,
            deadline,
            progress,
            time::OffsetDateTime::now_utc,
        )
        .await;
        w.map(|w| (img.clone(), w))
            .map_err(|e| match &img.platform {
                Some(p) if !e.message.contains(p.as_str()) => e.context(format!("platform {p}")),
                _ => e,
            })
    }))
    .await
}

/// Gate every image; returns the evaluated reports or the error that decides the exit code.
pub async fn scan_and_evaluate(
    c: &Clients,
    refs: &[Gated],
    policy: &Policy,
    opts: &WaitOptions,
    on_timeout: OnTimeout,
    progress: &Progress,
) -> Result<Vec<ImageReport>> {
    let deadline = Instant::now() + opts.timeout;
    let all = join_all(
        refs.iter()
            .map(|r| scan_one(c, r, opts, deadline, progress)),
    )
    .await;
    let mut reports = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    for res in all.into_iter().flatten() {
        match res {
            Ok((img, waited)) => {
                let evaluation = evaluate(policy, &waited.findings, Some(&img.repository), today());
                reports.push(ImageReport {
                    image: img,
                    scan: waited.scan,
                    evaluation,
                });
            }
            Err(e) if e.kind == ErrorKind::Timeout && on_timeout == OnTimeout::Pass => {
                progress.warn(&format!("{e}; passing anyway because --on-timeout pass"));
            }
            Err(e) => errors.push(e),
        }
    }
    progress.finish();
    if let Some(worst) = errors.iter().max_by_key(|e| e.exit_code()).cloned() {
        for e in errors.iter().filter(|e| **e != worst) {
            eprintln!("error: {e}");
        }
        return Err(worst);
    }
    Ok(reports)
}

/// Write the report files into `dir`.
pub fn write_reports(report: &Report, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::runtime(format!("cannot create report dir {}: {e}", dir.display())))?;
    let files = [
        ("report.json", report::json::render(report)),
        ("report.sarif", report::sarif::render(report)),
        ("junit.xml", report::junit::render(report)),
        ("summary.md", report::markdown::render(report)),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text)
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(())
}

/// Print the report on stdout in the chosen format.
pub fn print_report(report: &Report, format: Format, color: bool) {
    let text = match format {
        Format::Table => report::table::render(report, color),
        Format::Json => report::json::render(report),
        Format::Markdown => report::markdown::render(report),
    };
    print!("{text}");
}

/// Show a finished report: its warnings (once each) on stderr, the chosen format on stdout,
/// the report files, and the CI system's native outputs. Shared by `gate` and `evaluate`.
pub fn publish(
    report: &Report,
    format: Format,
    report_dir: Option<&Path>,
    color: bool,
    progress: &Progress,
) -> Result<()> {
    let warnings: std::collections::BTreeSet<&String> = report
        .images
        .iter()
        .flat_map(|i| i.evaluation.warnings.iter())
        .collect();
    for w in warnings {
        progress.warn(w);
    }
    print_report(report, format, color);
    if let Some(dir) = report_dir {
        write_reports(report, dir)?;
    }
    crate::ci::emit_from_env(report, report_dir)
        .map_err(|e| Error::runtime(format!("cannot write CI outputs: {e}")))
}

fn validate(args: &GateArgs) -> Result<Vec<ImageRef>> {
    if args.images.is_empty() {
        return Err(Error::usage(
            "no image to gate: pass --image <repo>:<tag> or --image <repo>@sha256:<digest> (or set INSPECTOR_GATE_IMAGE)",
        ));
    }
    let refs = args
        .images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<ImageRef>>>()?;
    if args.push_from.is_some() && refs.len() != 1 {
        return Err(Error::usage(
            "--push-from pushes one image: give exactly one --image destination",
        ));
    }
    if (args.image_definitions.is_some() || args.image_detail.is_some()) && refs.len() != 1 {
        return Err(Error::usage(
            "--image-definitions/--image-detail describe one image: give exactly one --image",
        ));
    }
    if let Some(a) = &args.approve {
        crate::approval::ApprovalTarget::parse(a)?;
    }
    if args.pipeline_execution_id.is_some() && args.approve.is_none() {
        return Err(Error::usage(
            "--pipeline-execution-id only makes sense with --approve PIPELINE/STAGE/ACTION",
        ));
    }
    if args.wait.timeout.is_zero() {
        return Err(Error::usage("--timeout must be greater than zero"));
    }
    Ok(refs)
}

pub async fn run(args: GateArgs, m: &ArgMatches, progress: Progress, color: bool) -> Result<i32> {
    let resolved = resolve_policy(&args.policy, m)?;
    let refs = validate(&args)?;
    let policy = resolved.policy;
    if args.dry_run {
        println!("dry run: nothing is pushed, waited for or approved");
        if let Some(src) = &args.push_from {
            println!("push: {src} → {}", refs[0]);
        }
        for r in &refs {
            println!("gate: {r}");
        }
        let max: Vec<String> = policy
            .max
            .iter()
            .map(|(s, n)| format!("{s}<={n}"))
            .collect();
        println!(
            "policy: {}",
            if max.is_empty() {
                "no thresholds".into()
            } else {
                max.join(", ")
            }
        );
        println!(
            "timeout: {} (on timeout: {:?})",
            wait::humanize(args.wait.timeout),
            args.wait.on_timeout
        );
        if let Some(d) = &args.report_dir {
            println!("reports: {}", d.display());
        }
        if let Some(a) = &args.approve {
            println!("approve: {a}");
        }
        return Ok(EXIT_PASS);
    }
    let clients = aws::clients(&(&args.aws).into()).await?;
    let opts = wait_options(&args.wait);
    let gated: Vec<Gated> = match &args.push_from {
        Some(src) => vec![Gated::Pushed(
            super::push::push_to_ecr(
                Some(&clients),
                src,
                &refs[0],
                &args.tags,
                args.registry_url.as_deref(),
                args.wait.timeout.min(super::push::AUTH_TIMEOUT),
                &progress,
            )
            .await?,
        )],
        None => refs.into_iter().map(Gated::Ref).collect(),
    };
    let images = scan_and_evaluate(
        &clients,
        &gated,
        &policy,
        &opts,
        args.wait.on_timeout,
        &progress,
    )
    .await?;
    let report = Report::new(now_rfc3339(), policy, images);
    publish(
        &report,
        args.format,
        args.report_dir.as_deref(),
        color,
        &progress,
    )?;

    let passed = report.verdict == Verdict::Pass;
    if passed {
        if let (Some(path), Some(name)) = (&args.image_definitions, &args.container_name) {
            if let Some(img) = report.images.first() {
                write_file(path, &handoff::image_definitions(name, &img.image))?;
            }
        }
        if let Some(path) = &args.image_detail {
            if let Some(img) = report.images.first() {
                write_file(path, &handoff::image_detail(&img.image))?;
            }
        }
    }
    if let Some(target) = &args.approve {
        let target = crate::approval::ApprovalTarget::parse(target)?;
        let deadline = Instant::now() + args.wait.timeout;
        crate::approval::decide(
            &clients,
            &target,
            &report,
            args.pipeline_execution_id.as_deref(),
            args.report_url.as_deref(),
            Schedule::POLL.scaled(args.wait.poll_interval),
            deadline,
            &progress,
        )
        .await?;
    }
    Ok(report.exit_code())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))
}
