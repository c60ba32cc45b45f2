//! `junit.xml`: the report as Ant/Jenkins-style JUnit XML, the format CodeBuild report groups,
//! Buildkite Test Engine and most CI dashboards read. One testsuite per gated image, one
//! testcase per finding (failing when it counts towards a violated threshold, skipped when
//! ignored, filtered, inherited or suppressed in Inspector with `suppressed = "honor"`), and a
//! `policy` testcase that fails exactly when the image's verdict does and says what to do to
//! pass (the fix plan).

use super::{ImageReport, Report};
use crate::model::Finding;
use crate::policy::eval::{Disposition, Judged, Verdict};
use std::fmt::Write;

pub fn render(report: &Report) -> String {
    let mut suites: Vec<Suite> = report.images.iter().map(|img| suite(report, img)).collect();
    if !report.not_evaluated.is_empty() {
        suites.push(not_evaluated_suite(report));
    }
    let tests: usize = suites.iter().map(|s| s.tests).sum();
    let failures: usize = suites.iter().map(|s| s.failures).sum();
    let skipped: usize = suites.iter().map(|s| s.skipped).sum();
    // Images are waited for concurrently: the run took as long as the longest wait.
    let time = report
        .images
        .iter()
        .map(|i| i.scan.waited_seconds)
        .fold(0.0, f64::max);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        attr(&report.tool.name),
        seconds(time)
    );
    for s in &suites {
        out.push_str(&s.xml);
    }
    out.push_str("</testsuites>\n");
    out
}

/// Images `--on-timeout pass` let through unevaluated: one skipped test each, so a dashboard
/// shows them instead of a clean pass.
fn not_evaluated_suite(report: &Report) -> Suite {
    let mut xml = String::new();
    let n = report.not_evaluated.len();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"not evaluated\" tests=\"{n}\" failures=\"0\" errors=\"0\" skipped=\"{n}\" time=\"0\" timestamp=\"{}\">",
        attr(&junit_timestamp(&report.generated_at))
    );
    for (i, ne) in report.not_evaluated.iter().enumerate() {
        let _ = writeln!(
            xml,
            "    <testcase classname=\"inspector-gate.not-evaluated\" name=\"image {}\" time=\"0\">\n      <skipped message=\"{}\"/>\n    </testcase>",
            i + 1,
            attr(&ne.reason)
        );
    }
    xml.push_str("  </testsuite>\n");
    Suite {
        tests: n,
        failures: 0,
        skipped: n,
        xml,
    }
}

struct Suite {
    tests: usize,
    failures: usize,
    skipped: usize,
    xml: String,
}

fn suite(report: &Report, img: &ImageReport) -> Suite {
    let e = &img.evaluation;
    let mut name = format!("{}@{}", img.image.repository, img.image.digest);
    if let Some(p) = &img.image.platform {
        let _ = write!(name, " ({p})");
    }
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for j in &e.findings {
        match &j.disposition {
            Disposition::Counted { violation: true } => failures += 1,
            Disposition::Ignored { .. }
            | Disposition::Filtered { .. }
            | Disposition::Inherited
            | Disposition::Suppressed => skipped += 1,
            Disposition::Counted { violation: false } => {}
        }
        testcase(&mut cases, img, j);
    }
    if e.verdict == Verdict::Fail {
        failures += 1;
    }
    policy_case(&mut cases, report, img);
    let tests = e.findings.len() + 1;

    let mut xml = String::new();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\">",
        attr(&name),
        seconds(img.scan.waited_seconds),
        attr(&junit_timestamp(&report.generated_at)),
        // The registry is the "host" whose content was tested.
        attr(img.image.repository_uri().split('/').next().unwrap_or_default()),
    );
    xml.push_str("    <properties>\n");
    let mut props: Vec<(&str, String)> = vec![
        ("repository", img.image.repository_uri()),
        ("digest", img.image.digest.clone()),
        ("requested", img.image.requested.clone()),
        ("verdict", e.verdict.as_str().into()),
    ];
    if let Some(p) = &img.image.platform {
        props.push(("platform", p.clone()));
    }
    if let Some(i) = &img.image.index_digest {
        props.push(("index-digest", i.clone()));
    }
    if let Some(s) = &img.scan.status {
        props.push(("scan-status", s.clone()));
    }
    for (k, v) in props {
        let _ = writeln!(xml, "      <property name=\"{k}\" value=\"{}\"/>", attr(&v));
    }
    xml.push_str("    </properties>\n");
    xml.push_str(&cases);
    let mut err_lines = e.warnings.clone();
    if let Some(line) = super::unread_line(img, &report.policy) {
        err_lines.push(line);
        err_lines.extend(img.unread.iter().map(|u| format!("not read: {u}")));
    }
    if !err_lines.is_empty() {
        let _ = writeln!(
            xml,
            "    <system-err>{}</system-err>",
            text(&err_lines.join("\n"))
        );
    }
    xml.push_str("  </testsuite>\n");
    Suite {
        tests,
        failures,
        skipped,
        xml,
    }
}

