use super::*;
use crate::image::LayerBlob;
use crate::test_support::{pax_header_bomb, peak_rss_kib};

/// A tar entry, written raw where `tar::Builder` would refuse it (`..`, non-UTF-8 names).
enum E<'a> {
    File(&'a [u8], &'a [u8]),
    Dir(&'a [u8]),
    Symlink(&'a [u8], &'a [u8]),
    Hardlink(&'a [u8], &'a [u8]),
}

fn layer(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, data, kind, link): (&[u8], &[u8], _, &[u8]) = match e {
            E::File(n, d) => (n, d, tar::EntryType::Regular, b""),
            E::Dir(n) => (n, b"", tar::EntryType::Directory, b""),
            E::Symlink(n, t) => (n, b"", tar::EntryType::Symlink, t),
            E::Hardlink(n, t) => (n, b"", tar::EntryType::Link, t),
        };
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        gnu.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn files(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let e: Vec<E> = entries
        .iter()
        .map(|(n, d)| E::File(n.as_bytes(), d))
        .collect();
    layer(&e)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// One zstd frame holding `data` as raw blocks (a real frame, no compressor needed).
fn zstd_raw(data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]; // no checksum, 128 KiB window
    let chunks: Vec<&[u8]> = data.chunks(128 * 1024).collect();
    for (i, c) in chunks.iter().enumerate() {
        let last = u32::from(i + 1 == chunks.len());
        let h = last | ((c.len() as u32) << 3); // block type 0: raw
        f.extend_from_slice(&h.to_le_bytes()[..3]);
        f.extend_from_slice(c);
    }
    f
}

fn image(dir: &Path, layers: Vec<Vec<u8>>) -> PlatformImage {
    let layers = layers
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let p = dir.join(format!("l{i}"));
            std::fs::write(&p, &l).unwrap();
            LayerBlob {
                what: format!("layer {}", i + 1),
                range: Some(FileRange::whole(p, l.len() as u64)),
                digest: Some(Digest::of(&l)),
            }
        })
        .collect();
    PlatformImage {
        platform: None,
        label: "test".into(),
        layers,
    }
}

fn txt(path: &str, _: u64, _: bool) -> Want {
    if path.ends_with(".txt") || path == "var/lib/dpkg/status" {
        Want::Bytes { cap: 100 }
    } else {
        Want::Skip
    }
}

fn read(layers: Vec<Vec<u8>>) -> FileTree {
    let dir = tempfile::tempdir().unwrap();
    read_image(&image(dir.path(), layers), &txt).unwrap()
}

fn names(t: &FileTree) -> Vec<&str> {
    t.files.keys().map(String::as_str).collect()
}

#[test]
fn whiteouts_hide_lower_layers_only() {
    let l1 = files(&[
        ("a/x.txt", b"1"),
        ("a/y.txt", b"1"),
        ("b/z.txt", b"1"),
        ("c/w.txt", b"1"),
        ("keep.txt", b"1"),
    ]);
    // gzip for one layer, plain for the other: both are read.
    let l2 = gz(&files(&[
        ("a/.wh.x.txt", b""),
        ("b/new.txt", b"2"),
        ("b/.wh..wh..opq", b""),
        ("./c/.wh.w.txt", b""),
        ("keep.txt", b"2"),
    ]));
    let tree = read(vec![l1, l2]);
    assert_eq!(names(&tree), ["a/y.txt", "b/new.txt", "keep.txt"]);
    assert_eq!(tree.bytes("keep.txt").as_deref().unwrap(), b"2");
    assert!(tree.unread.is_empty());
}

#[test]
fn caps_are_enforced_and_a_directory_whiteout_removes_its_files() {
    let big = vec![b'x'; 200];
    let l1 = files(&[("d/big.txt", &big), ("d/e/f.txt", b"1")]);
    let l2 = files(&[("d/.wh.e", b"")]);
    let tree = read(vec![l1, l2]);
    assert!(matches!(
        tree.files.get("d/big.txt"),
        Some(Kept::TooLarge { size: 200, .. })
    ));
    assert!(!tree.files.contains_key("d/e/f.txt"));
}

