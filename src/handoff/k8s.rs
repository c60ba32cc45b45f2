//! The Kubernetes / EKS hand-off: every container image of a gated repository in the user's
//! manifests pinned to `<repository-uri>@sha256:…`, a kustomize `images:` entry, and Helm
//! values — so the cluster runs exactly the digest that was gated, never a moved tag.
//!
//! Manifests are edited as text, in place, at the span of each `image:` scalar (found by a
//! YAML parser with source positions): comments, key order, quoting and layout stay as the
//! user wrote them, and every other image and document is byte-for-byte unchanged. Reading
//! and parsing happen before the gate runs ([`load`]), so a broken manifest fails at once
//! (exit 2), not after the scan; the rewrite itself ([`rewrite`]) is pure.

use crate::error::{Error, Result};
use crate::model::ScannedImage;
use saphyr::{LoadableYamlNode, MarkedYaml, YamlData};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The workload kinds whose pod template is rewritten, and where their pod spec is.
const POD_SPEC_PATHS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

/// The container lists of a pod spec.
const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// One gated repository and the reference the deploy must use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// `<acct>.dkr.ecr.<region>.<suffix>/<repo>`: what an `image:` must name to be pinned.
    pub name: String,
    /// `sha256:…`: the index digest for multi-arch images, else the manifest's.
    pub digest: String,
}

impl Pin {
    /// `<name>@sha256:…`
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.name, self.digest)
    }
}

/// The pins of the gated images: one per repository. Two digests for one repository (two
/// `--image` of the same repository) cannot both be handed off: a usage error.
pub fn pins(images: &[&ScannedImage]) -> Result<Vec<Pin>> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for img in images {
        let name = img.repository_uri();
        let digest = img.deploy_digest().to_string();
        match by_name.get(&name) {
            Some(d) if *d != digest => {
                return Err(Error::usage(format!(
                    "the Kubernetes hand-off pins one digest per repository, but {name} was gated as {d} and {digest}: gate one image per repository"
                )))
            }
            _ => {
                by_name.insert(name, digest);
            }
        }
    }
    Ok(by_name
        .into_iter()
        .map(|(name, digest)| Pin { name, digest })
        .collect())
}

/// The repository part of an image reference: without `@digest` and without `:tag` (a `:`
/// before the last `/` is a registry port, not a tag).
pub fn image_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].find(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    }
}

/// A manifest file, read and parsed before the gate runs.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub text: String,
}

/// What `--k8s-manifests` asks for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The manifests, already read (and checked to parse).
    pub manifests: Vec<Manifest>,
    /// `--k8s-out DIR` (each file keeps its name), or `None` with `--k8s-in-place`.
    pub out_dir: Option<PathBuf>,
    /// `--kustomize-images FILE`.
    pub kustomize_images: Option<PathBuf>,
    /// `--helm-values FILE`.
    pub helm_values: Option<PathBuf>,
}

impl Options {
    pub fn is_empty(&self) -> bool {
        self.manifests.is_empty() && self.kustomize_images.is_none() && self.helm_values.is_none()
    }
}

/// Read `paths` (files, or directories whose `*.yaml` / `*.yml` files are taken in name
/// order) and check that each parses as YAML. Two files of the same name cannot go to one
/// `--k8s-out` directory.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Manifest>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    Error::usage(format!(
                        "--k8s-manifests {}: {}",
                        p.display(),
                        crate::error::io_cause(&e)
                    ))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(Error::usage(format!(
                    "--k8s-manifests {}: the directory holds no .yaml or .yml file",
                    p.display()
                )));
            }
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    let mut names = BTreeMap::new();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::usage(format!(
                "--k8s-manifests {}: {}",
                path.display(),
                crate::error::io_cause(&e)
            ))
        })?;
        parse(&text, &path.display().to_string())?;
        let name = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        if let Some(first) = names.insert(name, path.clone()) {
            return Err(Error::usage(format!(
                "--k8s-manifests: {} and {} have the same file name, and each keeps its name in --k8s-out: rename one",
                first.display(),
                path.display()
            )));
        }
        out.push(Manifest { path, text });
    }
    Ok(out)
}

