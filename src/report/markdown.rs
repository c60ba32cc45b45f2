//! `summary.md`: the report as Markdown for `$GITHUB_STEP_SUMMARY` and Buildkite annotations.
//! A verdict headline, then per image a counts table, what to do to pass (the fix plan), the
//! top violations with EPSS, exploit, package type, whole installed and fixed-in versions, the
//! ignored findings with reason and expiry, and every finding in a collapsed `<details>`. Both consumers cap a body at 1 MiB, so the details table is cut to fit and
//! says how many rows it left out.

use super::{ImageReport, Report};
use crate::model::{Finding, Severity};
use crate::policy::eval::{Disposition, Evaluation, Judged, Verdict};
use std::fmt::Write;

/// GitHub's step summary and Buildkite's annotation body limit (1 MiB).
pub const MAX_BYTES: usize = 1_048_576;
/// Violations listed per image before the collapsed details.
pub const MAX_TOP_VIOLATIONS: usize = 20;
/// Ignored findings listed per image before the collapsed details.
pub const MAX_IGNORED: usize = 50;
/// Longest cell text, in characters; long descriptions belong in report.json.
const MAX_CELL: usize = 160;
/// Room kept for the per-image "rows omitted" line and closing tags.
const DETAILS_RESERVE: usize = 512;

pub fn render(report: &Report) -> String {
    render_within(report, MAX_BYTES)
}

