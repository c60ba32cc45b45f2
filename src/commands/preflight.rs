//! The preflight (binary only): every local input a command reads and every local place it
//! writes, checked before any AWS call, so a wrong path is exit 2 naming that path — not a
//! credentials or network error found after minutes of pushing and waiting. Every command
//! runs its checks first; `gate --dry-run` then prints the plan: region and where it came
//! from, account, credential source, what is gated, what would be written, and the IAM
//! actions the flags need (from `inspector_gate::iam`). A dry run makes no AWS request.

use super::args::PolicyArgs;
use super::gate::GateArgs;
use inspector_gate::approval::ApprovalTarget;
use inspector_gate::attest::key::KeyRef;
use inspector_gate::error::{io_cause, Error, Result};
use inspector_gate::handoff;
use inspector_gate::iam::Plan;
use inspector_gate::image::SourceSpec;
use inspector_gate::image_ref::{region_for, ImageRef};
use inspector_gate::pipeline::baseline::Source;
use inspector_gate::policy::file::FloorSource;
use inspector_gate::scan::layers::ScanSource;
use std::path::{Path, PathBuf};

/// The problems found so far; [`Local::finish`] makes them one exit-2 error.
#[derive(Default)]
pub struct Local {
    problems: Vec<String>,
}

impl Local {
    fn bad(&mut self, p: String) {
        self.problems.push(inspector_gate::sanitize::text(&p));
    }

    /// A file the command reads (`-`: standard input).
    pub fn read_file(&mut self, flag: &str, path: &Path) {
        if path == Path::new("-") {
            return;
        }
        if let Err(why) = readable_file(path) {
            self.bad(format!("{flag} {}: {why}", path.display()));
        }
    }

    /// An image source of `push` / `gate --push-from`, parsed (once: the caller uses it).
    pub fn source(&mut self, flag: &str, spec: &str) -> Option<SourceSpec> {
        let parsed: SourceSpec = match spec.parse() {
            Ok(s) => s,
            Err(e) => {
                self.bad(format!("{flag}: {}", e.message));
                return None;
            }
        };
        if let Err(why) = source_problem(&parsed) {
            self.bad(format!("{flag} {spec}: {why}"));
        }
        Some(parsed)
    }

    /// A `scan --from` source (an image source, or `dir:ROOTFS`), parsed by `ScanSource`.
    pub fn scan_source(&mut self, flag: &str, spec: &str) -> Option<ScanSource> {
        let parsed: ScanSource = match spec.parse() {
            Ok(s) => s,
            Err(e) => {
                self.bad(format!("{flag}: {}", e.message));
                return None;
            }
        };
        let problem = match &parsed {
            ScanSource::Dir(root) => directory(root, "a root filesystem directory"),
            ScanSource::Image(s) => source_problem(s),
        };
        if let Err(why) = problem {
            self.bad(format!("{flag} {spec}: {why}"));
        }
        Some(parsed)
    }

    /// A directory the command creates (if needed) and writes files into.
    pub fn out_dir(&mut self, flag: &str, dir: &Path) {
        if let Err(why) = writable_dir(dir) {
            self.bad(format!("{flag} {}: {why}", dir.display()));
        }
    }

