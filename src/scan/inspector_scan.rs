//! Amazon Inspector's synchronous `ScanSbom` (`inspector-scan`): send each request-sized
//! CycloneDX document, and turn the answers into the crate's [`Finding`]s so the policy and
//! reports of the registry gate apply unchanged.
//!
//! Calls go through [`crate::retry::call`] (throttling and 5xx are retried on the call
//! schedule, honouring `Retry-After`), errors are classified by [`crate::aws::classify`].
//! Both answer formats are understood: CycloneDX 1.5 (`CYCLONE_DX_1_5`, the default:
//! vulnerabilities refer to components by bom-ref, fixed versions are per-component
//! properties) and Inspector's own JSON (`INSPECTOR`: affected packages by purl).
//!
//! Severity of a CycloneDX vulnerability: the rating of the distribution's own advisory source
//! when there is one (Inspector's findings use vendor severity for OS packages), else NVD's,
//! else the first other rating; the EPSS rating gives the EPSS score.

use crate::aws::{classify, AwsOptions, CallError};
use crate::error::Error;
use crate::model::{Finding, Package as FindingPackage, Severity};
use crate::retry::{self, Schedule};
use aws_sdk_inspectorscan::operation::scan_sbom::ScanSbomError;
use aws_sdk_inspectorscan::types::OutputFormat;
use aws_smithy_types::{Document, Number};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

/// The IAM action a scan needs (and names when access is denied).
pub const ACTION: &str = "inspector-scan:ScanSbom";

const P_FIXED: &str = "amazon:inspector:sbom_scanner:fixed_version:";
const P_EXPLOIT: &str = "amazon:inspector:sbom_scanner:exploit_available";
const P_PATH: &str = "amazon:inspector:sbom_scanner:path";

/// Which answer format to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    CycloneDx,
    Inspector,
}

impl Format {
    fn sdk(self) -> OutputFormat {
        match self {
            Format::CycloneDx => OutputFormat::CycloneDx15,
            Format::Inspector => OutputFormat::Inspector,
        }
    }
}

/// A client for `inspector-scan`, configured like the gate's other clients (default
/// credential chain, optional profile, region and role; SDK retries off because every call
/// goes through `retry::call`). `AWS_ENDPOINT_URL_INSPECTOR_SCAN` points it elsewhere.
pub async fn client(opts: &AwsOptions) -> Result<aws_sdk_inspectorscan::Client, Error> {
    // ScanSbom answers up to 10 MB synchronously: a longer per-request timeout than listings.
    let (conf, _) = crate::aws::sdk_config(opts, std::time::Duration::from_secs(120)).await?;
    Ok(aws_sdk_inspectorscan::Client::new(&conf))
}

fn retry_after(e: &ScanSbomError) -> Option<i32> {
    match e {
        ScanSbomError::ThrottlingException(t) => t.retry_after_seconds(),
        ScanSbomError::InternalServerException(t) => t.retry_after_seconds(),
        _ => None,
    }
}

/// ScanSbom answers at most 10 MB ("a maximum response size of 10MB (compressed or
/// uncompressed)", API reference): a request whose answer would be larger is cut in halves,
/// at most this many times (5,000 components come down to one in 13 halvings).
pub const MAX_HALVINGS: u32 = 13;

/// One request's outcome: its answer, or the service's word that the answer is too large.
enum Sent {
    Answer(Value),
    TooLarge(String),
}

/// Whether a refusal is about size. The service model names no error for an oversized
/// answer, so this reads the refusal: HTTP 413, or a ValidationException whose message
/// speaks of a size or limit being exceeded. Halving is the right answer to any of them (a
/// request too large as well as an answer), and a single package that is still refused
/// ends the run with the service's own message.
fn too_large(e: &aws_sdk_inspectorscan::error::SdkError<ScanSbomError>) -> Option<String> {
    let aws_sdk_inspectorscan::error::SdkError::ServiceError(ctx) = e else {
        return None;
    };
    if ctx.raw().status().as_u16() == 413 {
        return Some("HTTP 413 (payload too large)".into());
    }
    let ScanSbomError::ValidationException(v) = ctx.err() else {
        return None;
    };
    let m = v.message().to_ascii_lowercase();
    let sized = m.contains("too large")
        || m.contains("10mb")
        || m.contains("10 mb")
        || (m.contains("size") && (m.contains("exceed") || m.contains("limit")));
    sized.then(|| format!("ValidationException: {}", v.message()))
}

