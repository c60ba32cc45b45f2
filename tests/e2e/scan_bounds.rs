//! The local scan's bounds, measured on the real binary as a child (`/usr/bin/time`: wall time
//! and peak RSS): archives of any size are streamed, a zip whose central directory repeats one
//! entry 65,535 times costs its bytes once, an archive that would inflate past its budget is
//! named (exit 3), never silently cut short.

use crate::scan_cli::{scan_env, text};
use crate::scan_common::{oci_layout, Layer};
use crate::support::scan_server::ScanServer;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A zip entry: name, content, how it is stored.
struct Z<'a>(&'a str, &'a [u8], How);

#[derive(Clone, Copy, PartialEq)]
enum How {
    Stored,
    Deflated,
    /// Deflated with its sizes in a data descriptor after it: only inflating finds its end.
    Streamed,
}
use How::{Deflated, Stored, Streamed};

fn crc(_: &[u8]) -> u32 {
    0 // the scan does not check CRCs; the bounds are what is under test
}

/// A zip (sizes in the local headers but for [`How::Streamed`] entries).
fn zip(entries: &[Z]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for Z(name, content, how) in entries {
        let stored = &(*how == Stored);
        let streamed = *how == Streamed;
        let data = if *stored {
            content.to_vec()
        } else {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(content).unwrap();
            e.finish().unwrap()
        };
        let method: u16 = if *stored { 0 } else { 8 };
        let offset = out.len() as u32;
        let flags: u16 = if streamed { 8 } else { 0 };
        let fixed = |v: &mut Vec<u8>, local: bool| {
            v.extend(flags.to_le_bytes());
            v.extend(method.to_le_bytes());
            v.extend([0u8; 4]);
            let (c, u) = if local && streamed {
                (0, 0)
            } else {
                (data.len() as u32, content.len() as u32)
            };
            v.extend(crc(content).to_le_bytes());
            v.extend(c.to_le_bytes());
            v.extend(u.to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0]);
        fixed(&mut out, true);
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(&data);
        if streamed {
            out.extend(0x0807_4b50u32.to_le_bytes());
            out.extend(crc(content).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((content.len() as u32).to_le_bytes());
        }
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend([20, 0, 20, 0]);
        fixed(&mut central, false);
        central.extend([0u8; 12]);
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    end(&mut out, &central, entries.len() as u16);
    out
}

fn end(out: &mut Vec<u8>, central: &[u8], count: u16) {
    let at = out.len() as u32;
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend([0u8; 2]);
}

fn pom(a: &str) -> (String, Vec<u8>) {
    (
        format!("META-INF/maven/org.example/{a}/pom.properties"),
        format!("groupId=org.example\nartifactId={a}\nversion=1.0\n").into_bytes(),
    )
}

/// A jar naming `org.example:<a>:1.0` with `filler` stored bytes beside it.
fn jar(a: &str, filler: usize) -> Vec<u8> {
    let (n, b) = pom(a);
    let zeros = vec![0u8; filler];
    zip(&[Z(&n, &b, Deflated), Z("data/filler.bin", &zeros, Stored)])
}

/// The tar writer of a gzip layer file, hashing what it writes (the diff_id).
struct LayerFile {
    tar: tar::Builder<Tee>,
    path: PathBuf,
}

struct Tee {
    gz: flate2::write::GzEncoder<std::fs::File>,
    sha: Sha256,
}

impl Write for Tee {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.gz.write(b)?;
        self.sha.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.gz.flush()
    }
}

impl LayerFile {
    fn new(path: PathBuf) -> LayerFile {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        LayerFile {
            tar: tar::Builder::new(Tee {
                gz,
                sha: Sha256::new(),
            }),
            path,
        }
    }
    fn add(&mut self, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        self.tar.append_data(&mut h, name, data).unwrap();
    }
    fn finish(self) -> Layer {
        let tee = self.tar.into_inner().unwrap();
        tee.gz.finish().unwrap();
        Layer::File {
            blob: self.path,
            gzip: true,
            diff_id: format!("sha256:{}", hex::encode(tee.sha.finalize())),
        }
    }
}

/// What a measured run gives: its output, wall time and peak RSS (MiB).
struct Measured {
    out: Output,
    wall: Duration,
    rss_mib: u64,
}

fn measured_scan(server: &ScanServer, cwd: &Path, args: &[&str]) -> Measured {
    let figures = cwd.join("time.txt");
    let mut cmd = Command::new("/usr/bin/time");
    scan_env(&mut cmd, server)
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&figures)
        .arg(env!("CARGO_BIN_EXE_inspector-gate"))
        .arg("scan")
        .args(args)
        .current_dir(cwd);
    let out = cmd.output().unwrap();
    let t = std::fs::read_to_string(&figures).unwrap();
    // time prefixes "Command exited with non-zero status N" when it did.
    let mut f = t.lines().last().unwrap_or_default().split_whitespace();
    let wall: f64 = f.next().unwrap().parse().unwrap();
    let rss_kib: u64 = f.next().unwrap().parse().unwrap();
    eprintln!("scan {args:?}: {wall} s, {} MiB peak RSS", rss_kib >> 10);
    Measured {
        out,
        wall: Duration::from_secs_f64(wall),
        rss_mib: rss_kib >> 10,
    }
}

