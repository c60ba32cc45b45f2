//! `inspector-gate gate`: its arguments, their validation into `GateOptions`, and the dry run.

use super::args::{AwsArgs, OutputArgs, PolicyArgs, WaitArgs};
use clap::Args;
use inspector_gate::approval::ApprovalTarget;
use inspector_gate::error::{Error, Result, EXIT_PASS};
use inspector_gate::handoff;
use inspector_gate::image_ref::{region_for, ImageRef};
use inspector_gate::pipeline::attest::AttestOptions;
use inspector_gate::pipeline::baseline::BaselineOptions;
use inspector_gate::pipeline::gate::{
    self as pipeline, ApprovalOptions, GateOptions, HandoffOptions,
};
use inspector_gate::pipeline::push::PushRequest;
use inspector_gate::policy::file::FloorSource;
use inspector_gate::policy::Policy;
use inspector_gate::progress::Progress;
use std::path::PathBuf;

/// Examples under `gate --help`.
const EXAMPLES: &str = "\
Examples:
  # Gate an image your build pushed; fail the step on any HIGH or CRITICAL finding
  inspector-gate gate --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web:1.4.2 \\
    --fail-on HIGH

  # Push a docker save archive, gate it, write the reports and the ECS hand-off
  inspector-gate gate --push-from docker-archive:web.tar --image app/web:$GIT_SHA \\
    --report-dir reports --image-definitions imagedefinitions.json --container-name web

  # Answer a CodePipeline manual approval with the verdict
  inspector-gate gate --image app/web@sha256:<hex> --approve deploy/Approve/ScanGate

  # Check the inputs and print the plan (region, account, IAM actions) without gating
  inspector-gate gate --image app/web:1.4.2 --dry-run";

