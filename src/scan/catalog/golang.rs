//! Go modules built into binaries (from the build info [`crate::scan::binary`] read), as
//! `pkg:golang/<module>@<version>`, plus the binary itself as
//! `pkg:generic/<name>?go_toolchain=<version>` — the form Inspector documents for matching
//! vulnerabilities of the Go standard library a binary was built with.

use super::{push, shown};
use crate::scan::layers::{FileTree, Kept};
use crate::scan::{purl, Ecosystem, Inventory, Package};

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for (path, kept) in &tree.files {
        let Kept::Binary(info) = kept else { continue };
        let Some(go) = &info.go_version else { continue };
        let location = shown(path);
        let toolchain = go.trim_start_matches("go");
        let base = path.rsplit('/').next().unwrap_or(path);
        push(
            inv,
            Package {
                ecosystem: Ecosystem::Golang,
                name: base.to_string(),
                version: String::new(),
                purl: purl::build("generic", None, base, "", &[("go_toolchain", toolchain)]),
                location: location.clone(),
            },
        );
        let main = info
            .go_main
            .iter()
            .filter(|m| m.version != "(devel)" && !m.version.is_empty());
        for m in main.chain(info.go_deps.iter()) {
            let (ns, name) = match m.name.rsplit_once('/') {
                Some((ns, n)) => (Some(ns), n),
                None => (None, m.name.as_str()),
            };
            push(
                inv,
                Package {
                    ecosystem: Ecosystem::Golang,
                    name: m.name.clone(),
                    version: m.version.clone(),
                    purl: purl::build("golang", ns, name, &m.version, &[]),
                    location: location.clone(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::binary::{BinaryInfo, Module};

    #[test]
    fn modules_and_toolchain() {
        let mut tree = FileTree::default();
        tree.files.insert(
            "usr/local/bin/app".into(),
            Kept::Binary(BinaryInfo {
                go_version: Some("go1.22.5".into()),
                go_main: Some(Module {
                    name: "example.com/app".into(),
                    version: "(devel)".into(),
                }),
                go_deps: vec![Module {
                    name: "golang.org/x/net".into(),
                    version: "v0.23.0".into(),
                }],
                rust_crates: vec![],
                unread: None,
            }),
        );
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:generic/app?go_toolchain=1.22.5",
                "pkg:golang/golang.org/x/net@v0.23.0"
            ]
        );
    }
}
