//! A gated image as the deploy stage finds it: moto (ECR auth, scanning configuration), the
//! real Debian registry (holding the image pushed by `gate --push-from`, as ECR would) and
//! the scripted Inspector2 serving the image's findings. Used by the hand-off and attestation
//! tests, which all start from "the gate ran on this digest".

use super::aws as a;
use super::findings::now;
use super::fixtures::{self, Layout};
use super::moto::Moto;
use super::registry::Registry;
use super::scenario::{DigestScript, Scenario, ScenarioState};
use serde_json::Value;
use std::path::Path;

/// moto's `GetAuthorizationToken` password: the registry takes it as ECR would.
pub const ECR_PASSWORD: &str = "123456789012-auth-token";
pub const REPO: &str = "team/app";
/// The repository URI the gate pins (moto's proxy endpoint names account and region).
pub const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app";

pub struct Gated {
    pub moto: Moto,
    pub registry: Registry,
    pub scen: Scenario,
    pub dir: tempfile::TempDir,
    pub layout: Layout,
}

/// The script of a scan that finished a minute ago with `findings`.
pub fn scanned(findings: Vec<Value>) -> DigestScript {
    super::findings::scanned(now() - 60, findings)
}

impl Gated {
    /// The peers, and a single-arch image (seed `seed`) in an OCI layout, not pushed yet;
    /// Inspector will report `findings` for it.
    pub fn start(seed: u64, findings: Vec<Value>) -> Gated {
        let moto = Moto::start();
        a::create_repo(&moto.url, REPO);
        a::enhanced_scanning(&moto.url, "team/*");
        let registry = Registry::start_as("AWS", ECR_PASSWORD);
        let dir = tempfile::tempdir().unwrap();
        let layout = fixtures::single_arch(&dir.path().join("oci"), "v1", seed, &[4_000]);
        let scen = Scenario::start(ScenarioState::default());
        let g = Gated {
            moto,
            registry,
            scen,
            dir,
            layout,
        };
        g.findings(findings);
        g
    }

    pub fn digest(&self) -> &str {
        &self.layout.digest
    }

    /// From now on Inspector reports `findings` for the image.
    pub fn findings(&self, findings: Vec<Value>) {
        let d = self.layout.digest.clone();
        self.scen
            .state
            .lock()
            .unwrap()
            .images
            .insert(d, scanned(findings));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `inspector-gate <args>` against the peers, in the temp dir.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        super::world::run_at(&self.moto.url, &self.scen.url, args, env, self.dir.path())
    }

    /// `gate --push-from` the image to the registry, plus `extra` arguments.
    pub fn gate(&self, extra: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let push_from = self.layout.spec();
        let image = format!("{REPO}:v1");
        let url = self.registry.url();
        let mut args = vec![
            "gate",
            "--push-from",
            &push_from,
            "--image",
            &image,
            "--registry-url",
            &url,
            "--timeout",
            "60s",
        ];
        args.extend_from_slice(super::world::FAST);
        args.extend_from_slice(extra);
        self.run(&args, env)
    }
}
