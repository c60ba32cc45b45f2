//! What a compiled binary says about the modules built into it, read while the binary streams
//! past: Go's module build info (the `\xff Go buildinf:` blob the linker embeds, Go 1.18+
//! inline format) and Rust's cargo-auditable dependency list (the zlib-compressed JSON in an
//! ELF `.dep-v0` section).
//!
//! Only ELF files are read past their first 4 bytes (Go and Rust programs for Linux are ELF),
//! so every file of an image can be offered here whatever its mode bits.
//! Go's blob is found by scanning for its magic, so binaries of any size cost no memory.
//! Reading an ELF section needs the section table at the end of the file, after the
//! sections: ELF files up to [`MAX_ELF`] are held in memory for the length of one file, larger
//! ones (up to [`MAX_SPILL`]) are spilled as they stream to an unlinked temp file (gone on
//! every path, even a kill) and their section read from it. An ELF larger still is named as
//! not read for Rust crates (its Go build info is still read).

use serde::Deserialize;
use std::io::Read;

/// ELF files up to this size are held in memory while their sections are read.
pub const MAX_ELF: u64 = 48 << 20;
/// ELF files up to this size are spilled to a temp file to read their sections.
pub const MAX_SPILL: u64 = 4 << 30;
/// The most read of a section table, a section-name table or a `.dep-v0` section.
const MAX_TABLE: u64 = 16 << 20;
/// Bytes kept after Go's magic: the header plus the version and module strings.
const GO_TAIL: usize = 1 << 20;
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// One module or crate built into a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    pub version: String,
}

/// What a binary tells about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinaryInfo {
    /// `go1.22.5` when it is a Go binary with module info.
    pub go_version: Option<String>,
    /// The main module (path, version `(devel)` for local builds).
    pub go_main: Option<Module>,
    pub go_deps: Vec<Module>,
    /// Crates from cargo-auditable data (the root crate included).
    pub rust_crates: Vec<Module>,
    /// Why its sections could not be read for cargo-auditable data, when they could not.
    pub unread: Option<String>,
}

impl BinaryInfo {
    pub fn is_empty(&self) -> bool {
        self.go_version.is_none() && self.rust_crates.is_empty() && self.unread.is_none()
    }
}

/// Read `r` (a file of `size` bytes) to its end; `Ok(None)` when it is neither a Go nor an
/// auditable Rust binary. I/O errors are the stream's, not the binary's: malformed build info
/// just means nothing is found.
pub fn inspect(r: &mut dyn Read, size: u64) -> std::io::Result<Option<BinaryInfo>> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut head[got..])?;
        if n == 0 {
            return Ok(None);
        }
        got += n;
    }
    // Go and Rust binaries for Linux are ELF: anything else is done with after 4 bytes, so
    // every file of an image can be asked (see `catalog::want`) at the cost of a peek.
    if head != *b"\x7fELF" {
        return Ok(None);
    }
    let mut held = Held::new(size, &head);
    let finder = memchr::memmem::Finder::new(GO_MAGIC);
    let mut go_tail: Option<Vec<u8>> = None;
    // `carry` keeps the end of the previous chunk so a magic split across reads is found.
    let mut carry: Vec<u8> = head.to_vec();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        held.extend(chunk);
        match go_tail.as_mut() {
            Some(t) if t.len() < GO_TAIL => {
                let take = (GO_TAIL - t.len()).min(n);
                t.extend_from_slice(&chunk[..take]);
            }
            Some(_) => {}
            None => {
                carry.extend_from_slice(chunk);
                if let Some(at) = finder.find(&carry) {
                    let end = (at + GO_TAIL).min(carry.len());
                    go_tail = Some(carry[at..end].to_vec());
                }
                let keep = GO_MAGIC.len() - 1;
                if carry.len() > keep {
                    carry.drain(..carry.len() - keep);
                }
            }
        }
    }
    let mut info = BinaryInfo::default();
    match held {
        Held::Memory(w) => read_crates(&in_memory(&w), &mut info),
        Held::Spilled(f) => {
            let at = |off: u64, len: u64| -> std::io::Result<Vec<u8>> {
                use std::os::unix::fs::FileExt;
                let mut b = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
                f.read_exact_at(&mut b, off)?;
                Ok(b)
            };
            read_crates(&at, &mut info);
        }
        Held::Not(why) => info.unread = Some(why),
    }
    if let Some(t) = go_tail {
        if let Some((version, modinfo)) = go_buildinfo(&t) {
            info.go_version = Some(version);
            let (main, deps) = parse_modinfo(&modinfo);
            info.go_main = main;
            info.go_deps = deps;
        }
    }
    Ok((!info.is_empty()).then_some(info))
}

