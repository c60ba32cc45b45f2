//! Not a test: the measuring harness `scripts/bench-scan` runs (ignored in normal test runs).
//! It catalogues `SCAN_BENCH_SOURCE` (any `scan --from` source) once and prints one line of
//! figures; the script measures its time and peak RSS from outside and prints them beside
//! trivy's (cdxgen's OS cataloguer) on the same input. Once the `scan` subcommand is wired into
//! the binary, the script can run that instead.
//!
//! `compare_peers_for_bench` (`scripts/bench-scan --explain`) prints, for the same source, the
//! package table against syft and trivy: how many each finds, what a peer finds that the scan
//! neither reports nor names as unread (missed), and what only the scan reports (extra), each
//! with the file it was read from. It compares as the oracle tests do (`scan_common`'s keys and
//! filters), so the table and the tests cannot disagree on what counts as the same package.
//! `SCAN_BENCH_PEERS=syft` leaves trivy out (a tree trivy cannot read offline: jars).
//!
//! `trees_for_bench` builds the oracle tests' trees with the tests' own builders — pip and npm
//! (cached), Go, rpm (sqlite at both locations, Berkeley DB), cargo-auditable and a fat jar
//! (into the scan cache's `bench-trees/<name>`) — and prints `TREE <name> <dir>` for each,
//! for `--explain` to compare.

use inspector_gate::scan::layers::ScanSource;
use inspector_gate::scan::{catalogue, sbom};
use std::time::Instant;

#[test]
#[ignore = "benchmark harness: run by scripts/bench-scan"]
fn catalogue_for_bench() {
    let src = std::env::var("SCAN_BENCH_SOURCE").expect("set SCAN_BENCH_SOURCE");
    let source: ScanSource = src.parse().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let invs = catalogue(&source).unwrap_or_else(|e| panic!("{e}"));
    let seconds = started.elapsed().as_secs_f64();
    let all: usize = invs.iter().map(|i| i.packages.len()).sum();
    let os: usize = invs
        .iter()
        .flat_map(|i| &i.packages)
        .filter(|p| p.ecosystem.is_os())
        .count();
    if let Ok(out) = std::env::var("SCAN_BENCH_SBOM") {
        let subject = sbom::Subject {
            name: src.clone(),
            platform: invs[0].platform.clone(),
        };
        let (doc, _) = sbom::documents(&subject, &invs[0], "2026-01-01T00:00:00Z");
        std::fs::write(out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }
    println!("BENCH packages={all} os_packages={os} seconds={seconds:.3}");
}

#[test]
#[ignore = "benchmark harness: run by scripts/bench-scan --explain"]
fn compare_peers_for_bench() {
    use crate::scan_common::{peer_key, syft, trivy, PeerKey};
    use std::collections::{BTreeMap, BTreeSet};
    let src = std::env::var("SCAN_BENCH_SOURCE").expect("set SCAN_BENCH_SOURCE");
    let source: ScanSource = src.parse().unwrap_or_else(|e| panic!("{e}"));
    let invs = catalogue(&source).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(invs.len(), 1, "one platform to compare");
    let inv = &invs[0];
    let (kind, path) = src.split_once(':').expect("kind:path");
    let trivy_args: Vec<&str> = match kind {
        "dir" => vec!["rootfs", path],
        "docker-archive" => vec!["image", "--input", path],
        other => panic!("compare supports dir: and docker-archive:, not {other}:"),
    };
    let ours: BTreeMap<PeerKey, &str> = inv
        .packages
        .iter()
        .filter_map(|p| Some((peer_key(&p.purl)?, p.location.as_str())))
        .collect();
    let only = std::env::var("SCAN_BENCH_PEERS").unwrap_or_default();
    let mut peers = vec![("syft", syft(&src))];
    if only.is_empty() || only.split(',').any(|p| p == "trivy") {
        peers.push(("trivy", trivy(&trivy_args)));
    }
    let counts: Vec<String> = peers
        .iter()
        .map(|(p, f)| format!("{p} {}", f.len()))
        .collect();
    println!(
        "COMPARE {src}: ours {} (unread {}), {}",
        ours.len(),
        inv.unread.len(),
        counts.join(", ")
    );
    for u in &inv.unread {
        println!("  unread  {}: {}", u.path, u.reason);
    }
    for (peer, found) in &peers {
        let names: BTreeSet<(&str, &str)> = found
            .keys()
            .map(|(t, n, _)| (t.as_str(), n.as_str()))
            .collect();
        let types: BTreeSet<&str> = found.keys().map(|(t, _, _)| t.as_str()).collect();
        let missed: Vec<_> = found
            .iter()
            .filter(|(k, _)| !ours.contains_key(*k))
            .collect();
        let extra: Vec<_> = ours
            .iter()
            .filter(|(k, _)| !found.contains_key(*k))
            .collect();
        println!(
            "  {peer}: missed by us {}, extra in ours {}",
            missed.len(),
            extra.len()
        );
        for ((t, n, v), locs) in missed {
            let why = if inv.unread.iter().any(|u| locs.contains(&u.path)) {
                "named unread"
            } else {
                "NOT FOUND"
            };
            println!("    missed {t} {n} {v} from {locs:?}: {why}");
        }
        for ((t, n, v), loc) in extra {
            let why = if names.contains(&(t.as_str(), n.as_str())) {
                "the peer has another version"
            } else if !types.contains(t.as_str()) {
                "the peer reports no package of this type here"
            } else {
                "not in the peer's list"
            };
            println!("    extra  {t} {n} {v} from {loc}: {why}");
        }
    }
}

#[test]
#[ignore = "benchmark harness: run by scripts/bench-scan --explain"]
fn trees_for_bench() {
    use crate::{scan_lang, scan_rpm};
    let base = crate::scan_common::cache_dir().join("bench-trees");
    let fresh = |name: &str| {
        let work = base.join(name);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        work
    };
    let rpms = scan_rpm::build_rpms(&fresh("rpms"));
    let trees = [
        ("pip", scan_lang::pip_tree()),
        ("npm", scan_lang::npm_tree()),
        ("go", scan_lang::go_root(&fresh("go")).0),
        (
            "rpm-sqlite",
            scan_rpm::rpm_root(&fresh("rpm-sqlite"), &rpms, "var/lib/rpm", scan_rpm::AL2023),
        ),
        (
            "rpm-fedora",
            scan_rpm::rpm_root(
                &fresh("rpm-fedora"),
                &rpms,
                "usr/lib/sysimage/rpm",
                scan_rpm::FEDORA40,
            ),
        ),
        ("rpm-bdb", scan_rpm::al2_root(&fresh("rpm-bdb"), &rpms)),
        ("cargo", scan_lang::cargo_root(&fresh("cargo"))),
        (
            "jar",
            scan_lang::java_root(&fresh("jar"), &scan_lang::debian_jars()),
        ),
    ];
    for (name, dir) in trees {
        println!("TREE {name} {}", dir.display());
    }
}
