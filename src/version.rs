//! Version ordering in each package ecosystem's own rules: dpkg (Debian policy §5.6.12), rpm
//! (`rpmvercmp` with epoch and release), apk, semver (npm, cargo, Go), PEP 440 (pip) and Maven
//! (`ComparableVersion`). Pure string functions: the fix plan (`crate::fixplan`) uses them to
//! find the version that fixes every finding of a package.
//!
//! Two versions that cannot be ordered (an unknown ecosystem, a string the ecosystem's grammar
//! rejects) give `None`: a caller lists both rather than guess which is newer.

use std::cmp::Ordering;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Debian / Ubuntu: `[epoch:]upstream[-revision]`.
    Dpkg,
    /// RPM distributions: `[epoch:]version[-release]`.
    Rpm,
    /// Alpine: `1.2.3[a][_suffixN]…[-rN]`.
    Apk,
    /// An OS package whose distribution the versions do not reveal: ordered only when dpkg
    /// and rpm agree.
    Os,
    /// Semantic Versioning 2.0.0 (npm, cargo, Go modules; a leading `v` is allowed).
    Semver,
    /// Python: PEP 440.
    Pep440,
    /// Maven: `ComparableVersion` as Maven 3 orders (Java archives). Maven 3.9 and 4 changed a
    /// few rare qualifier cases (`1-ga-1`, `1.foo` against `1-foo`); numbers, `-SNAPSHOT`,
    /// `.RELEASE`, `.Final` and the known qualifiers order the same in all of them.
    Maven,
}

impl Scheme {
    /// Order `a` and `b`, or `None` when either is not a version in this scheme (or, for
    /// [`Scheme::Os`], when the candidate orderings disagree).
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() || b.is_empty() {
            return None;
        }
        match self {
            Scheme::Dpkg => dpkg(a, b),
            Scheme::Rpm => rpm(a, b),
            Scheme::Apk => apk(a, b),
            Scheme::Os => match (dpkg(a, b), rpm(a, b)) {
                (Some(x), Some(y)) if x == y => Some(x),
                _ => None,
            },
            Scheme::Semver => semver(a, b),
            Scheme::Pep440 => pep440(a, b),
            Scheme::Maven => Some(maven(a, b)),
        }
    }

    /// The ordering for an OS package, told from its version strings: Debian and Ubuntu
    /// revisions name their release (`+deb12u3`, `0ubuntu1`, a repacked `+dfsg` upstream),
    /// RPM releases their distribution
    /// (`.el9`, `.amzn2023`, `.fc40`), Alpine ends in `-rN`. Unknown: [`Scheme::Os`].
    pub fn for_os<'a>(versions: impl IntoIterator<Item = &'a str>) -> Scheme {
        let mut found = None;
        for v in versions {
            let v = v.to_ascii_lowercase();
            let this = if ["deb", "ubuntu", "dfsg"].iter().any(|m| v.contains(m)) {
                Some(Scheme::Dpkg)
            } else if [
                ".el", ".amzn", ".fc", ".module", ".al8", ".azl", ".cm2", ".suse", ".mga",
            ]
            .iter()
            .any(|m| has_marker_digit(&v, m))
            {
                Some(Scheme::Rpm)
            } else if apk_revision(&v) {
                Some(Scheme::Apk)
            } else {
                None
            };
            match (found, this) {
                (None, t) => found = t,
                (Some(f), Some(t)) if f != t => return Scheme::Os,
                _ => {}
            }
        }
        found.unwrap_or(Scheme::Os)
    }
}

/// `marker` followed by a digit somewhere in `v` (`.el9`, `.amzn2023`).
fn has_marker_digit(v: &str, marker: &str) -> bool {
    v.match_indices(marker).any(|(i, m)| {
        v[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || m == ".module" || m == ".suse")
    })
}

/// Ends in `-r<digits>` (Alpine's package revision).
fn apk_revision(v: &str) -> bool {
    v.rsplit_once("-r")
        .is_some_and(|(_, r)| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// Compare two runs of ASCII digits as numbers of any length.
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Split a leading run of bytes matching `pred`.
fn take_while(s: &str, pred: impl Fn(u8) -> bool) -> (&str, &str) {
    let n = s.bytes().take_while(|&b| pred(b)).count();
    s.split_at(n)
}

/// `epoch:rest` with a numeric epoch (absent = 0), or `None` for a malformed epoch.
fn split_epoch(v: &str) -> Option<(&str, &str)> {
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            Some((e, rest))
        }
        Some(_) => None,
        None => Some(("0", v)),
    }
}

// ---- dpkg -------------------------------------------------------------------------------

/// Debian policy §5.6.12: epochs numerically, then upstream version and revision with
/// `verrevcmp` (non-digit runs character by character, `~` before everything, letters before
/// other characters; digit runs numerically). No revision is revision `0`.
fn dpkg(a: &str, b: &str) -> Option<Ordering> {
    let (ea, ua, ra) = dpkg_parts(a)?;
    let (eb, ub, rb) = dpkg_parts(b)?;
    Some(
        cmp_digits(ea, eb)
            .then_with(|| verrevcmp(ua, ub))
            .then_with(|| verrevcmp(ra, rb)),
    )
}

fn dpkg_parts(v: &str) -> Option<(&str, &str, &str)> {
    let (epoch, rest) = split_epoch(v)?;
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    let upstream_ok = upstream.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-".contains(&b));
    let revision_ok = revision
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        && (revision.is_empty() != rest.contains('-'));
    (upstream_ok && revision_ok).then_some((epoch, upstream, revision))
}

