//! Pushing a local image to ECR (`push`, and `gate --push-from`) and reporting the exact
//! digests the registry stored: the ones Inspector scans and the deploy pins.

use crate::aws::{ecr, Clients};
use crate::error::{Error, Result};
use crate::image_ref::{ImageRef, Target};
use crate::model::ScannedImage;
use crate::progress::Progress;
use crate::registry::{self, PushTarget, RegistryAuth, SourceSpec};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Credentials for a registry that is not ECR (a local registry, a proxy): when both are set,
/// `GetAuthorizationToken` is not called.
pub const USERNAME_ENV: &str = "INSPECTOR_GATE_REGISTRY_USERNAME";
pub const PASSWORD_ENV: &str = "INSPECTOR_GATE_REGISTRY_PASSWORD";

/// How long `GetAuthorizationToken` is retried at most (and never past `gate --timeout`).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(120);

/// `(account, region)` from an ECR endpoint such as `https://<acct>.dkr.ecr.<region>.amazonaws.com`.
fn account_region(endpoint: &str) -> Option<(String, String)> {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split('/')
        .next()?;
    let h = crate::partition::parse_registry_host(host)?;
    Some((h.account, h.region))
}

/// What to push where.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// `oci:<dir>[:<ref>]`, `oci-archive:<file>`, `docker-archive:<file>`, `docker:<image>`,
    /// parsed once (by the command's preflight).
    pub source: SourceSpec,
    /// The destination repository and its first tag.
    pub dest: ImageRef,
    /// More tags for the same image.
    pub extra_tags: Vec<String>,
    /// A registry endpoint instead of ECR's proxy endpoint (proxies, tests).
    pub registry_url: Option<String>,
    /// Allow sending the registry credentials over plain http:// to a non-loopback host.
    pub insecure_registry: bool,
}

/// Where the registry credentials may go, decided before any connection: never over plain
/// http:// to a host that is not loopback unless `insecure` (`--insecure-registry`), and a
/// one-line notice when `--registry-url` sends ECR's token to a host other than ECR's own
/// endpoint `ecr_endpoint`.
pub fn check_credential_destination(
    endpoint: &reqwest::Url,
    ecr_endpoint: Option<&str>,
    insecure: bool,
) -> Result<Option<String>> {
    let shown = crate::sanitize::url_without_userinfo(endpoint.as_str());
    let host = endpoint.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if endpoint.scheme() == "http" && !loopback && !insecure {
        return Err(Error::usage(format!(
            "refusing to send registry credentials over plain http to {shown}: use https://, or pass --insecure-registry if this network is trusted"
        )));
    }
    let Some(ecr) = ecr_endpoint else {
        return Ok(None);
    };
    let ecr_host = reqwest::Url::parse(ecr)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    Ok((!ecr_host.eq_ignore_ascii_case(host)).then(|| {
        format!(
            "--registry-url: sending the ECR authorization token to {shown}, not to ECR's endpoint {}",
            crate::sanitize::url_without_userinfo(ecr)
        )
    }))
}

/// Whether the push needs AWS (it does unless static registry credentials are set).
pub fn needs_aws() -> bool {
    std::env::var(USERNAME_ENV).is_err()
}

/// How many pushes of one run go at once (each uploads its blobs on several connections).
pub const PUSHES_AT_ONCE: usize = 3;

/// ECR authorization tokens of one run, one per registry: a token is good for 12 hours and
/// for every repository of its registry, so pushing twenty images asks for it once.
#[derive(Default)]
pub struct Tokens(tokio::sync::Mutex<HashMap<Option<String>, (String, String, String)>>);

impl Tokens {
    /// `(user, password, proxy endpoint)` for `registry` (the credentials' own when `None`),
    /// asked of ECR on first use only; the lock is held across the call, so pushes that start
    /// together still make one.
    async fn get(
        &self,
        c: &Clients,
        registry: Option<&str>,
        deadline: Instant,
    ) -> Result<(String, String, String)> {
        let mut held = self.0.lock().await;
        let key = registry.map(str::to_string);
        if let Some(t) = held.get(&key) {
            return Ok(t.clone());
        }
        let t = ecr::registry_auth(c, registry, deadline).await?;
        held.insert(key, t.clone());
        Ok(t)
    }
}

/// Push every request (at most [`PUSHES_AT_ONCE`] at a time, one token per registry) and
/// return each one's pushed image manifests, in the requests' order. The first push that fails
/// ends the run with its error: a gate never passes on the images that happened to arrive.
pub async fn push_all(
    c: Option<&Clients>,
    reqs: &[PushRequest],
    deadline: Instant,
    progress: &Progress,
) -> Result<Vec<Vec<ScannedImage>>> {
    let tokens = Tokens::default();
    let tokens = &tokens;
    futures::stream::iter(reqs)
        .map(|req| push_with(c, tokens, req, deadline, progress))
        .buffered(PUSHES_AT_ONCE)
        .try_collect()
        .await
}

