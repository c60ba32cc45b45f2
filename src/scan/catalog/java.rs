//! Java packages from archives (`.jar`, `.war`, `.ear`, Jenkins' `.jpi` / `.hpi`, any case,
//! and the archives nested in them, as Spring Boot and servlet containers ship them): every
//! `META-INF/maven/<group>/<artifact>/pom.properties` names one Maven artifact. An archive
//! without one (Gradle builds, Spring Framework itself) is named by its `META-INF/MANIFEST.MF`
//! ([`manifest_artifact`]), as syft names it.
//!
//! An archive is read forward, by its local file headers, as the layer streams past (each
//! byte once; the central directory is never followed, so entries that share a local offset
//! cannot multiply the work): entries that name nothing are skipped without inflating them,
//! nested archives are read as they inflate, and an archive of any size costs a few buffers.
//! What inflating costs is bounded per archive ([`inflate_budget`]). What is found is kept
//! as [`Facts`] of the file (like a binary's), so whiteouts in later layers still remove it;
//! what could not be read is named in them, never skipped: over the budget, a stored entry
//! whose size only a data descriptor after it gives, nesting deeper than [`MAX_NESTING`], a
//! broken archive.

use super::{push, shown, unread};
use crate::scan::layers::{FileTree, Kept};
use crate::scan::{purl, Ecosystem, Inventory, Package};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

/// Archives nested deeper than this (a jar in a jar in a war in an ear) are named, not read.
pub const MAX_NESTING: usize = 3;
/// `MANIFEST.MF` and `pom.properties` are read up to this size (real ones are a few KiB).
const MAX_META: u64 = 1 << 20;
/// Artifacts one archive may name before the rest is reported rather than kept.
const MAX_FOUND: usize = 100_000;
/// A launch script before the zip (Spring Boot's "fully executable" jars) is skipped up to this.
const MAX_PREFIX: usize = 1 << 20;
/// Per archive, inflating may produce at most this many times its own size, plus [`INFLATE_BASE`].
const INFLATE_RATIO: u64 = 16;
const INFLATE_BASE: u64 = 64 << 20;

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
/// Signatures that end the local entries: the central directory and the end records.
const DIRECTORY: [u32; 4] = [0x0201_4b50, 0x0605_4b50, 0x0606_4b50, 0x0706_4b50];

/// The bytes inflating an archive of `size` bytes may produce, nested archives included.
pub fn inflate_budget(size: u64) -> u64 {
    size.saturating_mul(INFLATE_RATIO)
        .saturating_add(INFLATE_BASE)
}

/// Whether a file name is a Java archive's, by its extension (any case: `.JAR` is one too).
pub fn is_archive(name: &str) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    ["jar", "war", "ear", "jpi", "hpi"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
}

/// One Maven artifact an archive names; `inner` is the nested archive it is in
/// (`/BOOT-INF/lib/x.jar`), empty for the archive itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub inner: String,
    pub group: String,
    pub artifact: String,
    pub version: String,
}

/// What one archive says, read as it streamed past: the artifacts, and (by inner path, as
/// [`Found::inner`]) why a part of it was not read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub found: Vec<Found>,
    pub unread: Vec<(String, String)>,
}

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for (path, kept) in &tree.files {
        let Kept::Java(facts) = kept else {
            continue;
        };
        let location = shown(path);
        for f in &facts.found {
            push(
                inv,
                package(
                    &f.group,
                    &f.artifact,
                    &f.version,
                    &format!("{location}{}", f.inner),
                ),
            );
        }
        for (inner, reason) in &facts.unread {
            unread(inv, &format!("{path}{inner}"), reason.clone());
        }
    }
}

fn package(g: &str, a: &str, v: &str, location: &str) -> Package {
    Package {
        ecosystem: Ecosystem::Maven,
        purl: purl::build("maven", Some(g), a, v, &[]),
        name: format!("{g}:{a}"),
        version: v.to_string(),
        location: location.to_string(),
    }
}

