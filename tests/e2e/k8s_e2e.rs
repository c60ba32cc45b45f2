//! The Kubernetes / EKS hand-off end to end: the real binary gates an image pushed to the real
//! registry, then pins it in the user's manifests. Checked by outside consumers: PyYAML reads
//! the rewritten manifests as the same documents with only the gated `image:` values changed,
//! and `kubectl kustomize` renders the kustomization through our Component with
//! `repo@sha256:<digest>`.

use crate::support;

use std::path::Path;
use std::process::Command;
use support::gated::{Gated, URI};
use support::registry::run_bounded;
use support::scenario::finding;

/// A Deployment (comments, an init container, a sidecar of another repository), a CronJob in
/// flow style, a Service and a ConfigMap naming the image (not a container: left alone).
fn manifests(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        format!(
            r#"# The web tier. Comments stay where they are.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # inline comment
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      initContainers:
        - name: migrate
          image: "{URI}:v1"
          args: ["migrate"]
      containers:
        - name: web
          image: {URI}:v1   # pinned by the gate
        - name: proxy
          image: public.ecr.aws/nginx/nginx:1.27
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: notes}}
data:
  image: {URI}:v1
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("cron.yml"),
        format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: nightly}}\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: job, image: '{URI}:v1'}}]\n"
        ),
    )
    .unwrap();
}

/// PyYAML: every document of `rewritten` equals its document in `original` once each gated
/// container image (a Pod template's containers, initContainers, ephemeralContainers) is set
/// to `pinned`; prints the number of images it expected to change.
const SAME_DOCUMENTS: &str = r#"
import sys, yaml
orig, new, uri, pinned = sys.argv[1:5]
a = list(yaml.safe_load_all(open(orig)))
b = list(yaml.safe_load_all(open(new)))
assert len(a) == len(b), (len(a), len(b))
PATHS = {"Pod": ["spec"], "Deployment": ["spec", "template", "spec"],
         "StatefulSet": ["spec", "template", "spec"], "DaemonSet": ["spec", "template", "spec"],
         "ReplicaSet": ["spec", "template", "spec"], "Job": ["spec", "template", "spec"],
         "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"]}
changed = 0
for doc in a:
    path = PATHS.get((doc or {}).get("kind"))
    if not path:
        continue
    spec = doc
    for k in path:
        spec = spec[k]
    for lst in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(lst, []):
            name = c["image"].split("@")[0]
            if name.rsplit("/", 1)[-1].count(":"):
                name = name.rsplit(":", 1)[0]
            if name == uri:
                c["image"] = pinned
                changed += 1
assert a == b, "documents differ beyond the pinned images"
print(changed)
"#;