#[derive(Args, Debug, Clone)]
#[command(after_help = EXAMPLES)]
pub struct GateArgs {
    /// Image to gate (repeatable; gated concurrently).
    ///
    /// [<acct>.dkr.ecr.<region>.amazonaws.com/]<repo>(:<tag>|@sha256:<hex>).
    #[arg(
        long = "image",
        env = "INSPECTOR_GATE_IMAGE",
        value_delimiter = ',',
        value_name = "REF",
        help_heading = "Image and push"
    )]
    pub images: Vec<String>,
    /// Push this image to --image first (repeatable, paired in order).
    ///
    /// oci:<dir>[:<ref>], oci-archive:<file>, docker-archive:<file> (what `docker save`
    /// writes) or docker:<image> (via the docker CLI). Several images pushed and gated in
    /// one run share one ECR authorization token and batch their Inspector reads.
    #[arg(
        long,
        env = "INSPECTOR_GATE_PUSH_FROM",
        value_name = "SOURCE",
        help_heading = "Image and push"
    )]
    pub push_from: Vec<String>,
    /// Extra tag to push (repeatable).
    #[arg(
        long = "tag",
        env = "INSPECTOR_GATE_TAG",
        value_delimiter = ',',
        value_name = "TAG",
        help_heading = "Image and push"
    )]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Gate only what this image adds to a baseline.
    ///
    /// ecs:CLUSTER/SERVICE[/CONTAINER] (what the service runs now; CLUSTER a name or an ARN,
    /// or ecs:SERVICE_ARN[/CONTAINER]), an image reference, or a
    /// saved report.json. Findings are new, inherited or fixed relative to it.
    #[arg(
        long,
        env = "INSPECTOR_GATE_BASELINE",
        value_name = "SOURCE",
        help_heading = "Baseline",
        display_order = 0
    )]
    pub baseline: Option<String>,
    /// An unreadable baseline warns instead of exit 3.
    ///
    /// Every finding is then gated.
    #[arg(
        long,
        env = "INSPECTOR_GATE_BASELINE_OPTIONAL",
        requires = "baseline",
        help_heading = "Baseline",
        display_order = 0
    )]
    pub baseline_optional: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Report only: violations exit 0 with verdict `fail`.
    ///
    /// The verdict stays `fail` in every output; it never approves and never hands off, and
    /// errors and inconclusive runs keep their codes. The policy floor can forbid it
    /// (`allow-soft-fail = false`).
    #[arg(long, env = "INSPECTOR_GATE_SOFT_FAIL", help_heading = "Policy")]
    pub soft_fail: bool,
    /// Approve (pass) or reject (fail) this manual approval.
    ///
    /// A CodePipeline manual-approval action: PIPELINE/STAGE/ACTION.
    #[arg(
        long,
        env = "INSPECTOR_GATE_APPROVE",
        value_name = "PIPELINE/STAGE/ACTION",
        help_heading = "Approval and hand-off"
    )]
    pub approve: Option<String>,
    /// The pipeline execution to answer.
    ///
    /// It picks the execution but never overrides a digest its approval or sources name.
    #[arg(
        long,
        env = "INSPECTOR_GATE_PIPELINE_EXECUTION_ID",
        value_name = "ID",
        help_heading = "Approval and hand-off"
    )]
    pub pipeline_execution_id: Option<String>,
    /// A link for the approval's reviewer; e.g. the build's report page.
    #[arg(
        long,
        env = "INSPECTOR_GATE_REPORT_URL",
        value_name = "URL",
        help_heading = "Approval and hand-off"
    )]
    pub report_url: Option<String>,
    /// Write imagedefinitions.json for ECS, on pass.
    ///
    /// For the ECS standard deploy action.
    ///
    /// One entry, {"name": --container-name, "imageUri": "<repo>@sha256:<digest>"}.
    #[arg(
        long,
        env = "INSPECTOR_GATE_IMAGE_DEFINITIONS",
        value_name = "FILE",
        requires = "container_name",
        help_heading = "Approval and hand-off"
    )]
    pub image_definitions: Option<PathBuf>,
    /// The container's name in imagedefinitions.json.
    #[arg(
        long,
        env = "INSPECTOR_GATE_CONTAINER_NAME",
        value_name = "NAME",
        help_heading = "Approval and hand-off"
    )]
    pub container_name: Option<String>,
    /// Write imageDetail.json (ECS blue/green), on pass.
    #[arg(
        long,
        env = "INSPECTOR_GATE_IMAGE_DETAIL",
        value_name = "FILE",
        help_heading = "Approval and hand-off"
    )]
    pub image_detail: Option<PathBuf>,
    /// Kubernetes manifests to pin by digest, on pass.
    ///
    /// Files, or directories of them.
    ///
    /// Every container image of a gated repository in the .yaml/.yml documents is rewritten
    /// to <repo>@sha256:<digest>; comments and other documents are untouched.
    #[arg(
        long = "k8s-manifests",
        env = "INSPECTOR_GATE_K8S_MANIFESTS",
        value_delimiter = ',',
        num_args = 1..,
        value_name = "PATH",
        help_heading = "Approval and hand-off",
    )]
    pub k8s_manifests: Vec<PathBuf>,
    /// Write the pinned manifests into this directory.
    ///
    /// Each under its own file name.
    #[arg(
        long,
        env = "INSPECTOR_GATE_K8S_OUT",
        value_name = "DIR",
        conflicts_with = "k8s_in_place",
        help_heading = "Approval and hand-off"
    )]
    pub k8s_out: Option<PathBuf>,
    /// Rewrite the manifests in place instead.
    ///
    /// Instead of writing pinned copies to --k8s-out.
    #[arg(
        long,
        env = "INSPECTOR_GATE_K8S_IN_PLACE",
        help_heading = "Approval and hand-off"
    )]
    pub k8s_in_place: bool,
    /// Write a kustomize Component with the digests, on pass.
    ///
    /// One images: entry (name, newName, digest) per gated repository.
    #[arg(
        long,
        env = "INSPECTOR_GATE_KUSTOMIZE_IMAGES",
        value_name = "FILE",
        help_heading = "Approval and hand-off"
    )]
    pub kustomize_images: Option<PathBuf>,
    /// Write Helm values (image.repository/digest), on pass.
    ///
    /// image.repository and image.digest of the gated image.
    #[arg(
        long,
        env = "INSPECTOR_GATE_HELM_VALUES",
        value_name = "FILE",
        help_heading = "Approval and hand-off"
    )]
    pub helm_values: Option<PathBuf>,
    /// Registry endpoint instead of ECR's proxyEndpoint (proxies, tests).
    #[arg(
        long,
        env = "INSPECTOR_GATE_REGISTRY_URL",
        value_name = "URL",
        help_heading = "Image and push"
    )]
    pub registry_url: Option<String>,
    /// Sign the decision and store it next to each image.
    ///
    /// An in-toto statement in a DSSE envelope (cosign's attestation format), signed with
    /// awskms:///alias/NAME, awskms:///arn:… or file:KEY.pem (unencrypted PKCS#8 P-256). A
    /// failing verdict is attested too.
    #[arg(
        long,
        env = "INSPECTOR_GATE_ATTEST",
        value_name = "KEY",
        help_heading = "Approval and hand-off"
    )]
    pub attest: Option<String>,
    /// Send registry credentials over http:// to a remote host.
    ///
    /// Plain http:// to a non-loopback host is refused without it.
    #[arg(
        long,
        env = "INSPECTOR_GATE_INSECURE_REGISTRY",
        help_heading = "Image and push"
    )]
    pub insecure_registry: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Check every local input and print the plan; push, wait and approve nothing.
    #[arg(long, help_heading = "Output")]
    pub dry_run: bool,
}

