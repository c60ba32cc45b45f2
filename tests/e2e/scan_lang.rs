//! Language package accuracy against the package managers themselves: trees installed from
//! the real registries (`pip install --target`, `npm install`) must give exactly the set that
//! `pip list --path` and `npm ls --all --json` report; a Go binary built by Debian's Go
//! toolchain must give the modules `go version -m` reports. On the same trees, every package
//! syft or trivy finds in a format the scan supports is found too, or named as unread
//! (`scan_common::assert_covers`).

use crate::scan_common;

use inspector_gate::scan::layers::ScanSource;
use inspector_gate::scan::{catalogue, purl, Ecosystem, Inventory};
use scan_common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) type Set = BTreeSet<(String, String)>;

fn scan_dir(root: &Path) -> Inventory {
    catalogue(&ScanSource::Dir(root.to_path_buf()))
        .unwrap()
        .pop()
        .unwrap()
}

fn of(inv: &Inventory, eco: Ecosystem, normalise: fn(&str) -> String) -> Set {
    inv.packages
        .iter()
        .filter(|p| p.ecosystem == eco)
        .map(|p| (normalise(&p.name), p.version.clone()))
        .collect()
}

/// A pip --target tree with packages from PyPI (cached between runs).
pub(crate) fn pip_tree() -> PathBuf {
    require("python3", "apt-get install python3-pip");
    locked("pip-target", pip_tree_unlocked)
}

fn pip_tree_unlocked() -> PathBuf {
    let dir = cache_dir().join("pip-target");
    if !dir.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        run(Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&dir)
            .args([
                "requests==2.31.0",
                "PyYAML==6.0.1",
                "six==1.16.0",
                "zope.interface==6.2",
            ]));
        std::fs::write(dir.join(".complete"), b"").unwrap();
    }
    dir
}

#[test]
fn python_packages_match_pip_list() {
    let dir = pip_tree();
    let out = run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "list",
            "--disable-pip-version-check",
            "--format",
            "json",
            "--path",
        ])
        .arg(&dir));
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    let oracle: Set = listed
        .iter()
        .map(|p| {
            (
                purl::pypi_name(p["name"].as_str().unwrap()),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(oracle.len() >= 8, "{oracle:?}");
    let inv = scan_dir(&dir);
    // pip lists the distributions at the top of the path; distributions vendored inside
    // packages (setuptools/_vendor/*.dist-info) are installed code too and are reported, but
    // pip does not list them: compare the top level, and check the rest are vendored.
    let top = |loc: &str| {
        loc.strip_prefix('/')
            .is_some_and(|l| l.matches('/').count() == 1)
    };
    let (top_level, nested): (Vec<_>, Vec<_>) = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Pypi)
        .partition(|p| {
            top(p
                .location
                .strip_prefix(dir.to_str().unwrap())
                .unwrap_or(&p.location))
        });
    let ours: Set = top_level
        .iter()
        .map(|p| (purl::pypi_name(&p.name), p.version.clone()))
        .collect();
    assert_eq!(ours, oracle);
    assert!(
        nested.iter().all(|p| p.location.contains("/_vendor/")),
        "{:?}",
        nested.iter().map(|p| &p.location).collect::<Vec<_>>()
    );
    assert!(inv
        .packages
        .iter()
        .any(|p| p.purl == "pkg:pypi/zope-interface@6.2"));
    assert_covers("syft", &syft(&format!("dir:{}", dir.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", dir.to_str().unwrap()]), &inv);
}

/// An npm project installed from the npm registry (cached between runs).
pub(crate) fn npm_tree() -> PathBuf {
    require("npm", "apt-get install npm");
    locked("npm-project", npm_tree_unlocked)
}

fn npm_tree_unlocked() -> PathBuf {
    let dir = cache_dir().join("npm-project");
    if !dir.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            r#"{"name": "scan-fixture", "version": "1.0.0", "private": true,
                "dependencies": {"debug": "4.3.4", "semver": "7.6.0", "@types/node": "20.11.30", "express": "4.19.2"}}"#,
        )
        .unwrap();
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir));
        std::fs::write(dir.join(".complete"), b"").unwrap();
    }
    dir
}

fn flatten(deps: &Value, out: &mut Set) {
    if let Some(m) = deps.as_object() {
        for (name, d) in m {
            if let Some(v) = d.get("version").and_then(Value::as_str) {
                out.insert((name.clone(), v.to_string()));
            }
            if let Some(sub) = d.get("dependencies") {
                flatten(sub, out);
            }
        }
    }
}

