//! OpenVEX documents in (`--vex FILE`, policy key `vex`): read one document into its
//! statements (bounded, every field the gate relies on checked, one line naming the file and
//! the problem otherwise), and turn the statements about one gated image into ignore rules
//! ([`rules_for`]). Pure apart from [`load`], which only reads the file.
//!
//! Which statements may ignore anything is the CI owner's floor's to say, exactly where ignore
//! rules are governed (`file::Resolution::vex`: `allow-vex` names the authors, `allow-ignore`
//! the vulnerability ids); this module only reads and matches.
//!
//! Matching fails closed: a statement applies only to a product that names the gated image by
//! its digest (a `pkg:oci/…@sha256%3A…` purl, a plain `sha256:…` digest, or the product's
//! `sha-256` hash); `subcomponents` narrow it to findings in those packages; a later
//! `affected` or `under_investigation` statement about the same vulnerability cancels an
//! earlier `not_affected` or `fixed` one.

use super::IgnoreRule;
use crate::error::{Error, Result};
use crate::model::Package;
use crate::scan::purl;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// A VEX document larger than this is not read into memory: refused (exit 2).
pub const MAX_VEX_BYTES: u64 = 16 * 1024 * 1024;

/// An impact statement longer than this is cut in the ignore reason (the document keeps it).
const MAX_IMPACT_CHARS: usize = 300;

/// A statement's status label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

const STATUSES: [(&str, Status); 4] = [
    ("not_affected", Status::NotAffected),
    ("affected", Status::Affected),
    ("fixed", Status::Fixed),
    ("under_investigation", Status::UnderInvestigation),
];

impl Status {
    pub fn as_str(self) -> &'static str {
        STATUSES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("", |(w, _)| w)
    }

    /// `not_affected` and `fixed`: the image is not exposed, so the finding is ignored.
    pub fn ignores(self) -> bool {
        matches!(self, Status::NotAffected | Status::Fixed)
    }
}

/// The justification labels of the VEX working group's Status Justifications.
pub const JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// One statement of a document, with what it inherits from the document (author, id,
/// timestamp) filled in: what the effective policy carries (`Policy::vex`) and report.json shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// The document's `@id`.
    pub document: String,
    /// The document's `author`.
    pub author: String,
    /// The statement's timestamp, else the document's.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// `vulnerability.name`.
    pub vulnerability: String,
    /// The ids the statement may ignore: the name and its aliases (the floor may keep fewer).
    pub ids: Vec<String>,
    pub products: Vec<Product>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// Set by the floor's `max-ignore-days`: the ignore stops applying after this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Date>,
}

/// A product of a statement: the names it goes by and the subcomponents that narrow it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// `@id`, `identifiers.purl` and, from `hashes.sha-256`, `sha256:<hex>`.
    pub ids: Vec<String>,
    /// Each subcomponent's purl (else its `@id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<String>,
}

/// Where an ignore rule made from a VEX statement came from, and what narrows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub document: String,
    pub author: String,
    pub status: Status,
    /// The findings it ignores must be in one of these packages (purls); empty: any package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<String>,
}