    /// A file the command writes (its directory must exist).
    pub fn out_file(&mut self, flag: &str, path: &Path) {
        if path.is_dir() {
            return self.bad(format!(
                "{flag} {}: is a directory, not a file",
                path.display()
            ));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let why = match directory(parent, "a directory") {
            Ok(()) => probe(parent).err(),
            Err(why) => Some(why),
        };
        if let Some(why) = why {
            self.bad(format!("{flag} {}: {why}", path.display()));
        }
    }

    /// `--k8s-manifests`, read and parsed by the hand-off's own loader (once: the caller
    /// keeps the manifests).
    pub fn k8s_manifests(&mut self, paths: &[PathBuf]) -> Vec<handoff::k8s::Manifest> {
        handoff::k8s::load(paths).unwrap_or_else(|e| {
            self.bad(e.message);
            Vec::new()
        })
    }

    /// `--policy FILE`, each `--vex FILE` and a `--policy-floor` that is a local file.
    pub fn policy(&mut self, p: &PolicyArgs) {
        if let Some(f) = &p.policy {
            self.read_file("--policy", f);
        }
        for (layer, _) in &p.layers {
            if let Some(inspector_gate::policy::keys::Value::List(files)) = layer.get("vex") {
                files
                    .iter()
                    .for_each(|f| self.read_file("--vex", Path::new(f)));
            }
        }
        if let Some(spec) = p.policy_floor.as_deref() {
            self.floor(spec);
        }
    }

    /// A `--policy-floor` that is a local file (SSM and S3 are read later, from AWS).
    pub fn floor(&mut self, spec: &str) {
        match spec.parse::<FloorSource>() {
            Ok(FloorSource::File(f)) => self.read_file("--policy-floor", &f),
            Ok(_) => {}
            Err(e) => self.bad(e.message),
        }
    }

    /// A verifying key, parsed by `KeyRef` (a local `file:KEY.pem` must be readable).
    pub fn key(&mut self, flag: &str, key: &str) -> Option<KeyRef> {
        match key.parse::<KeyRef>() {
            Ok(k) => {
                if let KeyRef::File(f) = &k {
                    self.read_file(flag, f);
                }
                Some(k)
            }
            Err(e) => {
                self.bad(format!("{flag}: {}", e.message));
                None
            }
        }
    }

    /// A signing key: a local one is read and parsed now (a bad key fails before the scan is
    /// waited for).
    pub fn signing_key(&mut self, flag: &str, key: &str) -> Option<KeyRef> {
        let before = self.problems.len();
        let k = self.key(flag, key)?;
        if let (KeyRef::File(f), true) = (&k, self.problems.len() == before) {
            if let Err(e) = inspector_gate::attest::key::signing_key_from_file(f) {
                self.bad(format!("{flag}: {}", e.message));
            }
        }
        Some(k)
    }

    /// One exit-2 error naming every problem, or Ok.
    pub fn finish(self) -> Result<()> {
        match self.problems.len() {
            0 => Ok(()),
            1 => Err(Error::usage(self.problems[0].clone())),
            n => Err(Error::usage(format!(
                "{n} local inputs cannot be used (nothing was sent to AWS):"
            ))
            .with_details(self.problems)),
        }
    }
}

fn readable_file(path: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| io_cause(&e))?;
    if meta.is_dir() {
        return Err("is a directory, not a file".into());
    }
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| format!("cannot be read ({})", io_cause(&e)))
}

fn directory(path: &Path, what: &str) -> std::result::Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("is a file, not {what}")),
        Err(e) => Err(format!("{} (expected {what})", io_cause(&e))),
    }
}

