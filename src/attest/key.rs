//! Signing keys as `gate --attest` and `verify --key` name them (cosign's spellings):
//! `file:PATH` — an unencrypted PKCS#8 P-256 private key (PEM; `verify` also takes a public
//! key, SPKI PEM) — and `awskms:///alias/NAME`, `awskms:///arn:…`, `awskms:///<key id>` — an
//! AWS KMS ECC_NIST_P256 SIGN_VERIFY key signing with ECDSA_SHA_256. Signatures are ASN.1 DER
//! ECDSA over SHA-256 of the DSSE PAE, as cosign writes them.

use crate::aws::kms;
use crate::error::{Error, Result};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use tokio::time::Instant;

/// A key reference, parsed from `file:PATH` or `awskms:///ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    File(PathBuf),
    /// A KMS key id, alias (`alias/NAME`) or ARN.
    Kms(String),
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRef::File(p) => write!(f, "file:{}", p.display()),
            KeyRef::Kms(id) => write!(f, "awskms:///{id}"),
        }
    }
}

impl std::str::FromStr for KeyRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(Error::usage("key file: needs a path (file:cosign.key)"));
            }
            return Ok(KeyRef::File(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("awskms://") {
            let Some(id) = rest.strip_prefix('/') else {
                return Err(Error::usage(format!(
                    "key '{s}': awskms://HOST/… endpoints are not supported; write awskms:///alias/NAME or awskms:///arn:… (set AWS_ENDPOINT_URL_KMS for another endpoint)"
                )));
            };
            let valid = id.starts_with("alias/")
                || (id.starts_with("arn:") && id.split(':').count() >= 6)
                || (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
            if !valid {
                return Err(Error::usage(format!(
                    "key '{s}': expected awskms:///alias/NAME, awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID or awskms:///KEY-ID"
                )));
            }
            return Ok(KeyRef::Kms(id.to_string()));
        }
        Err(Error::usage(format!(
            "key '{s}': expected file:PATH (a PKCS#8 P-256 PEM key) or awskms:///alias/NAME (an AWS KMS key)"
        )))
    }
}

/// What signs: a local key, or KMS.
pub enum Signer {
    File(Box<SigningKey>),
    Kms {
        client: aws_sdk_kms::Client,
        key_id: String,
    },
}

fn no_client(id: &str) -> Error {
    Error::usage(format!(
        "awskms:///{id} needs AWS: no AWS configuration (region, credentials) was set up"
    ))
}

fn read_pem(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read key {}: {e}", path.display())))
}

/// A local PKCS#8 P-256 private key.
pub fn signing_key_from_file(path: &std::path::Path) -> Result<SigningKey> {
    let pem = read_pem(path)?;
    if pem.contains("ENCRYPTED") {
        return Err(Error::usage(format!(
            "key {} is encrypted: give an unencrypted PKCS#8 P-256 key (openssl pkcs8 -topk8 -nocrypt), or use awskms:///…",
            path.display()
        )));
    }
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        Error::usage(format!(
            "key {} is not an unencrypted PKCS#8 P-256 private key (BEGIN PRIVATE KEY): {e}",
            path.display()
        ))
    })
}

impl Signer {
    /// Open `key` for signing (KMS calls go through `client`).
    pub fn open(key: &KeyRef, client: Option<&aws_sdk_kms::Client>) -> Result<Signer> {
        Ok(match key {
            KeyRef::File(p) => Signer::File(Box::new(signing_key_from_file(p)?)),
            KeyRef::Kms(id) => Signer::Kms {
                client: client.ok_or_else(|| no_client(id))?.clone(),
                key_id: id.clone(),
            },
        })
    }

