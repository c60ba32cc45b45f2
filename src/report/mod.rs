//! Reports: one `Report` (the evaluation of every gated image) rendered many ways. Renderers
//! are pure functions from `&Report` to text; writing files is the caller's job.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod table;

use crate::fixplan::{self, FixPlan};
use crate::model::{ScannedImage, Severity};
use crate::policy::eval::{CountsOnly, Disposition, Evaluation, Verdict};
use crate::policy::Policy;
use serde::{Deserialize, Serialize};

/// Version of the `report.json` schema (docs/report-schema.json). Bump on breaking changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "inspector-gate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// How the scan of one image was observed (absent for offline evaluation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanInfo {
    /// Inspector coverage status reason or ECR scan status that ended the wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// RFC 3339 time of the last scan, when Inspector reported one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scanned_at: Option<String>,
    /// Seconds spent waiting for this image.
    pub waited_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    pub image: ScannedImage,
    pub scan: ScanInfo,
    pub evaluation: Evaluation,
    /// What to do so that the image passes: [`Report::new`] works it out from the evaluation
    /// and the policy (builders leave it `None`); none for an evaluation of counts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_plan: Option<FixPlan>,
    /// What a local scan (`scan --from`) did not read of the image: every file a cataloguer
    /// wanted and did not read, package database it could not parse, layer the source does not
    /// hold, each with why. Present only when the policy accepted the gap (`scan-unread =
    /// "warn"`) or the image failed anyway: otherwise the run is inconclusive
    /// ([`crate::decision`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<crate::model::Unread>,
}

impl ImageReport {
    /// The repository the policy's ignore rules were scoped to (none for a local scan).
    fn scope(&self) -> Option<&str> {
        Some(self.image.repository.as_str()).filter(|r| !r.is_empty())
    }

    /// The image's fix plan under `policy`; none for an evaluation of counts only, which
    /// lists no finding to plan from.
    fn plan(&self, policy: &Policy) -> Option<FixPlan> {
        self.evaluation
            .counts_only
            .is_none()
            .then(|| fixplan::plan(&self.evaluation, policy, self.scope()))
    }
}

/// Everything one gate run decided: the single source for every renderer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// The worst verdict over all images.
    pub verdict: Verdict,
    pub policy: Policy,
    pub images: Vec<ImageReport>,
    /// Images whose scan did not finish in time and that `--on-timeout pass` let through
    /// unevaluated: every report says so, so a pass never hides them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_evaluated: Vec<NotEvaluated>,
    /// `--soft-fail`: a failing verdict exits 0 (report-only adoption). The verdict itself is
    /// unchanged in every output; only the exit code and the "would have failed" line differ.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub soft_fail: bool,
}

/// An image the run passed without evaluating it (`--on-timeout pass`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotEvaluated {
    /// Why, naming the image (the timeout's message).
    pub reason: String,
}

impl Report {
    /// The report of `images`, each with its fix plan worked out. Its verdict is the worst of
    /// theirs; a report of no image is never a pass (`fail`, exit 3): a run that evaluated
    /// nothing cannot pass.
    pub fn new(generated_at: String, policy: Policy, mut images: Vec<ImageReport>) -> Self {
        for img in &mut images {
            img.fix_plan = img.plan(&policy);
        }
        let verdict = images
            .iter()
            .map(|i| i.evaluation.verdict)
            .max()
            .unwrap_or(Verdict::Fail);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            generated_at,
            verdict,
            policy,
            images,
            not_evaluated: Vec::new(),
            soft_fail: false,
        }
    }

    /// The report of a `--soft-fail` run (see [`crate::decision::soft_fail`]).
    pub fn with_soft_fail(mut self, soft_fail: bool) -> Self {
        self.soft_fail = soft_fail;
        self
    }

    /// The report with the images `--on-timeout pass` let through unevaluated.
    pub fn with_not_evaluated(mut self, not_evaluated: Vec<NotEvaluated>) -> Self {
        self.not_evaluated = not_evaluated;
        self
    }

    /// Counted findings per severity summed over images.
    pub fn counted(&self, s: Severity) -> u64 {
        self.images.iter().map(|i| i.evaluation.counted(s)).sum()
    }

    /// 0 when the report passed, 1 when the policy was violated, 3 when it evaluated no image
    /// (whatever its `verdict` field says: a report read back may have been edited).
    pub fn exit_code(&self) -> i32 {
        if self.images.is_empty() {
            return crate::error::EXIT_INCONCLUSIVE;
        }
        match self.verdict {
            Verdict::Pass => crate::error::EXIT_PASS,
            Verdict::Fail => crate::error::EXIT_VIOLATION,
        }
    }

    pub fn verdict_word(&self) -> &'static str {
        self.verdict.as_str()
    }

    /// True only for a pass over at least one evaluated image.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass && !self.images.is_empty()
    }
}

