//! The local scan reads what a runtime would see, from the same verified image source the
//! push sends (issue 18 item 1, issue 20 "read what runtimes would see"): layers built from
//! real tars with the names, links and whiteouts images carry, checked against umoci's
//! unpacked root filesystem; the push's source rules applied to the scan; foreign layers
//! reported unread; a tar-header bomb refused with the process's peak RSS bounded.

use crate::scan_common::*;
use crate::support;

use inspector_gate::registry::{PushTarget, SourceSpec};
use inspector_gate::scan::layers::{self, ScanSource};
use inspector_gate::scan::{catalogue, Ecosystem, Inventory};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

fn one(spec: SourceSpec) -> Inventory {
    let mut invs = catalogue(&ScanSource::Image(spec)).unwrap();
    assert_eq!(invs.len(), 1);
    invs.pop().unwrap()
}

fn oci(dir: &Path) -> SourceSpec {
    SourceSpec::OciDir {
        dir: dir.to_path_buf(),
        reference: None,
    }
}

fn deb(name: &str) -> Vec<u8> {
    format!("Package: {name}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n")
        .into_bytes()
}

fn npm(name: &str) -> Vec<u8> {
    format!(r#"{{"name":"{name}","version":"1.0.0"}}"#).into_bytes()
}

fn names(inv: &Inventory, eco: Ecosystem) -> Vec<String> {
    let mut n: Vec<String> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == eco)
        .map(|p| p.name.clone())
        .collect();
    n.sort();
    n
}

/// Every case of issue 20's list, each hiding one package from the old reader, unpacked by
/// umoci and catalogued by the scan: the scan finds exactly the packages umoci's tree has.
#[test]
fn the_scan_sees_what_umoci_unpacks() {
    let tmp = tempfile::tempdir().unwrap();
    let (dotdot, hard, soft) = (deb("dotdot"), deb("hard"), deb("soft"));
    let apk = b"P:behind-a-link\nV:2.0-r0\nA:x86_64\n\n".to_vec();
    let (left, right) = (npm("left-pad"), npm("right-pad"));
    let l1 = raw_layer_tar(&[
        RawEntry::Dir(b"var/lib/dpkg/status.d"),
        // `..` in a name: runtimes clean it and stay inside the root.
        RawEntry::File(b"var/lib/../lib/dpkg/status.d/dotdot", &dotdot),
        // Targets a later layer links to, under names no cataloger asks for.
        RawEntry::File(b"opt/store/hard", &hard),
        RawEntry::File(b"opt/store/soft", &soft),
        RawEntry::File(b"opt/apkdb/db/installed", &apk),
        // Two directories whose names differ only in a byte that is not UTF-8.
        RawEntry::File(b"srv/d\xff/node_modules/left-pad/package.json", &left),
        RawEntry::File(b"srv/d\xfe/node_modules/right-pad/package.json", &right),
    ]);
    let l2 = raw_layer_tar(&[
        // A hard link to a file of the layer below.
        RawEntry::Hardlink(b"var/lib/dpkg/status.d/hard", b"opt/store/hard"),
        // A symlinked file (absolute: inside the root, never the host's /opt).
        RawEntry::Symlink(b"var/lib/dpkg/status.d/soft", b"/opt/store/soft"),
        // A symlinked parent directory over a package database.
        RawEntry::Dir(b"lib"),
        RawEntry::Symlink(b"lib/apk", b"../opt/apkdb"),
        // Whiting out one of the two directories must not hide the other.
        RawEntry::File(b"srv/.wh.d\xff", b""),
    ]);
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[(
            "linux",
            "amd64",
            &[
                Layer::Tar {
                    tar: l1,
                    gzip: true,
                },
                Layer::Tar {
                    tar: l2,
                    gzip: false,
                },
            ],
        )],
    );

    // The oracle: what a runtime unpacks.
    let rootfs = umoci_unpack(&layout, &tmp.path().join("rootfs"));
    let read = |p: &[u8]| std::fs::read(rootfs.join(std::ffi::OsStr::from_bytes(p))).ok();
    assert_eq!(
        read(b"var/lib/dpkg/status.d/dotdot").as_ref(),
        Some(&dotdot)
    );
    assert_eq!(read(b"var/lib/dpkg/status.d/hard").as_ref(), Some(&hard));
    // An absolute link resolves inside the root (the host's /opt is not the image's).
    let soft_link = rootfs.join("var/lib/dpkg/status.d/soft");
    assert_eq!(
        std::fs::read_link(&soft_link).unwrap(),
        Path::new("/opt/store/soft")
    );
    assert_eq!(read(b"opt/store/soft").as_ref(), Some(&soft));
    assert_eq!(read(b"lib/apk/db/installed").as_ref(), Some(&apk));
    assert_eq!(
        read(b"srv/d\xfe/node_modules/right-pad/package.json").as_ref(),
        Some(&right)
    );
    assert!(!rootfs
        .join(std::ffi::OsStr::from_bytes(b"srv/d\xff"))
        .exists());

    let inv = one(oci(&layout));
    assert_eq!(names(&inv, Ecosystem::Deb), ["dotdot", "hard", "soft"]);
    assert_eq!(names(&inv, Ecosystem::Apk), ["behind-a-link"]);
    assert_eq!(names(&inv, Ecosystem::Npm), ["right-pad"]);
    // The same through the other two formats the push reads.
    let archive = tmp.path().join("oci.tar");
    tar_dir(&layout, &archive);
    let from_archive = one(SourceSpec::OciArchive(archive));
    assert_eq!(from_archive.packages, inv.packages);
}

