//! `report.json`: the report serialised as documented in docs/report-schema.json.

use super::Report;

pub fn render(report: &Report) -> String {
    // Serialising plain data structures cannot fail; fall back to an empty object anyway.
    let text = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into()) + "\n";
    // serde_json escapes C0 controls but writes C1 ones (8-bit CSI, U+009B) raw; they can only
    // occur inside strings, where `\uXXXX` is the same value, so escape them for terminals.
    if !text.contains(|c: char| ('\u{80}'..='\u{9f}').contains(&c)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if ('\u{80}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
