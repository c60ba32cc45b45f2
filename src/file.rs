//! Writing the files a run leaves behind (reports, SBOMs, hand-off files, the CodeBuild env
//! file): whole or not at all. Each is written to a temporary file beside it and renamed over
//! it, so a reader (a deploy step, a CI upload, the next run) never sees half of one — not
//! after a full disk, a crash or a signal — and an earlier version stays until the new one
//! is complete.

use crate::error::{Error, Result};
use std::io::{self, Write};
use std::path::Path;

/// Replace `path` with exactly `bytes`. A symbolic link at `path` is replaced, not written
/// through (a checkout cannot point a report at a file elsewhere); a regular file there keeps
/// its permissions; a new file gets them as `std::fs::write` would (0666 less the umask).
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    put(path, bytes, None)
}

/// [`replace`], the file getting exactly `mode` (Unix permission bits, the umask not applied)
/// before it is renamed into place, whatever was there: a git hook is executable from the
/// moment it exists. Elsewhere than Unix the mode is not set.
pub fn replace_with_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    put(path, bytes, Some(mode))
}

fn put(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let existing = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions());
    let mut b = tempfile::Builder::new();
    b.prefix(".inspector-gate-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = b.tempfile_in(dir)?;
    if let Some(p) = existing {
        tmp.as_file().set_permissions(p)?;
    }
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(m))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// [`replace`], naming the file in the error.
pub fn write(path: &Path, text: &str) -> Result<()> {
    replace(path, text.as_bytes())
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_a_link_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        write(&p, "first").unwrap();
        write(&p, "second, longer").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second, longer");
        // Nothing is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let outside = dir.path().join("outside");
            std::fs::write(&outside, "keep").unwrap();
            let link = dir.path().join("summary.md");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            write(&link, "report").unwrap();
            assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
            assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
            // An existing file keeps its mode; a new one is not the temp file's 0600.
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
            write(&p, "third").unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o640);
            let fresh = dir.path().join("junit.xml");
            write(&fresh, "x").unwrap();
            assert_ne!(mode(&fresh), 0o600);
        }
        // A mode given is the file's before it is in place, over an existing file's too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            let hook = dir.path().join("pre-push");
            replace_with_mode(&hook, b"#!/bin/sh\n", 0o755).unwrap();
            assert_eq!(mode(&hook), 0o755);
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o600)).unwrap();
            replace_with_mode(&hook, b"#!/bin/sh\nexit 0\n", 0o755).unwrap();
            assert_eq!(mode(&hook), 0o755);
            assert_eq!(std::fs::read(&hook).unwrap(), b"#!/bin/sh\nexit 0\n");
        }
        // A directory that does not exist is an error naming the file.
        let e = write(&dir.path().join("no/such/file"), "x").unwrap_err();
        assert!(e.message.contains("no/such/file"), "{e}");
    }
}
