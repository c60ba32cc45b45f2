//! CycloneDX 1.5 JSON documents for the packages catalogued, and their split into
//! `ScanSbom` requests of at most [`MAX_COMPONENTS`] components.
//!
//! Documents are deterministic for a given inventory and timestamp: the serial number is
//! derived from the content, so the same image gives the same SBOM (reviewable diffs,
//! reproducible tests). Each component carries its purl and, as the Inspector SBOM generator
//! does, the file it was found in (`amazon:inspector:sbom_generator:source_path`).

use super::{Inventory, Package};
use crate::error::Error;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `ScanSbom` accepts at most this many components per request (AWS API reference).
pub const MAX_COMPONENTS: usize = 5000;
pub const SOURCE_PATH: &str = "amazon:inspector:sbom_generator:source_path";

/// What the document describes (the image or root filesystem scanned).
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub platform: Option<String>,
}

/// One CycloneDX 1.5 document for `packages`; `timestamp` is RFC 3339 (passed in: no clock here).
pub fn document(
    subject: &Subject,
    inv: &Inventory,
    packages: &[Package],
    timestamp: &str,
) -> Value {
    let components: Vec<Value> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut c = json!({
                "bom-ref": format!("comp-{}", i + 1),
                "type": if p.ecosystem.is_os() { "application" } else { "library" },
                "name": p.name,
                "purl": p.purl,
                "properties": [{"name": SOURCE_PATH, "value": p.location}],
            });
            if !p.version.is_empty() {
                c["version"] = json!(p.version);
            }
            c
        })
        .collect();
    let mut props = Vec::new();
    if let Some(p) = &subject.platform {
        props.push(json!({"name": "amazon:inspector:sbom_generator:platform", "value": p}));
    }
    if let Some(d) = &inv.distro {
        props.push(
            json!({"name": "inspector-gate:distro", "value": super::purl::distro_qualifier(d)}),
        );
    }
    let mut metadata = json!({
        "timestamp": timestamp,
        "tools": {"components": [{
            "type": "application",
            "name": "inspector-gate",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
        "component": {
            "bom-ref": "subject",
            "type": "container",
            "name": subject.name,
        },
    });
    if !props.is_empty() {
        metadata["component"]["properties"] = json!(props);
    }
    let body = serde_json::to_vec(&components).unwrap_or_default();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial(&[subject.name.as_bytes(), timestamp.as_bytes(), &body]),
        "version": 1,
        "metadata": metadata,
        "components": components,
    })
}

/// The whole inventory as one document (for `--sbom-out`), and as the documents to send, each
/// with at most `MAX_COMPONENTS` components. Bom-refs restart in each request document, so
/// every answer maps back through its own components.
pub fn documents(subject: &Subject, inv: &Inventory, timestamp: &str) -> (Value, Vec<Value>) {
    let whole = document(subject, inv, &inv.packages, timestamp);
    let parts = inv
        .packages
        .chunks(MAX_COMPONENTS)
        .map(|c| document(subject, inv, c, timestamp))
        .collect();
    (whole, parts)
}

/// Split an existing CycloneDX document (`scan --sbom FILE`) into request-sized documents.
/// Everything but the component list is kept as it is.
pub fn split(doc: &Value) -> Result<Vec<Value>, Error> {
    let format = doc.get("bomFormat").and_then(Value::as_str);
    let spec = doc.get("specVersion").and_then(Value::as_str);
    if format != Some("CycloneDX") {
        return Err(Error::usage(
            "the SBOM is not a CycloneDX document (no \"bomFormat\": \"CycloneDX\"): ScanSbom takes CycloneDX 1.5 JSON",
        ));
    }
    if spec != Some("1.5") {
        return Err(Error::usage(format!(
            "the SBOM is CycloneDX {}, but ScanSbom takes CycloneDX 1.5: regenerate it as 1.5",
            spec.unwrap_or("of no specVersion")
        )));
    }
    let components = doc
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if components.len() <= MAX_COMPONENTS {
        return Ok(vec![doc.clone()]);
    }
    Ok(components
        .chunks(MAX_COMPONENTS)
        .enumerate()
        .map(|(i, chunk)| part(doc, chunk, i))
        .collect())
}

