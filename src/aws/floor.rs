//! Reading the CI owner's policy floor from outside the gated commit: SSM Parameter Store
//! (`GetParameter` with decryption, so a SecureString works) or a file. (`s3://` is parsed
//! but not fetched yet.)

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
            let (conf, _) = sdk_config(opts).await?;
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
            // Not built in yet (aws-sdk-s3 is a large dependency): say so rather than guess.
            return Err(Error::usage(format!(
                "--policy-floor s3://{bucket}/{key}: S3 floors are not supported yet; keep the floor in SSM (ssm:/name) or a file outside the repository"
            )));
        }
    };
    if text.len() > MAX_FLOOR_BYTES {
        return Err(too_big("ssm parameter"));
    }
    Ok(text)
}

fn too_big(origin: &str) -> Error {
    Error::usage(format!(
        "policy floor {origin} is larger than {} bytes: it is not a policy file",
        MAX_FLOOR_BYTES
    ))
}