fn sbom_purls(path: &Path) -> Vec<String> {
    let sbom: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut p: Vec<String> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(String::from))
        .collect();
    p.sort();
    p
}

fn require_time() {
    assert!(
        Path::new("/usr/bin/time").exists(),
        "the bounds tests measure the binary with /usr/bin/time: apt-get install time"
    );
}

/// A 200 MiB Spring Boot fat jar of 20 nested stored jars and a jar whose 65,535
/// central-directory entries all point at one local entry: every artifact is found, once,
/// in bounded memory and time (before: the fat jar was over the 64 MiB cap and skipped, and
/// the directory bomb was inflated 65,535 times).
#[test]
fn a_fat_jar_and_a_directory_bomb_are_read_in_bounded_time_and_memory() {
    require_time();
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let mut l = LayerFile::new(tmp.path().join("layer.tar.gz"));
    l.add("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");

    let (n, b) = pom("bomb");
    let one = zip(&[Z(&n, &b, Deflated)]);
    let at = u32::from_le_bytes(one[one.len() - 6..one.len() - 2].try_into().unwrap()) as usize;
    let record = one[at..one.len() - 22].to_vec();
    let mut bomb = one[..at].to_vec();
    end(&mut bomb, &record.repeat(65_535), 65_535);
    l.add("app/bomb.jar", &bomb);

    let nested: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| {
            (
                format!("BOOT-INF/lib/lib{i}-1.0.jar"),
                jar(&format!("lib{i}"), 10 << 20),
            )
        })
        .collect();
    let (an, ab) = pom("app");
    let mut entries = vec![Z(&an, &ab, Deflated)];
    entries.extend(nested.iter().map(|(n, j)| Z(n, j, Stored)));
    let fat = zip(&entries);
    assert!(fat.len() > 200 << 20);
    l.add("app/app.jar", &fat);
    drop(fat);
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[("linux", "amd64", &[l.finish()])],
    );
    let from = format!("oci:{}", layout.display());
    let m = measured_scan(
        &server,
        tmp.path(),
        &["--from", &from, "--sbom-out", "sbom.json"],
    );
    assert_eq!(m.out.status.code(), Some(0), "{}", text(&m.out));
    let mut want: Vec<String> = (0..20)
        .map(|i| format!("pkg:maven/org.example/lib{i}@1.0"))
        .chain(["app", "bomb"].map(|a| format!("pkg:maven/org.example/{a}@1.0")))
        .collect();
    want.sort();
    assert_eq!(sbom_purls(&tmp.path().join("sbom.json")), want);
    assert!(m.rss_mib < 150, "peak RSS {} MiB", m.rss_mib);
    assert!(m.wall < Duration::from_secs(60), "{:?}", m.wall);
}