#[test]
fn npm_packages_match_npm_ls() {
    let dir = npm_tree();
    let out = run(Command::new("npm")
        .args(["ls", "--all", "--json"])
        .current_dir(&dir));
    let tree: Value = serde_json::from_str(&out).unwrap();
    let mut oracle = Set::new();
    flatten(&tree["dependencies"], &mut oracle);
    assert!(
        oracle.len() > 40,
        "express pulls in dozens: {}",
        oracle.len()
    );
    let inv = scan_dir(&dir);
    assert_eq!(of(&inv, Ecosystem::Npm, |s| s.to_string()), oracle);
    // Each installed package once, from its own package.json in node_modules (the lockfile
    // lists the same packages: counting its entries too listed every package twice).
    let npm: Vec<&inspector_gate::scan::Package> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
        .collect();
    assert!(
        npm.iter()
            .all(|p| p.location.starts_with("/node_modules/")
                && p.location.ends_with("/package.json")),
        "{npm:?}"
    );
    // Once per place it is installed (debug@2.6.9 is installed under four packages): exactly
    // the installed manifests on disk.
    let out = run(Command::new("find")
        .args(["node_modules", "-name", "package.json"])
        .current_dir(&dir));
    let manifests: BTreeSet<String> = out
        .lines()
        .filter(|p| inspector_gate::scan::catalog::npm::is_installed_manifest(p))
        .map(|p| format!("/{p}"))
        .collect();
    let located: BTreeSet<String> = npm.iter().map(|p| p.location.clone()).collect();
    assert_eq!(located, manifests);
    assert_eq!(
        npm.len(),
        manifests.len(),
        "a package listed twice: {npm:?}"
    );
    assert!(inv
        .packages
        .iter()
        .any(|p| p.purl == "pkg:npm/%40types/node@20.11.30"));
    assert_covers("syft", &syft(&format!("dir:{}", dir.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", dir.to_str().unwrap()]), &inv);
}

/// The npm project as one image layer under `app/` (a tar of the cached tree).
fn npm_layer(dir: &Path) -> Layer {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all("app", dir).unwrap();
    Layer::Tar {
        tar: b.into_inner().unwrap(),
        gzip: true,
    }
}

fn scan_layout(layout: PathBuf) -> Inventory {
    catalogue(&ScanSource::Image(
        inspector_gate::registry::SourceSpec::OciDir {
            dir: layout,
            reference: None,
        },
    ))
    .unwrap()
    .pop()
    .unwrap()
}

/// Installed, not declared: a package the lockfile lists but that is gone from `node_modules`
/// (removed by hand in `dir:`, whited out by a later layer) is not reported — reporting it
/// would fail the run on a CVE of code the container does not have. With no `node_modules` at
/// all, the lockfile is the only source: its entries are reported, and a warning says so.
#[test]
fn lockfile_entries_count_only_when_installed() {
    let dir = npm_tree();
    let out = run(Command::new("npm")
        .args(["ls", "--all", "--json"])
        .current_dir(&dir));
    let mut full = Set::new();
    flatten(
        &serde_json::from_str::<Value>(&out).unwrap()["dependencies"],
        &mut full,
    );
    let gone = ("semver".to_string(), "7.6.0".to_string());
    assert!(full.contains(&gone), "{full:?}");
    let mut oracle = full.clone();
    oracle.remove(&gone);

    // dir: the same tree with semver's directory removed.
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("project");
    run(Command::new("cp").arg("-a").arg(&dir).arg(&copy));
    std::fs::remove_dir_all(copy.join("node_modules/semver")).unwrap();
    let inv = scan_dir(&copy);
    assert_eq!(of(&inv, Ecosystem::Npm, |s| s.to_string()), oracle, "dir:");
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);

    // An image: semver whited out by a later layer.
    let wipe = layer_tar(&[("app/node_modules/.wh.semver", Some(b""))]);
    let layout = oci_layout(
        &work.path().join("wiped"),
        &[(
            "linux",
            "amd64",
            &[
                npm_layer(&dir),
                Layer::Tar {
                    tar: wipe,
                    gzip: true,
                },
            ],
        )],
    );
    let inv = scan_layout(layout);
    assert_eq!(of(&inv, Ecosystem::Npm, |s| s.to_string()), oracle, "oci:");
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);

    // node_modules gone altogether: the lockfile's entries, said to be only declared.
    let wipe = layer_tar(&[("app/.wh.node_modules", Some(b""))]);
    let layout = oci_layout(
        &work.path().join("no-modules"),
        &[(
            "linux",
            "amd64",
            &[
                npm_layer(&dir),
                Layer::Tar {
                    tar: wipe,
                    gzip: true,
                },
            ],
        )],
    );
    let inv = scan_layout(layout);
    assert_eq!(
        of(&inv, Ecosystem::Npm, |s| s.to_string()),
        full,
        "lockfile only"
    );
    assert!(inv
        .packages
        .iter()
        .all(|p| p.location == "/app/package-lock.json"));
    assert_eq!(inv.warnings.len(), 1, "{:?}", inv.warnings);
    assert!(
        inv.warnings[0].starts_with("/app/package-lock.json: no node_modules beside it"),
        "{}",
        inv.warnings[0]
    );
}

/// Build a small Go program into `bin` with Debian's Go, offline: one dependency replaced by
/// a local directory (`go version -m`: `=> ./dep (devel)`) and one vendored at its version
/// (`vendor/`, as a registry module is built without network; the one trivy can compare: it
/// names a replaced module by its replacement); returns its toolchain (`go1.x.y`) and the
/// dependencies `go version -m` lists.
pub(crate) fn go_app(work: &Path, bin: &Path) -> (String, Set) {
    require("go", "apt-get install golang-go");
    let src = work.join("src");
    let files = [
        (
            "go.mod",
            "module example.com/app\n\ngo 1.19\n\nrequire (\n\texample.com/dep v1.2.3\n\texample.com/lib v0.4.0\n)\n\nreplace example.com/dep => ./dep\n",
        ),
        (
            "main.go",
            "package main\n\nimport (\n\t\"example.com/dep\"\n\t\"example.com/lib\"\n)\n\nfunc main() { println(dep.Hello(), lib.Name()) }\n",
        ),
        ("dep/go.mod", "module example.com/dep\n\ngo 1.19\n"),
        ("dep/dep.go", "package dep\n\nfunc Hello() string { return \"hi\" }\n"),
        (
            "vendor/example.com/dep/dep.go",
            "package dep\n\nfunc Hello() string { return \"hi\" }\n",
        ),
        (
            "vendor/example.com/lib/lib.go",
            "package lib\n\nfunc Name() string { return \"lib\" }\n",
        ),
        (
            "vendor/modules.txt",
            "# example.com/dep v1.2.3 => ./dep\n## explicit\nexample.com/dep\n# example.com/lib v0.4.0\n## explicit\nexample.com/lib\n# example.com/dep => ./dep\n",
        ),
    ];
    for (path, text) in files {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    run(Command::new("go")
        .args(["build", "-o"])
        .arg(bin)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=vendor")
        .env("GOPROXY", "off")
        .env("GOCACHE", work.join("gocache"))
        .env("GOPATH", work.join("gopath")));
    let out = run(Command::new("go").args(["version", "-m"]).arg(bin));
    let toolchain = out
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();
    let oracle: Set = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split('\t').collect();
            (f.first() == Some(&"dep")).then(|| (f[1].to_string(), f[2].to_string()))
        })
        .collect();
    assert_eq!(oracle.len(), 2, "{out}");
    (toolchain, oracle)
}