fn python(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(support::moto::venv_bin("python"));
    cmd.args(args);
    let out = run_bounded(&mut cmd, std::time::Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_passing_gate_pins_the_gated_repository_in_manifests_kustomize_and_helm() {
    let g = Gated::start(71, vec![]);
    let src = g.path().join("k8s");
    manifests(&src);
    let out = g.path().join("pinned");
    let kdir = g.path().join("overlay");
    std::fs::create_dir_all(kdir.join("gate")).unwrap();
    let (k8s, out_s) = (src.display().to_string(), out.display().to_string());
    let kust = kdir.join("gate/kustomization.yaml").display().to_string();
    let helm = g.path().join("values.yaml").display().to_string();
    let (code, stdout, stderr) = g.gate(
        &[
            "--k8s-manifests",
            &k8s,
            "--k8s-out",
            &out_s,
            "--kustomize-images",
            &kust,
            "--helm-values",
            &helm,
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let pinned = format!("{URI}@{}", g.digest());
    assert!(
        stderr.contains("names a gated repository but is not a container image"),
        "{stderr}"
    );

    // The files keep their names; comments and untouched images are byte-for-byte there.
    let app = std::fs::read_to_string(out.join("app.yaml")).unwrap();
    assert!(app.contains("# The web tier. Comments stay where they are."));
    assert!(
        app.contains(&format!("image: {pinned}   # pinned by the gate")),
        "{app}"
    );
    assert!(app.contains(&format!("image: \"{pinned}\"")), "{app}");
    assert!(app.contains("image: public.ecr.aws/nginx/nginx:1.27"));
    assert!(
        app.contains(&format!("  image: {URI}:v1\n")),
        "the ConfigMap is left alone"
    );
    let cron = std::fs::read_to_string(out.join("cron.yml")).unwrap();
    assert!(cron.contains(&format!("image: '{pinned}'")), "{cron}");
    for (name, expected) in [("app.yaml", "2"), ("cron.yml", "1")] {
        let (o, n) = (src.join(name), out.join(name));
        let (c, so, se) = python(&[
            "-c",
            SAME_DOCUMENTS,
            &o.display().to_string(),
            &n.display().to_string(),
            URI,
            &pinned,
        ]);
        assert_eq!((c, so.trim()), (0, expected), "{name}: {se}");
    }
    // The sources themselves are untouched without --k8s-in-place.
    assert!(std::fs::read_to_string(src.join("app.yaml"))
        .unwrap()
        .contains(&format!("image: {URI}:v1   #")));

    // kubectl kustomize renders a base naming the tag through the Component: pinned.
    std::fs::write(
        kdir.join("kustomization.yaml"),
        "resources: [deploy.yaml]\ncomponents: [gate]\n",
    )
    .unwrap();
    std::fs::copy(src.join("app.yaml"), kdir.join("deploy.yaml")).unwrap();
    let mut kubectl = Command::new("kubectl");
    kubectl.args(["kustomize", &kdir.display().to_string()]);
    let r = run_bounded(&mut kubectl, std::time::Duration::from_secs(60));
    let rendered = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(
        rendered.matches(&format!("image: {pinned}")).count(),
        2,
        "{rendered}"
    );
    assert!(
        !rendered.contains(&format!("{URI}:v1\n        name")),
        "{rendered}"
    );

    // Helm values: image.repository and image.digest, read by PyYAML.
    let (c, so, se) = python(&[
        "-c",
        "import sys, yaml; v = yaml.safe_load(open(sys.argv[1]))['image']; print(v['repository'] + '@' + v['digest'])",
        &helm,
    ]);
    assert_eq!((c, so.trim()), (0, pinned.as_str()), "{se}");
}

#[test]
fn a_failing_gate_writes_no_manifest_and_a_broken_one_fails_before_the_scan() {
    let g = Gated::start(72, vec![]);
    g.findings(vec![finding(
        "CVE-2024-0001",
        "CRITICAL",
        "openssl",
        "3.0.1",
        Some("3.0.13"),
        g.digest(),
        support::gated::REPO,
    )]);
    let src = g.path().join("k8s");
    manifests(&src);
    let out = g.path().join("pinned");
    let (k8s, out_s) = (src.display().to_string(), out.display().to_string());
    let (code, stdout, stderr) = g.gate(&["--k8s-manifests", &k8s, "--k8s-out", &out_s], &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(!out.exists(), "a failing gate handed off");

    std::fs::write(src.join("broken.yaml"), "kind: Pod\nspec: [\n").unwrap();
    let reads = g.scen.calls("ListFindings");
    let (code, _, stderr) = g.gate(&["--k8s-manifests", &k8s, "--k8s-in-place"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("broken.yaml:"), "{stderr}");
    assert_eq!(
        g.scen.calls("ListFindings"),
        reads,
        "the broken manifest was found only after a scan"
    );
}

#[test]
fn in_place_pins_the_file_itself_and_no_gated_image_is_a_usage_error() {
    let g = Gated::start(73, vec![]);
    let src = g.path().join("k8s");
    manifests(&src);
    let file = src.join("cron.yml").display().to_string();
    let (code, stdout, stderr) = g.gate(&["--k8s-manifests", &file, "--k8s-in-place"], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let cron = std::fs::read_to_string(&file).unwrap();
    assert!(cron.contains(&format!("'{URI}@{}'", g.digest())), "{cron}");

    let other = g.path().join("other.yaml");
    std::fs::write(
        &other,
        "kind: Pod\nspec:\n  containers:\n  - image: public.ecr.aws/nginx/nginx:1.27\n",
    )
    .unwrap();
    let before = std::fs::read_to_string(&other).unwrap();
    let o = other.display().to_string();
    let (code, _, stderr) = g.gate(&["--k8s-manifests", &o, "--k8s-in-place"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing would be pinned"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), before);
}