/// Why an archive that names no artifact is not catalogued.
const NO_ARTIFACT: &str = "names no Maven artifact (no pom.properties, and its MANIFEST.MF names no Implementation-Title and -Version with a group, nor a Bundle-SymbolicName and Bundle-Version)";

/// Why reading an archive stopped early: over its inflate budget (any other I/O error is a
/// zip that cannot be read).
#[derive(Debug)]
struct OverBudget(u64);

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "inflating it would take more than {} MiB ({INFLATE_RATIO}x its size + {} MiB), the most the scan inflates of one archive, so the rest of it was not read",
            self.0 >> 20,
            INFLATE_BASE >> 20
        )
    }
}

impl std::error::Error for OverBudget {}

/// Read one archive of `size` bytes from `r` to its end (or as far as it can be read): what
/// could not be read is in the facts' `unread`, never an error.
pub fn read(r: &mut dyn Read, size: u64) -> Facts {
    read_within(r, inflate_budget(size))
}

/// [`read`], inflating at most `limit` bytes.
fn read_within(r: &mut dyn Read, limit: u64) -> Facts {
    let mut cx = Cx {
        budget: Rc::new(Budget {
            used: Cell::new(0),
            limit,
        }),
        facts: Facts::default(),
    };
    let mut br = BufReader::with_capacity(64 * 1024, r);
    if let Err(e) = archive(&mut br, "", 0, &mut cx) {
        let reason = if e.get_ref().is_some_and(|i| i.is::<OverBudget>()) {
            e.to_string()
        } else {
            format!("not a readable zip archive ({e})")
        };
        cx.facts.unread.push((String::new(), reason));
    }
    cx.facts
}

/// The bytes one archive's inflating has produced, and may.
struct Budget {
    used: Cell<u64>,
    limit: u64,
}

struct Cx {
    budget: Rc<Budget>,
    facts: Facts,
}

/// An inflating reader whose output counts against its archive's budget.
struct Inflate<R: BufRead> {
    dec: flate2::bufread::DeflateDecoder<R>,
    budget: Rc<Budget>,
}

impl<R: BufRead> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.dec.read(buf)?;
        let used = self.budget.used.get() + n as u64;
        self.budget.used.set(used);
        if used > self.budget.limit {
            return Err(io::Error::other(OverBudget(self.budget.limit)));
        }
        Ok(n)
    }
}

fn inflate<R: BufRead>(r: R, cx: &Cx) -> Inflate<R> {
    Inflate {
        dec: flate2::bufread::DeflateDecoder::new(r),
        budget: cx.budget.clone(),
    }
}

