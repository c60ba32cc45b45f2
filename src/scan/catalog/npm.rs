//! npm packages: the `package.json` of every package installed under a `node_modules`
//! directory, and `package-lock.json` files of projects (lockfile v1 `dependencies` trees and
//! v2/v3 `packages` maps).
//!
//! Installed, not declared: a lockfile says what was meant to be installed, `node_modules`
//! what is. When a `node_modules` sits beside the lockfile, an entry counts only if its
//! package is there (its `package.json` at the path the entry names): a package removed in a
//! later layer (`npm prune`, a whiteout) has no code in the container. When there is no
//! `node_modules` at all (a bundled app that ships only its lockfile), the lockfile is the only
//! source: its entries are reported, with a warning saying so. Development-only entries are
//! left out: a production image installs them only if they are in `node_modules`, where they
//! are found anyway.

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
    // Each content is read (back from the spill, when it was spilled) only by its own branch.
    for path in tree.files.keys() {
        if path.ends_with("/package.json") || path == "package.json" {
            if !is_installed_manifest(path) {
                continue;
            }
            let Some(bytes) = tree.bytes(path) else {
                continue;
            };
            match installed(&bytes) {
                Ok(Some((n, ver))) => push(inv, package(&n, &ver, path)),
                // npm installs nothing without a name and version: test fixtures and stubs
                // inside packages are not packages.
                Ok(None) => {}
                Err(e) => unread(inv, path, format!("not valid JSON ({e})")),
            }
        } else if path.ends_with("package-lock.json") {
            let Some(bytes) = tree.bytes(path) else {
                continue;
            };
            // Parsed, then the bytes freed before its entries are checked against the tree.
            let parsed = serde_json::from_slice::<Value>(&bytes);
            drop(bytes);
            match parsed {
                Ok(v) => lockfile(tree, &v, path, inv),
                Err(e) => unread(
                    inv,
                    path,
                    format!("not valid JSON ({e}): its packages were not catalogued"),
                ),
            }
        }
    }
}

/// The name and version an installed `package.json` gives (`None`: it gives none).
fn installed(bytes: &[u8]) -> Result<Option<(String, String)>, serde_json::Error> {
    let v = serde_json::from_slice::<Value>(bytes)?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(field("name").zip(field("version")))
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

/// A lockfile's entries, each with the path (relative to the lockfile's directory) where npm
/// installs it: `node_modules/a`, `node_modules/a/node_modules/c`.
fn lockfile_entries(v: &Value) -> Vec<(String, Package)> {
    let mut out = Vec::new();
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
                out.push((key.clone(), package(name, ver, "")));
            }
        }
    } else if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        v1_deps(deps, "", &mut out, 0);
    }
    out
}

fn lockfile(tree: &FileTree, v: &Value, path: &str, inv: &mut Inventory) {
    let dir = path.strip_suffix("package-lock.json").unwrap_or("");
    let modules = format!("{dir}node_modules/");
    let installed_tree = tree
        .files
        .range(modules.clone()..)
        .next()
        .is_some_and(|(p, _)| p.starts_with(&modules));
    let entries = lockfile_entries(v);
    let mut reported = 0;
    for (at, mut p) in entries {
        if installed_tree {
            // `tree.files` holds every installed manifest (read or not: one over its cap is
            // there too, and named as unread). A package its own manifest names is reported
            // from there, at the path it is installed at: the lockfile's entry for it would
            // list it twice. The entry stands in only for a manifest that names nothing.
            let manifest = format!("{dir}{at}/package.json");
            if !tree.files.contains_key(&manifest)
                || tree
                    .bytes(&manifest)
                    .is_some_and(|b| matches!(installed(&b), Ok(Some(_))))
            {
                continue;
            }
        }
        p.location = shown(path);
        push(inv, p);
        reported += 1;
    }
    if !installed_tree && reported > 0 {
        inv.warnings.push(format!(
            "{}: no node_modules beside it, so its {reported} package(s) are reported as the lockfile declares them (not checked against installed files)",
            shown(path)
        ));
    }
}