/// Render so that the whole text is at most `limit` bytes.
pub fn render_within(report: &Report, limit: usize) -> String {
    let head = headline(report);
    let bodies: Vec<String> = report
        .images
        .iter()
        .map(|img| image_body(report, img))
        .collect();
    let tail = footer(report);
    let fixed = head.len()
        + bodies.iter().map(String::len).sum::<usize>()
        + tail.len()
        + report.images.len() * DETAILS_RESERVE;

    let mut out = head;
    let mut remaining = limit.saturating_sub(fixed);
    let mut images_left = report.images.len();
    for (img, body) in report.images.iter().zip(&bodies) {
        out.push_str(body);
        // Share what is left equally among the images still to come; what one image does
        // not use passes on to the next.
        let budget = remaining / images_left.max(1);
        let details = details(img, budget);
        remaining = remaining.saturating_sub(details.len().saturating_sub(DETAILS_RESERVE));
        images_left -= 1;
        out.push_str(&details);
    }
    out.push_str(&tail);
    if out.len() > limit {
        // Only reachable with pathological inputs (thousands of images, a tiny limit):
        // cut hard rather than have the CI reject the whole summary.
        let note = "\n\n_… summary truncated to stay within the size limit; see report.json._\n";
        let mut cut = limit.saturating_sub(note.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(note);
    }
    out
}

fn headline(report: &Report) -> String {
    let mut s = String::new();
    let (icon, word) = match report.verdict {
        Verdict::Pass => ("✅", report.verdict.past_tense()),
        Verdict::Fail => ("❌", report.verdict.past_tense()),
    };
    let _ = writeln!(s, "## {icon} inspector-gate: {word}\n");
    let mut facts = vec![format!("{} image(s)", report.images.len())];
    let maxes: Vec<String> = report
        .policy
        .max
        .iter()
        .map(|(sev, m)| format!("{sev} ≤ {m}"))
        .collect();
    facts.push(if maxes.is_empty() {
        "no thresholds".into()
    } else {
        format!("thresholds {}", maxes.join(", "))
    });
    if report.policy.ignore_unfixed {
        facts.push("unfixed findings not counted".into());
    }
    if !report.policy.ignores.is_empty() {
        facts.push(format!("{} ignore rule(s)", report.policy.ignores.len()));
    }
    // Our own words and numbers only (no repository text): nothing to escape.
    let _ = writeln!(s, "{}\n", facts.join(" · "));
    if report.soft_fail && report.verdict == Verdict::Fail {
        let _ = writeln!(
            s,
            "- ⚠️ **Soft-fail:** the gate would have failed; the step passed because `--soft-fail` is on (nothing was approved or handed off)\n"
        );
    }
    for n in &report.not_evaluated {
        let _ = writeln!(s, "- ⚠️ **Not evaluated:** {}", cell(&n.reason));
    }
    if !report.not_evaluated.is_empty() {
        s.push('\n');
    }
    s
}

fn footer(report: &Report) -> String {
    format!(
        "<sub>{} {} · report schema v{} · {}</sub>\n",
        cell(&report.tool.name),
        cell(&report.tool.version),
        report.schema_version,
        cell(&report.generated_at)
    )
}

fn image_body(report: &Report, img: &ImageReport) -> String {
    let e = &img.evaluation;
    let mut s = String::new();
    let icon = match e.verdict {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
    };
    let platform = img
        .image
        .platform
        .as_deref()
        .map(|p| format!(" ({})", cell(p)))
        .unwrap_or_default();
    let _ = writeln!(s, "### {icon} {}{platform}\n", cell(&img.image.repository));
    let _ = writeln!(
        s,
        "`{}@{}`\n",
        code(&img.image.repository_uri()),
        code(&img.image.digest)
    );
    if let Some(b) = &e.baseline {
        let digest = b
            .digest
            .as_deref()
            .map(|d| format!(" (`{}`)", cell(d)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "Against baseline `{}`{digest}: {}.\n",
            cell(&b.source),
            cell(&b.summary())
        );
    }

    counts_table(&mut s, report, e);
    if let Some(line) = super::unread_line(img, &report.policy) {
        let _ = writeln!(s, "**Not read:** {}:\n", cell(&line));
        for u in &img.unread {
            let _ = writeln!(s, "- `{}`: {}", code(&u.path), cell(&u.reason));
        }
        s.push('\n');
    }
    to_pass(&mut s, img);
    top_violations(&mut s, e);
    ignored_table(&mut s, e);
    let filtered = e
        .findings
        .iter()
        .filter(|j| matches!(j.disposition, Disposition::Filtered { .. }))
        .count();
    if filtered > 0 {
        let _ = writeln!(s, "{filtered} finding(s) not counted because of filters.\n");
    }
    if let Some(line) = super::suppressed_line(e) {
        // Numbers and fixed words only: nothing to escape.
        let _ = writeln!(s, "{line}.\n");
    }
    s
}

/// Counted and total findings per severity against the maxima, then violations and warnings.
fn counts_table(s: &mut String, report: &Report, e: &Evaluation) {
    s.push_str("| Severity | Counted | Total | Max |\n|---|---:|---:|---:|\n");
    let unsplit = |sev| {
        e.counts_only
            .as_ref()
            .is_some_and(|c| c.unsplit.contains(&sev))
    };
    for sev in Severity::ALL {
        if unsplit(sev) {
            let max = report
                .policy
                .max
                .get(&sev)
                .map(|m| m.to_string())
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(s, "| {sev} | – | – | {max} |");
            continue;
        }
        let counted = e.counted(sev);
        let total = e.total.get(&sev).copied().unwrap_or(0);
        let max = report
            .policy
            .max
            .get(&sev)
            .map(|m| m.to_string())
            .unwrap_or_else(|| "–".into());
        let counted = if e.violations.iter().any(|v| v.severity == sev) {
            format!("**{counted}** ❌")
        } else {
            counted.to_string()
        };
        let _ = writeln!(s, "| {sev} | {counted} | {total} | {max} |");
    }
    s.push('\n');
    if let Some(c) = &e.counts_only {
        // Fixed words and numbers only: nothing to escape.
        let _ = writeln!(s, "{}.\n", super::counts_only_line(c));
    }

    for v in &e.violations {
        let _ = writeln!(
            s,
            "**Policy violated:** {} {} finding(s) counted, at most {} allowed.  ",
            v.count, v.severity, v.max
        );
    }
    if !e.violations.is_empty() {
        s.push('\n');
    }
    for w in &e.warnings {
        let _ = writeln!(s, "- ⚠️ {}", cell(w));
    }
    if !e.warnings.is_empty() {
        s.push('\n');
    }
}

/// The fix plan as a list: the fewest upgrades after which the image passes, or why none does.
fn to_pass(s: &mut String, img: &ImageReport) {
    let Some(plan) = img.fix_plan.as_ref().filter(|p| !p.is_empty()) else {
        return;
    };
    let _ = writeln!(s, "#### To pass\n");
    for line in plan.lines(MAX_TOP_VIOLATIONS) {
        let _ = writeln!(s, "- {}", crate::sanitize::markdown(&line));
    }
    s.push('\n');
}

/// The violating findings, most severe first, at most [`MAX_TOP_VIOLATIONS`].
fn top_violations(s: &mut String, e: &Evaluation) {
    let violating: Vec<&Judged> = e.violating().collect();
    if !violating.is_empty() {
        let _ = writeln!(s, "#### Top violations\n");
        s.push_str("| ID | Severity | Score | EPSS | Exploit | Type | Package | Installed | Fixed in |\n|---|---|---:|---:|---|---|---|---|---|\n");
        let os = crate::fixplan::os_scheme(e);
        for j in violating.iter().take(MAX_TOP_VIOLATIONS) {
            let f = &j.finding;
            let (pkg, installed, fixed) = package_cells(f);
            let kind = f
                .first_package()
                .map(|p| cell(&crate::fixplan::package_type(p, os)))
                .unwrap_or_else(|| "–".into());
            let score = f
                .inspector_score
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "–".into());
            // An exploited finding must not look like any other.
            let exploit = match super::exploit_marker(f) {
                "yes" => "⚠️ yes",
                other => other,
            };
            let _ = writeln!(
                s,
                "| {} | {} | {score} | {} | {exploit} | {kind} | {pkg} | {installed} | {fixed} |",
                id_cell(f),
                f.severity,
                super::epss_percent(f),
            );
        }
        if violating.len() > MAX_TOP_VIOLATIONS {
            let _ = writeln!(
                s,
                "\n_… and {} more violating finding(s) below._",
                violating.len() - MAX_TOP_VIOLATIONS
            );
        }
        s.push('\n');
    }
}

/// The ignored findings with their reasons and expiries, at most [`MAX_IGNORED`].
fn ignored_table(s: &mut String, e: &Evaluation) {
    let ignored: Vec<&Judged> = e.ignored().collect();
    if !ignored.is_empty() {
        let _ = writeln!(s, "#### Ignored ({})\n", ignored.len());
        s.push_str("| ID | Severity | Package | Reason | Expires |\n|---|---|---|---|---|\n");
        for j in ignored.iter().take(MAX_IGNORED) {
            if let Disposition::Ignored { reason, expires } = &j.disposition {
                let f = &j.finding;
                let (pkg, _, _) = package_cells(f);
                let exp = expires
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "never".into());
                let _ = writeln!(
                    s,
                    "| {} | {} | {pkg} | {} | {exp} |",
                    id_cell(f),
                    f.severity,
                    cell(reason)
                );
            }
        }
        if ignored.len() > MAX_IGNORED {
            let _ = writeln!(
                s,
                "\n_… and {} more ignored finding(s) below._",
                ignored.len() - MAX_IGNORED
            );
        }
        s.push('\n');
    }
}