fn parse<'a>(text: &'a str, file: &str) -> Result<Vec<MarkedYaml<'a>>> {
    MarkedYaml::load_from_str(text).map_err(|e| {
        Error::usage(format!(
            "{file}:{}:{}: not valid YAML: {}",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        ))
    })
}

/// One `image:` that was pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub line: usize,
    pub from: String,
    pub to: String,
}

/// A manifest after [`rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub text: String,
    pub replaced: Vec<Replaced>,
    /// `file:line: …` of a value naming a gated repository that is not a container image of
    /// a workload kind (a custom resource, a ConfigMap): left as it is, and said.
    pub warnings: Vec<String>,
}

/// An edit of the text: the characters `start..end` become `with`.
struct Edit {
    start: usize,
    end: usize,
    with: String,
}

/// Pin every container image of `pins`' repositories in `text` (the manifest `file`).
pub fn rewrite(text: &str, file: &str, pins: &[Pin]) -> Result<Rewritten> {
    let docs = parse(text, file)?;
    let chars: Vec<char> = text.chars().collect();
    let mut edits = Vec::new();
    let mut replaced = Vec::new();
    for doc in &docs {
        workload(doc, &chars, file, pins, &mut edits, &mut replaced)?;
    }
    let mut warnings = Vec::new();
    let edited: Vec<usize> = edits.iter().map(|e| e.start).collect();
    for doc in &docs {
        stray(doc, file, pins, &edited, &mut warnings);
    }
    Ok(Rewritten {
        text: apply(&chars, edits),
        replaced,
        warnings,
    })
}

