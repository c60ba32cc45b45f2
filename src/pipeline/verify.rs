//! `inspector-gate verify IMAGE --key KEY`: at deploy time, check the signed decision stored
//! for the image's digest (`gate --attest`) — signature, subject, `pass`, age, the attested
//! policy against the floor (`crate::attest::check`) — and, with `--regate`, read Inspector's
//! current findings for the attested platform digests and evaluate them under the attested
//! policy, so a CVE published since the build fails the deploy. Prints each check on stdout;
//! exit 0 when every check passes, 1 when one fails, 2/3/4 as the gate.

use super::gate::{scan_and_evaluate_against, Gated, OnTimeout};
use super::policy::load_floor;
use super::push::{needs_aws, registry_target};
use crate::attest::check::{self, Check, Expect};
use crate::attest::key::{fingerprint, verifying_key, KeyRef};
use crate::attest::statement::Statement;
use crate::aws::{self, ecr, AwsOptions, Clients};
use crate::error::{Error, Result, EXIT_PASS, EXIT_VIOLATION};
use crate::image_ref::{ImageRef, Target};
use crate::model::ScannedImage;
use crate::policy::eval::Verdict;
use crate::policy::file::FloorSource;
use crate::progress::Progress;
use crate::registry::artifact;
use crate::wait::WaitOptions;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub image: ImageRef,
    pub key: KeyRef,
    /// `--max-age`: the decision must be at most this old.
    pub max_age: Option<Duration>,
    /// `--policy-floor`: the attested policy must be at least as strict as this floor.
    pub floor: Option<String>,
    /// `--regate`: evaluate Inspector's current findings under the attested policy.
    pub regate: bool,
    pub registry_url: Option<String>,
    pub insecure_registry: bool,
    /// `--timeout` and the polling of `--regate`; the timeout bounds the whole run.
    pub wait: WaitOptions,
    pub aws: AwsOptions,
}

/// Whether the run calls AWS at all: not for a digest checked with a local key against a
/// registry with static credentials and a local floor, without `--regate`.
fn needs_clients(o: &VerifyOptions) -> bool {
    let remote_floor = o
        .floor
        .as_deref()
        .and_then(|f| f.parse::<FloorSource>().ok())
        .is_some_and(|f| !matches!(f, FloorSource::File(_)));
    matches!(o.key, KeyRef::Kms(_))
        || o.regate
        || matches!(o.image.target, Target::Tag(_))
        || needs_aws()
        || remote_floor
}

/// The digest the deploy names: the reference's own, or what its tag resolves to in ECR (the
/// index for a multi-arch image).
async fn digest_of(c: Option<&Clients>, image: &ImageRef, deadline: Instant) -> Result<String> {
    match (&image.target, c) {
        (Target::Digest(d), _) => Ok(d.clone()),
        (Target::Tag(_), Some(c)) => {
            let images = ecr::resolve(c, image, deadline).await?;
            let first = images
                .first()
                .ok_or_else(|| Error::inconclusive(format!("{image} resolved to no image")))?;
            Ok(first.index_digest.clone().unwrap_or_else(|| first.digest.clone()))
        }
        (Target::Tag(_), None) => Err(Error::usage(format!(
            "{image} is a tag: verify a digest (<repo>@sha256:<hex>), or give AWS access to resolve it"
        ))),
    }
}

/// The attested platform images that `digest` names (itself, or the platforms of an index).
fn attested_images(st: &Statement, digest: &str) -> Result<Vec<ScannedImage>> {
    st.predicate
        .images
        .iter()
        .filter(|i| i.digest == digest || i.index_digest.as_deref() == Some(digest))
        .map(|i| {
            let r: ImageRef = format!("{}@{}", i.repository, i.digest).parse()?;
            Ok(ScannedImage {
                registry: r.registry.clone().unwrap_or_default(),
                region: r.region.clone().unwrap_or_default(),
                repository: r.repository.clone(),
                digest: i.digest.clone(),
                platform: i.platform.clone(),
                requested: format!("{}@{}", r.repository, i.digest),
                index_digest: i.index_digest.clone(),
                registry_host: None,
            }
            .with_host(r.host.as_deref()))
        })
        .collect()
}