fn u16_of(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_of(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn skip(r: &mut dyn Read, n: u64) -> io::Result<()> {
    let got = io::copy(&mut r.take(n), &mut io::sink())?;
    if got < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// What an entry is to the catalogue.
#[derive(PartialEq, Eq)]
enum Role {
    Manifest,
    Pom,
    Nested,
    Other,
}

/// One archive level: its local entries in order, until the central directory.
fn archive(r: &mut dyn BufRead, inner: &str, depth: usize, cx: &mut Cx) -> io::Result<()> {
    let mut manifest: Option<Vec<u8>> = None;
    let mut poms: Vec<(String, String, String)> = Vec::new();
    let found_before = cx.facts.found.len();
    let mut sig = [0u8; 4];
    r.read_exact(&mut sig)?;
    if u32::from_le_bytes(sig) != LOCAL && depth == 0 {
        // A launch script before the zip: find the first local header.
        let mut head = sig.to_vec();
        (&mut *r).take(MAX_PREFIX as u64).read_to_end(&mut head)?;
        let Some(at) = memchr::memmem::find(&head, b"PK\x03\x04") else {
            return Err(io::Error::other("no zip entry in its first MiB"));
        };
        let rest = head.split_off(at + 4);
        let mut chained = (&rest[..]).chain(&mut *r);
        let read = entries(&mut chained, inner, depth, cx, &mut manifest, &mut poms);
        finish(inner, manifest, poms, found_before, read.is_ok(), cx);
        return read;
    }
    if u32::from_le_bytes(sig) != LOCAL {
        return Err(io::Error::other("it does not start with a zip entry"));
    }
    // What was found before an error stays found; the error names the rest.
    let read = entries(r, inner, depth, cx, &mut manifest, &mut poms);
    finish(inner, manifest, poms, found_before, read.is_ok(), cx);
    read
}

/// Name what one archive level found: its pom.properties, else its manifest's artifact; an
/// archive read to its end that names nothing and holds nothing that does is unread.
fn finish(
    inner: &str,
    manifest: Option<Vec<u8>>,
    poms: Vec<(String, String, String)>,
    found_before: usize,
    complete: bool,
    cx: &mut Cx,
) {
    let mut named: Vec<(String, String, String)> = poms;
    if named.is_empty() {
        named.extend(manifest.as_deref().and_then(manifest_artifact));
    }
    if complete && named.is_empty() && cx.facts.found.len() == found_before {
        cx.facts
            .unread
            .push((inner.to_string(), NO_ARTIFACT.into()));
    }
    for (group, artifact, version) in named {
        if cx.facts.found.len() >= MAX_FOUND {
            cx.facts.unread.push((
                inner.to_string(),
                format!("names more than {MAX_FOUND} artifacts, more than the scan keeps of one archive"),
            ));
            break;
        }
        cx.facts.found.push(Found {
            inner: inner.to_string(),
            group,
            artifact,
            version,
        });
    }
}

/// The local entries after the first signature (already read).
fn entries(
    r: &mut dyn BufRead,
    inner: &str,
    depth: usize,
    cx: &mut Cx,
    manifest: &mut Option<Vec<u8>>,
    poms: &mut Vec<(String, String, String)>,
) -> io::Result<()> {
    loop {
        let mut h = [0u8; 26];
        r.read_exact(&mut h)?;
        let flags = u16_of(&h, 2);
        let method = u16_of(&h, 4);
        let mut csize = u64::from(u32_of(&h, 14));
        let mut usize_ = u64::from(u32_of(&h, 18));
        let mut name = vec![0u8; usize::from(u16_of(&h, 22))];
        r.read_exact(&mut name)?;
        let mut extra = vec![0u8; usize::from(u16_of(&h, 24))];
        r.read_exact(&mut extra)?;
        let zip64 = zip64_sizes(&extra, &mut usize_, &mut csize);
        let name = String::from_utf8_lossy(&name).into_owned();
        let descriptor = flags & 0x8 != 0;
        let role = if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            Role::Manifest
        } else if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            Role::Pom
        } else if is_archive(&name) && !name.ends_with('/') {
            Role::Nested
        } else {
            Role::Other
        };
        let here = format!("{inner}/{name}");
        let role = if role == Role::Nested && depth >= MAX_NESTING {
            cx.facts.unread.push((
                here.clone(),
                format!(
                    "an archive nested more than {MAX_NESTING} deep, which the scan does not open"
                ),
            ));
            Role::Other
        } else {
            role
        };
        let encrypted = flags & 0x1 != 0;
        if encrypted && role != Role::Other {
            cx.facts
                .unread
                .push((here.clone(), "an encrypted zip entry".into()));
        }
        let readable = !encrypted && matches!(method, 0 | 8);
        if !readable && role != Role::Other && !encrypted {
            cx.facts.unread.push((
                here.clone(),
                format!(
                    "a zip entry compressed with method {method}, which the scan does not read"
                ),
            ));
        }
        let role = if readable { role } else { Role::Other };
        if descriptor && method != 8 {
            // Its size is only known from the descriptor after it: the next entry cannot be
            // found without the central directory, which a stream reaches last.
            cx.facts.unread.push((
                inner.to_string(),
                format!("{name} is a stored zip entry whose size only a data descriptor after it gives, so the archive cannot be read as it streams; entries after it were not read"),
            ));
            return Ok(());
        }
        if descriptor {
            // Deflated: the stream ends itself, the descriptor follows.
            {
                let mut data = inflate(&mut *r, cx);
                content(&mut data, role, &here, depth, cx, manifest, poms)?;
                io::copy(&mut data, &mut io::sink())?;
            }
            let mut d = [0u8; 4];
            r.read_exact(&mut d)?;
            let rest = if zip64 { 16 } else { 8 };
            let mut tail = vec![
                0u8;
                if u32::from_le_bytes(d) == DESCRIPTOR {
                    4 + rest
                } else {
                    rest
                }
            ];
            r.read_exact(&mut tail)?;
        } else {
            let mut raw = (&mut *r).take(csize);
            match method {
                8 if role != Role::Other => {
                    let mut data = inflate(&mut raw, cx);
                    content(&mut data, role, &here, depth, cx, manifest, poms)?;
                }
                0 if role != Role::Other => {
                    content(&mut raw, role, &here, depth, cx, manifest, poms)?;
                }
                _ => {}
            }
            // The rest of the entry as stored: never inflated to be skipped.
            let left = raw.limit();
            skip(r, left)?;
        }
        let mut sig = [0u8; 4];
        match r.read_exact(&mut sig) {
            Ok(()) => {}
            // Every zip ends with its central directory: local entries that end without one
            // are an archive cut short (a truncated copy or download), whose missing entries
            // could name anything.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(io::Error::other(format!(
                    "it ends after the entry {name} without its central directory: the archive is cut short, so what followed was not read"
                )))
            }
            Err(e) => return Err(e),
        }
        let sig = u32::from_le_bytes(sig);
        if DIRECTORY.contains(&sig) {
            return Ok(());
        }
        if sig != LOCAL {
            return Err(io::Error::other(format!(
                "unexpected bytes after the entry {name}"
            )));
        }
    }
}

