//! A minimal client for the registry HTTP API v2, as ECR speaks it: HTTP Basic auth on every
//! request, `HEAD` to find existing blobs, one `POST` + monolithic `PUT ?digest=` per blob
//! (ECR misbehaves with chunked multi-`PATCH` uploads), and manifests `PUT` byte-for-byte.
//!
//! Every failure comes back as a [`RegError`]: a one-line [`Error`] plus whether retrying can
//! help. Messages name the registry host and repository, never the credentials, and never a
//! URL that could carry them. What a registry (or a proxy in front of it) says back is
//! redacted of every form of the credentials ([`crate::sanitize::Secrets`]) before it is cut
//! to length or put in a message: an echoed `Authorization: Basic …` header never reaches a
//! retry notice, an error line or an annotation, not even in part.

use super::{PushTarget, RegistryAuth};
use crate::error::Error;
use crate::image::Digest;
use crate::sanitize::Secrets;
use base64::Engine as _;
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use std::time::Duration;

/// A registry failure and whether it is worth retrying (5xx, 429, timeouts, resets).
#[derive(Debug)]
pub(crate) struct RegError {
    pub error: Error,
    pub transient: bool,
}

impl crate::retry::Retryable for RegError {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        self.transient.then_some(None)
    }
    fn summary(&self) -> Option<String> {
        Some(self.error.to_string())
    }
}

impl RegError {
    pub(crate) fn fatal(error: Error) -> Self {
        Self {
            error,
            transient: false,
        }
    }
}

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
/// Error bodies are read only this far: enough for the registry's JSON error list.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub(crate) struct Client {
    http: reqwest::Client,
    /// Registry root, without credentials and without a trailing slash.
    base: String,
    base_url: Url,
    repo: String,
    /// `Basic …`, marked sensitive so it never shows in debug output.
    auth: Option<HeaderValue>,
    /// Every form of the credentials, removed from whatever the registry answers.
    secrets: Secrets,
    /// `host[:port]`, for messages.
    host: String,
    deadline: tokio::time::Instant,
}

impl Client {
    pub(crate) fn new(target: &PushTarget) -> Result<Self, Error> {
        let url = &target.base_url;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::usage(format!(
                "registry url must be http:// or https://, not {}://",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the URL: it holds a secret.
            return Err(Error::usage(
                "the registry url contains credentials: remove them and pass the username and password separately",
            ));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(Error::usage("the registry url has no host")),
        };
        let mut base_url = url.clone();
        base_url.set_query(None);
        base_url.set_fragment(None);
        let base = base_url.as_str().trim_end_matches('/').to_string();
        let auth = target.auth.as_ref().map(basic_header).transpose()?;
        let secrets = target
            .auth
            .as_ref()
            .map(|a| Secrets::basic(&a.username, &a.password))
            .unwrap_or_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("inspector-gate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::runtime(format!("cannot set up the http client: {e}")))?;
        Ok(Self {
            http,
            base,
            base_url,
            repo: target.repository.clone(),
            auth,
            secrets,
            host,
            deadline: target.deadline,
        })
    }

    /// When transient failures stop being retried.
    pub(crate) fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    fn repo_url(&self, rest: &str) -> Result<Url, RegError> {
        let s = format!("{}/v2/{}/{rest}", self.base, self.repo);
        Url::parse(&s).map_err(|e| {
            RegError::fatal(Error::usage(format!(
                "bad registry url for {}: {e}",
                self.repo
            )))
        })
    }

    /// A request with credentials attached only when it goes to the registry's own origin
    /// (an upload `Location` may point elsewhere, e.g. a storage backend).
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let same_origin = url.scheme() == self.base_url.scheme()
            && url.host_str() == self.base_url.host_str()
            && url.port_or_known_default() == self.base_url.port_or_known_default();
        let rb = self.http.request(method, url);
        match (&self.auth, same_origin) {
            (Some(h), true) => rb.header(AUTHORIZATION, h.clone()),
            _ => rb,
        }
    }

    /// `GET /v2/`: is this a registry, and are the credentials good?
    pub(crate) async fn ping(&self) -> Result<(), RegError> {
        let url = Url::parse(&format!("{}/v2/", self.base))
            .map_err(|e| RegError::fatal(Error::usage(format!("bad registry url: {e}"))))?;
        let resp = self
            .send(self.request(Method::GET, url), "connecting")
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(RegError::fatal(Error::runtime(format!(
                "{} does not serve the registry API (GET /v2/ answered 404): check the registry url",
                self.host
            )))),
            _ => Err(self.failure(resp, "connecting").await),
        }
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`.
    pub(crate) async fn blob_exists(&self, digest: &Digest) -> Result<bool, RegError> {
        let doing = format!("checking blob {}", digest.short());
        let url = self.repo_url(&format!("blobs/{digest}"))?;
        let resp = self.send(self.request(Method::HEAD, url), &doing).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failure(resp, &doing).await),
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/`: open an upload session, return where to `PUT`.
    pub(crate) async fn start_upload(&self, digest: &Digest) -> Result<Url, RegError> {
        let doing = format!("starting the upload of blob {}", digest.short());
        let url = self.repo_url("blobs/uploads/")?;
        let resp = self
            .send(
                self.request(Method::POST, url).header(CONTENT_LENGTH, 0),
                &doing,
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED && !resp.status().is_success() {
            return Err(self.failure(resp, &doing).await);
        }
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                RegError::fatal(Error::runtime(format!(
                    "{doing}: registry {} sent no upload location",
                    self.host
                )))
            })?;
        // The location may be relative to the registry root, and may carry state in its query.
        self.base_url.join(loc).map_err(|e| {
            RegError::fatal(Error::runtime(format!(
                "{doing}: registry {} sent a bad upload location: {e}",
                self.host
            )))
        })
    }

