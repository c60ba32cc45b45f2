//! Alpine packages from apk's database, `lib/apk/db/installed`: one record per package,
//! `K:value` lines (`P` name, `V` version, `A` arch, `o` origin), records separated by a
//! blank line.

use super::{push, shown, unread};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Distro, Ecosystem, Inventory, Package};

const DB: &str = "lib/apk/db/installed";

pub fn catalog(tree: &FileTree, distro: Option<&Distro>, inv: &mut Inventory) {
    let Some(bytes) = tree.bytes(DB) else { return };
    let text = String::from_utf8_lossy(&bytes);
    let distro_q = distro.map(purl::distro_qualifier).unwrap_or_default();
    let mut found = 0;
    let mut records = 0;
    for record in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut origin) = ("", "", "", "");
        let mut any = false;
        for line in record.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            any = true;
            match k {
                "P" => name = v,
                "V" => version = v,
                "A" => arch = v,
                "o" => origin = v,
                _ => {}
            }
        }
        if !any {
            continue;
        }
        records += 1;
        if name.is_empty() || version.is_empty() {
            continue;
        }
        found += 1;
        let upstream = if origin != name { origin } else { "" };
        push(
            inv,
            Package {
                ecosystem: Ecosystem::Apk,
                name: name.into(),
                version: version.into(),
                purl: purl::build(
                    "apk",
                    Some(purl::os_namespace(distro, "alpine")),
                    name,
                    version,
                    &[
                        ("arch", arch),
                        ("distro", &distro_q),
                        ("upstream", upstream),
                    ],
                ),
                location: shown(DB),
            },
        );
    }
    if found == 0 && (records > 0 || !text.trim().is_empty()) {
        unread(
            inv,
            DB,
            "malformed (no P:/V: records): its packages were not catalogued",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::layers::Kept;

    #[test]
    fn reads_records() {
        let db = "C:Q1abc=\nP:zlib\nV:1.3.1-r0\nA:x86_64\nS:1\no:zlib\n\nC:Q2\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\n";
        let mut tree = FileTree::default();
        tree.files.insert(DB.into(), Kept::Bytes(db.into()));
        let mut inv = Inventory::default();
        let d = Distro {
            id: "alpine".into(),
            version_id: "3.19.1".into(),
            pretty_name: None,
        };
        catalog(&tree, Some(&d), &mut inv);
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=alpine-3.19.1",
                "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl",
            ]
        );
    }

    #[test]
    fn garbage_is_one_warning() {
        let mut tree = FileTree::default();
        tree.files
            .insert(DB.into(), Kept::Bytes(b"\x00\x01garbage".to_vec().into()));
        let mut inv = Inventory::default();
        catalog(&tree, None, &mut inv);
        assert!(inv.packages.is_empty());
        assert_eq!(inv.unread.len(), 1);
        assert_eq!(inv.unread[0].path, "/lib/apk/db/installed");
    }
}
