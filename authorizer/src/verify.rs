//! JWT verification, strict by default.
//!
//! Order of checks, cheapest and most dangerous first, so that hostile input costs little:
//! size caps → three base64url segments → header (`alg` allowlist, `none` and HS* refused, `crit`
//! refused, `kid` required; `jku`/`x5u`/`jwk`/`x5c` ignored) → key by (issuer, kid) from the
//! JWKS cache, bound to the `alg` → signature form (exact length; ECDSA r and s non-zero, so
//! DER and CVE-2022-21449 forgeries never reach the crypto) → signature → claims (`iss`, `aud`,
//! `exp` required; `nbf` and `iat` with leeway; `sub` non-empty; Cognito checks when configured).

use std::borrow::Cow;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64_simd::Out;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use wsauth_policy::{Identity, check_session_id, check_user_id, split_scopes};
use wsauth_settings::auth::normalize_token_type;
use wsauth_settings::auth::{AuthorizerConfig, IssuerRules, TokenUse, parse_algorithm};

use crate::claims::{Claims, StrOrList, Text, parse_claims};
use crate::error::AuthError;
use crate::jwks::{FetchError, JwksCache, KeyKind, VerifyingKey};
use crate::limits::{MAX_HEADER_B64, MAX_KID_BYTES, MAX_TOKEN_BYTES};

/// The JOSE header members wsauth reads. Key-carrying members (`jku`, `x5u`, `jwk`, `x5c`)
/// are deliberately absent: keys come only from the configured JWKS.
///
/// A member present as `null` is malformed, never read as absent (RFC 7515 §4.1: `crit` is an
/// array, `kid` and `typ` strings): `{"crit": null}` must not pass for a header without `crit`.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Text<'a>,
    #[serde(default, borrow, deserialize_with = "present")]
    kid: Option<Text<'a>>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<NotNull>,
    #[serde(default, borrow, deserialize_with = "present")]
    typ: Option<Text<'a>>,
}

/// A member that is there: `Some` of its value, and `null` refused (serde's `Option` reads
/// `null` as `None`, which would make a present member absent).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Any JSON value but `null`, skipped.
struct NotNull;

impl<'de> Deserialize<'de> for NotNull {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NotNull;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value other than null")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<NotNull, E> {
                Err(E::invalid_type(serde::de::Unexpected::Unit, &self))
            }
            fn visit_bool<E>(self, _: bool) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_i64<E>(self, _: i64) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_u64<E>(self, _: u64) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_f64<E>(self, _: f64) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_str<E>(self, _: &str) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<NotNull, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(NotNull)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<NotNull, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(NotNull)
            }
        }
        d.deserialize_any(V)
    }
}

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

/// Decodes `seg` (strict base64url: no padding, no non-canonical trailing bits, URL alphabet
/// only) into the start of `out`, uninitialized memory, so that nothing is allocated or zeroed;
/// returns the bytes and what is left of `out`. A segment that does not fit is malformed.
fn decode_into<'b>(
    seg: &str,
    out: &'b mut [MaybeUninit<u8>],
    what: &'static str,
) -> Result<(&'b [u8], &'b mut [MaybeUninit<u8>]), AuthError> {
    let b64 = base64_simd::URL_SAFE_NO_PAD;
    let malformed = |_| AuthError::Malformed(what);
    let n = b64.decoded_length(seg.as_bytes()).map_err(malformed)?;
    if n > out.len() {
        return Err(AuthError::Malformed(what));
    }
    let (mine, rest) = out.split_at_mut(n);
    let bytes = b64
        .decode(seg.as_bytes(), Out::from_uninit_slice(mine))
        .map_err(malformed)?;
    Ok((bytes, rest))
}

/// The largest signature of any accepted key: RSA 8192 bits.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Room for the decoded header (up to its cap), signature (up to the largest) and payload (up
/// to what fits in a token of the largest size).
const DECODED_MAX: usize =
    MAX_HEADER_B64 / 4 * 3 + 3 + MAX_SIGNATURE_BYTES + MAX_TOKEN_BYTES / 4 * 3 + 3;

