//! AWS adapters: SDK configuration (region, profile, role, endpoints) and the mapping of SDK
//! errors to our error kinds. Service-specific calls live in `ecr`, `inspector`, `ecs` (the
//! baseline's running digest), `kms` (signing the decision) and `floor` (the policy floor in SSM or S3); CodePipeline's
//! approval calls live in `crate::approval`.

pub mod budget;
pub mod ecr;
pub mod ecs;
pub mod floor;
pub mod inspector;
pub mod kms;

use crate::error::{error_chain, one_line, Error};
use crate::retry::Retryable;
use aws_config::BehaviorVersion;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;
use std::time::Duration;

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    /// `sts:ExternalId` for `role_arn` (a cross-account role whose trust policy requires one).
    pub role_external_id: Option<String>,
    /// `--api-rate`: requests per second per service (Inspector2, ECR, CodePipeline) this run
    /// may send; `None` for [`budget::DEFAULT_RATE`].
    pub api_rate: Option<f64>,
}

/// The SDK clients the gate uses, all from one shared configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecr: aws_sdk_ecr::Client,
    pub inspector: aws_sdk_inspector2::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    /// Only called when a baseline names an ECS service (`--baseline ecs:…`).
    pub ecs: aws_sdk_ecs::Client,
    /// Only called to sign or verify a decision with an `awskms:///` key.
    pub kms: aws_sdk_kms::Client,
    pub region: String,
}

/// Build clients from the default credential chain (env, profiles, SSO, web identity,
/// container and instance roles), optionally assuming `role_arn`. SDK-level retries are off:
/// every call goes through `retry::call`, which honours `retryAfterSeconds` and the deadline.
pub async fn clients(opts: &AwsOptions) -> Result<Clients, Error> {
    let (conf, region) = sdk_config(opts, Duration::from_secs(60)).await?;
    Ok(Clients {
        ecr: aws_sdk_ecr::Client::new(&conf),
        inspector: aws_sdk_inspector2::Client::new(&conf),
        codepipeline: aws_sdk_codepipeline::Client::new(&conf),
        ecs: aws_sdk_ecs::Client::new(&conf),
        kms: aws_sdk_kms::Client::new(&conf),
        region,
    })
}

/// The one SDK configuration every client is built from: the default credential chain, the
/// profile, region and role asked for, SDK retries off (every call goes through
/// `retry::call`) and `attempt_timeout` per request. Returns it with its region.
pub async fn sdk_config(
    opts: &AwsOptions,
    attempt_timeout: Duration,
) -> Result<(aws_config::SdkConfig, String), Error> {
    // Every client built from this configuration shares one rate budget (budget.rs).
    let budget = std::sync::Arc::new(budget::Budget::new(
        opts.api_rate.unwrap_or(budget::DEFAULT_RATE),
    ));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(budget::http_client(budget))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    let mut conf = loader.load().await;
    let Some(region) = conf.region().map(|r| r.to_string()) else {
        return Err(Error::usage(
            "no AWS region: pass --region, set AWS_REGION, or use a profile with a region",
        ));
    };
    if let Some(role) = &opts.role_arn {
        // The provider's own STS calls are not made through `retry::call`: they get the SDK's
        // standard retries (throttling, 5xx, timeouts), and what still fails is classified by
        // its cause (`credentials_failure`) for the call that needed the credentials.
        let sts_conf = conf
            .clone()
            .into_builder()
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .build();
        let mut builder =
            aws_config::sts::AssumeRoleProvider::builder(role).session_name("inspector-gate");
        if let Some(id) = &opts.role_external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.configure(&sts_conf).build().await;
        conf = conf
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
    } else if opts.role_external_id.is_some() {
        return Err(Error::usage(
            "--role-external-id is the external id of the role to assume: give --role-arn too",
        ));
    }
    Ok((conf, region))
}

/// How a failed AWS call should be handled.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// Throttling, 5xx, timeouts, connection errors: try again (after the hint, if any).
    Transient(Option<Duration>),
    /// The caller lacks permission: fail at once with the IAM action to grant.
    AccessDenied,
    /// The credentials themselves were refused (expired or invalid): no permission change
    /// helps and no fallback may hide it; fail at once saying how to refresh them.
    Credentials,
    /// The service itself is not enabled for the account and region (Amazon Inspector says so
    /// in an AccessDenied answer): no permission or retry helps; it must be enabled. Set by the
    /// service adapter that can tell ([`inspector`]), so that callers branch on the class,
    /// never on message text.
    NotEnabled,
    /// Anything else: fail at once.
    Permanent,
}

/// A failed AWS call, classified, with a one-line message.
#[derive(Debug, Clone)]
pub struct CallError {
    pub class: Class,
    pub code: String,
    pub message: String,
}

impl Retryable for CallError {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        match self.class {
            Class::Transient(h) => Some(h),
            _ => None,
        }
    }
    fn summary(&self) -> Option<String> {
        Some(crate::sanitize::text(&format!(
            "{}: {}",
            self.code, self.message
        )))
    }
}

