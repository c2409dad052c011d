//! Key parsing: one JWK into an aws-lc-rs public key for exactly the algorithms it may verify,
//! and a whole JWKS into the usable keys and the skipped ones (with why). Pure: no I/O, no clock.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use wsauth_settings::auth::{SUPPORTED, parse_algorithm};

/// The family a key belongs to, which decides the algorithms it may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, with its modulus size in bytes.
    Rsa {
        /// Modulus length in bytes (256 for 2048-bit).
        modulus_bytes: usize,
    },
    /// ECDSA on P-256.
    P256,
    /// ECDSA on P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    /// Whether a token signed with `alg` may be verified by a key of this kind.
    pub fn fits(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (
                KeyKind::Rsa { .. },
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) | (KeyKind::P256, Algorithm::ES256)
                | (KeyKind::P384, Algorithm::ES384)
                | (KeyKind::Ed25519, Algorithm::EdDSA)
        )
    }

    /// The exact signature length a token of this key must carry.
    pub fn signature_len(self) -> usize {
        match self {
            KeyKind::Rsa { modulus_bytes } => modulus_bytes,
            KeyKind::P256 | KeyKind::Ed25519 => 64,
            KeyKind::P384 => 96,
        }
    }
}

/// A vetted public key, ready to verify.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The issuer whose JWKS published it.
    pub issuer: String,
    /// Its `kid` (shared with every [`crate::Verified`] it verifies, not copied).
    pub kid: Arc<str>,
    /// Its family.
    pub kind: KeyKind,
    /// The `alg` the JWK declared, if any: then only that algorithm is accepted.
    pub alg: Option<Algorithm>,
    /// The key parsed once per algorithm it may verify.
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish()
    }
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// Checks `signature` over `message` with `alg`; `false` when it does not verify or the key
    /// does not accept `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.accepts(alg)
            && self
                .parsed
                .iter()
                .find(|(a, _)| *a == alg)
                .is_some_and(|(_, k)| k.verify_sig(message, signature).is_ok())
    }
}

fn rsa_params(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// Why one JWK was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Not a JSON object, or a member of the wrong type.
    Malformed,
    /// No `kid`, or one longer than the cap: tokens could not name it.
    NoKid,
    /// A symmetric (`oct`) key: never trusted from a JWKS.
    Symmetric,
    /// `use` is not `sig`.
    NotForSignatures,
    /// `kty` or `crv` not supported.
    UnknownType,
    /// RSA modulus under 2048 bits.
    WeakRsa,
    /// The declared `alg` is unknown or does not fit the key type or curve.
    AlgMismatch,
    /// The same `kid` appeared earlier in the set; the first wins.
    DuplicateKid,
}

/// Why no key set came of a JWKS: its fetch failed or was not attempted, or its body is not a
/// key set, or (installed) it holds no usable key. The cache keeps what it had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Connection refused, timed out, TLS failure…
    #[error("JWKS request failed: {0}")]
    Transport(String),
    /// A status other than 200.
    #[error("JWKS answered HTTP {0}")]
    Status(u16),
    /// Larger than the body cap.
    #[error("JWKS body larger than {0} bytes")]
    TooLarge(usize),
    /// Not a JSON object with a `keys` array.
    #[error("JWKS is not a JSON key set")]
    NotAKeySet,
    /// A key set in which no key is usable (refused by [`super::JwksCache::install`]; a fetched one
    /// is authoritative and empties the cache).
    #[error("JWKS has no usable key")]
    NoUsableKey,
    /// Not attempted: earlier fetches failed and the backoff has not passed yet.
    #[error("JWKS fetch backing off after failures")]
    BackingOff,
}

fn b64(v: &Value, member: &str) -> Result<Vec<u8>, SkipReason> {
    let s = v
        .get(member)
        .and_then(Value::as_str)
        .ok_or(SkipReason::Malformed)?;
    URL_SAFE_NO_PAD.decode(s).map_err(|_| SkipReason::Malformed)
}

fn opt_str<'a>(v: &'a Value, member: &str) -> Result<Option<&'a str>, SkipReason> {
    match v.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SkipReason::Malformed),
    }
}