/// The sentence every report prints above the list of what a local scan did not read of an
/// image ([`ImageReport::unread`]), or `None` when it read everything it needed.
pub fn unread_line(img: &ImageReport, policy: &Policy) -> Option<String> {
    let n = img.unread.len();
    if n == 0 {
        return None;
    }
    let accepted = match policy.scan_unread {
        crate::policy::ScanUnread::Warn => "accepted by the policy: scan-unread = \"warn\"",
        crate::policy::ScanUnread::Fail => "the image fails anyway",
    };
    Some(format!(
        "the scan did not read {n} file(s) it needed, so the packages in them were never checked ({accepted})"
    ))
}

/// The sentence every human-readable report prints about an image's findings suppressed in
/// Inspector, or `None` when it has none: how many, and whether they counted.
pub fn suppressed_line(e: &Evaluation) -> Option<String> {
    let all = e.suppressed().count();
    if all == 0 {
        return None;
    }
    let counted = e.suppressed_counted();
    let honored = e
        .suppressed()
        .filter(|j| j.disposition == Disposition::Suppressed)
        .count();
    let other = all - counted - honored;
    let mut parts = Vec::new();
    if counted > 0 {
        parts.push(format!("{counted} counted (policy suppressed = \"count\")"));
    }
    if honored > 0 {
        parts.push(format!(
            "{honored} not counted (policy suppressed = \"honor\")"
        ));
    }
    if other > 0 {
        parts.push(format!("{other} filtered, ignored or inherited"));
    }
    Some(format!(
        "{all} finding(s) suppressed in Inspector: {}",
        parts.join(", ")
    ))
}

/// The sentence the human-readable reports print for an evaluation of counts only: where
/// they came from, and what the severities it does not split add up to.
pub fn counts_only_line(c: &CountsOnly) -> String {
    let names: Vec<&str> = c.unsplit.iter().map(|s| s.as_str()).collect();
    let rest = match (names.as_slice(), c.remainder) {
        ([], _) => String::new(),
        (n, Some(r)) => format!(
            "; {} together: {r} (the remainder of its TOTAL)",
            n.join("/")
        ),
        (n, None) => format!("; {}: not counted (it has no TOTAL)", n.join("/")),
    };
    format!(
        "counts only, from an {}: no finding is listed{rest}",
        c.source
    )
}

/// A finding's EPSS score (the chance of exploitation in the next 30 days) as a percentage:
/// `87.3%`, `<0.1%`, or `–` when Inspector gave none.
pub fn epss_percent(f: &crate::model::Finding) -> String {
    match f.epss_score.filter(|s| s.is_finite()) {
        None => "–".into(),
        Some(s) if s > 0.0 && s < 0.001 => "<0.1%".into(),
        Some(s) => format!("{:.1}%", (s * 100.0).clamp(0.0, 100.0)),
    }
}

/// Whether a known exploit exists: `yes`, `no`, or `–` when Inspector did not say.
pub fn exploit_marker(f: &crate::model::Finding) -> &'static str {
    match f.exploit_available.as_deref() {
        Some("YES") => "yes",
        Some("NO") => "no",
        _ => "–",
    }
}

/// What to print on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Markdown,
}

