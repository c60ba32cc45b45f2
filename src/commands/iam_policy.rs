//! `inspector-gate iam-policy [gate flags]`: the least-privilege IAM policy the given gate
//! flags need, as IAM JSON on stdout (from `inspector_gate::iam`, the table `gate --dry-run`
//! lists). No AWS request, and no local file read: the flags are parsed, not their files.

use super::gate::GateArgs;
use super::preflight;
use clap::Args;
use inspector_gate::error::{Error, Result};
use inspector_gate::image_ref::ImageRef;

/// Examples under `iam-policy --help`.
const EXAMPLES: &str = "\
Examples:
  # The build role: push, wait, gate
  inspector-gate iam-policy --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web:v1 --push-from oci:build/oci

  # The approval role: gate, sign the decision, answer the approval, read the floor from SSM
  inspector-gate iam-policy --image app/web:v1 --region eu-west-1 --attest awskms:///alias/decision \\
    --approve deploy/Approve/ScanGate --policy-floor ssm:/ci/inspector-gate/floor

  # The deploy role: verify the signed decision
  inspector-gate iam-policy --image app/web:v1 --region eu-west-1 --verify-key awskms:///alias/decision";

#[derive(Args, Debug, Clone)]
#[command(after_help = EXAMPLES)]
pub struct IamPolicyArgs {
    #[command(flatten)]
    pub gate: GateArgs,
    /// Add what `verify --key KEY` needs for these images (the deploy's check).
    ///
    /// Pulling the attestation from the registry, and kms:GetPublicKey for an awskms:/// key.
    #[arg(long, value_name = "KEY", help_heading = "Approval and hand-off")]
    pub verify_key: Option<String>,
}

/// The policy for the flags. No local file is read: the paths name the build host's files,
/// which need not exist where the policy is written (malformed flags are still exit 2).
pub fn run(args: IamPolicyArgs) -> Result<i32> {
    if args.gate.images.is_empty() {
        return Err(Error::usage(
            "iam-policy needs --image: the repositories the policy grants (e.g. --image app/web:v1)",
        ));
    }
    let refs = args
        .gate
        .images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<ImageRef>>>()?;
    let (region, _) = super::block_on(preflight::region_source(
        &refs,
        args.gate.aws.region.as_deref(),
        args.gate.aws.profile.as_deref(),
    ))?;
    let mut plan = preflight::iam_plan(&args.gate, region)?;
    if let Some(k) = &args.verify_key {
        plan.verify = refs;
        plan.verify_key = Some(k.parse()?);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&plan.policy()).unwrap_or_default()
    );
    for n in plan.notes() {
        eprintln!("note: {}", inspector_gate::sanitize::text(&n));
    }
    Ok(0)
}
