//! Java packages from archives (`.jar`, `.war`, `.ear`, Jenkins' `.jpi` / `.hpi`, any case,
//! and the archives nested in them, as Spring Boot and servlet containers ship them): every
//! `META-INF/maven/<group>/<artifact>/pom.properties` names one Maven artifact. An archive
//! without one (Gradle builds, Spring Framework itself) is named by its `META-INF/MANIFEST.MF`
//! ([`manifest_artifact`]), as syft names it.
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

/// Whether a file name is a Java archive's, by its extension (any case: `.JAR` is one too).
pub fn is_archive(name: &str) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    ["jar", "war", "ear", "jpi", "hpi"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
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
            unread(inv, path, NO_ARTIFACT);
        }
    }
}

/// Why an archive that names no artifact is not catalogued.
const NO_ARTIFACT: &str = "names no Maven artifact (no pom.properties, and its MANIFEST.MF names no Implementation-Title and -Version with a group, nor a Bundle-SymbolicName and Bundle-Version)";

fn archive(bytes: &[u8], location: &str, depth: usize, inv: &mut Inventory) -> Result<(), ()> {
    let entries = central_directory(bytes).ok_or(())?;
    let before = inv.packages.len();
    let mut manifest = None;
    for e in &entries {
        if e.name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            manifest = read_entry(bytes, e);
        } else if e.name.starts_with("META-INF/maven/") && e.name.ends_with("/pom.properties") {
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
    if inv.packages.len() == before {
        if let Some(p) = manifest.and_then(|m| manifest_artifact(&m, location)) {
            push(inv, p);
        }
    }
    Ok(())
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
pub(crate) fn manifest_artifact(bytes: &[u8], location: &str) -> Option<Package> {
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
    let (g, a, v) = implementation().or_else(bundle)?;
    Some(Package {
        ecosystem: Ecosystem::Maven,
        purl: purl::build("maven", Some(&g), &a, &v, &[]),
        name: format!("{g}:{a}"),
        version: v,
        location: location.to_string(),
    })
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
            tree.files.insert(p.into(), Kept::Bytes(b.clone()));
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
}
