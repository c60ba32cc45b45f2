//! The human table printed on stdout: per image, severity counts, what to do to pass (the fix
//! plan), then the findings that count (id, severity, EPSS, exploit, package type and name,
//! whole installed version → fixed), then ignored, filtered and (honoured) suppressed ones;
//! findings suppressed in Inspector are marked wherever they appear.
//!
//! Pure: the caller (the I/O edge) decides the [`Layout`] — the terminal's width, whether to
//! colour, where `report.json` was written. Every line fits the width: the finding rows are
//! content-sized columns whose package and version cells are cut in the middle with `…` when
//! the row is too wide (their whole text is in the fix plan above them and in report.json);
//! prose (the plan, reasons, paths) wraps, so nothing in it is lost.

use super::{ImageReport, Report};
use crate::model::Severity;
use crate::policy::eval::{Disposition, Verdict};
use crate::sanitize::text as t;
use std::fmt::Write;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// At most this many counted findings are listed per image; the rest are summarised.
pub const MAX_ROWS: usize = 50;

/// How the table is laid out; decided where stdout is known (see `cli::stdout_width`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Display columns every line fits in (at least [`Layout::MIN_WIDTH`]).
    pub width: usize,
    /// SGR colour codes (only on a terminal, and not with NO_COLOR).
    pub color: bool,
    /// Where `report.json` was written, when it was: the rows and findings the table leaves
    /// out point there.
    pub report_json: Option<String>,
}

impl Layout {
    /// The width when stdout is not a terminal and COLUMNS is unset.
    pub const DEFAULT_WIDTH: usize = 80;
    /// Narrower than this the finding rows' fixed columns alone would not fit.
    pub const MIN_WIDTH: usize = 72;

    /// No colour, no report.json, `width` columns.
    pub fn plain(width: usize) -> Self {
        Layout {
            width,
            color: false,
            report_json: None,
        }
    }

    fn width(&self) -> usize {
        self.width.max(Self::MIN_WIDTH)
    }

    /// Where the findings the table leaves out are all listed.
    fn see_all(&self) -> String {
        match &self.report_json {
            Some(p) => format!("see {}", t(p)),
            None => "--format json or --report-dir lists them all".into(),
        }
    }
}

impl Default for Layout {
    fn default() -> Self {
        Layout::plain(Layout::DEFAULT_WIDTH)
    }
}

/// Colour a piece of text with an SGR code, or not.
type Paint<'a> = &'a dyn Fn(&str, &str) -> String;

/// The SGR code of a severity's cell: the worst stand out.
fn severity_code(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("1;31"),
        Severity::High => Some("31"),
        Severity::Medium => Some("33"),
        Severity::Low => Some("36"),
        Severity::Informational | Severity::Untriaged => None,
    }
}

pub fn render(report: &Report, layout: &Layout) -> String {
    let mut out = String::new();
    let color = layout.color;
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let w = layout.width();
    for img in &report.images {
        counts(&mut out, report, img, w, &paint);
        to_pass(&mut out, img, w);
        counted_rows(&mut out, img, layout, &paint);
        the_rest(&mut out, img, layout, &paint);
        not_read(&mut out, report, img, w, &paint);
        let _ = writeln!(out);
    }
    for n in &report.not_evaluated {
        let label = format!("{} ", paint("33", "NOT EVALUATED"));
        hang(&mut out, &label, 14, 4, &t(&n.reason), w);
    }
    if !report.not_evaluated.is_empty() {
        let _ = writeln!(out);
    }
    let overall = match report.verdict {
        Verdict::Pass => paint("32", report.verdict.past_tense()),
        Verdict::Fail => paint("31", report.verdict.past_tense()),
    };
    let unevaluated = match report.not_evaluated.len() {
        0 => String::new(),
        n => format!(", {n} not evaluated"),
    };
    let _ = writeln!(
        out,
        "inspector-gate: {overall} ({} image(s){unevaluated})",
        report.images.len()
    );
    out
}