/// The zip64 sizes of a local header's extra field, where its 32-bit fields say so; `true`
/// when it has a zip64 field (its data descriptor then has 64-bit sizes).
fn zip64_sizes(extra: &[u8], usize_: &mut u64, csize: &mut u64) -> bool {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let id = u16_of(extra, at);
        let len = usize::from(u16_of(extra, at + 2));
        let body = &extra[at + 4..(at + 4 + len).min(extra.len())];
        if id == 0x0001 {
            let mut o = 0;
            let mut take = |v: &mut u64| {
                if *v == 0xFFFF_FFFF && o + 8 <= body.len() {
                    *v = u64::from_le_bytes(body[o..o + 8].try_into().unwrap_or_default());
                    o += 8;
                }
            };
            take(usize_);
            take(csize);
            return true;
        }
        at += 4 + len;
    }
    false
}

/// Use one entry's (uncompressed) content as its role asks.
fn content(
    data: &mut dyn Read,
    role: Role,
    here: &str,
    depth: usize,
    cx: &mut Cx,
    manifest: &mut Option<Vec<u8>>,
    poms: &mut Vec<(String, String, String)>,
) -> io::Result<()> {
    match role {
        Role::Other => Ok(()),
        Role::Manifest | Role::Pom => {
            let mut b = Vec::new();
            data.take(MAX_META).read_to_end(&mut b)?;
            if role == Role::Manifest {
                *manifest = Some(b);
            } else if let Some(p) = pom_properties(&String::from_utf8_lossy(&b)) {
                poms.push(p);
            }
            Ok(())
        }
        Role::Nested => {
            let mut br = BufReader::with_capacity(64 * 1024, data);
            match archive(&mut br, here, depth + 1, cx) {
                Ok(()) => Ok(()),
                Err(e) if e.get_ref().is_some_and(|i| i.is::<OverBudget>()) => Err(e),
                // A broken nested archive is named; the one around it goes on.
                Err(e) => {
                    cx.facts.unread.push((
                        here.to_string(),
                        format!("not a readable zip archive ({e})"),
                    ));
                    Ok(())
                }
            }
        }
    }
}

