//! Rust crates: those cargo-auditable embedded in binaries (read by [`crate::scan::binary`])
//! and those a `Cargo.lock` pins from a registry (path and git dependencies have no registry
//! version to match).

use super::{push, shown, unread};
use crate::scan::layers::{FileTree, Kept};
use crate::scan::{purl, Ecosystem, Inventory, Package};

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for (path, kept) in &tree.files {
        match kept {
            Kept::Binary(info) => {
                for c in &info.rust_crates {
                    push(inv, package(&c.name, &c.version, path));
                }
            }
            Kept::Bytes(_) if path.ends_with("Cargo.lock") => {
                if let Some(b) = tree.bytes(path) {
                    lockfile(&b, path, inv);
                }
            }
            _ => {}
        }
    }
}

fn package(name: &str, version: &str, path: &str) -> Package {
    Package {
        ecosystem: Ecosystem::Cargo,
        name: name.to_string(),
        version: version.to_string(),
        purl: purl::build("cargo", None, name, version, &[]),
        location: shown(path),
    }
}

#[derive(serde::Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(serde::Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

fn lockfile(bytes: &[u8], path: &str, inv: &mut Inventory) {
    let parsed = std::str::from_utf8(bytes)
        .map_err(|e| e.to_string())
        .and_then(|s| toml::from_str::<Lock>(s).map_err(|e| e.to_string()));
    match parsed {
        Ok(lock) => {
            for p in lock.package {
                if p.source
                    .as_deref()
                    .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
                {
                    push(inv, package(&p.name, &p.version, path));
                }
            }
        }
        Err(e) => unread(
            inv,
            path,
            format!(
                "not a valid Cargo.lock ({}): its crates were not catalogued",
                crate::error::one_line(&e)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_crates_from_cargo_lock() {
        let lock = "version = 3\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let mut tree = FileTree::default();
        tree.files
            .insert("src/app/Cargo.lock".into(), Kept::Bytes(lock.into()));
        tree.files.insert(
            "src/bad/Cargo.lock".into(),
            Kept::Bytes(b"[[package]\n".to_vec().into()),
        );
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:cargo/serde@1.0.200"]);
        assert_eq!(inv.unread.len(), 1);
    }
}
