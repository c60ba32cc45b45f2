//! Not a test: the measuring harness `scripts/bench-scan` runs (ignored in normal test runs).
//! It catalogues `SCAN_BENCH_SOURCE` (any `scan --from` source) once and prints one line of
//! figures; the script measures its time and peak RSS from outside and prints them beside
//! trivy's (cdxgen's OS cataloguer) on the same input. Once the `scan` subcommand is wired into
//! the binary, the script can run that instead.

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