#[test]
fn a_corrupt_layer_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = gz(&files(&[("a.txt", b"1")]));
    bad.truncate(bad.len() / 2);
    bad.extend_from_slice(&[0u8; 3]);
    let err = read_image(&image(dir.path(), vec![bad]), &txt).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.message.contains("layer 1 of test"), "{err}");
}

#[test]
fn a_layer_is_checked_against_its_digest() {
    // The push refuses a layer whose bytes do not match its digest; so does the scan now.
    let dir = tempfile::tempdir().unwrap();
    let mut img = image(dir.path(), vec![files(&[("a.txt", b"1")])]);
    img.layers[0].digest = Some(Digest::of(b"something else"));
    let err = read_image(&img, &txt).unwrap_err();
    assert!(err.message.contains("does not match its digest"), "{err}");
}

#[test]
fn sources_parse() {
    assert_eq!(
        "dir:/r".parse::<ScanSource>().unwrap(),
        ScanSource::Dir("/r".into())
    );
    assert!(matches!(
        "oci:/x:latest".parse::<ScanSource>().unwrap(),
        ScanSource::Image(SourceSpec::OciDir { .. })
    ));
    let e = "bogus:x".parse::<ScanSource>().unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.message.contains("dir:"), "{e}");
    assert!("dir:".parse::<ScanSource>().is_err());
}

#[test]
fn dotdot_in_entry_names_is_cleaned_like_the_runtimes() {
    // Runtimes clean `..` and never climb above the root: the file is at var/lib/dpkg/status.
    let l = layer(&[
        E::File(b"../../var/lib/dpkg/status", b"db"),
        E::File(b"a/../b/x.txt", b"x"),
    ]);
    let tree = read(vec![l]);
    assert_eq!(names(&tree), ["b/x.txt", "var/lib/dpkg/status"]);
}

#[test]
fn a_hard_link_to_a_file_of_an_earlier_layer_is_read() {
    // The target was not wanted under its own name, and came from the layer below.
    let l1 = files(&[("opt/db/status", b"Package: a\n")]);
    let l2 = layer(&[
        E::Dir(b"var/lib/dpkg"),
        E::Hardlink(b"var/lib/dpkg/status", b"opt/db/status"),
    ]);
    let tree = read(vec![l1, l2]);
    assert_eq!(
        tree.bytes("var/lib/dpkg/status").as_deref().unwrap(),
        b"Package: a\n"
    );
}

#[test]
fn symlinked_files_and_directories_are_followed_inside_the_root() {
    // A symlinked database file, absolute target (inside the root, never the host).
    let l1 = files(&[("opt/status", b"file link")]);
    let l2 = layer(&[E::Symlink(b"var/lib/dpkg/status", b"/opt/status")]);
    assert_eq!(
        read(vec![l1, l2])
            .bytes("var/lib/dpkg/status")
            .as_deref()
            .unwrap(),
        b"file link"
    );
    // A symlinked parent directory, the link in a later layer than the file.
    let l1 = files(&[("usr/lib/sysimage/dpkg/status", b"dir link")]);
    let l2 = layer(&[E::Symlink(b"var/lib/dpkg", b"../../usr/lib/sysimage/dpkg")]);
    assert_eq!(
        read(vec![l1, l2])
            .bytes("var/lib/dpkg/status")
            .as_deref()
            .unwrap(),
        b"dir link"
    );
    // A file written through a symlinked directory lands where the link points.
    let l1 = layer(&[E::Symlink(b"var/lib/dpkg", b"/data")]);
    let l2 = files(&[("var/lib/dpkg/status", b"through")]);
    let tree = read(vec![l1, l2]);
    assert_eq!(
        tree.bytes("var/lib/dpkg/status").as_deref().unwrap(),
        b"through"
    );
    // A link climbing out of the root stays inside it.
    let l1 = files(&[("etc/x.txt", b"inside")]);
    let l2 = layer(&[E::Symlink(b"lnk", b"../../../../etc")]);
    let tree = read(vec![l1, l2]);
    assert_eq!(
        tree.bytes("lnk/x.txt").as_deref(),
        None,
        "already read as etc/x.txt"
    );
    assert_eq!(tree.bytes("etc/x.txt").as_deref().unwrap(), b"inside");
}

