//! Forgeries for the security suite: raw signatures over any header and claims, DER-encoded
//! ECDSA signatures, base64url at will. Ordinary tokens come from [`SigningKey::mint`]; nothing but
//! the suites that attack the verifier should sign here.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::issuer::{Inner, IssuerError, SigningKey};

impl SigningKey {
    /// Signs raw bytes with the key's algorithm (the JWS signature, unencoded).
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, IssuerError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| IssuerError::Crypto("rsa sign"))?;
                Ok(sig)
            }
            Inner::Ec(k) => Ok(k
                .sign(&rng, message)
                .map_err(|_| IssuerError::Crypto("ec sign"))?
                .as_ref()
                .to_vec()),
            Inner::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    /// Signs any header and claims as a compact JWS. The header is used as given.
    pub fn sign_parts(&self, header: &Value, claims: &Value) -> Result<String, IssuerError> {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{h}.{p}");
        let sig = self.sign_raw(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// Base64url without padding, as JWS segments are encoded.
pub fn b64(v: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// Decodes a base64url segment; an undecodable one decodes to nothing.
pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap_or_default()
}

/// A raw `r‖s` ECDSA signature re-encoded as ASN.1 DER (what JWS forbids).
pub fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let mut v = x.to_vec();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = int(r);
    body.extend(int(s));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    der
}

/// The order n of P-256, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The ECDSA malleability twin of an ES256 token: its signature (r, s) replaced by (r, n − s),
/// which verifies as well. `None` when `token` is not three segments with a 64-byte signature.
pub fn ecdsa_twin(token: &str) -> Option<String> {
    let (signed, sig64) = token.rsplit_once('.')?;
    let sig = unb64(sig64);
    if sig.len() != 64 {
        return None;
    }
    let (r, s) = sig.split_at(32);
    // n − s, byte by byte from the least significant end, with borrow (0 < s < n).
    let mut twin_s = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        twin_s[i] = u8::try_from(d).ok()?;
    }
    let mut twin = r.to_vec();
    twin.extend_from_slice(&twin_s);
    Some(format!("{signed}.{}", b64(twin)))
}
