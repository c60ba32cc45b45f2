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
    let peers = [("syft", syft(&src)), ("trivy", trivy(&trivy_args))];
    println!(
        "COMPARE {src}: ours {} (unread {}), syft {}, trivy {}",
        ours.len(),
        inv.unread.len(),
        peers[0].1.len(),
        peers[1].1.len()
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
