//! `gate --attest KEY`: sign the run's decision (an in-toto statement of the one `Report`,
//! `crate::attest`) and store it next to every image it names — cosign's `.att` tag and, where
//! the registry serves the referrers API, an OCI 1.1 referrer (`crate::registry::artifact`).
//! A failing verdict is attested too: it records the decision; `verify` requires `pass`.

use super::push::registry_target;
use crate::attest::dsse::{pae, Envelope};
use crate::attest::key::{KeyRef, Signer};
use crate::attest::{statement, PAYLOAD_TYPE, PREDICATE_TYPE};
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::image_ref::{ImageRef, Target};
use crate::progress::Progress;
use crate::registry::artifact::{self, Stored};
use crate::report::Report;
use tokio::time::Instant;

/// What `--attest` needs besides the report.
#[derive(Debug, Clone)]
pub struct AttestOptions {
    pub key: KeyRef,
    /// The resolved policy's origins `(key, value, source)` (`inspector-gate config`'s table).
    pub sources: Vec<(String, String, String)>,
    /// The registry endpoint instead of ECR's (`--registry-url`).
    pub registry_url: Option<String>,
    pub insecure_registry: bool,
}

/// What was signed and where it went.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The DSSE envelope (JSON).
    pub envelope: Vec<u8>,
    /// Per subject digest: where it was stored.
    pub stored: Vec<(String, Stored)>,
}

/// Sign `report`'s decision with `opts.key` and store it for each of its digests.
pub async fn attest(
    c: &Clients,
    report: &Report,
    opts: &AttestOptions,
    deadline: Instant,
    progress: &Progress,
) -> Result<Attested> {
    progress.phase("signing the decision");
    let st = statement::build(report, &opts.sources)?;
    let payload = st.to_payload()?;
    let signer = Signer::open(&opts.key, Some(&c.kms))?;
    let signature = signer.sign(&pae(PAYLOAD_TYPE, &payload), deadline).await?;
    let envelope = Envelope::new(PAYLOAD_TYPE, &payload, "", &signature).to_json();
    let mut stored = Vec::new();
    // One registry target per repository; every digest of it (platforms and index) gets the
    // envelope, so `verify` finds it whichever digest the deploy names.
    let mut repos: Vec<(ImageRef, Vec<String>)> = Vec::new();
    for r in &report.images {
        let img = &r.image;
        let digests = std::iter::once(img.digest.clone()).chain(img.index_digest.clone());
        let key = ImageRef {
            registry: Some(img.registry.clone()).filter(|s| !s.is_empty()),
            region: Some(img.region.clone()).filter(|s| !s.is_empty()),
            host: img.registry_host.clone(),
            repository: img.repository.clone(),
            target: Target::Digest(img.digest.clone()),
        };
        let at = match repos
            .iter()
            .position(|(k, _)| k.repository == key.repository && k.registry == key.registry)
        {
            Some(i) => i,
            None => {
                repos.push((key, Vec::new()));
                repos.len() - 1
            }
        };
        for d in digests {
            if !repos[at].1.contains(&d) {
                repos[at].1.push(d);
            }
        }
    }
    for (repo, digests) in &repos {
        let (target, _, _) = registry_target(
            Some(c),
            repo,
            opts.registry_url.as_deref(),
            opts.insecure_registry,
            deadline,
            progress,
        )
        .await?;
        for d in digests {
            let s = artifact::store(&target, d, &envelope, PREDICATE_TYPE)
                .await
                .map_err(|e| Error {
                    message: format!(
                        "storing the signed decision for {}@{d}: {}",
                        repo.repository, e.message
                    ),
                    ..e
                })?;
            progress.info(&format!(
                "attested {}@{d} ({}, {} bytes): tag {}{}",
                repo.repository,
                report.verdict.as_str(),
                envelope.len(),
                s.tag,
                match &s.referrer {
                    Some(r) => format!(", referrer {r}"),
                    None => " (the registry has no referrers API: tag only)".into(),
                }
            ));
            stored.push((d.clone(), s));
        }
    }
    Ok(Attested { envelope, stored })
}
