//! The fix plan: for one evaluated image, the package upgrades after which the verdict passes
//! under the policy in effect, and the fewest of them. Pure: a function of the evaluation and
//! the policy, rendered by every report.
//!
//! - The findings that count are grouped by package: ecosystem (the purl type of Inspector's
//!   `packageManager`, refined for OS packages to deb, rpm or apk by their versions), name,
//!   whole installed version (`[epoch:]version-release`) and file path.
//! - A package's target is the greatest `fixedInVersion` of its counted findings in the
//!   ecosystem's order ([`crate::version`]); fix versions that cannot be ordered are all
//!   listed (`unordered`): upgrade to a version at least as new as each.
//! - A finding is fixed once every package it names is upgraded. One that names a package
//!   without a fix, or no package at all, no upgrade fixes.
//! - The steps are the fewest upgrades after which every maximum holds. Packages without which
//!   no set passes (with a maximum of 0: every package with a finding of that severity) are
//!   taken first; the rest is searched exactly while at most [`EXACT_BUDGET`] steps are
//!   tried: every set of 1, 2, … packages (all of them for up to 20), or, when every finding
//!   left names one package, how many to take of each class of interchangeable packages.
//!   Beyond the budget, a greedy choice pruned of upgrades it turns out not to need
//!   (`exact: false`, unless the search already proved no smaller set exists).
//! - When the findings no upgrade fixes alone exceed a maximum, no upgrade makes the image pass
//!   (`passesAfter: false`): those findings are listed, to be ignored with a reason and an
//!   expiry or waited out, and the steps are the upgrades still needed once they are.
//! - With `unmatched-ignore = "fail"`, an ignore rule that matches nothing fails the gate, now
//!   or once the upgrades remove its findings: such rules are listed to be deleted.

use crate::model::{Finding, Package, Severity};
use crate::policy::eval::{rule_matches, Disposition, Evaluation};
use crate::policy::{Policy, UnmatchedIgnore};
use crate::version::Scheme;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Sets of upgrades the exact search may try: every set of up to 20 packages (2^20).
pub const EXACT_BUDGET: u64 = 1 << 20;

/// Finding ids named in a line of text; report.json has them all.
const MAX_IDS: usize = 10;

/// What to do so that an image passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixPlan {
    /// The image passes once the steps are done (and `staleIgnores` deleted).
    pub passes_after: bool,
    /// `steps` is a smallest set of upgrades (false: found greedily, a smaller set may exist).
    pub exact: bool,
    /// The upgrades, those fixing the most severe findings first.
    pub steps: Vec<Step>,
    /// Counted findings no upgrade fixes (no fix available, or no package named) that alone
    /// exceed a maximum, by id: ignore them with a reason and an expiry, or wait for a fix.
    pub unfixable: Vec<String>,
    /// Ids of ignore rules that match no finding now or once the upgrades are done, under
    /// `unmatched-ignore = "fail"`: delete them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_ignores: Vec<String>,
}

/// One package upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub package: String,
    /// purl type: deb, rpm, apk, os (an OS package of an unknown distribution), npm, pypi,
    /// maven, golang, cargo, gem, nuget, composer, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The whole installed version, when Inspector gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// The version that fixes every counted finding of the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_to: Option<String>,
    /// Instead of `upgradeTo` when the fix versions cannot be ordered: each of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unordered: Vec<String>,
    /// Counted findings the upgrade fixes (or helps fix, for findings naming several
    /// packages), per severity.
    pub fixes: BTreeMap<Severity, u64>,
}

impl Step {
    /// `3.0.14-1~deb12u2`, or `a version at least as new as 2.0 and 2.0-x` when unordered.
    pub fn target(&self) -> String {
        match &self.upgrade_to {
            Some(v) => v.clone(),
            None => format!(
                "a version at least as new as {}",
                self.unordered.join(" and ")
            ),
        }
    }

    /// Whether this upgrade is of package `p` (same ecosystem, name, installed version, path).
    pub fn covers(&self, p: &Package) -> bool {
        self.package == p.name
            && self.installed == p.installed()
            && self.file_path == p.file_path
            && family_of_kind(&self.kind) == family(p.package_manager.as_deref())
    }

    /// `1 CRITICAL, 1 HIGH`.
    pub fn fixes_text(&self) -> String {
        let parts: Vec<String> = self
            .fixes
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        parts.join(", ")
    }

    /// `upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2 (fixes 1 CRITICAL, 1 HIGH)`.
    pub fn line(&self) -> String {
        let installed = self.installed.as_deref().unwrap_or("(version unknown)");
        let mut s = format!(
            "upgrade {} {installed} → {} (fixes {})",
            self.package,
            self.target(),
            self.fixes_text()
        );
        if let Some(p) = &self.file_path {
            let _ = write!(s, " in {p}");
        }
        s
    }
}

impl FixPlan {
    /// The plan of an image that passes: nothing to do.
    pub fn nothing() -> Self {
        FixPlan {
            passes_after: true,
            exact: true,
            steps: Vec::new(),
            unfixable: Vec::new(),
            stale_ignores: Vec::new(),
        }
    }

    /// Whether there is anything to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.unfixable.is_empty() && self.stale_ignores.is_empty()
    }

    /// The plan in plain lines, the first one a summary (every renderer escapes them for its
    /// format).
    /// At most `max_steps` upgrades are listed, then how many more.
    pub fn lines(&self, max_steps: usize) -> Vec<String> {
        let mut out = Vec::new();
        if !self.unfixable.is_empty() {
            out.push(format!(
                "no upgrade makes it pass: no fix is known for {}; ignore {} with a reason and an expiry, or wait for a fix",
                self.unfixable_text(),
                if self.unfixable.len() == 1 { "it" } else { "them" }
            ));
        }
        let after = match self.unfixable.len() {
            0 => "",
            1 => "once it is ignored: ",
            _ => "once they are ignored: ",
        };
        for (n, s) in self.steps.iter().take(max_steps).enumerate() {
            out.push(format!("{}{}", if n == 0 { after } else { "" }, s.line()));
        }
        if self.steps.len() > max_steps {
            out.push(format!(
                "… and {} more upgrade(s)",
                self.steps.len() - max_steps
            ));
        }
        for id in &self.stale_ignores {
            out.push(format!(
                "delete ignore rule {id}: {}it matches no finding, and unmatched-ignore = \"fail\" fails the gate",
                if self.steps.is_empty() {
                    ""
                } else {
                    "with the upgrades done "
                }
            ));
        }
        if !self.exact && !self.steps.is_empty() {
            out.push(format!(
                "({} upgrades found greedily: too many packages to search every set, a shorter plan may exist)",
                self.steps.len()
            ));
        }
        out
    }

    /// The unfixable ids, the first [`MAX_IDS`] of them and how many more.
    fn unfixable_text(&self) -> String {
        let mut s = self
            .unfixable
            .iter()
            .take(MAX_IDS)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.unfixable.len() > MAX_IDS {
            let _ = write!(s, " and {} more", self.unfixable.len() - MAX_IDS);
        }
        s
    }

    /// One line for places with room for one (the approval summary): the first step and how
    /// many more, or why no upgrade passes.
    pub fn headline(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        if !self.unfixable.is_empty() {
            let more = if self.steps.is_empty() {
                String::new()
            } else {
                format!(" (and {} upgrade(s))", self.steps.len())
            };
            return Some(format!(
                "No upgrade makes it pass: no fix for {}; ignore with a reason and an expiry, or wait for a fix{more}.",
                self.unfixable_text()
            ));
        }
        let mut s = String::from("To pass: ");
        match self.steps.first() {
            Some(first) => {
                s.push_str(&first.line());
                if self.steps.len() > 1 {
                    let _ = write!(s, " and {} more upgrade(s)", self.steps.len() - 1);
                }
            }
            None => s.push_str(&format!(
                "delete ignore rule(s) {} (they match no finding)",
                self.stale_ignores.join(", ")
            )),
        }
        s.push('.');
        Some(s)
    }

    /// `findings` as they would be once the steps are done: those whose every package an
    /// upgrade fixes are gone.
    pub fn apply(&self, findings: &[Finding]) -> Vec<Finding> {
        findings
            .iter()
            .filter(|f| !fixed_by(&self.steps, f))
            .cloned()
            .collect()
    }

    /// `policy` without the stale ignore rules that match nothing in `remaining` (the
    /// findings after [`FixPlan::apply`]).
    pub fn policy_after(
        &self,
        policy: &Policy,
        remaining: &[Finding],
        repository: Option<&str>,
    ) -> Policy {
        let mut p = policy.clone();
        p.ignores.retain(|r| {
            !self.stale_ignores.iter().any(|id| id == &r.id)
                || remaining.iter().any(|f| rule_matches(r, f, repository))
        });
        p
    }
}