/// Whether the directory takes a new file (a probe file, created and removed at once).
fn probe(dir: &Path) -> std::result::Result<(), String> {
    tempfile::Builder::new()
        .prefix(".inspector-gate-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("cannot write in {} ({})", dir.display(), io_cause(&e)))
}

/// A directory that exists and is writable, or can be created (its nearest existing
/// ancestor is a writable directory).
fn writable_dir(dir: &Path) -> std::result::Result<(), String> {
    let mut d = dir.to_path_buf();
    loop {
        match std::fs::metadata(&d) {
            Ok(m) if m.is_dir() => return probe(&d),
            Ok(_) if d == dir => return Err("is a file, not a directory".into()),
            Ok(_) => return Err(format!("{} is a file, not a directory", d.display())),
            Err(_) => match d.parent() {
                Some(p) if !p.as_os_str().is_empty() => d = p.to_path_buf(),
                _ => d = PathBuf::from("."),
            },
        }
    }
}

fn source_problem(spec: &SourceSpec) -> std::result::Result<(), String> {
    match spec {
        SourceSpec::OciDir { dir, .. } => match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(format!(
                "{} is not a directory (for a tar of an OCI layout use oci-archive:{})",
                dir.display(),
                dir.display()
            )),
            Err(e) => Err(format!(
                "the OCI layout directory {} {}",
                dir.display(),
                io_cause(&e)
            )),
        },
        SourceSpec::OciArchive(f) | SourceSpec::DockerArchive(f) if f.is_dir() => Err(format!(
            "the archive {} is a directory, not a tar file (for an OCI layout directory use oci:{})",
            f.display(),
            f.display()
        )),
        SourceSpec::OciArchive(f) | SourceSpec::DockerArchive(f) => {
            readable_file(f).map_err(|why| format!("the archive {} {why}", f.display()))
        }
        SourceSpec::Docker(_) => match on_path("docker") {
            true => Ok(()),
            false => Err("needs the docker CLI, and no `docker` is on PATH: `docker save -o image.tar NAME` where docker runs, then pass docker-archive:image.tar".into()),
        },
    }
}

/// Whether `cmd` is on PATH, as the OS would find it (`docker.exe` on Windows).
fn on_path(cmd: &str) -> bool {
    let file = format!("{cmd}{}", std::env::consts::EXE_SUFFIX);
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(&file).is_file()))
}

/// What `gate`'s local inputs were read into, each by its own parser, once.
pub struct GateInputs {
    pub refs: Vec<ImageRef>,
    /// One per `--push-from`, in order (each to the `--image` in the same place).
    pub push_sources: Vec<SourceSpec>,
    pub manifests: Vec<handoff::k8s::Manifest>,
    pub attest_key: Option<KeyRef>,
}

/// The local inputs of `gate`: every problem in one exit-2 error, before any AWS call.
/// (`iam-policy` takes the same flags but reads no file: it prints what they would need.)
pub fn gate(args: &GateArgs) -> Result<GateInputs> {
    let refs = args
        .images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<ImageRef>>>()?;
    let mut l = Local::default();
    let push_sources = args
        .push_from
        .iter()
        .filter_map(|src| l.source("--push-from", src))
        .collect();
    l.policy(&args.policy);
    if let Some(d) = &args.output.report_dir {
        l.out_dir("--report-dir", d);
    }
    if let Some(f) = &args.image_definitions {
        l.out_file("--image-definitions", f);
    }
    if let Some(f) = &args.image_detail {
        l.out_file("--image-detail", f);
    }
    let manifests = l.k8s_manifests(&args.k8s_manifests);
    if let Some(d) = &args.k8s_out {
        l.out_dir("--k8s-out", d);
    }
    if let Some(f) = &args.kustomize_images {
        l.out_file("--kustomize-images", f);
    }
    if let Some(f) = &args.helm_values {
        l.out_file("--helm-values", f);
    }
    let attest_key = args
        .attest
        .as_deref()
        .filter(|k| !k.trim().is_empty())
        .and_then(|k| l.signing_key("--attest", k));
    match baseline(args) {
        Ok(Some(Source::Report(p))) => l.read_file("--baseline", &p),
        Ok(_) => {}
        Err(e) => l.bad(e.message),
    }
    l.finish()?;
    Ok(GateInputs {
        refs,
        push_sources,
        manifests,
        attest_key,
    })
}

