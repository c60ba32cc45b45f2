//! AWS SDK for Rust clients pointed at a scripted server on 127.0.0.1: dummy credentials, no
//! retries (a test sees every answer), the region the test names.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub fn inspector(url: &str, region: &str) -> aws_sdk_inspector2::Client {
    use aws_sdk_inspector2::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_inspector2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            "AKIDTESTTESTTESTTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_inspector2::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_inspector2::Client::from_conf(conf)
}

pub fn codepipeline(url: &str) -> aws_sdk_codepipeline::Client {
    use aws_sdk_codepipeline::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_codepipeline::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTESTTESTTESTTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_codepipeline::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_codepipeline::Client::from_conf(conf)
}

/// An Inspector Scan client for the scripted `ScanSbom` server at `url`.
pub fn inspector_scan(url: &str) -> aws_sdk_inspectorscan::Client {
    use aws_sdk_inspectorscan::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_inspectorscan::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTESTTESTTESTTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_inspectorscan::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_inspectorscan::Client::from_conf(conf)
}

/// `None` for a success, else the error's code and message (`ValidationException 1
/// validation error detected: …`).
pub fn refusal<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> Option<String> {
    r.err().map(|e| {
        format!(
            "{} {}",
            e.code().unwrap_or_default(),
            e.message().unwrap_or_default()
        )
    })
}