/// Send one request document (retried as every call is, until `deadline`).
async fn send(
    client: &aws_sdk_inspectorscan::Client,
    doc: &Value,
    format: Format,
    deadline: Instant,
) -> Result<Sent, CallError> {
    let sbom = to_document(doc);
    retry::call(Schedule::CALL, deadline, || {
        let req = client
            .scan_sbom()
            .sbom(sbom.clone())
            .output_format(format.sdk());
        async move {
            match req.send().await {
                Ok(out) => Ok(Sent::Answer(
                    out.sbom().map(from_document).unwrap_or(Value::Null),
                )),
                Err(e) => match too_large(&e) {
                    Some(why) => Ok(Sent::TooLarge(why)),
                    None => Err(classify(e, retry_after)),
                },
            }
        }
    })
    .await
}

/// A component as a user knows it: its purl, else `name@version`.
fn component_label(c: &Value) -> String {
    if let Some(p) = c.get("purl").and_then(Value::as_str) {
        return p.to_string();
    }
    let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
    match c.get("version").and_then(Value::as_str) {
        Some(v) => format!("{name}@{v}"),
        None => name.to_string(),
    }
}

/// Scan every document and return the findings of all of them (merged by vulnerability id).
/// A request whose answer is too large is cut in halves until each answer fits; every half
/// is sent and its findings merged, none dropped. A single package whose answer alone is
/// too large is an inconclusive error naming it: its vulnerabilities were not seen.
pub async fn scan(
    client: &aws_sdk_inspectorscan::Client,
    documents: &[Value],
    format: Format,
    deadline: Instant,
) -> Result<Vec<Finding>, Error> {
    let mut answers = Vec::with_capacity(documents.len());
    for (i, doc) in documents.iter().enumerate() {
        let part = if documents.len() > 1 {
            format!(" (request {} of {})", i + 1, documents.len())
        } else {
            String::new()
        };
        // Depth first, the first half before the second: the answers come in package order.
        let mut pending: Vec<(std::borrow::Cow<'_, Value>, u32)> =
            vec![(std::borrow::Cow::Borrowed(doc), 0)];
        while let Some((d, depth)) = pending.pop() {
            let why = match send(client, &d, format, deadline).await {
                Ok(Sent::Answer(a)) => {
                    answers.push(a);
                    continue;
                }
                Ok(Sent::TooLarge(why)) => why,
                Err(e) => {
                    return Err(e
                        .into_error(ACTION)
                        .context(format!("scanning the SBOM{part}")))
                }
            };
            let comps = super::sbom::components(&d);
            let halves = super::sbom::halves(&d).filter(|_| depth < MAX_HALVINGS);
            let Some((a, b)) = halves else {
                let what = match comps {
                    [one] => format!("package {}", component_label(one)),
                    _ => format!(
                        "{} packages ({} … {}) after {MAX_HALVINGS} halvings",
                        comps.len(),
                        comps.first().map(component_label).unwrap_or_default(),
                        comps.last().map(component_label).unwrap_or_default()
                    ),
                };
                return Err(Error::inconclusive(format!(
                    "{ACTION} cannot answer for {what}{part}: the answer is larger than the service's 10 MB limit ({why}), so its vulnerabilities were not seen (push the image to ECR and gate it there, where Inspector scans it whole)"
                )));
            };
            pending.push((std::borrow::Cow::Owned(b), depth + 1));
            pending.push((std::borrow::Cow::Owned(a), depth + 1));
        }
    }
    findings(&answers)
}

/// Convert the answers of one scan (one per request) into findings.
pub fn findings(answers: &[Value]) -> Result<Vec<Finding>, Error> {
    let mut by_id: BTreeMap<String, Finding> = BTreeMap::new();
    for a in answers {
        let list = match answer_kind(a) {
            Some(Kind::CycloneDx(doc)) => from_cyclonedx(doc),
            Some(Kind::Inspector(doc)) => from_inspector(doc),
            None => {
                return Err(Error::runtime(format!(
                    "{ACTION} answered with a document that is neither CycloneDX nor Inspector JSON: {}",
                    crate::error::one_line(&truncate(&a.to_string(), 200))
                )))
            }
        };
        for f in list {
            match by_id.get_mut(&f.id) {
                Some(existing) => {
                    existing.packages.extend(f.packages);
                    existing.fix_available = merge_fix(&existing.fix_available, &f.fix_available);
                }
                None => {
                    by_id.insert(f.id.clone(), f);
                }
            }
        }
    }
    Ok(by_id.into_values().collect())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

enum Kind<'a> {
    CycloneDx(&'a Value),
    Inspector(&'a Value),
}

/// The answer may be the report itself or wrapped (`{"status": …, "sbom": {…}}` /
/// `{"status": …, "inspector": {…}}`) as the AWS guide shows it.
fn answer_kind(a: &Value) -> Option<Kind<'_>> {
    if a.get("bomFormat").is_some() {
        return Some(Kind::CycloneDx(a));
    }
    if let Some(inner) = a.get("sbom") {
        return answer_kind(inner);
    }
    if let Some(inner) = a.get("inspector") {
        return Some(Kind::Inspector(inner));
    }
    let vulns = a.get("vulnerabilities")?;
    if vulns.is_array() {
        return Some(Kind::Inspector(a));
    }
    None
}

/// The members of the array at `key` in `v`: none when it is missing or not an array.
fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn props(v: &Value) -> impl Iterator<Item = (&str, &str)> {
    array(v, "properties")
        .filter_map(|p| Some((p.get("name")?.as_str()?, p.get("value")?.as_str()?)))
}

fn severity(s: &str) -> Severity {
    match s.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" | "moderate" => Severity::Medium,
        "low" => Severity::Low,
        "info" | "informational" | "none" => Severity::Informational,
        _ => Severity::Untriaged,
    }
}

/// Sources that are aggregators or scores, not the distribution's own advisory.
const NON_VENDOR: &[&str] = &["NVD", "EPSS", "GITHUB", "SNYK", "OSV", "MITRE"];

fn from_cyclonedx(doc: &Value) -> Vec<Finding> {
    let components: HashMap<&str, &Value> = array(doc, "components")
        .filter_map(|c| Some((c.get("bom-ref")?.as_str()?, c)))
        .collect();
    let mut out = Vec::new();
    for v in array(doc, "vulnerabilities") {
        let Some(id) = v.get("id").and_then(Value::as_str) else {
            continue;
        };
        let (chosen, epss) = choose_rating(v);
        let vprops: Vec<(&str, &str)> = props(v).collect();
        let fixed: HashMap<&str, &str> = vprops
            .iter()
            .filter_map(|(k, val)| Some((k.strip_prefix(P_FIXED)?, *val)))
            .collect();
        let exploit = vprops
            .iter()
            .find(|(k, _)| *k == P_EXPLOIT)
            .map(|(_, v)| if *v == "true" { "YES" } else { "NO" }.to_string());
        let packages = affected_packages(v, &components, &fixed);
        out.push(Finding {
            id: id.to_string(),
            severity: chosen
                .and_then(|r| r.get("severity")?.as_str())
                .map(severity)
                .unwrap_or(Severity::Untriaged),
            title: title(id, &packages),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            finding_arn: None,
            fix_available: Some(fix_available(&packages)),
            exploit_available: exploit,
            inspector_score: chosen.and_then(|r| r.get("score")?.as_f64()),
            epss_score: epss,
            source_url: v
                .pointer("/source/url")
                .and_then(Value::as_str)
                .map(str::to_string),
            remediation: remediation(&packages),
            packages,
            image_digest: None,
            repository: None,
            suppressed: false,
        });
    }
    out
}

/// The rating that decides a vulnerability's severity and score (a vendor's first, then
/// NVD's, then any usable one; EPSS is never a severity), and its EPSS score.
fn choose_rating(v: &Value) -> (Option<&Value>, Option<f64>) {
    let ratings: Vec<&Value> = array(v, "ratings").collect();
    let source_of = |r: &Value| {
        r.pointer("/source/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_uppercase()
    };
    let usable = |r: &Value| {
        let s = r.get("severity").and_then(Value::as_str).unwrap_or("");
        source_of(r) != "EPSS" && !s.is_empty() && s != "none" && s != "unknown"
    };
    let chosen: Option<&Value> = ratings
        .iter()
        .copied()
        .filter(|r| usable(r))
        .find(|r| !NON_VENDOR.contains(&source_of(r).as_str()))
        .or_else(|| {
            ratings
                .iter()
                .copied()
                .filter(|r| usable(r))
                .find(|r| source_of(r) == "NVD")
        })
        .or_else(|| ratings.iter().copied().find(|r| usable(r)));
    let epss = ratings
        .iter()
        .copied()
        .find(|r| source_of(r) == "EPSS")
        .and_then(|r| r.get("score")?.as_f64());
    (chosen, epss)
}

/// The packages a vulnerability affects, from the SBOM components its `affects` refs name,
/// each with the fixed version the answer gives for it.
fn affected_packages(
    v: &Value,
    components: &HashMap<&str, &Value>,
    fixed: &HashMap<&str, &str>,
) -> Vec<FindingPackage> {
    let mut packages = Vec::new();
    for a in array(v, "affects") {
        let Some(r) = a.get("ref").and_then(Value::as_str) else {
            continue;
        };
        let comp = components.get(r);
        let purl = comp.and_then(|c| c.get("purl")?.as_str());
        let (pname, pversion) = purl.map(purl_name_version).unwrap_or_default();
        let name = comp
            .and_then(|c| c.get("name")?.as_str())
            .map(str::to_string)
            .unwrap_or(pname);
        let version = comp
            .and_then(|c| c.get("version")?.as_str())
            .map(str::to_string)
            .or(pversion);
        let path = comp.and_then(|c| {
            props(c)
                .find(|(k, _)| *k == P_PATH || *k == super::sbom::SOURCE_PATH)
                .map(|(_, v)| v.to_string())
        });
        packages.push(FindingPackage {
            name,
            version,
            fixed_in_version: fixed
                .get(r)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty()),
            package_manager: purl.map(package_manager),
            file_path: path,
            // The purl's version is already the whole version.
            ..Default::default()
        });
    }
    packages
}

fn from_inspector(doc: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for v in array(doc, "vulnerabilities") {
        let Some(id) = v.get("id").and_then(Value::as_str) else {
            continue;
        };
        let p = v.get("properties");
        let packages: Vec<FindingPackage> = array(v, "affects")
            .map(|a| {
                let purl = a.get("installed_version").and_then(Value::as_str);
                let (name, version) = purl.map(purl_name_version).unwrap_or_default();
                FindingPackage {
                    name,
                    version,
                    fixed_in_version: a
                        .get("fixed_version")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    package_manager: purl.map(package_manager),
                    file_path: a.get("path").and_then(Value::as_str).map(str::to_string),
                    ..Default::default()
                }
            })
            .collect();
        let cvss_score = p.and_then(|p| {
            p.get("cvss")?
                .as_array()?
                .first()?
                .get("cvss3_base_score")?
                .as_f64()
        });
        out.push(Finding {
            id: id.to_string(),
            severity: v
                .get("severity")
                .and_then(Value::as_str)
                .map(severity)
                .unwrap_or(Severity::Untriaged),
            title: title(id, &packages),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            finding_arn: None,
            fix_available: Some(fix_available(&packages)),
            exploit_available: p
                .and_then(|p| p.get("exploit_available")?.as_bool())
                .map(|b| if b { "YES" } else { "NO" }.to_string()),
            inspector_score: cvss_score,
            epss_score: p.and_then(|p| p.get("epss")?.as_f64()),
            source_url: v.get("source").and_then(Value::as_str).map(str::to_string),
            remediation: remediation(&packages),
            packages,
            image_digest: None,
            repository: None,
            suppressed: false,
        });
    }
    out
}

fn title(id: &str, packages: &[FindingPackage]) -> String {
    match packages.first() {
        Some(p) => format!("{id} - {}", p.name),
        None => id.to_string(),
    }
}

fn fix_available(packages: &[FindingPackage]) -> String {
    let fixed = packages
        .iter()
        .filter(|p| p.fixed_in_version.is_some())
        .count();
    if fixed == 0 {
        "NO"
    } else if fixed == packages.len() {
        "YES"
    } else {
        "PARTIAL"
    }
    .to_string()
}

fn merge_fix(a: &Option<String>, b: &Option<String>) -> Option<String> {
    match (a.as_deref(), b.as_deref()) {
        (Some(x), Some(y)) if x == y => Some(x.to_string()),
        (Some(_), Some(_)) => Some("PARTIAL".into()),
        (x, y) => x.or(y).map(str::to_string),
    }
}

fn remediation(packages: &[FindingPackage]) -> Option<String> {
    let steps: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            Some(format!(
                "upgrade {} to {}",
                p.name,
                p.fixed_in_version.as_ref()?
            ))
        })
        .collect();
    (!steps.is_empty()).then(|| steps.join("; "))
}

