//! Ruby gems from installed gem specifications (`…/specifications/<name>-<version>.gemspec`,
//! the files RubyGems writes on install): the `name` and `version` assignments are read.

use super::{push, shown, unread};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Ecosystem, Inventory, Package};

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for path in tree.files.keys() {
        if !(path.ends_with(".gemspec") && path.contains("specifications/")) {
            continue;
        }
        let Some(bytes) = tree.bytes(path) else {
            continue;
        };
        match name_version(&String::from_utf8_lossy(&bytes)) {
            Some((name, version)) => push(
                inv,
                Package {
                    ecosystem: Ecosystem::Gem,
                    purl: purl::build("gem", None, &name, &version, &[]),
                    name,
                    version,
                    location: shown(path),
                },
            ),
            None => unread(
                inv,
                path,
                "names no gem (no name and version found in the gemspec)",
            ),
        }
    }
}

/// `s.name = "rack".freeze` / `s.version = "3.0.8"` (quotes of either kind).
fn name_version(text: &str) -> Option<(String, String)> {
    let quoted = |line: &str| -> Option<String> {
        let rest = line.split_once('=')?.1.trim();
        let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &rest[1..];
        Some(inner[..inner.find(q)?].to_string())
    };
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        let l = line.trim();
        if name.is_none() && l.contains(".name = ") {
            name = quoted(l);
        } else if version.is_none() && l.contains(".version = ") {
            version = quoted(l);
        }
    }
    Some((name?, version?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::layers::Kept;

    #[test]
    fn reads_gemspecs() {
        let spec = "# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"nokogiri\".freeze\n  s.version = \"1.15.4\"\n  s.platform = \"x86_64-linux\".freeze\nend\n";
        let mut tree = FileTree::default();
        tree.files.insert(
            "usr/local/bundle/specifications/nokogiri-1.15.4-x86_64-linux.gemspec".into(),
            Kept::Bytes(spec.into()),
        );
        tree.files.insert(
            "usr/local/bundle/specifications/junk.gemspec".into(),
            Kept::Bytes(b"nothing here".to_vec().into()),
        );
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        assert_eq!(inv.packages.len(), 1);
        assert_eq!(inv.packages[0].purl, "pkg:gem/nokogiri@1.15.4");
        assert_eq!(inv.unread.len(), 1);
    }
}