/// Where an ELF's bytes are kept while it streams, so its section table (at its end) can
/// find a section (before it).
enum Held {
    Memory(Vec<u8>),
    /// An unlinked temp file: the kernel frees it when it is dropped, whatever ends the run.
    Spilled(std::fs::File),
    /// Not kept, and why.
    Not(String),
}

impl Held {
    fn new(size: u64, head: &[u8]) -> Held {
        if size <= MAX_ELF {
            let mut v = Vec::with_capacity(size as usize);
            v.extend_from_slice(head);
            return Held::Memory(v);
        }
        if size > MAX_SPILL {
            return Held::Not(format!(
                "an ELF file of {size} bytes, over the {} GiB the scan spills to disk to read its sections, so any cargo-auditable crate list in it was not read",
                MAX_SPILL >> 30
            ));
        }
        let mut h = match tempfile::tempfile() {
            Ok(f) => Held::Spilled(f),
            Err(e) => Held::Not(spill_failed(&e)),
        };
        h.extend(head);
        h
    }

    fn extend(&mut self, chunk: &[u8]) {
        match self {
            Held::Memory(v) => v.extend_from_slice(chunk),
            Held::Spilled(f) => {
                if let Err(e) = std::io::Write::write_all(f, chunk) {
                    *self = Held::Not(spill_failed(&e));
                }
            }
            Held::Not(_) => {}
        }
    }
}

fn spill_failed(e: &std::io::Error) -> String {
    format!(
        "an ELF file over {} MiB could not be spilled to a temp file to read its sections ({e}; TMPDIR names where), so any cargo-auditable crate list in it was not read",
        MAX_ELF >> 20
    )
}

/// The Go version and module info strings from a buildinfo blob starting at its magic.
/// Only the inline-string format (Go 1.18 and later, flag bit 2) is read.
fn go_buildinfo(b: &[u8]) -> Option<(String, String)> {
    if b.len() < 32 || !b.starts_with(GO_MAGIC) {
        return None;
    }
    let flags = b[15];
    if flags & 0x2 == 0 {
        return None;
    }
    let mut rest = &b[32..];
    let version = String::from_utf8_lossy(read_varstr(&mut rest)?).into_owned();
    let modinfo = read_varstr(&mut rest)?;
    // The module info is framed by two 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        String::from_utf8_lossy(&modinfo[16..modinfo.len() - 16]).into_owned()
    } else {
        String::new()
    };
    version.starts_with("go").then_some((version, modinfo))
}

fn read_varstr<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let len = usize::try_from(len).ok()?;
    if len > b.len() {
        return None;
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    Some(s)
}

/// `mod`/`dep` lines of Go's module info; a `=>` line replaces the module before it.
fn parse_modinfo(s: &str) -> (Option<Module>, Vec<Module>) {
    let mut main = None;
    let mut deps: Vec<Module> = Vec::new();
    let mut last_was_dep = false;
    for line in s.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", path, version, ..] => {
                main = Some(Module {
                    name: path.to_string(),
                    version: version.to_string(),
                });
                last_was_dep = false;
            }
            ["dep", path, version, ..] => {
                deps.push(Module {
                    name: path.to_string(),
                    version: version.to_string(),
                });
                last_was_dep = true;
            }
            // A replacement by a local directory has no version (or "(devel)"): the module
            // keeps the path and version it was required as.
            ["=>", path, version, ..]
                if last_was_dep && !version.is_empty() && *version != "(devel)" =>
            {
                if let Some(d) = deps.last_mut() {
                    d.name = path.to_string();
                    d.version = version.to_string();
                }
            }
            _ => last_was_dep = false,
        }
    }
    (main, deps)
}

/// Reads `length` bytes at `offset` of an ELF file (memory or a spill); an error when the
/// file does not hold them.
type At<'a> = &'a dyn Fn(u64, u64) -> std::io::Result<Vec<u8>>;

/// [`At`] for an ELF file held in memory.
fn in_memory(f: &[u8]) -> impl Fn(u64, u64) -> std::io::Result<Vec<u8>> + '_ {
    move |off, len| {
        let range = usize::try_from(off).ok().and_then(|start| {
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            f.get(start..end)
        });
        range
            .map(<[u8]>::to_vec)
            .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
    }
}

