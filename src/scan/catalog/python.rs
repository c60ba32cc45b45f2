//! Python packages from installed distribution metadata: `<name>.dist-info/METADATA`
//! (wheels, pip), `<name>.egg-info/PKG-INFO` and single-file `<name>.egg-info` (setuptools,
//! Debian's python3-* packages). The `Name:` and `Version:` headers are all that is read.

use super::{push, shown, unread};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Ecosystem, Inventory, Package};

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for path in tree.files.keys() {
        let is_meta = path.ends_with(".dist-info/METADATA")
            || path.ends_with(".egg-info/PKG-INFO")
            || path.ends_with(".egg-info");
        if !is_meta {
            continue;
        }
        let Some(bytes) = tree.bytes(path) else {
            continue;
        };
        match name_version(&String::from_utf8_lossy(&bytes)) {
            Some((name, version)) => push(
                inv,
                Package {
                    ecosystem: Ecosystem::Pypi,
                    purl: purl::build("pypi", None, &purl::pypi_name(&name), &version, &[]),
                    name,
                    version,
                    location: shown(path),
                },
            ),
            None => unread(
                inv,
                path,
                "names no distribution (no Name: and Version: in its header)",
            ),
        }
    }
}

/// `Name:` and `Version:` from the header block (which ends at the first blank line).
fn name_version(text: &str) -> Option<(String, String)> {
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version = Some(v.trim().to_string());
        }
    }
    Some((
        name.filter(|s| !s.is_empty())?,
        version.filter(|s| !s.is_empty())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::layers::Kept;

    #[test]
    fn reads_metadata_headers_only() {
        let mut tree = FileTree::default();
        tree.files.insert(
            "site-packages/Django-4.2.dist-info/METADATA".into(),
            Kept::Bytes(b"Metadata-Version: 2.1\nName: Django\nVersion: 4.2\n\nVersion: 9.9 (in the body)\n".to_vec().into()),
        );
        tree.files.insert(
            "dist-packages/six.egg-info".into(),
            Kept::Bytes(b"Name: six\nVersion: 1.16.0\n".to_vec().into()),
        );
        tree.files.insert(
            "site-packages/broken.dist-info/METADATA".into(),
            Kept::Bytes(b"Name: broken\n".to_vec().into()),
        );
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:pypi/six@1.16.0", "pkg:pypi/django@4.2"]);
        assert_eq!(inv.unread.len(), 1);
    }
}
