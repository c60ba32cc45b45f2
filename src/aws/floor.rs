//! Reading the CI owner's policy floor from outside the gated commit: SSM Parameter Store
//! (`GetParameter` with decryption, so a SecureString works), S3 (`GetObject`) or a file.

use super::{classify, sdk_config, AwsOptions};
use crate::error::{Error, Result};
use crate::policy::file::FloorSource;

/// A floor larger than this is not a policy: refuse it rather than read it into memory.
pub const MAX_FLOOR_BYTES: usize = 1024 * 1024;

/// The floor's text and a name for it in messages.
pub async fn fetch(source: &FloorSource, opts: &AwsOptions) -> Result<String> {
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
        FloorSource::Ssm(name) => {
            let (conf, _) = sdk_config(opts, std::time::Duration::from_secs(60)).await?;
            let client = aws_sdk_ssm::Client::new(&conf);
            let out = client
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| classify(e, |_| None).into_error("ssm:GetParameter (policy floor)"))?;
            out.parameter
                .and_then(|p| p.value)
                .ok_or_else(|| Error::usage(format!("policy floor ssm:{name} has no value")))?
        }
        FloorSource::S3 { bucket, key } => {
            let (conf, _) = sdk_config(opts, std::time::Duration::from_secs(60)).await?;
            // A custom endpoint (an S3-compatible store, a local emulator) rarely resolves
            // virtual-hosted bucket names: address buckets by path there.
            let custom_endpoint =
                conf.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
            let s3conf = aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(custom_endpoint)
                .build();
            let client = aws_sdk_s3::Client::from_conf(s3conf);
            let what = format!("s3:GetObject (policy floor s3://{bucket}/{key})");
            let out = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| classify(e, |_| None).into_error(&what))?;
            if out.content_length().unwrap_or(0) > MAX_FLOOR_BYTES as i64 {
                return Err(too_big(&format!("s3://{bucket}/{key}")));
            }
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| Error::runtime(format!("{what}: reading the object: {e}")))?
                .into_bytes();
            String::from_utf8(bytes.to_vec()).map_err(|_| {
                Error::usage(format!(
                    "policy floor s3://{bucket}/{key} is not UTF-8 text: it is not a policy file"
                ))
            })?
        }
    };
    if text.len() > MAX_FLOOR_BYTES {
        return Err(too_big(&source.to_string()));
    }
    Ok(text)
}

fn too_big(origin: &str) -> Error {
    Error::usage(format!(
        "policy floor {origin} is larger than {} bytes: it is not a policy file",
        MAX_FLOOR_BYTES
    ))
}
