//! `report.sarif`: the report as SARIF 2.1.0 for GitHub code scanning. One run, one rule per
//! vulnerability id, one result per finding per image; the result's `level` says whether the
//! finding broke the policy, and ignored findings are carried as suppressed results so the
//! accepted risk stays visible (as are inherited ones, and findings suppressed in Inspector
//! when the policy honours that; counted ones say they are suppressed in Inspector). A result
//! whose packages have a known upgrade carries it as a `fix`.

use super::Report;
use crate::fixplan::{self, Step};
use crate::model::{Finding, Package, ScannedImage, Severity};
use crate::policy::eval::{Disposition, Judged, Violation};
use crate::version::Scheme;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// GitHub code scanning rejects a run with more results than this.
pub const MAX_RESULTS: usize = 25_000;

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where the driver's `informationUri` points: the package's repository when Cargo.toml
/// names one, else Amazon Inspector's ECR scanning guide (SARIF requires an absolute URI).
fn information_uri() -> &'static str {
    match (env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")) {
        (r, _) if !r.is_empty() => r,
        (_, h) if !h.is_empty() => h,
        _ => "https://docs.aws.amazon.com/inspector/latest/user/scanning-ecr.html",
    }
}

/// `security-severity` when Inspector gave no score: GitHub buckets ≥ 9 as critical,
/// ≥ 7 high, ≥ 4 medium, > 0 low.
pub fn default_security_severity(s: Severity) -> f64 {
    match s {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Informational | Severity::Untriaged => 0.0,
    }
}

fn security_severity(f: &Finding) -> f64 {
    f.inspector_score
        .filter(|s| s.is_finite())
        .map(|s| s.clamp(0.0, 10.0))
        .unwrap_or_else(|| default_security_severity(f.severity))
}

/// SARIF levels, in the order results are kept when a run must be truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    fn of(d: &Disposition) -> Level {
        match d {
            Disposition::Counted { violation: true } => Level::Error,
            Disposition::Counted { violation: false } => Level::Warning,
            Disposition::Ignored { .. }
            | Disposition::Filtered { .. }
            | Disposition::Inherited
            | Disposition::Suppressed => Level::Note,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// An image's package upgrades and how its OS packages are ordered.
type Upgrades = (Vec<Step>, Scheme);

pub fn render(report: &Report) -> String {
    // Keep the most important results when GitHub's per-run limit would be exceeded; a
    // stable sort keeps the report's own order (most severe first) within a level.
    // Each image's package upgrades, for the results' `fixes`.
    let upgrades: Vec<Upgrades> = report
        .images
        .iter()
        .map(|img| {
            (
                fixplan::upgrades(&img.evaluation),
                fixplan::os_scheme(&img.evaluation),
            )
        })
        .collect();
    let mut entries: Vec<(Level, &ScannedImage, &Judged, &Upgrades)> = report
        .images
        .iter()
        .zip(&upgrades)
        .flat_map(|(img, ups)| {
            img.evaluation
                .findings
                .iter()
                .map(move |j| (Level::of(&j.disposition), &img.image, j, ups))
        })
        .collect();
    let total = entries.len();
    if total > MAX_RESULTS {
        entries.sort_by_key(|(level, _, _, _)| *level);
        entries.truncate(MAX_RESULTS);
    }

    let mut rule_index: HashMap<&str, usize> = HashMap::new();
    let mut rule_sources: Vec<(&Finding, f64)> = Vec::new();
    for (_, _, j, _) in &entries {
        let f = &j.finding;
        let score = security_severity(f);
        match rule_index.get(f.id.as_str()) {
            Some(&i) => rule_sources[i].1 = rule_sources[i].1.max(score),
            None => {
                rule_index.insert(&f.id, rule_sources.len());
                rule_sources.push((f, score));
            }
        }
    }
    let rules: Vec<Value> = rule_sources
        .iter()
        .map(|(f, score)| rule(f, *score))
        .collect();

    let violations: HashMap<(&str, Severity), &Violation> = report
        .images
        .iter()
        .flat_map(|img| {
            img.evaluation
                .violations
                .iter()
                .map(move |v| ((img.image.digest.as_str(), v.severity), v))
        })
        .collect();
    let results: Vec<Value> = entries
        .iter()
        .map(|(level, image, j, ups)| {
            let violation = violations
                .get(&(image.digest.as_str(), j.finding.severity))
                .copied();
            let mut r = result(
                *level,
                image,
                j,
                rule_index[j.finding.id.as_str()],
                violation,
            );
            if let Some(fix) = fix(image, &j.finding, &ups.0, ups.1) {
                r["fixes"] = json!([fix]);
            }
            r
        })
        .collect();

    let mut run = json!({
        "tool": {
            "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "informationUri": information_uri(),
                "rules": rules,
            }
        },
        "results": results,
        "properties": {
            "verdict": report.verdict_word(),
            "generatedAt": report.generated_at,
        },
    });
    if total > MAX_RESULTS {
        run["properties"]["omittedResults"] = json!(total - MAX_RESULTS);
    }
    // SARIF's place for "the tool could not look at this": a warning notification each.
    let notes: Vec<Value> = report
        .not_evaluated
        .iter()
        .map(|n| format!("not evaluated: {}", n.reason))
        .chain(report.images.iter().flat_map(|img| {
            img.unread
                .iter()
                .map(move |u| format!("not read in {}: {u}", img.image.label()))
        }))
        .map(|text| json!({"level": "warning", "message": {"text": text}}))
        .collect();
    if !notes.is_empty() {
        run["invocations"] = json!([{
            "executionSuccessful": true,
            "toolExecutionNotifications": notes,
        }]);
    }
    let log = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [run],
    });
    serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".into()) + "\n"
}

