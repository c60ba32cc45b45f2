//! AWS's own request rules for the scripted servers: botocore's `service-2.json` of a service,
//! loaded from the test venv, and one walker that checks a request body against an
//! operation's input shape — required members, members the shape does not have, JSON types,
//! enum values, string lengths, list and map sizes, numeric ranges (patterns are not checked).
//! The one validator every Rust scripted server uses (Python ones use botocore's own,
//! `scripts/lib/model_check.py`); `scenario_conformance` checks that both agree.
//!
//! A [`ModelGuard`] is what a server holds: each request it checks is either accepted or
//! refused with AWS's `ValidationException` and the member path (`result.summary`,
//! `filterCriteria.ecrImageHash.1.member.value`, 1-based as AWS writes it), and a refusal
//! fails the test that sent it when the server is dropped — unless the test took it with
//! [`ModelGuard::take_refused`] because it sent the bad request on purpose.
//!
//! `MODEL_CHECK=log` (the measurement mode) accepts every request and only records; with
//! `MODEL_CHECK_LOG=FILE` each refusal is also appended to FILE as a JSON line (test,
//! service, operation, message).

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// One broken rule: where, the value found there, and the constraint, in AWS's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub value: String,
    pub constraint: String,
}

impl Violation {
    /// `Value '101' at 'maxResults' failed to satisfy constraint: Member must …`.
    pub fn message(&self) -> String {
        format!(
            "Value {} at '{}' failed to satisfy constraint: {}",
            self.value, self.path, self.constraint
        )
    }
}

/// AWS's message for a refused request: `N validation error(s) detected: …; …`.
pub fn message(violations: &[Violation]) -> String {
    let n = violations.len();
    let each: Vec<String> = violations.iter().map(Violation::message).collect();
    format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        each.join("; ")
    )
}

/// One service model (the `shapes` and `operations` of its `service-2.json`).
pub struct Model {
    pub service: String,
    operations: Map<String, Value>,
    shapes: Map<String, Value>,
}

/// The venv's botocore package directory (asked of the venv's Python once).
pub fn botocore_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import botocore,os;print(os.path.dirname(botocore.__file__))",
            ])
            .output()
            .expect("the venv's python runs (scripts/setup makes it)");
        assert!(out.status.success(), "botocore is not in the venv");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// The newest `service-2.json` (or `.json.gz`) of `service` under `botocore/data`.
fn model_file(service: &str) -> PathBuf {
    let dir = botocore_dir().join("data").join(service);
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    versions.sort();
    let newest = versions.pop().expect("a model version");
    for name in ["service-2.json", "service-2.json.gz"] {
        if newest.join(name).exists() {
            return newest.join(name);
        }
    }
    panic!("no service-2.json in {}", newest.display())
}

fn read_model(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    };
    serde_json::from_str(&text).unwrap()
}

/// The model of `service` (botocore's directory name: `inspector2`, `codepipeline`,
/// `inspector-scan`, `ecs`, `ecr`), loaded once per test process.
pub fn model(service: &str) -> Arc<Model> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Model>>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Mutex::default).lock().unwrap();
    cache
        .entry(service.to_string())
        .or_insert_with(|| {
            let v = read_model(&model_file(service));
            Arc::new(Model {
                service: service.to_string(),
                operations: v["operations"].as_object().unwrap().clone(),
                shapes: v["shapes"].as_object().unwrap().clone(),
            })
        })
        .clone()
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Null => "null".into(),
        other => {
            let s = other.to_string();
            if s.len() > 60 {
                format!("'{}…'", &s[..60])
            } else {
                format!("'{s}'")
            }
        }
    }
}

/// The constraint `n` breaks, if any: the model's `min` / `max` of a length or a value.
fn out_of(n: f64, min: Option<f64>, max: Option<f64>, what: &str) -> Option<String> {
    if let Some(m) = min.filter(|m| n < *m) {
        return Some(format!(
            "Member must have {what} greater than or equal to {m}"
        ));
    }
    max.filter(|m| n > *m)
        .map(|m| format!("Member must have {what} less than or equal to {m}"))
}

impl Model {
    /// The shape name of `op`'s input.
    pub fn input_shape(&self, op: &str) -> Option<&str> {
        self.operations.get(op)?["input"]["shape"].as_str()
    }

    /// Whether `op` exists in the model.
    pub fn has_operation(&self, op: &str) -> bool {
        self.operations.contains_key(op)
    }