/// The bytes of the named section of an ELF file held in memory (see [`section_of`]).
#[cfg(test)]
fn elf_section(f: &[u8], name: &str) -> Result<Option<Vec<u8>>, String> {
    section_of(&in_memory(f), name)
}

/// What reading `what` (`len` bytes at `off`) through `at` failed with, as a reason.
fn read_at(at: At, off: u64, len: u64, what: &str) -> Result<Vec<u8>, String> {
    if len > MAX_TABLE {
        return Err(format!(
            "its {what} is {len} bytes, more than the {} MiB the scan reads of one",
            MAX_TABLE >> 20
        ));
    }
    at(off, len).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            format!("its {what} ({len} bytes at offset {off}) is past the end of the file")
        } else {
            format!("its {what} could not be read back from the spill ({e})")
        }
    })
}

/// The bytes of the named section of an ELF file (32/64-bit, either byte order), read through
/// `at(offset, length)`: the header, the section table and the name table are each read once
/// (each at most [`MAX_TABLE`]), then the section.
///
/// `Ok(None)` only when the file is a well-formed ELF that has no such section (or no section
/// table at all: nothing can find a section in it); `Err(why)` when the section could be
/// there and was not read (a malformed header or table, an offset past the end of the file,
/// a table or section over [`MAX_TABLE`], a failed read of the spill).
fn section_of(at: At, name: &str) -> Result<Option<Vec<u8>>, String> {
    let h = at(0, 64)
        .or_else(|_| at(0, 52))
        .map_err(|_| "its ELF header is cut short".to_string())?;
    if &h[..4] != b"\x7fELF" {
        return Err("it does not start with an ELF header".into());
    }
    let is64 = match h[4] {
        1 => false,
        2 => true,
        c => return Err(format!("its ELF header names an unknown class ({c})")),
    };
    let le = match h[5] {
        1 => true,
        2 => false,
        d => return Err(format!("its ELF header names an unknown byte order ({d})")),
    };
    let num = |b: &[u8], o: usize, n: usize| -> Option<u64> {
        let s = b.get(o..o.checked_add(n)?)?;
        let mut v = [0u8; 8];
        if le {
            v[..n].copy_from_slice(s);
            Some(u64::from_le_bytes(v))
        } else {
            v[8 - n..].copy_from_slice(s);
            Some(u64::from_be_bytes(v))
        }
    };
    let short = || "its ELF header is cut short".to_string();
    let w = if is64 { 8 } else { 4 };
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        (
            num(&h, 0x28, 8).ok_or_else(short)?,
            num(&h, 0x3a, 2).ok_or_else(short)?,
            num(&h, 0x3c, 2).ok_or_else(short)?,
            num(&h, 0x3e, 2).ok_or_else(short)?,
        )
    } else {
        (
            num(&h, 0x20, 4).ok_or_else(short)?,
            num(&h, 0x2e, 2).ok_or_else(short)?,
            num(&h, 0x30, 2).ok_or_else(short)?,
            num(&h, 0x32, 2).ok_or_else(short)?,
        )
    };
    if shoff == 0 {
        // No section table (`sstrip`): no reader can find a section in it.
        return Ok(None);
    }
    let min_ent = if is64 { 64 } else { 40 };
    let ent = usize::try_from(shentsize).unwrap_or(0);
    if ent < min_ent {
        return Err(format!(
            "its ELF header gives section table entries of {shentsize} bytes, fewer than the {min_ent} an entry takes"
        ));
    }
    // (name offset, file offset, size, link) of entry i of `table`.
    let (o_off, o_size, o_link) = if is64 {
        (0x18, 0x20, 0x28)
    } else {
        (0x10, 0x14, 0x18)
    };
    let entry = |table: &[u8], i: u64| -> Option<(u64, u64, u64, u64)> {
        let base = usize::try_from(i).ok()?.checked_mul(ent)?;
        Some((
            num(table, base, 4)?,
            num(table, base.checked_add(o_off)?, w)?,
            num(table, base.checked_add(o_size)?, w)?,
            num(table, base.checked_add(o_link)?, 4)?,
        ))
    };
    // More than 0xff00 sections: the count is the first entry's size, the name table's
    // index its link (the ELF gABI's extended numbering).
    let (shnum, shstrndx) = if shnum == 0 || shstrndx == 0xffff {
        let first = read_at(at, shoff, shentsize, "first section table entry")?;
        let (_, _, size, link) = entry(&first, 0).ok_or_else(short)?;
        (
            if shnum == 0 { size } else { shnum },
            if shstrndx == 0xffff { link } else { shstrndx },
        )
    } else {
        (shnum, shstrndx)
    };
    if shnum == 0 {
        return Ok(None);
    }
    let table_len = shnum.saturating_mul(shentsize);
    let table = read_at(at, shoff, table_len, "section table")?;
    let malformed = |what: &str| format!("its section table is malformed ({what})");
    if shstrndx >= shnum {
        return Err(malformed(&format!(
            "the section-name table is entry {shstrndx} of {shnum}"
        )));
    }
    let (_, stroff, strsize, _) = entry(&table, shstrndx).ok_or_else(|| malformed("cut short"))?;
    let strtab = read_at(at, stroff, strsize, "section-name table")?;
    for i in 0..shnum {
        let (n, off, size, _) = entry(&table, i).ok_or_else(|| malformed("cut short"))?;
        let Some(tail) = usize::try_from(n).ok().and_then(|n| strtab.get(n..)) else {
            continue;
        };
        let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
        if &tail[..end] == name.as_bytes() {
            return read_at(at, off, size, &format!("{name} section")).map(Some);
        }
    }
    Ok(None)
}

