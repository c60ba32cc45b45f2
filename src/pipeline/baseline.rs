//! Resolve `--baseline SOURCE` into the findings of the images a candidate is compared with:
//! `ecs:CLUSTER/SERVICE[/CONTAINER]` (the cluster by name or ARN, or the service by its ARN:
//! what serves the service's traffic now), an image
//! reference, or a saved `report.json`. The baseline must already be scanned: it is read,
//! never waited for. Any failure is exit 3 naming the cause (a malformed SOURCE stays a usage
//! error, exit 2).
//!
//! The baseline is what serves traffic, never the candidate: for an ECS service, the
//! deployments whose rollout is COMPLETED (or, while none is, every running deployment other
//! than the candidate's), or the PRIMARY task set (CODE_DEPLOY / EXTERNAL controllers). A
//! baseline that runs the candidate's digest compares it with itself: exit 3.

use crate::aws::ecs::{self, ServiceRef};
use crate::aws::{ecr, inspector, Clients};
use crate::baseline::{Baseline, BaselineImage};
use crate::error::{Error, ErrorKind, Result};
use crate::image_ref::{ImageRef, Target};
use crate::model::{Finding, ScannedImage};
use crate::progress::Progress;
use crate::wait::{self, Observation};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::time::Instant;

/// `--baseline SOURCE` and `--baseline-optional`.
#[derive(Debug, Clone)]
pub struct BaselineOptions {
    pub source: String,
    /// An unreadable baseline is a warning (and every finding is gated) instead of exit 3.
    pub optional: bool,
}

/// The baseline as read: what runs, unit by unit (an ECS deployment or task set; one unit for
/// an image reference or a report). Which units a candidate image is compared with is
/// decided per image by [`Baselines::pick`], which knows the candidate's digest.
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    source: String,
    optional: bool,
    units: Vec<Served>,
}

/// One unit of what runs.
#[derive(Debug, Clone)]
struct Served {
    /// `deployment ecs-svc/1 (ACTIVE, COMPLETED)`, or the source itself.
    label: String,
    /// Serves traffic by the runtime's own account (COMPLETED deployment, PRIMARY task set).
    serving: bool,
    /// Running tasks that report no digest yet.
    undigested: usize,
    images: Vec<ServedImage>,
}

/// One image a unit runs.
#[derive(Debug, Clone)]
struct ServedImage {
    /// The digest the runtime names (an index for a multi-arch image), when known.
    digest: Option<String>,
    /// Its platform manifests and their findings, or why they could not be read (kept until
    /// a candidate is compared with this image: the candidate's own deployment is read too,
    /// and may not be scanned yet).
    platforms: std::result::Result<Vec<Platform>, Error>,
}

/// One platform manifest of a baseline image and its findings.
#[derive(Debug, Clone)]
struct Platform {
    platform: Option<String>,
    digest: Option<String>,
    findings: Vec<Finding>,
}

impl ServedImage {
    /// Every digest this image is known by: the runtime's, and each platform manifest's.
    fn digests(&self) -> impl Iterator<Item = &str> {
        let platforms = self.platforms.as_deref().unwrap_or_default();
        self.digest
            .as_deref()
            .into_iter()
            .chain(platforms.iter().filter_map(|p| p.digest.as_deref()))
    }
}

impl Served {
    /// The first digest of this unit that is the candidate's (platform or index digest).
    fn runs(&self, img: &ScannedImage) -> Option<&str> {
        self.images
            .iter()
            .flat_map(|i| i.digests())
            .find(|d| *d == img.digest || img.index_digest.as_deref() == Some(*d))
    }
}

impl Baselines {
    /// A baseline of one unit that serves (an image reference or a saved report).
    fn single(
        source: &str,
        optional: bool,
        digest: Option<String>,
        platforms: Vec<Platform>,
    ) -> Self {
        Baselines {
            source: source.to_string(),
            optional,
            units: vec![Served {
                label: source.to_string(),
                serving: true,
                undigested: 0,
                images: vec![ServedImage {
                    digest,
                    platforms: Ok(platforms),
                }],
            }],
        }
    }

