//! The local scan's one deadline and its signals, on the real binary as a child: `--timeout`
//! covers cataloguing (a layer or a root filesystem that would take minutes ends at the
//! deadline with exit 3, measured with `/usr/bin/time`: wall time and peak RSS), and SIGTERM /
//! SIGINT sent to the child's own PID mid-catalogue end it with exit 4 within the bound,
//! leaving no report, no SBOM and no temporary file (before: the deadline did not cover
//! cataloguing, and the runtime waited for the catalogue to finish before exiting on a signal).

use crate::scan_cli::{scan_env, text};
use crate::scan_common::{oci_layout, Layer};
use crate::signals_e2e::{wait_until, Running};
use crate::support::scan_server::ScanServer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long after its deadline or a signal the process may still run: a ceiling for a
/// loaded 2-core CI machine (the figures printed are tens of milliseconds).
const BOUND: Duration = Duration::from_secs(3);

/// Each source holds this much to read: far more than any machine reads within [`BOUND`]
/// past a 1 s deadline (about 10 s at 2–4 GB/s), so a run that ends in time was ended by
/// the deadline or the signal.
const GIB: u64 = 32;

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// An OCI layout of one gzip layer whose tar holds one file of [`GIB`] GiB of zeros, made of
/// one 64 MiB gzip member repeated (concatenated members are one gzip stream): 33 MB on
/// disk. The config's diff_id is not the tar's (the scan checks the blob's digest, and
/// hashing 32 GiB here would take longer than the test).
fn zeros_layout(dir: &Path) -> String {
    const CHUNK: u64 = 64 << 20;
    let blob = dir.join("zeros.tar.gz");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&blob).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_path("data/zeros.bin").unwrap();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(GIB << 30);
    h.set_mode(0o644);
    h.set_cksum();
    f.write_all(&gz(h.as_bytes())).unwrap();
    let member = gz(&vec![0u8; CHUNK as usize]);
    for _ in 0..(GIB << 30) / CHUNK {
        f.write_all(&member).unwrap();
    }
    f.write_all(&gz(&[0u8; 1024])).unwrap();
    f.into_inner().unwrap().sync_all().unwrap();
    let layout = oci_layout(
        &dir.join("oci"),
        &[(
            "linux",
            "amd64",
            &[Layer::File {
                blob,
                gzip: true,
                diff_id: format!("sha256:{}", "0".repeat(64)),
            }],
        )],
    );
    format!("oci:{}", layout.display())
}

/// A root filesystem holding a sparse [`GIB`] GiB ELF file (no disk used): the binary reader
/// reads every byte of it looking for Go's build info.
fn sparse_elf_root(dir: &Path) -> String {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    let mut f = std::fs::File::create(root.join("usr/bin/huge")).unwrap();
    f.write_all(b"\x7fELF\x02\x01\x01\x00").unwrap();
    f.set_len(GIB << 30).unwrap();
    format!("dir:{}", root.display())
}

fn scan(server: &ScanServer, cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inspector-gate"));
    scan_env(&mut cmd, server).arg("scan").current_dir(cwd);
    cmd
}

/// The files a run left in `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn the_timeout_covers_cataloguing_a_layer_and_a_root_filesystem() {
    assert!(
        Path::new("/usr/bin/time").exists(),
        "this test measures the binary with /usr/bin/time: apt-get install time"
    );
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let sources = [
        (zeros_layout(tmp.path()), "still reading layer 1 of"),
        (
            sparse_elf_root(tmp.path()),
            "still reading /usr/bin/huge in",
        ),
    ];
    for (from, reading) in &sources {
        let cwd = tempfile::tempdir().unwrap();
        let figures = cwd.path().join("time.txt");
        let mut cmd = Command::new("/usr/bin/time");
        scan_env(&mut cmd, &server)
            .args(["-f", "%e %M", "-o"])
            .arg(&figures)
            .arg(env!("CARGO_BIN_EXE_inspector-gate"))
            .args(["scan", "--timeout", "1s", "--from", from])
            .args(["--report-dir", "reports", "--sbom-out", "sbom.json"])
            .current_dir(cwd.path());
        let out = cmd.output().unwrap();
        let t = std::fs::read_to_string(&figures).unwrap();
        let mut f = t.lines().last().unwrap_or_default().split_whitespace();
        let wall = Duration::from_secs_f64(f.next().unwrap().parse().unwrap());
        let rss_mib = f.next().unwrap().parse::<u64>().unwrap() >> 10;
        eprintln!(
            "{from}: --timeout 1s: exit {:?} after {wall:?} (overrun {:?}), {rss_mib} MiB peak RSS",
            out.status.code(),
            wall.saturating_sub(Duration::from_secs(1))
        );
        assert_eq!(out.status.code(), Some(3), "{from}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.contains("the scan did not finish within its --timeout of 1s")
                && last.contains(reading)
                && last.contains("give it more time with --timeout"),
            "{from}: {}",
            text(&out)
        );
        assert!(wall >= Duration::from_secs(1), "{from}: {wall:?}");
        assert!(
            wall <= Duration::from_secs(1) + BOUND,
            "{from}: ended {wall:?} after the start, its deadline was 1s"
        );
        assert!(rss_mib < 100, "{from}: peak RSS {rss_mib} MiB");
        assert_eq!(
            files_in(&cwd.path().join("reports")),
            Vec::<PathBuf>::new(),
            "{from}"
        );
        assert!(!cwd.path().join("sbom.json").exists(), "{from}");
    }
    assert!(server.calls().is_empty(), "ScanSbom was called");
}

