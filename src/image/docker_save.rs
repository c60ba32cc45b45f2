//! `docker save` archives (`docker-archive:`), and `docker:` images exported into one with the
//! docker CLI. Such an archive has no manifest: its `manifest.json` names one config and the
//! layers (plain tars, sometimes gzip), tied to the config's `rootfs.diff_ids`.

use super::archive::TarIndex;
use super::blob::{Digest, FileRange};
use super::layout::{config_platform, missing};
use super::{Compression, DockerImage, DockerLayer, ImageTree, Root, MAX_CONFIG, MAX_MANIFEST};
use crate::error::Error;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// One entry of a `docker save` archive's `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DockerSaveEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

/// The part of an image config that ties layers to their uncompressed digests.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// Read the archive `path`: its one image, every layer present and named by a valid diff id.
pub(super) fn load(path: &Path, temp: Option<tempfile::TempDir>) -> Result<ImageTree, Error> {
    let idx = TarIndex::open(path)?;
    let where_ = format!("docker archive {}", path.display());
    let entry = the_one_image(&idx, &where_)?;
    let config = idx
        .locate(&entry.config)?
        .ok_or_else(|| missing(&where_, &format!("the image config {}", entry.config)))?;
    let config_bytes = config.read_small(MAX_CONFIG, "the image config")?;
    let config_digest = Digest::of(&config_bytes);
    let parsed: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        Error::runtime(format!(
            "the image config in {where_} is not valid json: {e}"
        ))
    })?;
    let diff_ids = parsed.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(Error::runtime(format!(
            "{where_} lists {} layers but its image config has {} diff_ids: the archive is corrupt",
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (i, (name, diff_id)) in entry.layers.iter().zip(&diff_ids).enumerate() {
        let diff_id = Digest::parse(
            diff_id,
            &format!("the image config's rootfs.diff_ids in {where_}"),
        )?;
        let range = idx
            .locate(name)?
            .ok_or_else(|| missing(&where_, &format!("layer {} ({name})", i + 1)))?;
        let compression = sniff(&range)?;
        layers.push(DockerLayer {
            diff_id,
            range,
            compression,
        });
    }
    let mut blobs = BTreeMap::new();
    blobs.insert(config_digest.clone(), config.clone());
    Ok(ImageTree {
        what: where_,
        root: Root::Docker(DockerImage {
            config_size: config.len,
            config,
            config_digest,
            platform: config_platform(&config_bytes),
            layers,
        }),
        blobs,
        _temp: temp,
    })
}

/// The single image entry of the archive's `manifest.json` (one image per archive).
fn the_one_image(idx: &TarIndex, where_: &str) -> Result<DockerSaveEntry, Error> {
    let Some(list) = idx.locate("manifest.json")? else {
        let hint = if idx.locate("index.json")?.is_some() {
            " (it looks like an OCI archive: use oci-archive:)"
        } else {
            ""
        };
        return Err(Error::runtime(format!(
            "{where_} has no manifest.json, so it is not a docker save archive{hint}"
        )));
    };
    let entries: Vec<DockerSaveEntry> =
        serde_json::from_slice(&list.read_small(MAX_MANIFEST, "manifest.json")?)
            .map_err(|e| Error::runtime(format!("manifest.json in {where_} is not valid: {e}")))?;
    match entries.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::runtime(format!("{where_} holds no image"))),
        many => {
            let tags: Vec<String> = many
                .iter()
                .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
                .collect();
            Err(Error::usage(format!(
                "{where_} holds {} images ({}): save one image per archive (docker save IMAGE)",
                many.len(),
                tags.join(", ")
            )))
        }
    }
}

fn sniff(range: &FileRange) -> Result<Compression, Error> {
    let mut head = [0u8; 4];
    let n = range
        .open()
        .and_then(|mut r| r.read(&mut head))
        .map_err(|e| {
            Error::runtime(format!(
                "cannot read a layer from {}: {e}",
                range.path.display()
            ))
        })?;
    Ok(Compression::sniff(&head[..n]))
}

