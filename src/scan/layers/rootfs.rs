//! The root filesystem a runtime unpacks from an image's layers, as a tree of raw names
//! (bytes, never lossily decoded: `\xff` and `\xfe` are different names), with the runtimes'
//! rules for applying a layer:
//!
//! - an entry's name is cleaned like containerd does (`filepath.Clean`, then joined under the
//!   root: `..` never climbs above it), and its parent directories are resolved through the
//!   symlinks already in the tree (an entry written under a symlinked directory lands where
//!   the link points, inside the root);
//! - an entry replaces what was at its path (a directory and everything under it, unless both
//!   are directories); a hard link shares its target's content, whichever layer wrote it;
//! - whiteouts (`.wh.<name>`, `.wh..wh..opq`) hide what lower layers put there.
//!
//! Contents are not kept here: a file is an [`Origin`] (the entry that wrote its bytes), so
//! the reader can keep, share and re-read contents by it.

use std::collections::{BTreeMap, HashMap};

/// A path inside the root: raw bytes, `/`-separated, no leading `/`; the root is empty.
pub(super) type Name = Vec<u8>;

/// Symlinks followed while resolving one path, as Linux allows (`ELOOP` past it).
const MAX_HOPS: usize = 40;
/// Nodes held at once. Each costs about a hundred bytes; a real image has at most a few
/// hundred thousand files, and a crafted layer of millions of empty entries must not make
/// the tree unbounded.
pub(super) const MAX_NODES: usize = 2_000_000;
/// Directory links followed one inside another while looking for paths a cataloger wants
/// through symlinks, and the visits that costs in all: a loop (`usr/bin/X11 -> .`) or a
/// crafted web of links cannot make the walk unbounded, and a walk cut short by the budget
/// is reported, never silently dropped.
const MAX_ALIAS_DEPTH: usize = 8;
pub(super) const MAX_ALIAS_VISITS: usize = 4_000_000;

/// The entry that wrote a file's bytes: layer index and ordinal of the entry in that layer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(super) struct Origin {
    pub layer: u32,
    pub entry: u64,
}

#[derive(Clone, Debug)]
pub(super) enum Kind {
    Dir,
    File {
        origin: Origin,
        size: u64,
        exec: bool,
    },
    Symlink(Name),
    /// A device or FIFO: nothing to read, but it replaces what was there.
    Other,
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    /// The layer that put it there (whiteouts only hide lower layers).
    pub layer: u32,
    pub kind: Kind,
}

/// What [`Rootfs::aliases`] calls for each alias: `(alias, real path, node)`.
pub(super) type Visit<'a> = dyn FnMut(&[u8], &[u8], &Node) + 'a;

#[derive(Default)]
pub(super) struct Rootfs {
    nodes: BTreeMap<Name, Node>,
    /// How many nodes share each origin (hard links): its content may go when none does.
    refs: HashMap<Origin, u32>,
}

/// `a` + `/` + `b` (or `b` at the root).
pub(super) fn join(a: &[u8], b: &[u8]) -> Name {
    let mut n = Vec::with_capacity(a.len() + 1 + b.len());
    n.extend_from_slice(a);
    if !a.is_empty() {
        n.push(b'/');
    }
    n.extend_from_slice(b);
    n
}

