//! Debian/Ubuntu packages from dpkg's database: `var/lib/dpkg/status`, and distroless images'
//! `var/lib/dpkg/status.d/<package>` files (one status paragraph each, no dpkg binary).
//!
//! A package counts as present in every state but `not-installed` and `config-files`
//! (dpkg(1)'s package states): `unpacked`, `half-configured`, `half-installed`,
//! `triggers-awaited` and `triggers-pending` packages have their files on disk, as
//! `installed` ones do, so a container runs them. Removed packages that left only their
//! configuration files behind (`deinstall ok config-files`) have no code to be vulnerable.

use super::{field, paragraphs, push, shown, unread};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Distro, Ecosystem, Inventory, Package};

pub fn catalog(tree: &FileTree, distro: Option<&Distro>, inv: &mut Inventory) {
    // One database at a time: each is read (back from the spill, when it was spilled) and
    // freed before the next.
    let status_d = tree
        .files
        .range("var/lib/dpkg/status.d/".to_string()..)
        .map(|(p, _)| p.as_str())
        .take_while(|p| p.starts_with("var/lib/dpkg/status.d/"));
    for path in std::iter::once("var/lib/dpkg/status").chain(status_d) {
        let Some(bytes) = tree.bytes(path) else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            unread(
                inv,
                path,
                "not valid UTF-8, so not a dpkg status file: its packages were not catalogued",
            );
            continue;
        };
        let mut named = 0;
        for para in paragraphs(text) {
            if field(&para, "Package").is_some() {
                named += 1;
            }
            if let Some(p) = from_paragraph(&para, distro, path) {
                push(inv, p);
            }
        }
        if named == 0 && !text.trim().is_empty() {
            unread(
                inv,
                path,
                "malformed (no Package fields): its packages were not catalogued",
            );
        }
    }
}

/// Whether a `Status: <want> <flag> <state>` leaves the package's files on disk.
fn present(status: &str) -> bool {
    !matches!(
        status.split_whitespace().nth(2),
        None | Some("not-installed" | "config-files")
    )
}

/// One status paragraph as a package, if its files are on disk and it is complete.
fn from_paragraph(f: &[(&str, &str)], distro: Option<&Distro>, path: &str) -> Option<Package> {
    let name = field(f, "Package")?;
    let version = field(f, "Version")?;
    // Distroless status.d entries have no Status field: they are installed by construction.
    if let Some(status) = field(f, "Status") {
        if !present(status) {
            return None;
        }
    }
    let arch = field(f, "Architecture").unwrap_or("");
    // "Source: name (version)" when the source version differs from the binary's.
    let source = field(f, "Source").map(|s| s.split_whitespace().next().unwrap_or(s));
    let upstream = source.filter(|s| *s != name).unwrap_or("");
    let distro_q = distro.map(purl::distro_qualifier).unwrap_or_default();
    let purl = purl::build(
        "deb",
        Some(purl::os_namespace(distro, "debian")),
        name,
        version,
        &[
            ("arch", arch),
            ("distro", &distro_q),
            ("upstream", upstream),
        ],
    );
    Some(Package {
        ecosystem: Ecosystem::Deb,
        name: name.to_string(),
        version: version.to_string(),
        purl,
        location: shown(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::layers::Kept;

    const STATUS: &str = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u7\nDescription: GNU C Library\n multi-line\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";

    fn debian() -> Distro {
        Distro {
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: None,
        }
    }

    #[test]
    fn installed_packages_with_distro_qualifiers() {
        let mut tree = FileTree::default();
        tree.files
            .insert("var/lib/dpkg/status".into(), Kept::Bytes(STATUS.into()));
        let mut inv = Inventory::default();
        catalog(&tree, Some(&debian()), &mut inv);
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12&upstream=glibc",
                "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12",
            ]
        );
        assert!(inv.unread.is_empty());
    }

    #[test]
    fn every_state_with_files_on_disk_counts() {
        let states = [
            ("install ok installed", true),
            ("install ok unpacked", true),
            ("install ok half-configured", true),
            ("install reinstreq half-installed", true),
            ("install ok triggers-awaited", true),
            ("install ok triggers-pending", true),
            ("hold ok installed", true),
            ("deinstall ok config-files", false),
            ("purge ok not-installed", false),
            ("install ok", false),
        ];
        for (status, want) in states {
            assert_eq!(present(status), want, "{status}");
        }
    }

    #[test]
    fn distroless_status_d_and_malformed_files() {
        let mut tree = FileTree::default();
        tree.files.insert(
            "var/lib/dpkg/status.d/base".into(),
            Kept::Bytes(
                b"Package: base-files\nVersion: 12.4\nArchitecture: amd64\n"
                    .to_vec()
                    .into(),
            ),
        );
        tree.files.insert(
            "var/lib/dpkg/status.d/junk".into(),
            Kept::Bytes(b"this is not a status file\n".to_vec().into()),
        );
        let mut inv = Inventory::default();
        catalog(&tree, Some(&debian()), &mut inv);
        assert_eq!(inv.packages.len(), 1);
        assert_eq!(inv.packages[0].location, "/var/lib/dpkg/status.d/base");
        assert_eq!(inv.unread.len(), 1, "{:?}", inv.unread);
        assert_eq!(inv.unread[0].path, "/var/lib/dpkg/status.d/junk");
    }
}
