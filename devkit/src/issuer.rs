//! A signing issuer: key pairs, their public JWKS, and minted tokens.
//!
//! Used by `wsauth-local`'s dev issuer and by tests and benchmarks that need an issuer they
//! control. Keys are generated and serialized (PKCS#8) with `aws-lc-rs`; ordinary tokens are
//! signed by `jsonwebtoken::encode`, the same library family the verifier trusts. Hostile tokens
//! (any header, any claims) are signed in [`crate::hostile`].

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use wsauth_settings::auth::alg_name;

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

pub(crate) enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key with its `kid` and algorithm.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pub(crate) inner: Inner,
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

    /// The standard header of this key: `alg`, `typ: JWT`, `kid`.
    pub fn header(&self) -> Value {
        json!({"alg": alg_name(self.alg), "typ": "JWT", "kid": self.kid})
    }

    /// A token with the standard header (`alg`, `typ: JWT`, `kid`) and these claims, signed by
    /// `jsonwebtoken::encode`.
    pub fn mint(&self, claims: &Value) -> Result<String, IssuerError> {
        let der = self.to_pkcs8()?;
        let key = match self.inner {
            Inner::Rsa(_) => EncodingKey::from_rsa_der(
                pkcs8_private_key(&der).ok_or(IssuerError::Crypto("rsa pkcs8"))?,
            ),
            Inner::Ec(_) => EncodingKey::from_ec_der(&der),
            Inner::Ed(_) => EncodingKey::from_ed_der(&der),
        };
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &key).map_err(|_| IssuerError::Crypto("encode"))
    }
}

/// The `privateKey` of a PKCS#8 `PrivateKeyInfo` (for RSA, the PKCS#1 `RSAPrivateKey` that
/// `jsonwebtoken` signs with): SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }.
fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
    /// One DER element at the start of `b`: (tag, contents, rest).
    fn element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&first, mut b) = b.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let (bytes, rest) = b.split_at(n);
            b = rest;
            bytes
                .iter()
                .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }
    let (0x30, info, _) = element(der)? else {
        return None;
    };
    let (0x02, _, rest) = element(info)? else {
        return None;
    };
    let (0x30, _, rest) = element(rest)? else {
        return None;
    };
    match element(rest)? {
        (0x04, key, _) => Some(key),
        _ => None,
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
            let parsed = wsauth_authorizer::jwks::parse_jwk("https://i", &k.public_jwk()).unwrap();
            assert!(parsed.accepts(alg));
        }
    }

    #[test]
    fn minted_tokens_carry_the_standard_header_and_verify_with_jsonwebtoken() {
        use base64::Engine as _;
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let k = SigningKey::generate(alg, "k1").unwrap();
            let t = k
                .mint(&json!({"sub": "alice", "exp": 4_102_444_800i64}))
                .unwrap();
            let header = t.split('.').next().unwrap();
            let header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
            assert_eq!(header, k.header());
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(k.public_jwk()).unwrap();
            let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let mut v = jsonwebtoken::Validation::new(alg);
            v.validate_aud = false;
            let data = jsonwebtoken::decode::<Value>(&t, &key, &v).unwrap();
            assert_eq!(data.claims["sub"], "alice");
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