/// The collapsed table of every finding, at most about `budget` bytes.
fn details(img: &ImageReport, budget: usize) -> String {
    let findings = &img.evaluation.findings;
    if findings.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<details><summary>All findings ({})</summary>\n\n",
        findings.len()
    );
    s.push_str(
        "| ID | Severity | Status | Package | Installed | Fixed in |\n|---|---|---|---|---|---|\n",
    );
    let mut shown = 0;
    for j in findings {
        let f = &j.finding;
        let (pkg, installed, fixed) = package_cells(f);
        let mut status = match &j.disposition {
            Disposition::Counted { violation: true } => "❌ violation".to_string(),
            Disposition::Counted { violation: false } => "counted".to_string(),
            Disposition::Ignored { .. } => "ignored".to_string(),
            Disposition::Filtered { filter } => format!("filtered ({})", cell(filter)),
            Disposition::Inherited => "inherited".to_string(),
            Disposition::Suppressed => "suppressed in Inspector (honored)".to_string(),
        };
        if f.suppressed && matches!(j.disposition, Disposition::Counted { .. }) {
            status.push_str(" (suppressed in Inspector)");
        }
        let row = format!(
            "| {} | {} | {status} | {pkg} | {installed} | {fixed} |\n",
            cell(&f.id),
            f.severity
        );
        if s.len() + row.len()
            > budget
                .saturating_add(DETAILS_RESERVE)
                .saturating_sub(DETAILS_RESERVE / 2)
        {
            break;
        }
        s.push_str(&row);
        shown += 1;
    }
    if shown < findings.len() {
        let _ = writeln!(
            s,
            "\n_… {} more finding(s) omitted to keep this summary under 1 MiB; report.json has them all._",
            findings.len() - shown
        );
    }
    s.push_str("\n</details>\n\n");
    s
}