/// `--regate`: the attested images' current findings under the attested policy.
async fn regate(
    c: &Clients,
    st: &Statement,
    digest: &str,
    opts: &VerifyOptions,
    deadline: Instant,
    progress: &Progress,
) -> Result<Check> {
    let images = attested_images(st, digest)?;
    if images.is_empty() {
        return Ok(Check {
            name: "regate",
            ok: false,
            detail: format!("the decision lists no image for {digest}"),
        });
    }
    let evaluated = scan_and_evaluate_against(
        c,
        &[Gated::Pushed(images)],
        &st.predicate.policy,
        None,
        &opts.wait,
        OnTimeout::Fail,
        deadline,
        progress,
    )
    .await?;
    let failing: Vec<String> = evaluated
        .reports
        .iter()
        .filter(|r| r.evaluation.verdict == Verdict::Fail)
        .map(|r| {
            let why: Vec<String> = r
                .evaluation
                .violations
                .iter()
                .map(|v| format!("{} {} > {}", v.severity, v.count, v.max))
                .collect();
            let ids: Vec<&str> = r
                .evaluation
                .violating()
                .map(|j| j.finding.id.as_str())
                .take(5)
                .collect();
            format!(
                "{}: {} ({})",
                r.image.label(),
                why.join(", "),
                ids.join(", ")
            )
        })
        .collect();
    let counted: u64 = evaluated
        .reports
        .iter()
        .map(|r| r.evaluation.counted.values().sum::<u64>())
        .sum();
    Ok(if failing.is_empty() {
        Check {
            name: "regate",
            ok: true,
            detail: format!(
                "Inspector's current findings pass the attested policy ({counted} counted)"
            ),
        }
    } else {
        Check {
            name: "regate",
            ok: false,
            detail: format!(
                "Inspector's current findings fail the attested policy: {}",
                failing.join("; ")
            ),
        }
    })
}

/// Run `verify`; exit 0 when every check passes, 1 when one fails.
pub async fn run(opts: &VerifyOptions, progress: &Progress) -> Result<i32> {
    let deadline = Instant::now() + opts.wait.timeout;
    let clients = if needs_clients(opts) {
        Some(aws::clients(&opts.aws).await?)
    } else {
        None
    };
    let c = clients.as_ref();
    let floor = match &opts.floor {
        Some(spec) => Some(load_floor(spec, &opts.aws, deadline).await?),
        None => None,
    };
    let digest = digest_of(c, &opts.image, deadline).await?;
    let key = verifying_key(&opts.key, c.map(|c| &c.kms), deadline).await?;
    let key_name = format!("{} (key {})", opts.key, fingerprint(&key));
    progress.phase(&format!("reading the attestations of {digest}"));
    let (target, _, _) = registry_target(
        c,
        &opts.image,
        opts.registry_url.as_deref(),
        opts.insecure_registry,
        deadline,
        progress,
    )
    .await?;
    let fetched = artifact::fetch(&target, &digest).await?;
    progress.finish();
    let mut verified = check::verify(
        &fetched.envelopes,
        &key,
        &key_name,
        &Expect {
            digest: &digest,
            now: time::OffsetDateTime::now_utc(),
            max_age: opts.max_age,
            floor: floor.as_ref(),
        },
    );
    if opts.regate {
        match (&verified.decision, c) {
            (Some(st), Some(c)) => {
                let st = st.clone();
                verified
                    .checks
                    .push(regate(c, &st, &digest, opts, deadline, progress).await?);
            }
            _ => verified.checks.push(Check {
                name: "regate",
                ok: false,
                detail: "no signed decision to re-evaluate".into(),
            }),
        }
    }
    for c in &verified.checks {
        println!(
            "{:<4} {}: {}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            crate::sanitize::text(&c.detail)
        );
    }
    if !fetched.referrers_api {
        progress.info("the registry has no OCI referrers API: read cosign's .att tag only");
    }
    let shown = format!("{}@{digest}", opts.image.repository);
    if verified.passed() {
        println!("verified: {shown} passed the gate and may deploy");
        Ok(EXIT_PASS)
    } else {
        println!("not verified: {shown} must not deploy");
        Ok(EXIT_VIOLATION)
    }
}