/// Push `req.source` to `req.dest` (plus its tags) and return the pushed image manifests.
///
/// Every retry (the auth token, each upload) ends at `deadline`; `GetAuthorizationToken` is
/// retried for at most [`AUTH_TIMEOUT`] of it.
pub async fn push_to_ecr(
    c: Option<&Clients>,
    req: &PushRequest,
    deadline: Instant,
    progress: &Progress,
) -> Result<Vec<ScannedImage>> {
    push_with(c, &Tokens::default(), req, deadline, progress).await
}

async fn push_with(
    c: Option<&Clients>,
    tokens: &Tokens,
    req: &PushRequest,
    deadline: Instant,
    progress: &Progress,
) -> Result<Vec<ScannedImage>> {
    let dest = &req.dest;
    let tags = push_tags(req)?;
    // The source is read and verified whole (crate::image, the one image source) before the
    // registry is contacted (no ecr:GetAuthorizationToken for a source that cannot be pushed):
    // a bad source fails on its cause.
    let tree = crate::image::open_in_background(req.source.clone()).await?;
    let (mut target, account, region) = target_with(
        c,
        tokens,
        dest,
        req.registry_url.as_deref(),
        req.insecure_registry,
        deadline,
        progress,
    )
    .await?;
    target.tags = tags;
    let out = registry::push_tree(tree, &target, progress)
        .await
        .map_err(|e| e.context(format!("pushing to {dest}")))?;
    progress.info(&format!(
        "pushed {} ({} blob(s) uploaded, {} already present, {} bytes)",
        out.digest, out.blobs_uploaded, out.blobs_skipped, out.bytes_uploaded
    ));
    scanned_images(dest, out, account, region)
}

/// The tags to push: the destination's own and `--tag`s, each checked, without repeats. A
/// digest destination is refused: the digest comes from the push.
fn push_tags(req: &PushRequest) -> Result<Vec<String>> {
    let dest = &req.dest;
    let mut tags = Vec::new();
    if let Target::Tag(t) = &dest.target {
        tags.push(t.clone());
    }
    for t in &req.extra_tags {
        let probe: ImageRef = format!("{}:{t}", dest.repository).parse()?;
        if let Target::Tag(t) = probe.target {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    }
    if let Target::Digest(_) = dest.target {
        return Err(Error::usage(format!(
            "push destination {dest} is a digest: give a tag (--image {}:<tag>); the digest comes from the push",
            dest.repository
        )));
    }
    Ok(tags)
}

/// The registry that holds `dest`'s repository, with its credentials — static ones
/// ([`USERNAME_ENV`]/[`PASSWORD_ENV`] with `registry_url`) or an ECR authorization token — and
/// the account and region it belongs to. Credentials never go over plain http:// to a host
/// that is not loopback unless `insecure`. Used by the push and by the signed decision.
pub async fn registry_target(
    c: Option<&Clients>,
    dest: &ImageRef,
    registry_url: Option<&str>,
    insecure: bool,
    deadline: Instant,
    progress: &Progress,
) -> Result<(PushTarget, String, String)> {
    let tokens = Tokens::default();
    target_with(c, &tokens, dest, registry_url, insecure, deadline, progress).await
}

async fn target_with(
    c: Option<&Clients>,
    tokens: &Tokens,
    dest: &ImageRef,
    registry_url: Option<&str>,
    insecure: bool,
    deadline: Instant,
    progress: &Progress,
) -> Result<(PushTarget, String, String)> {
    let Destination {
        auth,
        endpoint,
        account,
        region,
        ecr_endpoint,
    } = destination(c, tokens, dest, registry_url, deadline).await?;
    let base_url = reqwest::Url::parse(&endpoint).map_err(|e| {
        Error::usage(format!(
            "invalid registry URL '{}': {e}",
            crate::sanitize::url_without_userinfo(&endpoint)
        ))
    })?;
    if auth.is_some() {
        if let Some(notice) =
            check_credential_destination(&base_url, ecr_endpoint.as_deref(), insecure)?
        {
            progress.info(&notice);
        }
    }
    let target = PushTarget {
        base_url,
        repository: dest.repository.clone(),
        tags: Vec::new(),
        auth,
        deadline,
    };
    Ok((target, account, region))
}

/// Where the push goes and with which credentials.
struct Destination {
    auth: Option<RegistryAuth>,
    /// The registry URL pushed to (ECR's proxy endpoint, or `--registry-url`).
    endpoint: String,
    account: String,
    region: String,
    /// ECR's own endpoint, when the credentials are ECR's (to notice a redirection).
    ecr_endpoint: Option<String>,
}

/// Static registry credentials (a non-ECR registry, with `--registry-url`) or an ECR
/// authorization token for the destination's registry.
async fn destination(
    c: Option<&Clients>,
    tokens: &Tokens,
    dest: &ImageRef,
    registry_url: Option<&str>,
    deadline: Instant,
) -> Result<Destination> {
    let static_creds = match (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV)) {
        (Ok(u), Ok(p)) if !u.is_empty() => Some(RegistryAuth {
            username: u,
            password: p,
        }),
        _ => None,
    };
    let mut ecr_endpoint = None;
    let (auth, endpoint, account, region) = match (static_creds, c) {
        (Some(a), _) => {
            let url = registry_url.ok_or_else(|| {
                Error::usage(format!("{USERNAME_ENV}/{PASSWORD_ENV} are for a non-ECR registry: also pass --registry-url"))
            })?;
            (
                Some(a),
                url.to_string(),
                dest.registry.clone().unwrap_or_default(),
                dest.region.clone().unwrap_or_default(),
            )
        }
        (None, Some(c)) => {
            let auth_deadline = deadline.min(Instant::now() + AUTH_TIMEOUT);
            let (user, pass, proxy) = tokens
                .get(c, dest.registry.as_deref(), auth_deadline)
                .await?;
            let (acct, region) = account_region(&proxy)
                .or_else(|| Some((dest.registry.clone()?, dest.region.clone()?)))
                .unwrap_or_default();
            // The host the destination names (a FIPS or dual-stack host) is where its
            // blobs go; ECR's proxy endpoint is the IPv4 one.
            let endpoint = registry_url
                .map(str::to_string)
                .or_else(|| dest.host.as_ref().map(|h| format!("https://{h}")))
                .unwrap_or(proxy.clone());
            // An ECR host the destination names is ECR's own endpoint as much as the proxy.
            ecr_endpoint = Some(if registry_url.is_none() {
                endpoint.clone()
            } else {
                proxy
            });
            (
                Some(RegistryAuth {
                    username: user,
                    password: pass,
                }),
                endpoint,
                acct,
                if region.is_empty() {
                    c.region.clone()
                } else {
                    region
                },
            )
        }
        (None, None) => return Err(Error::usage("no registry credentials")),
    };
    Ok(Destination {
        auth,
        endpoint,
        account,
        region,
        ecr_endpoint,
    })
}

