//! `inspector-gate scan`: a local check without a push — catalogue the image's packages into a
//! CycloneDX 1.5 SBOM, scan it with Inspector's `ScanSbom`, apply the same policy, reports and
//! exit codes as `gate`.

use super::args::{parse_timeout, AwsArgs, OutputArgs, PolicyArgs};
use clap::{Args, ValueEnum};
use inspector_gate::error::{Error, Result};
use inspector_gate::pipeline::scan::{self as pipeline, ScanCommandOptions};
use inspector_gate::policy::Policy;
use inspector_gate::progress::Progress;
use inspector_gate::scan::inspector_scan::Format;
use inspector_gate::scan::layers::ScanSource;
use inspector_gate::scan::{Input, ScanOptions};
use std::path::PathBuf;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    /// CycloneDX 1.5 with vulnerabilities (default).
    Cyclonedx,
    /// Inspector's own JSON.
    Inspector,
}

/// Examples under `scan --help`.
const EXAMPLES: &str = "\
Examples:
  # Check a local image before pushing it (needs only inspector-scan:ScanSbom)
  inspector-gate scan --from docker:app/web:dev --fail-on HIGH

  # Scan what `docker save` wrote and keep the SBOM
  inspector-gate scan --from docker-archive:web.tar --sbom-out web.cdx.json

  # Scan an SBOM made elsewhere
  inspector-gate scan --sbom web.cdx.json --format markdown";

#[derive(Args, Debug, Clone)]
#[command(after_help = EXAMPLES)]
pub struct ScanArgs {
    /// Image to catalogue (no push).
    ///
    /// oci:DIR[:REF], oci-archive:FILE, docker-archive:FILE, docker:NAME or dir:ROOTFS.
    #[arg(
        long,
        help_heading = "Image and push",
        env = "INSPECTOR_GATE_FROM",
        value_name = "SOURCE",
        conflicts_with = "sbom",
        required_unless_present = "sbom"
    )]
    pub from: Option<String>,
    /// Scan an existing CycloneDX 1.5 JSON SBOM instead.
    #[arg(
        long,
        env = "INSPECTOR_GATE_SBOM",
        value_name = "FILE",
        help_heading = "Image and push"
    )]
    pub sbom: Option<PathBuf>,
    /// Also write the SBOM here (one file per platform for multi-platform images).
    #[arg(
        long,
        env = "INSPECTOR_GATE_SBOM_OUT",
        value_name = "FILE",
        help_heading = "Reports"
    )]
    pub sbom_out: Option<PathBuf>,
    /// The answer format to ask ScanSbom for.
    #[arg(long, env = "INSPECTOR_GATE_SCAN_FORMAT", value_name = "FORMAT", help_heading = "Waiting", value_enum, default_value_t = AnswerFormat::Cyclonedx)]
    pub scan_format: AnswerFormat,
    /// The run's deadline: cataloguing and ScanSbom (retries included) together.
    #[arg(long, env = "INSPECTOR_GATE_TIMEOUT", default_value = "5m", value_name = "DURATION", help_heading = "Waiting", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: ScanArgs, progress: &Progress, color: bool) -> Result<i32> {
    let mut local = super::preflight::Local::default();
    let from = args
        .from
        .as_deref()
        .and_then(|f| local.scan_source("--from", f));
    if let Some(f) = &args.sbom {
        local.read_file("--sbom", f);
    }
    if let Some(f) = &args.sbom_out {
        local.out_file("--sbom-out", f);
    }
    local.policy(&args.policy);
    if let Some(d) = &args.output.report_dir {
        local.out_dir("--report-dir", d);
    }
    local.finish()?;
    let aws = (&args.aws).into();
    super::block_on(async move {
        let policy =
            super::resolve_policy(&args.policy, &aws, inspector_gate::aws::floor::FLOOR_BUDGET)
                .await?
                .policy;
        run_with(args, from, policy, progress, color).await
    })
}

/// The scan of `from` (`--from`, as the preflight parsed it) or of `--sbom`.
async fn run_with(
    args: ScanArgs,
    from: Option<ScanSource>,
    policy: Policy,
    progress: &Progress,
    color: bool,
) -> Result<i32> {
    let input = match (from, &args.sbom) {
        (Some(f), None) => Input::From(f),
        (None, Some(s)) => Input::Sbom(s.clone()),
        _ => {
            return Err(Error::usage(
                "give exactly one of --from SOURCE or --sbom FILE",
            ))
        }
    };
    let opts = ScanCommandOptions {
        scan: ScanOptions {
            input,
            sbom_out: args.sbom_out.clone(),
            format: match args.scan_format {
                AnswerFormat::Cyclonedx => Format::CycloneDx,
                AnswerFormat::Inspector => Format::Inspector,
            },
            aws: (&args.aws).into(),
            timeout: args.timeout,
            timestamp: inspector_gate::pipeline::now_rfc3339(),
        },
        policy,
        publish: args.output.options(color),
    };
    pipeline::run(&opts, progress).await
}
