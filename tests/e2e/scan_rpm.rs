//! rpm accuracy against real peers: packages built with Debian's `rpmbuild`, installed into a
//! fresh sqlite rpmdb by Debian's `rpm` (4.18), must be exactly what `rpm -qa --dbpath` lists —
//! at /var/lib/rpm (RHEL 9 / Amazon Linux 2023) and /usr/lib/sysimage/rpm (Fedora). The same
//! headers loaded into a Berkeley DB hash `Packages` file by `db5.3_load` (the Amazon Linux 2 /
//! RHEL 7 format) must be exactly what rpm's own read-only BDB backend (`bdb_ro`) lists. Every
//! package syft or trivy finds in these trees, the scan finds.

use crate::scan_common;

use inspector_gate::registry::SourceSpec;
use inspector_gate::scan::layers::ScanSource;
use inspector_gate::scan::{catalogue, Ecosystem, Inventory};
use scan_common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

type Set = BTreeSet<(String, String, String)>;

/// (name, version, release, epoch, arch) of the test packages. Twelve, so that every bucket
/// of the hash database db_load writes is initialised (rpm's bdb_ro refuses sparse buckets).
fn specs() -> Vec<(String, String, String, Option<u32>, &'static str)> {
    (1..=12)
        .map(|i| {
            (
                format!("test-pkg{i}"),
                format!("{i}.{}.0", i * 3),
                format!("{i}.amzn2023.0.{}", i % 4),
                (i % 3 == 0).then_some(i as u32),
                if i % 2 == 0 { "x86_64" } else { "noarch" },
            )
        })
        .collect()
}

pub(crate) fn build_rpms(work: &Path) -> Vec<PathBuf> {
    require("rpmbuild", "apt-get install rpm");
    let top = work.join("top");
    for (name, version, release, epoch, arch) in specs() {
        let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        let spec = format!(
            "Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch}Summary: test\nLicense: MIT\nBuildArch: {arch}\n%description\ntest package\n%files\n"
        );
        let path = work.join(format!("{name}.spec"));
        std::fs::write(&path, spec).unwrap();
        run(Command::new("rpmbuild")
            .args(["-bb", "--quiet", "--define"])
            .arg(format!("_topdir {}", top.display()))
            .args(["--target", arch])
            .arg(&path));
    }
    let mut rpms = Vec::new();
    for arch in ["noarch", "x86_64"] {
        for e in std::fs::read_dir(top.join("RPMS").join(arch)).unwrap() {
            rpms.push(e.unwrap().path());
        }
    }
    assert_eq!(rpms.len(), 12);
    rpms
}

/// A root filesystem whose rpm database (at `dbdir`, relative) holds the packages, with the
/// distribution's `os-release` and its release file (`(path, content)`, as the distribution
/// ships it: trivy detects Amazon Linux and Fedora only by `/etc/system-release` and
/// `/etc/fedora-release`, and names no rpm package of an OS it did not detect).
pub(crate) fn rpm_root(
    work: &Path,
    rpms: &[PathBuf],
    dbdir: &str,
    (os_release, release): (&str, (&str, &str)),
) -> PathBuf {
    require("rpm", "apt-get install rpm");
    let root = work.join(format!("root-{}", dbdir.replace('/', "-")));
    let db = root.join(dbdir);
    std::fs::create_dir_all(&db).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), os_release).unwrap();
    std::fs::write(root.join(release.0), release.1).unwrap();
    run(Command::new("rpm").arg("--initdb").arg("--dbpath").arg(&db));
    run(Command::new("rpm")
        .args(["-i", "--justdb", "--nodeps", "--ignorearch", "--dbpath"])
        .arg(&db)
        .args(rpms));
    root
}