impl CallError {
    /// Convert into the user-facing error; `action` is the IAM action, e.g. `inspector2:ListFindings`.
    pub fn into_error(self, action: &str) -> Error {
        match self.class {
            Class::AccessDenied => Error::runtime(format!(
                "access denied calling {action}: {} (grant {action} to the role the gate runs as)",
                self.message
            )),
            Class::Credentials => Error::runtime(format!(
                "AWS refused the credentials calling {action}: {} (they are expired or invalid: refresh them, e.g. `aws sso login`, a new OIDC/assume-role step, or new keys, and run again)",
                self.message
            )),
            Class::NotEnabled => Error::inconclusive(format!(
                "{action}: the service is not enabled for this account/region ({}); enable it",
                self.message
            )),
            _ => Error::runtime(format!("{action} failed: {}", self.message)),
        }
    }
}

const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
    "InternalServerException",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
];
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
];
const BAD_CREDENTIALS: &[&str] = &[
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
];

/// Classify any SDK error. `retry_after` extracts a service's `retryAfterSeconds`, if any.
pub fn classify<E>(
    err: SdkError<E, HttpResponse>,
    retry_after: impl Fn(&E) -> Option<i32>,
) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify_ref(&err, retry_after)
}

/// Why the credentials a call needed could not be had, when that is why it failed: the
/// credential provider's error (found in the error's cause chain), classified by its own
/// cause — an `AssumeRole` answer like any AWS answer (throttling and 5xx transient, a
/// denial permanent), a provider timeout transient — and named with that cause.
fn credentials_failure(err: &(dyn std::error::Error + 'static)) -> Option<CallError> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut cur = Some(err);
    let mut found: Option<&CredentialsError> = None;
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            found = Some(c);
            break;
        }
        cur = e.source();
    }
    let c = found?;
    let cause = one_line(&DisplayErrorContext(c).to_string());
    // An AssumeRole answer further down: STS's own code and class decide.
    let mut cur = std::error::Error::source(c);
    while let Some(e) = cur {
        if let Some(sts) = e.downcast_ref::<SdkError<
            aws_sdk_sts::operation::assume_role::AssumeRoleError,
            HttpResponse,
        >>() {
            let inner = classify_ref(sts, |_| None);
            let class = match inner.class {
                // A denial of sts:AssumeRole is not a denial of the action being called.
                Class::AccessDenied | Class::NotEnabled => Class::Permanent,
                other => other,
            };
            return Some(CallError {
                class,
                code: format!("AssumeRole {}", inner.code),
                message: format!(
                    "could not get credentials: sts:AssumeRole failed: {} (the role's trust policy must allow the caller, and --role-external-id must match its sts:ExternalId condition)",
                    inner.message
                ),
            });
        }
        cur = e.source();
    }
    let (class, message) = match c {
        CredentialsError::ProviderTimedOut(_) => (
            Class::Transient(None),
            format!("could not get credentials in time: {cause}"),
        ),
        CredentialsError::CredentialsNotLoaded(_) => (
            Class::Permanent,
            format!("no usable AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role): {cause}"),
        ),
        _ => (
            Class::Permanent,
            format!("could not get credentials: {cause}"),
        ),
    };
    Some(CallError {
        class,
        code: "Credentials".into(),
        message,
    })
}

