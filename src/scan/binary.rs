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
        Held::Memory(w) => {
            if let Some(dep) = elf_section(&w, ".dep-v0") {
                info.rust_crates = auditable_crates(&dep);
            }
        }
        Held::Spilled(f) => {
            let at = |off: u64, len: u64| -> Option<Vec<u8>> {
                use std::os::unix::fs::FileExt;
                let mut b = vec![0u8; usize::try_from(len).ok()?];
                f.read_exact_at(&mut b, off).ok()?;
                Some(b)
            };
            if let Some(dep) = section_of(&at, ".dep-v0") {
                info.rust_crates = auditable_crates(&dep);
            }
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

/// The bytes of the named section of an ELF file held in memory.
pub(crate) fn elf_section(f: &[u8], name: &str) -> Option<Vec<u8>> {
    let at = |off: u64, len: u64| -> Option<Vec<u8>> {
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        f.get(start..end).map(<[u8]>::to_vec)
    };
    section_of(&at, name)
}

/// The bytes of the named section of an ELF file (32/64-bit, either byte order), read through
/// `at(offset, length)`: the header, the section table and the name table are each read once
/// (each at most [`MAX_TABLE`]), then the section.
fn section_of(at: &dyn Fn(u64, u64) -> Option<Vec<u8>>, name: &str) -> Option<Vec<u8>> {
    let h = at(0, 64).or_else(|| at(0, 52))?;
    if &h[..4] != b"\x7fELF" {
        return None;
    }
    let is64 = match h[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match h[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let num = |b: &[u8], o: usize, n: usize| -> Option<u64> {
        let s = b.get(o..o + n)?;
        let mut v = [0u8; 8];
        if le {
            v[..n].copy_from_slice(s);
            Some(u64::from_le_bytes(v))
        } else {
            v[8 - n..].copy_from_slice(s);
            Some(u64::from_be_bytes(v))
        }
    };
    let w = if is64 { 8 } else { 4 };
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        (
            num(&h, 0x28, 8)?,
            num(&h, 0x3a, 2)?,
            num(&h, 0x3c, 2)?,
            num(&h, 0x3e, 2)?,
        )
    } else {
        (
            num(&h, 0x20, 4)?,
            num(&h, 0x2e, 2)?,
            num(&h, 0x30, 2)?,
            num(&h, 0x32, 2)?,
        )
    };
    let ent = usize::try_from(shentsize).ok()?;
    if ent < if is64 { 64 } else { 40 } || shnum == 0 {
        return None;
    }
    let table_len = shnum.checked_mul(shentsize)?;
    if table_len > MAX_TABLE {
        return None;
    }
    let table = at(shoff, table_len)?;
    // (name offset, file offset, size) of section i.
    let section = |i: u64| -> Option<(u64, u64, u64)> {
        let base = usize::try_from(i).ok()?.checked_mul(ent)?;
        let (o_off, o_size) = if is64 { (0x18, 0x20) } else { (0x10, 0x14) };
        Some((
            num(&table, base, 4)?,
            num(&table, base + o_off, w)?,
            num(&table, base + o_size, w)?,
        ))
    };
    let (_, stroff, strsize) = section(shstrndx)?;
    if strsize > MAX_TABLE {
        return None;
    }
    let strtab = at(stroff, strsize)?;
    for i in 0..shnum {
        let (n, off, size) = section(i)?;
        let Some(tail) = strtab.get(usize::try_from(n).ok()?..) else {
            continue;
        };
        let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
        if &tail[..end] == name.as_bytes() {
            return (size <= MAX_TABLE).then(|| at(off, size)).flatten();
        }
    }
    None
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

/// Crates listed by cargo-auditable; build-only dependencies are not in the binary.
fn auditable_crates(compressed: &[u8]) -> Vec<Module> {
    let mut json = Vec::new();
    let ok = flate2::read::ZlibDecoder::new(compressed)
        .take(8 << 20)
        .read_to_end(&mut json)
        .is_ok();
    if !ok {
        return Vec::new();
    }
    let Ok(doc) = serde_json::from_slice::<Auditable>(&json) else {
        return Vec::new();
    };
    doc.packages
        .into_iter()
        .filter(|p| p.kind.as_deref() != Some("build"))
        .map(|p| Module {
            name: p.name,
            version: p.version,
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
        let comment = elf_section(&me, ".comment").expect("linkers write .comment");
        assert!(!comment.is_empty());
        assert!(elf_section(&me, ".dep-v0").is_none());
        assert!(elf_section(&me[..64], ".comment").is_none(), "truncated");
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
        let at = |off: u64, len: u64| -> Option<Vec<u8>> {
            me.get(off as usize..(off + len) as usize)
                .map(<[u8]>::to_vec)
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
}