/// A root with [`go_app`] built at /usr/local/bin/app: (root, toolchain, dependencies).
pub(crate) fn go_root(work: &Path) -> (PathBuf, String, Set) {
    let root = work.join("root");
    std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    let (toolchain, oracle) = go_app(work, &root.join("usr/local/bin/app"));
    (root, toolchain, oracle)
}

#[test]
fn go_modules_match_go_version_m() {
    let work = tempfile::tempdir().unwrap();
    let (root, toolchain, oracle) = go_root(work.path());
    let inv = scan_dir(&root);
    let ours: Set = inv
        .packages
        .iter()
        .filter(|p| p.purl.starts_with("pkg:golang/"))
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(ours, oracle);
    let generic = inv
        .packages
        .iter()
        .find(|p| p.purl.starts_with("pkg:generic/"))
        .unwrap();
    assert_eq!(
        generic.purl,
        format!(
            "pkg:generic/app?go_toolchain={}",
            toolchain.trim_start_matches("go")
        )
    );
    assert_eq!(generic.location, "/usr/local/bin/app");
    assert_covers("syft", &syft(&format!("dir:{}", root.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", root.to_str().unwrap()]), &inv);
}

/// `unzip -p` of every pom.properties in a jar: (group:artifact, version).
fn poms_of(jar: &Path) -> Set {
    let out = run(Command::new("unzip")
        .arg("-p")
        .arg(jar)
        .arg("META-INF/maven/*/*/pom.properties"));
    let mut set = Set::new();
    let (mut g, mut a) = (String::new(), String::new());
    for line in out.lines() {
        if let Some((k, v)) = line.split_once('=') {
            match k {
                "groupId" => g = v.trim().into(),
                "artifactId" => a = v.trim().into(),
                "version" => {
                    set.insert((format!("{g}:{a}"), v.trim().to_string()));
                }
                _ => {}
            }
        }
    }
    set
}

/// The jars Debian ships that the Java tests nest (log4j's core and api).
pub(crate) fn debian_jars() -> Vec<PathBuf> {
    let jars: Vec<PathBuf> = ["log4j-core.jar", "log4j-api.jar"]
        .iter()
        .map(|j| PathBuf::from("/usr/share/java").join(j))
        .collect();
    assert!(
        jars.iter().all(|j| j.exists()),
        "the Java test reads jars Debian ships: apt-get install liblog4j2-java"
    );
    jars
}

/// A root with a Spring Boot style fat jar at /opt/app/app.jar, written by Python's zipfile,
/// nesting `jars` under BOOT-INF/lib/.
pub(crate) fn java_root(work: &Path, jars: &[PathBuf]) -> PathBuf {
    let root = work.join("root");
    std::fs::create_dir_all(root.join("opt/app")).unwrap();
    let fat = root.join("opt/app/app.jar");
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\nz.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n')\nfor j in sys.argv[2:]:\n    z.write(j, 'BOOT-INF/lib/' + j.rsplit('/', 1)[1])\nz.close()\n";
    run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&fat)
        .args(jars));
    root
}

#[test]
fn java_artifacts_match_the_jars_own_pom_properties_even_nested() {
    require("unzip", "apt-get install unzip");
    let jars = debian_jars();
    let mut oracle = Set::new();
    for j in &jars {
        oracle.extend(poms_of(j));
    }
    assert_eq!(oracle.len(), 2, "{oracle:?}");
    let work = tempfile::tempdir().unwrap();
    let root = java_root(work.path(), &jars);
    let inv = scan_dir(&root);
    assert_eq!(of(&inv, Ecosystem::Maven, |s| s.to_string()), oracle);
    assert!(inv
        .packages
        .iter()
        .all(|p| p.location.starts_with("/opt/app/app.jar/BOOT-INF/lib/")));
    assert!(inv.packages.iter().any(|p| p
        .purl
        .starts_with("pkg:maven/org.apache.logging.log4j/log4j-core@")));
    // syft only: trivy reads no jar without its Java index database, which it downloads from
    // an OCI registry on its first run (refused offline: "--skip-java-db-update cannot be
    // specified on the first run"), and the tests never leave this machine.
    assert_covers("syft", &syft(&format!("dir:{}", root.display())), &inv);
}

#[test]
fn ruby_gems_match_gem_list() {
    require("gem", "apt-get install ruby");
    let env_out = run(Command::new("gem").args(["env", "gempath"]));
    let dirs: Vec<PathBuf> = env_out
        .trim()
        .split(':')
        .map(PathBuf::from)
        .filter(|d| d.join("specifications").exists())
        .collect();
    assert!(!dirs.is_empty());
    let out = run(Command::new("gem").args(["list", "--local"]));
    // "name (1.2, default: 1.1)"
    let mut oracle = Set::new();
    for line in out.lines() {
        let Some((name, rest)) = line.split_once(" (") else {
            continue;
        };
        for v in rest.trim_end_matches(')').split(", ") {
            let v = v.trim_start_matches("default: ");
            oracle.insert((name.to_string(), v.to_string()));
        }
    }
    assert!(oracle.len() > 50, "Ruby's default gems: {}", oracle.len());
    let mut ours = Set::new();
    for d in &dirs {
        ours.extend(of(&scan_dir(d), Ecosystem::Gem, |s| s.to_string()));
    }
    assert_eq!(ours, oracle);
}

/// A root with a cargo-auditable binary at /usr/bin/app: cargo-auditable's format,
/// zlib-compressed JSON in a `.dep-v0` section (build-only dependencies are not in the
/// binary), written by binutils into a real ELF.
pub(crate) fn cargo_root(work: &Path) -> PathBuf {
    require("objcopy", "apt-get install binutils");
    let root = work.join("root");
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    let deps = serde_json::json!({"packages": [
        {"name": "app", "version": "0.1.0", "source": "local", "kind": "runtime", "dependencies": [1, 2], "root": true},
        {"name": "serde", "version": "1.0.200", "source": "crates.io", "kind": "runtime", "dependencies": []},
        {"name": "cc", "version": "1.0.90", "source": "crates.io", "kind": "build", "dependencies": []}]});
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &serde_json::to_vec(&deps).unwrap()).unwrap();
    let section = work.join("dep-v0");
    std::fs::write(&section, z.finish().unwrap()).unwrap();
    run(Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".dep-v0={}", section.display()))
        .arg("/bin/true")
        .arg(root.join("usr/bin/app")));
    root
}