    /// The error `op` answers for a refused request: ValidationException where the model
    /// lists it, InvalidParameterException otherwise (ECS).
    pub fn validation_error(&self, op: &str) -> &'static str {
        let errors = self
            .operations
            .get(op)
            .and_then(|o| o["errors"].as_array())
            .cloned()
            .unwrap_or_default();
        let has = |n: &str| errors.iter().any(|e| e["shape"] == n);
        if !has("ValidationException") && has("InvalidParameterException") {
            "InvalidParameterException"
        } else {
            "ValidationException"
        }
    }

    /// Every rule of `op`'s input that `body` (the request's JSON body) breaks; an operation
    /// the model does not have is one violation at the root.
    pub fn check(&self, op: &str, body: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        match self.input_shape(op) {
            Some(shape) => {
                let body = if body.is_null() { &json!({}) } else { body };
                self.walk(shape, body, "", &mut out);
            }
            None if self.has_operation(op) => {}
            None => out.push(Violation {
                path: op.to_string(),
                value: "null".into(),
                constraint: format!("Operation is not in the {} model", self.service),
            }),
        }
        out
    }

    fn walk(&self, shape_name: &str, v: &Value, path: &str, out: &mut Vec<Violation>) {
        let shape = &self.shapes[shape_name];
        let ty = shape["type"].as_str().unwrap_or("");
        // A document (ScanSbom's `sbom`) is free-form JSON.
        if shape["document"] == true {
            return;
        }
        let bad = |out: &mut Vec<Violation>, constraint: String| {
            out.push(Violation {
                path: if path.is_empty() {
                    "$".into()
                } else {
                    path.into()
                },
                value: shown(v),
                constraint,
            })
        };
        let min = shape["min"].as_f64();
        let max = shape["max"].as_f64();
        let join = |m: &str| {
            if path.is_empty() {
                m.to_string()
            } else {
                format!("{path}.{m}")
            }
        };
        match ty {
            "structure" => {
                let Some(obj) = v.as_object() else {
                    return bad(out, "Member must be a structure".into());
                };
                let members = shape["members"].as_object().cloned().unwrap_or_default();
                for r in shape["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap();
                    // Members bound to the URI, headers or query string are not in the body.
                    if members.get(r).is_some_and(|m| m.get("location").is_some()) {
                        continue;
                    }
                    if obj.get(r).is_none_or(Value::is_null) {
                        out.push(Violation {
                            path: join(r),
                            value: "null".into(),
                            constraint: "Member must not be null".into(),
                        });
                    }
                }
                for (k, val) in obj {
                    match members.get(k) {
                        Some(m) => {
                            if !val.is_null() {
                                self.walk(m["shape"].as_str().unwrap(), val, &join(k), out)
                            }
                        }
                        None => out.push(Violation {
                            path: join(k),
                            value: shown(val),
                            constraint: format!(
                                "Member is not in {shape_name} (one of: {})",
                                members.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        }),
                    }
                }
            }
            "list" => {
                let Some(items) = v.as_array() else {
                    return bad(out, "Member must be a list".into());
                };
                let n = items.len() as f64;
                if let Some(c) = out_of(n, min, max, "length") {
                    bad(out, c);
                }
                let member = shape["member"]["shape"].as_str().unwrap();
                for (i, item) in items.iter().enumerate() {
                    self.walk(member, item, &format!("{path}.{}.member", i + 1), out);
                }
            }
            "map" => {
                let Some(obj) = v.as_object() else {
                    return bad(out, "Member must be a map".into());
                };
                let n = obj.len() as f64;
                if let Some(c) = out_of(n, min, max, "length") {
                    bad(out, c);
                }
                let key = shape["key"]["shape"].as_str().unwrap();
                let value = shape["value"]["shape"].as_str().unwrap();
                for (k, item) in obj {
                    self.walk(key, &json!(k), &format!("{path}.{k}.key"), out);
                    self.walk(value, item, &format!("{path}.{k}.value"), out);
                }
            }
            "string" => {
                let Some(s) = v.as_str() else {
                    return bad(out, "Member must be a string".into());
                };
                if let Some(values) = shape["enum"].as_array() {
                    if !values.iter().any(|e| e == s) {
                        let set: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                        bad(
                            out,
                            format!("Member must satisfy enum value set: [{}]", set.join(", ")),
                        );
                    }
                }
                let n = s.chars().count() as f64;
                if let Some(c) = out_of(n, min, max, "length") {
                    bad(out, c);
                }
            }
            "integer" | "long" | "double" | "float" => {
                let Some(n) = v.as_f64() else {
                    return bad(out, format!("Member must be a {ty}"));
                };
                if matches!(ty, "integer" | "long") && v.as_i64().is_none() {
                    return bad(out, format!("Member must be a {ty}"));
                }
                if let Some(c) = out_of(n, min, max, "value") {
                    bad(out, c);
                }
            }
            "boolean" if !v.is_boolean() => bad(out, "Member must be a boolean".into()),
            // JSON protocols send timestamps as epoch seconds (or a string form).
            "timestamp" if !(v.is_number() || v.is_string()) => {
                bad(out, "Member must be a timestamp".into())
            }
            "blob" if !v.is_string() => bad(out, "Member must be base64 text".into()),
            _ => {}
        }
    }
}