/// Read and parse the VEX document at `path` (exit 2 when it cannot be read or is not a valid
/// OpenVEX document).
pub fn load(path: &Path) -> Result<Vec<Statement>> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::usage(format!("cannot read VEX document {shown}: {e}")))?;
    if meta.len() > MAX_VEX_BYTES {
        return Err(Error::usage(format!(
            "VEX document {shown} is {} bytes, more than the {MAX_VEX_BYTES} a VEX document may have",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read VEX document {shown}: {e}")))?;
    parse(&text, &shown.to_string())
}

/// Parse an OpenVEX document's text; `file` names it in the one-line error.
pub fn parse(text: &str, file: &str) -> Result<Vec<Statement>> {
    document(text).map_err(|m| {
        Error::usage(format!(
            "invalid VEX document {file}: {}",
            crate::sanitize::text(&m)
        ))
    })
}

fn document(text: &str) -> std::result::Result<Vec<Statement>, String> {
    if text.trim().is_empty() {
        return Err("the file is empty (expected an OpenVEX JSON document)".into());
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let doc = v.as_object().ok_or("not a JSON object")?;
    let context = match doc.get("@context") {
        Some(Value::String(c)) => c.as_str(),
        Some(_) => return Err("@context must be a string".into()),
        None if doc.contains_key("bomFormat") => {
            return Err("a CycloneDX document, not OpenVEX (only OpenVEX is read)".into())
        }
        None if doc
            .get("document")
            .and_then(|d| d.get("csaf_version"))
            .is_some() =>
        {
            return Err("a CSAF document, not OpenVEX (only OpenVEX is read)".into())
        }
        None => return Err("no @context: not an OpenVEX document".into()),
    };
    if !context.starts_with("https://openvex.dev/ns") {
        return Err(format!(
            "@context '{context}' is not OpenVEX's (https://openvex.dev/ns/v0.2.0)"
        ));
    }
    let id = required_str(doc, "@id")?;
    let author = required_str(doc, "author")?;
    let timestamp = timestamp(doc, "timestamp")?.ok_or("no timestamp")?;
    let statements = match doc.get("statements") {
        Some(Value::Array(s)) => s,
        Some(_) => return Err("statements must be a list".into()),
        None => return Err("no statements".into()),
    };
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            statement(s, &id, &author, timestamp).map_err(|m| format!("statements[{i}]: {m}"))
        })
        .collect()
}

fn statement(
    v: &Value,
    document: &str,
    author: &str,
    doc_time: OffsetDateTime,
) -> std::result::Result<Statement, String> {
    let s = v.as_object().ok_or("not an object")?;
    // OpenVEX v0.0.1 wrote the vulnerability as a bare string.
    let (name, aliases) = match s.get("vulnerability") {
        Some(Value::String(n)) => (n.trim().to_string(), Vec::new()),
        Some(Value::Object(o)) => (required_str(o, "name")?, strings(o, "aliases")?),
        Some(_) => return Err("vulnerability must be an object with a name".into()),
        None => return Err("no vulnerability".into()),
    };
    if name.is_empty() {
        return Err("vulnerability name is empty".into());
    }
    let word = required_str(s, "status")?;
    let status = STATUSES
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, st)| *st)
        .ok_or_else(|| {
            format!(
                "status '{word}' is not one of not_affected, affected, fixed, under_investigation"
            )
        })?;
    let justification = optional_str(s, "justification")?;
    if let Some(j) = justification.as_deref() {
        if !JUSTIFICATIONS.contains(&j) {
            return Err(format!(
                "justification '{j}' is not one of {}",
                JUSTIFICATIONS.join(", ")
            ));
        }
    }
    let impact_statement = optional_str(s, "impact_statement")?;
    if status == Status::NotAffected && justification.is_none() && impact_statement.is_none() {
        return Err(format!(
            "{name} is not_affected without a justification or an impact_statement (the spec requires one)"
        ));
    }
    // v0.0.1 listed subcomponents beside the products: they narrow every product.
    let shared_subs = strings(s, "subcomponents")?;
    let products = match s.get("products") {
        Some(Value::Array(p)) if !p.is_empty() => p
            .iter()
            .enumerate()
            .map(|(j, p)| product(p, &shared_subs).map_err(|m| format!("products[{j}]: {m}")))
            .collect::<std::result::Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) | None => {
            return Err(format!(
                "{name} names no product (a statement applies only to the products it lists)"
            ))
        }
        Some(_) => return Err("products must be a list".into()),
    };
    let mut ids = vec![name.clone()];
    for a in aliases {
        if !ids.iter().any(|i| i.eq_ignore_ascii_case(&a)) {
            ids.push(a);
        }
    }
    Ok(Statement {
        document: document.to_string(),
        author: author.to_string(),
        timestamp: timestamp(s, "timestamp")?.unwrap_or(doc_time),
        vulnerability: name,
        ids,
        products,
        status,
        justification,
        impact_statement,
        expires: None,
    })
}

