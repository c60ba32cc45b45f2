//! npm packages: the `package.json` of every package installed under a `node_modules`
//! directory, and `package-lock.json` files of projects (lockfile v1 `dependencies` trees and
//! v2/v3 `packages` maps). Development-only entries of a lockfile are left out: a production
//! image installs them only if they are in `node_modules`, where they are found anyway.

use super::{push, shown, unread};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Ecosystem, Inventory, Package};
use serde_json::Value;

/// `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`.
pub fn is_installed_manifest(path: &str) -> bool {
    let Some(idx) = path.rfind("node_modules/") else {
        return false;
    };
    let rest = &path[idx + "node_modules/".len()..];
    let segs: Vec<&str> = rest.split('/').collect();
    match segs.as_slice() {
        [name, "package.json"] => !name.starts_with('.') && !name.starts_with('@'),
        [scope, _name, "package.json"] => scope.starts_with('@'),
        _ => false,
    }
}

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for path in tree.files.keys() {
        let Some(bytes) = tree.bytes(path) else {
            continue;
        };
        if path.ends_with("/package.json") || path == "package.json" {
            if !is_installed_manifest(path) {
                continue;
            }
            match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => {
                    let name = v.get("name").and_then(Value::as_str);
                    let version = v.get("version").and_then(Value::as_str);
                    match (name, version) {
                        (Some(n), Some(ver)) if !n.is_empty() && !ver.is_empty() => {
                            push(inv, package(n, ver, path))
                        }
                        // npm installs nothing without a name and version: test fixtures
                        // and stubs inside packages are not packages.
                        _ => {}
                    }
                }
                Err(e) => unread(inv, path, format!("not valid JSON ({e})")),
            }
        } else if path.ends_with("package-lock.json") {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => lockfile(&v, path, inv),
                Err(e) => unread(
                    inv,
                    path,
                    format!("not valid JSON ({e}): its packages were not catalogued"),
                ),
            }
        }
    }
}

fn package(name: &str, version: &str, path: &str) -> Package {
    Package {
        ecosystem: Ecosystem::Npm,
        name: name.to_string(),
        version: version.to_string(),
        purl: purl::npm(name, version),
        location: shown(path),
    }
}

fn lockfile(v: &Value, path: &str, inv: &mut Inventory) {
    if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
        for (key, entry) in pkgs {
            // "" is the project itself; links point at workspace folders, not registry packages.
            let Some(idx) = key.rfind("node_modules/") else {
                continue;
            };
            if entry.get("link").and_then(Value::as_bool) == Some(true)
                || entry.get("dev").and_then(Value::as_bool) == Some(true)
            {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            if let Some(ver) = entry.get("version").and_then(Value::as_str) {
                push(inv, package(name, ver, path));
            }
        }
    } else if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        v1_deps(deps, path, inv, 0);
    }
}

fn v1_deps(deps: &serde_json::Map<String, Value>, path: &str, inv: &mut Inventory, depth: usize) {
    if depth > 64 {
        return;
    }
    for (name, entry) in deps {
        if entry.get("dev").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(ver) = entry.get("version").and_then(Value::as_str) {
            // v1 records git and file dependencies by URL in `version`: not registry versions.
            if !ver.contains(':') {
                push(inv, package(name, ver, path));
            }
        }
        if let Some(sub) = entry.get("dependencies").and_then(Value::as_object) {
            v1_deps(sub, path, inv, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::layers::Kept;

    #[test]
    fn installed_manifests_are_recognised() {
        assert!(is_installed_manifest("app/node_modules/a/package.json"));
        assert!(is_installed_manifest("node_modules/@s/a/package.json"));
        assert!(is_installed_manifest(
            "app/node_modules/a/node_modules/b/package.json"
        ));
        assert!(!is_installed_manifest(
            "app/node_modules/a/lib/package.json"
        ));
        assert!(!is_installed_manifest("app/package.json"));
        assert!(!is_installed_manifest("app/node_modules/.bin/package.json"));
    }

    #[test]
    fn lockfiles_v1_and_v3() {
        let v3 = r#"{"lockfileVersion":3,"packages":{"":{"name":"app"},
            "node_modules/a":{"version":"1.0.0"},
            "node_modules/@s/b":{"version":"2.0.0"},
            "node_modules/a/node_modules/c":{"version":"3.0.0"},
            "node_modules/d":{"version":"4.0.0","dev":true},
            "node_modules/w":{"resolved":"packages/w","link":true}}}"#;
        let v1 = r#"{"lockfileVersion":1,"dependencies":{"x":{"version":"1.2.3","dependencies":{"y":{"version":"0.1.0"}}},"g":{"version":"git+https://e/x.git#abc"}}}"#;
        let mut tree = FileTree::default();
        tree.files
            .insert("srv/package-lock.json".into(), Kept::Bytes(v3.into()));
        tree.files
            .insert("old/package-lock.json".into(), Kept::Bytes(v1.into()));
        tree.files
            .insert("bad/package-lock.json".into(), Kept::Bytes(b"{".to_vec()));
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let mut purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        purls.sort();
        assert_eq!(
            purls,
            [
                "pkg:npm/%40s/b@2.0.0",
                "pkg:npm/a@1.0.0",
                "pkg:npm/c@3.0.0",
                "pkg:npm/x@1.2.3",
                "pkg:npm/y@0.1.0"
            ]
        );
        assert_eq!(inv.unread.len(), 1);
        assert_eq!(inv.unread[0].path, "/bad/package-lock.json");
    }
}