impl GateArgs {
    /// The Kubernetes hand-off, its manifests read and parsed by the preflight: a broken one
    /// fails before anything is pushed or waited for.
    fn k8s_options(&self, manifests: Vec<handoff::k8s::Manifest>) -> Result<handoff::k8s::Options> {
        let out_dir = match (&self.k8s_out, self.k8s_in_place, manifests.is_empty()) {
            (None, false, false) => {
                return Err(Error::usage(
                    "--k8s-manifests needs --k8s-out DIR (pinned copies) or --k8s-in-place",
                ))
            }
            (Some(_), _, true) | (None, true, true) => {
                return Err(Error::usage(
                    "--k8s-out / --k8s-in-place only make sense with --k8s-manifests PATH…",
                ))
            }
            (dir, _, _) => dir.clone(),
        };
        Ok(handoff::k8s::Options {
            manifests,
            out_dir,
            kustomize_images: self.kustomize_images.clone(),
            helm_values: self.helm_values.clone(),
        })
    }

    /// The `--policy-floor` when it lives in SSM or S3 (not a local file).
    fn remote_floor(&self) -> Option<&str> {
        let spec = self.policy.policy_floor.as_deref()?;
        match spec.parse::<FloorSource>() {
            Ok(FloorSource::File(_)) => None,
            _ => Some(spec),
        }
    }

    /// The AWS options of the run, the region taken from the images' registry host when
    /// they name one: the policy floor is read there too, before anything else.
    fn aws_options(&self) -> Result<inspector_gate::aws::AwsOptions> {
        let refs = self
            .images
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<ImageRef>>>()?;
        let mut aws: inspector_gate::aws::AwsOptions = (&self.aws).into();
        aws.region = region_for(&refs.iter().collect::<Vec<_>>(), aws.region.as_deref())?;
        Ok(aws)
    }

    /// Every local input read by its own parser (the preflight), then the arguments
    /// validated into the library's options: all of it before the policy is resolved (a
    /// floor in SSM or S3 is an AWS call), so bad input is exit 2 before any request.
    pub(crate) fn prepare(&self, color: bool) -> Result<Prepared> {
        let inputs = super::preflight::gate(self)?;
        if self.images.is_empty() {
            return Err(Error::usage(
                "no image to gate: pass --image <repo>:<tag> or --image <repo>@sha256:<digest> (or set INSPECTOR_GATE_IMAGE)",
            ));
        }
        let refs = inputs.refs;
        check_push_pairs(&self.push_from, &refs, &self.tags)?;
        if (self.image_definitions.is_some() || self.image_detail.is_some()) && refs.len() != 1 {
            return Err(Error::usage(
                "--image-definitions/--image-detail describe one image: give exactly one --image",
            ));
        }
        let k8s = self.k8s_options(inputs.manifests)?;
        let attest = inputs.attest_key.map(|key| AttestOptions {
            key,
            sources: Vec::new(),
            registry_url: self.registry_url.clone(),
            insecure_registry: self.insecure_registry,
        });
        let approval =
            match &self.approve {
                Some(a) => Some(ApprovalOptions {
                    target: ApprovalTarget::parse(a)?,
                    execution_id: self.pipeline_execution_id.clone(),
                    report_url: self.report_url.clone(),
                }),
                None if self.pipeline_execution_id.is_some() => return Err(Error::usage(
                    "--pipeline-execution-id only makes sense with --approve PIPELINE/STAGE/ACTION",
                )),
                None => None,
            };
        let push = inputs
            .push_sources
            .into_iter()
            .zip(&refs)
            .map(|(source, dest)| PushRequest {
                source,
                dest: dest.clone(),
                extra_tags: self.tags.clone(),
                registry_url: self.registry_url.clone(),
                insecure_registry: self.insecure_registry,
            })
            .collect();
        let aws = self.aws_options()?;
        Ok(Prepared(GateOptions {
            images: refs,
            push,
            // Replaced by `Prepared::with_policy`, the only way out of a `Prepared`.
            policy: Policy::default(),
            wait: self.wait.options(),
            on_timeout: self.wait.on_timeout.into(),
            publish: self.output.options(color),
            handoff: HandoffOptions {
                image_definitions: self
                    .image_definitions
                    .clone()
                    .zip(self.container_name.clone()),
                image_detail: self.image_detail.clone(),
                k8s,
            },
            approval,
            aws,
            soft_fail: self.soft_fail,
            baseline: self
                .baseline
                .as_ref()
                .filter(|b| !b.trim().is_empty())
                .map(|b| BaselineOptions {
                    source: b.trim().to_string(),
                    optional: self.baseline_optional,
                }),
            attest,
        }))
    }
}