fn product(v: &Value, shared_subs: &[String]) -> std::result::Result<Product, String> {
    let p = match v {
        // v0.0.1: a product was its id.
        Value::String(id) => {
            return Ok(Product {
                ids: vec![id.trim().to_string()],
                subcomponents: shared_subs.to_vec(),
            })
        }
        Value::Object(p) => p,
        _ => return Err("not an object".into()),
    };
    let mut ids = component_ids(p)?;
    if let Some(h) = p.get("hashes") {
        let h = h.as_object().ok_or("hashes must be an object")?;
        if let Some(hex) = optional_str(h, "sha-256")? {
            ids.push(format!("sha256:{}", hex.to_ascii_lowercase()));
        }
    }
    if ids.is_empty() {
        return Err("names nothing (give an @id, identifiers.purl or hashes)".into());
    }
    let mut subcomponents = shared_subs.to_vec();
    match p.get("subcomponents") {
        Some(Value::Array(subs)) => {
            for (k, sub) in subs.iter().enumerate() {
                let o = sub
                    .as_object()
                    .ok_or_else(|| format!("subcomponents[{k}]: not an object"))?;
                let ids = component_ids(o).map_err(|m| format!("subcomponents[{k}]: {m}"))?;
                // The purl (last pushed) is what a package is matched by.
                let id = ids.last().ok_or_else(|| {
                    format!("subcomponents[{k}]: names nothing (give an @id or identifiers.purl)")
                })?;
                subcomponents.push(id.clone());
            }
        }
        Some(_) => return Err("subcomponents must be a list".into()),
        None => {}
    }
    Ok(Product { ids, subcomponents })
}

/// A component's `@id` and `identifiers.purl`, in that order.
fn component_ids(c: &Map<String, Value>) -> std::result::Result<Vec<String>, String> {
    let mut ids = Vec::new();
    if let Some(id) = optional_str(c, "@id")? {
        ids.push(id);
    }
    if let Some(i) = c.get("identifiers") {
        let i = i.as_object().ok_or("identifiers must be an object")?;
        if let Some(purl) = optional_str(i, "purl")? {
            ids.push(purl);
        }
    }
    Ok(ids)
}

fn required_str(o: &Map<String, Value>, key: &str) -> std::result::Result<String, String> {
    optional_str(o, key)?.ok_or_else(|| format!("no {key}"))
}

