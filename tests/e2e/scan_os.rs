//! OS package accuracy against real peers: a Debian bookworm root filesystem built by
//! mmdebstrap from Debian's own packages, catalogued from every source format the scan reads
//! (dir:, oci:, oci-archive:, docker-archive:), must give exactly the installed set that
//! `dpkg-query -W` lists for the same tree (every package whose files are on disk, in any
//! state but `not-installed` and `config-files`); later layers' whiteouts must hide what they
//! delete. syft and trivy catalogue the same tree: every package they find, the scan finds.

use crate::scan_common;

use inspector_gate::registry::SourceSpec;
use inspector_gate::scan::layers::ScanSource;
use inspector_gate::scan::{catalogue, Ecosystem, Inventory};
use scan_common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

type Set = BTreeSet<(String, String, String)>;

/// What dpkg itself says has its files in the tree: every package whose state
/// (`${db:Status-Status}`) is neither `not-installed` nor `config-files`.
fn dpkg_query(tree: &Path) -> Set {
    require("dpkg-query", "apt-get install dpkg");
    let out = run(Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            tree.join("var/lib/dpkg").display()
        ))
        .arg("-W")
        .arg("-f=${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n"));
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4 && !matches!(f[3], "not-installed" | "config-files"))
                .then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

fn debs(inv: &Inventory) -> Set {
    inv.packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Deb)
        .map(|p| {
            let arch = qualifier(&p.purl, "arch").unwrap_or("").to_string();
            (p.name.clone(), p.version.clone(), arch)
        })
        .collect()
}