/// Display columns of `s` (wide characters count two).
fn cols(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` in at most `max` display columns: whole when it fits, else its head and tail around
/// `…` (the tail of a version or path — its Debian revision, its file name — tells too).
pub fn cut_middle(s: &str, max: usize) -> String {
    if cols(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let budget = max - 1;
    // Two thirds head: a version's upstream part (which tells installed from fixed) leads.
    let head_budget = (budget * 2).div_ceil(3);
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw > head_budget {
            break;
        }
        used += cw;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used_tail = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if used + used_tail + cw > budget {
            break;
        }
        used_tail += cw;
        tail.push(c);
    }
    tail.reverse();
    format!("{head}…{}", tail.into_iter().collect::<String>())
}

/// `s` padded with spaces to `width` display columns (left-aligned).
fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(cols(s))))
}

/// `s` padded on the left to `width` display columns (right-aligned).
fn pad_left(s: &str, width: usize) -> String {
    format!("{}{s}", " ".repeat(width.saturating_sub(cols(s))))
}

/// Words of `text` wrapped into lines of at most `first` columns (the first line) and `rest`
/// (the others); a word longer than a line (a path, a digest) is split across lines rather
/// than cut, so nothing is lost.
fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let room = |lines: &Vec<String>| if lines.is_empty() { first } else { rest }.max(1);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        // No line may start with `::` (a CI workflow command), as `sanitize::text` ensures
        // for a whole line: a word that could start one is escaped wherever it falls.
        let escaped;
        let word = if word.starts_with("::") {
            escaped = format!("\\{word}");
            escaped.as_str()
        } else {
            word
        };
        let needed = if line.is_empty() {
            cols(word)
        } else {
            cols(&line) + 1 + cols(word)
        };
        if needed <= room(&lines) {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than a whole line: split it at the width.
        let mut chars = word.chars().peekable();
        while let Some(c) = chars.next() {
            if cols(&line) + c.width().unwrap_or(0) > room(&lines) && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                if c == ':' && chars.peek() == Some(&':') {
                    // The split would start a line with `::`: escaped as above.
                    line.push('\\');
                }
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One wrapped paragraph: `prefix` (perhaps painted; `prefix_cols` wide when plain), then
/// `text`, its continuation lines indented by `cont` columns.
fn hang(out: &mut String, prefix: &str, prefix_cols: usize, cont: usize, text: &str, width: usize) {
    let lines = wrap(
        text,
        width.saturating_sub(prefix_cols),
        width.saturating_sub(cont),
    );
    for (n, l) in lines.iter().enumerate() {
        if n == 0 {
            let _ = writeln!(out, "{prefix}{l}");
        } else {
            let _ = writeln!(out, "{}{l}", " ".repeat(cont));
        }
    }
}

/// A paragraph indented by `indent` columns, continued two further in.
fn para(out: &mut String, indent: usize, text: &str, width: usize) {
    hang(out, &" ".repeat(indent), indent, indent + 2, text, width);
}

/// The image's header line (verdict, repository, digest, platform) and its severity counts.
fn counts(out: &mut String, report: &Report, img: &ImageReport, w: usize, paint: Paint) {
    let e = &img.evaluation;
    let word = e.verdict.as_str().to_uppercase();
    let verdict = match e.verdict {
        Verdict::Pass => paint("32", &word),
        Verdict::Fail => paint("31", &word),
    };
    let uri = t(&img.image.repository_uri());
    let digest = t(&img.image.digest);
    let lead = cols(&word) + 1;
    if lead + cols(&uri) + 2 + cols(&digest) <= w {
        let _ = writeln!(out, "{verdict} {uri}  {digest}");
    } else {
        hang(out, &format!("{verdict} "), lead, lead, &uri, w);
        hang(out, &" ".repeat(lead), lead, lead, &digest, w);
    }
    if let Some(p) = &img.image.platform {
        hang(out, "     platform ", 14, 5, &t(p), w);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<14} {:>7} {:>7} {:>7}",
        "SEVERITY", "COUNTED", "TOTAL", "MAX"
    );
    for s in Severity::ALL {
        let max = report
            .policy
            .max
            .get(&s)
            .map(|m| m.to_string())
            .unwrap_or_else(|| "-".into());
        // Counts only, for a severity the source did not split out: not claimed to be 0.
        let unsplit = e
            .counts_only
            .as_ref()
            .is_some_and(|c| c.unsplit.contains(&s));
        let (counted, total) = if unsplit {
            ("–".to_string(), "–".to_string())
        } else {
            (
                e.counted(s).to_string(),
                e.total.get(&s).copied().unwrap_or(0).to_string(),
            )
        };
        let line = format!(
            "  {:<14} {:>7} {:>7} {:>7}",
            s.as_str(),
            counted,
            total,
            max
        );
        let over = e.violations.iter().any(|v| v.severity == s);
        let _ = writeln!(out, "{}", if over { paint("31", &line) } else { line });
    }
    if let Some(line) = e.counts_only.as_ref().map(super::counts_only_line) {
        let _ = writeln!(out);
        para(out, 2, &t(&line), w);
    }
}

/// The fix plan: the fewest upgrades after which the image passes, or why none does. Wrapped,
/// never cut: this is where the whole versions to upgrade to are read.
fn to_pass(out: &mut String, img: &ImageReport, w: usize) {
    let Some(plan) = img.fix_plan.as_ref().filter(|p| !p.is_empty()) else {
        return;
    };
    let _ = writeln!(out, "\n  To pass:");
    for line in plan.lines(MAX_ROWS) {
        hang(out, "    ", 4, 6, &t(&line), w);
    }
}

/// One finding row's cells, sanitized, before layout.
struct Row {
    violation: bool,
    id: String,
    severity: Severity,
    epss: String,
    exploit: &'static str,
    kind: String,
    package: String,
    installed: String,
    fixed: String,
    suppressed: bool,
}

/// Ids longer than this (none Inspector writes) are cut in the middle.
const MAX_ID_COLS: usize = 20;

/// The column widths of the finding rows and the gap between them: each column as wide as its
/// widest cell (or heading), two spaces apart when that fits; when the row is wider than
/// `width`, one space apart, and the widest of package, installed and fixed gives a column at
/// a time, down to its heading's width, then to three.
fn column_widths(rows: &[Row], width: usize) -> ([usize; 8], usize) {
    let widest = |head: &str, cell: &dyn Fn(&Row) -> usize| {
        rows.iter().map(cell).fold(cols(head), usize::max)
    };
    let mut c = [
        widest("ID", &|r| cols(&r.id)).min(MAX_ID_COLS),
        widest("SEVERITY", &|r| cols(r.severity.as_str())),
        widest("EPSS", &|r| cols(&r.epss)),
        widest("EXPLOIT", &|r| cols(r.exploit)),
        widest("TYPE", &|r| cols(&r.kind)),
        widest("PACKAGE", &|r| cols(&r.package)),
        widest("INSTALLED", &|r| cols(&r.installed)),
        widest("FIXED", &|r| cols(&r.fixed)),
    ];
    // "! " + six gaps + " → ".
    let total = |c: &[usize; 8], gap: usize| 2 + c.iter().sum::<usize>() + 6 * gap + 3;
    if total(&c, 2) <= width {
        return (c, 2);
    }
    for floor in [[7, 9, 5], [3, 3, 3]] {
        while total(&c, 1) > width {
            let Some(i) = (5..8)
                .filter(|&i| c[i] > floor[i - 5])
                .max_by_key(|&i| (c[i], i))
            else {
                break;
            };
            c[i] -= 1;
        }
    }
    (c, 1)
}

/// The findings that count, at most [`MAX_ROWS`], violations marked `!`.
fn counted_rows(out: &mut String, img: &ImageReport, layout: &Layout, paint: Paint) {
    let e = &img.evaluation;
    let counted: Vec<_> = e
        .findings
        .iter()
        .filter(|j| matches!(j.disposition, Disposition::Counted { .. }))
        .collect();
    if counted.is_empty() {
        return;
    }
    let os = crate::fixplan::os_scheme(e);
    let rows: Vec<Row> = counted
        .iter()
        .take(MAX_ROWS)
        .map(|j| {
            let f = &j.finding;
            let (kind, package, installed, fixed) = match f.first_package() {
                Some(p) => (
                    t(&crate::fixplan::package_type(p, os)),
                    t(&p.name),
                    t(&p.installed().unwrap_or_else(|| "?".into())),
                    t(&crate::fixplan::fixed_shown(p).unwrap_or_else(|| "(no fix)".into())),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            Row {
                violation: matches!(j.disposition, Disposition::Counted { violation: true }),
                id: t(&f.id),
                severity: f.severity,
                epss: super::epss_percent(f),
                exploit: super::exploit_marker(f),
                kind,
                package,
                installed,
                fixed,
                suppressed: f.suppressed,
            }
        })
        .collect();
    let w = layout.width();
    let (c, gap) = column_widths(&rows, w);
    let cell = |s: &str, i: usize| pad(&cut_middle(s, c[i]), c[i]);
    let row = |mark: &str, cells: [String; 7], fixed: &str| {
        format!(
            "{mark} {} → {}",
            cells.join(&" ".repeat(gap)),
            cut_middle(fixed, c[7])
        )
    };
    let _ = writeln!(out);
    let head = [
        cell("ID", 0),
        cell("SEVERITY", 1),
        pad_left("EPSS", c[2]),
        cell("EXPLOIT", 3),
        cell("TYPE", 4),
        cell("PACKAGE", 5),
        cell("INSTALLED", 6),
    ];
    let _ = writeln!(out, "{}", row(" ", head, "FIXED"));
    for r in &rows {
        let sev = r.severity.as_str();
        let sev = match severity_code(r.severity) {
            Some(code) => format!("{}{}", paint(code, sev), " ".repeat(c[1] - cols(sev))),
            None => pad(sev, c[1]),
        };
        let cells = [
            cell(&r.id, 0),
            sev,
            pad_left(&r.epss, c[2]),
            cell(r.exploit, 3),
            cell(&r.kind, 4),
            cell(&r.package, 5),
            cell(&r.installed, 6),
        ];
        let mark = if r.violation { "!" } else { " " };
        let _ = writeln!(out, "{}", row(mark, cells, &r.fixed));
        if r.suppressed {
            let _ = writeln!(out, "    (suppressed in Inspector)");
        }
    }
    if counted.len() > MAX_ROWS {
        let line = format!(
            "… and {} more ({})",
            counted.len() - MAX_ROWS,
            layout.see_all()
        );
        para(out, 2, &line, w);
    }
}

/// Every file the local scan did not read (all of them: a gap is never summarised away).
fn not_read(out: &mut String, report: &Report, img: &ImageReport, w: usize, paint: Paint) {
    let Some(line) = super::unread_line(img, &report.policy) else {
        return;
    };
    let _ = writeln!(out);
    hang(
        out,
        &format!("  {} ", paint("33", "not read:")),
        12,
        4,
        &t(&line),
        w,
    );
    for u in &img.unread {
        para(out, 4, &format!("{}: {}", t(&u.path), t(&u.reason)), w);
    }
}

/// Ignored and filtered findings, the baseline comparison and the violations.
fn the_rest(out: &mut String, img: &ImageReport, layout: &Layout, paint: Paint) {
    let w = layout.width();
    let e = &img.evaluation;
    let ignored: Vec<_> = e.ignored().take(MAX_ROWS).collect();
    if !ignored.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "  ignored:");
        let id_w = ignored
            .iter()
            .map(|j| cols(&t(&j.finding.id)).min(MAX_ID_COLS))
            .max()
            .unwrap_or(0);
        let sev_w = ignored
            .iter()
            .map(|j| cols(j.finding.severity.as_str()))
            .max()
            .unwrap_or(0);
        for j in &ignored {
            if let Disposition::Ignored { reason, expires } = &j.disposition {
                let exp = expires.map(|d| format!(" (until {d})")).unwrap_or_default();
                let prefix = format!(
                    "    {} {} ",
                    pad(&cut_middle(&t(&j.finding.id), id_w), id_w),
                    pad(j.finding.severity.as_str(), sev_w)
                );
                let lead = cols(&prefix);
                let cont = if lead <= w / 2 { lead } else { 6 };
                hang(out, &prefix, lead, cont, &format!("{}{exp}", t(reason)), w);
            }
        }
    }
    let filtered = e
        .findings
        .iter()
        .filter(|j| matches!(j.disposition, Disposition::Filtered { .. }))
        .count();
    if filtered > 0 {
        let _ = writeln!(out);
        let line = format!(
            "{filtered} finding(s) not counted because of filters ({})",
            layout.see_all()
        );
        para(out, 2, &line, w);
    }
    let honored: Vec<_> = e
        .findings
        .iter()
        .filter(|j| j.disposition == Disposition::Suppressed)
        .collect();
    if !honored.is_empty() {
        let _ = writeln!(out);
        para(
            out,
            2,
            "suppressed in Inspector, not counted (policy suppressed = \"honor\"):",
            w,
        );
        for j in honored.iter().take(MAX_ROWS) {
            let line = format!("{:<19} {}", t(&j.finding.id), j.finding.severity.as_str());
            para(out, 4, &line, w);
        }
        if honored.len() > MAX_ROWS {
            let _ = writeln!(out, "    … and {} more", honored.len() - MAX_ROWS);
        }
    }
    if let Some(line) = super::suppressed_line(e) {
        let _ = writeln!(out);
        para(out, 2, &t(&line), w);
    }
    if let Some(b) = &e.baseline {
        let digest = b
            .digest
            .as_deref()
            .map(|d| format!(" {}", t(d)))
            .unwrap_or_default();
        let _ = writeln!(out);
        let line = format!("baseline {}{digest}: {}", t(&b.source), b.summary());
        para(out, 2, &line, w);
        for f in b.fixed.iter().take(MAX_ROWS) {
            let line = format!("fixed {:<19} {}", t(&f.id), f.severity.as_str());
            para(out, 4, &line, w);
        }
        if b.fixed.len() > MAX_ROWS {
            let _ = writeln!(out, "    … and {} more fixed", b.fixed.len() - MAX_ROWS);
        }
    }
    for v in &e.violations {
        let _ = writeln!(out);
        let line = format!(
            "{} {} finding(s) counted, max allowed {}",
            v.count, v.severity, v.max
        );
        hang(
            out,
            &format!("  {} ", paint("31", "violation:")),
            13,
            4,
            &line,
            w,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{cols, cut_middle, render, wrap, Layout};
    use crate::report::testing;

    #[test]
    fn cut_middle_keeps_head_and_tail_in_the_width() {
        assert_eq!(cut_middle("1:1.3.0-1~deb12u1", 17), "1:1.3.0-1~deb12u1");
        assert_eq!(cut_middle("1:1.3.0-1~deb12u1", 11), "1:1.3.0…2u1");
        assert_eq!(cut_middle("2.36-9+deb12u3", 9), "2.36-9…u3");
        assert_eq!(cols(&cut_middle("1:1.3.0-1~deb12u1", 11)), 11);
        assert_eq!(cut_middle("abc", 1), "…");
        // Wide characters count two columns, and are never split.
        let cut = cut_middle("日本語のパッケージ名", 9);
        assert!(cols(&cut) <= 9, "{cut}");
        assert!(cut.starts_with("日本") && cut.contains('…'), "{cut}");
    }

    #[test]
    fn wrap_loses_nothing_and_splits_only_words_wider_than_a_line() {
        let text = "upgrade openssl 1.0.0-1~deb12u1 → 1.0.1-1~deb12u1 (fixes 1 CRITICAL) in /a/very/long/path/that/does/not/fit/anywhere/at/all";
        let lines = wrap(text, 30, 26);
        assert!(cols(&lines[0]) <= 30);
        assert!(lines[1..].iter().all(|l| cols(l) <= 26), "{lines:?}");
        let words: Vec<&str> = text.split(' ').collect();
        // Every word is there, in order (the long path split across lines, not cut).
        assert_eq!(lines.concat().replace(' ', ""), words.concat());
        assert_eq!(lines[0], "upgrade openssl");
    }

    fn every_fixture() -> Vec<(&'static str, crate::report::Report)> {
        vec![
            ("0", testing::report(0)),
            ("1", testing::report(1)),
            ("10000", testing::report(10_000)),
            ("mixed", testing::mixed()),
            ("event", testing::event()),
            ("compared", testing::compared()),
        ]
    }

    #[test]
    fn no_wrapped_line_starts_a_workflow_command() {
        let text = "x ::warning::forged a::b::warning::forged-too-long-to-fit-on-one-line";
        for room in 2..40 {
            for l in wrap(text, room, room) {
                assert!(!l.starts_with("::"), "{room}: {l:?}");
            }
        }
    }

    #[test]
    fn every_line_fits_the_width() {
        for width in [72, 80, 100, 200] {
            for (name, r) in every_fixture() {
                let text = render(&r, &Layout::plain(width));
                for l in text.lines() {
                    assert!(
                        cols(l) <= width,
                        "{name} at {width}: {} columns: {l}",
                        cols(l)
                    );
                }
            }
        }
    }

    #[test]
    fn at_200_columns_nothing_is_cut() {
        for (name, r) in every_fixture() {
            let text = render(&r, &Layout::plain(200));
            assert!(!text.contains('…') || name == "10000", "{name}:\n{text}");
        }
        let text = render(&testing::mixed(), &Layout::plain(200));
        assert!(
            text.contains("1:1.3.0-1~deb12u1 → 1:1.3.1-1~deb12u1"),
            "{text}"
        );
        // At 80 the same row is cut in the middle, and the plan above it keeps it whole.
        let text = render(&testing::mixed(), &Layout::plain(80));
        let row = text.lines().find(|l| l.contains("CVE-2026-10003")).unwrap();
        assert!(row.contains('…'), "{row}");
        assert!(
            text.contains("openssl 1.0.0-1~deb12u1 → 1.0.1-1~deb12u1"),
            "{text}"
        );
    }

    #[test]
    fn colour_only_when_asked_and_the_severity_cell_coloured() {
        let r = testing::mixed();
        let plain = render(&r, &Layout::plain(80));
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = render(
            &r,
            &Layout {
                color: true,
                ..Layout::plain(80)
            },
        );
        let row = coloured
            .lines()
            .find(|l| l.contains("CVE-2026-10000"))
            .unwrap();
        assert!(row.contains("\x1b[1;31mCRITICAL\x1b[0m"), "{row:?}");
        let row = coloured
            .lines()
            .find(|l| l.contains("CVE-2026-10003"))
            .unwrap();
        assert!(row.contains("\x1b[33mMEDIUM\x1b[0m"), "{row:?}");
        // The colour codes take no columns: with them stripped, the same table.
        let stripped = regex_lite::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&coloured, "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn report_json_is_named_only_when_it_was_written() {
        let r = testing::report(10_000);
        let without = render(&r, &Layout::plain(80));
        assert!(!without.contains("report.json"), "{without}");
        assert!(without.contains("(--format json or --report-dir lists them all)"));
        let with = render(
            &r,
            &Layout {
                report_json: Some("reports/report.json".into()),
                ..Layout::plain(80)
            },
        );
        assert!(with.contains("more (see reports/report.json)"), "{with}");
        assert!(
            with.contains("because of filters (see reports/report.json)"),
            "{with}"
        );
    }
}