/// Forty 60 MiB jars (an 11 MB layer that held 2.47 GB before) are streamed one after the
/// other; a jar that would inflate 1 GiB from 1 MiB is over its inflate budget and named
/// (exit 3, the file and the reason on the last line), while what it named first stays.
#[test]
fn many_large_jars_stream_and_an_inflate_bomb_is_named() {
    require_time();
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let mut l = LayerFile::new(tmp.path().join("layer.tar.gz"));
    l.add("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
    for i in 0..40 {
        l.add(
            &format!("app/lib/big{i}.jar"),
            &jar(&format!("big{i}"), 60 << 20),
        );
    }
    let zeros = vec![0u8; 1 << 30];
    let (n, b) = pom("inflated");
    let inner = zip(&[Z(&n, &b, Deflated), Z("zeros.bin", &zeros, Streamed)]);
    drop(zeros);
    let (on, ob) = pom("outer");
    let outer = zip(&[
        Z(&on, &ob, Deflated),
        Z("WEB-INF/lib/zeros.jar", &inner, Deflated),
    ]);
    assert!(outer.len() < 4 << 20, "{}", outer.len());
    l.add("app/bomb.war", &outer);
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[("linux", "amd64", &[l.finish()])],
    );
    let from = format!("oci:{}", layout.display());
    let m = measured_scan(
        &server,
        tmp.path(),
        &["--from", &from, "--sbom-out", "sbom.json"],
    );
    assert_eq!(m.out.status.code(), Some(3), "{}", text(&m.out));
    let err = String::from_utf8_lossy(&m.out.stderr);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("/app/bomb.war") && last.contains("inflating it would take more than"),
        "{}",
        text(&m.out)
    );
    let purls = sbom_purls(&tmp.path().join("sbom.json"));
    // What the bomb named before it went over stays (its own artifact, the nested one's).
    assert_eq!(purls.len(), 42, "{purls:?}");
    for a in ["outer", "inflated", "big0", "big39"] {
        assert!(
            purls.contains(&format!("pkg:maven/org.example/{a}@1.0")),
            "{a}: {purls:?}"
        );
    }
    assert!(m.rss_mib < 150, "peak RSS {} MiB", m.rss_mib);
    assert!(m.wall < Duration::from_secs(90), "{:?}", m.wall);
}

/// A Go binary and a cargo-auditable Rust binary each padded past 64 MiB (over the 48 MiB held
/// in memory) are read for their build info from an image layer: Go's by its magic as it
/// streams, Rust's `.dep-v0` from a spill to an unlinked temp file that is gone afterwards
/// (before: the Rust crates of an ELF over 48 MiB were never looked for).
#[test]
fn build_info_of_binaries_over_64_mib_is_read() {
    use crate::scan_common::{layer_tar, require, run};
    require_time();
    require("objcopy", "apt-get install binutils");
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let pad = w.join("pad");
    std::fs::write(&pad, vec![0x5au8; 64 << 20]).unwrap();
    let go_small = w.join("go-small");
    let (_, go_oracle) = crate::scan_lang::go_app(w, &go_small);
    let go_big = w.join("go-big");
    run(Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".pad={}", pad.display()))
        .arg(&go_small)
        .arg(&go_big));
    let deps = serde_json::json!({"packages": [
        {"name": "tool", "version": "0.2.0", "source": "local", "kind": "runtime", "dependencies": [1], "root": true},
        {"name": "regex", "version": "1.10.4", "source": "crates.io", "kind": "runtime", "dependencies": []}]});
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&serde_json::to_vec(&deps).unwrap()).unwrap();
    let section = w.join("dep-v0");
    std::fs::write(&section, z.finish().unwrap()).unwrap();
    let rust_big = w.join("rust-big");
    // The padding before the crate list and after it: the section table is read last.
    run(Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".pad={}", pad.display()))
        .arg("--add-section")
        .arg(format!(".dep-v0={}", section.display()))
        .arg("--add-section")
        .arg(format!(".pad2={}", pad.display()))
        .arg("/bin/true")
        .arg(&rust_big));
    let go = std::fs::read(&go_big).unwrap();
    let rust = std::fs::read(&rust_big).unwrap();
    assert!(go.len() > 64 << 20 && rust.len() > 128 << 20);
    let layer = layer_tar(&[
        ("etc/os-release", Some(b"ID=debian\nVERSION_ID=\"12\"\n")),
        ("app", None),
        ("app/server", Some(&go)),
        ("app/tool", Some(&rust)),
    ]);
    drop((go, rust));
    let layout = oci_layout(
        &w.join("oci"),
        &[(
            "linux",
            "amd64",
            &[Layer::Tar {
                tar: layer,
                gzip: true,
            }],
        )],
    );
    let spill = w.join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let from = format!("oci:{}", layout.display());
    let figures = w.join("time.txt");
    let mut cmd = Command::new("/usr/bin/time");
    scan_env(&mut cmd, &server)
        .env("TMPDIR", &spill)
        .args(["-f", "%e %M", "-o"])
        .arg(&figures)
        .arg(env!("CARGO_BIN_EXE_inspector-gate"))
        .args(["scan", "--from", &from, "--sbom-out", "sbom.json"])
        .current_dir(w);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = std::fs::read_to_string(&figures).unwrap();
    eprintln!("large binaries: {t}");
    let rss_mib: u64 = t.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() >> 10;
    let purls = sbom_purls(&w.join("sbom.json"));
    for p in ["pkg:cargo/regex@1.10.4", "pkg:cargo/tool@0.2.0"] {
        assert!(purls.contains(&p.to_string()), "{p}: {purls:?}");
    }
    for (name, version) in &go_oracle {
        let p = format!("pkg:golang/{name}@{version}");
        assert!(purls.contains(&p), "{p}: {purls:?}");
    }
    assert!(rss_mib < 150, "peak RSS {rss_mib} MiB");
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "the spill is gone"
    );
}