#[derive(Deserialize)]
struct Auditable {
    packages: Vec<AuditablePackage>,
}

#[derive(Deserialize)]
struct AuditablePackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// The most JSON a `.dep-v0` section may inflate to (real ones are a few KiB per hundred
/// crates): a zlib bomb stops here and is named, never held.
const MAX_DEP_JSON: u64 = 16 << 20;

/// Crates listed by cargo-auditable (build-only dependencies are not in the binary); `Err`
/// names why the section could not be read.
fn auditable_crates(compressed: &[u8]) -> Result<Vec<Module>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_DEP_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("its .dep-v0 section is not valid zlib ({e})"))?;
    if json.len() as u64 > MAX_DEP_JSON {
        return Err(format!(
            "its .dep-v0 section inflates to more than {} MiB, the most the scan inflates of one",
            MAX_DEP_JSON >> 20
        ));
    }
    let doc = serde_json::from_slice::<Auditable>(&json)
        .map_err(|e| format!("its .dep-v0 section is not cargo-auditable JSON ({e})"))?;
    Ok(doc
        .packages
        .into_iter()
        .filter(|p| p.kind.as_deref() != Some("build"))
        .map(|p| Module {
            name: p.name,
            version: p.version,
        })
        .collect())
}

/// The crates of an ELF's `.dep-v0` section read through `at` into `info`, or why not.
fn read_crates(at: At, info: &mut BinaryInfo) {
    let got =
        section_of(at, ".dep-v0").and_then(|dep| dep.map(|d| auditable_crates(&d)).transpose());
    match got {
        Ok(crates) => info.rust_crates = crates.unwrap_or_default(),
        Err(why) => {
            info.unread = Some(format!(
                "{why}, so any cargo-auditable crate list in it was not read"
            ))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn varstr(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = s.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(s);
        out
    }

    /// A Go 1.18+ buildinfo blob as the linker lays it out.
    pub(crate) fn go_blob(modinfo: &str) -> Vec<u8> {
        let mut b = GO_MAGIC.to_vec();
        b.push(8); // pointer size
        b.push(2); // flags: inline strings
        b.resize(32, 0);
        b.extend(varstr(b"go1.22.5"));
        let mut m = vec![0x30u8; 16];
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(&[0xf9; 16]);
        b.extend(varstr(&m));
        b
    }

    #[test]
    fn go_build_info_is_found_anywhere_in_a_stream() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:x\ndep\tgithub.com/a/b\tv1.0.0\th1:y\n=>\tgithub.com/fork/b\tv1.0.1\th1:z\nbuild\t-compiler=gc\n";
        // Put the blob across a read boundary (256 KiB) to exercise the carry, in an ELF
        // said to be over MAX_ELF (so streamed, not held).
        let mut file = vec![0u8; 256 * 1024 - 7];
        file[..4].copy_from_slice(b"\x7fELF");
        file.extend(go_blob(modinfo));
        file.extend(vec![0u8; 1000]);
        let info = inspect(&mut &file[..], MAX_ELF + 1).unwrap().unwrap();
        assert_eq!(info.go_version.as_deref(), Some("go1.22.5"));
        assert_eq!(info.go_main.unwrap().name, "example.com/app");
        assert_eq!(
            info.go_deps,
            vec![
                Module {
                    name: "golang.org/x/net".into(),
                    version: "v0.1.0".into()
                },
                Module {
                    name: "github.com/fork/b".into(),
                    version: "v1.0.1".into()
                },
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sections_of_a_real_elf_are_found() {
        // This test binary, as the Rust toolchain linked it.
        let me = std::fs::read("/proc/self/exe").unwrap();
        let comment = elf_section(&me, ".comment")
            .unwrap()
            .expect("linkers write .comment");
        assert!(!comment.is_empty());
        assert_eq!(elf_section(&me, ".dep-v0"), Ok(None));
        let cut = elf_section(&me[..64], ".comment").unwrap_err();
        assert!(cut.contains("past the end of the file"), "{cut}");
    }

    #[test]
    fn a_file_that_is_not_elf_is_left_after_four_bytes() {
        struct Counting<'a>(&'a [u8], usize);
        impl Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.read(buf)?;
                self.1 += n;
                Ok(n)
            }
        }
        // Even with Go's blob inside (a wasm Go build does not run in a Linux container).
        let mut file = b"\0asm".to_vec();
        file.extend(go_blob("mod\tx\tv1\t\n"));
        file.resize(1 << 20, 0);
        let mut r = Counting(&file, 0);
        assert!(inspect(&mut r, file.len() as u64).unwrap().is_none());
        assert!(r.1 <= 4, "read {} bytes", r.1);
    }

    /// An ELF over MAX_ELF is spilled and its section read from the spill; one over
    /// MAX_SPILL is named as not read for Rust crates, its Go build info still read.
    #[cfg(target_os = "linux")]
    #[test]
    fn large_elf_files_are_spilled_or_named() {
        let me = std::fs::read("/proc/self/exe").unwrap();
        let at = |off: u64, len: u64| -> std::io::Result<Vec<u8>> {
            me.get(off as usize..(off + len) as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
        };
        assert_eq!(section_of(&at, ".comment"), elf_section(&me, ".comment"));
        // A said size over MAX_ELF takes the spill path; the bytes are the same.
        let mut held = Held::new(MAX_ELF + 1, &me[..4]);
        held.extend(&me[4..]);
        let Held::Spilled(f) = held else {
            panic!("not spilled")
        };
        assert_eq!(f.metadata().unwrap().len(), me.len() as u64);

        let mut file = b"\x7fELF".to_vec();
        file.extend(go_blob("mod\tx\tv1\t\n"));
        let info = inspect(&mut &file[..], MAX_SPILL + 1).unwrap().unwrap();
        assert_eq!(info.go_version.as_deref(), Some("go1.22.5"));
        assert!(info.unread.unwrap().contains("over the 4 GiB"));
    }

    #[test]
    fn plain_files_and_truncated_blobs_give_nothing() {
        let f = b"#!/bin/sh\necho hi\n";
        assert!(inspect(&mut &f[..], f.len() as u64).unwrap().is_none());
        let mut blob = go_blob("mod\tx\tv1\t\n");
        blob.truncate(40);
        assert!(inspect(&mut &blob[..], blob.len() as u64)
            .unwrap()
            .is_none());
    }

    /// A little-endian ELF64 file with the given (name, content) sections after its header,
    /// then its section-name table and its section table, as linkers lay them out.
    pub(crate) fn elf_with(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1;
        f[16] = 2; // ET_EXEC
        let mut names = vec![0u8];
        let mut entries = vec![(0u32, 0u64, 0u64)]; // the null section
        for (name, data) in sections {
            entries.push((names.len() as u32, f.len() as u64, data.len() as u64));
            names.extend_from_slice(name.as_bytes());
            names.push(0);
            f.extend_from_slice(data);
        }
        entries.push((names.len() as u32, f.len() as u64, 0));
        names.extend_from_slice(b".shstrtab\0");
        let last = entries.len() - 1;
        entries[last].2 = names.len() as u64;
        f.extend_from_slice(&names);
        let shoff = f.len() as u64;
        for (name, off, size) in &entries {
            let mut e = [0u8; 64];
            e[..4].copy_from_slice(&name.to_le_bytes());
            e[4] = 1; // SHT_PROGBITS
            e[0x18..0x20].copy_from_slice(&off.to_le_bytes());
            e[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&e);
        }
        f[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&(last as u16).to_le_bytes());
        f.resize(f.len().max(8192), 0);
        f
    }

    pub(crate) fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const DEPS: &[u8] = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io","dependencies":[]},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;

    fn inspected(f: &[u8]) -> Option<BinaryInfo> {
        inspect(&mut &f[..], f.len() as u64).unwrap()
    }

    /// A cargo-auditable section is read; a binary without one is not a Rust binary (fine);
    /// a section table, name table or .dep-v0 that could be there and was not read (past the
    /// end of the file, over the cap, not zlib, not JSON, a zlib bomb) is named, never taken
    /// for "no crates".
    #[test]
    fn a_dep_v0_section_that_cannot_be_read_is_named_not_absent() {
        let info = inspected(&elf_with(&[(".text", b"code"), (".dep-v0", &zlib(DEPS))])).unwrap();
        let names: Vec<&str> = info.rust_crates.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["app", "smallvec"]);
        assert_eq!(info.unread, None);
        // Absent: an ELF without .dep-v0, and one without a section table at all.
        assert_eq!(inspected(&elf_with(&[(".text", b"code")])), None);
        let mut stripped = elf_with(&[(".text", b"code")]);
        stripped[0x28..0x30].fill(0);
        assert_eq!(inspected(&stripped), None);

        let unread = |f: &[u8]| -> String {
            let info = inspected(f).expect("named as not read");
            assert!(info.rust_crates.is_empty());
            info.unread.expect("named as not read")
        };
        let bomb = zlib(&vec![b' '; (MAX_DEP_JSON + 1) as usize]);
        assert!(bomb.len() < 64 << 10);
        let why = unread(&elf_with(&[(".dep-v0", &bomb)]));
        assert!(why.contains("inflates to more than 16 MiB"), "{why}");
        assert!(why.ends_with("so any cargo-auditable crate list in it was not read"));
        let why = unread(&elf_with(&[(".dep-v0", b"not zlib")]));
        assert!(why.contains("not valid zlib"), "{why}");
        let why = unread(&elf_with(&[(".dep-v0", &zlib(b"{\"packages\":"))]));
        assert!(why.contains("not cargo-auditable JSON"), "{why}");

        // The section table past the end of the file (a file cut short).
        let mut cut = elf_with(&[(".dep-v0", &zlib(DEPS))]);
        cut[0x28..0x30].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let why = unread(&cut);
        assert!(why.contains("section table"), "{why}");
        assert!(why.contains("past the end of the file"), "{why}");
        // .dep-v0 (entry 1) past the end, and over the cap.
        let good = elf_with(&[(".dep-v0", &zlib(DEPS))]);
        let shoff = u64::from_le_bytes(good[0x28..0x30].try_into().unwrap()) as usize;
        let mut far = good.clone();
        far[shoff + 64 + 0x18..shoff + 64 + 0x20].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let why = unread(&far);
        assert!(
            why.contains(".dep-v0 section") && why.contains("past the end"),
            "{why}"
        );
        let mut huge = good.clone();
        huge[shoff + 64 + 0x20..shoff + 64 + 0x28].copy_from_slice(&(MAX_TABLE + 1).to_le_bytes());
        let why = unread(&huge);
        assert!(why.contains("more than the 16 MiB"), "{why}");
        // The section-name table (entry 2) past the end; its index out of the table.
        let mut names = good.clone();
        names[shoff + 128 + 0x18..shoff + 128 + 0x20].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let why = unread(&names);
        assert!(why.contains("section-name table"), "{why}");
        let mut index = good.clone();
        index[0x3e..0x40].copy_from_slice(&9u16.to_le_bytes());
        let why = unread(&index);
        assert!(why.contains("malformed"), "{why}");
        let mut ent = good;
        ent[0x3a..0x3c].copy_from_slice(&8u16.to_le_bytes());
        let why = unread(&ent);
        assert!(why.contains("entries of 8 bytes"), "{why}");
    }

    /// What the binary reader could not read is an Unread of the inventory, naming the file.
    #[test]
    fn an_unreadable_dep_v0_is_an_unread_of_the_inventory() {
        use crate::scan::layers::{FileTree, Kept};
        let f = elf_with(&[(".dep-v0", b"not zlib")]);
        let mut tree = FileTree::default();
        tree.files
            .insert("usr/bin/app".into(), Kept::Binary(inspected(&f).unwrap()));
        let inv = crate::scan::catalog::catalogue(&tree, None);
        assert_eq!(inv.unread.len(), 1, "{:?}", inv.unread);
        assert_eq!(inv.unread[0].path, "/usr/bin/app");
        assert!(inv.unread[0].reason.contains("not valid zlib"));
    }
}
