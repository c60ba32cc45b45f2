//! AWS SDK for Rust clients pointed at a scripted server on 127.0.0.1: dummy credentials, no
//! retries (a test sees every answer), the region the test names.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// One client of `$sdk` for the scripted server at `url`: the same dummy credentials, no
/// retries and the given region for every service.
macro_rules! scripted_client {
    ($sdk:ident, $url:expr, $region:expr) => {{
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        let conf = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new($region.to_string()))
            .credentials_provider(Credentials::new(
                "AKIDTESTTESTTESTTEST",
                "test-secret",
                None,
                None,
                "test",
            ))
            .endpoint_url($url)
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

pub fn inspector(url: &str, region: &str) -> aws_sdk_inspector2::Client {
    scripted_client!(aws_sdk_inspector2, url, region)
}

pub fn codepipeline(url: &str) -> aws_sdk_codepipeline::Client {
    scripted_client!(aws_sdk_codepipeline, url, "us-east-1")
}

/// An Inspector Scan client for the scripted `ScanSbom` server at `url`.
pub fn inspector_scan(url: &str) -> aws_sdk_inspectorscan::Client {
    scripted_client!(aws_sdk_inspectorscan, url, "us-east-1")
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