/// The gate's options with everything but the policy: [`GateArgs::prepare`]'s result, whose
/// only way out is [`Prepared::with_policy`] (its placeholder policy never runs a gate).
pub(crate) struct Prepared(GateOptions);

impl Prepared {
    /// The options of the run under the resolved `policy` (whose origins an attestation names).
    pub(crate) fn with_policy(
        self,
        policy: Policy,
        sources: Vec<(String, String, String)>,
    ) -> GateOptions {
        let mut opts = self.0;
        opts.policy = policy;
        if let Some(a) = &mut opts.attest {
            a.sources = sources;
        }
        opts
    }
}

pub fn run(args: GateArgs, progress: &Progress, color: bool) -> Result<i32> {
    // Every local input first: a wrong path is exit 2 before any AWS call.
    // The references first: a malformed one is its own error, whatever else is wrong.
    for r in &args.images {
        r.parse::<ImageRef>()?;
    }
    let prepared = args.prepare(color)?;
    // A dry run calls no AWS API: a floor in SSM or S3 is named, not read.
    let mut policy_args = args.policy.clone();
    if args.dry_run && args.remote_floor().is_some() {
        policy_args.policy_floor = None;
    }
    let aws = args.aws_options()?;
    let timeout = args.wait.timeout;
    super::block_on(async move {
        let resolved = super::resolve_policy(&policy_args, &aws, timeout).await?;
        if args.soft_fail && !resolved.allow_soft_fail {
            return Err(Error::usage(
                "--soft-fail is forbidden by the policy floor (allow-soft-fail = false): remove --soft-fail / INSPECTOR_GATE_SOFT_FAIL",
            ));
        }
        let sources = resolved
            .origins
            .iter()
            .map(|(k, v, s)| (k.clone(), v.clone(), s.to_string()))
            .collect();
        let opts = prepared.with_policy(resolved.policy, sources);
        if args.dry_run {
            super::preflight::print_plan(&args, &opts).await?;
            if let Some(f) = args.remote_floor() {
                println!(
                    "policy floor: {f} (not read in a dry run: the policy above is without it)"
                );
            }
            return Ok(EXIT_PASS);
        }
        pipeline::run(&opts, progress).await
    })
}

/// `--push-from` and `--image` pair in order: each source goes to the destination in the same
/// place. `--tag` tags pushed images only, and with several pushes it must not name two
/// images of one repository (a tag names one image; the second push would move it).
fn check_push_pairs(push_from: &[String], refs: &[ImageRef], tags: &[String]) -> Result<()> {
    if push_from.is_empty() {
        if !tags.is_empty() {
            return Err(Error::usage(
                "--tag adds tags to a pushed image: it needs --push-from",
            ));
        }
        return Ok(());
    }
    if push_from.len() != refs.len() {
        return Err(Error::usage(format!(
            "{} --push-from and {} --image: each --push-from is pushed to the --image in the same place, so give one destination per source",
            push_from.len(),
            refs.len()
        )));
    }
    let mut seen: Vec<&ImageRef> = Vec::new();
    for r in refs {
        if let Some(prev) = seen.iter().find(|p| {
            (&p.registry, &p.region, &p.repository) == (&r.registry, &r.region, &r.repository)
        }) {
            if prev.target == r.target {
                return Err(Error::usage(format!(
                    "two --push-from go to {r}: give each pushed image its own destination"
                )));
            }
            if !tags.is_empty() {
                return Err(Error::usage(format!(
                    "--tag with two --push-from into {}: a tag names one image of a repository, so the second push would move it; tag them in separate runs",
                    r.repository
                )));
            }
        }
        seen.push(r);
    }
    Ok(())
}
