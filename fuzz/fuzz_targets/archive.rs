//! Fuzz the readers of image archives as `push --push-from` uses them: the input is written
//! to a file and read as an `oci-archive:` and as a `docker-archive:` (tar index built in
//! place, links resolved inside the archive, oci-layout / index.json / manifests / configs
//! parsed, docker layers compressed), up to where blobs would be uploaded. Invariants: no
//! panic, no hang; nothing outside the archive is read.
#![no_main]

use inspector_gate::registry::{fuzzing, SourceSpec};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("inspector-gate-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let file = scratch().join("input.tar");
    std::fs::write(&file, data).expect("write input");
    for spec in [SourceSpec::OciArchive(file.clone()), SourceSpec::DockerArchive(file.clone())] {
        if let Err(e) = fuzzing::read_source(spec) {
            assert!(!e.to_string().contains('\n'));
        }
    }
});