/// How often a running `docker save` is asked whether the run must stop: a stopped run's
/// child is killed within this.
const POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// `docker save` `image` into `file` with `program` (the docker CLI; a parameter so tests can
/// put a script in its place without touching the process-wide PATH). `stopped` is asked
/// while it runs: once it gives the run's stop error, the child is killed and reaped (so a
/// stopped run leaves no `docker save` behind) and that error is returned.
pub(super) fn export(
    program: &Path,
    image: &str,
    file: &Path,
    stopped: &dyn Fn() -> Option<Error>,
) -> Result<(), Error> {
    let mut child = std::process::Command::new(program)
        .arg("save")
        .arg("-o")
        .arg(file)
        .arg("--")
        .arg(image)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::runtime(
                "the docker CLI is not on PATH: install it, or export the image elsewhere (docker save -o image.tar IMAGE) and use docker-archive:image.tar",
            ),
            _ => Error::runtime(format!("cannot run docker save: {e}")),
        })?;
    // Its stderr is drained beside the wait (a full pipe would block it), up to a bound.
    let mut pipe = child.stderr.take();
    let drain = std::thread::spawn(move || {
        let mut err = Vec::new();
        if let Some(p) = pipe.as_mut() {
            let _ = p.take(64 << 10).read_to_end(&mut err);
            let _ = std::io::copy(p, &mut std::io::sink());
        }
        err
    });
    let status = loop {
        if let Some(e) = stopped() {
            // Killed and reaped: nothing of the export outlives the run.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::runtime(format!("cannot wait for docker save: {e}")));
            }
        }
    };
    let stderr = drain.join().unwrap_or_default();
    if !status.success() {
        let stderr = String::from_utf8_lossy(&stderr);
        let why = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no error output");
        return Err(Error::runtime(format!(
            "docker save {image} failed ({status}): {why}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[cfg(unix)]
    fn fake_docker(dir: &Path, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("docker");
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[cfg(unix)]
    #[test]
    fn docker_save_runs_the_cli_with_safe_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let docker = fake_docker(
            dir.path(),
            r#"[ "$1" = save ] && [ "$2" = -o ] && [ "$4" = -- ] && [ "$5" = app:1 ] || { echo "bad args: $*" >&2; exit 2; }
printf saved > "$3""#,
        );
        let out = dir.path().join("image.tar");
        export(&docker, "app:1", &out, &|| None).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"saved");
    }

    /// Once the run must stop, the child is killed and reaped at once (its PID is gone when
    /// export returns), and the stop's error is the answer.
    #[cfg(unix)]
    #[test]
    fn a_stopped_export_kills_and_reaps_docker_save() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let docker = fake_docker(
            dir.path(),
            &format!(
                "echo $$ > {0}.partial; mv {0}.partial {0}; exec sleep 600",
                pidfile.display()
            ),
        );
        let t = std::time::Instant::now();
        let err = export(&docker, "app:1", &dir.path().join("x.tar"), &|| {
            (pidfile.exists() || t.elapsed() > std::time::Duration::from_secs(20))
                .then(|| Error::inconclusive("stopped"))
        })
        .unwrap_err();
        assert_eq!(err.message, "stopped");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "docker save {pid} is still there"
        );
    }

    #[cfg(unix)]
    #[test]
    fn docker_save_failures_name_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let docker = fake_docker(
            dir.path(),
            "echo 'Error response from daemon: reference does not exist' >&2; exit 1",
        );
        let err = export(&docker, "app:1", &dir.path().join("x.tar"), &|| None).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.message.contains("docker save app:1 failed"), "{err}");
        assert!(err.message.contains("reference does not exist"), "{err}");

        let missing = dir.path().join("no-such-docker");
        let err = export(&missing, "app:1", &dir.path().join("x.tar"), &|| None).unwrap_err();
        assert!(err.message.contains("docker CLI is not on PATH"), "{err}");
    }
}