impl Verifier {
    /// A verifier for `config`, with one (empty) JWKS cache per issuer.
    pub fn new(config: AuthorizerConfig) -> Result<Self, FetchError> {
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
        let (index, rules) = self
            .config
            .issuers
            .iter()
            .enumerate()
            .find(|(_, r)| *r.issuer == *iss)
            .ok_or(AuthError::IssuerMismatch)?;
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

    fn check_claims(
        &self,
        c: &Claims<'_>,
        cfg: &IssuerRules,
        signing_input: &[u8],
        now: i64,
    ) -> Result<Identity, AuthError> {
        let leeway = i64::try_from(self.config.leeway_seconds).unwrap_or(i64::MAX);
        let iss = c.iss.as_deref().ok_or(AuthError::MissingClaim("iss"))?;
        if iss != &*cfg.issuer {
            return Err(AuthError::IssuerMismatch);
        }
        let exp = c
            .exp
            .as_ref()
            .ok_or(AuthError::MissingClaim("exp"))?
            .secs()?;
        if now > exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = &c.nbf
            && nbf.secs()? > now.saturating_add(leeway)
        {
            return Err(AuthError::NotYetValid);
        }
        let issued_at = match &c.iat {
            Some(iat) => Some(iat.secs()?),
            None => None,
        };
        let issued = issued_at.unwrap_or(now);
        if issued > now.saturating_add(leeway) {
            return Err(AuthError::IssuedInFuture);
        }
        let max_lifetime =
            i64::try_from(self.config.max_token_lifetime_seconds).unwrap_or(i64::MAX);
        if exp.saturating_sub(issued) > max_lifetime {
            return Err(AuthError::LifetimeTooLong);
        }
        // Audience: `aud` must contain a configured audience. Cognito access tokens carry no
        // `aud` but a `client_id`; with WSAUTH_TOKEN_USE=access that claim stands in for it.
        let aud_ok = match (&c.aud, cfg.token_use, &c.client_id) {
            (Some(aud), _, _) => aud.contains_any(&cfg.audiences),
            (None, Some(TokenUse::Access), Some(cid)) => cfg.audiences.iter().any(|a| **a == **cid),
            (None, _, _) => return Err(AuthError::MissingClaim("aud")),
        };
        if !aud_ok {
            return Err(AuthError::AudienceMismatch);
        }
        if let Some(want) = cfg.token_use {
            if c.token_use.as_deref() != Some(want.as_str()) {
                return Err(AuthError::TokenUseMismatch);
            }
            if !cfg.client_ids.is_empty() {
                let ok = match want {
                    TokenUse::Access => c
                        .client_id
                        .as_ref()
                        .is_some_and(|id| cfg.client_ids.iter().any(|c| **c == **id)),
                    TokenUse::Id => c
                        .aud
                        .as_ref()
                        .is_some_and(|a| a.contains_any(&cfg.client_ids)),
                };
                if !ok {
                    return Err(AuthError::ClientIdMismatch);
                }
            }
        } else if !cfg.client_ids.is_empty() {
            let ok = c
                .client_id
                .as_ref()
                .is_some_and(|id| cfg.client_ids.iter().any(|c| **c == **id))
                || c.aud
                    .as_ref()
                    .is_some_and(|a| a.contains_any(&cfg.client_ids));
            if !ok {
                return Err(AuthError::ClientIdMismatch);
            }
        }
        let sub = c
            .sub
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or(AuthError::MissingClaim("sub"))?;
        // User IDs never collide across issuers: each issuer's prefix comes first, and no
        // issuer's prefix begins another's (checked at start, `IssuerRules::user_id_prefix`).
        let user_id = [cfg.user_id_prefix.as_str(), sub].concat();
        check_user_id(&user_id).map_err(AuthError::BadSubject)?;
        let mut scopes: Vec<String> = Vec::new();
        if let Some(s) = &c.scope {
            scopes.extend(split_scopes(s).map(str::to_owned));
        }
        match &c.scp {
            Some(StrOrList::One(s)) => scopes.extend(split_scopes(s).map(str::to_owned)),
            Some(StrOrList::Many(v)) => scopes.extend(
                v.iter()
                    .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
                    .map(|s| s.to_string()),
            ),
            None => {}
        }
        scopes.dedup();
        // A key of the sessions' index and of revocations, and logged: a `sid` or `jti` that is
        // not 1–512 printable bytes is passed over (the hash is always one). The hash covers
        // what is signed, not the signature: an ECDSA signature (r, s) has a twin (r, n − s)
        // that verifies as well, and a twin token must be the same session, or
        // `logoutSession` of one would leave the other connecting.
        let usable = |s: &&str| check_session_id(s).is_ok();
        let session_id = c
            .sid
            .as_deref()
            .filter(usable)
            .or(c.jti.as_deref().filter(usable))
            .map_or_else(|| signed_hash(signing_input), str::to_owned);
        Ok(Identity {
            user_id,
            scopes,
            expires_at: exp,
            session_id,
            issuer: Arc::clone(&cfg.issuer),
            issued_at,
        })
    }
}

/// The segments of a compact JWS: up to the first dot, up to the second, and the rest (which
/// the caller finds free of dots when it decodes it); `None` with fewer than three.
fn split_token(token: &str) -> Option<(&str, &str, &str)> {
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
        return None;
    };
    // '.' is ASCII: every index here is a char boundary.
    Some((
        token.get(..first)?,
        token.get(first + 1..second)?,
        token.get(second + 1..)?,
    ))
}