/// How the OS packages of an image are ordered, told by the versions of all of them together
/// (an image has one OS package manager, and `+deb12u3` in one version tells for `1.2-1` in
/// another); [`Scheme::Os`] when they do not tell, or disagree.
pub fn os_scheme(e: &Evaluation) -> Scheme {
    let mut versions = Vec::new();
    for j in &e.findings {
        for p in &j.finding.packages {
            if family(p.package_manager.as_deref()) == "os" {
                versions.extend(p.installed());
                versions.extend(p.fixed_version().map(str::to_string));
            }
        }
    }
    Scheme::for_os(versions.iter().map(String::as_str))
}

/// The purl type of a finding's package as reports show it: deb, rpm, apk for an OS package
/// (`os` of the image's [`os_scheme`], else told by its own versions, else `os`), npm, pypi,
/// maven, golang, …
pub fn package_type(p: &Package, os: Scheme) -> String {
    let fam = family(p.package_manager.as_deref());
    if fam != "os" {
        return fam;
    }
    let installed = p.installed();
    let versions = installed
        .iter()
        .map(String::as_str)
        .chain(p.fixed_version());
    os_kind(os_or(os, versions)).into()
}

/// The image's OS ordering when known, else the one `versions` tell.
fn os_or<'a>(os: Scheme, versions: impl IntoIterator<Item = &'a str>) -> Scheme {
    match os {
        Scheme::Os => Scheme::for_os(versions),
        known => known,
    }
}

/// The version that fixes `p` as reports show it (an OS package's `0:` epoch dropped).
pub fn fixed_shown(p: &Package) -> Option<String> {
    p.fixed_version()
        .map(|v| shown(&family(p.package_manager.as_deref()), v))
}

fn os_kind(s: Scheme) -> &'static str {
    match s {
        Scheme::Dpkg => "deb",
        Scheme::Rpm => "rpm",
        Scheme::Apk => "apk",
        _ => "os",
    }
}

/// The purl type of an Inspector `packageManager` (OS packages: `os`, refined later).
fn family(manager: Option<&str>) -> String {
    let Some(m) = manager.map(str::trim).filter(|m| !m.is_empty()) else {
        return "unknown".into();
    };
    match m.to_ascii_uppercase().as_str() {
        "OS" => "os",
        "NPM" | "NODEPKG" | "YARN" | "NODE" | "PNPM" => "npm",
        "PIP" | "PIPENV" | "POETRY" | "PYTHONPKG" | "PYTHON" => "pypi",
        "JAR" | "POM" | "GRADLE" | "MAVEN" => "maven",
        "GOBINARY" | "GOMOD" | "GO" => "golang",
        "CARGO" => "cargo",
        "BUNDLER" | "GEMSPEC" => "gem",
        "COMPOSER" => "composer",
        "NUGET" | "DOTNET_CORE" => "nuget",
        _ => return m.to_ascii_lowercase(),
    }
    .into()
}

/// The family of a step's purl type (deb, rpm and apk are all `os`).
fn family_of_kind(kind: &str) -> &str {
    match kind {
        "deb" | "rpm" | "apk" | "os" => "os",
        k => k,
    }
}

/// The ordering of a purl type's versions, when we know it.
fn scheme(kind: &str) -> Option<Scheme> {
    Some(match kind {
        "deb" => Scheme::Dpkg,
        "rpm" => Scheme::Rpm,
        "apk" => Scheme::Apk,
        "os" => Scheme::Os,
        "npm" | "cargo" | "golang" => Scheme::Semver,
        "pypi" => Scheme::Pep440,
        "maven" => Scheme::Maven,
        _ => return None,
    })
}

/// A version as shown: an OS package's `0:` epoch is no epoch.
fn shown(kind: &str, v: &str) -> String {
    let v = v.trim();
    match family_of_kind(kind) {
        "os" => v.strip_prefix("0:").unwrap_or(v).to_string(),
        _ => v.to_string(),
    }
}

/// `a` ≤ `b` in `kind`'s order (equal text always is).
fn at_most(kind: &str, a: &str, b: &str) -> bool {
    shown(kind, a) == shown(kind, b)
        || scheme(kind)
            .and_then(|s| s.compare(a, b))
            .is_some_and(|o| o != Ordering::Greater)
}

/// Whether every package of `f` is upgraded by `steps` to at least its fix.
fn fixed_by(steps: &[Step], f: &Finding) -> bool {
    !f.packages.is_empty()
        && f.packages.iter().all(|p| {
            let Some(fix) = p.fixed_version() else {
                return false;
            };
            steps.iter().any(|s| {
                s.covers(p)
                    && match &s.upgrade_to {
                        Some(t) => at_most(&s.kind, fix, t),
                        None => s.unordered.iter().any(|u| at_most(&s.kind, fix, u)),
                    }
            })
        })
}

/// A package as the plan groups findings: family, name, installed version, file path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    name: String,
    installed: Option<String>,
    file_path: Option<String>,
    family: String,
}

impl Key {
    fn of(p: &Package) -> Key {
        Key {
            name: p.name.clone(),
            installed: p.installed(),
            file_path: p.file_path.clone(),
            family: family(p.package_manager.as_deref()),
        }
    }
}

/// A package with counted findings that an upgrade fixes.
struct Group {
    key: Key,
    /// Distinct fix versions, in the order first seen.
    fixes: Vec<String>,
    /// Counted fixable findings naming it, per severity.
    counts: BTreeMap<Severity, u64>,
}