/// What was pushed, as the images to gate: the manifest, or each runnable platform of an
/// index (pinned to it for the hand-off).
fn scanned_images(
    dest: &ImageRef,
    out: registry::PushOutcome,
    account: String,
    region: String,
) -> Result<Vec<ScannedImage>> {
    let base = ScannedImage {
        registry: account,
        region,
        repository: dest.repository.clone(),
        digest: out.digest.clone(),
        platform: None,
        requested: format!("{}@{}", dest.repository, out.digest),
        index_digest: None,
        registry_host: None,
    }
    .with_host(dest.host.as_deref());
    // The same rule as for --image (aws::ecr::resolve): an image with nothing runnable (an
    // index of attestations, an artifact) is inconclusive now, not a wait for a scan
    // Inspector will never make.
    if !out.runnable {
        return Err(Error::inconclusive(format!(
            "{dest}@{} holds no runnable image (only attestations or artifacts): nothing for Inspector to scan",
            out.digest
        )));
    }
    if out.platforms.is_empty() {
        return Ok(vec![base]);
    }
    Ok(out
        .platforms
        .iter()
        .map(|p| ScannedImage {
            digest: p.digest.clone(),
            platform: Some(p.platform.clone()),
            index_digest: Some(out.digest.clone()),
            ..base.clone()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, ecr: Option<&str>, insecure: bool) -> Result<Option<String>> {
        check_credential_destination(&reqwest::Url::parse(url).unwrap(), ecr, insecure)
    }

    #[test]
    fn credentials_go_over_http_only_to_loopback_or_when_opted_in() {
        let e = check("http://AWS:tok@registry.example:5000", None, false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("--insecure-registry"), "{}", e.message);
        assert!(!e.message.contains("tok"), "{}", e.message);
        assert!(check("http://registry.example:5000", None, true).is_ok());
        assert!(check("http://127.0.0.1:5000", None, false).is_ok());
        assert!(check("http://[::1]:5000", None, false).is_ok());
        assert!(check("http://localhost:5000", None, false).is_ok());
        assert!(check("https://registry.example", None, false).is_ok());
    }

    #[test]
    fn a_registry_url_away_from_ecr_is_announced() {
        let ecr = "https://1.dkr.ecr.us-east-1.amazonaws.com";
        assert_eq!(check(ecr, Some(ecr), false).unwrap(), None);
        let n = check("https://proxy.example", Some(ecr), false)
            .unwrap()
            .unwrap();
        assert!(n.contains("proxy.example") && n.contains("dkr.ecr"), "{n}");
        assert_eq!(n.lines().count(), 1);
    }
}