/// Where the run's region comes from, without any request: the image's registry host or
/// `--region` (what the gate sets on the SDK's loader), else the SDK's own default region
/// chain as aws_config resolves it — its environment provider, then its profile file
/// provider. The chain's last link, the EC2 instance metadata, is not asked (a request).
pub async fn region_source(
    refs: &[ImageRef],
    flag: Option<&str>,
    profile: Option<&str>,
) -> Result<(Option<String>, String)> {
    use aws_config::meta::region::ProvideRegion;
    let named = region_for(&refs.iter().collect::<Vec<_>>(), None)?;
    if let Some(r) = region_for(&refs.iter().collect::<Vec<_>>(), flag)? {
        let from = if named.is_some() {
            "from the image's registry host".to_string()
        } else {
            "from --region / INSPECTOR_GATE_REGION".to_string()
        };
        return Ok((Some(r), from));
    }
    if let Some(r) = aws_config::environment::region::EnvironmentVariableRegionProvider::new()
        .region()
        .await
    {
        // The provider reads AWS_REGION, then AWS_DEFAULT_REGION: name the one it took.
        let var = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find(|v| std::env::var(v).ok().as_deref() == Some(r.as_ref()))
            .unwrap_or("the environment");
        return Ok((Some(r.to_string()), format!("from {var}")));
    }
    let mut provider = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = profile {
        provider = provider.profile_name(p);
    }
    if let Some(r) = provider.build().region().await {
        let name = profiles(profile)
            .await
            .map(|s| s.selected_profile().to_string())
            .unwrap_or_else(|| profile.unwrap_or("default").to_string());
        return Ok((
            Some(r.to_string()),
            format!("from profile {name} in the AWS config file"),
        ));
    }
    Ok((
        None,
        "none found: pass --region, set AWS_REGION, or name the registry host in --image (on EC2 the instance metadata may still supply one)".into(),
    ))
}

/// The AWS config and credentials files as the SDK loads them (aws_config::profile::load),
/// with `profile` (`--profile`) selected over AWS_PROFILE / `default`.
async fn profiles(profile: Option<&str>) -> Option<aws_config::profile::ProfileSet> {
    aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        // The default files (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/…).
        &Default::default(),
        profile.map(|p| std::borrow::Cow::Owned(p.to_string())),
    )
    .await
    .ok()
}

/// What the selected profile would answer credentials with, from its keys (no provider is
/// run: a role or SSO profile would make requests).
async fn profile_credentials(profile: Option<&str>) -> Option<String> {
    let set = profiles(profile).await?;
    let name = set.selected_profile();
    let p = set.get_profile(name)?;
    let how = if let Some(role) = p.get("role_arn") {
        format!("assumes {role}")
    } else if p.get("sso_session").is_some() || p.get("sso_start_url").is_some() {
        "IAM Identity Center (SSO)".to_string()
    } else if p.get("credential_process").is_some() {
        "credential_process".to_string()
    } else if p.get("web_identity_token_file").is_some() {
        "a web identity token file".to_string()
    } else if p.get("aws_access_key_id").is_some() {
        "access keys".to_string()
    } else {
        return None;
    };
    let via = match profile {
        Some(_) => "--profile",
        None if std::env::var_os("AWS_PROFILE").is_some() => "AWS_PROFILE",
        None => "the default profile",
    };
    Some(format!("profile {name} ({via}): {how}"))
}

/// Which source of the SDK's DefaultCredentialsChain will answer, in the chain's order
/// (aws_config's docs: environment variables, then the shared config profile, web identity
/// token, container credentials, EC2 instance metadata), without asking any that would make
/// a request. The environment comes first even with `--profile`, as in the SDK.
pub async fn credential_source(profile: Option<&str>, role_arn: Option<&str>) -> String {
    use aws_credential_types::provider::ProvideCredentials;
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    let env = aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new()
        .provide_credentials()
        .await
        .is_ok();
    let base = if env {
        let mut s = "environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)".to_string();
        if let Some(p) = profile {
            s.push_str(&format!(
                "; the SDK's chain takes them before profile {p} (--profile): unset them to use it"
            ));
        }
        s
    } else if let Some(p) = profile_credentials(profile).await {
        p
    } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") && set("AWS_ROLE_ARN") {
        "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE for AWS_ROLE_ARN, e.g. GitHub OIDC)".into()
    } else if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    {
        "container credentials (the ECS task or CodeBuild project role)".into()
    } else {
        "the EC2 instance role (no other source is configured; not asked in a dry run)".into()
    };
    match role_arn {
        Some(r) => format!("{base}, then sts:AssumeRole into {r}"),
        None => base,
    }
}