/// A string field, trimmed; empty counts as absent.
fn optional_str(o: &Map<String, Value>, key: &str) -> std::result::Result<Option<String>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn strings(o: &Map<String, Value>, key: &str) -> std::result::Result<Vec<String>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| format!("{key} must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}

fn timestamp(
    o: &Map<String, Value>,
    key: &str,
) -> std::result::Result<Option<OffsetDateTime>, String> {
    optional_str(o, key)?
        .map(|t| {
            OffsetDateTime::parse(&t, &Rfc3339)
                .map_err(|_| format!("{key} '{t}' is not an RFC 3339 time"))
        })
        .transpose()
}

/// Does product name `id` name the image whose manifest digest is `digest`?
fn names_digest(id: &str, digest: &str) -> bool {
    let id = id.trim();
    if !digest.starts_with("sha256:") {
        return false;
    }
    if id.eq_ignore_ascii_case(digest) {
        return true;
    }
    let p = purl::parse(id);
    p.ty == "oci"
        && id.starts_with("pkg:")
        && p.version.is_some_and(|v| v.eq_ignore_ascii_case(digest))
}

/// Does `component` (a subcomponent's purl) name package `p`? By name — `name`,
/// `namespace:name` (Maven) or `namespace/name` (npm scopes, Go modules) — and, when the purl
/// has a version, that version too. A component that is not a purl names no package.
pub fn component_is(component: &str, p: &Package) -> bool {
    let component = component.trim();
    if !component.starts_with("pkg:") {
        return false;
    }
    let c = purl::parse(component);
    let named = p.name.eq_ignore_ascii_case(&c.name)
        || c.namespace.is_some_and(|ns| {
            p.name.eq_ignore_ascii_case(&format!("{ns}:{}", c.name))
                || p.name.eq_ignore_ascii_case(&format!("{ns}/{}", c.name))
        });
    named
        && c.version.is_none_or(|v| {
            p.version.as_deref() == Some(v.as_str()) || p.installed().as_deref() == Some(&v)
        })
}

/// Do `a` and `b` speak of the same vulnerability?
fn same_vulnerability(a: &Statement, b: &Statement) -> bool {
    let names = |s: &Statement| {
        std::iter::once(s.vulnerability.clone())
            .chain(s.ids.clone())
            .collect::<Vec<_>>()
    };
    let nb = names(b);
    names(a)
        .iter()
        .any(|x| nb.iter().any(|y| x.eq_ignore_ascii_case(y)))
}

/// The ignore rules that `statements` make for the image whose platform manifest (or index)
/// digest is one of `digests`. Only statements with a product naming one of those digests
/// count; in time order (ties: the order given), an `affected` or `under_investigation`
/// statement cancels every earlier `not_affected` / `fixed` one about the same vulnerability
/// whose subcomponents overlap its own (no subcomponents: the whole image) — it never narrows
/// one, so a partial contradiction fails closed. The latest statement's rules come first.
pub fn rules_for(statements: &[Statement], digests: &[&str]) -> Vec<IgnoreRule> {
    let mut about: Vec<(&Statement, &[String])> = statements
        .iter()
        .filter_map(|s| {
            s.products
                .iter()
                .find(|p| {
                    p.ids
                        .iter()
                        .any(|id| digests.iter().any(|d| names_digest(id, d)))
                })
                .map(|p| (s, p.subcomponents.as_slice()))
        })
        .collect();
    about.sort_by_key(|(s, _)| s.timestamp);
    let mut active: Vec<(&Statement, &[String])> = Vec::new();
    for (s, subs) in about {
        if s.status.ignores() {
            active.push((s, subs));
            continue;
        }
        active.retain(|(a, asubs)| {
            let overlap = subs.is_empty()
                || asubs.is_empty()
                || asubs
                    .iter()
                    .any(|x| subs.iter().any(|y| x.eq_ignore_ascii_case(y)));
            !(overlap && same_vulnerability(a, s))
        });
    }
    active
        .iter()
        .rev()
        .flat_map(|(s, subs)| {
            s.ids.iter().map(move |id| IgnoreRule {
                id: id.clone(),
                reason: reason(s),
                expires: s.expires,
                package: None,
                repository: None,
                vex: Some(Origin {
                    document: s.document.clone(),
                    author: s.author.clone(),
                    status: s.status,
                    subcomponents: subs.to_vec(),
                }),
            })
        })
        .collect()
}

/// The reason an ignored finding shows: status, justification, impact, author and document.
fn reason(s: &Statement) -> String {
    let mut out = format!("OpenVEX {}", s.status.as_str());
    if let Some(j) = &s.justification {
        out.push_str(&format!(": {j}"));
    }
    if let Some(i) = &s.impact_statement {
        let cut: String = i.chars().take(MAX_IMPACT_CHARS).collect();
        let more = if cut.len() < i.len() { "…" } else { "" };
        out.push_str(&format!(" — {cut}{more}"));
    }
    out.push_str(&format!(" (author {}, {})", s.author, s.document));
    crate::sanitize::text(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:7a6e7b7f3d1f0b8a1ac0b8b1c7d0e2f5a9b3c4d5e6f708192a3b4c5d6e7f8091";
    const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    /// The spec's example document (Spring Boot and log4shell), its product the gated image.
    fn spring(product: &str) -> String {
        format!(
            r#"{{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f",
  "author": "Spring Builds <spring-builds@users.noreply.github.com>",
  "role": "Project Release Bot",
  "timestamp": "2023-01-16T19:07:16.853479631-06:00",
  "version": 1,
  "statements": [
    {{
      "vulnerability": {{
        "@id": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
        "name": "CVE-2021-44228",
        "description": "Remote code injection in Log4j",
        "aliases": ["GHSA-jfh8-c2jp-5v3q"]
      }},
      "products": [
        {{
          "@id": "{product}",
          "subcomponents": [
            {{ "@id": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1" }}
          ]
        }}
      ],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path",
      "impact_statement": "Spring Boot users are only affected by this vulnerability if they have switched the default logging system to Log4J2."
    }}
  ]
}}"#
        )
    }

    fn oci(digest: &str) -> String {
        format!(
            "pkg:oci/web@{}?repository_url=123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web",
            digest.replace(':', "%3A")
        )
    }

    fn log4j(version: &str) -> Package {
        Package {
            name: "org.apache.logging.log4j:log4j-core".into(),
            version: Some(version.into()),
            ..Package::default()
        }
    }

    #[test]
    fn the_specs_example_becomes_ignores_for_the_gated_digest_only() {
        let st = parse(&spring(&oci(DIGEST)), "spring.vex.json").unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].ids, ["CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q"]);
        assert_eq!(st[0].status, Status::NotAffected);
        assert_eq!(
            st[0].timestamp,
            time::macros::datetime!(2023-01-16 19:07:16.853479631 -06:00)
        );
        let rules = rules_for(&st, &[DIGEST]);
        assert_eq!(rules.len(), 2, "the name and its alias");
        assert!(rules[0].reason.starts_with(
            "OpenVEX not_affected: vulnerable_code_not_in_execute_path — Spring Boot users"
        ));
        assert!(
            rules[0]
                .reason
                .ends_with("(author Spring Builds <spring-builds@users.noreply.github.com>, https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f)"),
            "{}",
            rules[0].reason
        );
        let o = rules[0].vex.as_ref().unwrap();
        assert!(component_is(&o.subcomponents[0], &log4j("2.14.1")));
        assert!(!component_is(&o.subcomponents[0], &log4j("2.17.0")));
        // Another image, the index digest, a plain digest and the product's hash.
        assert!(rules_for(&st, &[OTHER]).is_empty());
        assert_eq!(rules_for(&st, &[OTHER, DIGEST]).len(), 2);
        for product in [
            DIGEST.to_string(),
            DIGEST.to_uppercase().replace("SHA256", "sha256"),
        ] {
            let st = parse(&spring(&product), "f").unwrap();
            assert_eq!(rules_for(&st, &[DIGEST]).len(), 2, "{product}");
        }
        let hashed = spring("pkg:oci/web").replace(
            r#""@id": "pkg:oci/web","#,
            &format!(
                r#""@id": "pkg:oci/web", "hashes": {{"sha-256": "{}"}},"#,
                DIGEST.trim_start_matches("sha256:")
            ),
        );
        let st = parse(&hashed, "f").unwrap();
        assert_eq!(rules_for(&st, &[DIGEST]).len(), 2);
        // A product that does not pin a digest (the spec's maven product, a tag) applies to
        // no image.
        for product in [
            "pkg:maven/org.springframework.boot/spring-boot@2.6.0-M3",
            "pkg:oci/web?tag=latest",
            "pkg:oci/web@latest",
        ] {
            let st = parse(&spring(product), "f").unwrap();
            assert!(rules_for(&st, &[DIGEST]).is_empty(), "{product}");
        }
        assert!(rules_for(&parse(&spring(DIGEST), "f").unwrap(), &[""]).is_empty());
    }

    /// The spec's "Updating Statements" example, the product being the gated image.
    #[test]
    fn later_statements_supersede_earlier_ones() {
        let doc = |first: &str, second: &str| {
            format!(
                r#"{{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://openvex.dev/docs/example/vex-9fb3463de1b57",
  "author": "Wolfi J Inkinson",
  "role": "Document Creator",
  "timestamp": "2023-01-09T09:08:42-06:00",
  "version": 2,
  "statements": [
    {{
      "timestamp": "2023-01-08T18:02:03-06:00",
      "vulnerability": {{ "name": "CVE-2023-12345" }},
      "products": [ {{ "@id": "{p}" }} ],
      {first}
    }},
    {{
      "vulnerability": {{ "name": "CVE-2023-12345" }},
      "products": [ {{ "@id": "{p}" }} ],
      {second}
    }}
  ]
}}"#,
                p = oci(DIGEST)
            )
        };
        let investigating = r#""status": "under_investigation""#;
        let fixed = r#""status": "fixed""#;
        let not_affected = r#""status": "not_affected", "justification": "component_not_present""#;
        let affected = r#""status": "affected", "action_statement": "upgrade""#;
        let rules = |a, b| rules_for(&parse(&doc(a, b), "f").unwrap(), &[DIGEST]);
        // The spec's own: investigating, then fixed.
        let r = rules(investigating, fixed);
        assert_eq!(r.len(), 1);
        assert!(r[0]
            .reason
            .starts_with("OpenVEX fixed (author Wolfi J Inkinson"));
        // An `affected` after `not_affected` cancels it.
        assert!(rules(not_affected, affected).is_empty());
        assert!(rules(not_affected, investigating).is_empty());
        // Time decides, not the order in the file: swap the timestamps.
        let swapped = doc(affected, not_affected)
            .replace("2023-01-08T18:02:03-06:00", "2023-01-10T00:00:00Z");
        assert!(rules_for(&parse(&swapped, "f").unwrap(), &[DIGEST]).is_empty());
        let later = doc(not_affected, affected)
            .replace("2023-01-08T18:02:03-06:00", "2023-01-10T00:00:00Z");
        assert_eq!(rules_for(&parse(&later, "f").unwrap(), &[DIGEST]).len(), 1);
        // Across documents: a second document's later `affected` cancels the first's.
        let mut all = parse(&spring(&oci(DIGEST)), "a").unwrap();
        let cancel = spring(&oci(DIGEST))
            .replace(
                "2023-01-16T19:07:16.853479631-06:00",
                "2023-02-01T00:00:00Z",
            )
            .replace(
                r#""status": "not_affected","#,
                r#""status": "affected", "action_statement": "upgrade","#,
            )
            .replace(
                r#""justification": "vulnerable_code_not_in_execute_path","#,
                "",
            );
        all.extend(parse(&cancel, "b").unwrap());
        assert!(rules_for(&all, &[DIGEST]).is_empty());
    }

    #[test]
    fn malformed_documents_name_the_problem() {
        let good = spring(&oci(DIGEST));
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "the file is empty"),
            ("{".into(), "not JSON"),
            ("[]".into(), "not a JSON object"),
            (
                r#"{"bomFormat":"CycloneDX"}"#.into(),
                "a CycloneDX document",
            ),
            (
                good.replace("https://openvex.dev/ns/v0.2.0", "https://example.com"),
                "is not OpenVEX's",
            ),
            (good.replace(r#""author""#, r#""writer""#), "no author"),
            (
                good.replace("2023-01-16T19:07:16.853479631-06:00", "yesterday"),
                "timestamp 'yesterday' is not an RFC 3339 time",
            ),
            (
                good.replace(r#""status": "not_affected""#, r#""status": "unaffected""#),
                "statements[0]: status 'unaffected' is not one of",
            ),
            (
                good.replace("vulnerable_code_not_in_execute_path", "trust_me"),
                "statements[0]: justification 'trust_me' is not one of",
            ),
            (
                good.replace(
                    r#""justification": "vulnerable_code_not_in_execute_path","#,
                    "",
                )
                .replace(r#""impact_statement""#, r#""status_notes""#),
                "CVE-2021-44228 is not_affected without a justification or an impact_statement",
            ),
            (
                good.replace(r#""name": "CVE-2021-44228","#, ""),
                "statements[0]: no name",
            ),
            (
                good.replace(&format!(r#""@id": "{}","#, oci(DIGEST)), r#""role": "x","#),
                "statements[0]: products[0]: names nothing",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text, "app.vex.json").unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.message.starts_with("invalid VEX document app.vex.json: "));
            assert!(e.message.contains(want), "{want}: {}", e.message);
            assert!(!e.message.contains('\n'));
        }
        let no_products = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a",
            "timestamp": "2023-01-08T18:02:03Z",
            "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "fixed"}]}"#;
        let e = parse(no_products, "f").unwrap_err();
        assert!(
            e.message.contains("statements[0]: CVE-1 names no product"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_or_oversized_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&dir.path().join("none.json")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.starts_with("cannot read VEX document"), "{e}");
        let big = dir.path().join("big.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_VEX_BYTES + 1).unwrap();
        let e = load(&big).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("more than the"), "{e}");
        let ok = dir.path().join("ok.json");
        std::fs::write(&ok, spring(&oci(DIGEST))).unwrap();
        assert_eq!(load(&ok).unwrap().len(), 1);
    }

    #[test]
    fn components_match_packages_by_purl() {
        let deb = Package {
            name: "openssl".into(),
            version: Some("3.0.11".into()),
            release: Some("1~deb12u2".into()),
            ..Package::default()
        };
        assert!(component_is(
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
            &deb
        ));
        assert!(component_is("pkg:deb/debian/openssl", &deb));
        assert!(!component_is(
            "pkg:deb/debian/openssl@3.0.14-1~deb12u2",
            &deb
        ));
        assert!(!component_is("pkg:deb/debian/libssl3", &deb));
        assert!(!component_is("openssl", &deb), "not a purl: names nothing");
        let npm = Package {
            name: "@babel/traverse".into(),
            version: Some("7.22.0".into()),
            ..Package::default()
        };
        assert!(component_is("pkg:npm/%40babel/traverse@7.22.0", &npm));
    }
}
