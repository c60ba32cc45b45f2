//! The use cases, free of any command-line types: each takes plain options and a
//! [`Progress`](crate::progress::Progress) and does one job end to end (gate, push, findings,
//! offline evaluation, approval, the local scan, resolving the policy, signing and verifying the decision), calling the pure core (policy, reports, wait judgements) and
//! the adapters (aws, registry, ci). The binary's `commands/` turn arguments into these options.

pub mod approve;
pub mod attest;
pub mod baseline;
pub mod evaluate;
pub mod findings;
pub mod gate;
pub mod policy;
pub mod publish;
pub mod push;
pub mod scan;
pub mod verify;

/// Today's date in UTC: the only clock the policy sees (passed into the pure evaluation).
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Now, as RFC 3339 UTC to the second, for `generatedAt`.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `Err(error)` when a [`crate::decision`] ended in one, after printing the other errors met
/// (one sanitized line each), so that no cause is lost behind the one that sets the exit code.
pub(crate) fn end_on_error(
    error: Option<crate::error::Error>,
    others: Vec<crate::error::Error>,
) -> crate::error::Result<()> {
    let Some(error) = error else {
        return Ok(());
    };
    for e in others {
        eprintln!("error: {}", crate::sanitize::text(&e.to_string()));
    }
    Err(error)
}
