//! A signing issuer: key pairs, their public JWKS, and minted tokens.
//!
//! Used by `wsauth-local`'s dev issuer and by tests and benchmarks that need an issuer they
//! control. Keys are generated and serialized (PKCS#8) with `aws-lc-rs`. [`SigningKey::sign_parts`]
//! signs any header and claims, which lets the security suite craft hostile-but-signed tokens.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::config::alg_name;

/// A signing failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Only RS256, ES256 and EdDSA keys are made here.
    #[error("unsupported signing algorithm")]
    Unsupported,
    /// Key generation, parsing or signing failed.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key with its `kid` and algorithm.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    inner: Inner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key: RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
    pub fn generate(alg: Algorithm, kid: &str) -> Result<Self, IssuerError> {
        let inner = match alg {
            Algorithm::RS256 => Inner::Rsa(
                RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| IssuerError::Crypto("rsa generate"))?,
            ),
            Algorithm::ES256 => Inner::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| IssuerError::Crypto("ec generate"))?,
            ),
            Algorithm::EdDSA => Inner::Ed(
                Ed25519KeyPair::generate().map_err(|_| IssuerError::Crypto("ed generate"))?,
            ),
            _ => return Err(IssuerError::Unsupported),
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            inner,
        })
    }

    /// A key read back from its PKCS#8 DER.
    pub fn from_pkcs8(alg: Algorithm, kid: &str, der: &[u8]) -> Result<Self, IssuerError> {
        let inner = match alg {
            Algorithm::RS256 => Inner::Rsa(
                RsaKeyPair::from_pkcs8(der).map_err(|_| IssuerError::Crypto("rsa pkcs8"))?,
            ),
            Algorithm::ES256 => Inner::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| IssuerError::Crypto("ec pkcs8"))?,
            ),
            Algorithm::EdDSA => Inner::Ed(
                Ed25519KeyPair::from_pkcs8(der).map_err(|_| IssuerError::Crypto("ed pkcs8"))?,
            ),
            _ => return Err(IssuerError::Unsupported),
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            inner,
        })
    }

    /// The private key as PKCS#8 DER, to persist it.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, IssuerError> {
        let err = |_| IssuerError::Crypto("pkcs8 export");
        Ok(match &self.inner {
            Inner::Rsa(k) => k.as_der().map_err(err)?.as_ref().to_vec(),
            Inner::Ec(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
            Inner::Ed(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
        })
    }

    /// The key's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public half as a JWK (`use: sig`, with `alg` and `kid`).
    pub fn public_jwk(&self) -> Value {
        let e = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.inner {
            Inner::Rsa(k) => {
                let p = k.public_key();
                json!({"kty":"RSA","n":e(p.modulus().big_endian_without_leading_zero()),
                       "e":e(p.exponent().big_endian_without_leading_zero())})
            }
            Inner::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty":"EC","crv":"P-256","x":e(&point[1..33]),"y":e(&point[33..65])})
            }
            Inner::Ed(k) => json!({"kty":"OKP","crv":"Ed25519","x":e(k.public_key().as_ref())}),
        };
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg_name(self.alg));
        jwk
    }

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

    /// The standard header of this key: `alg`, `typ: JWT`, `kid`.
    pub fn header(&self) -> Value {
        json!({"alg": alg_name(self.alg), "typ": "JWT", "kid": self.kid})
    }

    /// A token with the standard header and these claims.
    pub fn mint(&self, claims: &Value) -> Result<String, IssuerError> {
        self.sign_parts(&self.header(), claims)
    }
}

/// A JWKS document publishing these keys.
pub fn jwks_json<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Value {
    json!({"keys": keys.into_iter().map(SigningKey::public_jwk).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_pkcs8_round_trip_and_publish_usable_jwks() {
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let k = SigningKey::generate(alg, "k1").unwrap();
            let back = SigningKey::from_pkcs8(alg, "k1", &k.to_pkcs8().unwrap()).unwrap();
            assert_eq!(k.public_jwk(), back.public_jwk());
            let parsed = crate::jwks::parse_jwk("https://i", &k.public_jwk()).unwrap();
            assert!(parsed.accepts(alg));
        }
    }

    #[test]
    fn unsupported_algorithms_are_refused() {
        assert_eq!(
            SigningKey::generate(Algorithm::HS256, "x").unwrap_err(),
            IssuerError::Unsupported
        );
    }
}
