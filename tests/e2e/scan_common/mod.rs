//! Helpers shared by the scan tests: the peers they need (checked loudly, never skipped), a
//! cache of expensive trees (a Debian root filesystem from mmdebstrap, pip and npm installs)
//! under the cargo target dir, and writers for the image formats the scan reads (OCI layout,
//! OCI archive, docker-archive), built from real layer tars.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where built trees are kept between runs (`target/tmp/scan-cache`).
pub fn cache_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan-cache");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run `f` (check a cache entry, build it if missing) while holding the cache's lock named
/// `name`: nextest runs each test in its own process, and two of them building the same entry
/// would race. The lock is a directory (mkdir is atomic), released on return or panic; a wait
/// is bounded.
pub fn locked<T>(name: &str, f: impl FnOnce() -> T) -> T {
    struct Guard(PathBuf);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let lock = cache_dir().join(format!("{name}.lock"));
    let start = std::time::Instant::now();
    while std::fs::create_dir(&lock).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(900),
            "waited 15 minutes for {}: remove it if no test is running",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _guard = Guard(lock);
    f()
}

/// Fail (not skip) when a peer tool is missing, naming how to get it.
pub fn require(tool: &str, hint: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "the scan tests need `{tool}` as a real peer: {hint} (scripts/setup installs it)"
    );
}

/// Run a command, panicking with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A minimal Debian bookworm root filesystem as a tar, built once by mmdebstrap (as root,
/// from Debian's package registry) and kept in the cache.
pub fn debian_tar() -> PathBuf {
    locked("debian-tar", debian_tar_unlocked)
}

fn debian_tar_unlocked() -> PathBuf {
    let tar = cache_dir().join("debian-bookworm-minbase.tar");
    if !tar.exists() {
        require("mmdebstrap", "apt-get install mmdebstrap");
        // Tests run as separate processes: each builds under its own name and the rename
        // (atomic) lets the last one win with the same content.
        let partial = tar.with_extension(format!("partial-{}", std::process::id()));
        run(Command::new("mmdebstrap")
            .args([
                "--variant=minbase",
                "--mode=root",
                "--format=tar",
                "bookworm",
            ])
            .arg(&partial));
        std::fs::rename(&partial, &tar).unwrap();
    }
    tar
}

/// The same tree unpacked (the oracle, dpkg-query, reads its database from it).
pub fn debian_tree() -> PathBuf {
    locked("debian-tree", debian_tree_unlocked)
}

fn debian_tree_unlocked() -> PathBuf {
    let dir = cache_dir().join("debian-bookworm-minbase");
    if !dir.join("var/lib/dpkg/status").exists() {
        let tar = debian_tar();
        let partial = cache_dir().join(format!(
            "debian-bookworm-minbase.partial-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).unwrap();
        run(Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&partial)
            .args(["--exclude=./dev/*", "--no-same-owner"]));
        // Another test process may have finished first: then its tree is the same one.
        if std::fs::rename(&partial, &dir).is_err() {
            assert!(
                dir.join("var/lib/dpkg/status").exists(),
                "cannot place {}",
                dir.display()
            );
            let _ = std::fs::remove_dir_all(&partial);
        }
    }
    dir
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A layer tar from (path, content) pairs; `None` content makes a directory.
pub fn layer_tar(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, name, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, name, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A layer as written into an image: tar bytes built by the test (compressed here when
/// `gzip`), or a large blob file already on disk (copied, hashed by `sha256sum`: debug-built
/// hashing and compression of a 170 MB root filesystem would dominate the test's time).
pub enum Layer {
    Tar {
        tar: Vec<u8>,
        gzip: bool,
    },
    File {
        blob: PathBuf,
        gzip: bool,
        diff_id: String,
    },
}

/// `sha256:<hex>` of a file, by coreutils.
pub fn sha256_file(p: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(p));
    format!("sha256:{}", out.split_whitespace().next().unwrap())
}

/// The Debian root filesystem as a gzip layer (`gzip -1`, cached) or as a plain tar layer.
pub fn debian_layer(gzip: bool) -> Layer {
    let tar = debian_tar();
    let diff_id = sha256_file(&tar);
    if !gzip {
        return Layer::File {
            blob: tar,
            gzip,
            diff_id,
        };
    }
    let gz = tar.with_extension("tar.gz");
    locked("debian-gz", || {
        if !gz.exists() {
            let partial = tar.with_extension("gz.partial");
            let out = std::fs::File::create(&partial).unwrap();
            let st = Command::new("gzip")
                .arg("-1")
                .arg("-c")
                .arg(&tar)
                .stdout(out)
                .status()
                .unwrap();
            assert!(st.success(), "gzip failed");
            std::fs::rename(&partial, &gz).unwrap();
        }
    });
    Layer::File {
        blob: gz,
        gzip,
        diff_id,
    }
}

/// Write an OCI image layout with one image (one manifest per platform when several are
/// given) into `dir`. Returns the layout directory.
pub fn oci_layout(dir: &Path, platforms: &[(&str, &str, &[Layer])]) -> PathBuf {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let h = sha256_hex(bytes);
        std::fs::write(dir.join("blobs/sha256").join(&h), bytes).unwrap();
        (format!("sha256:{h}"), bytes.len())
    };
    let mut manifests = Vec::new();
    for (os, arch, layers) in platforms {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for l in layers.iter() {
            let (d, size, gz) = match l {
                Layer::Tar { tar, gzip } => {
                    diff_ids.push(format!("sha256:{}", sha256_hex(tar)));
                    let blob = if *gzip { self::gzip(tar) } else { tar.clone() };
                    let (d, s) = put(&blob);
                    (d, s as u64, *gzip)
                }
                Layer::File {
                    blob,
                    gzip,
                    diff_id,
                } => {
                    diff_ids.push(diff_id.clone());
                    let d = sha256_file(blob);
                    std::fs::copy(blob, dir.join("blobs/sha256").join(&d[7..])).unwrap();
                    (d, std::fs::metadata(blob).unwrap().len(), *gzip)
                }
            };
            let media = if gz {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.oci.image.layer.v1.tar"
            };
            descs.push(serde_json::json!({"mediaType": media, "digest": d, "size": size}));
        }
        let config = serde_json::json!({"architecture": arch, "os": os,
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}});
        let (cd, cs) = put(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs});
        let (md, ms) = put(&serde_json::to_vec(&manifest).unwrap());
        manifests.push(
            serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ms, "platform": {"os": os, "architecture": arch}}),
        );
    }
    let root = if manifests.len() == 1 {
        let mut m = manifests.pop().unwrap();
        m.as_object_mut().unwrap().remove("platform");
        m["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "latest"});
        m
    } else {
        let index = serde_json::json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        let (d, s) = put(&serde_json::to_vec(&index).unwrap());
        serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s,
            "annotations": {"org.opencontainers.image.ref.name": "latest"}})
    };
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [root]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    dir.to_path_buf()
}