    /// `PUT <location>?digest=<digest>` with the whole blob as a streamed body.
    pub(crate) async fn finish_upload(
        &self,
        mut location: Url,
        digest: &Digest,
        len: u64,
        body: reqwest::Body,
    ) -> Result<(), RegError> {
        let doing = format!("uploading blob {}", digest.short());
        location
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        let req = self
            .request(Method::PUT, location)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, len)
            .body(body);
        let resp = self.send(req, &doing).await?;
        if !resp.status().is_success() {
            return Err(self.failure(resp, &doing).await);
        }
        self.check_digest(&resp, digest, &doing)
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with the exact bytes and media type. `Ok(true)`
    /// when this PUT stored it; `Ok(false)` when an immutable tag refused the PUT because it
    /// already names exactly this digest (a retried pipeline re-pushing a reproducible build:
    /// the push is done).
    pub(crate) async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        digest: &Digest,
    ) -> Result<bool, RegError> {
        let doing = if reference.starts_with("sha256:") {
            format!("pushing manifest {}", digest.short())
        } else {
            format!("pushing manifest {} as tag {reference}", digest.short())
        };
        let url = self.repo_url(&format!("manifests/{reference}"))?;
        let req = self
            .request(Method::PUT, url)
            .header(CONTENT_TYPE, media_type)
            .body(bytes.to_vec());
        let resp = self.send(req, &doing).await?;
        if resp.status().is_success() {
            return self.check_digest(&resp, digest, &doing).map(|()| true);
        }
        let status = resp.status();
        if matches!(status.as_u16(), 401 | 403 | 408 | 429 | 500..=599) {
            return Err(self.failure(resp, &doing).await);
        }
        let detail = self.read_error(resp).await;
        let immutable = detail.codes.iter().any(|c| c == "TAG_INVALID")
            || detail.text.to_ascii_lowercase().contains("tag invalid")
            || detail.text.to_ascii_lowercase().contains("immutable");
        if immutable && !reference.starts_with("sha256:") {
            // The tag exists and cannot move: where it points decides whether the push is done.
            return match self.manifest_digest(reference).await? {
                Some(at) if at == digest.as_str() => Ok(false),
                Some(at) => Err(RegError::fatal(Error::runtime(format!(
                    "tag {reference} in {} on {} already points at {at}, not at the pushed {digest}, and the repository's tags are immutable ({}): push under a new tag, or push by digest only",
                    self.repo, self.host, detail.text
                )))),
                None => Err(RegError::fatal(Error::runtime(format!(
                    "tag {reference} already exists in {} on {} and the repository's tags are immutable ({}), but the registry does not say which digest it names (no {DOCKER_CONTENT_DIGEST} on HEAD, and no manifest on GET): push under a new tag, or push by digest only",
                    self.repo, self.host, detail.text
                )))),
            };
        }
        Err(RegError::fatal(Error::runtime(format!(
            "{doing}: registry {} rejected it (HTTP {}{})",
            self.host,
            status.as_u16(),
            detail.suffix()
        ))))
    }

    /// The digest `reference` names in the registry: `HEAD` the manifest and read
    /// `Docker-Content-Digest`; a registry that does not send it is asked for the manifest
    /// itself, whose bytes are hashed. `None` when it holds no such manifest.
    pub(crate) async fn manifest_digest(
        &self,
        reference: &str,
    ) -> Result<Option<String>, RegError> {
        let doing = format!("checking which digest tag {reference} names");
        let url = self.repo_url(&format!("manifests/{reference}"))?;
        let req = self
            .request(Method::HEAD, url)
            .header(ACCEPT, crate::oci::MANIFEST_TYPES.join(", "));
        let resp = self.send(req, &doing).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if !s.is_success() => return Err(self.failure(resp, &doing).await),
            _ => {}
        }
        let header = resp
            .headers()
            .get(DOCKER_CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(d) = header.filter(|d| crate::oci::is_valid_digest(d)) {
            return Ok(Some(d));
        }
        Ok(self
            .get_manifest(reference, crate::image::MAX_MANIFEST as usize)
            .await?
            .map(|(_, bytes)| Digest::of(&bytes).to_string()))
    }

    /// `GET /v2/<repo>/manifests/<reference>` (any manifest media type): its media type and
    /// bytes (at most `max` bytes), or `None` when the registry has no such manifest.
    pub(crate) async fn get_manifest(
        &self,
        reference: &str,
        max: usize,
    ) -> Result<Option<(String, Vec<u8>)>, RegError> {
        let doing = format!("reading manifest {reference}");
        let Some(resp) = self.manifest(Method::GET, reference, &doing).await? else {
            return Ok(None);
        };
        let media_type = content_type(&resp);
        let bytes = self.read_bounded(resp, max, &doing).await?;
        Ok(Some((media_type, bytes)))
    }

    /// `HEAD /v2/<repo>/manifests/<reference>`: its media type and size, `None` when absent.
    pub(crate) async fn head_manifest(
        &self,
        reference: &str,
    ) -> Result<Option<(String, u64)>, RegError> {
        let doing = format!("checking manifest {reference}");
        let Some(resp) = self.manifest(Method::HEAD, reference, &doing).await? else {
            return Ok(None);
        };
        let size = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        Ok(Some((content_type(&resp), size)))
    }

    /// `method` on `/v2/<repo>/manifests/<reference>`, accepting any manifest media type: the
    /// successful answer, `None` for 404, any other answer as its error.
    async fn manifest(
        &self,
        method: Method,
        reference: &str,
        doing: &str,
    ) -> Result<Option<Response>, RegError> {
        let url = self.repo_url(&format!("manifests/{reference}"))?;
        let req = self
            .request(method, url)
            .header(ACCEPT, crate::oci::MANIFEST_TYPES.join(", "));
        let resp = self.send(req, doing).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(resp)),
            _ => Err(self.failure(resp, doing).await),
        }
    }

    /// `GET /v2/<repo>/blobs/<digest>`, at most `max` bytes, checked against the digest.
    pub(crate) async fn get_blob(&self, digest: &Digest, max: usize) -> Result<Vec<u8>, RegError> {
        let doing = format!("reading blob {}", digest.short());
        let url = self.repo_url(&format!("blobs/{digest}"))?;
        let resp = self.send(self.request(Method::GET, url), &doing).await?;
        if !resp.status().is_success() {
            return Err(self.failure(resp, &doing).await);
        }
        let bytes = self.read_bounded(resp, max, &doing).await?;
        if Digest::of(&bytes) != *digest {
            return Err(RegError::fatal(Error::runtime(format!(
                "{doing}: registry {} answered content that does not hash to {digest}",
                self.host
            ))));
        }
        Ok(bytes)
    }

    /// `GET /v2/<repo>/referrers/<digest>` (OCI 1.1): the index of referrers, or `None` when the
    /// registry does not serve the referrers API (404, 405, 400: distribution 2.x and older).
    pub(crate) async fn referrers(
        &self,
        digest: &str,
        max: usize,
    ) -> Result<Option<Vec<u8>>, RegError> {
        let doing = format!("listing the referrers of {digest}");
        let url = self.referrers_url(digest)?;
        let resp = self
            .send(
                self.request(Method::GET, url)
                    .header(ACCEPT, crate::oci::OCI_INDEX),
                &doing,
            )
            .await?;
        let is_index = content_type(&resp).starts_with(crate::oci::OCI_INDEX);
        match resp.status() {
            s if s.is_success() && is_index => {
                Ok(Some(self.read_bounded(resp, max, &doing).await?))
            }
            s if s.is_success() => Ok(None),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST => {
                Ok(None)
            }
            _ => Err(self.failure(resp, &doing).await),
        }
    }

    fn referrers_url(&self, digest: &str) -> Result<Url, RegError> {
        let s = format!("{}/v2/{}/referrers/{digest}", self.base, self.repo);
        Url::parse(&s).map_err(|e| RegError::fatal(Error::usage(format!("bad registry url: {e}"))))
    }

    /// A response body, refused past `max` bytes.
    async fn read_bounded(
        &self,
        mut resp: Response,
        max: usize,
        doing: &str,
    ) -> Result<Vec<u8>, RegError> {
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(e, doing))? {
            body.extend_from_slice(&chunk);
            if body.len() > max {
                return Err(RegError::fatal(Error::runtime(format!(
                    "{doing}: registry {} answered more than {max} bytes",
                    self.host
                ))));
            }
        }
        Ok(body)
    }

    async fn send(&self, req: RequestBuilder, doing: &str) -> Result<Response, RegError> {
        req.send().await.map_err(|e| self.transport(e, doing))
    }

    /// A transport-level failure (connect, reset, timeout, aborted body).
    pub(crate) fn transport(&self, e: reqwest::Error, doing: &str) -> RegError {
        let transient = e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
        let why = self
            .secrets
            .redact(&crate::error::error_chain(&e.without_url()));
        RegError {
            error: Error::runtime(format!(
                "{doing}: cannot talk to registry {}: {why}",
                self.host
            )),
            transient,
        }
    }

    fn check_digest(&self, resp: &Response, digest: &Digest, doing: &str) -> Result<(), RegError> {
        match resp.headers().get(DOCKER_CONTENT_DIGEST).and_then(|v| v.to_str().ok()) {
            Some(got) if got != digest.as_str() => Err(RegError::fatal(Error::runtime(format!(
                "{doing}: registry {} stored it as {got}, not {digest}: the registry altered the content",
                self.host
            )))),
            _ => Ok(()),
        }
    }

    /// Turn an unsuccessful response into an error, deciding whether it is retryable.
    async fn failure(&self, resp: Response, doing: &str) -> RegError {
        let status = resp.status();
        let bearer = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("bearer"));
        let detail = self.read_error(resp).await;
        let code = status.as_u16();
        let (msg, transient) = match code {
            401 if bearer => (
                format!(
                    "registry {} wants bearer-token auth (HTTP 401{}), but this push uses HTTP Basic auth as ECR does: use a registry that accepts Basic auth",
                    self.host,
                    detail.suffix()
                ),
                false,
            ),
            401 if self.auth.is_some() => (
                format!(
                    "registry authentication failed for {} on {} while {doing} (HTTP 401{}): check the registry username and password (an ECR token expires after 12 hours)",
                    self.repo,
                    self.host,
                    detail.suffix()
                ),
                false,
            ),
            401 => (
                format!(
                    "registry {} requires authentication for {} (HTTP 401{}): provide registry credentials",
                    self.host,
                    self.repo,
                    detail.suffix()
                ),
                false,
            ),
            403 => (
                format!(
                    "access denied to {} on {} while {doing} (HTTP 403{}): the identity needs push permission on the repository (for ECR: ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage)",
                    self.repo,
                    self.host,
                    detail.suffix()
                ),
                false,
            ),
            404 if detail.codes.iter().any(|c| c == "NAME_UNKNOWN") => (
                format!(
                    "repository {} does not exist on {} (HTTP 404{}): create it first (for ECR: aws ecr create-repository)",
                    self.repo,
                    self.host,
                    detail.suffix()
                ),
                false,
            ),
            408 | 429 | 500..=599 => (
                format!("{doing}: registry {} answered HTTP {code}{}", self.host, detail.suffix()),
                true,
            ),
            _ => (
                format!("{doing}: registry {} answered HTTP {code}{}", self.host, detail.suffix()),
                false,
            ),
        };
        RegError {
            error: Error::runtime(msg),
            transient,
        }
    }
}

