//! What the unit tests of several modules share: measuring this process, and the hostile
//! archive both image readers' tests refuse.

/// Peak resident memory of this process (nextest runs each test in its own), in KiB; 0 where
/// /proc does not say.
pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A tar file whose first entry is a PAX header declaring 300 MiB of records, the records a
/// sparse hole (512 bytes are written): a reader must refuse it without buffering them.
pub(crate) fn pax_header_bomb() -> tempfile::NamedTempFile {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    let declared: u64 = 300 * 1024 * 1024;
    h.set_size(declared);
    h.set_path("PaxHeaders/x").unwrap();
    h.set_cksum();
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), h.as_bytes()).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(f.path())
        .unwrap()
        .set_len(512 + declared + 1024)
        .unwrap();
    f
}
