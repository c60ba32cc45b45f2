//! Reading the CI owner's policy floor from outside the gated commit: SSM Parameter Store
//! (`GetParameter` with decryption, so a SecureString works), S3 (`GetObject`) or a file.
//!
//! Each read is made where the floor lives — an SSM parameter ARN names its region, and an S3
//! bucket in another region is asked again once in the region S3 names
//! (`x-amz-bucket-region` on its PermanentRedirect) — and goes through `retry::call` under
//! the run's deadline, so one throttle is waited out rather than failing the run.

use super::{classify, sdk_config, AwsOptions, CallError, Class};
use crate::error::{Error, Result};
use crate::policy::file::FloorSource;
use crate::retry::{self, Retryable, Schedule};
use std::time::Duration;
use tokio::time::Instant;

/// A floor larger than this is not a policy: refuse it rather than read it into memory.
pub const MAX_FLOOR_BYTES: usize = 1024 * 1024;

/// The deadline of a floor read for commands without a `--timeout` (`evaluate`, `config`,
/// `scan`): long enough to wait out throttling, short enough that a broken read ends.
pub const FLOOR_BUDGET: Duration = Duration::from_secs(120);

/// One attempt's limit (the deadline bounds the whole read).
const ATTEMPT: Duration = Duration::from_secs(60);

/// The floor's text.
pub async fn fetch(source: &FloorSource, opts: &AwsOptions, deadline: Instant) -> Result<String> {
    let text = match source {
        FloorSource::File(path) => {
            let meta = std::fs::metadata(path).map_err(|e| {
                Error::usage(format!("cannot read policy floor {}: {e}", path.display()))
            })?;
            if meta.len() > MAX_FLOOR_BYTES as u64 {
                return Err(too_big(&path.display().to_string()));
            }
            std::fs::read_to_string(path).map_err(|e| {
                Error::usage(format!("cannot read policy floor {}: {e}", path.display()))
            })?
        }
        FloorSource::Ssm(name) => bounded(deadline, source, ssm(name, opts, deadline)).await?,
        FloorSource::S3 { bucket, key } => {
            bounded(deadline, source, s3(bucket, key, opts, deadline)).await?
        }
    };
    if text.len() > MAX_FLOOR_BYTES {
        return Err(too_big(&source.to_string()));
    }
    Ok(text)
}

/// `read`, ended at `deadline` (an attempt in flight included).
async fn bounded(
    deadline: Instant,
    source: &FloorSource,
    read: impl std::future::Future<Output = Result<String>>,
) -> Result<String> {
    tokio::time::timeout_at(deadline, read)
        .await
        .unwrap_or_else(|_| {
            Err(Error::runtime(format!(
                "policy floor {source} could not be read before the deadline"
            )))
        })
}

/// The region an SSM parameter ARN names: `arn:<partition>:ssm:<region>:<account>:parameter/…`.
pub fn ssm_arn_region(name: &str) -> Option<&str> {
    let mut parts = name.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    parts.next()?;
    if parts.next()? != "ssm" {
        return None;
    }
    let region = parts.next()?;
    crate::partition::is_known_region(region).then_some(region)
}

async fn ssm(name: &str, opts: &AwsOptions, deadline: Instant) -> Result<String> {
    let mut opts = opts.clone();
    if let Some(region) = ssm_arn_region(name) {
        opts.region = Some(region.to_string());
    }
    let (conf, _) = sdk_config(&opts, ATTEMPT).await?;
    let client = aws_sdk_ssm::Client::new(&conf);
    let out = retry::call(Schedule::CALL, deadline, || async {
        client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| {
        floor_error(
            e,
            "ssm:GetParameter",
            &format!("ssm:{name}"),
            "the parameter, and kms:Decrypt on its KMS key when it is a SecureString",
        )
    })?;
    out.parameter
        .and_then(|p| p.value)
        .ok_or_else(|| Error::usage(format!("policy floor ssm:{name} has no value")))
}

/// The error of a failed floor read: an access denial names what to grant, `kms:Decrypt`
/// included (an SSE-KMS object or a SecureString is denied without it, in the same words).
fn floor_error(e: CallError, action: &str, origin: &str, grant: &str) -> Error {
    if e.class == Class::AccessDenied {
        return Error::runtime(format!(
            "access denied reading the policy floor {origin} ({action}): {} (grant {action} on {grant}, to the role the gate runs as)",
            e.message
        ));
    }
    e.into_error(&format!("{action} (policy floor {origin})"))
}

/// A failed `GetObject` of the floor.
enum S3Fail {
    Call(CallError),
    /// The bucket is in this other region (S3's redirect said so).
    Elsewhere(String),
    Final(Error),
}

impl Retryable for S3Fail {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        match self {
            S3Fail::Call(e) => e.retry_hint(),
            _ => None,
        }
    }
    fn summary(&self) -> Option<String> {
        match self {
            S3Fail::Call(e) => e.summary(),
            _ => None,
        }
    }
}

