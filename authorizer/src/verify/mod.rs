//! JWT verification, strict by default.
//!
//! Order of checks, cheapest and most dangerous first, so that hostile input costs little:
//! size caps → three base64url segments → header (`alg` allowlist, `none` and HS* refused, `crit`
//! refused, `kid` required; `jku`/`x5u`/`jwk`/`x5c` ignored) → key by (issuer, kid) from the
//! JWKS cache, bound to the `alg` → signature form (exact length; ECDSA r and s non-zero, so
//! DER and CVE-2022-21449 forgeries never reach the crypto) → signature → claims (`iss`, `aud`,
//! `exp` required; `nbf` and `iat` with leeway; `sub` non-empty; Cognito checks when configured).
//!
//! # Layout
//!
//! - this file: [`Verifier`] and its pipeline (`verify`, and `check`, which runs every check in
//!   the order above), [`Verified`], and the session hash of a token ([`token_hash`]).
//! - `segments.rs`: the three segments of a compact JWS (split at the first two dots, decoded as
//!   strict base64url into one stack buffer) and the signature's form
//!   ([`check_signature_form`]).
//! - `header.rs`: the JOSE header read and checked, and the per-thread cache of the headers of
//!   tokens that verified (`KnownHeader`).
//! - `claims_rules.rs`: the claim rules (`Verifier::check_claims`): `iss`, `exp`, `nbf`, `iat`,
//!   lifetime, audience, Cognito, `sub`, scopes, session ID.

mod claims_rules;
mod header;
mod segments;

use std::mem::MaybeUninit;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use wsauth_policy::Identity;
use wsauth_settings::auth::AuthorizerConfig;
use wsauth_settings::auth::normalize_token_type;

use crate::claims::{Claims, parse_claims};
use crate::error::AuthError;
use crate::jwks::{JwksCache, JwksError, VerifyingKey};
use crate::limits::{MAX_HEADER_B64, MAX_TOKEN_BYTES};
use header::{KnownHeader, read_header};
pub use segments::check_signature_form;
use segments::{decode_into, split_token};

/// A token that verified: who, and with what rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The identity to bind (user, scopes, expiry, session, issuer).
    pub identity: Identity,
    /// The algorithm the token was signed with.
    pub alg: Algorithm,
    /// The key that verified it.
    pub kid: Arc<str>,
}

/// Where [`Verifier::check`] stopped: refused, or waiting for a key the cache does not hold.
enum Step {
    Refused(AuthError),
    NeedKey { issuer: usize, kid: String },
}

impl From<AuthError> for Step {
    fn from(e: AuthError) -> Self {
        Step::Refused(e)
    }
}

/// Verifies tokens against the JWKS of the issuer each token names (one cache per issuer).
pub struct Verifier {
    config: AuthorizerConfig,
    /// One per issuer, in the order of `config.issuers`.
    caches: Vec<Arc<JwksCache>>,
}

/// The largest signature of any accepted key: RSA 8192 bits.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Room for the decoded header (up to its cap), signature (up to the largest) and payload (up
/// to what fits in a token of the largest size).
const DECODED_MAX: usize =
    MAX_HEADER_B64 / 4 * 3 + 3 + MAX_SIGNATURE_BYTES + MAX_TOKEN_BYTES / 4 * 3 + 3;

impl Verifier {
    /// A verifier for `config`, with one (empty) JWKS cache per issuer.
    pub fn new(config: AuthorizerConfig) -> Result<Self, JwksError> {
        let caches = config
            .issuers
            .iter()
            .map(|i| JwksCache::new(&i.issuer, i.jwks.clone()).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Self { config, caches })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthorizerConfig {
        &self.config
    }

    /// The JWKS caches, one per issuer, in the configuration's order.
    pub fn caches(&self) -> &[Arc<JwksCache>] {
        &self.caches
    }

    /// The JWKS cache of `issuer`.
    pub fn cache(&self, issuer: &str) -> Option<&Arc<JwksCache>> {
        self.caches.iter().find(|c| c.issuer() == issuer)
    }

    /// Verifies `token` at `now` (epoch seconds).
    ///
    /// Every check runs synchronously (in the private `check`); this waits only when the issuer's
    /// cache does not hold the token's key (cold start, rotation, staleness), then checks again
    /// with the key it fetched. With the key cached the future completes at its first poll.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Verified, AuthError> {
        let (issuer, kid) = match self.check(token, now, None) {
            Ok(v) => return Ok(v),
            Err(Step::Refused(e)) => return Err(e),
            Err(Step::NeedKey { issuer, kid }) => (issuer, kid),
        };
        let cache = self.caches.get(issuer).ok_or(AuthError::IssuerMismatch)?;
        let key = cache.key(&kid).await?;
        self.check(token, now, Some(&key))
            .map_err(|step| match step {
                Step::Refused(e) => e,
                Step::NeedKey { .. } => AuthError::JwksUnavailable,
            })
    }