/// An entry name's components as containerd applies it: `filepath.Clean` (which removes `.`,
/// empty components and every `..` that follows a name), then the `..` left at the front
/// dropped, since the result is joined under the root and cannot climb above it.
pub(super) fn clean(raw: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The key range of everything strictly under `dir`.
fn under(dir: &[u8]) -> (std::ops::Bound<Name>, std::ops::Bound<Name>) {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    if dir.is_empty() {
        return (Unbounded, Unbounded);
    }
    let lo = join(dir, b"");
    let mut hi = dir.to_vec();
    hi.push(b'/' + 1);
    (Included(lo), Excluded(hi))
}

impl Rootfs {
    pub(super) fn get(&self, path: &[u8]) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Resolve `path` inside the root as the kernel would inside a chroot (every component a
    /// symlink is followed, the last one only when `follow_last`; absolute targets start
    /// again at the root; `..` stops at it). `None` on a symlink loop.
    pub(super) fn walk(&self, path: &[u8], follow_last: bool) -> Option<Name> {
        let mut rest: Vec<&[u8]> = path.split(|b| *b == b'/').rev().collect();
        let mut cur: Name = Vec::new();
        let mut hops = 0;
        while let Some(c) = rest.pop() {
            match c {
                b"" | b"." => continue,
                b".." => {
                    let cut = cur.iter().rposition(|b| *b == b'/').unwrap_or(0);
                    cur.truncate(cut);
                    continue;
                }
                _ => {}
            }
            let cand = join(&cur, c);
            let last = rest.is_empty();
            match self.nodes.get(&cand) {
                Some(Node {
                    kind: Kind::Symlink(t),
                    ..
                }) if follow_last || !last => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return None;
                    }
                    if t.first() == Some(&b'/') {
                        cur.clear();
                    }
                    rest.extend(t.split(|b| *b == b'/').rev());
                }
                _ => cur = cand,
            }
        }
        Some(cur)
    }

    /// Whether `path` is a directory (a node, or implied by what is under it).
    pub(super) fn is_dir(&self, path: &[u8]) -> bool {
        match self.nodes.get(path) {
            Some(Node {
                kind: Kind::Dir, ..
            }) => true,
            Some(_) => false,
            None => path.is_empty() || self.nodes.range(under(path)).next().is_some(),
        }
    }

    fn unref(&mut self, node: &Node, freed: &mut Vec<Origin>) {
        if let Kind::File { origin, .. } = node.kind {
            if let Some(n) = self.refs.get_mut(&origin) {
                *n -= 1;
                if *n == 0 {
                    self.refs.remove(&origin);
                    freed.push(origin);
                }
            }
        }
    }

    /// Put `node` at `path`, replacing what is there (and everything under it, unless both
    /// are directories). Returns the origins no node refers to any more.
    pub(super) fn put(&mut self, path: Name, node: Node) -> Vec<Origin> {
        let mut freed = Vec::new();
        let both_dirs = matches!(node.kind, Kind::Dir)
            && matches!(
                self.nodes.get(&path),
                Some(Node {
                    kind: Kind::Dir,
                    ..
                })
            );
        if !both_dirs && !matches!(node.kind, Kind::Dir) {
            self.remove(&path, None, &mut freed);
        } else if !both_dirs {
            // A directory replaces a file or link at its path, not a directory's contents.
            if let Some(old) = self.nodes.remove(&path) {
                self.unref(&old, &mut freed);
            }
        }
        if let Kind::File { origin, .. } = node.kind {
            *self.refs.entry(origin).or_default() += 1;
        }
        self.nodes.insert(path, node);
        freed
    }

    /// Remove `path` and everything under it that a layer below `below` put there (all of it
    /// when `below` is `None`).
    pub(super) fn remove(&mut self, path: &[u8], below: Option<u32>, freed: &mut Vec<Origin>) {
        let hidden = |n: &Node| below.is_none_or(|l| n.layer < l);
        if self.nodes.get(path).is_some_and(hidden) {
            if let Some(old) = self.nodes.remove(path) {
                self.unref(&old, freed);
            }
        }
        self.remove_under(path, below, freed);
    }

    /// Remove what is strictly under `dir` and a layer below `below` put there.
    pub(super) fn remove_under(&mut self, dir: &[u8], below: Option<u32>, freed: &mut Vec<Origin>) {
        let doomed: Vec<Name> = self
            .nodes
            .range(under(dir))
            .filter(|(_, n)| below.is_none_or(|l| n.layer < l))
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            if let Some(old) = self.nodes.remove(&p) {
                self.unref(&old, freed);
            }
        }
    }

    /// Every regular file, by path.
    pub(super) fn files(&self) -> impl Iterator<Item = (&Name, &Node)> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n.kind, Kind::File { .. }))
    }

    /// Every other path a regular file is reached by through symlinks (a symlinked file, or a
    /// file under a symlinked directory, links inside links up to [`MAX_ALIAS_DEPTH`] deep):
    /// `visit(alias, real path, node)`. `Err(link)` when the walk ran out of its budget at
    /// `link` (what was not visited is then unknown).
    pub(super) fn aliases(&self, visit: &mut Visit<'_>) -> Result<(), Name> {
        let mut visits = 0usize;
        for (link, node) in &self.nodes {
            if !matches!(node.kind, Kind::Symlink(_)) {
                continue;
            }
            self.follow(link, link, 1, &mut visits, visit)
                .map_err(|()| link.clone())?;
        }
        Ok(())
    }

    /// Visit what the symlink at real path `link` reaches, as seen from the alias `alias`.
    fn follow(
        &self,
        alias: &[u8],
        link: &[u8],
        depth: usize,
        visits: &mut usize,
        visit: &mut Visit<'_>,
    ) -> Result<(), ()> {
        let Some(real) = self.walk(link, true) else {
            return Ok(()); // a loop: the kernel answers ELOOP, nothing is reached
        };
        if let Some(
            n @ Node {
                kind: Kind::File { .. },
                ..
            },
        ) = self.nodes.get(&real)
        {
            *visits += 1;
            visit(alias, &real, n);
            return Ok(());
        }
        if depth > MAX_ALIAS_DEPTH || !self.is_dir(&real) {
            return Ok(());
        }
        let base = if real.is_empty() { 0 } else { real.len() + 1 };
        for (path, node) in self.nodes.range(under(&real)) {
            *visits += 1;
            if *visits > MAX_ALIAS_VISITS {
                return Err(());
            }
            let sub = join(alias, &path[base..]);
            match node.kind {
                Kind::File { .. } => visit(&sub, path, node),
                Kind::Symlink(_) => self.follow(&sub, path, depth + 1, visits, visit)?,
                Kind::Dir | Kind::Other => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(layer: u32, entry: u64) -> Node {
        Node {
            layer,
            kind: Kind::File {
                origin: Origin { layer, entry },
                size: 1,
                exec: false,
            },
        }
    }
    fn link(t: &str) -> Node {
        Node {
            layer: 0,
            kind: Kind::Symlink(t.as_bytes().to_vec()),
        }
    }

    #[test]
    fn names_are_cleaned_like_containerd() {
        let c = |s: &str| {
            clean(s.as_bytes())
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("/")
        };
        assert_eq!(c("./a//b/"), "a/b");
        assert_eq!(c("a/../b"), "b");
        assert_eq!(c("../../etc/x"), "etc/x");
        assert_eq!(c("/abs/./x/../y"), "abs/y");
        assert_eq!(c("a/b/../../.."), "");
    }

    #[test]
    fn resolution_follows_links_and_stays_inside() {
        let mut fs = Rootfs::default();
        fs.put(b"usr/lib/sysimage/rpm/rpmdb.sqlite".to_vec(), file(0, 0));
        fs.put(b"var/lib/rpm".to_vec(), link("../../usr/lib/sysimage/rpm"));
        fs.put(b"abs".to_vec(), link("/usr/lib"));
        fs.put(b"up".to_vec(), link("../../../../usr"));
        fs.put(b"loop".to_vec(), link("loop"));
        assert_eq!(
            fs.walk(b"var/lib/rpm/rpmdb.sqlite", true).unwrap(),
            b"usr/lib/sysimage/rpm/rpmdb.sqlite"
        );
        assert_eq!(fs.walk(b"abs/sysimage", true).unwrap(), b"usr/lib/sysimage");
        assert_eq!(fs.walk(b"up/lib", true).unwrap(), b"usr/lib");
        assert_eq!(fs.walk(b"var/lib/rpm", false).unwrap(), b"var/lib/rpm");
        assert!(fs.walk(b"loop/x", true).is_none());
    }

    #[test]
    fn aliases_reach_through_links_and_loops_are_bounded() {
        let mut fs = Rootfs::default();
        fs.put(b"data/status".to_vec(), file(0, 0));
        // var -> . and lib -> . : var/lib/data/status is data/status, two links deep.
        fs.put(b"var".to_vec(), link("."));
        fs.put(b"lib".to_vec(), link("."));
        let mut seen = Vec::new();
        fs.aliases(&mut |a, r, _| seen.push((String::from_utf8_lossy(a).into_owned(), r.to_vec())))
            .unwrap();
        assert!(
            seen.iter().any(|(a, _)| a == "var/lib/data/status"),
            "{seen:?}"
        );
        assert!(seen.iter().all(|(_, r)| r == b"data/status"));
    }

    #[test]
    fn replacing_a_directory_removes_what_was_under_it() {
        let mut fs = Rootfs::default();
        fs.put(b"d/a".to_vec(), file(0, 0));
        fs.put(
            b"d".to_vec(),
            Node {
                layer: 0,
                kind: Kind::Dir,
            },
        );
        // A directory over a directory keeps its contents …
        assert!(fs
            .put(
                b"d".to_vec(),
                Node {
                    layer: 1,
                    kind: Kind::Dir
                }
            )
            .is_empty());
        assert!(fs.get(b"d/a").is_some());
        // … a file over it does not.
        let freed = fs.put(b"d".to_vec(), file(1, 0));
        assert_eq!(freed, [Origin { layer: 0, entry: 0 }]);
        assert!(fs.get(b"d/a").is_none());
    }
}
