//! The signed decision (`gate --attest`, `verify`): an in-toto Statement v1 whose predicate
//! (`decision-v1`, docs/attestation.md) records what the gate decided for which digests under
//! which policy, wrapped in a DSSE envelope signed with ECDSA P-256 / SHA-256 — the format
//! cosign's `attest` writes, so `cosign verify-attestation` and Kyverno can check it too.
//!
//! - `statement`: the statement and its predicate, built from the one `Report` (pure), and the
//!   canonical JSON whose SHA-256 names the policy;
//! - `dsse`: the envelope and DSSE's pre-authentication encoding (PAE);
//! - `key`: `file:PATH` and `awskms:///…` keys — signing, and the public key that verifies;
//! - `check`: what `verify` checks of an envelope, each check a line (pure: clock passed in).
//!
//! Where the envelope is stored (cosign's `sha256-<hex>.att` tag, an OCI 1.1 referrer) is
//! `crate::registry::artifact`; the use cases are `crate::pipeline::attest` and `verify`.

pub mod check;
pub mod dsse;
pub mod key;
pub mod statement;

/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Our predicate: the gate's decision (documented in docs/attestation.md).
pub const PREDICATE_TYPE: &str =
    "https://github.com/inspector-gate/inspector-gate/blob/main/docs/attestation.md#decision-v1";
/// DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