fn rule(f: &Finding, score: f64) -> Value {
    let short = if f.title.trim().is_empty() {
        f.id.clone()
    } else {
        f.title.clone()
    };
    let full = f
        .description
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| short.clone());
    let mut help_text = full.clone();
    let mut help_md = format!("**{}**\n\n{}", md_inline(&short), md_inline(&full));
    if let Some(r) = f.remediation.as_deref().filter(|r| !r.trim().is_empty()) {
        help_text.push_str(&format!("\n\nRemediation: {r}"));
        help_md.push_str(&format!("\n\n**Remediation:** {}", md_inline(r)));
    }
    let mut rule = Map::new();
    rule.insert("id".into(), json!(f.id));
    rule.insert("name".into(), json!(rule_name(&f.id)));
    rule.insert("shortDescription".into(), json!({ "text": short }));
    rule.insert("fullDescription".into(), json!({ "text": full }));
    if let Some(url) = f.source_url.as_deref().filter(|u| is_absolute_uri(u)) {
        rule.insert("helpUri".into(), json!(url));
        help_text.push_str(&format!("\n\n{url}"));
        help_md.push_str(&format!("\n\n[{}]({url})", md_inline(&f.id)));
    }
    rule.insert(
        "help".into(),
        json!({ "text": help_text, "markdown": help_md }),
    );
    rule.insert(
        "properties".into(),
        json!({
            "security-severity": format!("{score:.1}"),
            "tags": ["security", "vulnerability", f.severity.as_str()],
        }),
    );
    Value::Object(rule)
}

fn result(
    level: Level,
    image: &ScannedImage,
    j: &Judged,
    rule_index: usize,
    violation: Option<&Violation>,
) -> Value {
    let f = &j.finding;
    let first_pkg = f.packages.first();
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.id));
    r.insert("ruleIndex".into(), json!(rule_index));
    r.insert("level".into(), json!(level.as_str()));
    r.insert(
        "message".into(),
        json!({ "text": message(image, j, violation) }),
    );
    let uri = artifact_uri(image, first_pkg);
    r.insert(
        "locations".into(),
        json!([{
            "physicalLocation": {
                "artifactLocation": { "uri": uri },
                "region": { "startLine": 1 },
            },
            "logicalLocations": [{
                "name": image.repository,
                "fullyQualifiedName": format!("{}@{}", image.repository_uri(), image.digest),
                "kind": "module",
            }],
        }]),
    );
    let pkg = first_pkg.map(|p| p.name.as_str()).unwrap_or("");
    r.insert(
        "partialFingerprints".into(),
        json!({ "inspectorGate/v1": fingerprint(&f.id, pkg, &image.repository) }),
    );
    if let Disposition::Ignored { reason, expires } = &j.disposition {
        let justification = match expires {
            Some(d) => format!("{reason} (until {d})"),
            None => reason.clone(),
        };
        r.insert(
            "suppressions".into(),
            json!([{ "kind": "external", "justification": justification }]),
        );
    }
    if j.disposition == Disposition::Inherited {
        r.insert(
            "suppressions".into(),
            json!([{ "kind": "external", "justification": "inherited: the baseline image already has this vulnerability in this package; the policy counts only new findings" }]),
        );
    }
    if j.disposition == Disposition::Suppressed {
        r.insert(
            "suppressions".into(),
            json!([{ "kind": "external", "justification": "suppressed in Inspector by a suppression rule, which the policy honours (suppressed = \"honor\")" }]),
        );
    }
    let status = match &j.disposition {
        Disposition::Counted { violation: true } => "violation",
        Disposition::Counted { violation: false } => "counted",
        Disposition::Ignored { .. } => "ignored",
        Disposition::Filtered { .. } => "filtered",
        Disposition::Inherited => "inherited",
        Disposition::Suppressed => "suppressed",
    };
    let mut props =
        json!({ "status": status, "severity": f.severity.as_str(), "imageDigest": image.digest });
    if f.suppressed {
        props["inspectorStatus"] = json!("SUPPRESSED");
    }
    if let Some(o) = j.origin {
        props["origin"] = json!(o.as_str());
    }
    if let Some(p) = &image.platform {
        props["platform"] = json!(p);
    }
    r.insert("properties".into(), props);
    Value::Object(r)
}