/// A foreign layer (`urls`, not in the layout) is named in the tree's `unread`, not skipped.
#[test]
fn a_foreign_layer_is_reported_as_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[(
            "linux",
            "amd64",
            &[Layer::Tar {
                tar: layer_tar(&[("etc/os-release", Some(b"ID=debian\n"))]),
                gzip: false,
            }],
        )],
    );
    // Add a foreign layer to the manifest: in the descriptor list, not in blobs/.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let old = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = |d: &str| layout.join("blobs/sha256").join(&d[7..]);
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&old)).unwrap()).unwrap();
    let foreign = format!("sha256:{}", "f".repeat(64));
    m["layers"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": foreign, "size": 1234, "urls": ["https://example.invalid/layer"]}));
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = format!("sha256:{}", sha256_hex(&bytes));
    std::fs::write(blob(&d), &bytes).unwrap();
    let mut index = index;
    index["manifests"][0]["digest"] = d.into();
    index["manifests"][0]["size"] = bytes.len().into();
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();

    let images = layers::images(&oci(&layout), &inspector_gate::scan::stop::Stop::none()).unwrap();
    let tree = layers::read_image(&images.images[0], &inspector_gate::scan::catalog::want).unwrap();
    assert!(tree.bytes("etc/os-release").is_some());
    assert_eq!(tree.unread.len(), 1, "{:?}", tree.unread);
    assert!(tree.unread[0].path.contains(&foreign), "{:?}", tree.unread);
}

/// The push's view of a source, with nothing listening where it would push: every case
/// below must fail on the source, so the registry is never reached.
fn push_error(spec: &SourceSpec) -> String {
    let target = PushTarget {
        base_url: format!("http://127.0.0.1:{}", support::moto::free_port())
            .parse()
            .unwrap(),
        repository: "team/app".into(),
        tags: vec!["v1".into()],
        auth: None,
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(30),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(inspector_gate::registry::push(
            spec,
            &target,
            &inspector_gate::progress::Progress::silent(),
        ))
        .unwrap_err();
    e.message
}

/// The scan used to accept what the push refused (upper-case hex, a manifest that does not
/// match its digest, a config of the wrong size, a FIFO as a blob, an ambiguous layout), so
/// `scan` could evaluate a different image than `push` would send. One source now: the scan
/// refuses each with the push's very message.
#[test]
fn the_scan_refuses_what_the_push_refuses_with_the_same_message() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        oci_layout(
            &tmp.path().join(name),
            &[(
                "linux",
                "amd64",
                &[Layer::Tar {
                    tar: layer_tar(&[("var/lib/dpkg/status", Some(&deb("a")))]),
                    gzip: false,
                }],
            )],
        )
    };
    let index = |l: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(l.join("index.json")).unwrap()).unwrap()
    };
    let blob = |l: &Path, d: &str| l.join("blobs/sha256").join(&d[7..]);
    let manifest_of = |l: &Path| {
        index(l)["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut cases: Vec<(&str, std::path::PathBuf, &str)> = Vec::new();

    let l = fresh("upper");
    let d = manifest_of(&l);
    let up = format!("sha256:{}", d[7..].to_uppercase());
    std::fs::rename(blob(&l, &d), blob(&l, &up)).unwrap();
    let mut i = index(&l);
    i["manifests"][0]["digest"] = up.into();
    std::fs::write(l.join("index.json"), serde_json::to_vec(&i).unwrap()).unwrap();
    cases.push(("upper-case hex digest", l, "lowercase hex"));

    let l = fresh("mismatch");
    let p = blob(&l, &manifest_of(&l));
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes.iter().rposition(|b| *b == b'}').unwrap();
    bytes[at - 1] = b' '; // same size, other bytes
    std::fs::write(&p, bytes).unwrap();
    cases.push(("manifest digest mismatch", l, "does not match its digest"));

    let l = fresh("config-size");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&l, &manifest_of(&l))).unwrap()).unwrap();
    let config = blob(&l, m["config"]["digest"].as_str().unwrap());
    let mut c = std::fs::read(&config).unwrap();
    c.push(b' ');
    std::fs::write(&config, c).unwrap();
    cases.push(("config size mismatch", l, "but its descriptor says"));

    let l = fresh("fifo");
    let layer = blob(&l, m_layer(&l, &blob, &manifest_of(&l)).as_str());
    std::fs::remove_file(&layer).unwrap();
    run(Command::new("mkfifo").arg(&layer));
    cases.push(("a FIFO as a layer blob", l, "not a regular file"));

    let l = fresh("two-images");
    let mut i = index(&l);
    let mut unnamed = i["manifests"][0].clone();
    unnamed.as_object_mut().unwrap().remove("annotations");
    unnamed["platform"] = serde_json::json!({"os": "linux", "architecture": "arm64"});
    i["manifests"].as_array_mut().unwrap().push(unnamed);
    std::fs::write(l.join("index.json"), serde_json::to_vec(&i).unwrap()).unwrap();
    cases.push(("one named and one unnamed image", l, "holds 2 images"));

    for (name, dir, cause) in cases {
        let spec = oci(&dir);
        let scan = catalogue(&ScanSource::Image(spec.clone()))
            .err()
            .unwrap_or_else(|| panic!("{name}: the scan accepted it"))
            .message;
        let push = push_error(&spec);
        assert!(scan.contains(cause), "{name}: {scan}");
        assert_eq!(scan, push, "{name}: the scan and the push disagree");
    }
}

