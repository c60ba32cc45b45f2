//! Fuzz the policy file parser (`policy::file::parse`) and validation (`resolve`), then
//! evaluate the resulting policy against a fixed set of findings. Invariants: no panic;
//! every rejection is a usage error (exit 2) on one line.
#![no_main]

use inspector_gate::findings_file::parse_findings;
use inspector_gate::policy::eval::evaluate;
use inspector_gate::policy::file::{parse, resolve, Source};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const FINDINGS: &str = r#"[
 {"id":"CVE-2023-4863","severity":"CRITICAL","title":"libwebp","fixAvailable":"YES","exploitAvailable":"YES",
  "inspectorScore":8.8,"epssScore":0.5,"packages":[{"name":"libwebp7","version":"1.2.4"}],"repository":"app/web"},
 {"id":"CVE-2024-0002","severity":"LOW","title":"zlib","fixAvailable":"NO","packages":[],"repository":"app/web"},
 {"id":"GHSA-xvch-5gv4-984h","severity":"HIGH","title":"lodash","epssScore":0.01,"packages":[{"name":"lodash"}]}
]"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let layer = match parse(text, Path::new("fuzz.toml")) {
        Ok(l) => l,
        Err(e) => {
            assert_eq!(e.exit_code(), 2);
            assert!(!e.to_string().contains('\n'));
            return;
        }
    };
    let resolved = match resolve(&[(layer, Source::File("fuzz.toml".into()))]) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(e.exit_code(), 2);
            return;
        }
    };
    let images = parse_findings(FINDINGS, "fixed findings").expect("fixed findings parse");
    let today = time::macros::date!(2026 - 06 - 01);
    for img in &images {
        let _ = evaluate(&resolved.policy, &img.findings, Some("app/web"), today);
    }
});