fn package_cells(f: &Finding) -> (String, String, String) {
    let Some(first) = f.first_package() else {
        return ("–".into(), "–".into(), "–".into());
    };
    let mut name = cell(&first.name);
    if f.packages.len() > 1 {
        let _ = write!(name, " (+{})", f.packages.len() - 1);
    }
    let installed = first
        .installed()
        .map(|v| cell(&v))
        .unwrap_or_else(|| "?".into());
    let fixed = crate::fixplan::fixed_shown(first)
        .map(|v| cell(&v))
        .unwrap_or_else(|| "no fix".into());
    (name, installed, fixed)
}

/// Advisory databases a finding's `sourceUrl` may link to (the host or a subdomain of it).
/// Any other URL is untrusted text: the id is shown without a link.
const ADVISORY_HOSTS: [&str; 14] = [
    "nvd.nist.gov",
    "cve.org",
    "cve.mitre.org",
    "github.com",
    "osv.dev",
    "security-tracker.debian.org",
    "ubuntu.com",
    "access.redhat.com",
    "alas.aws.amazon.com",
    "security.alpinelinux.org",
    "suse.com",
    "oracle.com",
    "rockylinux.org",
    "almalinux.org",
];

/// The id, linked to its advisory when the URL is https to a known advisory database and
/// the link cannot break the table.
fn id_cell(f: &Finding) -> String {
    let id = cell(&f.id);
    match f.source_url.as_deref() {
        Some(u) if advisory_link(u) => format!("[{id}]({u})"),
        _ => id,
    }
}