/// `doc` with only `chunk` of its components (the `i`th part): everything else kept as it is.
fn part(doc: &Value, chunk: &[Value], i: usize) -> Value {
    let mut d = doc.clone();
    d["components"] = Value::Array(chunk.to_vec());
    // Dependencies may name components of other parts: drop the graph, not the packages.
    if let Some(o) = d.as_object_mut() {
        o.remove("dependencies");
        o.remove("vulnerabilities");
    }
    let sn = d
        .get("serialNumber")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    d["serialNumber"] = json!(serial(&[sn.as_bytes(), &i.to_be_bytes()]));
    d
}

/// The components of a request document.
pub fn components(doc: &Value) -> &[Value] {
    doc.get("components")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A request document cut in two, each half with half of its components (for an answer
/// too large for `ScanSbom`); `None` when it has fewer than two.
pub fn halves(doc: &Value) -> Option<(Value, Value)> {
    let c = components(doc);
    if c.len() < 2 {
        return None;
    }
    let (a, b) = c.split_at(c.len() / 2);
    Some((part(doc, a, 0), part(doc, b, 1)))
}

/// A `urn:uuid:` in UUID v4 layout, derived from the content.
fn serial(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Ecosystem, Package};

    fn pkgs(n: usize) -> Inventory {
        Inventory {
            packages: (0..n)
                .map(|i| Package {
                    ecosystem: Ecosystem::Npm,
                    name: format!("p{i}"),
                    version: "1.0.0".into(),
                    purl: format!("pkg:npm/p{i}@1.0.0"),
                    location: "/app/package-lock.json".into(),
                })
                .collect(),
            ..Inventory::default()
        }
    }

    fn subject() -> Subject {
        Subject {
            name: "oci:img".into(),
            platform: Some("linux/amd64".into()),
        }
    }

    #[test]
    fn halves_keep_every_component_once() {
        let (_, parts) = documents(&subject(), &pkgs(5), "2026-01-01T00:00:00Z");
        let (a, b) = halves(&parts[0]).unwrap();
        let names = |d: &Value| -> Vec<String> {
            components(d)
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names(&a), ["p0", "p1"]);
        assert_eq!(names(&b), ["p2", "p3", "p4"]);
        assert_ne!(a["serialNumber"], b["serialNumber"]);
        assert_eq!(a["metadata"], parts[0]["metadata"]);
        let (one, _) = halves(&a).unwrap();
        assert!(halves(&one).is_none());
    }

    #[test]
    fn splits_at_the_component_limit() {
        let inv = pkgs(MAX_COMPONENTS * 2 + 1);
        let (whole, parts) = documents(&subject(), &inv, "2026-01-01T00:00:00Z");
        assert_eq!(whole["components"].as_array().unwrap().len(), 10_001);
        let sizes: Vec<usize> = parts
            .iter()
            .map(|d| d["components"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [5000, 5000, 1]);
        let serials: std::collections::HashSet<&str> = parts
            .iter()
            .map(|d| d["serialNumber"].as_str().unwrap())
            .collect();
        assert_eq!(serials.len(), 3);
        let again = documents(&subject(), &inv, "2026-01-01T00:00:00Z").0;
        assert_eq!(again, whole, "deterministic");

        let resplit = split(&whole).unwrap();
        assert_eq!(resplit.len(), 3);
        assert_eq!(resplit[2]["components"][0]["name"], "p10000");
    }

    #[test]
    fn split_refuses_other_formats() {
        let e = split(&json!({"bomFormat": "CycloneDX", "specVersion": "1.4"})).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("1.5"), "{e}");
        assert!(split(&json!({"spdxVersion": "SPDX-2.3"})).is_err());
        assert_eq!(
            split(&json!({"bomFormat": "CycloneDX", "specVersion": "1.5"}))
                .unwrap()
                .len(),
            1
        );
    }
}