/// A refused request: the error code the operation answers, AWS's message, the violations.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub error: &'static str,
    pub message: String,
    pub violations: Vec<Violation>,
}

impl Refusal {
    /// The restJson1 body of Inspector2 / Inspector Scan's ValidationException.
    pub fn rest_body(&self) -> Value {
        let fields: Vec<Value> = self
            .violations
            .iter()
            .map(|v| json!({ "name": v.path, "message": v.constraint }))
            .collect();
        json!({ "message": self.message, "reason": "FIELD_VALIDATION_FAILED", "fields": fields })
    }

    /// The awsJson1.1 body (`__type`, `message`) of CodePipeline and ECS.
    pub fn json_body(&self) -> Value {
        json!({ "__type": self.error, "message": self.message })
    }
}

/// How refusals are handled: `strict` (answer ValidationException, fail the test) unless
/// `MODEL_CHECK=log`.
pub fn strict() -> bool {
    !matches!(std::env::var("MODEL_CHECK").as_deref(), Ok("log"))
}

/// A server's model check: every request it is asked about, and the refusals no test took.
pub struct ModelGuard {
    test: String,
    refused: Mutex<Vec<String>>,
}

impl Default for ModelGuard {
    fn default() -> Self {
        ModelGuard::new()
    }
}

impl ModelGuard {
    /// A guard for the test running on this thread.
    pub fn new() -> ModelGuard {
        ModelGuard {
            test: std::thread::current().name().unwrap_or("?").to_string(),
            refused: Mutex::default(),
        }
    }

    /// Check `body` as the input of `service`'s `op`. `Err(message)` in AWS's words when the
    /// request is refused (never in log mode, where it is only recorded).
    pub fn check(&self, service: &str, op: &str, body: &Value) -> Result<(), Refusal> {
        let m = model(service);
        let violations = m.check(op, body);
        if violations.is_empty() {
            return Ok(());
        }
        let msg = message(&violations);
        self.refused
            .lock()
            .unwrap()
            .push(format!("{service}:{op}: {msg}"));
        if let Ok(file) = std::env::var("MODEL_CHECK_LOG") {
            use std::io::Write;
            let line = json!({ "test": self.test, "service": service, "operation": op,
                               "message": msg, "body": body });
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
            {
                let _ = writeln!(f, "{line}");
            }
        }
        if strict() {
            Err(Refusal {
                error: m.validation_error(op),
                message: msg,
                violations,
            })
        } else {
            Ok(())
        }
    }

    /// Record a request the server refuses for a reason of its own (a filter it does not
    /// emulate): it fails the test like a model refusal.
    pub fn refuse(&self, why: String) {
        self.refused.lock().unwrap().push(why);
    }

    /// Called when the server stops: in strict mode, a refusal no test took fails the test
    /// that started the server (unless it is already failing).
    pub fn finish(&self) {
        let refused = self.take_refused();
        if strict() && !refused.is_empty() && !std::thread::panicking() {
            panic!(
                "the scripted server refused {} request(s) AWS would refuse:\n{}",
                refused.len(),
                refused.join("\n")
            );
        }
    }

    /// The refusals so far, taken: a test that sent bad requests on purpose asserts on them,
    /// and they no longer fail it.
    pub fn take_refused(&self) -> Vec<String> {
        std::mem::take(&mut *self.refused.lock().unwrap())
    }
}
