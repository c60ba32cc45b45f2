//! `findings`: wait for the scan of each image and return its ACTIVE findings, with no
//! verdict. The resolving and waiting are the gate's own fan-out
//! ([`super::gate::scan_all`]), so both commands see exactly the same images and findings.

use super::end_on_error;
use super::gate::{scan_all, Gated};
use crate::aws::{self, AwsOptions};
use crate::decision::worst;
use crate::error::{Error, Result};
use crate::findings_file::{FindingsDoc, ImageFindings};
use crate::image_ref::ImageRef;
use crate::progress::Progress;
use crate::wait::WaitOptions;
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

/// Wait for every image and write the findings document; exit code 0. The document holds
/// only complete, final findings: any image whose findings were not (the deadline, an error)
/// ends the run with the worst error instead, since a partial file would evaluate as complete.
pub async fn run(opts: &FindingsOptions, progress: &Progress) -> Result<i32> {
    let clients = aws::clients(&opts.aws).await?;
    let deadline = Instant::now() + opts.wait.timeout;
    let refs: Vec<Gated> = opts.images.iter().cloned().map(Gated::Ref).collect();
    let all = scan_all(&clients, &refs, &opts.wait, deadline, progress).await;
    let mut doc = FindingsDoc {
        schema_version: 1,
        images: Vec::new(),
    };
    let mut errors = Vec::new();
    for res in all {
        match res {
            Ok((img, w)) if !w.complete => errors.push(Error::read_timeout(format!(
                "the deadline (--timeout) passed while the findings of {} were settling",
                img.label()
            ))),
            Ok((img, w)) => doc.images.push(ImageFindings {
                image: img,
                scan: Some(w.scan),
                findings: w.findings,
                event_counts: None,
            }),
            Err(e) => errors.push(e),
        }
    }
    if let Some((e, others)) = worst(errors) {
        end_on_error(Some(e), others)?;
    }
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| Error::runtime(e.to_string()))? + "\n";
    match &opts.output {
        Some(p) => crate::file::write(p, &text)?,
        None => print!("{text}"),
    }
    Ok(0)
}