/// The weight of one non-digit character: `~` lowest, then the end of the run, letters by
/// ASCII, then everything else after the letters.
fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(mut a: &str, mut b: &str) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        let (na, ra) = take_while(a, |c| !c.is_ascii_digit());
        let (nb, rb) = take_while(b, |c| !c.is_ascii_digit());
        let (xa, xb) = (na.as_bytes(), nb.as_bytes());
        for i in 0..xa.len().max(xb.len()) {
            let o = dpkg_order(xa.get(i).copied()).cmp(&dpkg_order(xb.get(i).copied()));
            if o != Ordering::Equal {
                return o;
            }
        }
        let (da, ra) = take_while(ra, |c| c.is_ascii_digit());
        let (db, rb) = take_while(rb, |c| c.is_ascii_digit());
        let o = cmp_digits(da, db);
        if o != Ordering::Equal {
            return o;
        }
        a = ra;
        b = rb;
    }
    Ordering::Equal
}

// ---- rpm --------------------------------------------------------------------------------

/// RPM: epoch numerically (absent = 0), then version, then release, each with `rpmvercmp`.
fn rpm(a: &str, b: &str) -> Option<Ordering> {
    let (ea, ra) = split_epoch(a)?;
    let (eb, rb) = split_epoch(b)?;
    let (va, la) = ra.rsplit_once('-').unwrap_or((ra, ""));
    let (vb, lb) = rb.rsplit_once('-').unwrap_or((rb, ""));
    if va.is_empty() || vb.is_empty() {
        return None;
    }
    Some(
        cmp_digits(ea, eb)
            .then_with(|| rpmvercmp(va, vb))
            .then_with(|| rpmvercmp(la, lb)),
    )
}