/// Vets one JWK and turns it into a [`VerifyingKey`] of `issuer`.
pub fn parse_jwk(issuer: &str, jwk: &Value) -> Result<VerifyingKey, SkipReason> {
    if !jwk.is_object() {
        return Err(SkipReason::Malformed);
    }
    let kty = opt_str(jwk, "kty")?.ok_or(SkipReason::Malformed)?;
    if kty == "oct" {
        return Err(SkipReason::Symmetric);
    }
    if let Some(u) = opt_str(jwk, "use")?
        && u != "sig"
    {
        return Err(SkipReason::NotForSignatures);
    }
    let kid = opt_str(jwk, "kid")?
        .filter(|k| !k.is_empty() && k.len() <= crate::limits::MAX_KID_BYTES)
        .ok_or(SkipReason::NoKid)?;
    let alg = match opt_str(jwk, "alg")? {
        None => None,
        Some(a) => Some(parse_algorithm(a).ok_or(SkipReason::AlgMismatch)?),
    };
    let (kind, parsed) = match kty {
        "RSA" => {
            let n = b64(jwk, "n")?;
            let e = b64(jwk, "e")?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            if e.is_empty() || n.is_empty() {
                return Err(SkipReason::Malformed);
            }
            if n.len() * 8 < 2048 || (n.len() == 256 && n[0] < 0x80) {
                return Err(SkipReason::WeakRsa);
            }
            let components = RsaPublicKeyComponents { n, e };
            let mut parsed = Vec::new();
            for (a, params) in SUPPORTED
                .into_iter()
                .filter(|a| alg.is_none_or(|d| d == *a))
                .filter_map(|a| rsa_params(a).map(|p| (a, p)))
            {
                let k = components
                    .to_parsed_public_key(params)
                    .map_err(|_| SkipReason::Malformed)?;
                parsed.push((a, k));
            }
            (
                KeyKind::Rsa {
                    modulus_bytes: n.len(),
                },
                parsed,
            )
        }
        "EC" => {
            let (kind, len, a, algorithm): (_, _, _, &'static sig::EcdsaVerificationAlgorithm) =
                match opt_str(jwk, "crv")? {
                    Some("P-256") => (
                        KeyKind::P256,
                        32,
                        Algorithm::ES256,
                        &sig::ECDSA_P256_SHA256_FIXED,
                    ),
                    Some("P-384") => (
                        KeyKind::P384,
                        48,
                        Algorithm::ES384,
                        &sig::ECDSA_P384_SHA384_FIXED,
                    ),
                    _ => return Err(SkipReason::UnknownType),
                };
            if let Some(declared) = alg
                && !kind.fits(declared)
            {
                return Err(SkipReason::AlgMismatch);
            }
            let x = b64(jwk, "x")?;
            let y = b64(jwk, "y")?;
            if x.len() != len || y.len() != len {
                return Err(SkipReason::Malformed);
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let k = ParsedPublicKey::new(algorithm, &point).map_err(|_| SkipReason::Malformed)?;
            (kind, vec![(a, k)])
        }
        "OKP" => {
            if opt_str(jwk, "crv")? != Some("Ed25519") {
                return Err(SkipReason::UnknownType);
            }
            let x = b64(jwk, "x")?;
            if x.len() != 32 {
                return Err(SkipReason::Malformed);
            }
            let k = ParsedPublicKey::new(&sig::ED25519, &x).map_err(|_| SkipReason::Malformed)?;
            (KeyKind::Ed25519, vec![(Algorithm::EdDSA, k)])
        }
        _ => return Err(SkipReason::UnknownType),
    };
    if let Some(a) = alg
        && !kind.fits(a)
    {
        return Err(SkipReason::AlgMismatch);
    }
    Ok(VerifyingKey {
        issuer: issuer.to_owned(),
        kid: Arc::from(kid),
        kind,
        alg,
        parsed,
    })
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// One issuer's keys by kid: together, keys by (issuer, kid).
pub type KeyMap = HashMap<String, Arc<VerifyingKey>>;

/// Keys skipped while parsing a set: their `kid` (when they had one) and why.
pub type Skipped = Vec<(Option<String>, SkipReason)>;

/// Parses a whole JWKS body, skipping unusable keys one by one.
/// Returns the usable keys (possibly none: a well-formed set is what the issuer publishes) and
/// the skipped ones with their reasons.
pub fn parse_jwks(issuer: &str, body: &[u8]) -> Result<(KeyMap, Skipped), JwksError> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|_| JwksError::NotAKeySet)?;
    let mut keys = KeyMap::new();
    let mut skipped = Vec::new();
    for jwk in &set.keys {
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        match parse_jwk(issuer, jwk) {
            Ok(k) => match keys.entry(k.kid.to_string()) {
                Entry::Occupied(_) => skipped.push((kid, SkipReason::DuplicateKid)),
                Entry::Vacant(slot) => {
                    slot.insert(Arc::new(k));
                }
            },
            Err(reason) => skipped.push((kid, reason)),
        }
    }
    Ok((keys, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://issuer.example.com";

    fn rsa_n(bits: usize) -> String {
        let mut n = vec![0xC5u8; bits / 8];
        n[bits / 8 - 1] |= 1;
        URL_SAFE_NO_PAD.encode(n)
    }

    fn ec(crv: &str, len: usize) -> Value {
        json!({"kty":"EC","crv":crv,"kid":"ec","x":URL_SAFE_NO_PAD.encode(vec![1u8; len]),
               "y":URL_SAFE_NO_PAD.encode(vec![2u8; len])})
    }

    #[test]
    fn rsa_2048_key_is_usable_and_keyed_by_issuer_and_kid() {
        let jwk =
            json!({"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","n":rsa_n(2048),"e":"AQAB"});
        let k = parse_jwk(ISS, &jwk).unwrap();
        assert_eq!((k.issuer.as_str(), &*k.kid), (ISS, "r1"));
        assert_eq!(k.kind, KeyKind::Rsa { modulus_bytes: 256 });
        assert!(k.accepts(Algorithm::RS256));
        assert!(!k.accepts(Algorithm::RS512), "declared alg binds the key");
        assert!(!k.accepts(Algorithm::ES256));
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let cases = [
            (
                json!({"kty":"oct","kid":"h","k":"c2VjcmV0"}),
                SkipReason::Symmetric,
            ),
            (
                json!({"kty":"RSA","kid":"e","use":"enc","n":rsa_n(2048),"e":"AQAB"}),
                SkipReason::NotForSignatures,
            ),
            (
                json!({"kty":"RSA","kid":"w","n":rsa_n(1024),"e":"AQAB"}),
                SkipReason::WeakRsa,
            ),
            (json!({"kty":"XYZ","kid":"u"}), SkipReason::UnknownType),
            (
                json!({"kty":"OKP","kid":"x","crv":"X25519","x":URL_SAFE_NO_PAD.encode([1u8;32])}),
                SkipReason::UnknownType,
            ),
            (
                json!({"kty":"RSA","n":rsa_n(2048),"e":"AQAB"}),
                SkipReason::NoKid,
            ),
            (
                json!({"kty":"RSA","kid":"a","alg":"ES256","n":rsa_n(2048),"e":"AQAB"}),
                SkipReason::AlgMismatch,
            ),
            (
                json!({"kty":"RSA","kid":"a","alg":"HS256","n":rsa_n(2048),"e":"AQAB"}),
                SkipReason::AlgMismatch,
            ),
            (json!("not an object"), SkipReason::Malformed),
            (
                json!({"kty":"RSA","kid":"a","n":42,"e":"AQAB"}),
                SkipReason::Malformed,
            ),
        ];
        for (jwk, reason) in cases {
            assert_eq!(parse_jwk(ISS, &jwk).unwrap_err(), reason, "{jwk}");
        }
        let mut p384_as_es256 = ec("P-384", 48);
        p384_as_es256["alg"] = json!("ES256");
        assert_eq!(
            parse_jwk(ISS, &p384_as_es256).unwrap_err(),
            SkipReason::AlgMismatch
        );
        assert_eq!(
            parse_jwk(ISS, &ec("P-256", 31)).unwrap_err(),
            SkipReason::Malformed
        );
        assert_eq!(
            parse_jwk(ISS, &ec("P-521", 66)).unwrap_err(),
            SkipReason::UnknownType
        );
        assert_eq!(
            parse_jwk(ISS, &ec("P-256", 32)).unwrap_err(),
            SkipReason::Malformed,
            "a point not on the curve is refused at load"
        );
        let real = wsauth_devkit::SigningKey::generate(Algorithm::ES256, "ec").unwrap();
        assert_eq!(
            parse_jwk(ISS, &real.public_jwk()).unwrap().kind,
            KeyKind::P256
        );
    }

    #[test]
    fn a_bad_key_never_spoils_the_set() {
        let body = json!({"keys":[
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","kid":"good","n":rsa_n(2048),"e":"AQAB"},
            {"kty":"RSA","kid":"weak","n":rsa_n(1024),"e":"AQAB"},
            {"kty":"RSA","kid":"good","n":rsa_n(4096),"e":"AQAB"},
            17
        ]});
        let (keys, skipped) = parse_jwks(ISS, body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["good"].issuer, ISS);
        assert_eq!(skipped.len(), 4);
        assert!(skipped.contains(&(Some("good".into()), SkipReason::DuplicateKid)));
    }

    #[test]
    fn garbage_is_a_fetch_error_but_an_empty_set_is_a_set() {
        assert_eq!(
            parse_jwks(ISS, b"<html>").unwrap_err(),
            JwksError::NotAKeySet
        );
        assert_eq!(
            parse_jwks(ISS, br#"{"keys":{}}"#).unwrap_err(),
            JwksError::NotAKeySet
        );
        let (keys, skipped) = parse_jwks(ISS, br#"{"keys":[]}"#).unwrap();
        assert!(keys.is_empty() && skipped.is_empty());
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsing_any_bytes_as_a_jwks_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse_jwks("https://i", &body);
            }

            #[test]
            fn parsing_any_jwk_shaped_json_never_panics(kty in "(RSA|EC|OKP|oct|[a-z]{0,3})",
                    crv in "(P-256|P-384|Ed25519|.{0,6})", n in "[A-Za-z0-9_-]{0,400}",
                    x in "[A-Za-z0-9_-]{0,90}", alg in "(RS256|ES256|EdDSA|none|.{0,5})") {
                let jwk = serde_json::json!({"kty":kty,"kid":"k","crv":crv,"n":n,"e":"AQAB","x":x,"y":x,"alg":alg});
                let _ = parse_jwk("https://i", &jwk);
            }
        }
    }
}