impl Format {
    /// Render `report` in this format (`layout` shapes the table only).
    pub fn render(self, report: &Report, layout: &table::Layout) -> String {
        match self {
            Format::Table => table::render(report, layout),
            Format::Json => json::render(report),
            Format::Markdown => markdown::render(report),
        }
    }
}

/// Deterministic report fixtures (0, 1 and 10,000 findings, and a small one that uses every
/// field and disposition) shared by the renderers' snapshot tests and the external validators
/// in tests/e2e/reports_external.rs. Test support only, not a stable API.
#[cfg(any(test, feature = "test-support"))]
pub mod testing {
    use super::{ImageReport, Report, ScanInfo, Tool};
    use crate::model::{Finding, Package, ScannedImage, Severity};
    use crate::policy::eval::evaluate;
    use crate::policy::{IgnoreRule, Policy};
    use sha2::{Digest, Sha256};
    use time::macros::date;
    use time::Date;

    pub const GENERATED_AT: &str = "2026-11-22T10:00:00Z";
    pub const TODAY: Date = date!(2026 - 11 - 22);
    pub const REPOSITORY: &str = "app/web";

    /// A fake but well-formed `sha256:<64 hex>` derived from `seed`.
    pub fn digest(seed: &str) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(seed.as_bytes())))
    }

    pub fn image(platform: Option<&str>) -> ScannedImage {
        ScannedImage {
            registry: "123456789012".into(),
            region: "eu-west-1".into(),
            repository: REPOSITORY.into(),
            digest: digest(platform.unwrap_or("single")),
            platform: platform.map(str::to_string),
            requested: format!("{REPOSITORY}:1.4.2"),
            index_digest: None,
            registry_host: None,
        }
    }

    const SEVERITY_CYCLE: [Severity; 10] = [
        Severity::Critical,
        Severity::High,
        Severity::High,
        Severity::Medium,
        Severity::Medium,
        Severity::Medium,
        Severity::Low,
        Severity::Low,
        Severity::Informational,
        Severity::Untriaged,
    ];
    const PACKAGES: [&str; 5] = ["openssl", "libxml2", "express", "zlib", "lodash"];

    /// The `i`-th synthetic finding of `image`. Ids repeat every 2,500 findings (one
    /// vulnerability in several packages), every fifth finding has no fix.
    pub fn finding(i: usize, image: &ScannedImage) -> Finding {
        let severity = SEVERITY_CYCLE[i % SEVERITY_CYCLE.len()];
        let id = format!("CVE-2026-{}", 10000 + i % 2500);
        let pkg = PACKAGES[(i / 2500 + i) % PACKAGES.len()];
        let npm = matches!(pkg, "express" | "lodash");
        let unfixed = i % 5 == 4;
        let base = match severity {
            Severity::Critical => Some(9.8),
            Severity::High => Some(7.5),
            Severity::Medium => Some(5.3),
            Severity::Low => Some(3.1),
            Severity::Informational | Severity::Untriaged => None,
        };
        Finding {
            title: format!("{id} - {pkg}"),
            description: Some(format!(
                "A flaw in {pkg} allows a remote attacker to cause a denial of service."
            )),
            finding_arn: Some(format!(
                "arn:aws:inspector2:eu-west-1:123456789012:finding/{:032x}",
                i
            )),
            fix_available: Some(if unfixed { "NO" } else { "YES" }.into()),
            exploit_available: Some(if i % 11 == 0 { "YES" } else { "NO" }.into()),
            inspector_score: base.map(|b: f64| b - (i % 3) as f64 * 0.1),
            epss_score: Some((i * 37 % 1000) as f64 / 1000.0),
            packages: vec![Package {
                name: pkg.into(),
                version: Some(format!("1.{}.0", i % 40)),
                // OS packages as Inspector writes them: the Debian revision apart, zlib
                // with an epoch, the fixed version whole (`[epoch:]version-revision`).
                release: (!npm).then(|| "1~deb12u1".into()),
                epoch: (pkg == "zlib").then_some(1),
                fixed_in_version: Some(match (unfixed, npm, pkg == "zlib") {
                    (true, _, _) => "NotAvailable".into(),
                    (false, true, _) => format!("1.{}.1", i % 40),
                    (false, false, false) => format!("1.{}.1-1~deb12u1", i % 40),
                    (false, false, true) => format!("1:1.{}.1-1~deb12u1", i % 40),
                }),
                package_manager: Some(if npm { "NPM" } else { "OS" }.into()),
                file_path: npm.then(|| format!("app/node_modules/{pkg}/package.json")),
            }],
            source_url: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
            remediation: None,
            image_digest: Some(image.digest.clone()),
            repository: Some(image.repository.clone()),
            id,
            severity,
            suppressed: false,
        }
    }

    /// Fail on HIGH and above, at most 1,000 MEDIUM, unfixed findings filtered, two ignore rules.
    pub fn policy() -> Policy {
        let mut p = Policy {
            ignore_unfixed: true,
            ..Default::default()
        };
        p.apply_fail_on(Severity::High);
        p.max.insert(Severity::Medium, 1000);
        p.ignores = vec![
            IgnoreRule {
                id: "CVE-2026-10001".into(),
                reason: "not reachable: the TLS server code is not used".into(),
                expires: Some(date!(2027 - 01 - 31)),
                package: None,
                repository: None,
                vex: None,
            },
            IgnoreRule {
                id: "CVE-2026-10012".into(),
                reason: "vendor disputes the issue".into(),
                expires: None,
                package: None,
                repository: Some(REPOSITORY.into()),
                vex: None,
            },
        ];
        p
    }

    fn fixed_tool(mut r: Report) -> Report {
        // A fixed version keeps snapshots stable across releases.
        r.tool = Tool {
            name: "inspector-gate".into(),
            version: "0.0.0-fixture".into(),
        };
        r
    }

    fn image_report(policy: &Policy, image: ScannedImage, findings: Vec<Finding>) -> ImageReport {
        let evaluation = evaluate(policy, &findings, Some(&image.repository), TODAY);
        let scan = ScanInfo {
            status: Some("SUCCESSFUL".into()),
            last_scanned_at: Some("2026-11-22T09:58:12Z".into()),
            waited_seconds: 42.5,
        };
        ImageReport {
            image,
            scan,
            evaluation,
            fix_plan: None,
            unread: Vec::new(),
        }
    }

    /// One single-arch image with `n` synthetic findings (0, 1 and 10,000 in the snapshots).
    pub fn report(n: usize) -> Report {
        let policy = policy();
        let img = image(None);
        let findings = (0..n).map(|i| finding(i, &img)).collect();
        let images = vec![image_report(&policy, img, findings)];
        fixed_tool(Report::new(GENERATED_AT.into(), policy, images))
    }

    /// A multi-arch image (two platforms of one index) whose few findings use every field,
    /// every disposition (but `compared`'s), a counted finding suppressed in Inspector, and
    /// text that needs escaping in each output format.
    pub fn mixed() -> Report {
        let mut policy = policy();
        policy.min_epss = Some(0.0);
        policy.min_inspector_score = Some(0.0);
        policy.ignores[1].package = Some("libxml2".into());
        let index = digest("index");
        let mut images = Vec::new();
        for (n, platform) in ["linux/amd64", "linux/arm64"].into_iter().enumerate() {
            let mut img = image(Some(platform));
            img.index_digest = Some(index.clone());
            let mut findings: Vec<Finding> = (0..4).map(|i| finding(i + n, &img)).collect();
            let mut nasty = finding(12, &img);
            nasty.id = "GHSA-xvch-5gv4-984h".into();
            nasty.severity = Severity::High;
            nasty.title = "GHSA-xvch-5gv4-984h - <script>alert(1)</script>: a, b | c".into();
            nasty.description = Some(
                "line one\nline two\r\n50% of \u{1b}[31mred\u{1b}[0m & \"quoted\" 'text' ]]> --"
                    .into(),
            );
            nasty.remediation = Some("Upgrade to 4.17.21 or later.".into());
            nasty.packages[0] = Package {
                name: "pkg|pipe<x>".into(),
                version: Some("4.17.20".into()),
                fixed_in_version: Some("4.17.21".into()),
                package_manager: Some("NPM".into()),
                file_path: Some("/app/node modules/pkg|pipe<x>/package.json".into()),
                ..Default::default()
            };
            findings.push(nasty);
            // Hidden by an Inspector suppression rule, and counted all the same (the default).
            findings[0].suppressed = n == 0;
            images.push(image_report(&policy, img, findings));
        }
        fixed_tool(Report::new(GENERATED_AT.into(), policy, images))
    }

    /// An image evaluated from an `Inspector2 Scan` event's counts alone (TOTAL 31: 28
    /// findings of the severities it does not split out), failing on its CRITICAL.
    pub fn event() -> Report {
        use crate::policy::eval::{evaluate_counts, EventCounts};
        let mut policy = Policy::default();
        policy.apply_fail_on(Severity::Critical);
        let counts = EventCounts {
            given: [
                (Severity::Critical, 1),
                (Severity::High, 2),
                (Severity::Medium, 0),
            ]
            .into_iter()
            .collect(),
            total: Some(31),
        };
        let evaluation = evaluate_counts(&policy, &counts, "Inspector2 Scan event")
            .expect("the counts decide this policy");
        let images = vec![ImageReport {
            image: image(None),
            scan: ScanInfo {
                status: Some("INITIAL_SCAN_COMPLETE".into()),
                last_scanned_at: None,
                waited_seconds: 0.0,
            },
            evaluation,
            fix_plan: None,
            unread: Vec::new(),
        }];
        fixed_tool(Report::new(GENERATED_AT.into(), policy, images))
    }

    /// A run compared with a baseline (new, inherited and fixed findings; per-severity
    /// counting) under a policy that honours Inspector's suppression rules, that
    /// `--on-timeout pass` also let one image through unevaluated, and whose fix plan cannot
    /// pass (a CRITICAL without a fix, fix versions that cannot be ordered, an ignore rule
    /// matching nothing under `unmatched-ignore = "fail"`): the report fields `mixed` has no
    /// cause to write.
    pub fn compared() -> Report {
        use crate::baseline::{Baseline, CountMode};
        use crate::policy::eval::evaluate_against;
        use crate::policy::UnmatchedIgnore;
        let mut policy = policy();
        policy
            .baseline
            .per_severity
            .insert(Severity::Critical, CountMode::All);
        // The floor-governed choices a default policy never writes.
        policy.suppressed = crate::policy::Suppressed::Honor;
        policy.scan_unread = crate::policy::ScanUnread::Warn;
        policy.unmatched_ignore = UnmatchedIgnore::Fail;
        // Pulled through the dual-stack host: every pinned reference keeps it.
        let img = image(None).with_host(Some("123456789012.dkr-ecr.eu-west-1.on.aws"));
        let mut findings: Vec<Finding> = (0..4).map(|i| finding(i, &img)).collect();
        // Suppressed in Inspector, and the policy honours it: listed, not counted.
        let mut hidden = finding(5, &img);
        hidden.id = "CVE-2026-18888".into();
        hidden.suppressed = true;
        findings.push(hidden);
        // Fixed in libssl3 but not in openssl: no upgrade fixes it.
        let mut partial = finding(0, &img);
        partial.id = "CVE-2026-19998".into();
        partial.fix_available = Some("PARTIAL".into());
        partial.packages[0].fixed_in_version = Some("NotAvailable".into());
        let mut libssl = partial.packages[0].clone();
        libssl.name = "libssl3".into();
        libssl.fixed_in_version = Some("1.0.1-1~deb12u1".into());
        partial.packages.push(libssl);
        // A second express fix that is not a semantic version: the two cannot be ordered.
        let mut odd = finding(2, &img);
        odd.id = "CVE-2026-19997".into();
        odd.packages[0].fixed_in_version = Some("1.3".into());
        findings.extend([partial, odd]);
        let mut gone = finding(20, &img);
        gone.id = "CVE-2026-19999".into();
        // Two deployments serve (mid-rollout of another image): both have the same findings.
        let mut base = Baseline::single(
            "ecs:prod/web",
            Some(digest("running")),
            vec![findings[0].clone(), findings[1].clone(), gone],
        );
        let mut second = base.images[0].clone();
        second.digest = Some(digest("running-too"));
        base.images.push(second);
        let evaluation = evaluate_against(
            &policy,
            &findings,
            Some(&base),
            Some(&img.repository),
            TODAY,
        );
        let images = vec![ImageReport {
            image: img,
            scan: ScanInfo {
                status: Some("SUCCESSFUL".into()),
                last_scanned_at: Some("2026-11-22T09:58:12Z".into()),
                waited_seconds: 3.0,
            },
            evaluation,
            fix_plan: None,
            // What a local scan could not read, accepted by `scan-unread = "warn"`.
            unread: vec![crate::model::Unread {
                path: "/app/app.jar/BOOT-INF/lib/huge.jar".into(),
                reason: "inflates past the 1073741824-byte budget of one archive".into(),
            }],
        }];
        fixed_tool(Report::new(GENERATED_AT.into(), policy, images)).with_not_evaluated(vec![
            super::NotEvaluated {
                reason: "timed out after 30m waiting for the scan of app/web@sha256:0123456789ab (last state: SCAN_IN_PROGRESS); passed because --on-timeout pass".into(),
            },
        ])
        // A report-only run (--soft-fail), so the schema's softFail is exercised too.
        .with_soft_fail(true)
    }
}