fn testcase(out: &mut String, img: &ImageReport, j: &Judged) {
    let f = &j.finding;
    let pkgs: Vec<&str> = f.packages.iter().map(|p| p.name.as_str()).collect();
    let name = if pkgs.is_empty() {
        f.id.clone()
    } else {
        format!("{} {}", f.id, pkgs.join(","))
    };
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
        f.severity.as_str(),
        attr(&name)
    );
    match &j.disposition {
        Disposition::Counted { violation: false } if f.suppressed => {
            let _ = writeln!(
                out,
                "{open}>\n      <system-out>{SUPPRESSED_COUNTED}</system-out>\n    </testcase>"
            );
        }
        Disposition::Counted { violation: false } => {
            let _ = writeln!(out, "{open}/>");
        }
        Disposition::Counted { violation: true } => {
            let max = img
                .evaluation
                .violations
                .iter()
                .find(|v| v.severity == f.severity)
                .map(|v| {
                    format!(
                        "{} {} finding(s) counted, at most {} allowed",
                        v.count, v.severity, v.max
                    )
                })
                .unwrap_or_else(|| "threshold exceeded".into());
            let hidden = if f.suppressed {
                format!("; {SUPPRESSED_COUNTED}")
            } else {
                String::new()
            };
            let message = format!(
                "{} {} in {}: {max}{hidden}",
                f.severity,
                f.id,
                package_versions(f)
            );
            let _ = writeln!(
                out,
                "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                attr(&message),
                f.severity.as_str(),
                text(&details(f, img))
            );
        }
        Disposition::Ignored { reason, expires } => {
            let until = expires.map(|d| format!(" (until {d})")).unwrap_or_default();
            let message = format!("ignored: {reason}{until}");
            let _ = writeln!(
                out,
                "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(&message)
            );
        }
        Disposition::Filtered { filter } => {
            let message = format!("filtered: {filter}");
            let _ = writeln!(
                out,
                "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(&message)
            );
        }
        Disposition::Inherited => {
            let _ = writeln!(
                out,
                "{open}>\n      <skipped message=\"inherited: already in the baseline image\"/>\n    </testcase>"
            );
        }
        Disposition::Suppressed => {
            let _ = writeln!(
                out,
                "{open}>\n      <skipped message=\"suppressed in Inspector (not counted: policy suppressed = &quot;honor&quot;)\"/>\n    </testcase>"
            );
        }
    }
}

/// How a finding that a suppression rule hides, but the policy counts, is labelled.
const SUPPRESSED_COUNTED: &str = "suppressed in Inspector, counted: policy suppressed = count";

fn policy_case(out: &mut String, report: &Report, img: &ImageReport) {
    let e = &img.evaluation;
    let open = "    <testcase classname=\"inspector-gate\" name=\"policy\" time=\"0\"";
    // What the verdict was decided on, beyond the findings listed: a baseline, or counts only.
    let vs_baseline = e
        .baseline
        .as_ref()
        .map(|b| format!("against baseline {}: {}", b.source, b.summary()))
        .or_else(|| e.counts_only.as_ref().map(super::counts_only_line));
    if e.verdict == Verdict::Pass {
        match &vs_baseline {
            Some(line) => {
                let _ = writeln!(
                    out,
                    "{open}>\n      <system-out>{}</system-out>\n    </testcase>",
                    text(line)
                );
            }
            None => {
                let _ = writeln!(out, "{open}/>");
            }
        }
        return;
    }
    let mut lines: Vec<String> = e
        .violations
        .iter()
        .map(|v| {
            format!(
                "{} {} finding(s) counted, at most {} allowed",
                v.count, v.severity, v.max
            )
        })
        .collect();
    let message = if lines.is_empty() {
        // Failed without a threshold breach: an ignore rule that matched nothing, in fail mode.
        "policy failed".to_string()
    } else {
        format!("policy violated: {}", lines.join("; "))
    };
    if let Some(plan) = img.fix_plan.as_ref().filter(|p| !p.is_empty()) {
        lines.push("to pass:".into());
        lines.extend(plan.lines(usize::MAX).into_iter().map(|l| format!("  {l}")));
    }
    lines.extend(vs_baseline);
    lines.extend(e.warnings.iter().map(|w| format!("warning: {w}")));
    let maxes: Vec<String> = report
        .policy
        .max
        .iter()
        .map(|(s, m)| format!("{s} ≤ {m}"))
        .collect();
    if !maxes.is_empty() {
        lines.push(format!("thresholds: {}", maxes.join(", ")));
    }
    let _ = writeln!(
        out,
        "{open}>\n      <failure message=\"{}\" type=\"policy\">{}</failure>\n    </testcase>",
        attr(&message),
        text(&lines.join("\n"))
    );
}

