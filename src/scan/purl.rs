//! Package URLs (purl-spec) for the packages we catalogue, in the shape Inspector matches.
//!
//! OS packages carry their distribution twice: as the namespace (`pkg:deb/debian/…`,
//! `pkg:rpm/amzn/…`, `pkg:apk/alpine/…`, from os-release `ID`) and as a
//! `distro=<ID>-<VERSION_ID>` qualifier (`debian-12`, `amzn-2023`, `alpine-3.19.1`), beside
//! `arch`. rpm epochs go in an `epoch` qualifier (purl-spec's rpm rule); dpkg epochs stay in
//! the version as dpkg writes them (`1:2.3-4`: purl-spec's character-encoding rule says the
//! colon is never percent-encoded, separator or not). Language packages have no distro
//! qualifier.

use super::Distro;

/// Characters left as they are in every purl component: purl-spec's unreserved ones, and the
/// colon, which "shall not be percent-encoded, whether used as a separator or otherwise".
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Build `pkg:type/namespace/name@version?k=v&…` with sorted, non-empty qualifiers.
pub fn build(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for seg in ns.split('/').filter(|s| !s.is_empty()) {
            s.push_str(&encode(seg));
            s.push('/');
        }
    }
    s.push_str(&encode(name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&encode(version));
    }
    let mut q: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

/// `<ID>-<VERSION_ID>`, or just the ID for rolling distributions without a version.
pub fn distro_qualifier(d: &Distro) -> String {
    if d.version_id.is_empty() {
        d.id.clone()
    } else {
        format!("{}-{}", d.id, d.version_id)
    }
}

/// The purl namespace of an OS package: the distribution ID, or a fallback for images
/// without os-release.
pub fn os_namespace<'a>(d: Option<&'a Distro>, fallback: &'a str) -> &'a str {
    d.map(|d| d.id.as_str())
        .filter(|id| !id.is_empty())
        .unwrap_or(fallback)
}

/// npm names may carry a scope (`@types/node`): the scope is the namespace.
pub fn npm(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => build("npm", Some(scope), n, version, &[]),
        _ => build("npm", None, name, version, &[]),
    }
}

/// PyPI names are compared normalised (PEP 503): lowercase, runs of `-_.` become `-`.
pub fn pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The parts of a purl that name a package, percent-decoded (qualifiers and subpath dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `deb`, `npm`, `oci`, … (lowercased: purl types are case-insensitive).
    pub ty: String,
    /// Everything between the type and the name (`debian`, `org.apache.logging.log4j`, `@babel`).
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

/// Parse `pkg:type/namespace/name@version?qualifiers#subpath`; a text without the `pkg:`
/// scheme parses as a bare name.
pub fn parse(purl: &str) -> Parsed {
    let body = purl.split(['?', '#']).next().unwrap_or(purl);
    let (path, version) = match body.rsplit_once('@') {
        Some((p, v)) if !p.ends_with('/') => (p, Some(decode(v))),
        _ => (body, None),
    };
    let (ty, rest) = match path.strip_prefix("pkg:").and_then(|r| r.split_once('/')) {
        Some((t, r)) => (t.to_ascii_lowercase(), r),
        None => (String::new(), path),
    };
    let (namespace, name) = match rest.rsplit_once('/') {
        Some((ns, n)) => (Some(decode(ns)), n),
        None => (None, rest),
    };
    Parsed {
        ty,
        namespace,
        name: decode(name),
        version,
    }
}

/// Percent-decoding (`%3A` → `:`); a `%` not followed by two hex digits stays as it is.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(Ok(v)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_sorts_qualifiers() {
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u7",
                &[("distro", "debian-12"), ("arch", "amd64"), ("upstream", "")]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12"
        );
        // A Debian epoch: the colon stays (purl-spec), the `+` is encoded.
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "util-linux",
                "2:2.38.1-5+deb12u1",
                &[]
            ),
            "pkg:deb/debian/util-linux@2:2.38.1-5%2Bdeb12u1"
        );
        assert_eq!(npm("@types/node", "20.1.0"), "pkg:npm/%40types/node@20.1.0");
        assert_eq!(npm("left-pad", "1.3.0"), "pkg:npm/left-pad@1.3.0");
        assert_eq!(
            build(
                "maven",
                Some("org.apache.logging.log4j"),
                "log4j-core",
                "2.17.0",
                &[]
            ),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.0"
        );
        assert_eq!(
            build("golang", Some("github.com/a"), "b", "v1.0.0", &[]),
            "pkg:golang/github.com/a/b@v1.0.0"
        );
    }

    #[test]
    fn pypi_names_normalise() {
        assert_eq!(pypi_name("Django_REST.framework"), "django-rest-framework");
        assert_eq!(pypi_name("zope.interface"), "zope-interface");
        assert_eq!(pypi_name("A__b"), "a-b");
    }
}