/// What rpm itself lists (`gpg-pubkey` pseudo-packages left out, as the cataloger does).
fn rpm_qa(db: &Path, backend: &str) -> Set {
    let out = Command::new("rpm")
        .arg("-qa")
        .arg("--dbpath")
        .arg(db)
        .arg("--define")
        .arg(format!("_db_backend {backend}"))
        .arg("--qf")
        .arg("%{NAME}\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\t%{ARCH}\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

fn rpms_of(inv: &Inventory) -> Set {
    inv.packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Rpm)
        .map(|p| {
            let arch = qualifier(&p.purl, "arch").unwrap_or("").to_string();
            (p.name.clone(), p.version.clone(), arch)
        })
        .collect()
}

fn scan_dir(root: &Path) -> Inventory {
    catalogue(&ScanSource::Dir(root.to_path_buf()))
        .unwrap()
        .pop()
        .unwrap()
}

pub(crate) const AL2023: (&str, (&str, &str)) = (
    "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n",
    (
        "etc/system-release",
        "Amazon Linux release 2023 (Amazon Linux)\n",
    ),
);
/// Fedora 36+ keeps its database in /usr/lib/sysimage/rpm.
pub(crate) const FEDORA40: (&str, (&str, &str)) = (
    "ID=fedora\nVERSION_ID=40\n",
    ("etc/fedora-release", "Fedora release 40 (Forty)\n"),
);
pub(crate) const AL2: (&str, (&str, &str)) = (
    "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
    ("etc/system-release", "Amazon Linux release 2 (Karoo)\n"),
);

#[test]
fn sqlite_rpmdb_matches_rpm_qa_in_both_locations_and_in_an_image() {
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path());

    let root = rpm_root(work.path(), &rpms, "var/lib/rpm", AL2023);
    let oracle = rpm_qa(&root.join("var/lib/rpm"), "sqlite");
    assert_eq!(oracle.len(), 12);
    let inv = scan_dir(&root);
    assert_eq!(rpms_of(&inv), oracle);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    assert_covers("syft", &syft(&format!("dir:{}", root.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", root.to_str().unwrap()]), &inv);
    let p3 = inv.packages.iter().find(|p| p.name == "test-pkg3").unwrap();
    assert_eq!(
        p3.purl,
        "pkg:rpm/amzn/test-pkg3@3.9.0-3.amzn2023.0.3?arch=noarch&distro=amzn-2023&epoch=3"
    );

    // The same root as a one-layer image.
    let layer = work.path().join("layer.tar");
    tar_dir(&root, &layer);
    let layout = oci_layout(
        &work.path().join("oci"),
        &[(
            "linux",
            "amd64",
            &[Layer::File {
                blob: layer.clone(),
                gzip: false,
                diff_id: sha256_file(&layer),
            }],
        )],
    );
    let inv = catalogue(&ScanSource::Image(SourceSpec::OciDir {
        dir: layout,
        reference: None,
    }))
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(rpms_of(&inv), oracle, "oci:");

    // Fedora 36+: the database lives in /usr/lib/sysimage/rpm.
    let fedora = rpm_root(work.path(), &rpms, "usr/lib/sysimage/rpm", FEDORA40);
    let oracle = rpm_qa(&fedora.join("usr/lib/sysimage/rpm"), "sqlite");
    let inv = scan_dir(&fedora);
    assert_eq!(rpms_of(&inv), oracle, "usr/lib/sysimage/rpm");
    assert_covers("syft", &syft(&format!("dir:{}", fedora.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", fedora.to_str().unwrap()]), &inv);
    assert!(inv.packages[0].purl.starts_with("pkg:rpm/fedora/"));
}

/// Write the headers of a sqlite rpmdb into a Berkeley DB hash `Packages` with `db5.3_load`
/// (keys: header numbers as native-endian u32, as rpm's BDB backend stored them).
fn bdb_from_sqlite(sqlite: &Path, packages: &Path) {
    require("db5.3_load", "apt-get install db5.3-util");
    let conn = rusqlite::Connection::open(sqlite).unwrap();
    let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages").unwrap();
    let rows: Vec<(u32, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let esc = |b: &[u8]| -> String {
        b.iter()
            .map(|&x| {
                if (32..127).contains(&x) && x != b'\\' {
                    (x as char).to_string()
                } else {
                    format!("\\{x:02x}")
                }
            })
            .collect()
    };
    let mut text = String::new();
    for (hnum, blob) in rows {
        text.push_str(&esc(&hnum.to_le_bytes()));
        text.push('\n');
        text.push_str(&esc(&blob));
        text.push('\n');
    }
    std::fs::create_dir_all(packages.parent().unwrap()).unwrap();
    let input = packages.with_extension("load");
    std::fs::write(&input, text).unwrap();
    run(Command::new("db5.3_load")
        .args(["-T", "-t", "hash", "-f"])
        .arg(&input)
        .arg(packages));
    std::fs::remove_file(input).unwrap();
}

/// An Amazon Linux 2 root whose Berkeley DB `Packages` holds the packages (loaded from the
/// headers of a sqlite rpmdb rpm wrote).
pub(crate) fn al2_root(work: &Path, rpms: &[PathBuf]) -> PathBuf {
    let src = rpm_root(work, rpms, "var/lib/rpm", AL2023);
    let al2 = work.join("al2");
    std::fs::create_dir_all(al2.join("etc")).unwrap();
    let (os_release, (release, text)) = AL2;
    std::fs::write(al2.join("etc/os-release"), os_release).unwrap();
    std::fs::write(al2.join(release), text).unwrap();
    bdb_from_sqlite(
        &src.join("var/lib/rpm/rpmdb.sqlite"),
        &al2.join("var/lib/rpm/Packages"),
    );
    al2
}

#[test]
fn berkeley_db_packages_matches_rpm_bdb_ro() {
    let work = tempfile::tempdir().unwrap();
    let rpms = build_rpms(work.path());
    let al2 = al2_root(work.path(), &rpms);
    let oracle = rpm_qa(&al2.join("var/lib/rpm"), "bdb_ro");
    assert_eq!(oracle.len(), 12, "rpm's bdb_ro reads the db_load output");
    let inv = scan_dir(&al2);
    assert_eq!(rpms_of(&inv), oracle);
    assert!(inv
        .packages
        .iter()
        .all(|p| qualifier(&p.purl, "distro") == Some("amzn-2")));
    assert_covers("syft", &syft(&format!("dir:{}", al2.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", al2.to_str().unwrap()]), &inv);
}

#[test]
fn a_malformed_rpmdb_is_named_unread() {
    let work = tempfile::tempdir().unwrap();
    for (file, bytes) in [
        ("rpmdb.sqlite", &b"SQLite format 3\0 but truncated"[..]),
        ("Packages", &[0u8; 8192][..]),
    ] {
        let root = work.path().join(file);
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        std::fs::write(root.join("var/lib/rpm").join(file), bytes).unwrap();
        let inv = scan_dir(&root);
        assert!(inv.packages.is_empty());
        assert_eq!(inv.unread.len(), 1, "{:?}", inv.unread);
        assert_eq!(inv.unread[0].path, format!("/var/lib/rpm/{file}"));
    }
}