/// Name and version of a purl (`pkg:type/ns/name@version?q#s`), percent-decoded.
fn purl_name_version(purl: &str) -> (String, Option<String>) {
    let p = super::purl::parse(purl);
    (p.name, p.version)
}

/// Inspector2's `packageManager` names, from the purl type.
fn package_manager(purl: &str) -> String {
    let ty = purl
        .strip_prefix("pkg:")
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    match ty {
        "deb" | "rpm" | "apk" => "OS",
        "npm" => "NODEPKG",
        "pypi" => "PYTHONPKG",
        "maven" => "JAR",
        "golang" | "generic" => "GOBINARY",
        "cargo" => "CARGO",
        "gem" => "GEMSPEC",
        other => return other.to_ascii_uppercase(),
    }
    .to_string()
}

/// serde_json → the SDK's document type (the request body is a JSON document).
pub fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Document::Number(Number::PosInt(u))
            } else if let Some(i) = n.as_i64() {
                Document::Number(Number::NegInt(i))
            } else {
                Document::Number(Number::Float(n.as_f64().unwrap_or(0.0)))
            }
        }
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(o) => {
            Document::Object(o.iter().map(|(k, v)| (k.clone(), to_document(v))).collect())
        }
    }
}

/// The SDK's document type → serde_json, for the answer.
pub fn from_document(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(from_document).collect()),
        Document::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), from_document(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cdx_answer() -> Value {
        json!({"bomFormat": "CycloneDX", "specVersion": "1.5",
          "components": [
            {"bom-ref": "comp-1", "type": "library", "name": "log4j-core", "version": "2.12.1",
             "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.12.1",
             "properties": [{"name": P_PATH, "value": "/app/foo.jar"}]},
            {"bom-ref": "comp-2", "type": "application", "name": "openssl",
             "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"}],
          "vulnerabilities": [
            {"bom-ref": "vuln-1", "id": "CVE-2021-44228",
             "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228"},
             "ratings": [
               {"source": {"name": "NVD"}, "score": 10.0, "severity": "critical", "method": "CVSSv31"},
               {"source": {"name": "EPSS"}, "score": 0.97565, "severity": "none", "method": "other"}],
             "description": "JNDI", "affects": [{"ref": "comp-1"}],
             "properties": [
               {"name": P_EXPLOIT, "value": "true"},
               {"name": "amazon:inspector:sbom_scanner:fixed_version:comp-1", "value": "2.15.0"}]},
            {"id": "CVE-2024-0001",
             "ratings": [
               {"source": {"name": "NVD"}, "score": 9.8, "severity": "critical"},
               {"source": {"name": "DEBIAN"}, "severity": "low"}],
             "affects": [{"ref": "comp-2"}]}]})
    }

    #[test]
    fn cyclonedx_answers_become_findings() {
        let f = findings(&[cdx_answer()]).unwrap();
        assert_eq!(f.len(), 2);
        let log4j = &f[0];
        assert_eq!(log4j.id, "CVE-2021-44228");
        assert_eq!(log4j.severity, Severity::Critical);
        assert_eq!(log4j.epss_score, Some(0.97565));
        assert_eq!(log4j.exploit_available.as_deref(), Some("YES"));
        assert_eq!(log4j.fix_available.as_deref(), Some("YES"));
        let p = &log4j.packages[0];
        assert_eq!(
            (
                p.name.as_str(),
                p.version.as_deref(),
                p.fixed_in_version.as_deref()
            ),
            ("log4j-core", Some("2.12.1"), Some("2.15.0"))
        );
        assert_eq!(p.file_path.as_deref(), Some("/app/foo.jar"));
        assert_eq!(p.package_manager.as_deref(), Some("JAR"));
        // The distribution's own rating wins over NVD's for OS packages.
        let ssl = &f[1];
        assert_eq!(ssl.severity, Severity::Low);
        assert_eq!(ssl.fix_available.as_deref(), Some("NO"));
        assert_eq!(ssl.packages[0].version.as_deref(), Some("3.0.11-1~deb12u2"));
    }

    #[test]
    fn inspector_answers_and_wrapped_answers() {
        let a = json!({"status": "SBOM parsed successfully, 1 vulnerability found",
          "inspector": {"vulnerabilities": [{"id": "CVE-2021-44228", "severity": "critical",
            "source": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
            "properties": {"epss": 0.97, "exploit_available": true,
               "cvss": [{"source": "NVD", "cvss3_base_score": 10.0}]},
            "affects": [{"installed_version": "pkg:maven/org.apache.logging.log4j/log4j-core@2.12.1",
                         "fixed_version": "2.15.0", "path": "/home/dev/foo.jar"}]}]}});
        let f = findings(&[a]).unwrap();
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].packages[0].name, "log4j-core");
        assert_eq!(f[0].packages[0].fixed_in_version.as_deref(), Some("2.15.0"));
        assert_eq!(f[0].inspector_score, Some(10.0));
        let wrapped = json!({"status": "ok", "sbom": cdx_answer()});
        assert_eq!(findings(&[wrapped]).unwrap().len(), 2);
        let e = findings(&[json!({"what": 1})]).unwrap_err();
        assert_eq!(e.exit_code(), 4);
    }

    #[test]
    fn findings_of_split_requests_merge_by_id() {
        let a = cdx_answer();
        let mut b = cdx_answer();
        b["vulnerabilities"][0]["properties"] = json!([]);
        let f = findings(&[a, b]).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].packages.len(), 2);
        assert_eq!(f[0].fix_available.as_deref(), Some("PARTIAL"));
    }

    #[test]
    fn documents_round_trip() {
        let v = json!({"a": [1, -2, 1.5, "x", null, true], "b": {"c": "d"}});
        assert_eq!(from_document(&to_document(&v)), v);
        assert_eq!(
            purl_name_version("pkg:npm/%40types/node@20.1.0?x=1"),
            ("node".to_string(), Some("20.1.0".to_string()))
        );
        assert_eq!(crate::scan::purl::decode("1%3A2.0%2B"), "1:2.0+");
    }
}
