//! Red Hat family packages from the rpm database: the sqlite `rpmdb.sqlite` of Fedora, RHEL 9
//! and Amazon Linux 2023, and the Berkeley DB hash file `Packages` of Amazon Linux 2 and
//! RHEL 7, read here without libdb. Both store one rpm header blob per package; the blob
//! format is parsed here too.
//!
//! `gpg-pubkey` entries are imported signing keys, not software, and are left out.

use super::{push, shown, unread, RPM_DIRS};
use crate::scan::layers::FileTree;
use crate::scan::{purl, Distro, Ecosystem, Inventory, Package};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The fields of an rpm header the SBOM needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: String,
    pub source_rpm: Option<String>,
}

/// Parse an rpm header blob as rpmdb stores it: index count and data length (big-endian
/// u32 each), the index entries (tag, type, offset, count), then the data store.
pub fn parse_header(blob: &[u8]) -> Option<Header> {
    let be = |o: usize| -> Option<u32> {
        Some(u32::from_be_bytes(blob.get(o..o + 4)?.try_into().ok()?))
    };
    let il = be(0)? as usize;
    let dl = be(4)? as usize;
    let data_start = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = blob.get(data_start..data_start.checked_add(dl)?)?;
    let mut h = Header::default();
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, off) = (be(e)?, be(e + 4)?, be(e + 8)? as usize);
        let string = || -> Option<String> {
            let s = data.get(off..)?;
            let end = s.iter().position(|&c| c == 0)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        let is_str = matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING);
        match tag {
            TAG_NAME if is_str => h.name = string()?,
            TAG_VERSION if is_str => h.version = string()?,
            TAG_RELEASE if is_str => h.release = string()?,
            TAG_ARCH if is_str => h.arch = string()?,
            TAG_SOURCERPM if is_str => h.source_rpm = string(),
            TAG_EPOCH if ty == TYPE_INT32 => {
                h.epoch = Some(u32::from_be_bytes(data.get(off..off + 4)?.try_into().ok()?))
            }
            _ => {}
        }
    }
    (!h.name.is_empty() && !h.version.is_empty()).then_some(h)
}

pub fn catalog(tree: &FileTree, distro: Option<&Distro>, inv: &mut Inventory) {
    for dir in RPM_DIRS {
        let sqlite = format!("{dir}/rpmdb.sqlite");
        let bdb = format!("{dir}/Packages");
        let result = if let Some(db) = tree.bytes(&sqlite) {
            let wal = tree.bytes(&format!("{dir}/rpmdb.sqlite-wal"));
            Some((sqlite, read_sqlite(&db, wal.as_deref())))
        } else {
            tree.bytes(&bdb).map(|db| (bdb, read_bdb(&db)))
        };
        let Some((path, result)) = result else {
            continue;
        };
        match result {
            Ok(blobs) => {
                let mut bad = 0;
                for blob in blobs {
                    match parse_header(&blob) {
                        Some(h) if h.name == "gpg-pubkey" => {}
                        Some(h) => push(inv, package(&h, distro, &path)),
                        None => bad += 1,
                    }
                }
                if bad > 0 {
                    unread(
                        inv,
                        &path,
                        format!("{bad} package header(s) could not be read, so those packages were not catalogued"),
                    );
                }
            }
            Err(why) => unread(
                inv,
                &path,
                format!("not a readable rpm database ({why}): its packages were not catalogued"),
            ),
        }
        // /var/lib/rpm and /usr/lib/sysimage/rpm are one database behind a link: read one.
        return;
    }
}

fn package(h: &Header, distro: Option<&Distro>, path: &str) -> Package {
    let version = format!("{}-{}", h.version, h.release);
    let distro_q = distro.map(purl::distro_qualifier).unwrap_or_default();
    let epoch = h.epoch.map(|e| e.to_string()).unwrap_or_default();
    // "openssl-3.0.8-1.amzn2023.src.rpm" -> "openssl": name-version-release.src.rpm.
    let upstream = h
        .source_rpm
        .as_deref()
        .and_then(|s| s.rsplitn(3, '-').nth(2))
        .filter(|s| *s != h.name)
        .unwrap_or("");
    Package {
        ecosystem: Ecosystem::Rpm,
        name: h.name.clone(),
        version: match h.epoch {
            Some(e) => format!("{e}:{version}"),
            None => version.clone(),
        },
        purl: purl::build(
            "rpm",
            Some(purl::os_namespace(distro, "redhat")),
            &h.name,
            &version,
            &[
                ("arch", &h.arch),
                ("distro", &distro_q),
                ("epoch", &epoch),
                ("upstream", upstream),
            ],
        ),
        location: shown(path),
    }
}