/// What [`read_header`] keeps of the header, borrowed from its decoded bytes.
struct CheckedHeader<'b> {
    alg: Algorithm,
    kid: Cow<'b, str>,
    typ: Option<Cow<'b, str>>,
}

/// The header's checks: an `alg` wsauth supports (never `none`, never symmetric), no `crit`, a
/// `kid` within the cap.
fn read_header(header_json: &[u8]) -> Result<CheckedHeader<'_>, AuthError> {
    // Valid UTF-8 as a whole (RFC 8259), unknown members included, as the claims.
    let header: Header<'_> = std::str::from_utf8(header_json)
        .ok()
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or(AuthError::Malformed("header"))?;
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(AuthError::AlgNone);
    }
    let alg = parse_algorithm(&header.alg).ok_or(AuthError::AlgNotAllowed)?;
    if header.crit.is_some() {
        return Err(AuthError::CritUnsupported);
    }
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(AuthError::MissingKid)?
        .0;
    if kid.len() > MAX_KID_BYTES {
        return Err(AuthError::Malformed("kid too long"));
    }
    let typ = header.typ.map(|t| t.0);
    Ok(CheckedHeader { alg, kid, typ })
}

/// A header segment of a token that verified, kept parsed. Tokens of one issuer and key share
/// one header segment, byte for byte, and what [`read_header`] makes of it depends on those bytes
/// alone: each thread keeps the last few it met, so that their base64, UTF-8 and JSON work is done
/// once. Only the headers of tokens that verified enter, so tokens without a valid signature can
/// neither fill nor churn it.
///
/// It is shared by every [`Verifier`] on the thread, which is sound only while [`read_header`]
/// depends on nothing but the bytes (its algorithms and caps are constants, not configuration):
/// a header check that depends on an issuer's rules belongs after it, in [`Verifier::check`].
struct KnownHeader {
    encoded: Box<str>,
    alg: Algorithm,
    kid: Box<str>,
    typ: Option<Box<str>>,
}

/// How many header segments each thread keeps: enough for several issuers and a key rotation.
const KNOWN_HEADERS: usize = 8;

thread_local! {
    /// This thread's known headers, and the slot the next one takes (oldest first out).
    static KNOWN: RefCell<([Option<Rc<KnownHeader>>; KNOWN_HEADERS], usize)> =
        RefCell::new((Default::default(), 0));
}

impl KnownHeader {
    /// The known header whose segment is exactly `encoded`.
    fn find(encoded: &str) -> Option<Rc<KnownHeader>> {
        // `try_with`: no cache while the thread's storage is torn down, rather than a panic.
        KNOWN
            .try_with(|known| {
                known
                    .borrow()
                    .0
                    .iter()
                    .flatten()
                    .find(|k| *k.encoded == *encoded)
                    .cloned()
            })
            .ok()
            .flatten()
    }

    /// Keeps `header`, read from the segment `encoded`, in place of the oldest.
    fn remember(encoded: &str, header: &CheckedHeader<'_>) {
        let entry = Rc::new(KnownHeader {
            encoded: encoded.into(),
            alg: header.alg,
            kid: header.kid.as_ref().into(),
            typ: header.typ.as_deref().map(Into::into),
        });
        let _torn_down = KNOWN.try_with(|known| {
            let (slots, next) = &mut *known.borrow_mut();
            if let Some(slot) = slots.get_mut(*next) {
                *slot = Some(entry);
            }
            *next = (*next + 1) % KNOWN_HEADERS;
        });
    }