#[test]
fn names_are_raw_bytes_so_a_whiteout_hides_only_its_own_directory() {
    let l1 = layer(&[
        E::File(b"d\xff/a.txt", b"ff"),
        E::File(b"d\xfe/b.txt", b"fe"),
    ]);
    let l2 = layer(&[E::File(b".wh.d\xff", b"")]);
    let tree = read(vec![l1, l2]);
    assert_eq!(names(&tree), ["d\\xfe/b.txt"]);
    let l1 = layer(&[
        E::File(b"d\xff/a.txt", b"ff"),
        E::File(b"d\xfe/b.txt", b"fe"),
    ]);
    let l2 = layer(&[E::File(b"d\xfe/.wh..wh..opq", b"")]);
    assert_eq!(names(&read(vec![l1, l2])), ["d\\xff/a.txt"]);
}

#[test]
fn a_foreign_layer_is_reported_unread() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = image(dir.path(), vec![files(&[("a.txt", b"1")])]);
    img.layers.push(LayerBlob {
        what: "layer 2 (sha256:0000)".into(),
        range: None,
        digest: None,
    });
    let tree = read_image(&img, &txt).unwrap();
    assert_eq!(tree.unread.len(), 1, "{:?}", tree.unread);
    assert!(tree.unread[0].path.contains("layer 2"), "{:?}", tree.unread);
    assert!(
        tree.unread[0].reason.contains("foreign"),
        "{:?}",
        tree.unread
    );
}

#[test]
fn every_zstd_frame_is_read() {
    // zstd:chunked and pzstd write many frames: a reader that stops after the first one
    // silently drops every file after it.
    let tar = files(&[("a.txt", b"1"), ("b.txt", b"2")]);
    let (first, rest) = tar.split_at(1024);
    let mut z = zstd_raw(first);
    // A skippable frame between them, as zstd:chunked writes its table of contents.
    z.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    z.extend(zstd_raw(rest));
    assert_eq!(names(&read(vec![z])), ["a.txt", "b.txt"]);
}

#[test]
fn a_zstd_window_larger_than_runtimes_decode_is_refused() {
    let mut z = zstd_raw(&files(&[("a.txt", b"1")]));
    z[5] = 21 << 3; // 2 GiB window
    let dir = tempfile::tempdir().unwrap();
    let err = read_image(&image(dir.path(), vec![z]), &txt).unwrap_err();
    assert!(err.message.contains("window"), "{err}");
}

#[test]
fn a_2_gib_gnu_long_name_in_a_small_zstd_layer_is_refused_with_bounded_memory() {
    // Issue 20: a 100 KB zstd layer whose GNU long-name header declares 2 GiB; the plain tar
    // reader loaded it whole (10.5 GB RSS). The layer is a real zstd stream of RLE blocks.
    let declared: u64 = 2 << 30;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(declared);
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    z.extend_from_slice(&(512u32 << 3).to_le_bytes()[..3]);
    z.extend_from_slice(h.as_bytes());
    let blocks = declared / (128 * 1024);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let bh = last | (1 << 1) | ((128 * 1024) << 3); // RLE block of 128 KiB of 'a'
        z.extend_from_slice(&bh.to_le_bytes()[..3]);
        z.push(b'a');
    }
    assert!(z.len() < 100_000, "{}", z.len());
    let dir = tempfile::tempdir().unwrap();
    let before = peak_rss_kib();
    let err = read_image(&image(dir.path(), vec![z]), &txt).unwrap_err();
    assert!(err.message.contains("larger than 16 MiB"), "{err}");
    let grew = peak_rss_kib().saturating_sub(before) / 1024;
    assert!(grew < 64, "peak RSS grew by {grew} MiB reading the layer");
}

