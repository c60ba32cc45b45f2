//! `inspector-gate push`: push a local image to ECR and print the digest and pinned URI.

use super::args::parse_timeout;
use super::args::AwsArgs;
use clap::Args;
use inspector_gate::error::{Error, Result};
use inspector_gate::image_ref::{region_for, ImageRef};
use inspector_gate::pipeline::push::{needs_aws, push_to_ecr, PushRequest};
use inspector_gate::progress::Progress;

#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// Source: oci:<dir>[:<ref>], oci-archive:<file>, docker-archive:<file>, docker:<image>.
    #[arg(long, env = "INSPECTOR_GATE_PUSH_FROM", value_name = "SOURCE")]
    pub push_from: String,
    /// Destination: [<acct>.dkr.ecr.<region>.amazonaws.com/]<repo>:<tag>.
    #[arg(long, env = "INSPECTOR_GATE_IMAGE", value_name = "REF")]
    pub image: String,
    /// Extra tags (repeatable).
    #[arg(
        long = "tag",
        env = "INSPECTOR_GATE_TAG",
        value_delimiter = ',',
        value_name = "TAG"
    )]
    pub tags: Vec<String>,
    /// Registry endpoint instead of ECR's proxyEndpoint.
    #[arg(long, env = "INSPECTOR_GATE_REGISTRY_URL", value_name = "URL")]
    pub registry_url: Option<String>,
    /// Allow sending registry credentials over plain http:// to a non-loopback host.
    #[arg(long, env = "INSPECTOR_GATE_INSECURE_REGISTRY")]
    pub insecure_registry: bool,
    /// Give up retrying the push after this long (e.g. 30m, 90s).
    #[arg(long, env = "INSPECTOR_GATE_TIMEOUT", default_value = "30m", value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: PushArgs, progress: &Progress) -> Result<i32> {
    let dest: ImageRef = args.image.parse()?;
    let mut local = super::preflight::Local::default();
    let source = local.source("--push-from", &args.push_from);
    local.finish()?;
    // finish() has refused a source that does not parse.
    let source = source.ok_or_else(|| {
        Error::usage(format!(
            "--push-from {}: not an image source",
            args.push_from
        ))
    })?;
    let req = PushRequest {
        source,
        dest,
        extra_tags: args.tags.clone(),
        registry_url: args.registry_url.clone(),
        insecure_registry: args.insecure_registry,
    };
    let mut aws: inspector_gate::aws::AwsOptions = (&args.aws).into();
    aws.region = region_for(&[&req.dest], aws.region.as_deref())?;
    let images = super::block_on(async {
        let clients = match needs_aws() {
            true => Some(inspector_gate::aws::clients(&aws).await?),
            false => None,
        };
        let deadline = tokio::time::Instant::now() + args.timeout;
        let images = push_to_ecr(clients.as_ref(), &req, deadline, progress).await?;
        progress.finish();
        print_pushed(&images, args.json);
        Ok(0)
    });
    images
}

/// The pushed digest and pinned URI (and each platform's digest), as text or JSON.
fn print_pushed(images: &[inspector_gate::model::ScannedImage], json: bool) {
    let first = &images[0];
    let top = first.deploy_digest().to_string();
    let uri = first.pinned_uri();
    if json {
        let platforms: Vec<_> = images
            .iter()
            .filter_map(|i| {
                i.platform
                    .as_ref()
                    .map(|p| serde_json::json!({"platform": p, "digest": i.digest}))
            })
            .collect();
        let v = serde_json::json!({"digest": top, "imageUri": uri, "platforms": platforms});
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("digest: {top}");
        println!("image: {uri}");
        for i in images.iter().filter(|i| i.platform.is_some()) {
            println!(
                "platform: {} {}",
                i.platform.as_deref().unwrap_or(""),
                i.digest
            );
        }
    }
}