fn one(source: ScanSource) -> Inventory {
    let mut invs = catalogue(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
    assert_eq!(invs.len(), 1, "{source}");
    invs.pop().unwrap()
}

#[test]
fn dpkg_catalogue_matches_dpkg_query_for_every_source_format() {
    let tree = debian_tree();
    let oracle = dpkg_query(&tree);
    assert!(
        oracle.len() > 50,
        "a minbase tree has ~90 packages: {}",
        oracle.len()
    );

    let from_dir = one(ScanSource::Dir(tree.clone()));
    assert_eq!(debs(&from_dir), oracle, "dir:");
    let d = from_dir.distro.clone().expect("os-release read");
    assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
    assert!(from_dir
        .packages
        .iter()
        .all(|p| qualifier(&p.purl, "distro") == Some("debian-12") || !p.ecosystem.is_os()));
    assert!(from_dir.warnings.is_empty(), "{:?}", from_dir.warnings);
    // Each peer once (a full catalogue of the tree takes either ~5 s of CPU): syft on the
    // directory here, trivy on the docker-archive below.
    assert_covers("syft", &syft(&format!("dir:{}", tree.display())), &from_dir);

    let tmp = tempfile::tempdir().unwrap();
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[("linux", "amd64", &[debian_layer(true)])],
    );
    let from_oci = one(ScanSource::Image(SourceSpec::OciDir {
        dir: layout.clone(),
        reference: Some("latest".into()),
    }));
    assert_eq!(debs(&from_oci), oracle, "oci:");
    assert_eq!(from_oci.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(from_oci.packages, from_dir.packages);

    let archive = tmp.path().join("image.oci.tar");
    tar_dir(&layout, &archive);
    let from_archive = one(ScanSource::Image(SourceSpec::OciArchive(archive)));
    assert_eq!(debs(&from_archive), oracle, "oci-archive:");

    let docker = tmp.path().join("image.docker.tar");
    docker_archive(&docker, "amd64", &[debian_tar()]);
    let from_docker = one(ScanSource::Image(SourceSpec::DockerArchive(docker.clone())));
    assert_eq!(debs(&from_docker), oracle, "docker-archive:");
    assert_covers(
        "trivy",
        &trivy(&["image", "--input", docker.to_str().unwrap()]),
        &from_docker,
    );
}

/// Packages caught half-way (an interrupted `apt-get install`, triggers not yet run, a
/// `dpkg --unpack` without `--configure`) have their files on disk: they are catalogued, as
/// dpkg-query lists them; `config-files` and `not-installed` ones are not.
#[test]
fn dpkg_packages_in_every_state_with_files_on_disk_are_catalogued() {
    let debian = debian_tree();
    let status = std::fs::read_to_string(debian.join("var/lib/dpkg/status")).unwrap();
    let states = [
        "install ok unpacked",
        "install ok half-configured",
        "install reinstreq half-installed",
        "install ok triggers-awaited",
        "install ok triggers-pending",
        "deinstall ok config-files",
        "purge ok not-installed",
    ];
    // The first packages of the real database, each put in one of the states (a package
    // awaiting triggers names the one they are pending in, as dpkg requires).
    let name = |p: &str| {
        p.lines()
            .next()
            .unwrap()
            .trim_start_matches("Package: ")
            .to_string()
    };
    let first: Vec<String> = status.split("\n\n").take(states.len()).map(name).collect();
    let mut changed = Vec::new();
    let paras: Vec<String> = status
        .split("\n\n")
        .enumerate()
        .map(|(i, p)| match states.get(i) {
            Some(st) => {
                changed.push((first[i].clone(), *st));
                p.lines()
                    .map(|l| {
                        if !l.starts_with("Status:") {
                            return l.to_string();
                        }
                        let extra = match *st {
                            "install ok triggers-awaited" => {
                                format!("\nTriggers-Awaited: {}", first[4])
                            }
                            "install ok triggers-pending" => "\nTriggers-Pending: ldconfig".into(),
                            _ => String::new(),
                        };
                        format!("Status: {st}{extra}")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            None => p.to_string(),
        })
        .collect();
    assert_eq!(changed.len(), states.len());
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path();
    std::fs::create_dir_all(tree.join("var/lib/dpkg")).unwrap();
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("var/lib/dpkg/status"), paras.join("\n\n")).unwrap();
    std::fs::copy(debian.join("etc/os-release"), tree.join("etc/os-release")).unwrap();

    let oracle = dpkg_query(tree);
    let got = debs(&one(ScanSource::Dir(tree.to_path_buf())));
    assert_eq!(got, oracle);
    let names: BTreeSet<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
    for (name, st) in &changed {
        let listed = !st.ends_with("config-files") && !st.ends_with("not-installed");
        assert_eq!(names.contains(name.as_str()), listed, "{name} ({st})");
    }
}

#[test]
fn later_layers_whiteouts_hide_and_replace_the_dpkg_database() {
    let tmp = tempfile::tempdir().unwrap();
    let wipe = layer_tar(&[("var/lib/dpkg/.wh.status", Some(b""))]);
    let layout = oci_layout(
        &tmp.path().join("wiped"),
        &[(
            "linux",
            "amd64",
            &[
                debian_layer(true),
                Layer::Tar {
                    tar: wipe,
                    gzip: true,
                },
            ],
        )],
    );
    let inv = one(ScanSource::Image(SourceSpec::OciDir {
        dir: layout,
        reference: None,
    }));
    assert!(debs(&inv).is_empty(), "{:?}", debs(&inv));
    assert_eq!(inv.distro.unwrap().id, "debian");

    // A whole directory removed, then a new database in a third layer (opaque dir).
    let status =
        b"Package: only\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n";
    let layout = oci_layout(
        &tmp.path().join("replaced"),
        &[(
            "linux",
            "amd64",
            &[
                debian_layer(false),
                Layer::Tar {
                    tar: layer_tar(&[("var/lib/.wh.dpkg", Some(b""))]),
                    gzip: true,
                },
                Layer::Tar {
                    tar: layer_tar(&[
                        ("var/lib/dpkg", None),
                        ("var/lib/dpkg/.wh..wh..opq", Some(b"")),
                        ("var/lib/dpkg/status", Some(status)),
                    ]),
                    gzip: true,
                },
            ],
        )],
    );
    let inv = one(ScanSource::Image(SourceSpec::OciDir {
        dir: layout,
        reference: None,
    }));
    let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["only"]);
}

#[test]
fn every_platform_of_a_multi_platform_image_is_catalogued() {
    let apk_db = b"P:musl\nV:1.2.4_git20230717-r4\nA:aarch64\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:aarch64\n\n";
    let os_release = b"ID=alpine\nVERSION_ID=3.19.1\n";
    let tmp = tempfile::tempdir().unwrap();
    let dpkg = b"Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
    let layout = oci_layout(
        &tmp.path().join("multi"),
        &[
            (
                "linux",
                "amd64",
                &[Layer::Tar {
                    tar: layer_tar(&[
                        ("etc/os-release", Some(b"ID=debian\nVERSION_ID=\"12\"\n")),
                        ("var/lib/dpkg/status", Some(dpkg)),
                    ]),
                    gzip: true,
                }],
            ),
            (
                "linux",
                "arm64",
                &[Layer::Tar {
                    tar: layer_tar(&[
                        ("etc/os-release", Some(os_release)),
                        ("lib/apk/db/installed", Some(apk_db)),
                    ]),
                    gzip: true,
                }],
            ),
        ],
    );
    let invs = catalogue(&ScanSource::Image(SourceSpec::OciDir {
        dir: layout,
        reference: Some("latest".into()),
    }))
    .unwrap();
    let summary: Vec<(Option<&str>, Vec<&str>)> = invs
        .iter()
        .map(|i| {
            (
                i.platform.as_deref(),
                i.packages.iter().map(|p| p.purl.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some("linux/amd64"),
                vec!["pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12"]
            ),
            (
                Some("linux/arm64"),
                vec![
                    "pkg:apk/alpine/busybox@1.36.1-r15?arch=aarch64&distro=alpine-3.19.1",
                    "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=aarch64&distro=alpine-3.19.1"
                ]
            )
        ]
    );
}

/// The gate's one child rule (oci::classify) holds for the local scan too: an annotation or
/// an `artifactType` on a descriptor is a claim that skips nothing; only `unknown/unknown`
/// (an attestation) or a non-image config is left out.
#[test]
fn an_annotation_never_hides_a_platform_from_the_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let dpkg = b"Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
    let layer = |arch: &str| Layer::Tar {
        tar: layer_tar(&[
            ("etc/os-release", Some(b"ID=debian\nVERSION_ID=\"12\"\n")),
            (
                "var/lib/dpkg/status",
                Some(
                    String::from_utf8_lossy(dpkg)
                        .replace("amd64", arch)
                        .as_bytes(),
                ),
            ),
        ]),
        gzip: true,
    };
    let dir = tmp.path().join("annotated");
    let layout = oci_layout(
        &dir,
        &[
            ("linux", "amd64", &[layer("amd64")]),
            ("linux", "arm64", &[layer("arm64")]),
        ],
    );
    // Rewrite the index: the arm64 image claims to be an attestation and an artifact, and a
    // real attestation (unknown/unknown) is added.
    let index_path = layout.join("index.json");
    let top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let root_digest = top["manifests"][0]["digest"].as_str().unwrap().to_string();
    let blob = |d: &str| layout.join("blobs/sha256").join(&d[7..]);
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&root_digest)).unwrap()).unwrap();
    let children = index["manifests"].as_array_mut().unwrap();
    children[1]["annotations"] =
        serde_json::json!({"vnd.docker.reference.type": "attestation-manifest"});
    children[1]["artifactType"] = serde_json::json!("application/vnd.example.sbom");
    let attestation = children[0].clone();
    children.push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": attestation["digest"], "size": attestation["size"],
        "platform": {"os": "unknown", "architecture": "unknown"}}));
    let bytes = serde_json::to_vec(&index).unwrap();
    let new_digest = format!("sha256:{}", sha256_hex(&bytes));
    std::fs::write(blob(&new_digest), &bytes).unwrap();
    let mut top = top;
    top["manifests"][0]["digest"] = serde_json::json!(new_digest);
    top["manifests"][0]["size"] = serde_json::json!(bytes.len());
    std::fs::write(&index_path, serde_json::to_vec(&top).unwrap()).unwrap();

    let invs = catalogue(&ScanSource::Image(SourceSpec::OciDir {
        dir: layout,
        reference: None,
    }))
    .unwrap();
    let platforms: Vec<Option<&str>> = invs.iter().map(|i| i.platform.as_deref()).collect();
    assert_eq!(platforms, [Some("linux/amd64"), Some("linux/arm64")]);
    assert_eq!(
        invs[1].packages.len(),
        1,
        "the annotated image was catalogued"
    );
}