/// The media type a registry answered with, without parameters.
fn content_type(resp: &Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .unwrap_or_default()
}

fn basic_header(auth: &RegistryAuth) -> Result<HeaderValue, Error> {
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", auth.username, auth.password));
    let mut h = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
        Error::usage("the registry username contains characters that cannot be sent")
    })?;
    h.set_sensitive(true);
    Ok(h)
}

/// What a registry said in its error body: the distribution-spec codes, and a short text.
struct ErrorDetail {
    codes: Vec<String>,
    text: String,
}

impl ErrorDetail {
    fn suffix(&self) -> String {
        if self.text.is_empty() {
            String::new()
        } else {
            format!(" {}", self.text)
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl Client {
    /// What the registry said, with the credentials taken out.
    async fn read_error(&self, mut resp: Response) -> ErrorDetail {
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        parse_error(&body, &self.secrets)
    }
}

/// The registry's error body as codes and one short line. The credentials are redacted twice:
/// in the raw text (as sent, e.g. with JSON's `\/`) and in the decoded messages (which JSON
/// escapes could have hidden), both before the text is cut to length, so no prefix of a
/// token survives the cut.
fn parse_error(body: &[u8], secrets: &Secrets) -> ErrorDetail {
    let raw = secrets.redact(&String::from_utf8_lossy(body));
    if let Ok(parsed) = serde_json::from_str::<ErrorBody>(&raw) {
        if !parsed.errors.is_empty() {
            let codes: Vec<String> = parsed.errors.iter().map(|e| e.code.clone()).collect();
            let text = parsed
                .errors
                .iter()
                .map(|e| {
                    if e.message.is_empty() {
                        e.code.clone()
                    } else {
                        format!("{}: {}", e.code, e.message)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            return ErrorDetail {
                codes,
                text: one_line(&secrets.redact(&text)),
            };
        }
    }
    ErrorDetail {
        codes: Vec::new(),
        text: one_line(raw.trim()),
    }
}

/// Error text from a server goes into a one-line message: fold lines and bound the length.
fn one_line(s: &str) -> String {
    let folded = crate::error::one_line(s);
    if folded.chars().count() > 300 {
        format!("{}…", folded.chars().take(300).collect::<String>())
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> PushTarget {
        PushTarget {
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(60),
            base_url: Url::parse(url).unwrap(),
            repository: "team/app".into(),
            tags: vec![],
            auth: Some(RegistryAuth {
                username: "AWS".into(),
                password: "s3cr3t-token".into(),
            }),
        }
    }

    #[test]
    fn credentials_in_url_are_refused_without_echo() {
        let err = Client::new(&target("http://u:hunter2@127.0.0.1:5000"))
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.message.contains("hunter2"));
    }

    #[test]
    fn auth_header_is_sensitive_and_origin_bound() {
        let c = Client::new(&target("http://127.0.0.1:5000/")).unwrap();
        assert!(c.auth.as_ref().unwrap().is_sensitive());
        assert!(!format!("{:?}", c.auth).contains("czNjcjN0"));
        let same = c
            .request(
                Method::GET,
                Url::parse("http://127.0.0.1:5000/v2/x").unwrap(),
            )
            .build()
            .unwrap();
        assert!(same.headers().contains_key(AUTHORIZATION));
        let other = c
            .request(Method::GET, Url::parse("http://127.0.0.1:9/v2/x").unwrap())
            .build()
            .unwrap();
        assert!(!other.headers().contains_key(AUTHORIZATION));
        assert_eq!(
            c.repo_url("blobs/uploads/").unwrap().as_str(),
            "http://127.0.0.1:5000/v2/team/app/blobs/uploads/"
        );
    }

    #[test]
    fn error_bodies_are_summarised() {
        let none = Secrets::default();
        let d = parse_error(
            br#"{"errors":[{"code":"TAG_INVALID","message":"The image tag 'v1' already exists"}]}"#,
            &none,
        );
        assert_eq!(d.codes, ["TAG_INVALID"]);
        assert_eq!(d.text, "TAG_INVALID: The image tag 'v1' already exists");
        let d = parse_error(b"<html>\n  bad gateway\n</html>", &none);
        assert_eq!(d.text, "<html> bad gateway </html>");
        assert!(parse_error(&[b'x'; 1000], &none).text.chars().count() <= 301);
    }

    /// A registry echoing the request's `Authorization` header, in plain text or JSON (with
    /// `\/` escapes), anywhere in a long body: no part of the token survives, even where the
    /// message is cut to length right inside it.
    #[test]
    fn echoed_credentials_are_redacted_before_the_cut() {
        let password = "ecr-token???>>>~~~";
        let secrets = Secrets::basic("AWS", password);
        let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
        assert!(token.contains('/'));
        for lead in [0, 270, 290] {
            let pad = "x".repeat(lead);
            let plain = format!("{pad} Authorization: Basic {token}");
            let json = format!(
                r#"{{"errors":[{{"code":"UNAUTHORIZED","message":"{pad} Basic {}"}}]}}"#,
                token.replace('/', "\\/")
            );
            for body in [plain, json] {
                let d = parse_error(body.as_bytes(), &secrets);
                for i in 0..token.len() - 8 {
                    assert!(
                        !d.text.contains(&token[i..i + 8]),
                        "part of the token in {:?}",
                        d.text
                    );
                }
            }
        }
    }
}