fn classify_ref<E>(
    err: &SdkError<E, HttpResponse>,
    retry_after: impl Fn(&E) -> Option<i32>,
) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(c) = credentials_failure(err) {
        return c;
    }
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = se.raw().status().as_u16();
            // An answer without an error code (a proxy's HTML page) is named by its status.
            let code = e
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let msg = e.message().unwrap_or("").to_string();
            let message = if msg.is_empty() {
                code.clone()
            } else {
                format!("{code}: {msg}")
            };
            // Only Inspector2 models `retryAfterSeconds`; ECR and CodePipeline (awsJson) can
            // still send the standard `Retry-After` header, which is honoured the same way.
            let header_hint = se
                .raw()
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok());
            let hint = retry_after(e)
                .map(|s| s.max(0) as u64)
                .or(header_hint)
                .map(Duration::from_secs);
            let class = if THROTTLING.contains(&code.as_str()) {
                Class::Transient(hint)
            } else if BAD_CREDENTIALS.contains(&code.as_str()) {
                Class::Credentials
            } else if DENIED.contains(&code.as_str()) {
                Class::AccessDenied
            } else if status == 429 || status >= 500 {
                // Unmodelled 429/5xx answers (proxies, load balancers) are transient too.
                Class::Transient(hint)
            } else {
                Class::Permanent
            };
            CallError {
                class,
                code,
                message,
            }
        }
        SdkError::TimeoutError(_) => CallError {
            class: Class::Transient(None),
            code: "Timeout".into(),
            message: "request timed out".into(),
        },
        SdkError::DispatchFailure(d) => {
            // A connection closed before the answer arrived is "other" with a transient kind
            // (hyper's IncompleteMessage), not "io": it must be retried like a reset.
            let transient_other = matches!(
                d.as_other(),
                Some(
                    ErrorKind::TransientError | ErrorKind::ThrottlingError | ErrorKind::ServerError
                )
            );
            let class = if d.is_io() || d.is_timeout() || transient_other {
                Class::Transient(None)
            } else {
                Class::Permanent
            };
            // The whole context display, Debug dumps included: a credentials failure may be
            // named only there.
            let text = DisplayErrorContext(err).to_string();
            let message = if text.contains("no credentials")
                || text.contains("NoCredentials")
                || text.contains("credentials")
            {
                "no usable AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role)".to_string()
            } else {
                let chain = error_chain(err);
                // A refused connection or an unknown host is where the endpoint is wrong or
                // unreachable, not an AWS answer: say where to look.
                let lower = chain.to_ascii_lowercase();
                if d.is_io()
                    && (lower.contains("connection refused") || lower.contains("dns error"))
                {
                    format!("{chain} (the endpoint cannot be reached: check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and AWS_ENDPOINT_URL)")
                } else {
                    chain
                }
            };
            CallError {
                class,
                code: "Dispatch".into(),
                message,
            }
        }
        SdkError::ResponseError(r) => {
            // An unreadable answer (a proxy's HTML 503 to a JSON API): name its status first.
            let status = r.raw().status().as_u16();
            CallError {
                class: Class::Transient(None),
                code: "Response".into(),
                message: format!("HTTP {status}: {}", error_chain(err)),
            }
        }
        _ => CallError {
            class: Class::Permanent,
            code: "Sdk".into(),
            message: error_chain(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_inspector2::operation::list_coverage::ListCoverageError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    fn dispatch(e: ConnectorError) -> CallError {
        classify(
            SdkError::<ListCoverageError, HttpResponse>::dispatch_failure(e),
            |_| None,
        )
    }

    #[test]
    fn connection_lost_before_the_answer_is_transient() {
        let closed = || {
            Box::new(std::io::Error::other(
                "connection closed before message completed",
            ))
        };
        // hyper's IncompleteMessage (the server closed the socket without answering).
        assert_eq!(
            dispatch(ConnectorError::other(
                closed(),
                Some(ErrorKind::TransientError)
            ))
            .class,
            Class::Transient(None)
        );
        assert_eq!(
            dispatch(ConnectorError::io(closed())).class,
            Class::Transient(None)
        );
        assert_eq!(
            dispatch(ConnectorError::other(closed(), None)).class,
            Class::Permanent
        );
        assert_eq!(
            dispatch(ConnectorError::user(closed())).class,
            Class::Permanent
        );
    }

    #[test]
    fn a_refused_connection_is_one_line_naming_the_cause_and_where_to_look() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let e = dispatch(ConnectorError::io(Box::new(refused)));
        assert_eq!(e.class, Class::Transient(None));
        assert!(e.message.contains("Connection refused"), "{}", e.message);
        assert!(e.message.contains("AWS_ENDPOINT_URL"), "{}", e.message);
        // The cause once, without the SDK's Debug dump of the structs around it.
        assert!(!e.message.contains("DispatchFailure {"), "{}", e.message);
        assert!(!e.message.contains("ConnectorError {"), "{}", e.message);
        assert_eq!(
            e.message.matches("Connection refused").count(),
            1,
            "{}",
            e.message
        );
    }

    fn answered(status: u16, code: Option<&str>, retry_after: Option<&str>) -> CallError {
        use aws_smithy_types::error::ErrorMetadata;
        let mut meta = ErrorMetadata::builder();
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let err = ListCoverageError::generic(meta.build());
        let mut raw = HttpResponse::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        if let Some(r) = retry_after {
            raw.headers_mut().insert("Retry-After", r.to_string());
        }
        classify(SdkError::service_error(err, raw), |_| None)
    }

    #[test]
    fn retry_after_header_is_a_hint_for_every_service() {
        assert_eq!(
            answered(429, Some("ThrottlingException"), Some("3")).class,
            Class::Transient(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            answered(429, Some("ThrottlingException"), None).class,
            Class::Transient(None)
        );
        assert_eq!(
            answered(503, None, Some("2")).class,
            Class::Transient(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            answered(400, Some("ValidationException"), Some("2")).class,
            Class::Permanent
        );
    }

    #[test]
    fn expired_credentials_are_not_a_permission_problem() {
        let e = answered(400, Some("ExpiredTokenException"), None);
        assert_eq!(e.class, Class::Credentials);
        let msg = e.into_error("inspector2:ListCoverage").message;
        assert!(
            msg.contains("expired or invalid") && msg.contains("refresh"),
            "{msg}"
        );
        assert_eq!(
            answered(403, Some("AccessDeniedException"), None).class,
            Class::AccessDenied
        );
    }

    #[test]
    fn an_answer_without_an_error_code_is_named_by_its_status() {
        let e = answered(503, None, None);
        assert_eq!(
            (e.code.as_str(), e.class),
            ("HTTP 503", Class::Transient(None))
        );
    }
}
