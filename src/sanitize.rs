//! THE sanitizer for external strings (finding ids, titles, package names and versions,
//! platform strings from image indexes, ignore reasons, registry and AWS messages) on every
//! sink: terminal lines, CI logs, annotations, Markdown. Pure.
//!
//! Why: these strings are written by whoever publishes an advisory, a package or an image
//! index. Raw, an ESC sequence rewrites the terminal, a newline followed by `::warning::`
//! forges a GitHub workflow command, and `[text](url)` in a summary renders a link.

/// Characters that never pass: C0 and C1 controls (ESC, CR, LF, …, DEL), the Unicode line
/// and paragraph separators, and bidirectional overrides (which reorder what a reader sees).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// One printable line: every run of unsafe characters and whitespace becomes one space, and
/// a line that would start with `::` (a GitHub workflow command) is escaped with a leading
/// backslash, so no log line can be forged from it.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_whitespace() || is_unsafe(c) {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    if out.starts_with("::") {
        out.insert(0, '\\');
    }
    out
}

/// `text`, each line of a multi-line message kept (for messages we wrote with line breaks,
/// carrying external fragments): no line starts with `::`, no control character survives.
pub fn lines(s: &str) -> String {
    s.lines().map(text).collect::<Vec<_>>().join("\n")
}

/// Text for a Markdown table cell or paragraph: `text`, then the punctuation that makes
/// links, images, emphasis, code, HTML or table columns is escaped, so what renders is the
/// literal text. (Bare URLs still autolink on GitHub: an autolink shows its own target.)
pub fn markdown(s: &str) -> String {
    let t = text(s);
    let mut out = String::with_capacity(t.len() + 8);
    for c in t.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '|' | '[' | ']' | '(' | ')' | '!' | '*' | '_' | '`' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A URL for display: without `user:password@`.
pub fn url_without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return text(url);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    text(&format!("{scheme}://{host}{path}"))
}

/// A credential in every form it can be written down in, for removing it from text that may
/// echo it (a registry's or proxy's error body, an OS error): the raw password, the HTTP Basic
/// token `base64(user:password)` padded, unpadded and URL-safe (each also with `/` escaped as
/// JSON may write it, and percent-encoded), and the whole `Authorization` value `Basic <token>`.
/// Pure: built from the credential, applied to strings.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Longest first, so a whole header value goes before the token inside it.
    needles: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} forms)", self.needles.len())
    }
}

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Below this many characters a raw password is left alone: it would match ordinary words
/// ("p" in "tcp"), and masking those would both garble the message and point at the password.
const MIN_RAW: usize = 6;

impl Secrets {
    /// The forms of HTTP Basic credentials `user`/`password` (ECR: `AWS` and the token's
    /// password).
    pub fn basic(user: &str, password: &str) -> Self {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        use base64::Engine as _;
        let pair = format!("{user}:{password}");
        let mut needles = Vec::new();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let token = engine.encode(&pair);
            needles.push(format!("Basic {token}"));
            needles.push(token.replace('/', "\\/"));
            needles.push(percent_encode(&token));
            needles.push(token);
        }
        if password.chars().count() >= MIN_RAW {
            needles.push(password.to_string());
            needles.push(pair);
        }
        needles.retain(|n| !n.is_empty());
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Self { needles }
    }

    /// `s` with every form of the secret replaced by [`REDACTED`]. Unpadded forms are prefixes
    /// of padded ones and go after them, so nothing of a padded token is left behind.
    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        out
    }
}

/// `+`, `/` and `=` as a URL's query or form encoding writes them.
fn percent_encode(token: &str) -> String {
    token
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_basic_credential_is_redacted() {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        use base64::Engine as _;
        // A password whose base64 has '+', '/' and padding in every alphabet.
        let password = "tok?>?>?>";
        let s = Secrets::basic("AWS", password);
        let pair = format!("AWS:{password}");
        let forms: Vec<String> = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .map(|e| e.encode(&pair))
            .collect();
        assert!(forms[0].contains('/') && forms[0].contains('+') && forms[0].ends_with('='));
        assert!(forms[2].contains('_') && forms[2].contains('-'));
        for form in &forms {
            let text = format!("echo: Authorization: Basic {form}; token={form}.");
            let r = s.redact(&text);
            assert_eq!(
                r, "echo: Authorization: <redacted>; token=<redacted>.",
                "{form}"
            );
            let json = s.redact(&form.replace('/', "\\/"));
            assert_eq!(json, REDACTED, "JSON-escaped {form}");
            let pct = s.redact(&percent_encode(form));
            assert_eq!(pct, REDACTED, "percent-encoded {form}");
        }
        assert_eq!(
            s.redact(&format!("user:pass is {pair}")),
            "user:pass is <redacted>"
        );
        assert_eq!(
            s.redact(&format!("password {password}!")),
            "password <redacted>!"
        );
        assert!(!format!("{s:?}").contains("tok"));
        // A short password is not masked raw (it would hit ordinary words), its token is.
        let short = Secrets::basic("u", "p");
        assert_eq!(short.redact("tcp connect"), "tcp connect");
        assert_eq!(
            short.redact(&format!("Basic {}", STANDARD.encode("u:p"))),
            REDACTED
        );
        assert_eq!(Secrets::default().redact("x"), "x");
    }

    #[test]
    fn controls_never_pass_and_no_line_starts_a_workflow_command() {
        let hostile = "1.0\u{1b}]8;;https://evil\u{7}x\u{1b}[2J\r\n::warning::forged\u{9b}31m";
        let t = text(hostile);
        assert!(!t.contains(is_unsafe), "{t:?}");
        assert!(
            !t.lines().any(|l| l.trim_start().starts_with("::")),
            "{t:?}"
        );
        assert_eq!(t.lines().count(), 1);
        assert_eq!(text("::error::x"), "\\::error::x");
        assert_eq!(text("\n  ::error::x"), "\\::error::x");
        assert_eq!(text("a\u{202E}b"), "a b");
        assert_eq!(lines("ok\n::set-output x\n"), "ok\n\\::set-output x");
    }

    #[test]
    fn markdown_renders_no_link_image_or_html() {
        let m = markdown("see [click](https://evil.example) ![i](x.png) <img src=x> a|b");
        assert!(!m.contains("[click]("), "{m}");
        assert!(!m.contains("!["), "{m}");
        assert!(!m.contains('<'), "{m}");
        assert!(m.contains("\\[click\\]\\(https://evil.example\\)"), "{m}");
        assert!(m.contains("a\\|b"), "{m}");
    }

    #[test]
    fn userinfo_is_dropped_from_urls() {
        assert_eq!(
            url_without_userinfo("https://AWS:tok@1.dkr.ecr.x/v2/?a@b"),
            "https://1.dkr.ecr.x/v2/?a@b"
        );
        assert_eq!(url_without_userinfo("http://h:5000"), "http://h:5000");
    }
}