/// `--baseline SOURCE`, read as the gate reads it.
fn baseline(args: &GateArgs) -> Result<Option<Source>> {
    args.baseline
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .map(str::parse)
        .transpose()
}

/// What the gate's flags will call, for the IAM table (no request).
pub fn iam_plan(args: &GateArgs, region: Option<String>) -> Result<Plan> {
    let refs = args
        .images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<ImageRef>>>()?;
    let mut read = refs.clone();
    let baseline = baseline(args)?;
    if let Some(Source::Image(r)) = &baseline {
        read.push(r.clone());
    }
    let attest = args.attest.as_deref().filter(|k| !k.trim().is_empty());
    Ok(Plan {
        region,
        account: refs.iter().find_map(|r| r.registry.clone()),
        push: {
            let sources = args
                .push_from
                .iter()
                .map(|s| s.parse::<SourceSpec>())
                .collect::<Result<Vec<_>>>()?;
            if !sources.is_empty() && inspector_gate::pipeline::push::needs_aws() {
                refs.clone()
            } else {
                Vec::new()
            }
        },
        attest: if attest.is_some() {
            refs.clone()
        } else {
            Vec::new()
        },
        sign_key: attest.map(str::parse).transpose()?,
        approve: args
            .approve
            .as_deref()
            .map(ApprovalTarget::parse)
            .transpose()?,
        floor: args
            .policy
            .policy_floor
            .as_deref()
            .map(str::parse)
            .transpose()?,
        baseline_ecs: match baseline {
            Some(Source::Ecs(r)) => Some(r),
            _ => None,
        },
        role_arn: args.aws.role_arn.clone(),
        read,
        ..Plan::default()
    })
}