fn advisory_link(u: &str) -> bool {
    let Some(rest) = u.strip_prefix("https://") else {
        return false;
    };
    if u.contains(|c: char| c.is_whitespace() || c.is_control() || "()|<>[]\\`\"'".contains(c)) {
        return false;
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.contains(['@', ':']) {
        return false;
    }
    let host = host.to_ascii_lowercase();
    ADVISORY_HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
}

/// Text safe inside a table cell: `sanitize::markdown` (no line breaks, pipes, raw HTML,
/// links or images), bounded length.
pub fn cell(s: &str) -> String {
    match s.char_indices().nth(MAX_CELL) {
        Some((i, _)) => format!("{}…", crate::sanitize::markdown(&s[..i])),
        None => crate::sanitize::markdown(s),
    }
}

/// Text inside a code span, where backslash escapes do not apply: one line, no backticks.
fn code(s: &str) -> String {
    crate::sanitize::text(s).replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn only_https_advisory_databases_are_linked() {
        for ok in [
            "https://nvd.nist.gov/vuln/detail/CVE-2024-1",
            "https://github.com/advisories/GHSA-aaaa-bbbb-cccc",
            "https://security-tracker.debian.org/tracker/CVE-2024-1",
        ] {
            assert!(advisory_link(ok), "{ok}");
        }
        for bad in [
            "http://nvd.nist.gov/vuln/detail/CVE-2024-1",
            "https://evil.example/CVE-2024-1",
            "https://nvd.nist.gov.evil.example/x",
            "https://nvd.nist.gov@evil.example/x",
            "https://evilnvd.nist.gov/x",
            "https://nvd.nist.gov/x)![img](https://evil.example/p.png",
            "javascript:alert(1)",
        ] {
            assert!(!advisory_link(bad), "{bad}");
        }
    }

    #[test]
    fn cells_escape_pipes_html_and_newlines() {
        assert_eq!(cell("a|b<c>&d\r\ne\\"), "a\\|b&lt;c&gt;&amp;d e\\\\");
        assert_eq!(cell("x\u{1b}[0m"), "x \\[0m");
        let long = "y".repeat(500);
        assert_eq!(cell(&long).chars().count(), MAX_CELL + 1);
    }

    #[test]
    fn ten_thousand_findings_stay_under_one_mebibyte() {
        let md = render(&testing::report(10_000));
        assert!(md.len() < MAX_BYTES, "{} bytes", md.len());
        assert!(md.trim_end().ends_with("</sub>"));
        assert!(md.contains("</details>"));
    }

    #[test]
    fn details_are_cut_to_fit_and_say_how_many_were_left_out() {
        let md = render(&testing::report(40_000));
        assert!(md.len() < MAX_BYTES, "{} bytes", md.len());
        assert!(
            md.len() > MAX_BYTES - 64 * 1024,
            "the budget should be used, got {} bytes",
            md.len()
        );
        assert!(md.contains(
            "more finding(s) omitted to keep this summary under 1 MiB; report.json has them all."
        ));
        assert!(md.trim_end().ends_with("</sub>"));
        assert!(md.contains("</details>"));
    }

    #[test]
    fn budget_is_shared_between_images() {
        let mut r = testing::report(10_000);
        let second = r.images[0].clone();
        r.images.push(second);
        let md = render(&r);
        assert!(md.len() < MAX_BYTES, "{} bytes", md.len());
        assert_eq!(md.matches("</details>").count(), 2);
    }

    #[test]
    fn tiny_limits_still_hold() {
        let md = render_within(&testing::report(10_000), 4096);
        assert!(md.len() <= 4096, "{} bytes", md.len());
    }

    #[test]
    fn shows_verdict_violations_fixes_and_ignores() {
        let md = render(&testing::mixed());
        assert!(md.starts_with("## ❌ inspector-gate: failed\n"));
        assert!(md.contains("| CRITICAL | **1** ❌ | 1 | 0 |"), "{md}");
        assert!(
            md.contains("**Policy violated:** 1 CRITICAL finding(s) counted, at most 0 allowed.")
        );
        // EPSS, an exploit marked, the package type, whole versions.
        assert!(md.contains("| [CVE-2026-10000](https://nvd.nist.gov/vuln/detail/CVE-2026-10000) | CRITICAL | 9.8 | 0.0% | ⚠️ yes | deb | openssl | 1.0.0-1\\~deb12u1 | 1.0.1-1\\~deb12u1 |"), "{md}");
        assert!(
            md.contains("| HIGH | 7.3 | 7.4% | no | npm | express | 1.2.0 | 1.2.1 |"),
            "{md}"
        );
        // The fix plan, before the violations.
        let plan = md.find("#### To pass\n\n- upgrade openssl 1.0.0-1\\~deb12u1 → 1.0.1-1\\~deb12u1 \\(fixes 1 CRITICAL\\)\n");
        assert!(
            plan.is_some() && plan < md.find("#### Top violations"),
            "{md}"
        );
        assert!(md.contains("| not reachable: the TLS server code is not used | 2027-01-31 |"));
        assert!(md.contains("pkg\\|pipe&lt;x&gt;"));
        assert!(!md.contains("<script>"));
    }

    #[test]
    fn clean_report_has_no_details() {
        let md = render(&testing::report(0));
        assert!(md.starts_with("## ✅ inspector-gate: passed\n"));
        assert!(!md.contains("<details>"));
    }
}