fn v1_deps(
    deps: &serde_json::Map<String, Value>,
    parent: &str,
    out: &mut Vec<(String, Package)>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    for (name, entry) in deps {
        if entry.get("dev").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let at = format!("{parent}node_modules/{name}");
        if let Some(ver) = entry.get("version").and_then(Value::as_str) {
            // v1 records git and file dependencies by URL in `version`: not registry versions.
            if !ver.contains(':') {
                out.push((at.clone(), package(name, ver, "")));
            }
        }
        if let Some(sub) = entry.get("dependencies").and_then(Value::as_object) {
            v1_deps(sub, &format!("{at}/"), out, depth + 1);
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
        tree.files.insert(
            "bad/package-lock.json".into(),
            Kept::Bytes(b"{".to_vec().into()),
        );
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
        // No node_modules beside either lockfile: reported as declared, and said so.
        assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);
        assert!(inv.warnings[0].starts_with("/old/package-lock.json: no node_modules beside it"));
    }

    #[test]
    fn lockfile_entries_count_only_when_installed_beside_it() {
        let v3 = r#"{"lockfileVersion":3,"packages":{"":{"name":"app"},
            "node_modules/express":{"version":"4.18.2"},
            "node_modules/lodash":{"version":"4.17.20"},
            "node_modules/a/node_modules/c":{"version":"3.0.0"},
            "node_modules/big":{"version":"1.0.0"}}}"#;
        let v1 = r#"{"lockfileVersion":1,"dependencies":{"x":{"version":"1.2.3","dependencies":{"y":{"version":"0.1.0"}}},"gone":{"version":"2.0.0"}}}"#;
        let manifest =
            |n: &str, v: &str| Kept::Bytes(format!(r#"{{"name":"{n}","version":"{v}"}}"#).into());
        let mut tree = FileTree::default();
        let mut put = |p: &str, k: Kept| tree.files.insert(p.to_string(), k);
        put("srv/package-lock.json", Kept::Bytes(v3.into()));
        put(
            "srv/node_modules/express/package.json",
            manifest("express", "4.18.2"),
        );
        put(
            "srv/node_modules/a/node_modules/c/package.json",
            manifest("c", "3.0.0"),
        );
        // Installed but over its cap: the lockfile's entry counts (the manifest is unread).
        put(
            "srv/node_modules/big/package.json",
            Kept::TooLarge {
                size: 2 << 20,
                cap: 1 << 20,
            },
        );
        put("old/package-lock.json", Kept::Bytes(v1.into()));
        put(
            "old/node_modules/x/node_modules/y/package.json",
            manifest("y", "0.1.0"),
        );
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let mut from_lock: Vec<(&str, &str)> = inv
            .packages
            .iter()
            .filter(|p| p.location.ends_with("package-lock.json"))
            .map(|p| (p.location.as_str(), p.purl.as_str()))
            .collect();
        from_lock.sort();
        // Installed packages are reported once, from their own manifest; the lockfile stands
        // in only for the one whose manifest was not read.
        assert_eq!(from_lock, [("/srv/package-lock.json", "pkg:npm/big@1.0.0")]);
        let mut all: Vec<(&str, &str)> = inv
            .packages
            .iter()
            .map(|p| (p.purl.as_str(), p.location.as_str()))
            .collect();
        all.sort();
        assert_eq!(
            all,
            [
                ("pkg:npm/big@1.0.0", "/srv/package-lock.json"),
                (
                    "pkg:npm/c@3.0.0",
                    "/srv/node_modules/a/node_modules/c/package.json"
                ),
                (
                    "pkg:npm/express@4.18.2",
                    "/srv/node_modules/express/package.json"
                ),
                (
                    "pkg:npm/y@0.1.0",
                    "/old/node_modules/x/node_modules/y/package.json"
                ),
            ]
        );
        assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    }
}
