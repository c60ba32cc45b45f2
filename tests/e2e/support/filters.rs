//! Inspector2's filter semantics, as the scripted server applies them to the findings and
//! coverage rows it holds: every filter a request carries is applied; the filters of one
//! key are one list whose EQUALS / PREFIX values are ORed (any one matches) and whose
//! NOT_EQUALS values each exclude; different keys are ANDed; number and date filters are
//! inclusive ranges, ORed within their list. A finding without a `status` is ACTIVE. A key
//! the server does not emulate is an `Err` (the test fails: a filter silently ignored is the
//! kindness this module exists to remove).

use serde_json::Value;

/// Whether `values` (what the resource shows for one key; several for tags, none when it
/// has no such value) pass one string filter list.
pub fn strings_pass(filters: &[Value], values: &[String]) -> Result<bool, String> {
    let (mut any_positive, mut matched, mut excluded) = (false, false, false);
    for f in filters {
        let want = f.get("value").and_then(Value::as_str).unwrap_or("");
        match f.get("comparison").and_then(Value::as_str) {
            Some("EQUALS") => {
                any_positive = true;
                matched |= values.iter().any(|v| v == want);
            }
            Some("PREFIX") => {
                any_positive = true;
                matched |= values.iter().any(|v| v.starts_with(want));
            }
            Some("NOT_EQUALS") => excluded |= values.iter().any(|v| v == want),
            other => return Err(format!("comparison {other:?} is not emulated")),
        }
    }
    Ok((!any_positive || matched) && !excluded)
}

/// Whether `n` lies in one of the `lowerInclusive`..`upperInclusive` ranges (or
/// `startInclusive`..`endInclusive` for dates, epoch seconds).
fn ranges_pass(filters: &[Value], n: Option<f64>, lo: &str, hi: &str) -> bool {
    let Some(n) = n else { return false };
    filters.iter().any(|f| {
        f.get(lo).and_then(Value::as_f64).is_none_or(|l| n >= l)
            && f.get(hi).and_then(Value::as_f64).is_none_or(|h| n <= h)
    })
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

enum Field {
    Strings(Vec<String>),
    Number(Option<f64>),
    Date(Option<f64>),
}

/// What finding `f` shows for filter key `key`; `None`: a key not emulated here.
fn finding_field(f: &Value, key: &str) -> Option<Field> {
    let image = &f["resources"][0]["details"]["awsEcrContainerImage"];
    let vuln = &f["packageVulnerabilityDetails"];
    let s = |v: &Value| Some(Field::Strings(strs(Some(v))));
    match key {
        "findingArn" | "awsAccountId" | "severity" | "title" | "fixAvailable"
        | "exploitAvailable" => s(&f[key]),
        "findingType" => s(&f["type"]),
        "findingStatus" => Some(Field::Strings(vec![f["status"]
            .as_str()
            .unwrap_or("ACTIVE")
            .to_string()])),
        "resourceType" => s(&f["resources"][0]["type"]),
        "resourceId" => s(&f["resources"][0]["id"]),
        "ecrImageHash" => s(&image["imageHash"]),
        "ecrImageRepositoryName" => s(&image["repositoryName"]),
        "ecrImageRegistry" => s(&image["registry"]),
        "ecrImageTags" => s(&image["imageTags"]),
        "ecrImageArchitecture" => s(&image["architecture"]),
        "vulnerabilityId" => s(&vuln["vulnerabilityId"]),
        "vulnerabilitySource" => s(&vuln["source"]),
        "vendorSeverity" => s(&vuln["vendorSeverity"]),
        "inspectorScore" => Some(Field::Number(f["inspectorScore"].as_f64())),
        "epssScore" => Some(Field::Number(f["epss"]["score"].as_f64())),
        "firstObservedAt" | "lastObservedAt" | "updatedAt" => Some(Field::Date(f[key].as_f64())),
        "ecrImagePushedAt" => Some(Field::Date(image["pushedAt"].as_f64())),
        _ => None,
    }
}

/// What coverage row `r` shows for filter key `key`; `None`: not emulated.
fn coverage_field(r: &Value, key: &str) -> Option<Field> {
    let s = |v: &Value| Some(Field::Strings(strs(Some(v))));
    match key {
        "accountId" | "resourceId" | "resourceType" | "scanType" => s(&r[key]),
        "scanStatusCode" => s(&r["scanStatus"]["statusCode"]),
        "scanStatusReason" => s(&r["scanStatus"]["reason"]),
        "ecrRepositoryName" => s(&r["resourceMetadata"]["ecrRepository"]["name"]),
        "ecrImageTags" => s(&r["resourceMetadata"]["ecrImage"]["tags"]),
        "lastScannedAt" => Some(Field::Date(r["lastScannedAt"].as_f64())),
        _ => None,
    }
}

fn passes(
    criteria: &Value,
    what: &str,
    field: impl Fn(&str) -> Option<Field>,
) -> Result<bool, String> {
    let Some(criteria) = criteria.as_object() else {
        return Ok(true);
    };
    for (key, filters) in criteria {
        let filters = filters.as_array().map(Vec::as_slice).unwrap_or_default();
        let ok = match field(key) {
            Some(Field::Strings(values)) => {
                strings_pass(filters, &values).map_err(|e| format!("{what} filter {key}: {e}"))?
            }
            Some(Field::Number(n)) => ranges_pass(filters, n, "lowerInclusive", "upperInclusive"),
            Some(Field::Date(t)) => ranges_pass(filters, t, "startInclusive", "endInclusive"),
            None => {
                return Err(format!(
                    "the scripted server does not emulate the {what} filter {key}"
                ))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether finding `f` passes every filter of a `ListFindings` `filterCriteria`.
pub fn finding_passes(criteria: &Value, f: &Value) -> Result<bool, String> {
    passes(criteria, "ListFindings", |k| finding_field(f, k))
}

/// Whether coverage row `r` passes every filter of a `ListCoverage` `filterCriteria`.
pub fn coverage_passes(criteria: &Value, r: &Value) -> Result<bool, String> {
    passes(criteria, "ListCoverage", |k| coverage_field(r, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(comparison: &str, value: &str) -> Value {
        json!({ "comparison": comparison, "value": value })
    }

    #[test]
    fn one_list_ors_and_not_equals_excludes() {
        let v = |s: &str| vec![s.to_string()];
        let l = [f("EQUALS", "ACTIVE"), f("EQUALS", "SUPPRESSED")];
        assert!(strings_pass(&l, &v("SUPPRESSED")).unwrap());
        assert!(!strings_pass(&l, &v("CLOSED")).unwrap());
        assert!(strings_pass(&[f("PREFIX", "sha256:ab")], &v("sha256:abc")).unwrap());
        assert!(!strings_pass(&[f("NOT_EQUALS", "CLOSED")], &v("CLOSED")).unwrap());
        assert!(strings_pass(&[], &v("x")).unwrap());
    }

    #[test]
    fn different_keys_are_anded_and_unknown_keys_refused() {
        let finding = json!({ "severity": "HIGH", "status": "ACTIVE" });
        let c =
            json!({ "severity": [f("EQUALS", "HIGH")], "findingStatus": [f("EQUALS", "CLOSED")] });
        assert!(!finding_passes(&c, &finding).unwrap());
        let c =
            json!({ "severity": [f("EQUALS", "HIGH")], "findingStatus": [f("EQUALS", "ACTIVE")] });
        assert!(finding_passes(&c, &finding).unwrap());
        assert!(finding_passes(&json!({ "portRange": [] }), &finding).is_err());
    }
}
