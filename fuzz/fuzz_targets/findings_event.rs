//! Fuzz the readers of saved scan results: findings files (`findings_file::parse_findings`:
//! our JSON, `aws inspector2 list-findings` output, a bare array), `Inspector2 Scan` events
//! (`findings_file::parse_event`) and `report.json` (`Report::from_json`, read by `approve`).
//! Whatever parses is evaluated and rendered by every reporter. Invariants: no panic;
//! rejections are usage errors (exit 2).
#![no_main]

use inspector_gate::findings_file::{parse_event, parse_findings, ImageFindings};
use inspector_gate::policy::eval::evaluate;
use inspector_gate::policy::Policy;
use inspector_gate::report::{self, ImageReport, Report};
use libfuzzer_sys::fuzz_target;

fn render(images: Vec<ImageFindings>) {
    // Rendering is linear in the findings; keep each run fast.
    if images.iter().map(|i| i.findings.len()).sum::<usize>() > 500 {
        return;
    }
    let policy = Policy::default();
    let today = time::macros::date!(2026 - 06 - 01);
    let reports = images
        .into_iter()
        .map(|i| {
            let evaluation = evaluate(&policy, &i.findings, Some(&i.image.repository), today);
            ImageReport { scan: i.scan.clone().unwrap_or_default(), image: i.image, evaluation }
        })
        .collect();
    let r = Report::new("2026-06-01T00:00:00Z".into(), policy, reports);
    let json = report::json::render(&r);
    let _ = report::sarif::render(&r);
    let _ = report::junit::render(&r);
    let _ = report::markdown::render(&r);
    let _ = report::table::render(&r, &report::table::Layout { color: true, ..Default::default() });
    Report::from_json(&json).expect("our own report.json reads back");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_findings(text, "fuzz") {
        Ok(images) => render(images),
        Err(e) => assert_eq!(e.exit_code(), 2),
    }
    match parse_event(text, "fuzz") {
        Ok(image) => render(vec![image]),
        Err(e) => assert_eq!(e.exit_code(), 2),
    }
    let _ = Report::from_json(text);
});