/// `rpmvercmp`: alternating runs of digits and letters, everything else a separator; `~`
/// sorts before anything (even the end), `^` after the end but before anything else; a digit
/// run is newer than a letter run; whichever has segments left over is newer.
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        while a.first().is_some_and(|&c| sep(c)) {
            a = &a[1..];
        }
        while b.first().is_some_and(|&c| sep(c)) {
            b = &b[1..];
        }
        if a.first() == Some(&b'~') || b.first() == Some(&b'~') {
            if a.first() != Some(&b'~') {
                return Ordering::Greater;
            }
            if b.first() != Some(&b'~') {
                return Ordering::Less;
            }
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        if a.first() == Some(&b'^') || b.first() == Some(&b'^') {
            if a.is_empty() {
                return Ordering::Less;
            }
            if b.is_empty() {
                return Ordering::Greater;
            }
            if a.first() != Some(&b'^') {
                return Ordering::Greater;
            }
            if b.first() != Some(&b'^') {
                return Ordering::Less;
            }
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let na = a.iter().take_while(|c| class(c)).count();
        let nb = b.iter().take_while(|c| class(c)).count();
        if nb == 0 {
            // Different kinds of segment: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[..na], &b[..nb]);
        let o = if numeric {
            // Both are ASCII digits, hence valid UTF-8.
            cmp_digits(
                std::str::from_utf8(sa).unwrap_or_default(),
                std::str::from_utf8(sb).unwrap_or_default(),
            )
        } else {
            sa.cmp(sb)
        };
        if o != Ordering::Equal {
            return o;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

// ---- apk --------------------------------------------------------------------------------

/// Alpine suffixes in their order; the release itself (no suffix) sits between `rc` and `cvs`.
const APK_SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
const APK_RELEASE: usize = 4;

#[derive(Debug, PartialEq, Eq)]
struct Apk<'a> {
    numbers: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(usize, &'a str)>,
    revision: &'a str,
}

fn apk_parse(v: &str) -> Option<Apk<'_>> {
    let (rest, revision) = match v.rsplit_once("-r") {
        Some((r, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (r, n),
        _ => (v, "0"),
    };
    // A `~hash` commit suffix does not take part in the order.
    let rest = rest.split_once('~').map_or(rest, |(r, _)| r);
    let (main, suffix_text) = rest.split_once('_').unwrap_or((rest, ""));
    let mut numbers = Vec::new();
    let mut letter = None;
    for (i, part) in main.split('.').enumerate() {
        let (digits, tail) = take_while(part, |b| b.is_ascii_digit());
        if digits.is_empty() {
            return None;
        }
        numbers.push(digits);
        match tail.as_bytes() {
            [] => {}
            [c] if c.is_ascii_lowercase() && i + 1 == main.split('.').count() => letter = Some(*c),
            _ => return None,
        }
    }
    let mut suffixes = Vec::new();
    if !suffix_text.is_empty() {
        for s in suffix_text.split('_') {
            let (name, digits) =
                s.split_at(s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len()));
            let rank = APK_SUFFIXES.iter().position(|x| *x == name)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            suffixes.push((if rank >= APK_RELEASE { rank + 1 } else { rank }, digits));
        }
    }
    Some(Apk {
        numbers,
        letter,
        suffixes,
        revision,
    })
}

/// apk-tools' order: numbers component by component (a later component with a leading zero
/// compares as a decimal fraction), a missing component older; then the letter; then the
/// suffixes (`_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` < `_git` < `_hg` <
/// `_p`); then `-rN`.
fn apk(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (apk_parse(a)?, apk_parse(b)?);
    for i in 0..x.numbers.len().max(y.numbers.len()) {
        let o = match (x.numbers.get(i), y.numbers.get(i)) {
            (Some(p), Some(q)) if i > 0 && (p.starts_with('0') || q.starts_with('0')) => {
                p.trim_end_matches('0').cmp(q.trim_end_matches('0'))
            }
            (Some(p), Some(q)) => cmp_digits(p, q),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    let o = x.letter.cmp(&y.letter);
    if o != Ordering::Equal {
        return Some(o);
    }
    for i in 0..x.suffixes.len().max(y.suffixes.len()) {
        let release = (APK_RELEASE, "");
        let p = x.suffixes.get(i).copied().unwrap_or(release);
        let q = y.suffixes.get(i).copied().unwrap_or(release);
        let o = p.0.cmp(&q.0).then_with(|| cmp_digits(p.1, q.1));
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    Some(cmp_digits(x.revision, y.revision))
}

// ---- semver -----------------------------------------------------------------------------

/// SemVer 2.0.0 §11: major, minor, patch numerically; a pre-release is older than its
/// release; pre-release identifiers one by one (numeric ones numerically and older than
/// alphanumeric ones, which compare in ASCII order; more identifiers newer when the rest is
/// equal); build metadata ignored.
fn semver(a: &str, b: &str) -> Option<Ordering> {
    let (ca, pa) = semver_parse(a)?;
    let (cb, pb) = semver_parse(b)?;
    for (x, y) in ca.iter().zip(&cb) {
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    Some(match (pa.is_empty(), pb.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in pa.iter().zip(&pb) {
                let nx = x.bytes().all(|c| c.is_ascii_digit());
                let ny = y.bytes().all(|c| c.is_ascii_digit());
                let o = match (nx, ny) {
                    (true, true) => cmp_digits(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            pa.len().cmp(&pb.len())
        }
    })
}

fn semver_parse(v: &str) -> Option<([&str; 3], Vec<&str>)> {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let v = match v.split_once('+') {
        Some((core, build)) => {
            let ok = build.split('.').all(|i| {
                !i.is_empty() && i.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            });
            if !ok {
                return None;
            }
            core
        }
        None => v,
    };
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = parts.as_slice() else {
        return None;
    };
    if ![major, minor, patch].iter().all(|p| numeric(p)) {
        return None;
    }
    let pre: Vec<&str> = match pre {
        None => Vec::new(),
        Some(p) => {
            let ids: Vec<&str> = p.split('.').collect();
            let ok = ids.iter().all(|i| {
                !i.is_empty()
                    && i.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    && (!i.bytes().all(|c| c.is_ascii_digit()) || numeric(i))
            });
            if !ok {
                return None;
            }
            ids
        }
    };
    Some(([major, minor, patch], pre))
}

// ---- PEP 440 ----------------------------------------------------------------------------

/// One PEP 440 version, normalised.
#[derive(Debug, PartialEq, Eq)]
struct Pep440 {
    epoch: String,
    release: Vec<String>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pre: Option<(u8, String)>,
    post: Option<String>,
    dev: Option<String>,
    local: Vec<String>,
}

/// Where a phase sits relative to the others at one release (the sort key PEP 440's
/// ordering rules describe): `.devN` of the release itself before any pre-release, the
/// release after its pre-releases.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    DevOnly,
    Pre(u8, Digits<'a>),
    Release,
}

/// Digits ordered as a number.
#[derive(Debug)]
struct Digits<'a>(&'a str);

impl PartialEq for Digits<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Digits<'_> {}

impl PartialOrd for Digits<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Digits<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(self.0, other.0)
    }
}

impl Pep440 {
    fn pre_key(&self) -> PreKey<'_> {
        match &self.pre {
            Some((p, n)) => PreKey::Pre(*p, Digits(n)),
            None if self.post.is_none() && self.dev.is_some() => PreKey::DevOnly,
            None => PreKey::Release,
        }
    }
    /// No post-release before any.
    fn post_key(&self) -> Option<Digits<'_>> {
        self.post.as_deref().map(Digits)
    }
    /// No dev release after any.
    fn dev_key(&self) -> (u8, Digits<'_>) {
        match &self.dev {
            Some(d) => (0, Digits(d)),
            None => (1, Digits("")),
        }
    }
}

fn pep440(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (pep440_parse(a)?, pep440_parse(b)?);
    // Release numbers padded with zeros: 1.0 == 1.0.0.
    let (ra, rb) = (&x.release, &y.release);
    let mut o = cmp_digits(&x.epoch, &y.epoch);
    for i in 0..ra.len().max(rb.len()) {
        o = o.then_with(|| {
            cmp_digits(
                ra.get(i).map_or("0", String::as_str),
                rb.get(i).map_or("0", String::as_str),
            )
        });
    }
    Some(
        o.then_with(|| x.pre_key().cmp(&y.pre_key()))
            .then_with(|| x.post_key().cmp(&y.post_key()))
            .then_with(|| x.dev_key().cmp(&y.dev_key()))
            .then_with(|| local_cmp(&x.local, &y.local)),
    )
}

/// Local labels: none before any; segment by segment, numbers numerically and after strings
/// (case-insensitive); more segments newer when the rest is equal.
fn local_cmp(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let nx = x.bytes().all(|c| c.is_ascii_digit());
        let ny = y.bytes().all(|c| c.is_ascii_digit());
        let o = match (nx, ny) {
            (true, true) => cmp_digits(x, y),
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Parse with PEP 440's normalisation: case-insensitive, an optional leading `v`, `-`/`_`/`.`
/// separators, `alpha`/`beta`/`c`/`pre`/`preview` spellings, `rev`/`r` and `-N` post
/// releases, implicit zero numbers.
fn pep440_parse(v: &str) -> Option<Pep440> {
    let v = v.to_ascii_lowercase();
    let v = v.strip_prefix('v').unwrap_or(&v);
    let (public, local) = match v.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (v, None),
    };
    let local: Vec<String> = match local {
        None => Vec::new(),
        Some(l) => {
            let segs: Vec<String> = l.split(['.', '-', '_']).map(str::to_string).collect();
            if segs
                .iter()
                .any(|s| s.is_empty() || !s.bytes().all(|c| c.is_ascii_alphanumeric()))
            {
                return None;
            }
            segs
        }
    };
    let (epoch, mut rest) = match public.split_once('!') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
        Some(_) => return None,
        None => ("0", public),
    };
    let mut release = Vec::new();
    loop {
        let (d, r) = take_while(rest, |c| c.is_ascii_digit());
        if d.is_empty() {
            return None;
        }
        release.push(d.to_string());
        rest = r;
        match rest.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
            _ => break,
        }
    }
    // Each phase: an optional separator, its word, an optional separator, an optional number.
    fn phase<'a>(s: &'a str, words: &[&str]) -> Option<(&'a str, String)> {
        let t = s.strip_prefix(['.', '-', '_']).unwrap_or(s);
        let word = words.iter().find(|w| t.starts_with(**w))?;
        let t = &t[word.len()..];
        let u = t.strip_prefix(['.', '-', '_']).unwrap_or(t);
        let (d, r) = take_while(u, |c| c.is_ascii_digit());
        if d.is_empty() {
            Some((t, "0".into()))
        } else {
            Some((r, d.to_string()))
        }
    }
    let mut pre = None;
    // Longest spellings first, so that `preview` is not read as `pre` + `view`.
    let pre_words = ["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"];
    if let Some((r, n)) = phase(rest, &pre_words) {
        let t = rest.trim_start_matches(['.', '-', '_']);
        let kind = if t.starts_with("alpha") || t.starts_with('a') {
            0
        } else if t.starts_with("beta") || t.starts_with('b') {
            1
        } else {
            2
        };
        pre = Some((kind, n));
        rest = r;
    }
    let mut post = None;
    if let Some((r, n)) = phase(rest, &["post", "rev", "r"]) {
        post = Some(n);
        rest = r;
    } else if let Some(r) = rest.strip_prefix('-') {
        // `1.0-1` is the implicit post release 1.0.post1.
        let (d, r) = take_while(r, |c| c.is_ascii_digit());
        if !d.is_empty() {
            post = Some(d.to_string());
            rest = r;
        }
    }
    let mut dev = None;
    if let Some((r, n)) = phase(rest, &["dev"]) {
        dev = Some(n);
        rest = r;
    }
    if !rest.is_empty() {
        return None;
    }
    Some(Pep440 {
        epoch: epoch.to_string(),
        release,
        pre,
        post,
        dev,
        local,
    })
}

// ---- Maven ------------------------------------------------------------------------------

/// One item of a Maven version: a number, a qualifier, or the sub-list a `-` (or a
/// digit/letter transition) opens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MavenItem {
    Int(String),
    Str(String),
    List(Vec<MavenItem>),
}

/// Qualifiers in order; unknown ones come after all of them, in lexical order.
const MAVEN_QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const MAVEN_RELEASE: usize = 5;

impl MavenItem {
    fn is_null(&self) -> bool {
        match self {
            MavenItem::Int(n) => n.trim_start_matches('0').is_empty(),
            MavenItem::Str(s) => qualifier_rank(s) == (MAVEN_RELEASE, ""),
            MavenItem::List(l) => l.is_empty(),
        }
    }

    /// Compare with `other`; `None` stands for a missing item (the shorter version).
    fn cmp_to(&self, other: Option<&MavenItem>) -> Ordering {
        use MavenItem::*;
        match (self, other) {
            (Int(n), None) => {
                if n.trim_start_matches('0').is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Int(a), Some(Int(b))) => cmp_digits(a, b),
            (Int(_), Some(_)) => Ordering::Greater,
            (Str(s), None) => qualifier_rank(s).cmp(&(MAVEN_RELEASE, "")),
            (Str(_), Some(Int(_))) | (Str(_), Some(List(_))) => Ordering::Less,
            (Str(a), Some(Str(b))) => qualifier_rank(a).cmp(&qualifier_rank(b)),
            (List(l), None) => l.first().map_or(Ordering::Equal, |f| f.cmp_to(None)),
            (List(_), Some(Int(_))) => Ordering::Less,
            (List(_), Some(Str(_))) => Ordering::Greater,
            (List(a), Some(List(b))) => {
                for i in 0..a.len().max(b.len()) {
                    let o = match (a.get(i), b.get(i)) {
                        (Some(x), y) => x.cmp_to(y),
                        (None, Some(y)) => y.cmp_to(None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

/// The qualifier's place: its index among the known ones, or after them by its text.
fn qualifier_rank(q: &str) -> (usize, &str) {
    let q = match q {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        q => q,
    };
    match MAVEN_QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (MAVEN_QUALIFIERS.len(), q),
    }
}

fn maven_item(digits: bool, text: &str, followed_by_digit: bool) -> MavenItem {
    if digits {
        return MavenItem::Int(text.to_string());
    }
    // `a1`, `b1`, `m1` are alpha-1, beta-1, milestone-1.
    let text = match (followed_by_digit, text) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        _ => text,
    };
    MavenItem::Str(text.to_string())
}

/// Drop trailing null items (`0`, `""`, `ga`, `final`, empty lists) from a list, stopping
/// at the first item that is neither null nor a list.
fn maven_normalize(items: &mut Vec<MavenItem>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        if let MavenItem::List(l) = &mut items[i] {
            maven_normalize(l);
        }
        if items[i].is_null() {
            items.remove(i);
        } else if !matches!(items[i], MavenItem::List(_)) {
            break;
        }
    }
}

/// Parse into nested lists: `.` separates items, `-` and a digit/letter transition open a
/// sub-list; an empty item is `0`.
fn maven_parse(v: &str) -> Vec<MavenItem> {
    let v = v.to_lowercase();
    // The lists being filled, outermost first; each is attached to its parent when closed.
    let mut stack: Vec<Vec<MavenItem>> = vec![Vec::new()];
    let mut digits = false;
    let mut start = 0;
    let bytes: Vec<(usize, char)> = v.char_indices().collect();
    let open = |stack: &mut Vec<Vec<MavenItem>>| stack.push(Vec::new());
    let push = |stack: &mut Vec<Vec<MavenItem>>, item: MavenItem| {
        if let Some(top) = stack.last_mut() {
            top.push(item);
        }
    };
    for &(i, c) in &bytes {
        if c == '.' || c == '-' {
            let item = if i == start {
                MavenItem::Int("0".into())
            } else {
                maven_item(digits, &v[start..i], false)
            };
            push(&mut stack, item);
            start = i + c.len_utf8();
            if c == '-' {
                open(&mut stack);
            }
        } else if c.is_ascii_digit() {
            if !digits && i > start {
                push(&mut stack, maven_item(false, &v[start..i], true));
                start = i;
                open(&mut stack);
            }
            digits = true;
        } else {
            if digits && i > start {
                push(&mut stack, maven_item(true, &v[start..i], false));
                start = i;
                open(&mut stack);
            }
            digits = false;
        }
    }
    if v.len() > start {
        push(&mut stack, maven_item(digits, &v[start..], false));
    }
    // Close the sub-lists innermost first, normalising each as it is attached.
    while stack.len() > 1 {
        let mut inner = stack.pop().unwrap_or_default();
        maven_normalize(&mut inner);
        push(&mut stack, MavenItem::List(inner));
    }
    let mut top = stack.pop().unwrap_or_default();
    maven_normalize(&mut top);
    top
}

fn maven(a: &str, b: &str) -> Ordering {
    MavenItem::List(maven_parse(a)).cmp_to(Some(&MavenItem::List(maven_parse(b))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Each version strictly older than the next, and equal to itself.
    fn ascending(s: Scheme, list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            assert_eq!(s.compare(a, a), Some(Equal), "{s:?} {a} = {a}");
            for b in &list[i + 1..] {
                assert_eq!(s.compare(a, b), Some(Less), "{s:?} {a} < {b}");
                assert_eq!(s.compare(b, a), Some(Greater), "{s:?} {b} > {a}");
            }
        }
    }

    fn same(s: Scheme, a: &str, b: &str) {
        assert_eq!(s.compare(a, b), Some(Equal), "{s:?} {a} = {b}");
        assert_eq!(s.compare(b, a), Some(Equal), "{s:?} {b} = {a}");
    }

    #[test]
    fn dpkg_follows_debian_policy() {
        // Policy §5.6.12: `~` sorts before everything, even the end of a part.
        ascending(
            Scheme::Dpkg,
            &["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1"],
        );
        // Epochs first; an absent epoch is 0; an absent revision is 0.
        ascending(
            Scheme::Dpkg,
            &["2.36-9", "2.36-9+deb12u3", "2.36-9+deb12u7", "1:0.1"],
        );
        same(Scheme::Dpkg, "0:2.36-9+deb12u7", "2.36-9+deb12u7");
        same(Scheme::Dpkg, "1.0", "1.0-0");
        same(Scheme::Dpkg, "1.01", "1.1");
        ascending(
            Scheme::Dpkg,
            &[
                "3.0.11-1~deb12u2",
                "3.0.11-1",
                "3.0.13-1~deb12u1",
                "3.0.14-1~deb12u2",
                "3.0.15-1~deb12u1",
            ],
        );
        // Letters before other characters; digits numerically.
        ascending(Scheme::Dpkg, &["1.2a", "1.2+", "1.2.3", "1.10"]);
        ascending(Scheme::Dpkg, &["2.7.4+dfsg-1", "2.7.4+dfsg-10", "2.7.10-1"]);
        // The revision is after the last hyphen; the upstream part may hold hyphens.
        same(Scheme::Dpkg, "1.2-3-4", "1.2-3-4");
        ascending(Scheme::Dpkg, &["1.2-3-4", "1.2-3-5", "1.2-4-1"]);
        // Not a Debian version: cannot be ordered.
        assert_eq!(Scheme::Dpkg.compare("a1.0", "1.0"), None);
        assert_eq!(Scheme::Dpkg.compare("x:1.0", "1.0"), None);
        assert_eq!(Scheme::Dpkg.compare("1.0 beta", "1.0"), None);
    }

    #[test]
    fn rpm_matches_rpmvercmp_test_cases() {
        let cases: &[(&str, &str, i8)] = &[
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0", "1.0", 1),
            ("2.0.1", "2.0.1", 0),
            ("2.0", "2.0.1", -1),
            ("2.0.1", "2.0", 1),
            ("2.0.1a", "2.0.1a", 0),
            ("2.0.1a", "2.0.1", 1),
            ("2.0.1", "2.0.1a", -1),
            ("5.5p1", "5.5p1", 0),
            ("5.5p1", "5.5p2", -1),
            ("5.5p2", "5.5p1", 1),
            ("5.5p10", "5.5p10", 0),
            ("5.5p1", "5.5p10", -1),
            ("5.5p10", "5.5p1", 1),
            ("10xyz", "10.1xyz", -1),
            ("10.1xyz", "10xyz", 1),
            ("xyz10", "xyz10", 0),
            ("xyz10", "xyz10.1", -1),
            ("xyz10.1", "xyz10", 1),
            ("xyz.4", "xyz.4", 0),
            ("xyz.4", "8", -1),
            ("8", "xyz.4", 1),
            ("xyz.4", "2", -1),
            ("2", "xyz.4", 1),
            ("5.5p2", "5.6p1", -1),
            ("5.6p1", "5.5p2", 1),
            ("5.6p1", "6.5p1", -1),
            ("6.5p1", "5.6p1", 1),
            ("6.0.rc1", "6.0", 1),
            ("6.0", "6.0.rc1", -1),
            ("10b2", "10a1", 1),
            ("10a2", "10b2", -1),
            ("1.0aa", "1.0aa", 0),
            ("1.0a", "1.0aa", -1),
            ("1.0aa", "1.0a", 1),
            ("10.0001", "10.0001", 0),
            ("10.0001", "10.1", 0),
            ("10.1", "10.0001", 0),
            ("10.0001", "10.0039", -1),
            ("10.0039", "10.0001", 1),
            ("4.999.9", "5.0", -1),
            ("5.0", "4.999.9", 1),
            ("20101121", "20101121", 0),
            ("20101121", "20101122", -1),
            ("20101122", "20101121", 1),
            ("2_0", "2_0", 0),
            ("2.0", "2_0", 0),
            ("2_0", "2.0", 0),
            ("a", "a", 0),
            ("a+", "a+", 0),
            ("a+", "a_", 0),
            ("a_", "a+", 0),
            ("+a", "+a", 0),
            ("+a", "_a", 0),
            ("_a", "+a", 0),
            ("+_", "+_", 0),
            ("_+", "+_", 0),
            ("_+", "_", 0),
            ("+", "_", 0),
            ("_", "+", 0),
            ("1.0~rc1", "1.0~rc1", 0),
            ("1.0~rc1", "1.0", -1),
            ("1.0", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc2", -1),
            ("1.0~rc2", "1.0~rc1", 1),
            ("1.0~rc1~git123", "1.0~rc1~git123", 0),
            ("1.0~rc1~git123", "1.0~rc1", -1),
            ("1.0~rc1", "1.0~rc1~git123", 1),
            ("1.0^", "1.0^", 0),
            ("1.0^", "1.0", 1),
            ("1.0", "1.0^", -1),
            ("1.0^git1", "1.0^git1", 0),
            ("1.0^git1", "1.0", 1),
            ("1.0", "1.0^git1", -1),
            ("1.0^git1", "1.0^git2", -1),
            ("1.0^git2", "1.0^git1", 1),
            ("1.0^git1", "1.01", -1),
            ("1.01", "1.0^git1", 1),
            ("1.0^20160101", "1.0^20160101", 0),
            ("1.0^20160101", "1.0.1", -1),
            ("1.0.1", "1.0^20160101", 1),
            ("1.0^20160101^git1", "1.0^20160101^git1", 0),
            ("1.0^20160102", "1.0^20160101^git1", 1),
            ("1.0^20160101^git1", "1.0^20160102", -1),
            ("1.0~rc1^git1", "1.0~rc1^git1", 0),
            ("1.0~rc1^git1", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc1^git1", -1),
            ("1.0^git1~pre", "1.0^git1~pre", 0),
            ("1.0^git1", "1.0^git1~pre", 1),
            ("1.0^git1~pre", "1.0^git1", -1),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b) as i8, *want, "rpmvercmp({a}, {b})");
        }
        // EVR: epoch, then version, then release.
        ascending(
            Scheme::Rpm,
            &[
                "3.0.8-1.amzn2023.0.9",
                "3.0.8-1.amzn2023.0.12",
                "1:3.0.7-1.amzn2023",
                "1:3.0.7-2.amzn2023",
            ],
        );
        same(Scheme::Rpm, "0:2.34-100.el9", "2.34-100.el9");
        assert_eq!(Scheme::Rpm.compare("x:1", "1"), None);
    }

    #[test]
    fn apk_orders_suffixes_letters_and_revisions() {
        ascending(
            Scheme::Apk,
            &[
                "1.2.3_alpha1-r0",
                "1.2.3_beta-r0",
                "1.2.3_pre2-r0",
                "1.2.3_rc1-r0",
                "1.2.3-r0",
                "1.2.3-r1",
                "1.2.3-r10",
                "1.2.3_p1-r0",
                "1.2.3a-r0",
                "1.2.4-r0",
                "1.10-r0",
            ],
        );
        ascending(Scheme::Apk, &["3.1.4-r5", "3.1.4-r6", "3.3.2-r0"]);
        assert_eq!(Scheme::Apk.compare("1.2.3_bogus-r0", "1.2.3-r0"), None);
    }

    #[test]
    fn os_packages_are_ordered_by_their_distribution_or_only_when_dpkg_and_rpm_agree() {
        assert_eq!(
            Scheme::for_os(["2.36-9+deb12u3", "0:2.36-9+deb12u7"]),
            Scheme::Dpkg
        );
        assert_eq!(Scheme::for_os(["1:1.2.13.dfsg-1"]), Scheme::Dpkg);
        assert_eq!(Scheme::for_os(["1.1.1k-12.el9_3"]), Scheme::Rpm);
        assert_eq!(Scheme::for_os(["3.0.8-1.amzn2023.0.12"]), Scheme::Rpm);
        assert_eq!(Scheme::for_os(["3.1.4-r5"]), Scheme::Apk);
        assert_eq!(Scheme::for_os(["1.2-3"]), Scheme::Os);
        assert_eq!(Scheme::for_os(["1-1.el9", "1-1+deb12u1"]), Scheme::Os);
        assert_eq!(Scheme::Os.compare("1.2-3", "1.2-4"), Some(Less));
        // dpkg sorts letters before other characters; rpm skips `+` as a separator.
        assert_eq!(Scheme::Dpkg.compare("1.0a", "1.0+"), Some(Less));
        assert_eq!(Scheme::Rpm.compare("1.0a", "1.0+"), Some(Greater));
        assert_eq!(Scheme::Os.compare("1.0a", "1.0+"), None);
    }

    #[test]
    fn semver_follows_the_precedence_list_of_semver_org() {
        ascending(
            Scheme::Semver,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0",
                "2.1.0",
                "2.1.1",
            ],
        );
        // Build metadata does not take part; Go's leading `v` is allowed.
        same(
            Scheme::Semver,
            "1.0.0+20130313144700",
            "1.0.0+exp.sha.5114f85",
        );
        same(Scheme::Semver, "v1.2.3", "1.2.3");
        // Go pseudo-versions are pre-releases.
        ascending(
            Scheme::Semver,
            &[
                "v0.0.0-20210101000000-abcdefabcdef",
                "v0.0.0-20220101000000-abcdefabcdef",
                "v0.1.0",
            ],
        );
        ascending(Scheme::Semver, &["4.17.20", "4.17.21", "4.18.0", "10.0.0"]);
        for bad in [
            "1.2", "1.2.3.4", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "latest",
        ] {
            assert_eq!(Scheme::Semver.compare(bad, "1.2.3"), None, "{bad}");
        }
    }

    #[test]
    fn pep440_follows_the_examples_of_the_pep() {
        ascending(
            Scheme::Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
            ],
        );
        ascending(
            Scheme::Pep440,
            &["2013.10", "2014.04", "1!1.0", "1!1.1", "1!2.0"],
        );
        // Normalisation.
        same(Scheme::Pep440, "1.0.0", "1.0");
        same(Scheme::Pep440, "1.1RC1", "1.1rc1");
        same(Scheme::Pep440, "1.0-1", "1.0.post1");
        same(Scheme::Pep440, "v1.0", "1.0");
        same(Scheme::Pep440, "1.0alpha1", "1.0a1");
        same(Scheme::Pep440, "1.0-beta.2", "1.0b2");
        same(Scheme::Pep440, "1.0c1", "1.0rc1");
        same(Scheme::Pep440, "1.0preview1", "1.0rc1");
        same(Scheme::Pep440, "1.0a", "1.0a0");
        same(Scheme::Pep440, "1.0.post", "1.0.post0");
        same(Scheme::Pep440, "1.0-r4", "1.0.post4");
        same(Scheme::Pep440, "1.0.dev", "1.0.dev0");
        same(Scheme::Pep440, "1.0+ubuntu-1", "1.0+ubuntu.1");
        ascending(
            Scheme::Pep440,
            &["2.31.0", "2.32.0", "2.32.3", "42.0.4", "42.0.5"],
        );
        for bad in ["1.0-", "1.0+", "one", "1.0foo"] {
            assert_eq!(Scheme::Pep440.compare(bad, "1.0"), None, "{bad}");
        }
    }

    #[test]
    fn maven_follows_the_version_order_specification() {
        ascending(Scheme::Maven, &["1", "1.1"]);
        ascending(Scheme::Maven, &["1-snapshot", "1", "1-sp"]);
        ascending(Scheme::Maven, &["1-foo2", "1-foo10"]);
        ascending(Scheme::Maven, &["1-1", "1.1"]);
        for v in [
            "1.ga",
            "1-ga",
            "1-0",
            "1.0",
            "1",
            "1.0.0",
            "1-final",
            "1.RELEASE",
        ] {
            same(Scheme::Maven, v, "1");
        }
        ascending(Scheme::Maven, &["1-ga", "1-sp"]);
        ascending(Scheme::Maven, &["1-ga.1", "1-sp.1"]);
        ascending(Scheme::Maven, &["1-sp-1", "1-ga-1"]);
        same(Scheme::Maven, "1-a1", "1-alpha-1");
        same(Scheme::Maven, "1.0-alpha1", "1.0-ALPHA1");
        same(Scheme::Maven, "1.0-cr1", "1.0-rc1");
        ascending(Scheme::Maven, &["1.K", "1.7"]);
        ascending(Scheme::Maven, &["5.aardvark", "5.zebra"]);
        ascending(Scheme::Maven, &["1.b", "1.α"]);
        // The qualifier order: alpha < beta < milestone < rc = cr < snapshot < "" < sp.
        ascending(
            Scheme::Maven,
            &[
                "1.0-alpha1-SNAPSHOT",
                "1.0-alpha1",
                "1.0-beta1-SNAPSHOT",
                "1.0-b2",
                "1.0-beta3.SNAPSHOT",
                "1.0-beta3",
                "1.0-milestone1-SNAPSHOT",
                "1.0-m2",
                "1.0-rc1-SNAPSHOT",
                "1.0-cr2",
                "1.0-SNAPSHOT",
                "1.0",
                "1.0-sp",
                "1.0-whatever",
                "1.0.z",
                "1.0.1",
            ],
        );
        ascending(Scheme::Maven, &["2.15.0", "2.16.0", "2.17.1", "2.17.10"]);
        ascending(Scheme::Maven, &["5.2.20.RELEASE", "5.3.18"]);
    }

    /// Random versions built from each grammar's pieces, ordered by us and by the reference
    /// implementations installed on the machine: `dpkg --compare-versions`, rpm's own
    /// `rpm.vercmp` (through `rpm --eval` and its Lua) and pip's vendored `packaging`. Needs
    /// those tools, so it is not part of the default run:
    /// `cargo test --lib version::tests::agrees_with -- --ignored`.
    #[test]
    #[ignore]
    fn agrees_with_dpkg_rpm_and_packaging() {
        use std::process::Command;
        let pick = |parts: &[&str], n: usize| -> String {
            (0..n)
                .map(|_| parts[fastrand::usize(..parts.len())])
                .collect()
        };
        let deb = [
            "1", "2", "10", "0", ".", "+", "~", "a", "b", "z", "deb12u", "dfsg", "-1", "-2", "~rc",
        ];
        let mut pairs = Vec::new();
        while pairs.len() < 400 {
            let a = format!(
                "{}{}",
                fastrand::u8(1..9),
                pick(&deb, fastrand::usize(0..6))
            );
            let b = format!(
                "{}{}",
                fastrand::u8(1..9),
                pick(&deb, fastrand::usize(0..6))
            );
            if let Some(o) = Scheme::Dpkg.compare(&a, &b) {
                pairs.push((a, b, o));
            }
        }
        for (a, b, o) in &pairs {
            let op = match o {
                Less => "lt",
                Equal => "eq",
                Greater => "gt",
            };
            let ok = Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .expect("dpkg");
            assert!(ok.success(), "dpkg disagrees: {a} {op} {b}");
        }

        let rpm_parts = [
            "1", "2", "10", "007", ".", "_", "+", "~", "^", "a", "b", "rc", "git", "el9", "-1",
            "-2",
        ];
        let pairs: Vec<(String, String)> = (0..400)
            .map(|_| {
                (
                    format!(
                        "{}{}",
                        fastrand::u8(0..9),
                        pick(&rpm_parts, fastrand::usize(0..6))
                    ),
                    format!(
                        "{}{}",
                        fastrand::u8(0..9),
                        pick(&rpm_parts, fastrand::usize(0..6))
                    ),
                )
            })
            .filter(|(a, b)| !a.contains('-') && !b.contains('-'))
            .collect();
        let script = pairs
            .iter()
            .map(|(a, b)| format!("print(rpm.vercmp(\"{a}\", \"{b}\") .. \" \")"))
            .collect::<Vec<_>>()
            .join(" ");
        let out = Command::new("rpm")
            .args(["--eval", &format!("%{{lua: {script}}}")])
            .output()
            .expect("rpm");
        let theirs: Vec<i8> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        assert_eq!(theirs.len(), pairs.len());
        for ((a, b), t) in pairs.iter().zip(theirs) {
            assert_eq!(rpmvercmp(a, b) as i8, t, "rpmvercmp({a}, {b})");
        }

        let py = [
            "1", "2", "10", ".", ".0", "a1", "b2", "rc1", ".post1", ".dev2", "+local.7", "!",
        ];
        let pairs: Vec<(String, String)> = (0..400)
            .map(|_| {
                (
                    format!("{}{}", fastrand::u8(0..9), pick(&py, fastrand::usize(0..5))),
                    format!("{}{}", fastrand::u8(0..9), pick(&py, fastrand::usize(0..5))),
                )
            })
            .collect();
        let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
        let prog = "import sys\nfrom pip._vendor.packaging.version import Version, InvalidVersion\n\
for l in sys.stdin:\n a, b = l.split()\n try:\n  x, y = Version(a), Version(b)\n  print((x > y) - (x < y))\n except InvalidVersion:\n  print('x')\n";
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
        let mut child = Command::new(venv)
            .args(["-c", prog])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(theirs.len(), pairs.len());
        for ((a, b), t) in pairs.iter().zip(theirs) {
            let ours = Scheme::Pep440.compare(a, b).map(|o| (o as i8).to_string());
            assert_eq!(ours.as_deref().unwrap_or("x"), t, "PEP 440 {a} vs {b}");
        }
    }

    #[test]
    fn empty_versions_cannot_be_ordered() {
        for s in [
            Scheme::Dpkg,
            Scheme::Rpm,
            Scheme::Apk,
            Scheme::Os,
            Scheme::Semver,
            Scheme::Pep440,
            Scheme::Maven,
        ] {
            assert_eq!(s.compare("", "1.0"), None, "{s:?}");
        }
    }
}
