//! Fuzz the manifest and index parsers: the image source's reading of manifests, indexes,
//! `index.json`, `docker save` manifest.json and image configs, and `oci::classify` (the rule that picks an index's runnable children, for
//! ECR, the push and the scan alike) through `image::fuzzing`, plus
//! archive entry names and link targets. Invariants: no panic; every accepted digest maps to
//! a blob path inside the layout; every accepted archive path stays inside the archive.
#![no_main]

use inspector_gate::image::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzzing::manifest(data);
    if let Ok(text) = std::str::from_utf8(data) {
        // The same bytes as an entry name and a link target, split at the first NUL.
        let (name, target) = text.split_once('\0').unwrap_or((text, ""));
        fuzzing::archive_path(name, target);
    }
});