/// Does this answer say the bucket is in another region? (botocore's S3RegionRedirector:
/// a 301/307, PermanentRedirect, AuthorizationHeaderMalformed, or the opt-in region's
/// IllegalLocationConstraintException.) Its `x-amz-bucket-region`, if it carries one.
fn redirect_of<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Option<Option<String>>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    let raw = err.raw_response()?;
    let code = err.as_service_error().and_then(|e| e.code());
    let redirect = matches!(raw.status().as_u16(), 301 | 307)
        || matches!(
            code,
            Some(
                "PermanentRedirect"
                    | "AuthorizationHeaderMalformed"
                    | "IllegalLocationConstraintException"
            )
        );
    let header = raw
        .headers()
        .get("x-amz-bucket-region")
        .filter(|r| crate::partition::is_known_region(r))
        .map(str::to_string);
    redirect.then_some(header)
}

async fn s3(bucket: &str, key: &str, opts: &AwsOptions, deadline: Instant) -> Result<String> {
    let origin = format!("s3://{bucket}/{key}");
    let (conf, region) = sdk_config(opts, ATTEMPT).await?;
    let bytes = match get_object(&conf, None, bucket, key, deadline).await {
        // Once, in the region S3 named: a second redirect is an error, never a loop.
        Err(S3Fail::Elsewhere(there)) if there != region => {
            get_object(&conf, Some(&there), bucket, key, deadline).await
        }
        other => other,
    }
    .map_err(|e| match e {
        S3Fail::Call(e) => floor_error(
            e,
            "s3:GetObject",
            &origin,
            "the object, and kms:Decrypt on the bucket's KMS key when the object is SSE-KMS encrypted",
        ),
        S3Fail::Elsewhere(there) => Error::runtime(format!(
            "s3:GetObject (policy floor {origin}): S3 redirected the read to region {there} again: the bucket's region cannot be followed"
        )),
        S3Fail::Final(e) => e,
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Error::usage(format!(
            "policy floor {origin} is not UTF-8 text: it is not a policy file"
        ))
    })
}

/// `GetObject` of the floor, in `region` (the configuration's own when `None`).
async fn get_object(
    conf: &aws_config::SdkConfig,
    region: Option<&str>,
    bucket: &str,
    key: &str,
    deadline: Instant,
) -> std::result::Result<Vec<u8>, S3Fail> {
    // A custom endpoint (an S3-compatible store, a local emulator) rarely resolves
    // virtual-hosted bucket names: address buckets by path there.
    let custom_endpoint =
        conf.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let mut s3conf = aws_sdk_s3::config::Builder::from(conf).force_path_style(custom_endpoint);
    if let Some(r) = region {
        s3conf = s3conf.region(aws_sdk_s3::config::Region::new(r.to_string()));
    }
    let client = aws_sdk_s3::Client::from_conf(s3conf.build());
    let origin = format!("s3://{bucket}/{key}");
    retry::call(Schedule::CALL, deadline, || async {
        let out = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) => {
                return Err(match redirect_of(&e) {
                    Some(Some(there)) => S3Fail::Elsewhere(there),
                    Some(None) => match bucket_region(&client, bucket).await {
                        Some(there) => S3Fail::Elsewhere(there),
                        None => S3Fail::Call(classify(e, |_| None)),
                    },
                    None => S3Fail::Call(classify(e, |_| None)),
                })
            }
        };
        if out.content_length().unwrap_or(0) > MAX_FLOOR_BYTES as i64 {
            return Err(S3Fail::Final(too_big(&origin)));
        }
        let bytes = out.body.collect().await.map_err(|e| {
            // A body cut mid-read is asked for again, like a reset connection.
            S3Fail::Call(CallError {
                class: Class::Transient(None),
                code: "Body".into(),
                message: format!("reading the object: {e}"),
            })
        })?;
        Ok(bytes.into_bytes().to_vec())
    })
    .await
}

/// The region S3 says `bucket` is in (`HeadBucket`'s `x-amz-bucket-region`, answered even
/// with a redirect or a denial), when a redirect did not carry it.
async fn bucket_region(client: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => out.bucket_region().map(str::to_string),
        Err(e) => e
            .raw_response()?
            .headers()
            .get("x-amz-bucket-region")
            .map(str::to_string),
    }
    .filter(|r| crate::partition::is_known_region(r))
}

fn too_big(origin: &str) -> Error {
    Error::usage(format!(
        "policy floor {origin} is larger than {} bytes: it is not a policy file",
        MAX_FLOOR_BYTES
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ssm_arn_names_its_region() {
        assert_eq!(
            ssm_arn_region("arn:aws:ssm:eu-west-1:123456789012:parameter/ci/floor"),
            Some("eu-west-1")
        );
        assert_eq!(
            ssm_arn_region("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/f"),
            Some("cn-north-1")
        );
        assert_eq!(ssm_arn_region("/ci/floor"), None);
        assert_eq!(ssm_arn_region("arn:aws:s3:::bucket"), None);
        assert_eq!(
            ssm_arn_region("arn:aws:ssm::123456789012:parameter/f"),
            None
        );
    }
}