#[test]
fn bad_sources_are_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let not_layout = tmp.path().join("empty");
    std::fs::create_dir_all(&not_layout).unwrap();
    let e = catalogue(&ScanSource::Image(SourceSpec::OciDir {
        dir: not_layout,
        reference: None,
    }))
    .unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert!(e.message.contains("no oci-layout file"), "{e}");

    let junk = tmp.path().join("junk.tar");
    std::fs::write(&junk, b"definitely not a tar archive").unwrap();
    let e = catalogue(&ScanSource::Image(SourceSpec::DockerArchive(junk))).unwrap_err();
    assert!(e.message.contains("junk.tar"), "{e}");
    assert!(!e.to_string().contains('\n'));

    let e = catalogue(&ScanSource::Dir(tmp.path().join("missing"))).unwrap_err();
    assert!(e.message.contains("missing"), "{e}");
}

#[cfg(unix)]
#[test]
fn docker_sources_are_exported_with_docker_save() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer.tar");
    std::fs::write(
        &layer,
        layer_tar(&[(
            "var/lib/dpkg/status",
            Some(b"Package: saved\nStatus: install ok installed\nVersion: 2.0\nArchitecture: arm64\n"),
        )]),
    )
    .unwrap();
    let saved = tmp.path().join("saved.tar");
    docker_archive(&saved, "arm64", &[layer]);
    // A docker CLI stand-in that checks its arguments and writes the archive where asked.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!(
            "#!/bin/sh\n[ \"$1\" = save ] && [ \"$2\" = -o ] && [ \"$4\" = -- ] && [ \"$5\" = app:1 ] || {{ echo \"bad args: $*\" >&2; exit 2; }}\ncp {} \"$3\"\n",
            saved.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Each test runs in its own process under nextest.
    std::env::set_var(
        "PATH",
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    );
    let inv = one(ScanSource::Image(SourceSpec::Docker("app:1".into())));
    assert_eq!(inv.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(inv.packages[0].name, "saved");
    let e = catalogue(&ScanSource::Image(SourceSpec::Docker("other:2".into()))).unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert!(e.message.contains("docker save other:2 failed"), "{e}");
    assert!(e.message.contains("bad args"), "{e}");
}