    /// The ASN.1 DER ECDSA P-256 / SHA-256 signature of `message`.
    pub async fn sign(&self, message: &[u8], deadline: Instant) -> Result<Vec<u8>> {
        match self {
            Signer::File(k) => {
                let sig: Signature = k.sign(message);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Signer::Kms { client, key_id } => kms::sign(client, key_id, message, deadline).await,
        }
    }
}

/// The public key that verifies `key`'s signatures: a file's (private or public PEM), or
/// KMS's `GetPublicKey` (which must be an ECC_NIST_P256 key).
pub async fn verifying_key(
    key: &KeyRef,
    client: Option<&aws_sdk_kms::Client>,
    deadline: Instant,
) -> Result<VerifyingKey> {
    match key {
        KeyRef::File(p) => {
            let pem = read_pem(p)?;
            if pem.contains("BEGIN PUBLIC KEY") {
                return VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
                    Error::usage(format!(
                        "key {} is not a P-256 public key (SPKI PEM): {e}",
                        p.display()
                    ))
                });
            }
            Ok(*signing_key_from_file(p)?.verifying_key())
        }
        KeyRef::Kms(id) => {
            let der = kms::public_key(client.ok_or_else(|| no_client(id))?, id, deadline).await?;
            VerifyingKey::from_public_key_der(&der).map_err(|e| {
                Error::usage(format!(
                    "KMS key {id} is not an ECC_NIST_P256 key (its public key does not parse as P-256: {e}): create it with --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY"
                ))
            })
        }
    }
}

/// Whether `der` is a valid signature of `message` by `key` (high-S signatures, which KMS may
/// return, are accepted as ECDSA accepts them).
pub fn verifies(key: &VerifyingKey, message: &[u8], der: &[u8]) -> bool {
    let Ok(sig) = Signature::from_der(der) else {
        return false;
    };
    let sig = sig.normalize_s().unwrap_or(sig);
    key.verify(message, &sig).is_ok()
}

/// cosign's key id convention is empty; we name the key by the SHA-256 of its SPKI DER
/// (hex, first 16 bytes), shown in `verify`'s output so a wrong key is visible.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default();
    hex::encode(&Sha256::digest(&der)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_parse_as_cosign_spells_them() {
        assert_eq!(
            "file:/k/cosign.key".parse::<KeyRef>().unwrap(),
            KeyRef::File("/k/cosign.key".into())
        );
        assert_eq!(
            "awskms:///alias/inspector-gate".parse::<KeyRef>().unwrap(),
            KeyRef::Kms("alias/inspector-gate".into())
        );
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            format!("awskms:///{arn}").parse::<KeyRef>().unwrap(),
            KeyRef::Kms(arn.into())
        );
        assert!(matches!(
            "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab".parse::<KeyRef>(),
            Ok(KeyRef::Kms(_))
        ));
        for bad in [
            "",
            "file:",
            "awskms://kms.example/alias/x",
            "awskms:///",
            "awskms:///not a key",
            "k8s://ns/secret",
            "cosign.key",
        ] {
            let e = bad.parse::<KeyRef>().unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn a_local_signature_verifies_and_a_changed_message_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let k = SigningKey::from_slice(&[7u8; 32]).unwrap();
        use p256::pkcs8::EncodePrivateKey;
        let pem = k.to_pkcs8_pem(Default::default()).unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, pem.as_bytes()).unwrap();
        let signer = Signer::File(Box::new(signing_key_from_file(&path).unwrap()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let der = rt.block_on(signer.sign(b"message", deadline)).unwrap();
        let vk = *k.verifying_key();
        assert!(verifies(&vk, b"message", &der));
        assert!(!verifies(&vk, b"messagf", &der));
        assert!(!verifies(&vk, b"message", &der[1..]));
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert!(!verifies(other.verifying_key(), b"message", &der));
        assert_eq!(fingerprint(&vk).len(), 32);
        // An encrypted key is refused with the fix.
        std::fs::write(
            &path,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(signing_key_from_file(&path)
            .unwrap_err()
            .message
            .contains("-nocrypt"));
    }
}
