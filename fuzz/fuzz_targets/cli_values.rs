//! Fuzz the values users type on the command line: image references (`--image`), image
//! sources (`--push-from`), durations (`--timeout`) and approval targets (`--approve`).
//! Invariants: no panic; an accepted image reference prints back to itself.
#![no_main]

use inspector_gate::approval::ApprovalTarget;
use inspector_gate::image_ref::{ImageRef, Target};
use inspector_gate::registry::SourceSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match s.parse::<ImageRef>() {
        Ok(r) => {
            let again: ImageRef = r.to_string().parse().expect("a parsed reference re-parses");
            assert_eq!(again.repository, r.repository);
            assert_eq!(again.target, r.target);
            if let Target::Digest(d) = &r.target {
                assert!(inspector_gate::image_ref::is_valid_digest(d));
            }
        }
        Err(e) => assert_eq!(e.exit_code(), 2),
    }
    if let Ok(spec) = s.parse::<SourceSpec>() {
        let _ = spec.to_string();
    }
    let _ = inspector_gate::duration::parse_duration(s);
    let _ = ApprovalTarget::parse_with(s, Some("codepipeline/fuzz"));
    let _ = ApprovalTarget::parse_with(s, None);
});