/// The first layer's digest of the layout's image.
fn m_layer(l: &Path, blob: &dyn Fn(&Path, &str) -> std::path::PathBuf, manifest: &str) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(l, manifest)).unwrap()).unwrap();
    m["layers"][0]["digest"].as_str().unwrap().to_string()
}

/// A zstd frame (128 KiB window) holding a tar whose GNU long-name header declares `declared`
/// bytes of 'a', as RLE blocks: about 4 bytes per 128 KiB.
fn long_name_bomb(declared: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(declared);
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    z.extend_from_slice(&(512u32 << 3).to_le_bytes()[..3]);
    z.extend_from_slice(h.as_bytes());
    let blocks = declared / (128 * 1024);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let bh = last | (1 << 1) | ((128 * 1024) << 3);
        z.extend_from_slice(&bh.to_le_bytes()[..3]);
        z.push(b'a');
    }
    z
}

/// Issue 20: a 100 KB zstd layout whose layer has a 2 GiB GNU long-name header reached 10.5 GB
/// RSS. The real binary refuses it on the push's header bound, with its peak RSS bounded.
#[test]
fn a_tar_header_bomb_in_a_zstd_layer_is_refused_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("oci");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |b: &[u8]| {
        let h = sha256_hex(b);
        std::fs::write(dir.join("blobs/sha256").join(&h), b).unwrap();
        (format!("sha256:{h}"), b.len())
    };
    let bomb = long_name_bomb(2 << 30);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let (ld, ls) = put(&bomb);
    let (cd, cs) = put(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#,
    );
    let m = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": ld, "size": ls}]});
    let (md, ms) = put(&serde_json::to_vec(&m).unwrap());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();

    let mut cmd = Command::new("/usr/bin/time");
    cmd.args([
        "-f",
        "peak-rss-kib=%M",
        support::aws::bin(),
        "scan",
        "--from",
    ])
    .arg(format!("oci:{}", dir.display()))
    .current_dir(tmp.path())
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("HOME", tmp.path());
    for (k, v) in support::aws::aws_env(&format!("http://127.0.0.1:{}", support::moto::free_port()))
    {
        cmd.env(k, v);
    }
    let (code, _out, err) = support::aws::text(&support::aws::run_bounded(
        cmd,
        std::time::Duration::from_secs(120),
    ));
    let rss_kib: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {err}"));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("larger than 16 MiB"), "{err}");
    assert!(
        rss_kib < 150 * 1024,
        "peak RSS {} MiB reading a 2 GiB header",
        rss_kib / 1024
    );
}