impl Group {
    fn step(&self, os: Scheme) -> Step {
        let mut kind = self.key.family.clone();
        if kind == "os" {
            let versions = self.key.installed.iter().chain(&self.fixes);
            kind = os_kind(os_or(os, versions.map(String::as_str))).into();
        }
        let (upgrade_to, unordered) = greatest(&kind, &self.fixes);
        Step {
            package: self.key.name.clone(),
            installed: self.key.installed.clone(),
            file_path: self.key.file_path.clone(),
            upgrade_to: upgrade_to.map(|v| shown(&kind, &v)),
            unordered: unordered.iter().map(|v| shown(&kind, v)).collect(),
            fixes: self.counts.clone(),
            kind,
        }
    }
}

/// The greatest of `versions` in `kind`'s order, or (when they cannot be ordered) every one
/// that no other is known to exceed.
fn greatest(kind: &str, versions: &[String]) -> (Option<String>, Vec<String>) {
    let cmp = |a: &str, b: &str| {
        if shown(kind, a) == shown(kind, b) {
            Some(Ordering::Equal)
        } else {
            scheme(kind).and_then(|s| s.compare(a, b))
        }
    };
    let mut maximal: Vec<&String> = Vec::new();
    for v in versions {
        let beaten = versions.iter().any(|w| cmp(v, w) == Some(Ordering::Less));
        let duplicate = maximal.iter().any(|m| cmp(m, v) == Some(Ordering::Equal));
        if !beaten && !duplicate {
            maximal.push(v);
        }
    }
    match maximal.as_slice() {
        [one]
            if versions
                .iter()
                .all(|w| matches!(cmp(w, one), Some(Ordering::Less | Ordering::Equal))) =>
        {
            (Some((*one).clone()), Vec::new())
        }
        _ => (None, maximal.into_iter().cloned().collect()),
    }
}

fn sev_index(s: Severity) -> usize {
    s.rank()
}

/// Every upgrade the counted findings of `e` call for (one per package, with its target),
/// sorted by package; the plan picks its steps from these.
pub fn upgrades(e: &Evaluation) -> Vec<Step> {
    let os = os_scheme(e);
    groups(e).0.iter().map(|g| g.step(os)).collect()
}

/// The groups of counted fixable findings, and per counted finding the groups it needs
/// (`None`: no upgrade fixes it).
#[allow(clippy::type_complexity)]
fn groups(e: &Evaluation) -> (Vec<Group>, Vec<(Severity, String, Option<Vec<usize>>)>) {
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut counted = Vec::new();
    for j in &e.findings {
        if !matches!(j.disposition, Disposition::Counted { .. }) {
            continue;
        }
        let f = &j.finding;
        let fixable =
            !f.packages.is_empty() && f.packages.iter().all(|p| p.fixed_version().is_some());
        if !fixable {
            counted.push((f.severity, f.id.clone(), None));
            continue;
        }
        let mut needs = Vec::new();
        for p in &f.packages {
            let key = Key::of(p);
            let i = *index.entry(key.clone()).or_insert_with(|| {
                groups.push(Group {
                    key,
                    fixes: Vec::new(),
                    counts: BTreeMap::new(),
                });
                groups.len() - 1
            });
            if let Some(v) = p.fixed_version() {
                if !groups[i].fixes.iter().any(|x| x == v) {
                    groups[i].fixes.push(v.to_string());
                }
            }
            if !needs.contains(&i) {
                needs.push(i);
                *groups[i].counts.entry(f.severity).or_insert(0) += 1;
            }
        }
        counted.push((f.severity, f.id.clone(), Some(needs)));
    }
    // Sorted by package so that plans (and their tie-breaks) do not depend on finding order.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|a, b| groups[*a].key.cmp(&groups[*b].key));
    let mut new_index = vec![0; groups.len()];
    for (new, old) in order.iter().enumerate() {
        new_index[*old] = new;
    }
    for (_, _, needs) in &mut counted {
        if let Some(n) = needs {
            for g in n.iter_mut() {
                *g = new_index[*g];
            }
            n.sort_unstable();
        }
    }
    let mut slots: Vec<Option<Group>> = groups.into_iter().map(Some).collect();
    let groups = order.iter().filter_map(|&old| slots[old].take()).collect();
    (groups, counted)
}

/// Counted fixable findings with the same severity and the same packages, as one weight.
struct Item {
    sev: usize,
    /// Candidate indices, sorted.
    needs: Vec<usize>,
    count: u64,
}

/// The plan for one evaluated image under `policy` (the image's `repository` scopes the
/// ignore rules, as in [`crate::policy::eval::evaluate`]).
pub fn plan(e: &Evaluation, policy: &Policy, repository: Option<&str>) -> FixPlan {
    let (groups, counted) = groups(e);
    let max = |s: Severity| policy.max.get(&s).copied();

    let mut fixable = [0u64; 6];
    let mut without_fix = [0u64; 6];
    for (s, _, needs) in &counted {
        match needs {
            Some(_) => fixable[sev_index(*s)] += 1,
            None => without_fix[sev_index(*s)] += 1,
        }
    }
    let blocked: Vec<Severity> = Severity::ALL
        .into_iter()
        .filter(|s| max(*s).is_some_and(|m| without_fix[sev_index(*s)] > m))
        .collect();
    let mut unfixable: Vec<String> = Vec::new();
    for (s, id, needs) in &counted {
        if needs.is_none() && blocked.contains(s) && !unfixable.contains(id) {
            unfixable.push(id.clone());
        }
    }
    // How many fixable findings of each severity the upgrades must remove: all that exceed
    // the maximum, counting the findings without a fix unless they alone exceed it (then
    // they must be ignored anyway, and the steps are what is needed once they are).
    let mut need = [0u64; 6];
    for s in Severity::ALL {
        if let Some(m) = max(s) {
            let i = sev_index(s);
            let rest = if blocked.contains(&s) {
                0
            } else {
                without_fix[i]
            };
            need[i] = (fixable[i] + rest).saturating_sub(m);
        }
    }

    // Candidates: packages named by a finding of a severity that needs removals.
    let mut is_candidate = vec![false; groups.len()];
    for (s, _, needs) in &counted {
        if let Some(n) = needs {
            if need[sev_index(*s)] > 0 {
                n.iter().for_each(|g| is_candidate[*g] = true);
            }
        }
    }
    let candidates: Vec<usize> = (0..groups.len()).filter(|g| is_candidate[*g]).collect();
    let position: HashMap<usize, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, g)| (*g, i))
        .collect();
    let mut weights: BTreeMap<(usize, Vec<usize>), u64> = BTreeMap::new();
    for (s, _, needs) in &counted {
        if let Some(n) = needs {
            let mapped: Option<Vec<usize>> = n.iter().map(|g| position.get(g).copied()).collect();
            if let Some(m) = mapped {
                *weights.entry((sev_index(*s), m)).or_insert(0) += 1;
            }
        }
    }
    let items: Vec<Item> = weights
        .into_iter()
        .map(|((sev, needs), count)| Item { sev, needs, count })
        .collect();

    let (chosen, exact) = search(candidates.len(), &items, &need);
    let os = os_scheme(e);
    let mut steps: Vec<Step> = chosen
        .iter()
        .map(|c| groups[candidates[*c]].step(os))
        .collect();
    // Most severe fixes first, then by package.
    steps.sort_by(|a, b| {
        let key = |s: &Step| {
            Severity::ALL.map(|v| std::cmp::Reverse(s.fixes.get(&v).copied().unwrap_or(0)))
        };
        key(a).cmp(&key(b)).then_with(|| a.package.cmp(&b.package))
    });

    let stale_ignores = stale_ignores(e, policy, repository, &steps);
    FixPlan {
        passes_after: unfixable.is_empty(),
        exact,
        steps,
        unfixable,
        stale_ignores,
    }
}