#[test]
fn cargo_auditable_data_in_an_elf_section_is_read() {
    let work = tempfile::tempdir().unwrap();
    let root = cargo_root(work.path());
    let bin = root.join("usr/bin/app");
    let inv = scan_dir(&root);
    let purls: BTreeSet<&str> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Cargo)
        .map(|p| p.purl.as_str())
        .collect();
    assert_eq!(
        purls,
        BTreeSet::from(["pkg:cargo/app@0.1.0", "pkg:cargo/serde@1.0.200"])
    );
    assert_covers("syft", &syft(&format!("dir:{}", root.display())), &inv);
    assert_covers("trivy", &trivy(&["rootfs", root.to_str().unwrap()]), &inv);
    // The same binary without the section: nothing.
    std::fs::copy("/bin/true", &bin).unwrap();
    assert!(scan_dir(&root).packages.is_empty());
}

/// A Go binary and a cargo-auditable Rust binary without the exec bit (a Dockerfile `COPY`
/// without `chmod`, or one the entrypoint makes executable) are still programs the container
/// runs: read from their content as `dir:` and from an image layer, beside a large file that
/// is not ELF (left after its first bytes, so nothing found and nothing unread).
#[test]
fn binaries_without_the_exec_bit_are_read() {
    use std::os::unix::fs::PermissionsExt;
    require("objcopy", "apt-get install binutils");
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("app")).unwrap();
    let go_bin = root.join("app/server");
    let (_, go_oracle) = go_app(work.path(), &go_bin);
    let deps = serde_json::json!({"packages": [
        {"name": "tool", "version": "0.2.0", "source": "local", "kind": "runtime", "dependencies": [1], "root": true},
        {"name": "regex", "version": "1.10.4", "source": "crates.io", "kind": "runtime", "dependencies": []}]});
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &serde_json::to_vec(&deps).unwrap()).unwrap();
    let section = work.path().join("dep-v0");
    std::fs::write(&section, z.finish().unwrap()).unwrap();
    let rust_bin = root.join("app/tool");
    run(Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".dep-v0={}", section.display()))
        .arg("/bin/true")
        .arg(&rust_bin));
    std::fs::write(root.join("app/data.bin"), vec![b'x'; 1 << 20]).unwrap();
    for f in [&go_bin, &rust_bin] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let found = |inv: &Inventory| -> (Set, Set) {
        assert!(inv.unread.is_empty(), "{:?}", inv.unread);
        let modules = inv
            .packages
            .iter()
            .filter(|p| p.purl.starts_with("pkg:golang/"))
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        (modules, of(inv, Ecosystem::Cargo, |s| s.to_string()))
    };
    let rust_oracle: Set = [("regex", "1.10.4"), ("tool", "0.2.0")]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let want = (go_oracle, rust_oracle);
    let inv = scan_dir(&root);
    assert_eq!(found(&inv), want, "dir:");
    // syft reads these; trivy reads binaries only with an exec bit (it finds nothing here,
    // the very case this test is about), so it is compared on the executable ones above.
    assert_covers("syft", &syft(&format!("dir:{}", root.display())), &inv);

    // The same files in an image layer (layer_tar writes mode 0644).
    let go = std::fs::read(&go_bin).unwrap();
    let rust = std::fs::read(&rust_bin).unwrap();
    let data = vec![b'x'; 1 << 20];
    let layer = layer_tar(&[
        ("app", None),
        ("app/server", Some(&go)),
        ("app/tool", Some(&rust)),
        ("app/data.bin", Some(&data)),
    ]);
    let layout = oci_layout(
        &work.path().join("oci"),
        &[(
            "linux",
            "amd64",
            &[Layer::Tar {
                tar: layer,
                gzip: true,
            }],
        )],
    );
    let inv = catalogue(&ScanSource::Image(
        inspector_gate::registry::SourceSpec::OciDir {
            dir: layout,
            reference: None,
        },
    ))
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(found(&inv), want, "oci:");
}