/// Where a package lives in the image, as a result's artifact URI.
fn artifact_uri(image: &ScannedImage, p: Option<&Package>) -> String {
    p.and_then(|p| p.file_path.as_deref())
        .map(uri_path)
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("image/{}", uri_path(&image.repository)))
}

/// The SARIF `fix` for a finding whose every package has a known target: the package
/// upgrade (the target that fixes all counted findings of the package, else the finding's own
/// fixed-in version). An image is changed by rebuilding it, not by editing a file, so each
/// artifact change is an empty replacement at the start of the package's location; the
/// description and the properties carry the upgrade.
fn fix(image: &ScannedImage, f: &Finding, upgrades: &[Step], os: Scheme) -> Option<Value> {
    if f.packages.is_empty() {
        return None;
    }
    let mut upgrades_text = Vec::new();
    let mut props = Vec::new();
    let mut uris: Vec<String> = Vec::new();
    for p in &f.packages {
        // A package whose own fix is unknown has none, whatever its other findings say.
        p.fixed_version()?;
        let step = upgrades.iter().find(|s| s.covers(p));
        let target = match step {
            Some(s) => s.target(),
            None => fixplan::fixed_shown(p)?,
        };
        let installed = p.installed();
        upgrades_text.push(format!(
            "{} {} → {target}",
            p.name,
            installed.as_deref().unwrap_or("(version unknown)")
        ));
        props.push(json!({
            "package": p.name,
            "type": fixplan::package_type(p, os),
            "installed": installed,
            "upgradeTo": target,
        }));
        let uri = artifact_uri(image, Some(p));
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    let changes: Vec<Value> = uris
        .into_iter()
        .map(|uri| {
            json!({
                "artifactLocation": { "uri": uri },
                "replacements": [{
                    "deletedRegion": { "startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1 },
                }],
            })
        })
        .collect();
    Some(json!({
        "description": { "text": format!("Upgrade {} and rebuild the image.", upgrades_text.join("; ")) },
        "artifactChanges": changes,
        "properties": { "upgrades": props },
    }))
}

fn message(image: &ScannedImage, j: &Judged, violation: Option<&Violation>) -> String {
    let f = &j.finding;
    let mut s = format!("{} ({})", f.id, f.severity);
    let pkgs: Vec<String> = f
        .packages
        .iter()
        .map(|p| {
            let installed = p.installed().unwrap_or_else(|| "unknown version".into());
            match fixplan::fixed_shown(p) {
                Some(fix) => format!("{} {installed}, fixed in {fix}", p.name),
                None => format!("{} {installed}, no fix available", p.name),
            }
        })
        .collect();
    if !pkgs.is_empty() {
        s.push_str(&format!(" in {}", pkgs.join("; ")));
    }
    s.push_str(&format!(" of image {}@{}", image.repository, image.digest));
    if let Some(p) = &image.platform {
        s.push_str(&format!(" ({p})"));
    }
    s.push_str(". ");
    match &j.disposition {
        Disposition::Counted { violation: true } => match violation {
            Some(v) => s.push_str(&format!(
                "Violates the policy: {} {} finding(s) counted, at most {} allowed.",
                v.count, v.severity, v.max
            )),
            None => s.push_str("Violates the policy."),
        },
        Disposition::Counted { violation: false } => {
            s.push_str("Counted, within the policy's maximum.")
        }
        Disposition::Ignored { reason, expires } => {
            let until = expires.map(|d| format!(" until {d}")).unwrap_or_default();
            s.push_str(&format!(
                "Ignored by policy{until}: {}",
                end_sentence(reason)
            ));
        }
        Disposition::Filtered { filter } => {
            s.push_str(&format!("Not counted: filtered ({filter})."))
        }
        Disposition::Inherited => s.push_str(
            "Not counted: inherited from the baseline (already in the image that runs now).",
        ),
        Disposition::Suppressed => s.push_str(
            "Not counted: suppressed in Inspector, and the policy honours suppression rules (suppressed = \"honor\").",
        ),
    }
    if f.suppressed && matches!(j.disposition, Disposition::Counted { .. }) {
        s.push_str(" Suppressed in Inspector, counted all the same (suppressed = \"count\").");
    }
    s
}

fn end_sentence(s: &str) -> String {
    let t = s.trim_end();
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

/// Stable across builds for one (vulnerability, package, repository) — deliberately not the
/// digest, which changes with every build — so GitHub code scanning keeps tracking the same
/// alert instead of closing and reopening it on every push.
pub fn fingerprint(id: &str, package: &str, repository: &str) -> String {
    let mut h = Sha256::new();
    for part in [id, package, repository] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// A PascalCase-ish friendly rule name (`CVE-2024-1234` → `Cve20241234`), as SARIF
/// viewers expect names to be identifiers rather than free text.
fn rule_name(id: &str) -> String {
    let mut out = String::new();
    for word in id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Vulnerability");
    }
    out
}

/// A relative URI reference for a path inside the image: no leading `/` (GitHub wants
/// repository-relative locations), everything outside RFC 3986 unreserved chars escaped.
fn uri_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.trim_start_matches('/').bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn is_absolute_uri(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://")) && !u.contains(char::is_whitespace)
}

/// Help markdown is rendered by GitHub; keep finding text from turning into markup.
fn md_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    fn parse(r: &Report) -> Value {
        serde_json::from_str(&render(r)).expect("valid JSON")
    }

    #[test]
    fn one_rule_per_id_and_one_result_per_finding() {
        let r = testing::report(100);
        let v = parse(&r);
        let run = &v["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 100);
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let mut ids: Vec<&str> = r.images[0]
            .evaluation
            .findings
            .iter()
            .map(|j| j.finding.id.as_str())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(rules.len(), ids.len());
        for res in results {
            let idx = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], res["ruleId"]);
            assert_eq!(
                res["locations"][0]["physicalLocation"]["region"]["startLine"],
                1
            );
        }
    }

    #[test]
    fn levels_follow_dispositions_and_ignored_results_are_suppressed() {
        let v = parse(&testing::mixed());
        let results = v["runs"][0]["results"].as_array().unwrap();
        let by = |id: &str| results.iter().find(|r| r["ruleId"] == id).unwrap();
        assert_eq!(by("CVE-2026-10000")["level"], "error");
        assert_eq!(by("CVE-2026-10003")["level"], "warning");
        let ignored = by("CVE-2026-10001");
        assert_eq!(ignored["level"], "note");
        assert_eq!(ignored["suppressions"][0]["kind"], "external");
        assert_eq!(
            ignored["suppressions"][0]["justification"],
            "not reachable: the TLS server code is not used (until 2027-01-31)"
        );
        let filtered = by("CVE-2026-10004");
        assert_eq!(filtered["level"], "note");
        assert!(filtered.get("suppressions").is_none());
    }

    #[test]
    fn security_severity_is_a_string_from_score_or_severity() {
        let v = parse(&testing::report(10));
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let sev = |id: &str| {
            rules.iter().find(|r| r["id"] == id).unwrap()["properties"]["security-severity"].clone()
        };
        assert_eq!(sev("CVE-2026-10000"), "9.8");
        assert_eq!(sev("CVE-2026-10008"), "0.0", "INFORMATIONAL without score");
        assert_eq!(default_security_severity(Severity::High), 8.0);
        let tags = &rules[0]["properties"]["tags"];
        assert_eq!(tags, &json!(["security", "vulnerability", "CRITICAL"]));
    }

    #[test]
    fn message_names_package_versions_and_digest() {
        let r = testing::report(1);
        let v = parse(&r);
        let text = v["runs"][0]["results"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            text.contains("openssl 1.0.0-1~deb12u1, fixed in 1.0.1-1~deb12u1"),
            "{text}"
        );
        assert!(text.contains(&r.images[0].image.digest), "{text}");
        assert!(
            text.contains("1 CRITICAL finding(s) counted, at most 0 allowed."),
            "{text}"
        );
    }

    #[test]
    fn results_with_a_known_upgrade_carry_it_as_a_fix() {
        let v = parse(&testing::compared());
        let results = v["runs"][0]["results"].as_array().unwrap();
        let by = |id: &str| results.iter().find(|r| r["ruleId"] == id).unwrap();
        let fix = &by("CVE-2026-10000")["fixes"][0];
        assert_eq!(
            fix["description"]["text"],
            "Upgrade openssl 1.0.0-1~deb12u1 → 1.0.1-1~deb12u1 and rebuild the image."
        );
        assert_eq!(
            fix["artifactChanges"][0]["artifactLocation"]["uri"],
            "image/app/web"
        );
        assert_eq!(fix["properties"]["upgrades"][0]["type"], "deb");
        // The package's target fixes all its findings, even where this one's own fix is older.
        let express = &by("CVE-2026-10002")["fixes"][0];
        assert_eq!(
            express["properties"]["upgrades"][0]["upgradeTo"],
            "a version at least as new as 1.2.1 and 1.3"
        );
        assert_eq!(
            express["artifactChanges"][0]["artifactLocation"]["uri"],
            "app/node_modules/express/package.json"
        );
        // No fix for one of its packages: no `fixes`.
        assert!(by("CVE-2026-19998").get("fixes").is_none());
    }

    #[test]
    fn a_rebuilt_image_keeps_its_alerts() {
        // The same findings in a new build (new digest) must carry the same fingerprints, or
        // code scanning closes every alert and reopens it on each push.
        let prints = |r: &Report| -> Vec<String> {
            let v: serde_json::Value = serde_json::from_str(&render(r)).unwrap();
            v["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["partialFingerprints"].to_string())
                .collect()
        };
        let a = testing::mixed();
        let mut b = a.clone();
        for img in &mut b.images {
            img.image.digest = testing::digest("rebuilt");
        }
        assert!(!prints(&a).is_empty());
        assert_eq!(prints(&a), prints(&b));
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let a = fingerprint("CVE-1", "openssl", "app/web");
        assert_eq!(a, fingerprint("CVE-1", "openssl", "app/web"));
        assert_ne!(a, fingerprint("CVE-1", "openssl", "app/api"));
        assert_ne!(a, fingerprint("CVE-1", "libssl", "app/web"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(fingerprint("ab", "c", "d"), fingerprint("a", "bc", "d"));
    }

    #[test]
    fn locations_are_relative_escaped_uris() {
        assert_eq!(
            uri_path("/app/node modules/a|b/package.json"),
            "app/node%20modules/a%7Cb/package.json"
        );
        let v = parse(&testing::report(1));
        assert_eq!(
            v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"],
            "image/app/web"
        );
    }

    #[test]
    fn rule_names_are_identifiers() {
        assert_eq!(rule_name("CVE-2024-1234"), "Cve20241234");
        assert_eq!(rule_name("GHSA-xvch-5gv4-984h"), "GhsaXvch5gv4984h");
        assert_eq!(rule_name("1234"), "Vulnerability1234");
    }

    #[test]
    fn huge_runs_keep_errors_first_and_say_what_was_omitted() {
        let mut r = testing::report(10);
        let template = r.images[0].clone();
        // 26 copies of a 1,000-finding image exceed the per-run limit.
        let mut big = testing::report(1000).images[0].clone();
        big.image = template.image.clone();
        r.images = (0..26).map(|_| big.clone()).collect();
        let v = parse(&r);
        let run = &v["runs"][0];
        assert_eq!(run["results"].as_array().unwrap().len(), MAX_RESULTS);
        assert_eq!(run["properties"]["omittedResults"], 1000);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(run["results"][MAX_RESULTS - 1]["level"], "note");
    }
}
