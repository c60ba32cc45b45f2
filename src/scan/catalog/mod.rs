//! Catalogers: each turns the files it asked for into packages.
//!
//! [`want`] is the single place that decides which files of an image are kept (and with
//! which size cap); [`catalogue`] runs every cataloger over the kept files. A cataloger never
//! fails the scan, and never drops what it cannot use silently: a wanted file it could not
//! read (over its cap, malformed, of an unknown format) and a package database it could not
//! parse are each an [`Unread`] in [`Inventory::unread`], naming the file and the reason.

pub mod apk;
pub mod dpkg;
pub mod golang;
pub mod java;
pub mod npm;
pub mod python;
pub mod rpm;
pub mod ruby;
pub mod rust;

use super::layers::{FileTree, Kept, Unread, Want};
use super::{Distro, Inventory, Package};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// The smallest file read as a possible compiled program: no Go or Rust binary is smaller.
const MIN_BINARY: u64 = 4 * KIB;

/// rpm databases: where rpm keeps them (Fedora 36+ moved them to /usr/lib/sysimage/rpm, with
/// /var/lib/rpm a link to it).
pub(crate) const RPM_DIRS: [&str; 2] = ["var/lib/rpm", "usr/lib/sysimage/rpm"];

/// Which files of an image the catalogers need, and up to what size each is kept.
pub fn want(path: &str, size: u64, executable: bool) -> Want {
    let base = path.rsplit('/').next().unwrap_or(path);
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let bytes = |cap| Want::Bytes { cap };
    match path {
        "etc/os-release" | "usr/lib/os-release" => return bytes(64 * KIB),
        "var/lib/dpkg/status" | "lib/apk/db/installed" => return bytes(64 * MIB),
        _ => {}
    }
    if dir == "var/lib/dpkg/status.d" && !base.ends_with(".md5sums") {
        return bytes(MIB);
    }
    if RPM_DIRS.contains(&dir) && matches!(base, "rpmdb.sqlite" | "rpmdb.sqlite-wal" | "Packages") {
        return bytes(512 * MIB);
    }
    if base == "package.json" && npm::is_installed_manifest(path) {
        return bytes(MIB);
    }
    if base == "package-lock.json" && !path.contains("node_modules/") {
        return bytes(64 * MIB);
    }
    if (base == "METADATA" && dir.ends_with(".dist-info"))
        || (base == "PKG-INFO" && dir.ends_with(".egg-info"))
        || (base.ends_with(".egg-info") && !executable)
    {
        return bytes(4 * MIB);
    }
    // Installed gems, and Ruby's default gems (specifications/default).
    if base.ends_with(".gemspec")
        && (dir.ends_with("specifications") || dir.ends_with("specifications/default"))
    {
        return bytes(MIB);
    }
    if base == "Cargo.lock" {
        return bytes(16 * MIB);
    }
    if java::is_archive(base) {
        return Want::Java;
    }
    // Go and Rust binaries: decided from content, not mode bits (a binary COPY'd without
    // chmod, or made executable by the entrypoint, is still a program the container runs).
    // Every other file big enough to be a compiled program is handed to the binary reader,
    // which stops at the first 4 bytes of anything that is not ELF.
    if size >= MIN_BINARY {
        return Want::Binary;
    }
    Want::Skip
}

/// Run every cataloger over `tree`.
pub fn catalogue(tree: &FileTree, platform: Option<String>) -> Inventory {
    let mut inv = Inventory {
        platform,
        distro: os_release(tree),
        unread: tree.unread.clone(),
        ..Inventory::default()
    };
    let distro = inv.distro.clone();
    let d = distro.as_ref();
    dpkg::catalog(tree, d, &mut inv);
    apk::catalog(tree, d, &mut inv);
    rpm::catalog(tree, d, &mut inv);
    npm::catalog(tree, &mut inv);
    python::catalog(tree, &mut inv);
    java::catalog(tree, &mut inv);
    golang::catalog(tree, &mut inv);
    rust::catalog(tree, &mut inv);
    ruby::catalog(tree, &mut inv);
    for (path, kept) in &tree.files {
        if let Kept::Binary(super::binary::BinaryInfo {
            unread: Some(why), ..
        }) = kept
        {
            unread(&mut inv, path, why.clone());
        }
        if let Kept::TooLarge { size, cap } = kept {
            unread(
                &mut inv,
                path,
                format!(
                    "{} bytes, over the {} bytes the scan reads of such a file",
                    size, cap
                ),
            );
        }
        if let Kept::NotRead(why) = kept {
            unread(&mut inv, path, why.clone());
        }
    }
    inv.unread.extend(tree.failed.take());
    inv.normalise();
    inv
}

