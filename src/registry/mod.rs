//! Native image push: read an image from an OCI layout, an OCI or `docker save` archive, or
//! the local Docker engine, and push it to a registry (ECR, or any registry speaking the
//! distribution API v2 with HTTP Basic auth) so that the registry's digest is exactly the
//! local one — the digest the rest of the gate waits on and hands to the deploy.
//!
//! No Docker engine is needed (except for `docker:` sources), layers are streamed from disk
//! and never held in memory, blobs already in the registry are skipped, and manifests are
//! pushed byte-for-byte. `source` reads sources, `client` speaks the HTTP API, `push`
//! orchestrates; `archive`, `compress`, `blob` and `manifest` are their helpers.

pub(crate) mod archive;
pub(crate) mod blob;
mod client;
mod compress;
mod manifest;
mod push;
mod source;

use crate::error::Error;
use crate::progress::Progress;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the image to push comes from (`--push-from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// `oci:<dir>[:<ref>]`: an OCI image layout directory; `ref` picks an image by its
    /// `org.opencontainers.image.ref.name` annotation (or by digest).
    OciDir {
        dir: PathBuf,
        reference: Option<String>,
    },
    /// `oci-archive:<file>`: a tar of an OCI image layout.
    OciArchive(PathBuf),
    /// `docker-archive:<file>`: what `docker save` writes (layers compressed here, on the fly).
    DockerArchive(PathBuf),
    /// `docker:<image>`: an image in the local Docker engine, exported with `docker save`.
    Docker(String),
}

const SOURCE_FORMS: &str =
    "expected oci:<dir>[:<ref>], oci-archive:<file>, docker-archive:<file> or docker:<image>";

impl FromStr for SourceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(Error::usage(format!(
                "invalid image source '{s}': {SOURCE_FORMS}"
            )));
        };
        if rest.is_empty() {
            return Err(Error::usage(format!(
                "invalid image source '{s}': nothing after '{kind}:'; {SOURCE_FORMS}"
            )));
        }
        match kind {
            "oci" => {
                let (dir, reference) = split_oci(rest);
                if dir.is_empty() {
                    return Err(Error::usage(format!(
                        "invalid image source '{s}': no directory; {SOURCE_FORMS}"
                    )));
                }
                Ok(SourceSpec::OciDir {
                    dir: PathBuf::from(dir),
                    reference: reference.filter(|r| !r.is_empty()).map(str::to_string),
                })
            }
            "oci-archive" => Ok(SourceSpec::OciArchive(PathBuf::from(rest))),
            "docker-archive" => Ok(SourceSpec::DockerArchive(PathBuf::from(rest))),
            "docker" => {
                // The name becomes an argument of `docker save`: keep it from reading as a flag.
                if rest.starts_with('-') || rest.chars().any(char::is_whitespace) {
                    return Err(Error::usage(format!(
                        "invalid image source '{s}': '{rest}' is not an image name"
                    )));
                }
                Ok(SourceSpec::Docker(rest.to_string()))
            }
            _ => Err(Error::usage(format!(
                "invalid image source '{s}': unknown kind '{kind}'; {SOURCE_FORMS}"
            ))),
        }
    }
}

/// Split `<dir>[:<ref>]` at the first colon, keeping a Windows drive prefix (`C:\…`) whole.
fn split_oci(rest: &str) -> (&str, Option<&str>) {
    let b = rest.as_bytes();
    let skip = if b.len() >= 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && matches!(b[2], b'\\' | b'/')
    {
        2
    } else {
        0
    };
    match rest[skip..].find(':') {
        Some(i) => (&rest[..skip + i], Some(&rest[skip + i + 1..])),
        None => (rest, None),
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::OciDir {
                dir,
                reference: Some(r),
            } => write!(f, "oci:{}:{r}", dir.display()),
            SourceSpec::OciDir {
                dir,
                reference: None,
            } => write!(f, "oci:{}", dir.display()),
            SourceSpec::OciArchive(p) => write!(f, "oci-archive:{}", p.display()),
            SourceSpec::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
            SourceSpec::Docker(i) => write!(f, "docker:{i}"),
        }
    }
}

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
    push::run(source, target, progress)
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

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the parsers that read
/// untrusted image sources, with the invariants the push relies on asserted.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing {
    use super::blob::Digest;
    use super::{archive, manifest, source, SourceSpec};
    use crate::error::Error;

    /// A manifest, index or `index.json` as read from a source (also a `docker save`
    /// `manifest.json` or image config): parse it as the push does, and check that every
    /// digest it accepts maps to a blob path inside the layout.
    pub fn manifest(bytes: &[u8]) {
        if let Ok(doc) = serde_json::from_slice::<manifest::AnyManifest>(bytes) {
            let _ = doc.effective_media_type(None);
            let _ = doc.effective_media_type(Some(manifest::OCI_INDEX));
            let descs = doc
                .config
                .iter()
                .chain(&doc.layers)
                .chain(doc.manifests.iter().flatten());
            for child in doc.manifests.iter().flatten() {
                let _ = crate::oci::classify(child, &doc);
            }
            for d in descs {
                let _ = (d.platform_name(), d.ref_name());
                if let Some(p) = &d.platform {
                    let _ = p.render();
                }
                if let Ok(digest) = Digest::parse(&d.digest, "fuzz") {
                    let path = digest.layout_path();
                    assert_eq!(archive::normalize(&path).as_deref(), Ok(path.as_str()));
                    assert_eq!(path.split('/').count(), 3, "{path}");
                }
            }
        }
        let _ = serde_json::from_slice::<Vec<manifest::DockerSaveEntry>>(bytes);
        let _ = serde_json::from_slice::<manifest::ImageConfig>(bytes);
    }

    /// An archive entry name and a link target: whatever is accepted stays inside the source.
    pub fn archive_path(name: &str, target: &str) {
        if let Ok(n) = archive::normalize(name) {
            assert_inside(&n);
            if let Ok(t) = archive::resolve_symlink(&n, target) {
                assert_inside(&t);
            }
        }
    }

    /// Archive paths are lookup keys of the in-place tar index (nothing is ever extracted):
    /// relative, `/`-separated, with no empty, `.` or `..` component.
    fn assert_inside(p: &str) {
        assert!(!p.starts_with('/'), "{p:?}");
        assert!(
            p.split('/').all(|c| !c.is_empty() && c != ".." && c != "."),
            "{p:?}"
        );
    }

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
            tokio::try_join!(source::prepare(spec, tx), drain).map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<SourceSpec, Error> {
        s.parse()
    }

    #[test]
    fn parses_every_source_form() {
        assert_eq!(
            parse("oci:./out:v1").unwrap(),
            SourceSpec::OciDir {
                dir: "./out".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            parse("oci:/tmp/layout").unwrap(),
            SourceSpec::OciDir {
                dir: "/tmp/layout".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("oci:dir:").unwrap(),
            SourceSpec::OciDir {
                dir: "dir".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("oci:dir:a:b").unwrap(),
            SourceSpec::OciDir {
                dir: "dir".into(),
                reference: Some("a:b".into())
            }
        );
        assert_eq!(
            parse(r"oci:C:\images\app:latest").unwrap(),
            SourceSpec::OciDir {
                dir: r"C:\images\app".into(),
                reference: Some("latest".into())
            }
        );
        assert_eq!(
            parse("oci-archive:img.tar").unwrap(),
            SourceSpec::OciArchive("img.tar".into())
        );
        assert_eq!(
            parse("docker-archive:/x/img.tar").unwrap(),
            SourceSpec::DockerArchive("/x/img.tar".into())
        );
        assert_eq!(
            parse("docker:app:1.2").unwrap(),
            SourceSpec::Docker("app:1.2".into())
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "oci:d:r",
            "oci:d",
            "oci-archive:a.tar",
            "docker-archive:b.tar",
            "docker:app:1",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_sources_as_usage_errors() {
        for s in [
            "",
            "oci",
            "oci:",
            "oci::ref",
            "tarball:x",
            "docker:-o/etc/x",
            "docker:a b",
            "docker-archive:",
        ] {
            let e = parse(s).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{s}");
            assert!(!e.message.contains('\n'));
        }
    }

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
