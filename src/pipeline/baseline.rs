//! Resolve `--baseline SOURCE` into the findings of the image a candidate is compared with:
//! `ecs:CLUSTER/SERVICE[/CONTAINER]` (what the service runs now), an image reference, or a
//! saved `report.json`. The baseline must already be scanned: it is read, never waited for.
//! Any failure is exit 3 naming the cause (a malformed SOURCE stays a usage error, exit 2).

use crate::aws::ecs::{self, ServiceRef};
use crate::aws::{ecr, inspector, Clients};
use crate::baseline::Baseline;
use crate::error::{Error, ErrorKind, Result};
use crate::image_ref::{ImageRef, Target};
use crate::model::{Finding, ScannedImage};
use crate::progress::Progress;
use crate::wait::{self, Observation};
use std::cell::RefCell;
use std::path::Path;
use tokio::time::Instant;

/// `--baseline SOURCE` and `--baseline-optional`.
#[derive(Debug, Clone)]
pub struct BaselineOptions {
    pub source: String,
    /// An unreadable baseline is a warning (and every finding is gated) instead of exit 3.
    pub optional: bool,
}

/// The baseline findings per platform (`None` = single-arch or unknown).
#[derive(Debug, Clone, Default)]
pub struct Baselines(pub Vec<(Option<String>, Baseline)>);

impl Baselines {
    /// The baseline for `img`: the same platform's, else the only one there is.
    pub fn for_image(&self, img: &ScannedImage) -> Option<&Baseline> {
        self.0
            .iter()
            .find(|(p, _)| p.is_some() && *p == img.platform)
            .or_else(|| (self.0.len() == 1).then(|| &self.0[0]))
            .map(|(_, b)| b)
    }
}

/// Resolve `opts`; with `optional`, a failure is a warning and `Ok(None)`.
pub async fn resolve(
    c: &Clients,
    opts: &BaselineOptions,
    deadline: Instant,
    progress: &Progress,
) -> Result<Option<Baselines>> {
    progress.phase(&format!("reading baseline {}", opts.source));
    match read(c, &opts.source, deadline, progress).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind == ErrorKind::Usage => Err(e),
        Err(e) => {
            let e = Error::inconclusive(format!(
                "cannot read the baseline {}: {}",
                opts.source, e.message
            ));
            if opts.optional {
                progress.warn(&format!(
                    "{e}; gating every finding because --baseline-optional"
                ));
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

async fn read(c: &Clients, src: &str, deadline: Instant, progress: &Progress) -> Result<Baselines> {
    if let Some(svc) = src.strip_prefix("ecs:") {
        let r = ServiceRef::parse(svc).map_err(Error::usage)?;
        let running = ecs::running(c, &r, deadline).await?;
        let (digest, n) = running.digests[0].clone();
        if running.digests.len() > 1 {
            progress.warn(&format!(
                "the running tasks of {} report {} digests; comparing with the most common, {digest} ({n} task(s))",
                r.service,
                running.digests.len()
            ));
        }
        let mut image: ImageRef = running.image.parse().map_err(|e| {
            Error::runtime(format!(
                "service {} runs {}, not an ECR image this gate can read findings for ({e})",
                r.service, running.image
            ))
        })?;
        image.target = Target::Digest(digest);
        progress.info(&format!("baseline {src} runs {image}"));
        return from_image(c, src, &image, deadline).await;
    }
    let path = Path::new(src);
    if path.is_file() || src.ends_with(".json") {
        return from_report(src, path);
    }
    let image: ImageRef = src.parse().map_err(|e| {
        Error::usage(format!(
            "--baseline {src} is neither ecs:CLUSTER/SERVICE, an existing report.json, nor an image reference: {e}"
        ))
    })?;
    from_image(c, src, &image, deadline).await
}

/// The findings Inspector has now for every platform manifest of `image`.
async fn from_image(
    c: &Clients,
    src: &str,
    image: &ImageRef,
    deadline: Instant,
) -> Result<Baselines> {
    let images = ecr::resolve(c, image, deadline).await?;
    let mut out = Vec::new();
    for img in images {
        let row = inspector::coverage(c, &img)
            .await
            .map_err(|e| e.into_error("inspector2:ListCoverage"))?;
        match wait::judge_coverage(row.as_ref(), &img.label()) {
            Observation::Scanned { .. } => {}
            Observation::Pending(why) => {
                return Err(Error::inconclusive(format!(
                    "{} is not scanned yet ({why}); a baseline is read, not waited for",
                    img.label()
                )))
            }
            Observation::Never(e) => return Err(e),
        }
        let findings = wait::all_findings(c, &img, deadline, &RefCell::new(None)).await?;
        out.push((
            img.platform.clone(),
            Baseline {
                source: src.to_string(),
                digest: Some(img.digest.clone()),
                findings,
            },
        ));
    }
    Ok(Baselines(out))
}

/// The findings of a `report.json` an earlier gate wrote.
fn from_report(src: &str, path: &Path) -> Result<Baselines> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::runtime(format!("cannot read {}: {e}", path.display())))?;
    parse_report(src, &text)
}

/// Parse a saved report: `images[].image.{digest,platform}` and `images[].evaluation.findings`.
pub fn parse_report(src: &str, text: &str) -> Result<Baselines> {
    let not_report = |why: &str| {
        Error::runtime(format!(
            "{src} is not a report.json written by inspector-gate ({why})"
        ))
    };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| not_report(&format!("invalid JSON: {e}")))?;
    let images = v
        .get("images")
        .and_then(|i| i.as_array())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| not_report("no images[]"))?;
    let mut out = Vec::new();
    for img in images {
        let findings = img
            .pointer("/evaluation/findings")
            .cloned()
            .ok_or_else(|| not_report("an image has no evaluation.findings"))?;
        let findings: Vec<Finding> = serde_json::from_value(findings)
            .map_err(|e| not_report(&format!("a finding does not parse: {e}")))?;
        let str_at = |p: &str| img.pointer(p).and_then(|s| s.as_str()).map(str::to_string);
        out.push((
            str_at("/image/platform"),
            Baseline {
                source: src.to_string(),
                digest: str_at("/image/digest"),
                findings,
            },
        ));
    }
    Ok(Baselines(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn a_saved_report_reads_back_as_a_baseline() {
        let report = testing::mixed();
        let text = crate::report::json::render(&report);
        let b = parse_report("report.json", &text).unwrap();
        assert_eq!(b.0.len(), report.images.len());
        let first = &report.images[0];
        let got = b.for_image(&first.image).unwrap();
        assert_eq!(got.digest.as_deref(), Some(first.image.digest.as_str()));
        let want: Vec<&str> = first
            .evaluation
            .findings
            .iter()
            .map(|j| j.finding.id.as_str())
            .collect();
        let have: Vec<&str> = got.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(have, want);
        assert!(parse_report("x.json", "{}").is_err());
        assert!(parse_report("x.json", "not json").is_err());
    }
}
