//! `inspector-gate findings`: wait for the scan and write the ACTIVE findings as JSON.

use super::args::{AwsArgs, WaitArgs};
use clap::Args;
use inspector_gate::error::Result;
use inspector_gate::image_ref::{region_for, ImageRef};
use inspector_gate::pipeline::findings::{self as pipeline, FindingsOptions};
use inspector_gate::progress::Progress;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct FindingsArgs {
    /// Image(s) whose findings to fetch.
    #[arg(
        long = "image",
        env = "INSPECTOR_GATE_IMAGE",
        value_delimiter = ',',
        required = true
    )]
    pub images: Vec<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Write the JSON here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: FindingsArgs, progress: &Progress) -> Result<i32> {
    let mut local = super::preflight::Local::default();
    if let Some(f) = &args.output {
        local.out_file("--output", f);
    }
    local.finish()?;
    let images = args
        .images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<ImageRef>>>()?;
    let mut aws: inspector_gate::aws::AwsOptions = (&args.aws).into();
    aws.region = region_for(&images.iter().collect::<Vec<_>>(), aws.region.as_deref())?;
    let opts = FindingsOptions {
        images,
        wait: args.wait.options(),
        output: args.output.clone(),
        aws,
    };
    super::block_on(async move { pipeline::run(&opts, progress).await })
}