/// The bytes the child has read so far (`rchar` of /proc/PID/io).
fn read_so_far(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("rchar: ").map(|n| n.parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

#[test]
fn sigterm_and_sigint_mid_catalogue_exit_4_at_once_leaving_nothing_half_written() {
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let runs = [
        ("TERM", zeros_layout(tmp.path())),
        ("INT", sparse_elf_root(tmp.path())),
    ];
    for (sig, from) in &runs {
        let cwd = tempfile::tempdir().unwrap();
        let mut cmd = scan(&server, cwd.path());
        cmd.args(["--timeout", "10m", "--from", from]).args([
            "--report-dir",
            "reports",
            "--sbom-out",
            "sbom.json",
        ]);
        let mut r = Running::spawn(cmd);
        let pid = r.pid();
        // Mid-catalogue: the scan has begun and has read a few MiB of its source.
        let started = wait_until(Duration::from_secs(30), || {
            r.stderr().contains("cataloguing packages") && read_so_far(pid) > 4 << 20
        });
        assert!(
            started,
            "SIG{sig} {from}: the catalogue never got going:\n{}",
            r.stderr()
        );
        r.signal(sig);
        let (status, took) = r.exit_within(BOUND);
        let err = r.all_stderr();
        let status = status.unwrap_or_else(|| {
            panic!("SIG{sig} {from}: still running {took:?} after the signal (killed):\n{err}")
        });
        eprintln!(
            "SIG{sig} {from}: exit {:?} {took:?} after the signal",
            status.code()
        );
        assert!(
            took <= BOUND,
            "SIG{sig} {from}: exited {took:?} after the signal:\n{err}"
        );
        assert_eq!(status.code(), Some(4), "SIG{sig} {from}:\n{err}");
        assert!(
            err.trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.contains(&format!("interrupted by SIG{sig}"))),
            "SIG{sig} {from}:\n{err}"
        );
        // Nothing half-written: no report, no SBOM, no temporary file beside them.
        assert_eq!(
            files_in(&cwd.path().join("reports")),
            Vec::<PathBuf>::new(),
            "SIG{sig} {from}"
        );
        let left: Vec<PathBuf> = files_in(cwd.path());
        assert!(
            left.iter().all(|p| p.ends_with("reports")),
            "SIG{sig} {from}: left {left:?}"
        );
    }
    assert!(server.calls().is_empty(), "ScanSbom was called");
}

/// Whether `pid` is a live process (a zombie is not: it has exited, only its entry is left).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// A `docker:` source's `docker save` (a fake `docker` on PATH that writes its PID and
/// sleeps) is killed and reaped when the scan stops, at its `--timeout` (exit 3) and on
/// SIGTERM (exit 4): once the run has exited, the child's PID is gone (before: the scan
/// exited 0.5 s past its stop and left `docker save` running, orphaned).
#[test]
fn a_stopped_scan_kills_its_docker_save() {
    use std::os::unix::fs::PermissionsExt;
    let server = ScanServer::start(vec![], vec![]);
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        "#!/bin/sh\necho $$ > \"$FAKE_DOCKER_PID\".partial\nmv \"$FAKE_DOCKER_PID\".partial \"$FAKE_DOCKER_PID\"\nexec sleep 600\n",
    )
    .unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    for (how, timeout, code) in [("--timeout", "1s", 3), ("SIGTERM", "10m", 4)] {
        let pidfile = tmp
            .path()
            .join(format!("{}.pid", how.trim_start_matches('-')));
        let mut cmd = scan(&server, tmp.path());
        cmd.env("PATH", &path)
            .env("FAKE_DOCKER_PID", &pidfile)
            .args(["--timeout", timeout, "--from", "docker:app:1"]);
        let mut r = Running::spawn(cmd);
        let started = wait_until(Duration::from_secs(30), || pidfile.exists());
        assert!(started, "{how}: docker save never ran:\n{}", r.stderr());
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(pid), "{how}: the fake docker save is not running");
        if how == "SIGTERM" {
            r.signal("TERM");
        }
        let (status, took) = r.exit_within(BOUND + Duration::from_secs(1));
        let err = r.all_stderr();
        let gone = wait_until(Duration::from_secs(2), || !alive(pid));
        if !gone {
            // Stopped here by its PID, so the test leaves nothing behind either way.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        eprintln!(
            "{how}: exit {:?} after {took:?}; docker save gone: {gone}",
            status.map(|s| s.code())
        );
        assert_eq!(status.and_then(|s| s.code()), Some(code), "{how}:\n{err}");
        assert!(
            gone,
            "{how}: docker save (pid {pid}) still running after the scan exited:\n{err}"
        );
    }
    assert!(server.calls().is_empty(), "ScanSbom was called");
}