/// Ignore rules that match no finding once `steps` are done, when unmatched rules fail.
fn stale_ignores(
    e: &Evaluation,
    policy: &Policy,
    repository: Option<&str>,
    steps: &[Step],
) -> Vec<String> {
    if policy.unmatched_ignore != UnmatchedIgnore::Fail {
        return Vec::new();
    }
    let remaining: Vec<&Finding> = e
        .findings
        .iter()
        .map(|j| &j.finding)
        .filter(|f| !fixed_by(steps, f))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for r in &policy.ignores {
        if !remaining.iter().any(|f| rule_matches(r, f, repository)) && !out.contains(&r.id) {
            out.push(r.id.clone());
        }
    }
    out
}

/// Per severity, the findings a set of candidates fixes.
fn fixed_counts(items: &[Item], chosen: impl Fn(usize) -> bool) -> [u64; 6] {
    let mut fixed = [0u64; 6];
    for it in items {
        if it.needs.iter().all(|g| chosen(*g)) {
            fixed[it.sev] += it.count;
        }
    }
    fixed
}

fn meets(fixed: &[u64; 6], need: &[u64; 6]) -> bool {
    fixed.iter().zip(need).all(|(f, n)| f >= n)
}

/// `n` choose `k`, saturating.
fn choose(n: u64, k: u64) -> u64 {
    // r * (n - i) / (i + 1) stays a whole number (it is C(n, i + 1)); once it no longer fits,
    // the budget is blown anyway.
    let mut r: u128 = 1;
    for i in 0..u128::from(k) {
        r = r * (u128::from(n) - i) / (i + 1);
        if r > u128::from(u64::MAX) {
            return u64::MAX;
        }
    }
    r as u64
}

/// The candidates to upgrade, and whether that set is known to be a smallest one.
///
/// A candidate without which `need` cannot be met is in every answer (with a maximum of 0,
/// that is every package with a finding of that severity): those are taken first, and only
/// the rest is searched.
fn search(n: usize, items: &[Item], need: &[u64; 6]) -> (Vec<usize>, bool) {
    if meets(&[0; 6], need) {
        return (Vec::new(), true);
    }
    let by_group = memberships(n, items);
    let all = fixed_counts(items, |_| true);
    let mandatory: Vec<bool> = (0..n)
        .map(|g| {
            let mut without = all;
            for &i in &by_group[g] {
                without[items[i].sev] -= items[i].count;
            }
            !meets(&without, need)
        })
        .collect();
    let base = fixed_counts(items, |g| mandatory[g]);
    let mut chosen: Vec<usize> = (0..n).filter(|g| mandatory[*g]).collect();
    if meets(&base, need) {
        return (chosen, true);
    }
    // The rest: what the mandatory ones leave to do, over the other candidates.
    let rest: Vec<usize> = (0..n).filter(|g| !mandatory[*g]).collect();
    let position: HashMap<usize, usize> = rest.iter().enumerate().map(|(i, g)| (*g, i)).collect();
    let residual_need: [u64; 6] = std::array::from_fn(|s| need[s].saturating_sub(base[s]));
    let residual: Vec<Item> = items
        .iter()
        .filter(|it| !it.needs.iter().all(|g| mandatory[*g]))
        .map(|it| Item {
            sev: it.sev,
            needs: it
                .needs
                .iter()
                .filter_map(|g| position.get(g).copied())
                .collect(),
            count: it.count,
        })
        .collect();
    let (more, exact) = search_rest(rest.len(), &residual, &residual_need);
    chosen.extend(more.into_iter().map(|i| rest[i]));
    chosen.sort_unstable();
    (chosen, exact)
}

/// For each candidate, the items naming it.
fn memberships(n: usize, items: &[Item]) -> Vec<Vec<usize>> {
    let mut by_group = vec![Vec::new(); n];
    for (i, it) in items.iter().enumerate() {
        for g in &it.needs {
            by_group[*g].push(i);
        }
    }
    by_group
}

/// The exact search within the budget when it can finish, else the greedy choice.
fn search_rest(n: usize, items: &[Item], need: &[u64; 6]) -> (Vec<usize>, bool) {
    if items.iter().all(|it| it.needs.len() == 1) {
        if let Some(chosen) = by_classes(n, items, need) {
            return (chosen, true);
        }
    }
    // Every size below `proven` has no passing set.
    let mut proven = 1;
    if n <= 128 {
        let masks: Vec<(usize, u128, u64)> = items
            .iter()
            .map(|it| {
                let m = it.needs.iter().fold(0u128, |m, g| m | (1u128 << g));
                (it.sev, m, it.count)
            })
            .collect();
        let mut spent = 0u64;
        for k in 1..=n {
            let sets = choose(n as u64, k as u64);
            if spent.saturating_add(sets) > EXACT_BUDGET {
                break;
            }
            spent += sets;
            if let Some(set) = best_of_size(n, k, &masks, need) {
                let chosen = (0..n).filter(|i| set & (1u128 << i) != 0).collect();
                return (chosen, true);
            }
            proven = k + 1;
        }
    }
    let chosen = greedy(n, items, need);
    let exact = chosen.len() <= proven;
    (chosen, exact)
}