impl Report {
    /// Read back a `report.json` (for `inspector-gate approve`).
    pub fn from_json(text: &str) -> Result<Report, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match v.get("schemaVersion").and_then(|s| s.as_u64()) {
            Some(n) if n == u64::from(SCHEMA_VERSION) => {}
            Some(n) => {
                return Err(format!(
                    "schemaVersion {n} is not supported (expected {SCHEMA_VERSION})"
                ))
            }
            None => return Err("no schemaVersion".into()),
        }
        let mut report: Report = serde_json::from_value(v).map_err(|e| e.to_string())?;
        // A report written before plans were: work it out the same way.
        for img in &mut report.images {
            if img.fix_plan.is_none() {
                img.fix_plan = img.plan(&report.policy);
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::{testing, Report};
    use crate::policy::eval::Verdict;

    #[test]
    fn a_report_of_no_image_is_never_a_pass() {
        let empty = Report::new(testing::GENERATED_AT.into(), testing::policy(), vec![]);
        assert_eq!(empty.verdict, Verdict::Fail);
        assert!(!empty.passed());
        assert_eq!(empty.exit_code(), 3);
        // Not even when its verdict field was edited to say so.
        let mut forged = empty;
        forged.verdict = Verdict::Pass;
        assert!(!forged.passed());
        assert_eq!(forged.exit_code(), 3);
        assert!(
            testing::report(0).passed(),
            "one image with no findings passes"
        );
    }

    #[test]
    fn findings_suppressed_in_inspector_are_listed_by_every_renderer() {
        // `compared` honours suppression rules: its CVE-2026-18888 is listed, not counted.
        let r = testing::compared();
        let table = super::table::render(&r, &super::table::Layout::default());
        assert!(
            table.contains("suppressed in Inspector, not counted (policy suppressed = \"honor\"):")
                && table.contains("CVE-2026-18888"),
            "{table}"
        );
        let md = super::markdown::render(&r);
        assert!(
            md.contains("| CVE-2026-18888 | MEDIUM | suppressed in Inspector (honored) |"),
            "{md}"
        );
        assert!(
            md.contains("1 finding(s) suppressed in Inspector: 1 not counted"),
            "{md}"
        );
        let junit = super::junit::render(&r);
        assert!(
            junit.contains("<skipped message=\"suppressed in Inspector (not counted"),
            "{junit}"
        );
        let sarif = super::sarif::render(&r);
        assert!(
            sarif.contains("\"status\": \"suppressed\"")
                && sarif.contains("which the policy honours"),
            "{sarif}"
        );
        let json = super::json::render(&r);
        assert!(
            json.contains("\"status\": \"suppressed\"") && json.contains("\"suppressed\": true")
        );
    }
}

/// Snapshots of every renderer on the fixtures. Large outputs are pinned by size, digest and
/// head so that a change anywhere shows up without storing megabytes. Review changes with
/// `cargo insta review` (or `INSTA_UPDATE=always cargo test --lib report` and `git diff`).
#[cfg(test)]
mod snapshots {
    use super::{json, junit, markdown, sarif, table, testing, Report};
    use sha2::{Digest, Sha256};

    type Renderer = fn(&Report) -> String;

    const RENDERERS: [(&str, Renderer); 5] = [
        ("table", |r| table::render(r, &table::Layout::default())),
        ("json", json::render),
        ("sarif", sarif::render),
        ("junit", junit::render),
        ("markdown", markdown::render),
    ];

    fn check_all(fixture: &str, report: &Report) {
        for (name, render) in RENDERERS {
            insta::assert_snapshot!(format!("{name}_{fixture}"), render(report));
        }
    }

    #[test]
    fn a_plan_that_cannot_pass_says_why_in_every_report() {
        let r = testing::compared();
        let plan = r.images[0].fix_plan.as_ref().unwrap();
        assert!(!plan.passes_after);
        assert_eq!(plan.unfixable, ["CVE-2026-19998"]);
        assert_eq!(plan.stale_ignores, ["CVE-2026-10012"]);
        let express = plan.steps.iter().find(|s| s.package == "express").unwrap();
        assert_eq!(express.upgrade_to, None);
        assert_eq!(express.unordered, ["1.2.1", "1.3"]);
        let why = "no upgrade makes it pass: no fix is known for CVE-2026-19998";
        for (name, render) in RENDERERS {
            if name != "sarif" && name != "json" {
                assert!(render(&r).contains(why), "{name}:\n{}", render(&r));
            }
        }
        assert!(json::render(&r).contains("\"unfixable\": [\n          \"CVE-2026-19998\""));
        insta::assert_snapshot!(
            "table_compared",
            table::render(&r, &table::Layout::default())
        );
        // Counts alone list no finding to plan from: no plan, rather than an empty one that
        // would read as "nothing to do".
        let event = testing::event();
        assert!(event.images[0].fix_plan.is_none());
        assert!(!json::render(&event).contains("fixPlan"));
        assert!(!table::render(&event, &table::Layout::default()).contains("To pass"));
    }

    /// The table as a wide terminal shows it: the same content, nothing cut.
    #[test]
    fn the_table_at_200_columns() {
        for (name, r) in [
            ("mixed", testing::mixed()),
            ("compared", testing::compared()),
        ] {
            let text = table::render(&r, &table::Layout::plain(200));
            insta::assert_snapshot!(format!("table_{name}_200"), text);
        }
    }

    #[test]
    fn no_findings() {
        check_all("0_findings", &testing::report(0));
    }

    #[test]
    fn one_finding() {
        check_all("1_finding", &testing::report(1));
    }

    #[test]
    fn every_disposition_on_two_platforms() {
        check_all("mixed", &testing::mixed());
    }

    #[test]
    fn counts_only_from_an_event() {
        check_all("event", &testing::event());
    }

    #[test]
    fn ten_thousand_findings() {
        let report = testing::report(10_000);
        for (name, render) in RENDERERS {
            let text = render(&report);
            if name == "markdown" {
                assert!(
                    text.len() < markdown::MAX_BYTES,
                    "markdown is {} bytes",
                    text.len()
                );
            }
            let head: Vec<&str> = text.lines().take(40).collect();
            let summary = format!(
                "bytes: {}\nlines: {}\nsha256: {}\n--- first 40 lines ---\n{}\n",
                text.len(),
                text.lines().count(),
                hex::encode(Sha256::digest(text.as_bytes())),
                head.join("\n")
            );
            insta::assert_snapshot!(format!("{name}_10000_findings"), summary);
        }
    }
}