    /// Every check of `token`, with `fetched` (the key [`Verifier::verify`] fetched) or else the
    /// key the issuer's cache holds; [`Step::NeedKey`] when it holds none.
    fn check(
        &self,
        token: &str,
        now: i64,
        fetched: Option<&Arc<VerifyingKey>>,
    ) -> Result<Verified, Step> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TokenTooLarge.into());
        }
        // The header and the payload end at the first two dots; the signature is the rest.
        let (h64, p64, s64) =
            split_token(token).ok_or(AuthError::Malformed("not three segments"))?;
        // One buffer for the three decoded segments, on the stack and never zeroed: the
        // signature's room first, then the header's and the payload's.
        let mut buf = [MaybeUninit::<u8>::uninit(); DECODED_MAX];
        let (signature_area, rest) = buf.split_at_mut(MAX_SIGNATURE_BYTES);
        // Decoded now, since base64url has no '.': a signature segment that does not decode and
        // holds a dot is a fourth segment. Any other decoding error is told in its turn, after
        // the header's checks, as before. (This holds only while the decoder stays strict: one
        // that skipped characters outside the alphabet would decode a fourth segment.)
        let signature = decode_into(s64, signature_area, "signature encoding");
        if signature.is_err() && s64.contains('.') {
            return Err(AuthError::Malformed("not three segments").into());
        }
        if h64.len() > MAX_HEADER_B64 {
            return Err(AuthError::Malformed("header too large").into());
        }
        // A header segment already seen in a token that verified is not decoded again.
        let known = KnownHeader::find(h64);
        let (header, rest) = match &known {
            Some(k) => (k.checked(), rest),
            None => {
                let (header_json, rest) = decode_into(h64, rest, "header encoding")?;
                (read_header(header_json)?, rest)
            }
        };
        let (signature, _) = signature?;
        let (payload, _) = decode_into(p64, rest, "payload encoding")?;
        let mut claims = Claims::default();
        parse_claims(payload, &mut claims)?;
        // `iss`, read before the signature as a lookup key only, picks the issuer: an issuer
        // not configured costs no fetch.
        let iss = claims
            .iss
            .as_deref()
            .ok_or(AuthError::MissingClaim("iss"))?;
        let (index, rules) = self.config.issuer(iss).ok_or(AuthError::IssuerMismatch)?;
        let alg = header.alg;
        if !rules.algorithms.contains(&alg) {
            return Err(AuthError::AlgNotAllowed.into());
        }
        if !rules.token_types.is_empty()
            && !header
                .typ
                .as_deref()
                .is_some_and(|t| rules.token_types.contains(&normalize_token_type(t)))
        {
            return Err(AuthError::TokenTypeMismatch.into());
        }
        let key = match fetched {
            // The key `verify` fetched for this very token: still, it must be this issuer's key
            // under this `kid`.
            Some(key) if *key.issuer == *rules.issuer && *key.kid == *header.kid => Arc::clone(key),
            Some(_) => return Err(AuthError::UnknownKid.into()),
            None => {
                let cache = self.caches.get(index).ok_or(AuthError::IssuerMismatch)?;
                match cache.cached(&header.kid) {
                    Some(key) => key,
                    None => {
                        return Err(Step::NeedKey {
                            issuer: index,
                            kid: header.kid.into_owned(),
                        });
                    }
                }
            }
        };
        if !key.accepts(alg) {
            return Err(AuthError::KeyAlgMismatch.into());
        }
        check_signature_form(key.kind, signature)?;
        let message = &token.as_bytes()[..h64.len() + 1 + p64.len()];
        if !key.verify(alg, message, signature) {
            return Err(AuthError::BadSignature.into());
        }
        let identity = self.check_claims(&claims, rules, message, now)?;
        if known.is_none() {
            KnownHeader::remember(h64, &header);
        }
        Ok(Verified {
            identity,
            alg,
            kid: Arc::clone(&key.kid),
        })
    }
}

/// The session ID of a token that carries neither `sid` nor `jti`: a short stable hash of its
/// signing input (header and payload, up to the last dot), never of its signature, so that
/// every signature of the same header and claims (an ECDSA twin (r, n − s), a re-signing) is
/// one session. Not reversible: the token itself is never stored or logged.
pub fn token_hash(token: &str) -> String {
    let signing_input = token.rsplit_once('.').map_or(token, |(signed, _)| signed);
    signed_hash(signing_input.as_bytes())
}

/// [`token_hash`] of a token whose signing input is `signing_input`.
fn signed_hash(signing_input: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, signing_input);
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..18])
}

/// What the tests of this module and of `header.rs` share: a verifier holding a fresh key,
/// claims to mint, and `check` run synchronously.
#[cfg(test)]
mod test_support {
    use jsonwebtoken::Algorithm;
    use serde_json::json;
    use wsauth_devkit::SigningKey;

    use super::{Step, Verified, Verifier};
    use crate::error::AuthError;