/// The exact search when every finding left names one package: packages that fix the same
/// numbers of the same severities are interchangeable, so only how many of each such class
/// to take is searched (depth first, the most useful classes first, cut by a lower bound), at
/// most [`EXACT_BUDGET`] steps; `None` when the budget runs out.
fn by_classes(n: usize, items: &[Item], need: &[u64; 6]) -> Option<Vec<usize>> {
    let mut profile = vec![[0u64; 6]; n];
    for it in items {
        if need[it.sev] > 0 {
            profile[it.needs[0]][it.sev] += it.count;
        }
    }
    let mut classes: BTreeMap<[u64; 6], Vec<usize>> = BTreeMap::new();
    for (g, p) in profile.iter().enumerate() {
        if p.iter().any(|c| *c > 0) {
            classes.entry(*p).or_default().push(g);
        }
    }
    let mut classes: Vec<([u64; 6], Vec<usize>)> = classes.into_iter().collect();
    let value = |v: &[u64; 6]| -> u64 { (0..6).map(|s| v[s].min(need[s])).sum() };
    classes.sort_by(|a, b| value(&b.0).cmp(&value(&a.0)).then_with(|| b.0.cmp(&a.0)));
    // The largest count each severity can still get per package, from class k on.
    let mut best_from = vec![[0u64; 6]; classes.len() + 1];
    for k in (0..classes.len()).rev() {
        best_from[k] = std::array::from_fn(|s| best_from[k + 1][s].max(classes[k].0[s]));
    }

    struct Dfs<'a> {
        classes: &'a [([u64; 6], Vec<usize>)],
        best_from: &'a [[u64; 6]],
        need: &'a [u64; 6],
        counts: Vec<usize>,
        best: Option<(usize, [u64; 6], Vec<usize>)>,
        steps: u64,
    }
    impl Dfs<'_> {
        fn go(&mut self, k: usize, fixed: [u64; 6], total: usize) -> bool {
            self.steps += 1;
            if self.steps > EXACT_BUDGET {
                return false;
            }
            if meets(&fixed, self.need) {
                let better = match &self.best {
                    None => true,
                    Some((t, f, _)) => total < *t || (total == *t && fixed > *f),
                };
                if better {
                    self.best = Some((total, fixed, self.counts.clone()));
                }
                return true;
            }
            if k == self.classes.len() {
                return true;
            }
            // At least this many more packages, each giving at most the best left per severity.
            let mut bound = 0;
            for ((need, got), per) in self.need.iter().zip(fixed).zip(self.best_from[k]) {
                let deficit = need.saturating_sub(got);
                if deficit > 0 {
                    if per == 0 {
                        return true;
                    }
                    bound = bound.max(deficit.div_ceil(per) as usize);
                }
            }
            if self
                .best
                .as_ref()
                .is_some_and(|(t, _, _)| total + bound > *t)
            {
                return true;
            }
            let (v, members) = &self.classes[k];
            for c in (0..=members.len()).rev() {
                let f: [u64; 6] = std::array::from_fn(|s| fixed[s] + v[s] * c as u64);
                self.counts[k] = c;
                if !self.go(k + 1, f, total + c) {
                    return false;
                }
            }
            self.counts[k] = 0;
            true
        }
    }
    let mut dfs = Dfs {
        classes: &classes,
        best_from: &best_from,
        need,
        counts: vec![0; classes.len()],
        best: None,
        steps: 0,
    };
    if !dfs.go(0, [0; 6], 0) {
        return None;
    }
    let (_, _, counts) = dfs.best?;
    let mut chosen: Vec<usize> = classes
        .iter()
        .zip(counts)
        .flat_map(|((_, members), c)| members.iter().take(c).copied())
        .collect();
    chosen.sort_unstable();
    Some(chosen)
}

/// Among the sets of `k` candidates that meet `need`, the one that fixes the most (most
/// severe first); the first such in enumeration order on ties.
fn best_of_size(n: usize, k: usize, masks: &[(usize, u128, u64)], need: &[u64; 6]) -> Option<u128> {
    let limit: u128 = if n == 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    };
    let mut set: u128 = (1u128 << k) - 1;
    let mut best: Option<(u128, [u64; 6])> = None;
    loop {
        let mut fixed = [0u64; 6];
        for (sev, m, count) in masks {
            if m & !set == 0 {
                fixed[*sev] += count;
            }
        }
        if meets(&fixed, need) && best.as_ref().is_none_or(|(_, f)| fixed > *f) {
            best = Some((set, fixed));
        }
        // Gosper's hack: the next larger set with k members.
        let low = set & set.wrapping_neg();
        let Some(ripple) = set.checked_add(low) else {
            break;
        };
        let next = (((ripple ^ set) >> 2) / low) | ripple;
        if next > limit || next == 0 {
            break;
        }
        set = next;
    }
    best.map(|(s, _)| s)
}

/// How greedy ranks a candidate: what it removes of what is still needed, what is fixed with
/// it, how many findings still needed name it.
type GreedyKey = (u64, [u64; 6], u64);

