//! The human table printed on stdout: per image, severity counts, what to do to pass (the fix
//! plan), then the findings that count (id, severity, EPSS, exploit, package type and name,
//! whole installed version → fixed), then ignored, filtered and (honoured) suppressed ones;
//! findings suppressed in Inspector are marked wherever they appear.

use super::{ImageReport, Report};
use crate::model::Severity;
use crate::policy::eval::{Disposition, Verdict};
use crate::sanitize::text as t;
use std::fmt::Write;

/// At most this many counted findings are listed per image; the rest are summarised.
pub const MAX_ROWS: usize = 50;

/// Colour a piece of text with an SGR code, or not.
type Paint<'a> = &'a dyn Fn(&str, &str) -> String;

pub fn render(report: &Report, color: bool) -> String {
    let mut out = String::new();
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    for img in &report.images {
        counts(&mut out, report, img, &paint);
        to_pass(&mut out, img);
        counted_rows(&mut out, img);
        the_rest(&mut out, img, &paint);
        not_read(&mut out, report, img, &paint);
        let _ = writeln!(out);
    }
    for n in &report.not_evaluated {
        let _ = writeln!(out, "{} {}", paint("33", "NOT EVALUATED"), t(&n.reason));
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

/// The image's header line (verdict, repository, digest, platform) and its severity counts.
fn counts(out: &mut String, report: &Report, img: &ImageReport, paint: Paint) {
    let e = &img.evaluation;
    let verdict = match e.verdict {
        Verdict::Pass => paint("32", &e.verdict.as_str().to_uppercase()),
        Verdict::Fail => paint("31", &e.verdict.as_str().to_uppercase()),
    };
    let _ = writeln!(
        out,
        "{verdict} {}  {}",
        t(&img.image.repository_uri()),
        t(&img.image.digest)
    );
    if let Some(p) = &img.image.platform {
        let _ = writeln!(out, "     platform {}", t(p));
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
        let _ = writeln!(out, "\n  {}", t(&line));
    }
}

/// The fix plan: the fewest upgrades after which the image passes, or why none does.
fn to_pass(out: &mut String, img: &ImageReport) {
    let Some(plan) = img.fix_plan.as_ref().filter(|p| !p.is_empty()) else {
        return;
    };
    let _ = writeln!(out, "\n  To pass:");
    for line in plan.lines(MAX_ROWS) {
        let _ = writeln!(out, "    {}", t(&line));
    }
}

/// The findings that count, at most [`MAX_ROWS`], violations marked `!`.
fn counted_rows(out: &mut String, img: &ImageReport) {
    let e = &img.evaluation;
    let counted: Vec<_> = e
        .findings
        .iter()
        .filter(|j| matches!(j.disposition, Disposition::Counted { .. }))
        .collect();
    if !counted.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<22} {:<13} {:>6} {:<7} {:<5} {:<24} INSTALLED → FIXED",
            "ID", "SEVERITY", "EPSS", "EXPLOIT", "TYPE", "PACKAGE"
        );
        let os = crate::fixplan::os_scheme(e);
        for j in counted.iter().take(MAX_ROWS) {
            let f = &j.finding;
            let (kind, pkg, ver, fix) = match f.first_package() {
                Some(p) => (
                    t(&crate::fixplan::package_type(p, os)),
                    t(&p.name),
                    t(&p.installed().unwrap_or_else(|| "?".into())),
                    t(&crate::fixplan::fixed_shown(p).unwrap_or_else(|| "(no fix)".into())),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            let mark = if matches!(j.disposition, Disposition::Counted { violation: true }) {
                "!"
            } else {
                " "
            };
            let hidden = if f.suppressed {
                "  (suppressed in Inspector)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{mark} {:<22} {:<13} {:>6} {:<7} {kind:<5} {pkg:<24} {ver} → {fix}{hidden}",
                t(&f.id),
                f.severity.as_str(),
                super::epss_percent(f),
                super::exploit_marker(f),
            );
        }
        if counted.len() > MAX_ROWS {
            let _ = writeln!(
                out,
                "  … and {} more (see report.json)",
                counted.len() - MAX_ROWS
            );
        }
    }
}

/// Ignored and filtered findings, the baseline comparison and the violations.
/// Every file the local scan did not read (all of them: a gap is never summarised away).
fn not_read(out: &mut String, report: &Report, img: &ImageReport, paint: Paint) {
    let Some(line) = super::unread_line(img, &report.policy) else {
        return;
    };
    let _ = writeln!(out, "\n  {} {}", paint("33", "not read:"), t(&line));
    for u in &img.unread {
        let _ = writeln!(out, "    {}: {}", t(&u.path), t(&u.reason));
    }
}

fn the_rest(out: &mut String, img: &ImageReport, paint: Paint) {
    let e = &img.evaluation;
    let ignored: Vec<_> = e.ignored().collect();
    if !ignored.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "  ignored:");
        for j in ignored.iter().take(MAX_ROWS) {
            if let Disposition::Ignored { reason, expires } = &j.disposition {
                let exp = expires.map(|d| format!(" (until {d})")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {:<22} {:<13} {}{exp}",
                    t(&j.finding.id),
                    j.finding.severity.as_str(),
                    t(reason)
                );
            }
        }
    }
    let filtered = e
        .findings
        .iter()
        .filter(|j| matches!(j.disposition, Disposition::Filtered { .. }))
        .count();
    if filtered > 0 {
        let _ = writeln!(
            out,
            "\n  {filtered} finding(s) not counted because of filters (see report.json)"
        );
    }
    let honored: Vec<_> = e
        .findings
        .iter()
        .filter(|j| j.disposition == Disposition::Suppressed)
        .collect();
    if !honored.is_empty() {
        let _ = writeln!(
            out,
            "\n  suppressed in Inspector, not counted (policy suppressed = \"honor\"):"
        );
        for j in honored.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "    {:<22} {}",
                t(&j.finding.id),
                j.finding.severity.as_str()
            );
        }
        if honored.len() > MAX_ROWS {
            let _ = writeln!(out, "    … and {} more", honored.len() - MAX_ROWS);
        }
    }
    if let Some(line) = super::suppressed_line(e) {
        let _ = writeln!(out, "\n  {}", t(&line));
    }
    if let Some(b) = &e.baseline {
        let digest = b
            .digest
            .as_deref()
            .map(|d| format!(" {d}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n  baseline {}{digest}: {}",
            t(&b.source),
            b.summary()
        );
        for f in b.fixed.iter().take(MAX_ROWS) {
            let _ = writeln!(out, "    fixed {:<22} {}", t(&f.id), f.severity.as_str());
        }
        if b.fixed.len() > MAX_ROWS {
            let _ = writeln!(out, "    … and {} more fixed", b.fixed.len() - MAX_ROWS);
        }
    }
    for v in &e.violations {
        let _ = writeln!(
            out,
            "\n  {} {} {} finding(s) counted, max allowed {}",
            paint("31", "violation:"),
            v.count,
            v.severity,
            v.max
        );
    }
}
