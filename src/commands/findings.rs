//! `inspector-gate findings`: wait for the scan and write the ACTIVE findings as JSON.

use super::gate::wait_options;
use crate::aws;
use crate::cli::FindingsArgs;
use crate::error::{Error, Result};
use crate::findings_file::{FindingsDoc, ImageFindings};
use crate::image_ref::ImageRef;
use crate::progress::Progress;
use crate::wait;
use futures::future::join_all;
use tokio::time::Instant;

pub async fn run(args: FindingsArgs, progress: Progress) -> Result<i32> {
    let refs = args
        .images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<ImageRef>>>()?;
    let clients = aws::clients(&(&args.aws).into()).await?;
    let opts = wait_options(&args.wait);
    let deadline = Instant::now() + opts.timeout;
    let mut images = Vec::new();
    for r in &refs {
        let resolved = aws::ecr::resolve(&clients, r, deadline).await?;
        aws::ecr::check_coverage(&clients, &r.repository, deadline).await?;
        images.extend(resolved);
    }
    let waited = join_all(images.iter().map(|img| {
        wait::wait(
            &clients,
            img,
            &opts,
            deadline,
            &progress,
            time::OffsetDateTime::now_utc,
        )
    }))
    .await;
    progress.finish();
    let mut doc = FindingsDoc {
        schema_version: 1,
        images: Vec::new(),
    };
    for (img, w) in images.into_iter().zip(waited) {
        let w = w?;
        doc.images.push(ImageFindings {
            image: img,
            scan: Some(w.scan),
            findings: w.findings,
        });
    }
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| Error::runtime(e.to_string()))? + "\n";
    match &args.output {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", p.display())))?,
        None => print!("{text}"),
    }
    Ok(0)
}