fn pom_properties(text: &str) -> Option<(String, String, String)> {
    let (mut g, mut a, mut v) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, val)) = line.split_once('=') {
            match k.trim() {
                "groupId" => g = Some(val.trim().to_string()),
                "artifactId" => a = Some(val.trim().to_string()),
                "version" => v = Some(val.trim().to_string()),
                _ => {}
            }
        }
    }
    Some((g?, a?, v?))
}

/// The main section of a `MANIFEST.MF`: `Name: value` lines up to the first blank line, a
/// line starting with one space continuing the one before (lines are wrapped at 72 bytes).
fn manifest_main(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(more) = line.strip_prefix(' ') {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(more);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim_start().to_string()));
        }
    }
    for (_, v) in &mut out {
        *v = v.trim().to_string();
    }
    out
}

/// The Maven groups of artifacts whose manifests name none, as syft knows them (Spring's
/// projects build with Gradle and ship no pom.properties): the longest prefix wins.
const KNOWN_GROUPS: &[(&str, &str)] = &[
    ("spring-boot", "org.springframework.boot"),
    ("spring-security-", "org.springframework.security"),
    ("spring-data-", "org.springframework.data"),
    ("spring-cloud-", "org.springframework.cloud"),
    ("spring-", "org.springframework"),
];