/// Add the candidate that removes the most of what is still needed (else the one named by
/// the most findings still needed, for findings that need several packages) until `need`
/// is met; then drop any choice the rest does not need.
fn greedy(n: usize, items: &[Item], need: &[u64; 6]) -> Vec<usize> {
    let by_group = memberships(n, items);
    let mut chosen = vec![false; n];
    // Per item, how many of its packages are not chosen yet.
    let mut missing: Vec<usize> = items.iter().map(|it| it.needs.len()).collect();
    let mut fixed = [0u64; 6];
    let mut order = Vec::new();
    while !meets(&fixed, need) && order.len() < n {
        let deficit: [u64; 6] = std::array::from_fn(|s| need[s].saturating_sub(fixed[s]));
        // (gain, fixed with it, findings still needed it names), the candidate
        let mut best: Option<(GreedyKey, usize)> = None;
        for g in (0..n).filter(|g| !chosen[*g]) {
            let mut added = [0u64; 6];
            let mut touches = 0;
            for &i in &by_group[g] {
                let it = &items[i];
                if missing[i] == 1 {
                    added[it.sev] += it.count;
                }
                if deficit[it.sev] > 0 {
                    touches += it.count;
                }
            }
            let gain: u64 = (0..6).map(|s| added[s].min(deficit[s])).sum();
            let with: [u64; 6] = std::array::from_fn(|s| fixed[s] + added[s]);
            let key = (gain, with, touches);
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, g));
            }
        }
        let Some((_, g)) = best else { break };
        chosen[g] = true;
        order.push(g);
        for &i in &by_group[g] {
            missing[i] -= 1;
            if missing[i] == 0 {
                fixed[items[i].sev] += items[i].count;
            }
        }
    }
    for &g in order.iter().rev() {
        let mut without = fixed;
        for &i in &by_group[g] {
            if missing[i] == 0 {
                without[items[i].sev] -= items[i].count;
            }
        }
        if meets(&without, need) {
            chosen[g] = false;
            fixed = without;
            for &i in &by_group[g] {
                missing[i] += 1;
            }
        }
    }
    (0..n).filter(|g| chosen[*g]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::eval::{evaluate, Verdict};
    use crate::policy::IgnoreRule;
    use proptest::prelude::*;
    use time::macros::date;
    use time::Date;

    const TODAY: Date = date!(2026 - 11 - 22);
    const REPO: Option<&str> = Some("app/web");

    fn deb(name: &str, version: &str, release: &str, fixed: Option<&str>) -> Package {
        Package {
            name: name.into(),
            version: Some(version.into()),
            release: Some(release.into()),
            fixed_in_version: Some(fixed.unwrap_or("NotAvailable").into()),
            package_manager: Some("OS".into()),
            ..Default::default()
        }
    }

    fn npm(name: &str, version: &str, fixed: Option<&str>) -> Package {
        Package {
            name: name.into(),
            version: Some(version.into()),
            fixed_in_version: fixed.map(str::to_string),
            package_manager: Some("NPM".into()),
            file_path: Some(format!("app/node_modules/{name}/package.json")),
            ..Default::default()
        }
    }

    fn finding(id: &str, sev: Severity, packages: Vec<Package>) -> Finding {
        let fixed = packages.iter().all(|p| p.fixed_version().is_some());
        Finding {
            id: id.into(),
            severity: sev,
            title: id.into(),
            description: None,
            finding_arn: None,
            fix_available: Some(if fixed { "YES" } else { "NO" }.into()),
            exploit_available: None,
            inspector_score: None,
            epss_score: None,
            packages,
            source_url: None,
            remediation: None,
            image_digest: None,
            repository: Some("app/web".into()),
            suppressed: false,
        }
    }

    fn fail_on(s: Severity) -> Policy {
        let mut p = Policy::default();
        p.apply_fail_on(s);
        p
    }

    /// Whether doing the plan makes `findings` pass `policy` (re-evaluated).
    fn passes(plan: &FixPlan, policy: &Policy, findings: &[Finding]) -> bool {
        let remaining = plan.apply(findings);
        let p = plan.policy_after(policy, &remaining, REPO);
        evaluate(&p, &remaining, REPO, TODAY).verdict == Verdict::Pass
    }

    #[test]
    fn one_upgrade_to_the_greatest_fix_clears_a_package() {
        // openssl three times with two fix versions: one upgrade, to the greater.
        let fs = [
            finding(
                "CVE-1",
                Severity::Critical,
                vec![deb(
                    "openssl",
                    "3.0.11",
                    "1~deb12u2",
                    Some("0:3.0.13-1~deb12u1"),
                )],
            ),
            finding(
                "CVE-2",
                Severity::High,
                vec![deb(
                    "openssl",
                    "3.0.11",
                    "1~deb12u2",
                    Some("0:3.0.14-1~deb12u2"),
                )],
            ),
            finding(
                "CVE-3",
                Severity::High,
                vec![deb(
                    "openssl",
                    "3.0.11",
                    "1~deb12u2",
                    Some("3.0.13-1~deb12u1"),
                )],
            ),
            finding(
                "CVE-4",
                Severity::Medium,
                vec![deb("zlib1g", "1.2.13.dfsg", "1", Some("1:1.2.13.dfsg-2"))],
            ),
        ];
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert!(plan.passes_after && plan.exact, "{plan:?}");
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        let s = &plan.steps[0];
        assert_eq!(s.kind, "deb");
        assert_eq!(s.installed.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(s.upgrade_to.as_deref(), Some("3.0.14-1~deb12u2"));
        assert_eq!(
            s.line(),
            "upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2 (fixes 1 CRITICAL, 2 HIGH)"
        );
        assert_eq!(
            plan.headline().as_deref(),
            Some("To pass: upgrade openssl 3.0.11-1~deb12u2 → 3.0.14-1~deb12u2 (fixes 1 CRITICAL, 2 HIGH).")
        );
        assert!(passes(&plan, &policy, &fs));
        // The MEDIUM zlib upgrade is not needed to pass.
        assert!(upgrades(&e).iter().any(|u| u.package == "zlib1g"));
    }

    #[test]
    fn the_fewest_upgrades_are_chosen_over_the_greedy_first_pick() {
        // 5 CRITICAL and 5 HIGH, at most 2 of each: 3 of each must go. `both` removes the
        // most at once (2 + 2) but is not needed: `crit` (3 CRITICAL) and `high` (3 HIGH) are
        // enough together.
        let p = |n: &str| npm(n, "1.0.0", Some("1.0.1"));
        let mut fs = Vec::new();
        for (pkg, sev, n) in [
            ("both", Severity::Critical, 2),
            ("both", Severity::High, 2),
            ("crit", Severity::Critical, 3),
            ("high", Severity::High, 3),
        ] {
            for i in 0..n {
                fs.push(finding(&format!("CVE-{pkg}-{sev}-{i}"), sev, vec![p(pkg)]));
            }
        }
        let mut policy = Policy::default();
        policy.max.insert(Severity::Critical, 2);
        policy.max.insert(Severity::High, 2);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        let names: Vec<&str> = plan.steps.iter().map(|s| s.package.as_str()).collect();
        assert_eq!(names, ["crit", "high"], "{plan:?}");
        assert!(plan.exact && passes(&plan, &policy, &fs));
        // Greedy takes `both` first, then `crit` and `high`, and prunes `both` again.
        let items: Vec<Item> = [(0, 0, 2), (1, 0, 2), (0, 1, 3), (1, 2, 3)]
            .into_iter()
            .map(|(sev, g, count)| Item {
                sev,
                needs: vec![g],
                count,
            })
            .collect();
        assert_eq!(greedy(3, &items, &[3, 3, 0, 0, 0, 0]), [1, 2]);
    }

    #[test]
    fn findings_without_a_fix_that_alone_violate_mean_no_upgrade_passes() {
        let fs = [
            finding(
                "CVE-9",
                Severity::Critical,
                vec![deb("libc6", "2.36", "9+deb12u3", None)],
            ),
            finding(
                "CVE-1",
                Severity::High,
                vec![deb("libc6", "2.36", "9+deb12u3", Some("2.36-9+deb12u7"))],
            ),
            finding("CVE-7", Severity::High, vec![]),
        ];
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert!(!plan.passes_after);
        assert_eq!(plan.unfixable, ["CVE-9", "CVE-7"]);
        // Once they are ignored, libc6 still needs its upgrade.
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].installed.as_deref(), Some("2.36-9+deb12u3"));
        assert_eq!(plan.steps[0].upgrade_to.as_deref(), Some("2.36-9+deb12u7"));
        let lines = plan.lines(usize::MAX);
        assert!(lines[0].starts_with("no upgrade makes it pass: no fix is known for CVE-9, CVE-7; ignore them with a reason and an expiry, or wait for a fix"), "{lines:?}");
        assert!(
            lines[1].starts_with("once they are ignored: upgrade libc6"),
            "{lines:?}"
        );
        assert!(!passes(&plan, &policy, &fs));
        assert!(plan
            .headline()
            .unwrap()
            .starts_with("No upgrade makes it pass"));
    }

    #[test]
    fn findings_without_a_fix_within_the_maximum_still_count() {
        // HIGH max 1: one HIGH has no fix, so both fixable HIGHs must go.
        let fs = [
            finding("CVE-0", Severity::High, vec![npm("a", "1.0.0", None)]),
            finding(
                "CVE-1",
                Severity::High,
                vec![npm("b", "1.0.0", Some("1.0.1"))],
            ),
            finding(
                "CVE-2",
                Severity::High,
                vec![npm("c", "1.0.0", Some("2.0.0"))],
            ),
        ];
        let mut policy = Policy::default();
        policy.max.insert(Severity::High, 1);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert!(plan.passes_after && plan.unfixable.is_empty());
        assert_eq!(plan.steps.len(), 2);
        assert!(passes(&plan, &policy, &fs));
    }

    #[test]
    fn fix_versions_that_cannot_be_ordered_are_all_listed() {
        let fs = [
            finding(
                "CVE-1",
                Severity::High,
                vec![npm("q", "1.0.0", Some("1.2.0"))],
            ),
            finding(
                "CVE-2",
                Severity::High,
                vec![npm("q", "1.0.0", Some("1.3.0"))],
            ),
            finding(
                "CVE-3",
                Severity::High,
                vec![npm("q", "1.0.0", Some("2.x"))],
            ),
        ];
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        let s = &plan.steps[0];
        assert_eq!(s.upgrade_to, None);
        assert_eq!(s.unordered, ["1.3.0", "2.x"]);
        assert!(
            s.line()
                .contains("→ a version at least as new as 1.3.0 and 2.x"),
            "{}",
            s.line()
        );
        assert!(passes(&plan, &policy, &fs));
    }

    #[test]
    fn packages_are_told_apart_by_version_path_and_ecosystem() {
        let mut other_path = npm("lodash", "4.17.20", Some("4.17.21"));
        other_path.file_path = Some("other/node_modules/lodash/package.json".into());
        let fs = [
            finding(
                "CVE-1",
                Severity::High,
                vec![npm("lodash", "4.17.20", Some("4.17.21"))],
            ),
            finding("CVE-1", Severity::High, vec![other_path]),
            finding(
                "CVE-2",
                Severity::High,
                vec![npm("lodash", "4.17.19", Some("4.17.21"))],
            ),
            finding(
                "CVE-3",
                Severity::High,
                vec![Package {
                    package_manager: Some("PYTHONPKG".into()),
                    ..npm("lodash", "4.17.20", Some("4.17.21"))
                }],
            ),
        ];
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert_eq!(plan.steps.len(), 4, "{plan:?}");
        assert!(plan.steps.iter().any(|s| s.kind == "pypi"));
        assert!(passes(&plan, &policy, &fs));
    }

    #[test]
    fn stale_ignore_rules_are_listed_when_unmatched_rules_fail() {
        // An expired rule on CVE-1 (its finding counts again) and a rule matching nothing.
        let fs = [finding(
            "CVE-1",
            Severity::High,
            vec![npm("a", "1.0.0", Some("1.0.1"))],
        )];
        let mut policy = fail_on(Severity::High);
        policy.unmatched_ignore = UnmatchedIgnore::Fail;
        let rule = |id: &str, expires| IgnoreRule {
            id: id.into(),
            reason: "r".into(),
            expires,
            package: None,
            repository: None,
            vex: None,
        };
        policy.ignores = vec![
            rule("CVE-1", Some(date!(2026 - 01 - 01))),
            rule("CVE-404", None),
        ];
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert_eq!(plan.stale_ignores, ["CVE-1", "CVE-404"]);
        assert!(plan.passes_after && passes(&plan, &policy, &fs));
        assert!(plan
            .lines(usize::MAX)
            .iter()
            .any(|l| l.starts_with("delete ignore rule CVE-404")));
        // Warn: nothing to delete.
        policy.unmatched_ignore = UnmatchedIgnore::Warn;
        let e = evaluate(&policy, &fs, REPO, TODAY);
        assert!(super::plan(&e, &policy, REPO).stale_ignores.is_empty());
    }

    #[test]
    fn an_os_package_takes_the_distribution_its_image_reveals() {
        let fs = [
            finding(
                "CVE-1",
                Severity::High,
                vec![deb("tzdata", "2024a", "0", Some("2024b-0"))],
            ),
            finding(
                "CVE-2",
                Severity::Low,
                vec![deb("libc6", "2.36", "9+deb12u3", Some("2.36-9+deb12u7"))],
            ),
        ];
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        assert_eq!(os_scheme(&e), Scheme::Dpkg);
        assert_eq!(plan(&e, &policy, REPO).steps[0].kind, "deb");
        assert_eq!(package_type(&fs[0].packages[0], os_scheme(&e)), "deb");
        // Alone, its versions do not tell.
        assert_eq!(package_type(&fs[0].packages[0], Scheme::Os), "os");
    }

    #[test]
    fn a_passing_image_has_nothing_to_do() {
        let fs = [finding(
            "CVE-1",
            Severity::Low,
            vec![npm("a", "1.0.0", Some("1.0.1"))],
        )];
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &fs, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert_eq!(plan, FixPlan::nothing());
        assert!(plan.is_empty() && plan.headline().is_none() && plan.lines(usize::MAX).is_empty());
    }

    #[test]
    fn beyond_the_exact_budget_the_plan_is_greedy_and_says_so() {
        // 40 packages in a ring, each HIGH naming two neighbours, at most 5: 35 must go.
        // Neither package is needed alone, findings name two packages (no classes), and
        // C(40, k) sets blow the budget: greedy.
        let p = |i: usize| npm(&format!("p{:02}", i % 40), "1.0.0", Some("1.0.1"));
        let ring: Vec<Finding> = (0..40)
            .map(|i| finding(&format!("CVE-{i}"), Severity::High, vec![p(i), p(i + 1)]))
            .collect();
        let mut policy = Policy::default();
        policy.max.insert(Severity::High, 5);
        let e = evaluate(&policy, &ring, REPO, TODAY);
        let plan = plan(&e, &policy, REPO);
        assert!(!plan.exact, "{plan:?}");
        assert!(plan
            .lines(usize::MAX)
            .last()
            .unwrap()
            .contains("found greedily"));
        assert!(passes(&plan, &policy, &ring));
        // 36 consecutive packages fix 35 findings: greedy finds that length here.
        assert_eq!(plan.steps.len(), 36);

        // 40 packages of one finding each: interchangeable, so the search is over how many
        // to take, and exact.
        let single: Vec<Finding> = (0..40)
            .map(|i| finding(&format!("CVE-{i}"), Severity::High, vec![p(i)]))
            .collect();
        let e = evaluate(&policy, &single, REPO, TODAY);
        let plan = super::plan(&e, &policy, REPO);
        assert!(plan.exact && plan.steps.len() == 35);
        assert!(passes(&plan, &policy, &single));
        // fail-on: every package with a finding is needed, found without a search.
        let policy = fail_on(Severity::High);
        let e = evaluate(&policy, &ring, REPO, TODAY);
        let plan = super::plan(&e, &policy, REPO);
        assert!(plan.exact && plan.steps.len() == 40);
    }

    /// The time to work out the plan of 1,000 findings: the 1,000-finding image of
    /// scripts/bench-gate (one package each, CRITICAL/HIGH/MEDIUM/LOW in turn) under three
    /// policies, and the report fixture's 1,000 findings (five packages in 200 versions).
    /// Run by scripts/bench-fixplan; ignored in the default run.
    #[test]
    #[ignore]
    fn bench_plan_of_1000_findings() {
        use std::time::Instant;
        let sev = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ];
        let gate_image: Vec<Finding> = (0..1000)
            .map(|i| {
                let mut f = finding(
                    &format!("CVE-2024-{i:05}"),
                    sev[i % 4],
                    vec![Package {
                        name: format!("pkg{i}"),
                        version: Some("1.0".into()),
                        fixed_in_version: Some("1.1".into()),
                        ..Default::default()
                    }],
                );
                f.inspector_score = Some(5.0);
                f
            })
            .collect();
        let max = |pairs: &[(Severity, u64)]| Policy {
            max: pairs.iter().copied().collect(),
            ..Default::default()
        };
        let img = crate::report::testing::image(None);
        let fixture: Vec<Finding> = (0..1000)
            .map(|i| crate::report::testing::finding(i, &img))
            .collect();
        let p = |i: usize| npm(&format!("p{:02}", i % 20), "1.0.0", Some("1.0.1"));
        let ring: Vec<Finding> = (0..20)
            .map(|i| finding(&format!("CVE-{i}"), Severity::High, vec![p(i), p(i + 1)]))
            .collect();
        let cases: Vec<(&str, &[Finding], Policy)> = vec![
            (
                "bench-gate image, fail-on CRITICAL",
                &gate_image,
                fail_on(Severity::Critical),
            ),
            (
                "bench-gate image, fail-on HIGH",
                &gate_image,
                fail_on(Severity::High),
            ),
            (
                "bench-gate image, max-critical 240 max-high 240",
                &gate_image,
                max(&[(Severity::Critical, 240), (Severity::High, 240)]),
            ),
            (
                "report fixture, its policy",
                &fixture,
                crate::report::testing::policy(),
            ),
            // The exact search's worst case: 20 packages, each finding naming two, 17 needed.
            (
                "20 packages in a ring, max-high 4 (every set tried)",
                &ring,
                max(&[(Severity::High, 4)]),
            ),
        ];
        for (name, fs, policy) in cases {
            let e = evaluate(&policy, fs, REPO, TODAY);
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..9 {
                let t = Instant::now();
                last = Some(plan(&e, &policy, REPO));
                times.push(t.elapsed());
            }
            times.sort();
            let p = last.unwrap();
            assert!(passes(&p, &policy, fs));
            println!(
                "{name}: {} upgrade(s), exact {}, median {:.1} ms (min {:.1} ms) over 9 runs",
                p.steps.len(),
                p.exact,
                times[4].as_secs_f64() * 1e3,
                times[0].as_secs_f64() * 1e3
            );
        }
    }

    #[test]
    fn choose_counts_sets() {
        assert_eq!(choose(20, 10), 184_756);
        assert_eq!((0..=20).map(|k| choose(20, k)).sum::<u64>(), EXACT_BUDGET);
        assert_eq!(choose(200, 100), u64::MAX);
        assert_eq!(choose(40, 2), 780);
    }

    // ---- properties -------------------------------------------------------------------

    /// Findings over a few packages (npm, and Debian with a revision), fix versions from a
    /// small ordered set or none, some naming two packages.
    fn arb_findings() -> impl Strategy<Value = Vec<Finding>> {
        let pkg = (0usize..5, prop::option::weighted(0.85, 1u8..5)).prop_map(|(n, fix)| {
            let name = ["a", "b", "c", "libd", "libe"][n];
            if n < 3 {
                npm(name, "1.0.0", fix.map(|f| format!("1.{f}.0")).as_deref())
            } else {
                deb(
                    name,
                    "2.0",
                    "1+deb12u1",
                    fix.map(|f| format!("0:2.0-1+deb12u{}", f + 1)).as_deref(),
                )
            }
        });
        prop::collection::vec(
            (0usize..6, 0u8..12, prop::collection::vec(pkg, 0..3)),
            0..14,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(s, id, pkgs)| finding(&format!("CVE-{id}"), Severity::ALL[s], pkgs))
                .collect()
        })
    }

    fn arb_policy() -> impl Strategy<Value = Policy> {
        (
            prop::collection::btree_map(0usize..6, 0u64..3, 0..6),
            any::<bool>(),
            prop::collection::vec((0u8..14, any::<bool>()), 0..3),
            any::<bool>(),
        )
            .prop_map(|(max, unfixed, rules, fail_unmatched)| Policy {
                max: max
                    .into_iter()
                    .map(|(s, m)| (Severity::ALL[s], m))
                    .collect(),
                ignore_unfixed: unfixed,
                ignores: rules
                    .into_iter()
                    .map(|(i, expired)| IgnoreRule {
                        id: format!("CVE-{i}"),
                        reason: "r".into(),
                        expires: expired.then_some(date!(2026 - 01 - 01)),
                        package: None,
                        repository: None,
                        vex: None,
                    })
                    .collect(),
                unmatched_ignore: if fail_unmatched {
                    UnmatchedIgnore::Fail
                } else {
                    UnmatchedIgnore::Warn
                },
                ..Default::default()
            })
    }

    /// Doing `steps` and deleting every ignore rule left matching nothing (what a plan may
    /// ask for) passes.
    fn steps_pass(steps: &[Step], policy: &Policy, findings: &[Finding]) -> bool {
        let remaining: Vec<Finding> = findings
            .iter()
            .filter(|f| !fixed_by(steps, f))
            .cloned()
            .collect();
        let mut p = policy.clone();
        if p.unmatched_ignore == UnmatchedIgnore::Fail {
            p.ignores
                .retain(|r| remaining.iter().any(|f| rule_matches(r, f, REPO)));
        }
        evaluate(&p, &remaining, REPO, TODAY).verdict == Verdict::Pass
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn doing_the_plan_passes_and_no_smaller_set_does(policy in arb_policy(), fs in arb_findings()) {
            let e = evaluate(&policy, &fs, REPO, TODAY);
            let plan = plan(&e, &policy, REPO);
            let all = upgrades(&e);
            prop_assert!(all.len() <= 20 && plan.exact);
            if plan.passes_after {
                prop_assert!(passes(&plan, &policy, &fs), "plan {:?} does not pass", plan);
            } else {
                prop_assert!(!plan.unfixable.is_empty());
            }
            // Every set of the possible upgrades smaller than the plan fails; when no upgrade
            // passes, every set does.
            for set in 0u32..(1 << all.len()) {
                let steps: Vec<Step> = (0..all.len())
                    .filter(|i| set & (1 << i) != 0)
                    .map(|i| all[i].clone())
                    .collect();
                if !plan.passes_after || steps.len() < plan.steps.len() {
                    prop_assert!(
                        !steps_pass(&steps, &policy, &fs),
                        "{} upgrade(s) pass, plan {:?}", steps.len(), plan
                    );
                }
            }
            if e.verdict == Verdict::Pass {
                prop_assert!(plan.steps.is_empty() && plan.unfixable.is_empty());
            }
        }

        #[test]
        fn the_greedy_plan_passes_too(policy in arb_policy(), fs in arb_findings()) {
            let e = evaluate(&policy, &fs, REPO, TODAY);
            let p = plan(&e, &policy, REPO);
            // Re-plan with no exact search: the greedy choice must pass wherever the plan can.
            let steps = {
                let (g, counted) = super::groups(&e);
                let max = |s: Severity| policy.max.get(&s).copied();
                let mut need = [0u64; 6];
                let mut fixable = [0u64; 6];
                let mut without = [0u64; 6];
                for (s, _, n) in &counted {
                    if n.is_some() { fixable[sev_index(*s)] += 1 } else { without[sev_index(*s)] += 1 }
                }
                for s in Severity::ALL {
                    if let Some(m) = max(s) {
                        let i = sev_index(s);
                        let rest = if without[i] > m { 0 } else { without[i] };
                        need[i] = (fixable[i] + rest).saturating_sub(m);
                    }
                }
                let mut w: BTreeMap<(usize, Vec<usize>), u64> = BTreeMap::new();
                for (s, _, n) in &counted {
                    if let Some(n) = n { *w.entry((sev_index(*s), n.clone())).or_insert(0) += 1; }
                }
                let items: Vec<Item> = w.into_iter().map(|((sev, needs), count)| Item { sev, needs, count }).collect();
                greedy(g.len(), &items, &need).into_iter().map(|i| g[i].step(os_scheme(&e))).collect::<Vec<_>>()
            };
            prop_assert!(steps.len() >= p.steps.len());
            if p.passes_after {
                prop_assert!(steps_pass(&steps, &policy, &fs), "greedy {:?}", steps);
            }
        }
    }
}