fn package_versions(f: &Finding) -> String {
    if f.packages.is_empty() {
        return "unknown package".into();
    }
    f.packages
        .iter()
        .map(|p| {
            let installed = p.installed().unwrap_or_else(|| "?".into());
            match crate::fixplan::fixed_shown(p) {
                Some(fix) => format!("{} {installed} (fixed in {fix})", p.name),
                None => format!("{} {installed} (no fix)", p.name),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn details(f: &Finding, img: &ImageReport) -> String {
    let mut s = format!(
        "{}\nimage: {}@{}",
        f.title,
        img.image.repository_uri(),
        img.image.digest
    );
    if let Some(p) = &img.image.platform {
        let _ = write!(s, " ({p})");
    }
    let _ = write!(s, "\npackages: {}", package_versions(f));
    // The plan's upgrades that fix this finding.
    if let Some(plan) = &img.fix_plan {
        for step in plan
            .steps
            .iter()
            .filter(|st| f.packages.iter().any(|p| st.covers(p)))
        {
            let _ = write!(s, "\nto pass: {}", step.line());
        }
    }
    if let Some(score) = f.inspector_score {
        let _ = write!(s, "\ninspector score: {score}");
    }
    if let Some(d) = &f.description {
        let _ = write!(s, "\n\n{d}");
    }
    if let Some(r) = &f.remediation {
        let _ = write!(s, "\n\nremediation: {r}");
    }
    if let Some(u) = &f.source_url {
        let _ = write!(s, "\n\n{u}");
    }
    s
}

fn seconds(s: f64) -> String {
    format!("{:.3}", if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

/// The Ant/Jenkins schema types `timestamp` as a local date-time without zone
/// (`2026-11-22T10:00:00`); our RFC 3339 UTC time is cut to that form.
fn junit_timestamp(rfc3339: &str) -> String {
    let head: String = rfc3339.chars().take(19).collect();
    let ok = head.len() == 19
        && head.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
    if ok {
        head
    } else {
        "1970-01-01T00:00:00".into()
    }
}

/// Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE/U+FFFF) are written as
/// a visible `\u{..}` escape instead, so a finding's text can never make the file unparseable.
fn push_escaped(out: &mut String, s: &str, in_attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&apos;"),
            // Attribute-value normalisation would turn raw whitespace into spaces.
            '\n' if in_attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Escape for an attribute value (inside double quotes).
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s, true);
    out
}

/// Escape for element content.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            attr("a<b>&\"c'\n\r\t"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;&#13;&#9;"
        );
        assert_eq!(
            text("x\u{1b}[0m\u{0}\ty\n]]>"),
            "x\\u{1b}[0m\\u{0}\ty\n]]&gt;"
        );
        assert_eq!(text("\u{FFFF}é"), "\\u{ffff}é");
    }

    #[test]
    fn counts_cases_failures_and_skips() {
        let xml = render(&testing::mixed());
        // Per image: 5 findings + policy; failures: the violating findings (3 on amd64,
        // 2 on arm64) + policy; skipped: the ignored one, and on arm64 a filtered one.
        assert!(xml.contains("<testsuites name=\"inspector-gate\" tests=\"12\" failures=\"7\" errors=\"0\" skipped=\"3\""), "{xml}");
        assert!(xml.contains("tests=\"6\" failures=\"4\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("tests=\"6\" failures=\"3\" errors=\"0\" skipped=\"2\""));
        assert!(xml.contains("<skipped message=\"ignored: not reachable: the TLS server code is not used (until 2027-01-31)\"/>"));
        assert!(xml.contains("<skipped message=\"filtered: unfixed\"/>"));
        assert!(xml.contains("name=\"app/web@sha256:"));
        assert!(xml.contains(" (linux/arm64)\""));
        assert!(xml.contains("classname=\"HIGH\" name=\"GHSA-xvch-5gv4-984h pkg|pipe&lt;x&gt;\""));
    }

    #[test]
    fn empty_image_yields_one_passing_policy_case() {
        let xml = render(&testing::report(0));
        assert!(
            xml.contains("tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("<testcase classname=\"inspector-gate\" name=\"policy\" time=\"0\"/>"));
    }

    #[test]
    fn policy_case_fails_with_the_violations() {
        let xml = render(&testing::report(1));
        assert!(xml.contains(
            "<failure message=\"policy violated: 1 CRITICAL finding(s) counted, at most 0 allowed\" type=\"policy\">"
        ), "{xml}");
    }

    #[test]
    fn timestamps_drop_the_zone() {
        assert_eq!(
            junit_timestamp("2026-11-22T10:00:00Z"),
            "2026-11-22T10:00:00"
        );
        assert_eq!(
            junit_timestamp("2026-11-22T10:00:00.123+00:00"),
            "2026-11-22T10:00:00"
        );
        assert_eq!(junit_timestamp("garbage"), "1970-01-01T00:00:00");
    }
}