    /// The baseline `img` is compared with, or `None` (every finding gated) with a warning:
    /// when the baseline has no image for its platform, or, with `--baseline-optional`, when
    /// it cannot be used. Otherwise an unusable baseline is the image's error (exit 3).
    pub fn pick(&self, img: &ScannedImage, progress: &Progress) -> Result<Option<Baseline>> {
        match self.for_image(img) {
            Ok(Some(b)) => Ok(Some(b)),
            Ok(None) => {
                progress.warn(&format!(
                    "the baseline has no image for the platform of {}: gating all its findings",
                    img.label()
                ));
                Ok(None)
            }
            Err(e) if self.optional => {
                progress.warn(&format!(
                    "{e}; gating every finding of {} because --baseline-optional",
                    img.label()
                ));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The serving images `img` is compared with (each one's manifest for `img`'s platform,
    /// else its only one); `None` when one of them has no manifest for it.
    pub fn for_image(&self, img: &ScannedImage) -> Result<Option<Baseline>> {
        let src = &self.source;
        let serving: Vec<&Served> = self.units.iter().filter(|u| u.serving).collect();
        let chosen: Vec<&Served> = if serving.is_empty() {
            // Mid-rollout (no deployment COMPLETED): every running one but the candidate's.
            self.units
                .iter()
                .filter(|u| u.runs(img).is_none())
                .collect()
        } else {
            serving
        };
        let already = |label: &str, d: &str| {
            Error::inconclusive(format!(
                "the baseline already runs the candidate: {label} of {src} runs {d}, so a comparison would call every finding of {} inherited (compare with what served before it: pass that image or its report.json as --baseline)",
                img.label()
            ))
        };
        if let Some((u, d)) = chosen.iter().find_map(|u| u.runs(img).map(|d| (u, d))) {
            return Err(already(&u.label, d));
        }
        if chosen.is_empty() {
            let u = self.units.first().map(|u| u.label.as_str()).unwrap_or(src);
            return Err(already(u, &img.digest));
        }
        if let Some(u) = chosen.iter().find(|u| u.undigested > 0) {
            return Err(Error::inconclusive(format!(
                "cannot read the baseline {src}: {} running task(s) of {} report no image digest yet, so what they run was not seen",
                u.undigested, u.label
            )));
        }
        let mut images = Vec::new();
        for i in chosen.iter().flat_map(|u| &u.images) {
            let platforms = i.platforms.as_ref().map_err(|e| {
                Error::inconclusive(format!("cannot read the baseline {src}: {}", e.message))
            })?;
            let p = platforms
                .iter()
                .find(|p| p.platform.is_some() && p.platform == img.platform)
                .or_else(|| (platforms.len() == 1).then(|| &platforms[0]));
            let Some(p) = p else { return Ok(None) };
            images.push(BaselineImage {
                digest: p.digest.clone(),
                findings: p.findings.clone(),
            });
        }
        Ok(Some(Baseline {
            source: src.clone(),
            images,
        }))
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
    match read(c, opts, deadline, progress).await {
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

/// What `--baseline SOURCE` names: the one reading of SOURCE (the preflight and the IAM
/// plan use it too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `ecs:…`: what the service runs now.
    Ecs(ServiceRef),
    /// An existing file, or a path ending in `.json`: a saved report.json.
    Report(PathBuf),
    /// Anything else: an image reference.
    Image(ImageRef),
}

impl std::str::FromStr for Source {
    type Err = Error;

    /// A malformed SOURCE is a usage error (exit 2).
    fn from_str(src: &str) -> Result<Source> {
        let src = src.trim();
        if let Some(svc) = src.strip_prefix("ecs:") {
            return ServiceRef::parse(svc)
                .map(Source::Ecs)
                .map_err(Error::usage);
        }
        let path = Path::new(src);
        if path.is_file() || src.ends_with(".json") {
            return Ok(Source::Report(path.to_path_buf()));
        }
        src.parse().map(Source::Image).map_err(|e: Error| {
            Error::usage(format!(
                "--baseline {src} is neither ecs:CLUSTER/SERVICE, an existing report.json, nor an image reference: {}",
                e.message
            ))
        })
    }
}

async fn read(
    c: &Clients,
    opts: &BaselineOptions,
    deadline: Instant,
    progress: &Progress,
) -> Result<Baselines> {
    let src = opts.source.as_str();
    match src.parse::<Source>()? {
        Source::Ecs(r) => {
            // ECS answers for its own region only: a cluster ARN of another region would be
            // "not found" there.
            if let Some(a) = r.scope.as_ref().filter(|a| a.region != c.region) {
                return Err(Error::usage(format!(
                    "--baseline {src} names a cluster in {}, but this run's AWS calls go to {}: pass --region {} (or a cluster of {})",
                    a.region, c.region, a.region, c.region
                )));
            }
            from_service(c, opts, &r, deadline, progress).await
        }
        Source::Report(path) => from_report(opts, &path),
        Source::Image(image) => {
            let digest = match &image.target {
                Target::Digest(d) => Some(d.clone()),
                Target::Tag(_) => None,
            };
            let batches = wait::Batches::new(c, deadline);
            let platforms = from_image(c, &batches, &image, deadline).await?;
            Ok(Baselines::single(src, opts.optional, digest, platforms))
        }
    }
}

/// Every unit of the service and the findings of every image its tasks run (each digest
/// read once; a read that fails is kept as that image's error).
async fn from_service(
    c: &Clients,
    opts: &BaselineOptions,
    r: &ServiceRef,
    deadline: Instant,
    progress: &Progress,
) -> Result<Baselines> {
    let running = ecs::running(c, r, deadline).await?;
    // Every distinct digest the service runs, read concurrently through one set of batches
    // (their coverage and findings listings shared, wait::batch).
    let mut wanted: BTreeMap<String, std::result::Result<ImageRef, Error>> = BTreeMap::new();
    for ri in running.units.iter().flat_map(|u| &u.images) {
        wanted
            .entry(ri.digest.clone())
            .or_insert_with(|| match ri.image.parse::<ImageRef>() {
                Ok(mut image) => {
                    image.target = Target::Digest(ri.digest.clone());
                    Ok(image)
                }
                Err(e) => Err(Error::runtime(format!(
                    "service {} runs {}, not an ECR image this gate can read findings for ({e})",
                    r.service, ri.image
                ))),
            });
    }
    let batches = wait::Batches::new(c, deadline);
    let batches = &batches;
    let got = futures::future::join_all(wanted.iter().map(|(digest, image)| async move {
        let platforms = match image {
            Ok(image) => from_image(c, batches, image, deadline).await,
            Err(e) => Err(e.clone()),
        };
        (digest.clone(), platforms)
    }))
    .await;
    let read: BTreeMap<String, std::result::Result<Vec<Platform>, Error>> =
        got.into_iter().collect();
    let mut units = Vec::new();
    for u in running.units {
        let mut images = Vec::new();
        for ri in &u.images {
            progress.info(&format!(
                "baseline {}: {} runs {}@{} ({} task(s))",
                opts.source,
                u.label,
                ri.image.split('@').next().unwrap_or_default(),
                ri.digest,
                ri.tasks
            ));
            images.push(ServedImage {
                digest: Some(ri.digest.clone()),
                platforms: read[&ri.digest].clone(),
            });
        }
        units.push(Served {
            label: u.label,
            serving: u.serving,
            undigested: u.undigested,
            images,
        });
    }
    Ok(Baselines {
        source: opts.source.clone(),
        optional: opts.optional,
        units,
    })
}

/// The findings Inspector has now for every platform manifest of `image` (the platforms
/// read concurrently, through `batches`).
async fn from_image(
    c: &Clients,
    batches: &wait::Batches<'_>,
    image: &ImageRef,
    deadline: Instant,
) -> Result<Vec<Platform>> {
    let images = ecr::resolve(c, image, deadline).await?;
    let read = |img: ScannedImage| async move {
        let now = Instant::now();
        let rows = batches
            .coverage(&img, now, now)
            .await
            .map_err(|e| e.into_error("inspector2:ListCoverage"))?;
        match wait::judge_coverage(inspector::row_for(&rows, &img), &img) {
            Observation::Scanned { .. } => {}
            Observation::Pending(why) => {
                return Err(Error::inconclusive(format!(
                    "{} is not scanned yet ({why}); a baseline is read, not waited for",
                    img.label()
                )))
            }
            Observation::Never(e) => return Err(e),
        }
        let findings = wait::all_findings(batches, &img).await?;
        Ok(Platform {
            platform: img.platform.clone(),
            digest: Some(img.digest.clone()),
            findings,
        })
    };
    futures::future::join_all(images.into_iter().map(read))
        .await
        .into_iter()
        .collect()
}

/// The findings of a `report.json` an earlier gate wrote.
fn from_report(opts: &BaselineOptions, path: &Path) -> Result<Baselines> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::runtime(format!("cannot read {}: {e}", path.display())))?;
    let platforms = parse_report(&opts.source, &text)?;
    Ok(Baselines::single(
        &opts.source,
        opts.optional,
        None,
        platforms,
    ))
}

/// Parse a saved report: `images[].image.{digest,platform}` and `images[].evaluation.findings`.
fn parse_report(src: &str, text: &str) -> Result<Vec<Platform>> {
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
        out.push(Platform {
            platform: str_at("/image/platform"),
            digest: str_at("/image/digest"),
            findings,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn a_saved_report_reads_back_as_a_baseline() {
        let report = testing::mixed();
        let text = crate::report::json::render(&report);
        let platforms = parse_report("report.json", &text).unwrap();
        assert_eq!(platforms.len(), report.images.len());
        let b = Baselines::single("report.json", false, None, platforms);
        let first = &report.images[0];
        let mut cand = first.image.clone();
        cand.digest = format!("sha256:{}", "c".repeat(64));
        let got = b.for_image(&cand).unwrap().unwrap();
        assert_eq!(got.digests(), vec![first.image.digest.clone()]);
        let want: Vec<&str> = first
            .evaluation
            .findings
            .iter()
            .map(|j| j.finding.id.as_str())
            .collect();
        let have: Vec<&str> = got.images[0]
            .findings
            .iter()
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(have, want);
        // Gating the image the report is of: the baseline is the candidate.
        let e = b.for_image(&first.image).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Inconclusive);
        assert!(e.message.contains("already runs the candidate"), "{e}");
        assert!(parse_report("x.json", "{}").is_err());
        assert!(parse_report("x.json", "not json").is_err());
    }

    fn finding(id: &str) -> Finding {
        serde_json::from_value(serde_json::json!({ "id": id, "severity": "HIGH", "title": id }))
            .unwrap()
    }

    fn unit(label: &str, serving: bool, digest: &str, ids: &[&str]) -> Served {
        Served {
            label: label.into(),
            serving,
            undigested: 0,
            images: vec![ServedImage {
                digest: Some(digest.into()),
                platforms: Ok(vec![Platform {
                    platform: None,
                    digest: Some(digest.into()),
                    findings: ids.iter().map(|i| finding(i)).collect(),
                }]),
            }],
        }
    }

    fn cand(digest: &str) -> ScannedImage {
        ScannedImage {
            registry: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "app/web".into(),
            digest: digest.into(),
            platform: None,
            requested: "app/web:v2".into(),
            index_digest: None,
            registry_host: None,
        }
    }

    fn service(units: Vec<Served>) -> Baselines {
        Baselines {
            source: "ecs:prod/web".into(),
            optional: false,
            units,
        }
    }

    fn digests(b: Result<Option<Baseline>>) -> Vec<String> {
        b.unwrap().unwrap().digests()
    }

    #[test]
    fn the_completed_deployment_is_the_baseline_never_the_rollout() {
        // Mid-rollout of the candidate: the PRIMARY (IN_PROGRESS) runs it, the COMPLETED one serves.
        let b = service(vec![
            unit("primary", false, "sha256:cand", &["CVE-1"]),
            unit("completed", true, "sha256:old", &["CVE-1"]),
        ]);
        assert_eq!(
            digests(b.for_image(&cand("sha256:cand"))),
            vec!["sha256:old"]
        );
        // A COMPLETED deployment that runs the candidate: exit 3, never "all inherited".
        let b = service(vec![unit("completed", true, "sha256:cand", &["CVE-1"])]);
        let e = b.for_image(&cand("sha256:cand")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Inconclusive);
        assert!(
            e.message.contains("already runs the candidate") && e.message.contains("completed"),
            "{e}"
        );
        // The candidate's index digest counts as the candidate too.
        let mut child = cand("sha256:child");
        child.index_digest = Some("sha256:cand".into());
        assert!(b.for_image(&child).is_err());
    }

    #[test]
    fn without_a_completed_deployment_every_other_running_one_is_the_baseline() {
        let b = service(vec![
            unit("new", false, "sha256:cand", &[]),
            unit("a", false, "sha256:a", &["CVE-1", "CVE-2"]),
            unit("b", false, "sha256:b", &["CVE-1"]),
        ]);
        assert_eq!(
            digests(b.for_image(&cand("sha256:cand"))),
            vec!["sha256:a", "sha256:b"]
        );
        // Nothing but the candidate runs.
        let b = service(vec![unit("new", false, "sha256:cand", &[])]);
        let e = b.for_image(&cand("sha256:cand")).unwrap_err();
        assert!(e.message.contains("already runs the candidate"), "{e}");
    }

    #[test]
    fn an_unreadable_or_undigested_serving_image_is_inconclusive_unless_optional() {
        let mut u = unit("completed", true, "sha256:old", &[]);
        u.images[0].platforms = Err(Error::inconclusive("sha256:old is not scanned yet"));
        // The candidate's own (unscanned) deployment is read too: its error does not matter.
        let mut mine = unit("primary", false, "sha256:cand", &[]);
        mine.images[0].platforms = Err(Error::inconclusive("not scanned"));
        let ok = service(vec![
            mine.clone(),
            unit("completed", true, "sha256:old", &[]),
        ]);
        assert!(ok.for_image(&cand("sha256:cand")).unwrap().is_some());
        let mut b = service(vec![mine, u]);
        let e = b.for_image(&cand("sha256:cand")).unwrap_err();
        assert!(e.message.contains("not scanned yet"), "{e}");
        let mut blind = unit("completed", true, "sha256:old", &[]);
        blind.undigested = 2;
        let e = service(vec![blind])
            .for_image(&cand("sha256:cand"))
            .unwrap_err();
        assert!(
            e.message
                .contains("2 running task(s) of completed report no image digest"),
            "{e}"
        );
        b.optional = true;
        let p = Progress::new(crate::progress::Verbosity::Quiet, false, Some(false));
        assert!(b.pick(&cand("sha256:cand"), &p).unwrap().is_none());
    }
}