/// The artifact a manifest names, for an archive without pom.properties:
/// `Implementation-Title` / `Implementation-Version` with `Implementation-Vendor-Id` (or a
/// group known for the title), else the OSGi `Bundle-SymbolicName` (`group.artifact`, its
/// directives dropped) / `Bundle-Version`. `None` when neither names group, artifact and
/// version: a purl without them matches nothing in Inspector.
fn manifest_artifact(bytes: &[u8]) -> Option<(String, String, String)> {
    let main = manifest_main(bytes);
    let get = |k: &str| {
        main.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let implementation = || {
        let title = get("Implementation-Title").filter(|t| !t.contains(char::is_whitespace))?;
        let version = get("Implementation-Version")?;
        let group = get("Implementation-Vendor-Id").or_else(|| {
            KNOWN_GROUPS
                .iter()
                .find(|(prefix, _)| title.starts_with(prefix))
                .map(|(_, g)| *g)
        })?;
        Some((group.to_string(), title.to_string(), version.to_string()))
    };
    let bundle = || {
        let bsn = get("Bundle-SymbolicName")?.split(';').next()?.trim();
        let version = get("Bundle-Version")?;
        let (group, artifact) = bsn.rsplit_once('.')?;
        (!group.is_empty() && !artifact.is_empty())
            .then(|| (group.to_string(), artifact.to_string(), version.to_string()))
    };
    implementation().or_else(bundle)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scan::layers::Kept;
    use std::io::Write;

    /// What the layer reader keeps of an archive.
    pub(crate) fn kept(b: &[u8]) -> Kept {
        Kept::Java(read(&mut &b[..], b.len() as u64))
    }

    /// A zip with the given (name, content) entries, deflated.
    pub(crate) fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let deflated: Vec<_> = entries
            .iter()
            .map(|(n, c)| (*n, *c, How::Deflated))
            .collect();
        zip_as(&deflated)
    }

    #[test]
    fn pom_properties_in_nested_jars() {
        let inner = zip(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"#generated\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n",
        )]);
        let outer = zip(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"groupId=com.example\nartifactId=app\nversion=1.0\n",
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &inner),
        ]);
        let mut tree = FileTree::default();
        tree.files.insert("app/app.jar".into(), kept(&outer));
        tree.files
            .insert("app/broken.jar".into(), kept(b"PK not really"));
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        inv.normalise();
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:maven/com.example/app@1.0",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
            ]
        );
        assert_eq!(
            inv.packages[1].location,
            "/app/app.jar/BOOT-INF/lib/log4j-core-2.14.1.jar"
        );
        assert_eq!(inv.unread.len(), 1);
    }

    /// How a test zip stores an entry.
    #[derive(Clone, Copy, PartialEq)]
    pub(crate) enum How {
        Stored,
        Deflated,
        /// Deflated, sizes in a data descriptor after the data (as `jar` and streaming
        /// writers write them).
        Streamed,
        /// Stored, sizes in a data descriptor: unreadable as a stream.
        StoredStreamed,
    }

    /// A zip of (name, content, how) entries, with its central directory.
    pub(crate) fn zip_as(entries: &[(&str, &[u8], How)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, content, how) in entries {
            let data = if matches!(how, How::Stored | How::StoredStreamed) {
                content.to_vec()
            } else {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(content).unwrap();
                enc.finish().unwrap()
            };
            let streamed = matches!(how, How::Streamed | How::StoredStreamed);
            let method: u16 = if matches!(how, How::Stored | How::StoredStreamed) {
                0
            } else {
                8
            };
            let flags: u16 = if streamed { 8 } else { 0 };
            let (cs, us) = if streamed {
                (0, 0)
            } else {
                (data.len() as u32, content.len() as u32)
            };
            let offset = out.len() as u32;
            out.extend(LOCAL.to_le_bytes());
            out.extend(20u16.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(method.to_le_bytes());
            out.extend([0u8; 8]); // time, date, crc
            out.extend(cs.to_le_bytes());
            out.extend(us.to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(&data);
            if streamed {
                out.extend(DESCRIPTOR.to_le_bytes());
                out.extend([0u8; 4]);
                out.extend((data.len() as u32).to_le_bytes());
                out.extend((content.len() as u32).to_le_bytes());
            }
            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend([20, 0, 20, 0]);
            central.extend(flags.to_le_bytes());
            central.extend(method.to_le_bytes());
            central.extend([0u8; 8]);
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((content.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0u8; 12]);
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        end_of_directory(&mut out, &central, entries.len() as u16);
        out
    }

    pub(crate) fn end_of_directory(out: &mut Vec<u8>, central: &[u8], count: u16) {
        let cd_offset = out.len() as u32;
        out.extend(central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend(count.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend([0u8; 2]);
    }

    fn pom(g: &str, a: &str, v: &str) -> (String, Vec<u8>) {
        (
            format!("META-INF/maven/{g}/{a}/pom.properties"),
            format!("groupId={g}\nartifactId={a}\nversion={v}\n").into_bytes(),
        )
    }

    fn found(f: &Facts) -> Vec<String> {
        f.found
            .iter()
            .map(|x| format!("{}:{}:{}:{}", x.inner, x.group, x.artifact, x.version))
            .collect()
    }

    /// Entries after a deflated one with a data descriptor are found (the inflate stream ends
    /// itself); a stored one with a descriptor stops the read, named with its reason; a
    /// launch script before the zip is skipped.
    #[test]
    fn streamed_entries_descriptors_and_launch_scripts() {
        let (pn, pb) = pom("org.example", "lib", "1.2");
        let classes = vec![7u8; 100_000];
        let jar = zip_as(&[
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\n",
                How::Streamed,
            ),
            ("org/example/A.class", &classes, How::Streamed),
            ("org/example/B.class", &classes, How::Deflated),
            (&pn, &pb, How::Streamed),
        ]);
        let f = read(&mut &jar[..], jar.len() as u64);
        assert_eq!(found(&f), [":org.example:lib:1.2"]);
        assert!(f.unread.is_empty(), "{:?}", f.unread);

        let mut script =
            b"#!/bin/bash\n# Spring Boot launch script\nexec java -jar \"$0\" \"$@\"\n".to_vec();
        script.extend(&jar);
        let f = read(&mut &script[..], script.len() as u64);
        assert_eq!(found(&f), [":org.example:lib:1.2"]);

        let bad = zip_as(&[
            ("a.txt", b"hello", How::StoredStreamed),
            (&pn, &pb, How::Deflated),
        ]);
        let f = read(&mut &bad[..], bad.len() as u64);
        assert!(f.found.is_empty());
        assert_eq!(f.unread.len(), 2, "{:?}", f.unread);
        assert!(
            f.unread[0]
                .1
                .contains("a.txt is a stored zip entry whose size only a data descriptor"),
            "{:?}",
            f.unread
        );
        assert_eq!(f.unread[1].1, NO_ARTIFACT);
    }

    /// 65,535 central-directory entries that all point at one local entry: read forward, the
    /// archive costs its bytes once and names its one artifact once.
    #[test]
    fn central_directory_entries_sharing_an_offset_cost_nothing() {
        let (pn, pb) = pom("org.example", "lib", "1.2");
        let one = zip_as(&[(&pn, &pb, How::Deflated)]);
        // Keep the local entry, replace the directory by 65,535 copies of its record.
        let eocd = one.len() - 22;
        let cd_offset = u32_of(&one, eocd + 16) as usize;
        let record = one[cd_offset..eocd].to_vec();
        let mut bomb = one[..cd_offset].to_vec();
        let central: Vec<u8> = record
            .iter()
            .copied()
            .cycle()
            .take(record.len() * 65_535)
            .collect();
        end_of_directory(&mut bomb, &central, 65_535);
        let t = std::time::Instant::now();
        let f = read(&mut &bomb[..], bomb.len() as u64);
        assert_eq!(found(&f), [":org.example:lib:1.2"]);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    /// Nested archives are read as they inflate, within the archive's inflate budget: over it,
    /// the archive is named (what was found before stays), never silently cut short; nesting
    /// past MAX_NESTING is named too.
    #[test]
    fn nested_archives_and_the_inflate_budget() {
        let (pn, pb) = pom("org.example", "inner", "3");
        let mut level = zip_as(&[(&pn, &pb, How::Deflated)]);
        for i in 0..=MAX_NESTING {
            let (pn, pb) = pom("org.example", &format!("level{i}"), "1");
            // Spring Boot stores its nested jars; wars deflate them.
            let how = if i % 2 == 0 {
                How::Stored
            } else {
                How::Deflated
            };
            level = zip_as(&[(&pn, &pb, How::Deflated), ("lib/x.jar", &level, how)]);
        }
        let f = read(&mut &level[..], level.len() as u64);
        assert_eq!(
            found(&f),
            [
                "/lib/x.jar/lib/x.jar/lib/x.jar:org.example:level0:1",
                "/lib/x.jar/lib/x.jar:org.example:level1:1",
                "/lib/x.jar:org.example:level2:1",
                ":org.example:level3:1",
            ]
        );
        assert_eq!(f.unread.len(), 1, "{:?}", f.unread);
        assert_eq!(f.unread[0].0, "/lib/x.jar/lib/x.jar/lib/x.jar/lib/x.jar");

        // 8 MiB of zeros in a nested jar, 1 MiB allowed.
        let zeros = vec![0u8; 8 << 20];
        let inner = zip_as(&[
            ("big.bin", &zeros, How::Streamed),
            (&pn, &pb, How::Deflated),
        ]);
        let (on, ob) = pom("org.example", "outer", "1");
        let outer = zip_as(&[
            (&on, &ob, How::Deflated),
            ("lib/inner.jar", &inner, How::Deflated),
        ]);
        let f = read_within(&mut &outer[..], 1 << 20);
        assert_eq!(found(&f), [":org.example:outer:1"]);
        assert_eq!(f.unread.len(), 1, "{:?}", f.unread);
        assert!(
            f.unread[0]
                .1
                .starts_with("inflating it would take more than 1 MiB"),
            "{:?}",
            f.unread
        );
        // Within the default budget, it is read through.
        let f = read(&mut &outer[..], outer.len() as u64);
        assert_eq!(
            found(&f),
            ["/lib/inner.jar:org.example:inner:3", ":org.example:outer:1"]
        );
    }

    /// Jars that ship no pom.properties are named by their manifest (purls as syft 1.18 names
    /// the first two); `.jpi`, `.hpi` and upper-case extensions are archives too.
    #[test]
    fn manifests_name_jars_without_pom_properties() {
        let spring = zip(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Title: spring-core\r\nAutomatic-Module-Name: spring.core\r\nImplementation-Version: 6.1.14\r\n\r\n",
        )]);
        // A value wrapped at 72 bytes continues on the next line after one space.
        let gradle = zip(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Title: a-library-with-a-rather-long-name-that-the-jar-tool-w\r\n raps\r\nImplementation-Version: 2.3.4\r\nImplementation-Vendor-Id: com.example.corp\r\n\r\nName: x\r\nImplementation-Version: 9\r\n",
        )]);
        let plugin = zip(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nBundle-Name: Jackson-databind\nBundle-SymbolicName: com.fasterxml.jackson.core.jackson-databind;singleton:=true\nBundle-Version: 2.15.2\n",
        )]);
        let nameless = zip(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nImplementation-Title: Some Product\nImplementation-Version: 1\n",
        )]);
        let mut tree = FileTree::default();
        for (p, b) in [
            ("app/lib/spring-core-6.1.14.jar", &spring),
            ("app/lib/GRADLE.JAR", &gradle),
            ("var/jenkins/plugins/jackson.jpi", &plugin),
            ("var/jenkins/plugins/other.HPI", &spring),
            ("app/lib/nameless.jar", &nameless),
        ] {
            tree.files.insert(p.into(), kept(b));
        }
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let got: Vec<(&str, &str)> = inv
            .packages
            .iter()
            .map(|p| (p.location.as_str(), p.purl.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "/app/lib/GRADLE.JAR",
                    "pkg:maven/com.example.corp/a-library-with-a-rather-long-name-that-the-jar-tool-wraps@2.3.4"
                ),
                (
                    "/app/lib/spring-core-6.1.14.jar",
                    "pkg:maven/org.springframework/spring-core@6.1.14"
                ),
                (
                    "/var/jenkins/plugins/jackson.jpi",
                    "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.15.2"
                ),
                (
                    "/var/jenkins/plugins/other.HPI",
                    "pkg:maven/org.springframework/spring-core@6.1.14"
                ),
            ]
        );
        assert_eq!(inv.unread.len(), 1, "{:?}", inv.unread);
        assert_eq!(inv.unread[0].path, "/app/lib/nameless.jar");
        assert!(is_archive("x.Jar") && is_archive("a.hpi") && !is_archive("jar"));
    }

    /// An archive that ends cleanly at an entry boundary without its central directory is cut
    /// short (what followed is unknown): named, with what it found kept; a nested one too,
    /// the archive around it read on.
    #[test]
    fn an_archive_without_its_central_directory_is_named() {
        let (pn, pb) = pom("org.example", "lib", "1.2");
        let whole = zip_as(&[(&pn, &pb, How::Deflated), ("a.txt", b"hi", How::Stored)]);
        let eocd = whole.len() - 22;
        let cut = &whole[..u32_of(&whole, eocd + 16) as usize];
        let f = read(&mut &cut[..], cut.len() as u64);
        assert_eq!(found(&f), [":org.example:lib:1.2"]);
        assert_eq!(f.unread.len(), 1, "{:?}", f.unread);
        assert_eq!(f.unread[0].0, "");
        assert!(
            f.unread[0]
                .1
                .contains("ends after the entry a.txt without its central directory"),
            "{:?}",
            f.unread
        );

        let (on, ob) = pom("org.example", "outer", "1");
        let outer = zip_as(&[("lib/cut.jar", cut, How::Stored), (&on, &ob, How::Deflated)]);
        let mut tree = FileTree::default();
        tree.files.insert("app/app.war".into(), kept(&outer));
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
        let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:maven/org.example/lib@1.2",
                "pkg:maven/org.example/outer@1"
            ]
        );
        assert_eq!(inv.unread.len(), 1, "{:?}", inv.unread);
        assert_eq!(inv.unread[0].path, "/app/app.war/lib/cut.jar");
        assert!(inv.unread[0]
            .reason
            .contains("without its central directory"));
    }
}
