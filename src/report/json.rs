//! `report.json`: the report serialised as documented in docs/report-schema.json.

use super::Report;

pub fn render(report: &Report) -> String {
    // Serialising plain data structures cannot fail; fall back to an empty object anyway.
    serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into()) + "\n"
}