/// The distribution from `/etc/os-release` (or `/usr/lib/os-release`, which the former
/// usually links to).
pub fn os_release(tree: &FileTree) -> Option<Distro> {
    let bytes = tree
        .bytes("etc/os-release")
        .or_else(|| tree.bytes("usr/lib/os-release"))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut d = Distro::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
        match k.trim() {
            "ID" => d.id = v,
            "VERSION_ID" => d.version_id = v,
            "PRETTY_NAME" => d.pretty_name = Some(v),
            _ => {}
        }
    }
    (!d.id.is_empty()).then_some(d)
}

/// RFC 822-style paragraphs (dpkg status, apk's `K:value` lines are handled by apk itself):
/// `Field: value` lines, continuation lines starting with a space, blank line between records.
pub(crate) fn paragraphs(text: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    text.split("\n\n").filter_map(|para| {
        let fields: Vec<(&str, &str)> = para
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        (!fields.is_empty()).then_some(fields)
    })
}

pub(crate) fn field<'a>(fields: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
}

/// `/path` as shown to users.
pub(crate) fn shown(path: &str) -> String {
    format!("/{path}")
}

pub(crate) fn push(inv: &mut Inventory, p: Package) {
    inv.packages.push(p);
}

/// Name a file (by its path in the image) that a cataloger wanted and could not use.
pub(crate) fn unread(inv: &mut Inventory, path: &str, reason: impl Into<String>) {
    inv.unread.push(Unread {
        path: shown(path),
        reason: reason.into(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_the_files_catalogers_read() {
        let w = |p: &str| want(p, 100, false);
        assert!(matches!(w("var/lib/dpkg/status"), Want::Bytes { .. }));
        assert!(matches!(
            w("var/lib/dpkg/status.d/base"),
            Want::Bytes { .. }
        ));
        assert_eq!(w("var/lib/dpkg/status.d/base.md5sums"), Want::Skip);
        assert!(matches!(
            w("usr/lib/sysimage/rpm/rpmdb.sqlite"),
            Want::Bytes { .. }
        ));
        assert!(matches!(w("var/lib/rpm/Packages"), Want::Bytes { .. }));
        assert!(matches!(
            w("app/node_modules/@types/node/package.json"),
            Want::Bytes { .. }
        ));
        assert_eq!(w("app/package.json"), Want::Skip);
        assert_eq!(w("app/node_modules/x/lib/package.json"), Want::Skip);
        assert!(matches!(w("app/package-lock.json"), Want::Bytes { .. }));
        assert!(matches!(
            w("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"),
            Want::Bytes { .. }
        ));
        assert_eq!(w("usr/share/doc/README"), Want::Skip);
        assert_eq!(want("usr/bin/app", 1 << 20, true), Want::Binary);
        // Mode bits do not decide: a binary copied without chmod is still one.
        assert_eq!(want("app/server", 1 << 20, false), Want::Binary);
        assert_eq!(want("usr/bin/tiny", 100, true), Want::Skip);
        assert_eq!(want("usr/share/doc/README", 4096, false), Want::Binary);
    }

    #[test]
    fn os_release_reads_id_and_version() {
        let mut tree = FileTree::default();
        tree.files.insert(
            "usr/lib/os-release".into(),
            Kept::Bytes(
                b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
                    .to_vec()
                    .into(),
            ),
        );
        let d = os_release(&tree).unwrap();
        assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
        assert_eq!(super::super::purl::distro_qualifier(&d), "debian-12");
    }
}
