//! DSSE v1 (Dead Simple Signing Envelope): the envelope cosign stores as an attestation layer,
//! and the pre-authentication encoding (PAE) that is what is actually signed:
//! `DSSEv1 <len(type)> <type> <len(payload)> <payload>` (lengths in ASCII decimal bytes).

use crate::error::{Error, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A DSSE envelope (JSON field names as the DSSE spec and cosign write them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the ASN.1 DER ECDSA signature over the PAE.
    pub sig: String,
}

/// The bytes a DSSE signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Envelope {
    /// An envelope of `payload` with one DER signature over its PAE.
    pub fn new(payload_type: &str, payload: &[u8], keyid: &str, der_signature: &[u8]) -> Self {
        Envelope {
            payload_type: payload_type.into(),
            payload: B64.encode(payload),
            signatures: vec![Signature {
                keyid: keyid.into(),
                sig: B64.encode(der_signature),
            }],
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::runtime(format!("not a DSSE envelope: {e}")))
    }

    /// The payload bytes (base64 decoded).
    pub fn payload_bytes(&self) -> Result<Vec<u8>> {
        B64.decode(self.payload.trim())
            .map_err(|e| Error::runtime(format!("the DSSE payload is not base64: {e}")))
    }

    /// Each signature's bytes (base64 decoded; undecodable ones left out).
    pub fn signature_bytes(&self) -> Vec<Vec<u8>> {
        self.signatures
            .iter()
            .filter_map(|s| B64.decode(s.sig.trim()).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_v1_encoding() {
        // The DSSE spec's own test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
        // Lengths are in bytes, not characters.
        assert_eq!(
            pae("t", "é".as_bytes()),
            "DSSEv1 1 t 2 é".as_bytes().to_vec()
        );
    }

    #[test]
    fn the_envelope_round_trips_in_dsse_field_names() {
        let e = Envelope::new("application/vnd.in-toto+json", b"{}", "", &[1, 2, 3]);
        let text = String::from_utf8(e.to_json()).unwrap();
        assert_eq!(
            text,
            r#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AQID"}]}"#
        );
        let back = Envelope::from_json(text.as_bytes()).unwrap();
        assert_eq!(back.payload_bytes().unwrap(), b"{}");
        assert_eq!(back.signature_bytes(), vec![vec![1, 2, 3]]);
    }
}
