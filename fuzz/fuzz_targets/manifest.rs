//! Fuzz the manifest and index parsers: `aws::ecr::index_children` (what ECR returns for a
//! tag, expanded into per-platform digests) and the push's reading of manifests, indexes,
//! `index.json`, `docker save` manifest.json and image configs (`registry::fuzzing`), plus
//! archive entry names and link targets. Invariants: no panic; every accepted digest maps to
//! a blob path inside the layout; every accepted archive path stays inside the archive.
#![no_main]

use inspector_gate::aws::ecr::index_children;
use inspector_gate::registry::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzzing::manifest(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(Some(children)) = index_children(text) {
            for (digest, platform) in children {
                let _ = (digest.len(), platform.len());
            }
        }
        // The same bytes as an entry name and a link target, split at the first NUL.
        let (name, target) = text.split_once('\0').unwrap_or((text, ""));
        fuzzing::archive_path(name, target);
    }
});