/// A lockfile naming `dep<i>@1.0.0`, padded with whitespace to `size` bytes (valid JSON,
/// compressible, nothing for the parser to allocate).
fn padded_lockfile(i: usize, size: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"lockfileVersion":3,"packages":{{"":{{"name":"app{i}"}},"node_modules/dep{i}":{{"version":"1.0.0"}}}}"#
    );
    let mut b = head.into_bytes();
    b.resize(size - 1, b' ');
    b.push(b'}');
    b
}

/// Forty 60 MiB lockfiles (each under its 64 MiB cap; 2.4 GiB in all from a ~10 MB layer)
/// are held within the scan's total budget ([`MAX_HELD`]): what does not fit in memory is
/// spilled to `TMPDIR` and read back when catalogued, so every lockfile is read (before: all
/// of them were held at once, 2.4 GiB peak RSS). With nowhere to spill (`TMPDIR` missing),
/// each one that did not fit is named as not read (exit 3), never silently skipped.
///
/// [`MAX_HELD`]: ../../src/scan/layers/held.rs
#[test]
fn many_large_lockfiles_are_held_within_the_total_budget() {
    require_time();
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let mut l = LayerFile::new(tmp.path().join("layer.tar.gz"));
    l.add("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
    for i in 0..40 {
        l.add(
            &format!("srv/app{i}/package-lock.json"),
            &padded_lockfile(i, 60 << 20),
        );
    }
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[("linux", "amd64", &[l.finish()])],
    );
    let from = format!("oci:{}", layout.display());
    let spill = tmp.path().join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let mut want: Vec<String> = (0..40).map(|i| format!("pkg:npm/dep{i}@1.0.0")).collect();
    want.sort();

    let figures = tmp.path().join("time.txt");
    let run = |tmpdir: &Path, sbom: &str| {
        let mut cmd = Command::new("/usr/bin/time");
        scan_env(&mut cmd, &server)
            .env("TMPDIR", tmpdir)
            .args(["-f", "%e %M", "-o"])
            .arg(&figures)
            .arg(env!("CARGO_BIN_EXE_inspector-gate"))
            .args(["scan", "--from", &from, "--sbom-out", sbom])
            .current_dir(tmp.path());
        let out = cmd.output().unwrap();
        let t = std::fs::read_to_string(&figures).unwrap();
        let mut f = t.lines().last().unwrap_or_default().split_whitespace();
        let wall: f64 = f.next().unwrap().parse().unwrap();
        let rss_mib = f.next().unwrap().parse::<u64>().unwrap() >> 10;
        eprintln!(
            "40 x 60 MiB lockfiles, TMPDIR {}: {wall} s, {rss_mib} MiB peak RSS",
            tmpdir.display()
        );
        (out, rss_mib)
    };

    let (out, rss_mib) = run(&spill, "sbom.json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(sbom_purls(&tmp.path().join("sbom.json")), want);
    assert!(rss_mib < 512, "peak RSS {rss_mib} MiB");
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "the spill is gone"
    );

    // Nowhere to spill: the lockfiles that fit are read, every other one is named.
    let (out, rss_mib) = run(&tmp.path().join("missing"), "partial.json");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let found = sbom_purls(&tmp.path().join("partial.json"));
    assert!(!found.is_empty() && found.len() < 40, "{found:?}");
    for i in 0..40 {
        let purl = format!("pkg:npm/dep{i}@1.0.0");
        let named = err
            .lines()
            .any(|l| l.contains(&format!("/srv/app{i}/package-lock.json")) && l.contains("spill"));
        assert!(
            found.contains(&purl) != named,
            "app{i}: read {} named {named}\n{}",
            found.contains(&purl),
            text(&out)
        );
    }
    assert!(rss_mib < 512, "peak RSS {rss_mib} MiB");
}