/// A tar of a directory's contents (an `oci-archive:` from an OCI layout).
pub fn tar_dir(dir: &Path, out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

/// What `docker save` writes: manifest.json, the config, one `<id>/layer.tar` per layer
/// (each a plain tar file on disk).
pub fn docker_archive(out: &Path, arch: &str, layers: &[PathBuf]) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    let mut names = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let id = sha256_file(l);
        let name = format!("{}/layer.tar", &id[7..]);
        b.append_path_with_name(l, &name).unwrap();
        names.push(name);
        diff_ids.push(id);
    }
    let config = serde_json::to_vec(&serde_json::json!({"architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}))
    .unwrap();
    let cname = format!("{}.json", sha256_hex(&config));
    let mut h = tar::Header::new_gnu();
    h.set_size(config.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, &cname, &config[..]).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([{"Config": cname,
        "RepoTags": ["test:1"], "Layers": names}]))
    .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", &manifest[..])
        .unwrap();
    b.finish().unwrap();
}

/// A purl's qualifier value (`arch`, `distro`, `epoch`).
pub fn qualifier<'a>(purl: &'a str, key: &str) -> Option<&'a str> {
    purl.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

/// One entry of a layer written byte for byte ([`raw_layer_tar`]): what `tar::Builder`
/// refuses to write (`..`, non-UTF-8 names) is exactly what images carry and runtimes unpack.
pub enum RawEntry<'a> {
    File(&'a [u8], &'a [u8]),
    Dir(&'a [u8]),
    Symlink(&'a [u8], &'a [u8]),
    Hardlink(&'a [u8], &'a [u8]),
}

/// A layer tar of GNU headers with raw names (at most 100 bytes each).
pub fn raw_layer_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (name, data, kind, link, mode): (&[u8], &[u8], _, &[u8], u32) = match e {
            RawEntry::File(n, d) => (n, d, tar::EntryType::Regular, b"", 0o644),
            RawEntry::Dir(n) => (n, b"", tar::EntryType::Directory, b"", 0o755),
            RawEntry::Symlink(n, t) => (n, b"", tar::EntryType::Symlink, t, 0o777),
            RawEntry::Hardlink(n, t) => (n, b"", tar::EntryType::Link, t, 0o644),
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        gnu.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

/// Unpack the layout's `latest` image with umoci (rootless): the root filesystem a runtime
/// would see, the oracle for names, links and whiteouts.
pub fn umoci_unpack(layout: &Path, out: &Path) -> PathBuf {
    require("umoci", "apt-get install umoci");
    run(Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", layout.display()))
        .arg(out));
    out.to_path_buf()
}
