//! AWS KMS for the signed decision: `Sign` (ECDSA_SHA_256 with an ECC_NIST_P256 key) and
//! `GetPublicKey` (to verify locally, as cosign does). Every call goes through
//! `retry::call` under the run's deadline.

use super::classify;
use crate::error::{Error, Result};
use crate::retry::{self, Schedule};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

/// The largest message KMS signs as `RAW`; a larger one is signed as its SHA-256 (`DIGEST`).
pub const MAX_RAW_MESSAGE: usize = 4096;

/// The ASN.1 DER ECDSA signature of `message` by `key_id`. Up to [`MAX_RAW_MESSAGE`] bytes the
/// message itself is sent (`MessageType=RAW`, KMS hashes it); above, its SHA-256 is sent
/// (`DIGEST`), which real KMS signs as is — the same signature either way.
pub async fn sign(
    c: &aws_sdk_kms::Client,
    key_id: &str,
    message: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>> {
    let (kind, body) = if message.len() <= MAX_RAW_MESSAGE {
        (MessageType::Raw, message.to_vec())
    } else {
        (MessageType::Digest, Sha256::digest(message).to_vec())
    };
    let out = retry::call(Schedule::CALL, deadline, || async {
        c.sign()
            .key_id(key_id)
            .message(Blob::new(body.clone()))
            .message_type(kind.clone())
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| {
        e.into_error("kms:Sign")
            .context(format!("signing with awskms:///{key_id}"))
    })?;
    out.signature
        .map(Blob::into_inner)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::runtime(format!("kms:Sign with {key_id} returned no signature")))
}

/// The key's public key (SPKI DER), after checking it signs with ECDSA_SHA_256.
pub async fn public_key(
    c: &aws_sdk_kms::Client,
    key_id: &str,
    deadline: Instant,
) -> Result<Vec<u8>> {
    let out = retry::call(Schedule::CALL, deadline, || async {
        c.get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| e.into_error("kms:GetPublicKey"))?;
    let algs = out.signing_algorithms();
    if !algs.is_empty() && !algs.contains(&SigningAlgorithmSpec::EcdsaSha256) {
        return Err(Error::usage(format!(
            "KMS key {key_id} does not sign with ECDSA_SHA_256 (it offers {}): use an ECC_NIST_P256 SIGN_VERIFY key",
            algs.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    out.public_key
        .map(Blob::into_inner)
        .ok_or_else(|| Error::runtime(format!("kms:GetPublicKey for {key_id} returned no key")))
}
