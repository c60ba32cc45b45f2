//! Native image push: read an image from an OCI layout, an OCI or `docker save` archive, or
//! the local Docker engine, and push it to a registry (ECR, or any registry speaking the
//! distribution API v2 with HTTP Basic auth) so that the registry's digest is exactly the
//! local one — the digest the rest of the gate waits on and hands to the deploy.
//!
//! No Docker engine is needed (except for `docker:` sources), layers are streamed from disk
//! and never held in memory, blobs already in the registry are skipped, and manifests are
//! pushed byte-for-byte. Sources are read and verified by `crate::image` (the one image
//! source, shared with the local scan); `source` turns the verified tree into blobs and
//! manifests to send (compressing `docker save` layers), `client` speaks the HTTP API, `push`
//! orchestrates; `compress`, `blob` and `manifest` are their helpers.

pub mod artifact;
mod blob;
mod client;
mod compress;
mod manifest;
mod push;
mod source;

use crate::error::Error;
use crate::image::ImageTree;
pub use crate::image::SourceSpec;
use crate::progress::Progress;
use std::fmt;

/// HTTP Basic credentials (for ECR: `AWS` and the `GetAuthorizationToken` password).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where to push: the registry root (e.g. `https://<acct>.dkr.ecr.<region>.amazonaws.com`),
/// the repository, the tags (none: push by digest only) and the credentials.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub base_url: reqwest::Url,
    pub repository: String,
    pub tags: Vec<String>,
    pub auth: Option<RegistryAuth>,
    /// Transient registry failures are retried until this instant (`--timeout`), then fail.
    pub deadline: tokio::time::Instant,
}

/// One platform's image-manifest digest inside a pushed multi-arch index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformDigest {
    pub digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// Digest of the pushed manifest or index, as the registry stores it.
    pub digest: String,
    pub media_type: String,
    /// Per-platform manifests of an index (attestations left out); empty for single-arch.
    pub platforms: Vec<PlatformDigest>,
    /// Whether the image holds anything runnable (`crate::oci::classify`): false for an index
    /// of attestations only, or an artifact.
    pub runnable: bool,
    pub blobs_uploaded: usize,
    pub blobs_skipped: usize,
    pub bytes_uploaded: u64,
}

/// Push `source` to `target`. Errors are one line, never contain the password, and are
/// runtime errors (exit 4) except for bad input names (usage, exit 2).
pub async fn push(
    source: &SourceSpec,
    target: &PushTarget,
    progress: &Progress,
) -> Result<PushOutcome, Error> {
    let tree = crate::image::open_in_background(source.clone()).await?;
    push_tree(tree, target, progress).await
}

/// Push an image source already read and verified by [`crate::image::open`].
pub async fn push_tree(
    tree: ImageTree,
    target: &PushTarget,
    progress: &Progress,
) -> Result<PushOutcome, Error> {
    push::run(tree, target, progress)
        .await
        .map_err(|e| redact(e, target.auth.as_ref()))
}

/// Last line of defence: whatever a registry or OS error echoed, no form of the credentials
/// leaves (the password, `base64(user:password)` in every alphabet, the `Authorization`
/// value: [`crate::sanitize::Secrets`]; the client already redacts what registries answer).
fn redact(mut e: Error, auth: Option<&RegistryAuth>) -> Error {
    if let Some(a) = auth {
        e.message = crate::sanitize::Secrets::basic(&a.username, &a.password).redact(&e.message);
    }
    e
}

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): reading an untrusted
/// image source the way the push does. The parsers themselves are `crate::image::fuzzing`.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing {
    use super::{source, SourceSpec};
    use crate::error::Error;

    /// Read an `oci-archive:` / `docker-archive:` file the way `push` does, up to the point
    /// where blobs would be uploaded (they are consumed and dropped here).
    pub fn read_source(spec: SourceSpec) -> Result<(), Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::runtime(e.to_string()))?;
        rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let drain = async {
                while rx.recv().await.is_some() {}
                Ok::<(), Error>(())
            };
            let tree = crate::image::open_in_background(spec).await?;
            tokio::try_join!(source::prepare(tree, tx), drain).map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_debug_redacts_password() {
        let a = RegistryAuth {
            username: "AWS".into(),
            password: "topsecret".into(),
        };
        let shown = format!("{a:?}");
        assert!(
            shown.contains("AWS") && !shown.contains("topsecret"),
            "{shown}"
        );
        let t = PushTarget {
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(60),
            base_url: "http://127.0.0.1:1".parse().unwrap(),
            repository: "r".into(),
            tags: vec![],
            auth: Some(a.clone()),
        };
        assert!(!format!("{t:?}").contains("topsecret"));
        let e = redact(Error::runtime("server said topsecret"), Some(&a));
        assert_eq!(e.message, "server said <redacted>");
        let short = RegistryAuth {
            username: "u".into(),
            password: "p".into(),
        };
        assert_eq!(
            redact(Error::runtime("tcp connect"), Some(&short)).message,
            "tcp connect"
        );
    }
}
