//! `findings`: wait for the scan of each image and return its ACTIVE findings (no verdict).

use crate::aws::{self, AwsOptions};
use crate::error::{Error, Result};
use crate::findings_file::{FindingsDoc, ImageFindings};
use crate::image_ref::ImageRef;
use crate::progress::Progress;
use crate::wait::{self, WaitOptions};
use futures::future::join_all;
use std::path::PathBuf;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct FindingsOptions {
    pub images: Vec<ImageRef>,
    pub wait: WaitOptions,
    /// Write the JSON here instead of stdout.
    pub output: Option<PathBuf>,
    pub aws: AwsOptions,
}

/// Wait for every image and write the findings document; exit code 0.
pub async fn run(opts: &FindingsOptions, progress: &Progress) -> Result<i32> {
    let clients = aws::clients(&opts.aws).await?;
    let deadline = Instant::now() + opts.wait.timeout;
    let mut images = Vec::new();
    let mut checks = Vec::new();
    for r in &opts.images {
        let resolved = aws::ecr::resolve(&clients, r, deadline).await?;
        checks.push(wait::CoverageCheck::new(
            &r.repository,
            resolved.first().map(|i| i.registry.as_str()),
        ));
        images.extend(resolved.into_iter().map(|i| (i, checks.len() - 1)));
    }
    let waited = join_all(images.iter().map(|(img, check)| {
        wait::wait(
            &clients,
            img,
            &opts.wait,
            deadline,
            &checks[*check],
            progress,
            time::OffsetDateTime::now_utc,
        )
    }))
    .await;
    progress.finish();
    let mut doc = FindingsDoc {
        schema_version: 1,
        images: Vec::new(),
    };
    for ((img, _), w) in images.into_iter().zip(waited) {
        let w = w?;
        if !w.complete {
            return Err(Error::timeout(format!(
                "the deadline (--timeout) passed while the findings of {} were settling",
                img.label()
            )));
        }
        doc.images.push(ImageFindings {
            image: img,
            scan: Some(w.scan),
            findings: w.findings,
            event_counts: None,
        });
    }
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| Error::runtime(e.to_string()))? + "\n";
    match &opts.output {
        Some(p) => super::publish::write_file(p, &text)?,
        None => print!("{text}"),
    }
    Ok(0)
}