/// The header blobs of a sqlite rpmdb. sqlite needs a file: the database (and its
/// write-ahead log, which may hold the latest transactions) is copied to a private temp dir.
fn read_sqlite(db: &[u8], wal: Option<&[u8]>) -> Result<Vec<Vec<u8>>, String> {
    if !db.starts_with(b"SQLite format 3\0") {
        return Err("no sqlite header".into());
    }
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, db).map_err(|e| format!("cannot write a temp copy: {e}"))?;
    if let Some(w) = wal {
        std::fs::write(dir.path().join("rpmdb.sqlite-wal"), w)
            .map_err(|e| format!("cannot write a temp copy: {e}"))?;
    }
    let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;

/// The values of a Berkeley DB hash database (rpm's `Packages`): every key/data pair on the
/// hash pages, with large values reassembled from their overflow page chains. Values that
/// are not header blobs (rpm keeps a counter under key 0) are dropped by the caller.
fn read_bdb(db: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let magic_le = db
        .get(12..16)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let magic_be = db
        .get(12..16)
        .map(|b| u32::from_be_bytes(b.try_into().unwrap()));
    let le = match (magic_le, magic_be) {
        (Some(HASH_MAGIC), _) => true,
        (_, Some(HASH_MAGIC)) => false,
        _ => return Err("not a Berkeley DB hash file".into()),
    };
    let u16_at = |b: &[u8], o: usize| -> Option<usize> {
        let a: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(usize::from(if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }))
    };
    let u32_at = |b: &[u8], o: usize| -> Option<u32> {
        let a: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let page_size = u32_at(db, 20).ok_or("truncated metadata page")? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("invalid page size {page_size}"));
    }
    if db.len() % page_size != 0 {
        return Err("file size is not a whole number of pages (truncated?)".into());
    }
    let pages = db.len() / page_size;
    let page = |n: usize| db.get(n * page_size..(n + 1) * page_size);
    let mut out = Vec::new();
    for n in 1..pages {
        let p = page(n).ok_or("truncated page")?;
        let ty = p[25];
        if ty != P_HASH && ty != P_HASH_UNSORTED {
            continue;
        }
        let entries = u16_at(p, 20).ok_or("bad page header")?;
        let offsets: Vec<usize> = (0..entries)
            .map(|i| u16_at(p, PAGE_HEADER + 2 * i))
            .collect::<Option<_>>()
            .ok_or("bad item index")?;
        // Items come in key/data pairs; data items are the odd ones.
        for i in (1..entries).step_by(2) {
            let off = offsets[i];
            let end = offsets[i - 1].min(page_size);
            let item = p.get(off..end.max(off)).ok_or("item outside its page")?;
            match item.first() {
                Some(&H_KEYDATA) => out.push(item[1..].to_vec()),
                Some(&H_OFFPAGE) => {
                    let first = u32_at(item, 4).ok_or("bad overflow item")? as usize;
                    let total = u32_at(item, 8).ok_or("bad overflow item")? as usize;
                    let mut v = Vec::with_capacity(total.min(db.len()));
                    let mut next = first;
                    let mut hops = 0;
                    while next != 0 && v.len() < total {
                        hops += 1;
                        if hops > pages {
                            return Err("overflow page chain loops".into());
                        }
                        let op = page(next).ok_or("overflow page beyond the end of the file")?;
                        if op[25] != P_OVERFLOW {
                            return Err(format!("page {next} should be an overflow page"));
                        }
                        let len = u16_at(op, 22).ok_or("bad overflow page")?;
                        let data = op
                            .get(PAGE_HEADER..PAGE_HEADER + len)
                            .ok_or("overflow length past the page")?;
                        v.extend_from_slice(data);
                        next = u32_at(op, 16).ok_or("bad overflow page")? as usize;
                    }
                    if v.len() != total {
                        return Err("overflow chain shorter than its record".into());
                    }
                    out.push(v);
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a header blob with the given string tags and an optional epoch.
    pub(crate) fn header(tags: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        let mut n = 0u32;
        for (tag, s) in tags {
            index.extend(tag.to_be_bytes());
            index.extend(TYPE_STRING.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(1u32.to_be_bytes());
            data.extend_from_slice(s.as_bytes());
            data.push(0);
            n += 1;
        }
        if let Some(e) = epoch {
            while data.len() % 4 != 0 {
                data.push(0);
            }
            index.extend(TAG_EPOCH.to_be_bytes());
            index.extend(TYPE_INT32.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(1u32.to_be_bytes());
            data.extend(e.to_be_bytes());
            n += 1;
        }
        let mut blob = n.to_be_bytes().to_vec();
        blob.extend((data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    #[test]
    fn parses_headers_and_builds_purls() {
        let blob = header(
            &[
                (TAG_NAME, "openssl-libs"),
                (TAG_VERSION, "3.0.8"),
                (TAG_RELEASE, "1.amzn2023.0.14"),
                (TAG_ARCH, "x86_64"),
                (TAG_SOURCERPM, "openssl-3.0.8-1.amzn2023.0.14.src.rpm"),
            ],
            Some(1),
        );
        let h = parse_header(&blob).unwrap();
        assert_eq!(h.epoch, Some(1));
        let d = Distro {
            id: "amzn".into(),
            version_id: "2023".into(),
            pretty_name: None,
        };
        let p = package(&h, Some(&d), "var/lib/rpm/rpmdb.sqlite");
        assert_eq!(
            p.purl,
            "pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2023&epoch=1&upstream=openssl"
        );
        assert_eq!(p.version, "1:3.0.8-1.amzn2023.0.14");
        assert!(parse_header(&blob[..blob.len() - 3]).is_none());
        assert!(parse_header(b"\xff\xff\xff\xff\0\0\0\0").is_none());
    }

    /// A little-endian hash database with one overflow record and one inline record.
    fn bdb(records: &[Vec<u8>], page_size: usize) -> Vec<u8> {
        let mut pages: Vec<Vec<u8>> = vec![vec![0; page_size]];
        pages[0][12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        pages[0][20..24].copy_from_slice(&(page_size as u32).to_le_bytes());
        // Page 1: the hash page; overflow pages follow.
        pages.push(vec![0; page_size]);
        let mut items: Vec<Vec<u8>> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            items.push([&[H_KEYDATA][..], &(i as u32 + 1).to_le_bytes()].concat());
            if r.len() < 64 {
                items.push([&[H_KEYDATA][..], r].concat());
                continue;
            }
            let first = pages.len();
            for (j, chunk) in r.chunks(page_size - PAGE_HEADER).enumerate() {
                let mut p = vec![0; page_size];
                p[25] = P_OVERFLOW;
                p[22..24].copy_from_slice(&(chunk.len() as u16).to_le_bytes());
                let last = (j + 1) * (page_size - PAGE_HEADER) >= r.len();
                let next = if last { 0 } else { first + j + 1 };
                p[16..20].copy_from_slice(&(next as u32).to_le_bytes());
                p[PAGE_HEADER..PAGE_HEADER + chunk.len()].copy_from_slice(chunk);
                pages.push(p);
            }
            let mut item = vec![H_OFFPAGE, 0, 0, 0];
            item.extend((first as u32).to_le_bytes());
            item.extend((r.len() as u32).to_le_bytes());
            items.push(item);
        }
        let hp = &mut pages[1];
        hp[25] = P_HASH;
        hp[20..22].copy_from_slice(&(items.len() as u16).to_le_bytes());
        let mut top = page_size;
        for (i, it) in items.iter().enumerate() {
            top -= it.len();
            hp[top..top + it.len()].copy_from_slice(it);
            hp[PAGE_HEADER + 2 * i..PAGE_HEADER + 2 * i + 2]
                .copy_from_slice(&(top as u16).to_le_bytes());
        }
        pages.concat()
    }

    #[test]
    fn berkeley_db_hash_records_with_overflow_chains() {
        let long_release = "1.amzn2.".repeat(200);
        let a = header(
            &[
                (TAG_NAME, "bash"),
                (TAG_VERSION, "4.2.46"),
                (TAG_RELEASE, &long_release),
                (TAG_ARCH, "x86_64"),
            ],
            None,
        );
        let counter = 7u32.to_le_bytes().to_vec();
        let db = bdb(&[a.clone(), counter], 512);
        let blobs = read_bdb(&db).unwrap();
        assert_eq!(blobs.len(), 2);
        assert_eq!(blobs[0], a);
        assert_eq!(parse_header(&blobs[0]).unwrap().release, long_release);

        let mut broken = db.clone();
        broken.truncate(db.len() - 512);
        assert!(read_bdb(&broken).is_err());
        assert!(read_bdb(&[0u8; 4096]).is_err());
    }
}
