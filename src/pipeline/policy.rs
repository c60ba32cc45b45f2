//! Resolving a run's effective policy: find and load the policy file, fetch the CI owner's
//! floor (a file, SSM Parameter Store or S3), and layer them with the settings the binary
//! read from env and flags (`policy::file::resolve_with`). Runs on the command's one async
//! runtime. Reads the OpenVEX documents each layer's `vex` key names (before the floor is
//! fetched). Prints each place a layer tried to loosen the floor, and the built-in default
//! when no layer sets a threshold, on stderr.

use crate::aws::{floor, AwsOptions};
use crate::error::Result;
use crate::policy::file::{self, Floor, FloorSource, PolicyLayer, Resolved, Source};
use crate::policy::BUILTIN_FAIL_ON;
use std::path::PathBuf;
use time::Date;
use tokio::time::Instant;

/// What a run's policy is made of, before anything is read.
#[derive(Debug, Clone)]
pub struct PolicyRequest {
    /// `--policy FILE` (it must exist); otherwise `.inspector-gate.toml` in `dir`, if present.
    pub file: Option<PathBuf>,
    /// Where the default policy file is looked for (the working directory).
    pub dir: PathBuf,
    /// `--policy-floor`: a TOML file, `ssm:/parameter/name` or `s3://bucket/key`.
    pub floor: Option<String>,
    /// The keys set by env variables and flags, one layer each, in increasing precedence.
    pub layers: Vec<(PolicyLayer, Source)>,
    /// Caps ignore expiries (`max-ignore-days`).
    pub today: Date,
}

/// The line printed when no layer sets a threshold.
pub fn builtin_default_notice() -> String {
    format!(
        "policy: built-in default (fail-on {BUILTIN_FAIL_ON}) — run `inspector-gate init` to choose your own"
    )
}

/// Read and parse the floor `spec` names (a TOML file, `ssm:/name` or `s3://bucket/key`).
/// The read is retried under `deadline`.
pub async fn load_floor(spec: &str, aws: &AwsOptions, deadline: Instant) -> Result<Floor> {
    let source: FloorSource = spec.parse()?;
    let text = floor::fetch(&source, aws, deadline).await?;
    file::parse_floor(&text, &source.to_string())
}

/// Resolve the effective policy: defaults < floor < file < env < flags, per key, each key
/// the floor governs held at the floor's bound. The local file is read before the floor is
/// fetched, so a broken file is refused without a network call. The floor is read under
/// `deadline` in `aws`'s region (the caller takes it from the image host first).
pub async fn resolve(req: &PolicyRequest, aws: &AwsOptions, deadline: Instant) -> Result<Resolved> {
    let mut layers = Vec::with_capacity(req.layers.len() + 1);
    if let Some(path) = file::locate(req.file.as_deref(), &req.dir)? {
        let mut layer = file::load(&path)?;
        // The policy file's VEX paths are the file's: relative to its directory.
        let dir = path
            .parent()
            .map_or_else(|| req.dir.clone(), |d| req.dir.join(d));
        file::load_vex(&mut layer, &dir)?;
        layers.push((layer, Source::File(path)));
    }
    for (layer, src) in &req.layers {
        let mut layer = layer.clone();
        file::load_vex(&mut layer, &req.dir)?;
        layers.push((layer, src.clone()));
    }
    let floor = match req.floor.as_deref() {
        Some(spec) => {
            let mut floor = load_floor(spec, aws, deadline).await?;
            file::load_vex(&mut floor.layer, &req.dir)?;
            Some(floor)
        }
        None => None,
    };
    let resolved = file::resolve_with(floor.as_ref(), &layers, req.today)?;
    for w in &resolved.warnings {
        eprintln!("warning: {}", crate::sanitize::text(w));
    }
    if resolved.builtin_default {
        eprintln!("{}", builtin_default_notice());
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + floor::FLOOR_BUDGET
    }

    fn req(dir: &std::path::Path) -> PolicyRequest {
        PolicyRequest {
            file: None,
            dir: dir.to_path_buf(),
            floor: None,
            layers: Vec::new(),
            today: time::macros::date!(2026 - 11 - 28),
        }
    }

    #[tokio::test]
    async fn the_file_in_the_directory_and_a_floor_file_are_layered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".inspector-gate.toml"),
            "max-critical = 9\n",
        )
        .unwrap();
        let floor = dir.path().join("floor.toml");
        std::fs::write(&floor, "max-critical = 1\nsuppressed = \"honor\"\n").unwrap();
        let mut r = req(dir.path());
        let r0 = resolve(&r, &AwsOptions::default(), far()).await.unwrap();
        assert_eq!(r0.policy.max.values().copied().collect::<Vec<_>>(), [9]);
        r.floor = Some(floor.display().to_string());
        let r1 = resolve(&r, &AwsOptions::default(), far()).await.unwrap();
        assert_eq!(r1.policy.max.values().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(r1.policy.suppressed, crate::policy::Suppressed::Honor);
        assert_eq!(r1.warnings.len(), 1, "{:?}", r1.warnings);
    }

    #[tokio::test]
    async fn a_missing_explicit_file_or_a_bad_floor_spec_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = req(dir.path());
        r.file = Some(dir.path().join("nope.toml"));
        let e = resolve(&r, &AwsOptions::default(), far())
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let mut r = req(dir.path());
        r.floor = Some("s3://bucket-only".into());
        let e = resolve(&r, &AwsOptions::default(), far())
            .await
            .unwrap_err();
        assert!(e.message.contains("needs a bucket and a key"), "{e}");
        // No file, no floor, no flags: the built-in default.
        let r = resolve(&req(dir.path()), &AwsOptions::default(), far())
            .await
            .unwrap();
        assert!(r.builtin_default);
    }
}
