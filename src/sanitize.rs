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

#[cfg(test)]
mod tests {
    use super::*;

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