#[test]
fn a_hostile_archive_gets_the_same_bounds_as_the_push() {
    // A PAX header declaring 300 MiB of records (a sparse hole): the scan reads archives
    // through the one image source, whose index refuses it without buffering the records.
    let f = pax_header_bomb();
    for spec in [
        SourceSpec::OciArchive(f.path().to_path_buf()),
        SourceSpec::DockerArchive(f.path().to_path_buf()),
    ] {
        let Err(e) = images(&spec, &Stop::none()) else {
            panic!("{spec:?}: a hostile archive was accepted");
        };
        assert!(e.message.contains("larger than 16 MiB"), "{}", e.message);
    }
}

/// Jars are read as their layer streams (no size cap), and what they name is a fact of their
/// file: a whiteout in a later layer removes it, a hard link in a later layer keeps it.
#[test]
fn java_facts_follow_their_file_through_whiteouts_and_links() {
    use crate::scan::catalog::java::tests::{zip_as, How};
    let pom = b"groupId=org.example\nartifactId=lib\nversion=1\n";
    let jar = zip_as(&[(
        "META-INF/maven/org.example/lib/pom.properties",
        pom,
        How::Deflated,
    )]);
    let l1 = files(&[
        ("app/gone.jar", &jar),
        ("app/kept.JAR", &jar),
        ("x/data", &jar),
    ]);
    let l2 = layer(&[
        E::File(b"app/.wh.gone.jar", b""),
        E::Hardlink(b"app/linked.jar", b"x/data"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let tree = read_image(
        &image(dir.path(), vec![l1, l2]),
        &crate::scan::catalog::want,
    )
    .unwrap();
    let jars: Vec<(&str, usize)> = tree
        .files
        .iter()
        .filter_map(|(p, k)| match k {
            Kept::Java(f) => Some((p.as_str(), f.found.len())),
            _ => None,
        })
        .collect();
    assert_eq!(jars, [("app/kept.JAR", 1), ("app/linked.jar", 1)]);
}

/// One file's bytes under two names that want it differently (hard links of a later layer,
/// one origin): each name is read as it asks, the one wanting the bytes gets them (not a
/// false "too large"), the one wanting an archive read gets its facts.
#[test]
fn a_file_wanted_as_an_archive_and_as_bytes_is_read_for_both() {
    use crate::scan::catalog::java::tests::{zip_as, How};
    let pom = b"groupId=org.example\nartifactId=lib\nversion=1\n";
    let jar = zip_as(&[(
        "META-INF/maven/org.example/lib/pom.properties",
        pom,
        How::Deflated,
    )]);
    let l1 = files(&[("x/data", &jar)]);
    let l2 = layer(&[
        E::Hardlink(b"app/lib.jar", b"x/data"),
        E::Hardlink(b"app/copy.txt", b"x/data"),
    ]);
    let want = |path: &str, _: u64, _: bool| {
        if path.ends_with(".jar") {
            Want::Java
        } else if path.ends_with(".txt") {
            Want::Bytes { cap: 1 << 20 }
        } else {
            Want::Skip
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let tree = read_image(&image(dir.path(), vec![l1, l2]), &want).unwrap();
    assert_eq!(names(&tree), ["app/copy.txt", "app/lib.jar"]);
    assert_eq!(tree.bytes("app/copy.txt").as_deref(), Some(&jar[..]));
    match &tree.files["app/lib.jar"] {
        Kept::Java(f) => assert_eq!(f.found.len(), 1, "{f:?}"),
        k => panic!("{k:?}"),
    }
    let inv = crate::scan::catalog::catalogue(&tree, None);
    assert!(inv.unread.is_empty(), "{:?}", inv.unread);
}

/// Past the total budget, contents are spilled and read back the same, on both passes (the
/// stream, and the second pass for a file wanted under a link's name); a replaced file's
/// content is credited back to the budget.
#[test]
fn contents_past_the_total_budget_are_spilled_and_read_back() {
    use crate::scan::catalog::java::tests::{zip_as, How};
    let pom = b"groupId=org.example\nartifactId=lib\nversion=1\n";
    let jar = zip_as(&[(
        "META-INF/maven/org.example/lib/pom.properties",
        pom,
        How::Deflated,
    )]);
    let l1 = files(&[
        ("a.txt", &[b'a'; 40][..]),
        ("b.txt", &[b'b'; 40][..]),
        ("c.txt", &[b'c'; 40][..]),
        ("x/data", &jar),
    ]);
    // b.txt is replaced: its new content is read while the old one is still held (spilled),
    // then the old one is credited back, so d.txt fits in memory again.
    let l2 = files(&[("b.txt", &[b'B'; 30][..]), ("d.txt", &[b'd'; 30][..])]);
    let l3 = layer(&[
        E::Hardlink(b"app/lib.jar", b"x/data"),
        E::Hardlink(b"app/copy.txt", b"x/data"),
    ]);
    let want = |path: &str, _: u64, _: bool| {
        if path.ends_with(".jar") {
            Want::Java
        } else if path.ends_with(".txt") {
            Want::Bytes { cap: 1 << 20 }
        } else {
            Want::Skip
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), vec![l1, l2, l3]);
    let tree = read_image_within(&img, &want, &Stop::none(), Holder::with_limit(100)).unwrap();
    let spilled = |p: &str| format!("{:?}", tree.files[p]).contains("spilled");
    assert_eq!(
        names(&tree),
        [
            "a.txt",
            "app/copy.txt",
            "app/lib.jar",
            "b.txt",
            "c.txt",
            "d.txt"
        ]
    );
    assert!(spilled("c.txt") && spilled("b.txt"));
    assert!(
        !spilled("a.txt") && !spilled("d.txt"),
        "{:?}",
        tree.files["d.txt"]
    );
    assert!(spilled("app/copy.txt"), "{:?}", tree.files["app/copy.txt"]);
    for (p, b) in [
        ("a.txt", b'a'),
        ("c.txt", b'c'),
        ("b.txt", b'B'),
        ("d.txt", b'd'),
    ] {
        let got = tree.bytes(p).unwrap();
        assert!(!got.is_empty() && got.iter().all(|x| *x == b), "{p}");
    }
    assert_eq!(tree.bytes("app/copy.txt").as_deref(), Some(&jar[..]));
    match &tree.files["app/lib.jar"] {
        Kept::Java(f) => assert_eq!(f.found.len(), 1, "{f:?}"),
        k => panic!("{k:?}"),
    }
    let inv = crate::scan::catalog::catalogue(&tree, None);
    assert!(inv.unread.is_empty(), "{:?}", inv.unread);
}

/// With nowhere to spill, what does not fit is named (and so is the same content under a
/// link's name that wants it as an archive), never dropped.
#[test]
fn contents_that_cannot_be_spilled_are_named() {
    let l1 = files(&[("a.txt", &[b'a'; 60][..]), ("b.txt", &[b'b'; 60][..])]);
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), vec![l1]);
    let holder = Holder::with_limit(100).spilling_in(&dir.path().join("missing"));
    let tree = read_image_within(&img, &txt, &Stop::none(), holder).unwrap();
    assert_eq!(tree.bytes("a.txt").as_deref(), Some(&[b'a'; 60][..]));
    let inv = crate::scan::catalog::catalogue(&tree, None);
    assert_eq!(inv.unread.len(), 1, "{:?}", inv.unread);
    assert_eq!(inv.unread[0].path, "/b.txt");
    assert!(
        inv.unread[0].reason.contains("could not be spilled"),
        "{:?}",
        inv.unread
    );
}