/// The dry run's plan, after the local checks passed and the policy was resolved.
pub async fn print_plan(
    args: &GateArgs,
    opts: &inspector_gate::pipeline::gate::GateOptions,
) -> Result<()> {
    println!("dry run: every local input checked; no AWS request is made, nothing is pushed, waited for or approved");
    let (region, from) = region_source(
        &opts.images,
        args.aws.region.as_deref(),
        args.aws.profile.as_deref(),
    )
    .await?;
    println!("region: {} ({from})", region.as_deref().unwrap_or("-"));
    match opts.images.iter().find_map(|r| r.registry.as_deref()) {
        Some(a) => println!("account: {a} (from the image's registry host)"),
        None => println!("account: the credentials' own (not looked up: a dry run makes no AWS request, not even sts:GetCallerIdentity)"),
    }
    println!(
        "credentials: {}",
        credential_source(args.aws.profile.as_deref(), args.aws.role_arn.as_deref()).await
    );
    for p in &opts.push {
        let tree = inspector_gate::image::open(&p.source)?;
        let platforms: Vec<String> = tree
            .runnable()?
            .iter()
            .map(|r| {
                r.platform
                    .clone()
                    .unwrap_or_else(|| "(no platform named)".into())
            })
            .collect();
        println!("push: {} → {}", p.source, p.dest);
        for t in &p.extra_tags {
            println!("  also tagged: {t}");
        }
        println!("gate: {} — platforms: {}", p.dest, platforms.join(", "));
    }
    if opts.push.is_empty() {
        for r in &opts.images {
            println!("gate: {r} — every runnable platform its manifest names (resolved from ECR when the gate runs)");
        }
    }
    println!(
        "policy: {}",
        opts.policy
            .thresholds_text()
            .unwrap_or_else(|| "no thresholds".into())
    );
    println!(
        "timeout: {} (on timeout: {})",
        inspector_gate::duration::humanize(opts.wait.timeout),
        match opts.on_timeout {
            inspector_gate::pipeline::gate::OnTimeout::Fail => "fail, exit 3",
            inspector_gate::pipeline::gate::OnTimeout::Pass => "pass, listed as not evaluated",
        }
    );
    println!(
        "api rate: {} requests/s per service, Inspector2, ECR and CodePipeline ({})",
        opts.aws
            .api_rate
            .unwrap_or(inspector_gate::aws::budget::DEFAULT_RATE),
        if opts.aws.api_rate.is_some() {
            "--api-rate / INSPECTOR_GATE_API_RATE"
        } else {
            "default"
        }
    );
    if let Some(d) = &opts.publish.report_dir {
        println!(
            "reports: {}/ (report.json, report.sarif, junit.xml, summary.md)",
            d.display().to_string().trim_end_matches('/')
        );
    }
    let h = &opts.handoff;
    let mut handoff = Vec::new();
    if let Some((f, name)) = &h.image_definitions {
        handoff.push(format!("{} (container {name})", f.display()));
    }
    if let Some(f) = &h.image_detail {
        handoff.push(f.display().to_string());
    }
    if !h.k8s.manifests.is_empty() {
        handoff.push(match &h.k8s.out_dir {
            Some(d) => format!(
                "{} Kubernetes manifest(s) pinned into {}",
                h.k8s.manifests.len(),
                d.display()
            ),
            None => format!(
                "{} Kubernetes manifest(s) pinned in place",
                h.k8s.manifests.len()
            ),
        });
    }
    if let Some(f) = &h.k8s.kustomize_images {
        handoff.push(format!("{} (kustomize images)", f.display()));
    }
    if let Some(f) = &h.k8s.helm_values {
        handoff.push(format!("{} (Helm values)", f.display()));
    }
    if handoff.is_empty() {
        println!("hand-off: none");
    } else {
        println!(
            "hand-off, written only when the gate passes: {}",
            handoff.join(", ")
        );
    }
    if let Some(a) = &opts.approval {
        println!("approve: {}", a.target);
    }
    if let Some(b) = &opts.baseline {
        println!("baseline: {}", b.source);
    }
    if let Some(a) = &opts.attest {
        println!("attest: {}", a.key);
    }
    let plan = iam_plan(args, region)?;
    println!("IAM actions these flags need (`inspector-gate iam-policy` with the same flags prints the policy):");
    for s in plan.statements() {
        let cond = if s.condition.is_some() {
            " (with a condition)"
        } else {
            ""
        };
        println!(
            "  {} on {}{cond}",
            s.actions.join(", "),
            s.resources.join(", ")
        );
    }
    for n in plan.notes() {
        println!("  note: {n}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_misplaced_inputs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.tar");
        std::fs::write(&file, "x").unwrap();
        let mut l = Local::default();
        l.source(
            "--push-from",
            &format!("oci:{}", dir.path().join("nope").display()),
        );
        l.source("--push-from", &format!("oci:{}", file.display()));
        l.source(
            "--push-from",
            &format!("docker-archive:{}", dir.path().display()),
        );
        l.read_file("--policy", &dir.path().join("p.toml"));
        l.read_file("--findings", Path::new("-"));
        l.out_file("--image-definitions", &dir.path().join("no/dir/x.json"));
        l.out_dir("--report-dir", &file.join("sub"));
        l.out_dir("--report-dir", &dir.path().join("new/reports"));
        l.floor("ssm:/x");
        let e = l.finish().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.starts_with("6 local inputs"), "{e}");
        let d = e.details.join("\n");
        for want in [
            "nope does not exist",
            "is not a directory (for a tar of an OCI layout use oci-archive:",
            "is a directory, not a tar file",
            "--policy ",
            "--image-definitions",
            "is a file, not a directory",
        ] {
            assert!(d.contains(want), "{want}:\n{d}");
        }
        assert!(
            !d.contains("--findings") && !d.contains("new/reports") && !d.contains("ssm"),
            "{d}"
        );
    }
}