    /// The header as [`read_header`] read it.
    fn checked(&self) -> CheckedHeader<'_> {
        CheckedHeader {
            alg: self.alg,
            kid: Cow::Borrowed(&self.kid),
            typ: self.typ.as_deref().map(Cow::Borrowed),
        }
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

/// Refuses a signature whose form does not fit the key before any crypto runs: wrong length
/// (which catches DER-encoded ECDSA signatures), or an ECDSA r or s of zero (CVE-2022-21449).
pub fn check_signature_form(kind: KeyKind, sig: &[u8]) -> Result<(), AuthError> {
    if sig.len() != kind.signature_len() {
        return Err(AuthError::SignatureEncoding);
    }
    if matches!(kind, KeyKind::P256 | KeyKind::P384) {
        let (r, s) = sig.split_at(sig.len() / 2);
        if r.iter().all(|&b| b == 0) || s.iter().all(|&b| b == 0) {
            return Err(AuthError::SignatureEncoding);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wsauth_devkit::SigningKey;

    const ISS: &str = "https://issuer.known-headers.test";
    const AUD: &str = "known-headers";

    /// A fresh key and a verifier holding it, installed as if fetched (no network: the URL is
    /// never asked).
    fn key_and_verifier(alg: Algorithm, kid: &str) -> (SigningKey, Verifier) {
        let key = SigningKey::generate(alg, kid).unwrap();
        let cfg = wsauth_devkit::authorizer_config(ISS, AUD, "http://127.0.0.1:9/jwks.json", &[]);
        let v = Verifier::new(cfg).unwrap();
        let jwks = wsauth_devkit::jwks_json([&key]).to_string();
        for cache in v.caches() {
            cache.install(jwks.as_bytes()).unwrap();
        }
        (key, v)
    }

    fn claims(sub: &str, exp_in: i64) -> serde_json::Value {
        let now = wsauth_settings::clock::now_epoch();
        json!({"iss": ISS, "aud": AUD, "sub": sub, "iat": now, "exp": now + exp_in,
               "scope": "messages:send", "jti": format!("jti-{sub}")})
    }

    fn header_of(token: &str) -> &str {
        token.split('.').next().unwrap()
    }

    /// Runs every check synchronously; `Err(None)` when the key is not cached.
    fn check(v: &Verifier, token: &str) -> Result<Verified, Option<AuthError>> {
        v.check(token, wsauth_settings::clock::now_epoch(), None)
            .map_err(|step| match step {
                Step::Refused(e) => Some(e),
                Step::NeedKey { .. } => None,
            })
    }

    // Each test runs on a thread of its own: it starts with no known header.

    #[test]
    fn a_verified_tokens_header_is_kept_and_read_alike() {
        let (key, v) = key_and_verifier(Algorithm::RS256, "kept");
        let alice = key.mint(&claims("alice", 600)).unwrap();
        assert!(KnownHeader::find(header_of(&alice)).is_none());
        let first = check(&v, &alice).unwrap();
        assert!(KnownHeader::find(header_of(&alice)).is_some());
        // Read from the known header: the same answer.
        assert_eq!(check(&v, &alice).unwrap(), first);
        // Another token under the same header.
        let bob = key.mint(&claims("bob", 600)).unwrap();
        assert_eq!(header_of(&bob), header_of(&alice));
        assert_eq!(check(&v, &bob).unwrap().identity.user_id, "bob");
        // A known header does not excuse the rest: a bad signature and an expired token under it
        // are refused.
        let (signing_input, _) = bob.rsplit_once('.').unwrap();
        let (_, alice_sig) = alice.rsplit_once('.').unwrap();
        let forged = format!("{signing_input}.{alice_sig}");
        assert_eq!(check(&v, &forged), Err(Some(AuthError::BadSignature)));
        let expired = key.mint(&claims("carol", -3600)).unwrap();
        assert_eq!(header_of(&expired), header_of(&alice));
        assert_eq!(check(&v, &expired), Err(Some(AuthError::Expired)));
    }

    #[test]
    fn refused_tokens_leave_no_header_behind() {
        let (key, v) = key_and_verifier(Algorithm::ES256, "refused");
        let alice = key.mint(&claims("alice", 600)).unwrap();
        let bob = key.mint(&claims("bob", 600)).unwrap();
        let header = header_of(&alice).to_owned();
        // A bad signature, an expired token, a wrong audience: none enters.
        let (signing_input, _) = bob.rsplit_once('.').unwrap();
        let (_, alice_sig) = alice.rsplit_once('.').unwrap();
        let forged = format!("{signing_input}.{alice_sig}");
        assert_eq!(check(&v, &forged), Err(Some(AuthError::BadSignature)));
        let expired = key.mint(&claims("carol", -3600)).unwrap();
        assert_eq!(check(&v, &expired), Err(Some(AuthError::Expired)));
        let mut other_audience = claims("dave", 600);
        other_audience["aud"] = json!("someone-else");
        let other_audience = key.mint(&other_audience).unwrap();
        assert_eq!(
            check(&v, &other_audience),
            Err(Some(AuthError::AudienceMismatch))
        );
        assert!(KnownHeader::find(&header).is_none());
        // A token that verifies does.
        check(&v, &alice).unwrap();
        assert!(KnownHeader::find(&header).is_some());
    }

    #[test]
    fn a_header_one_byte_apart_is_read_anew() {
        let (key, v) = key_and_verifier(Algorithm::EdDSA, "apart");
        let alice = key.mint(&claims("alice", 600)).unwrap();
        check(&v, &alice).unwrap();
        // The same header but for the `kid`, signed by the same key: read anew, so its `kid` is
        // the one looked up (and not cached: the key is asked for).
        let unknown = key
            .sign_parts(
                &json!({"alg": "EdDSA", "kid": "apary", "typ": "JWT"}),
                &claims("alice", 600),
            )
            .unwrap();
        assert!(KnownHeader::find(header_of(&unknown)).is_none());
        assert_eq!(check(&v, &unknown), Err(None));
        // One byte apart in the encoding itself: not a known header either.
        let mut encoded = header_of(&alice).to_owned();
        let last = if encoded.ends_with('A') { "B" } else { "A" };
        encoded.replace_range(encoded.len() - 1.., last);
        assert!(KnownHeader::find(&encoded).is_none());
    }

    #[test]
    fn segments_are_counted_before_the_header_is_read_and_encodings_told_in_order() {
        let (key, v) = key_and_verifier(Algorithm::RS256, "segments");
        let token = key.mint(&claims("alice", 600)).unwrap();
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
        assert_eq!(check(&v, &format!("!.{p}.!")), malformed("header encoding"));
        assert_eq!(
            check(&v, &format!("{h}.!.!")),
            malformed("signature encoding")
        );
        assert_eq!(
            check(&v, &format!("{h}.!.AAAA")),
            malformed("payload encoding")
        );
        assert_eq!(
            check(&v, &format!("{h}.{p}.AAAA")),
            Err(Some(AuthError::SignatureEncoding))
        );
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
        assert_eq!(
            check(&v, &format!("{h}.{p}.!")),
            malformed("signature encoding")
        );
        assert_eq!(
            check(&v, &format!("{h}.!.AAAA")),
            malformed("payload encoding")
        );
    }

    #[test]
    fn the_ninth_header_takes_the_oldest_slot() {
        let header = |i: usize| CheckedHeader {
            alg: Algorithm::RS256,
            kid: Cow::Owned(format!("kid-{i}")),
            typ: None,
        };
        for i in 0..=KNOWN_HEADERS {
            KnownHeader::remember(&format!("header-{i}"), &header(i));
        }
        assert!(KnownHeader::find("header-0").is_none());
        for i in 1..=KNOWN_HEADERS {
            let known = KnownHeader::find(&format!("header-{i}")).unwrap();
            assert_eq!(*known.kid, format!("kid-{i}"));
        }
    }

    #[test]
    fn ecdsa_zero_and_der_signatures_are_refused_before_crypto() {
        assert_eq!(
            check_signature_form(KeyKind::P256, &[0u8; 64]),
            Err(AuthError::SignatureEncoding)
        );
        let mut r_zero = [1u8; 64];
        r_zero[..32].fill(0);
        assert_eq!(
            check_signature_form(KeyKind::P256, &r_zero),
            Err(AuthError::SignatureEncoding)
        );
        let mut s_zero = [1u8; 64];
        s_zero[32..].fill(0);
        assert_eq!(
            check_signature_form(KeyKind::P256, &s_zero),
            Err(AuthError::SignatureEncoding)
        );
        let der = [0x30u8; 71];
        assert_eq!(
            check_signature_form(KeyKind::P256, &der),
            Err(AuthError::SignatureEncoding)
        );
        assert!(check_signature_form(KeyKind::P256, &[1u8; 64]).is_ok());
        assert!(check_signature_form(KeyKind::Ed25519, &[0u8; 64]).is_ok());
        assert_eq!(
            check_signature_form(KeyKind::Rsa { modulus_bytes: 256 }, &[1u8; 255]),
            Err(AuthError::SignatureEncoding)
        );
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

    /// The strict reference: the `base64` crate's URL_SAFE_NO_PAD (no padding, canonical
    /// trailing bits, URL alphabet only), which the verifier used before `base64-simd`.
    fn reference(seg: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(seg).ok()
    }

    fn simd(seg: &str) -> Option<Vec<u8>> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 512];
        decode_into(seg, &mut buf, "test")
            .ok()
            .map(|(b, _)| b.to_vec())
    }

    #[test]
    fn segment_decoding_accepts_exactly_what_the_strict_reference_accepts() {
        // Every string of up to three characters over the alphabet and the characters a
        // lenient decoder would let through (padding, the standard alphabet, whitespace, '.').
        let chars: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .\n\0\u{e9}"
                .chars()
                .collect();
        let mut seg = String::new();
        let mut checked = 0;
        for len in 0..=3u32 {
            for mut i in 0..chars.len().pow(len) {
                seg.clear();
                for _ in 0..len {
                    seg.push(chars[i % chars.len()]);
                    i /= chars.len();
                }
                assert_eq!(simd(&seg), reference(&seg), "{seg:?}");
                checked += 1;
            }
        }
        assert!(checked > 250_000);
        // Longer segments: every length up to 100, each with its last character varied over
        // the whole alphabet (non-canonical trailing bits), and one bad character anywhere.
        let valid = URL_SAFE_NO_PAD.encode((0..=255u8).collect::<Vec<_>>());
        for len in 0..100 {
            let mut s: String = valid.chars().take(len).collect();
            assert_eq!(simd(&s), reference(&s), "{s:?}");
            for c in chars.iter().copied() {
                s.pop();
                s.push(c);
                assert_eq!(simd(&s), reference(&s), "{s:?}");
            }
        }
        // Every character a lenient decoder might let through, at every position of segments up
        // to 200 characters long: the decoder works 32 and 8 characters at a time in its fast
        // paths and character by character only in the tail.
        let valid: String = valid.chars().cycle().take(200).collect();
        for len in [11, 12, 37, 38, 39, 43, 64, 100, 171, 200] {
            for at in 0..len {
                for c in ['=', '+', '/', ' ', '\n', '.', '\0', '\u{e9}', '\u{7f}'] {
                    let mut bad: Vec<char> = valid.chars().take(len).collect();
                    bad[at] = c;
                    let bad: String = bad.into_iter().collect();
                    assert_eq!(simd(&bad), None, "{bad:?}");
                    assert_eq!(reference(&bad), None, "{bad:?}");
                }
            }
            let good: String = valid.chars().take(len).collect();
            assert_eq!(simd(&good), reference(&good), "{good:?}");
        }
    }

    #[test]
    fn a_segment_larger_than_its_room_is_malformed_not_a_panic() {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4];
        let seg = URL_SAFE_NO_PAD.encode([7u8; 5]);
        assert_eq!(
            decode_into(&seg, &mut buf, "payload encoding").map(|(b, _)| b.len()),
            Err(AuthError::Malformed("payload encoding"))
        );
        let seg = URL_SAFE_NO_PAD.encode([7u8; 4]);
        assert_eq!(
            decode_into(&seg, &mut buf, "x").map(|(b, _)| b.to_vec()),
            Ok(vec![7u8; 4])
        );
    }
}