fn get<'a, 'b>(node: &'b MarkedYaml<'a>, key: &str) -> Option<&'b MarkedYaml<'a>> {
    match &node.data {
        YamlData::Mapping(m) => m
            .iter()
            .find(|(k, _)| k.data.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The edits for one document: a workload's pod spec, or each item of a `List`.
fn workload(
    doc: &MarkedYaml<'_>,
    chars: &[char],
    file: &str,
    pins: &[Pin],
    edits: &mut Vec<Edit>,
    replaced: &mut Vec<Replaced>,
) -> Result<()> {
    let Some(kind) = get(doc, "kind").and_then(|k| k.data.as_str()) else {
        return Ok(());
    };
    if kind == "List" {
        if let Some(YamlData::Sequence(items)) = get(doc, "items").map(|i| &i.data) {
            for item in items {
                workload(item, chars, file, pins, edits, replaced)?;
            }
        }
        return Ok(());
    }
    let Some((_, path)) = POD_SPEC_PATHS.iter().find(|(k, _)| *k == kind) else {
        return Ok(());
    };
    let Some(spec) = path.iter().try_fold(doc, |n, k| get(n, k)) else {
        return Ok(());
    };
    for list in CONTAINER_LISTS {
        let Some(YamlData::Sequence(containers)) = get(spec, list).map(|c| &c.data) else {
            continue;
        };
        for image in containers.iter().filter_map(|c| get(c, "image")) {
            let Some(value) = image.data.as_str() else {
                continue;
            };
            let Some(pin) = pins
                .iter()
                .find(|p| image_name(value).eq_ignore_ascii_case(&p.name))
            else {
                continue;
            };
            let (start, end) = (image.span.start.index(), image.span.end.index());
            let source: String = chars.get(start..end).unwrap_or_default().iter().collect();
            let line = image.span.start.line();
            let with = match source.chars().next() {
                Some(q @ ('"' | '\'')) => format!("{q}{}{q}", pin.pinned()),
                Some('&' | '*' | '!') => {
                    return Err(Error::usage(format!(
                        "{file}:{line}: the image {value} is written with a YAML anchor, alias or tag ({source}): write it out in each container so it can be pinned alone"
                    )))
                }
                Some('|' | '>') => {
                    return Err(Error::usage(format!(
                        "{file}:{line}: the image {value} is a block scalar: write it on the image: line"
                    )))
                }
                _ => pin.pinned(),
            };
            replaced.push(Replaced {
                line,
                from: value.to_string(),
                to: pin.pinned(),
            });
            edits.push(Edit { start, end, with });
        }
    }
    Ok(())
}

/// Values naming a gated repository that no edit pinned: said, never changed.
fn stray(node: &MarkedYaml<'_>, file: &str, pins: &[Pin], edited: &[usize], out: &mut Vec<String>) {
    match &node.data {
        YamlData::Mapping(m) => {
            for (k, v) in m {
                stray(k, file, pins, edited, out);
                stray(v, file, pins, edited, out);
            }
        }
        YamlData::Sequence(s) => s.iter().for_each(|v| stray(v, file, pins, edited, out)),
        _ => {
            let Some(value) = node.data.as_str() else {
                return;
            };
            let named = pins
                .iter()
                .any(|p| image_name(value.trim()).eq_ignore_ascii_case(&p.name));
            if named && !edited.contains(&node.span.start.index()) {
                out.push(format!(
                    "{file}:{}: {value} names a gated repository but is not a container image of a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob: left as it is",
                    node.span.start.line()
                ));
            }
        }
    }
}

fn apply(chars: &[char], mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(chars.len() + edits.len() * 80);
    let mut at = 0;
    for e in edits {
        out.extend(&chars[at..e.start]);
        out.push_str(&e.with);
        at = e.end;
    }
    out.extend(&chars[at..]);
    out
}

/// A kustomize Component with one `images:` entry per pin (`name`, `newName`, `digest`):
/// include it from the overlay's `components:`, and kustomize pins every image named so.
pub fn kustomize_component(pins: &[Pin]) -> String {
    let mut s = String::from(
        "# Written by inspector-gate on pass: the gated digest of each repository. Include this\n# directory from your kustomization's `components:`.\napiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n",
    );
    for p in pins {
        s.push_str(&format!(
            "  - name: {}\n    newName: {}\n    digest: {}\n",
            p.name, p.name, p.digest
        ));
    }
    s
}

/// Helm values: `image.repository` and `image.digest` (one gated repository).
pub fn helm_values(pins: &[Pin]) -> Result<String> {
    match pins {
        [p] => Ok(format!(
            "# Written by inspector-gate on pass: the gated digest.\nimage:\n  repository: {}\n  digest: {}\n",
            p.name, p.digest
        )),
        _ => Err(Error::usage(format!(
            "--helm-values writes one image.repository, but {} repositories were gated: gate one image",
            pins.len()
        ))),
    }
}

/// What [`write`] did, for the progress log.
#[derive(Debug, Default)]
pub struct Written {
    /// `file:line: from → to`, one per pinned image.
    pub pinned: Vec<String>,
    pub warnings: Vec<String>,
}

/// Write every Kubernetes hand-off file for the gated `images` (called on pass only).
pub fn write(opts: &Options, images: &[&ScannedImage]) -> Result<Written> {
    let mut done = Written::default();
    if opts.is_empty() {
        return Ok(done);
    }
    let pins = pins(images)?;
    let mut outputs = Vec::new();
    let mut pinned = 0;
    for m in &opts.manifests {
        let file = m.path.display().to_string();
        let r = rewrite(&m.text, &file, &pins)?;
        pinned += r.replaced.len();
        for rep in &r.replaced {
            done.pinned
                .push(format!("{file}:{}: {} → {}", rep.line, rep.from, rep.to));
        }
        done.warnings.extend(r.warnings);
        let dest = match &opts.out_dir {
            Some(dir) => dir.join(m.path.file_name().unwrap_or_default()),
            None => m.path.clone(),
        };
        outputs.push((dest, r.text));
    }
    if !opts.manifests.is_empty() && pinned == 0 {
        let names: Vec<&str> = pins.iter().map(|p| p.name.as_str()).collect();
        return Err(Error::usage(format!(
            "--k8s-manifests: no container image in the manifests names a gated repository ({}), so nothing would be pinned: name the image as <repository-uri>[:tag] in the workload",
            names.join(", ")
        )));
    }
    // Every file's text is made before the first is written: a refusal leaves none half-done.
    if let Some(path) = &opts.kustomize_images {
        outputs.push((path.clone(), kustomize_component(&pins)));
    }
    if let Some(path) = &opts.helm_values {
        outputs.push((path.clone(), helm_values(&pins)?));
    }
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::runtime(format!("cannot create --k8s-out {}: {e}", dir.display()))
        })?;
    }
    for (dest, text) in outputs {
        crate::file::write(&dest, &text)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web";
    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn pin() -> Vec<Pin> {
        vec![Pin {
            name: URI.into(),
            digest: D.into(),
        }]
    }

    #[test]
    fn image_names_drop_tag_and_digest_but_keep_a_port() {
        assert_eq!(image_name("a/b:v1"), "a/b");
        assert_eq!(image_name("a/b@sha256:00"), "a/b");
        assert_eq!(image_name("a/b:v1@sha256:00"), "a/b");
        assert_eq!(image_name("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(image_name("127.0.0.1:5000/a/b:v2"), "127.0.0.1:5000/a/b");
        assert_eq!(image_name("nginx"), "nginx");
    }

    #[test]
    fn every_container_list_of_every_workload_kind_is_pinned_and_nothing_else_changes() {
        let text = format!(
            r#"# top comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep me
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: "{URI}:v1"
      containers:
        - name: web
          image: {URI}:v1 # the app
        - name: sidecar
          image: public.ecr.aws/nginx/nginx:1.27
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{{name: job, image: '{URI}@sha256:0000'}}]
---
kind: Pod
spec:
  ephemeralContainers:
  - name: debug
    image: {URI}
---
kind: ConfigMap
data:
  image: {URI}:v1
"#
        );
        let r = rewrite(&text, "m.yaml", &pin()).unwrap();
        assert_eq!(r.replaced.len(), 4, "{r:?}");
        let pinned = format!("{URI}@{D}");
        let expected = text
            .replace(&format!("\"{URI}:v1\""), &format!("\"{pinned}\""))
            .replace(&format!("image: {URI}:v1 #"), &format!("image: {pinned} #"))
            .replace(&format!("'{URI}@sha256:0000'"), &format!("'{pinned}'"))
            .replace(
                &format!("image: {URI}\n---"),
                &format!("image: {pinned}\n---"),
            );
        assert_eq!(r.text, expected);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].starts_with("m.yaml:35:"), "{:?}", r.warnings);
    }

    #[test]
    fn non_ascii_text_before_an_image_keeps_its_offsets() {
        let text = format!("# é ü 日本\nkind: Pod\nspec:\n  containers:\n  - image: {URI}:v1\n");
        let r = rewrite(&text, "m.yaml", &pin()).unwrap();
        assert_eq!(r.text, text.replace(":v1", &format!("@{D}")));
    }

    #[test]
    fn anchors_are_refused_and_bad_yaml_names_its_line() {
        let text = format!("kind: Pod\nspec:\n  containers:\n  - image: &i {URI}:v1\n");
        let e = rewrite(&text, "m.yaml", &pin()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("m.yaml:4"), "{}", e.message);
        let e = rewrite("kind: Pod\nspec: [\n", "bad.yaml", &pin()).unwrap_err();
        assert!(e.message.starts_with("bad.yaml:"), "{}", e.message);
    }

    #[test]
    fn pins_are_one_per_repository_at_the_deploy_digest() {
        let img = |d: &str, idx: Option<&str>| ScannedImage {
            registry: "123456789012".into(),
            region: "eu-west-1".into(),
            repository: "app/web".into(),
            digest: d.into(),
            platform: None,
            requested: "app/web:v1".into(),
            index_digest: idx.map(str::to_string),
            registry_host: None,
        };
        let (a, b) = (img("sha256:a", Some(D)), img("sha256:b", Some(D)));
        assert_eq!(pins(&[&a, &b]).unwrap(), pin());
        let c = img("sha256:c", None);
        assert_eq!(pins(&[&a, &c]).unwrap_err().exit_code(), 2);
        assert!(kustomize_component(&pin()).contains(&format!("digest: {D}")));
        assert!(helm_values(&[]).is_err());
    }
}
