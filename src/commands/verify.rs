//! `inspector-gate verify`: its arguments, validated into `VerifyOptions`.

use super::args::{parse_timeout, AwsArgs, WaitArgs};
use clap::Args;
use inspector_gate::error::{Error, Result};
use inspector_gate::image_ref::{region_for, ImageRef};
use inspector_gate::pipeline::verify::{self as pipeline, VerifyOptions};
use inspector_gate::progress::Progress;

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The image the deploy is about to run: [<acct>.dkr.ecr.<region>.amazonaws.com/]<repo>@sha256:<hex>
    /// (a tag is resolved through ECR).
    #[arg(value_name = "IMAGE", env = "INSPECTOR_GATE_VERIFY_IMAGE")]
    pub image: String,
    /// The key the gate signed with: awskms:///alias/NAME, awskms:///arn:… or file:KEY.pem
    /// (a PKCS#8 private key or an SPKI public key).
    #[arg(long, env = "INSPECTOR_GATE_VERIFY_KEY", value_name = "KEY")]
    pub key: String,
    /// The decision must be at most this old (e.g. 24h, 30m).
    #[arg(long, env = "INSPECTOR_GATE_MAX_AGE", value_name = "DURATION", value_parser = parse_timeout)]
    pub max_age: Option<std::time::Duration>,
    /// The attested policy must be at least as strict as this floor (a TOML file, ssm:/name or
    /// s3://bucket/key), as the gate holds a repository's policy file to it.
    #[arg(long, env = "INSPECTOR_GATE_POLICY_FLOOR", value_name = "SOURCE")]
    pub policy_floor: Option<String>,
    /// Also read Inspector's current findings for the attested digests and evaluate them under
    /// the attested policy: a CVE found since the build fails the deploy.
    #[arg(long, env = "INSPECTOR_GATE_REGATE")]
    pub regate: bool,
    /// Registry endpoint instead of ECR's proxyEndpoint (proxies, tests).
    #[arg(long, env = "INSPECTOR_GATE_REGISTRY_URL", value_name = "URL")]
    pub registry_url: Option<String>,
    /// Allow sending registry credentials over plain http:// to a non-loopback host.
    #[arg(long, env = "INSPECTOR_GATE_INSECURE_REGISTRY")]
    pub insecure_registry: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: VerifyArgs, progress: &Progress) -> Result<i32> {
    let mut local = super::preflight::Local::default();
    let key = local.key("--key", &args.key);
    if let Some(f) = args
        .policy_floor
        .as_deref()
        .filter(|f| !f.trim().is_empty())
    {
        local.floor(f);
    }
    local.finish()?;
    let image: ImageRef = args.image.parse()?;
    // finish() has refused a key that does not parse.
    let key = key.ok_or_else(|| Error::usage(format!("--key {}: not a key", args.key)))?;
    let mut aws: inspector_gate::aws::AwsOptions = (&args.aws).into();
    aws.region = region_for(&[&image], aws.region.as_deref())?;
    let opts = VerifyOptions {
        image,
        key,
        max_age: args.max_age,
        floor: args.policy_floor.clone().filter(|f| !f.trim().is_empty()),
        regate: args.regate,
        registry_url: args.registry_url.clone(),
        insecure_registry: args.insecure_registry,
        wait: args.wait.options(),
        aws,
    };
    super::block_on(async move { pipeline::run(&opts, progress).await })
}
