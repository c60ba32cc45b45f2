//! Java packages from archives (`.jar`, `.war`, `.ear`, and the jars nested in them, as
//! Spring Boot and servlet containers ship them): every
//! `META-INF/maven/<group>/<artifact>/pom.properties` names one Maven artifact.
//!
//! The zip central directory is read here (no zip64: archives over 4 GiB are skipped).

use super::{push, shown, unread};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Ecosystem, Inventory, Package};
use std::io::Read;

/// Archives larger than this are skipped (and counted): a fat jar is held whole while read.
pub const MAX_ARCHIVE: u64 = 64 << 20;
const MAX_NESTING: usize = 3;
const MAX_ENTRY: u64 = 32 << 20;

pub fn is_archive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".jar") || n.ends_with(".war") || n.ends_with(".ear")
}

pub fn catalog(tree: &FileTree, inv: &mut Inventory) {
    for path in tree.files.keys() {
        if !is_archive(path) {
            continue;
        }
        let Some(bytes) = tree.bytes(path) else {
            continue;
        };
        let before = inv.packages.len();
        if archive(bytes, &shown(path), 0, inv).is_err() {
            unread(inv, path, "not a readable zip archive");
        } else if inv.packages.len() == before {
            // A jar without Maven metadata names no artifact Inspector can match.
            unread(inv, path, "names no Maven artifact (no pom.properties)");
        }
    }
}

fn archive(bytes: &[u8], location: &str, depth: usize, inv: &mut Inventory) -> Result<(), ()> {
    let entries = central_directory(bytes).ok_or(())?;
    for e in &entries {
        if e.name.starts_with("META-INF/maven/") && e.name.ends_with("/pom.properties") {
            let Some(data) = read_entry(bytes, e) else {
                continue;
            };
            if let Some(p) = pom_properties(&String::from_utf8_lossy(&data), location) {
                push(inv, p);
            }
        } else if depth < MAX_NESTING && is_archive(&e.name) {
            if let Some(data) = read_entry(bytes, e) {
                let nested = format!("{location}/{}", e.name);
                let _ = archive(&data, &nested, depth + 1, inv);
            }
        }
    }
    Ok(())
}

fn pom_properties(text: &str, location: &str) -> Option<Package> {
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
    let (g, a, v) = (g?, a?, v?);
    Some(Package {
        ecosystem: Ecosystem::Maven,
        purl: purl::build("maven", Some(&g), &a, &v, &[]),
        name: format!("{g}:{a}"),
        version: v,
        location: location.to_string(),
    })
}

struct Entry {
    name: String,
    method: u16,
    compressed: u64,
    size: u64,
    local_offset: u64,
}

fn le16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

fn central_directory(b: &[u8]) -> Option<Vec<Entry>> {
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes (comment max).
    let start = b.len().saturating_sub(65_557);
    let eocd = (start..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])?;
    let count = usize::from(le16(b, eocd + 10)?);
    let mut off = le32(b, eocd + 16)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if le32(b, off)? != 0x0201_4b50 {
            return None;
        }
        let method = le16(b, off + 10)?;
        let size = u64::from(le32(b, off + 24)?);
        let name_len = usize::from(le16(b, off + 28)?);
        let extra_len = usize::from(le16(b, off + 30)?);
        let comment_len = usize::from(le16(b, off + 32)?);
        let local_offset = u64::from(le32(b, off + 42)?);
        let name = String::from_utf8_lossy(b.get(off + 46..off + 46 + name_len)?).into_owned();
        out.push(Entry {
            name,
            method,
            compressed: u64::from(le32(b, off + 20)?),
            size,
            local_offset,
        });
        off += 46 + name_len + extra_len + comment_len;
    }
    Some(out)
}

fn read_entry(b: &[u8], e: &Entry) -> Option<Vec<u8>> {
    if e.size > MAX_ENTRY {
        return None;
    }
    let lo = usize::try_from(e.local_offset).ok()?;
    if le32(b, lo)? != 0x0403_4b50 {
        return None;
    }
    let start = lo + 30 + usize::from(le16(b, lo + 26)?) + usize::from(le16(b, lo + 28)?);
    let data = b.get(start..start.checked_add(usize::try_from(e.compressed).ok()?)?)?;
    match e.method {
        0 => Some(data.to_vec()),
        8 => {
            let mut out = Vec::with_capacity(e.size as usize);
            flate2::read::DeflateDecoder::new(data)
                .take(MAX_ENTRY)
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scan::layers::Kept;
    use std::io::Write;

    /// A zip with the given (name, content) entries, deflated.
    pub(crate) fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, content) in entries {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(content).unwrap();
            let data = enc.finish().unwrap();
            let offset = out.len() as u32;
            out.extend(0x0403_4b50u32.to_le_bytes());
            out.extend([20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((content.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(&data);
            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend([20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((content.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0u8; 12]);
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((entries.len() as u16).to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend([0u8; 2]);
        out
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
        tree.files.insert("app/app.jar".into(), Kept::Bytes(outer));
        tree.files.insert(
            "app/broken.jar".into(),
            Kept::Bytes(b"PK not really".to_vec()),
        );
        let mut inv = Inventory::default();
        catalog(&tree, &mut inv);
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
}