    const ISS: &str = "https://issuer.known-headers.test";
    const AUD: &str = "known-headers";

    /// A fresh key and a verifier holding it, installed as if fetched (no network: the URL is
    /// never asked).
    pub(super) fn key_and_verifier(alg: Algorithm, kid: &str) -> (SigningKey, Verifier) {
        let key = SigningKey::generate(alg, kid).unwrap();
        let cfg = wsauth_devkit::authorizer_config(ISS, AUD, "http://127.0.0.1:9/jwks.json", &[]);
        let v = Verifier::new(cfg).unwrap();
        let jwks = wsauth_devkit::jwks_json([&key]).to_string();
        for cache in v.caches() {
            cache.install(jwks.as_bytes()).unwrap();
        }
        (key, v)
    }

    /// [`key_and_verifier`] and a ten-minute token of alice's signed by the key.
    pub(super) fn with_alice(alg: Algorithm, kid: &str) -> (SigningKey, Verifier, String) {
        let (key, v) = key_and_verifier(alg, kid);
        let alice = key.mint(&claims("alice", 600)).unwrap();
        (key, v, alice)
    }

    pub(super) fn claims(sub: &str, exp_in: i64) -> serde_json::Value {
        let now = wsauth_settings::clock::now_epoch();
        json!({"iss": ISS, "aud": AUD, "sub": sub, "iat": now, "exp": now + exp_in,
               "scope": "messages:send", "jti": format!("jti-{sub}")})
    }

    pub(super) fn header_of(token: &str) -> &str {
        token.split('.').next().unwrap()
    }

    /// Runs every check synchronously; `Err(None)` when the key is not cached.
    pub(super) fn check(v: &Verifier, token: &str) -> Result<Verified, Option<AuthError>> {
        v.check(token, wsauth_settings::clock::now_epoch(), None)
            .map_err(|step| match step {
                Step::Refused(e) => Some(e),
                Step::NeedKey { .. } => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{check, with_alice};
    use super::*;

    // Each test runs on a thread of its own: it starts with no known header.

    #[test]
    fn segments_are_counted_before_the_header_is_read_and_encodings_told_in_order() {
        let (_, v, token) = with_alice(Algorithm::RS256, "segments");
        let malformed = |why| Err(Some(AuthError::Malformed(why)));
        let not_three = malformed("not three segments");
        // Fewer or more than three, whatever else is wrong: a JWE has five.
        assert_eq!(check(&v, "a.b"), not_three);
        assert_eq!(check(&v, "abc"), not_three);
        assert_eq!(check(&v, &format!("{token}.")), not_three);
        assert_eq!(check(&v, &format!("{token}.e30")), not_three);
        assert_eq!(check(&v, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), not_three);
        assert_eq!(check(&v, "!.!.!.!"), not_three);
        let long = format!("e30.e30.{}.x", "A".repeat(2000));
        assert_eq!(check(&v, &long), not_three);
        // Three segments: a bad header is told before a bad signature encoding, and a bad
        // signature encoding before a bad payload encoding, as before.
        let (h, rest) = token.split_once('.').unwrap();
        let (p, _) = rest.split_once('.').unwrap();
        for (t, want) in [
            (format!("!.{p}.!"), malformed("header encoding")),
            (format!("{h}.!.!"), malformed("signature encoding")),
            (format!("{h}.!.AAAA"), malformed("payload encoding")),
            (
                format!("{h}.{p}.AAAA"),
                Err(Some(AuthError::SignatureEncoding)),
            ),
        ] {
            assert_eq!(check(&v, &t), want, "{t}");
        }
        // The segments are counted before the header's size is, and the header's size before the
        // signature's encoding is told.
        let big = "A".repeat(MAX_HEADER_B64 + 1);
        assert_eq!(check(&v, &format!("{big}.e30.e30.x")), not_three);
        assert_eq!(
            check(&v, &format!("{big}.e30.!")),
            malformed("header too large")
        );
        // The same once the header is known (read from the cache, not decoded).
        check(&v, &token).unwrap();
        assert!(KnownHeader::find(h).is_some());
        assert_eq!(check(&v, &format!("{token}.")), not_three);
        assert_eq!(check(&v, &format!("{token}.e30")), not_three);
        for (t, want) in [
            (format!("{h}.{p}.!"), malformed("signature encoding")),
            (format!("{h}.!.AAAA"), malformed("payload encoding")),
        ] {
            assert_eq!(check(&v, &t), want, "{t}");
        }
    }

    #[test]
    fn token_hash_is_stable_and_does_not_contain_the_token() {
        let h = token_hash("a.b.c");
        assert_eq!(h, token_hash("a.b.c"));
        assert_eq!(
            h,
            token_hash("a.b.d"),
            "the signature is not part of the session"
        );
        assert_ne!(h, token_hash("a.x.c"));
        assert_ne!(h, token_hash("x.b.c"));
        assert_eq!(h, signed_hash(b"a.b"));
        assert_eq!(h.len(), 24);
    }
}
