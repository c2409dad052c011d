//! JWT verification, strict by default.
//!
//! Order of checks, cheapest and most dangerous first, so that hostile input costs little:
//! size caps → three base64url segments → header (`alg` allowlist, `none` and HS* refused, `crit`
//! refused, `kid` required; `jku`/`x5u`/`jwk`/`x5c` ignored) → key by (issuer, kid) from the
//! JWKS cache, bound to the `alg` → signature form (exact length; ECDSA r and s non-zero, so
//! DER and CVE-2022-21449 forgeries never reach the crypto) → signature → claims (`iss`, `aud`,
//! `exp` required; `nbf` and `iat` with leeway; `sub` non-empty; Cognito checks when configured).

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use wsauth_policy::{Identity, check_session_id, check_user_id, split_scopes};
use wsauth_runtime::settings::auth::normalize_token_type;
use wsauth_runtime::settings::auth::{AuthorizerConfig, IssuerRules, TokenUse, parse_algorithm};

use crate::error::AuthError;
use crate::jwks::{FetchError, JwksCache, KeyKind};
use crate::limits::{MAX_HEADER_B64, MAX_KID_BYTES, MAX_TOKEN_BYTES};

/// The JOSE header members wsauth reads. Key-carrying members (`jku`, `x5u`, `jwk`, `x5c`)
/// are deliberately absent: keys come only from the configured JWKS.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
}

/// A NumericDate: a JSON number (integer or not). A string is refused.
#[derive(Deserialize)]
#[serde(transparent)]
struct NumericDate(serde_json::Number);

impl NumericDate {
    fn secs(&self) -> Result<i64, AuthError> {
        if let Some(i) = self.0.as_i64() {
            return Ok(i);
        }
        match self.0.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.floor() as i64),
            _ => Err(AuthError::Malformed("numeric date out of range")),
        }
    }
}

/// A string claim, borrowed from the decoded payload unless it holds escapes.
type Str<'a> = Cow<'a, str>;

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrList<'a> {
    One(#[serde(borrow)] Str<'a>),
    Many(#[serde(borrow)] Vec<Str<'a>>),
}

impl StrOrList<'_> {
    fn contains_any(&self, wanted: &[String]) -> bool {
        let has = |s: &str| wanted.iter().any(|w| w == s);
        match self {
            StrOrList::One(s) => has(s),
            StrOrList::Many(v) => v.iter().any(|s| has(s)),
        }
    }
}

#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(default, borrow)]
    iss: Option<Str<'a>>,
    #[serde(default, borrow)]
    sub: Option<Str<'a>>,
    #[serde(default, borrow)]
    aud: Option<StrOrList<'a>>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default, borrow)]
    scope: Option<Str<'a>>,
    #[serde(default, borrow)]
    scp: Option<StrOrList<'a>>,
    #[serde(default, borrow)]
    token_use: Option<Str<'a>>,
    #[serde(default, borrow)]
    client_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    sid: Option<Str<'a>>,
    #[serde(default, borrow)]
    jti: Option<Str<'a>>,
}

/// A token that verified: who, and with what rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The identity to bind (user, scopes, expiry, session, issuer).
    pub identity: Identity,
    /// The algorithm the token was signed with.
    pub alg: Algorithm,
    /// The key that verified it.
    pub kid: String,
}

/// Verifies tokens against the JWKS of the issuer each token names (one cache per issuer).
pub struct Verifier {
    config: AuthorizerConfig,
    /// One per issuer, in the order of `config.issuers`.
    caches: Vec<Arc<JwksCache>>,
}

// Strict base64url throughout: no padding, no non-canonical trailing bits, URL alphabet only.
fn decode_segment(seg: &str, what: &'static str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| AuthError::Malformed(what))
}

/// Decodes `seg` into `buf` (no allocation); a segment that does not fit is malformed.
fn decode_into<'b>(
    seg: &str,
    buf: &'b mut [u8],
    what: &'static str,
) -> Result<&'b [u8], AuthError> {
    let n = URL_SAFE_NO_PAD
        .decode_slice(seg, buf)
        .map_err(|_| AuthError::Malformed(what))?;
    Ok(&buf[..n])
}

/// The largest signature of any accepted key: RSA 8192 bits.
const MAX_SIGNATURE_BYTES: usize = 1024;

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
    pub async fn verify(&self, token: &str, now: i64) -> Result<Verified, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TokenTooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("not three segments"));
        };
        if h64.len() > MAX_HEADER_B64 {
            return Err(AuthError::Malformed("header too large"));
        }
        let (alg, kid, typ) = read_header(h64)?;
        let mut signature_buf = [0u8; MAX_SIGNATURE_BYTES];
        let signature = decode_into(s64, &mut signature_buf, "signature encoding")?;
        let payload = decode_segment(p64, "payload encoding")?;
        let claims: Claims =
            serde_json::from_slice(&payload).map_err(|_| AuthError::Malformed("claims"))?;
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
            .find(|(_, r)| r.issuer == iss)
            .ok_or(AuthError::IssuerMismatch)?;
        if !rules.algorithms.contains(&alg) {
            return Err(AuthError::AlgNotAllowed);
        }
        if !rules.token_types.is_empty() && !typ.is_some_and(|t| rules.token_types.contains(&t)) {
            return Err(AuthError::TokenTypeMismatch);
        }
        let cache = self.caches.get(index).ok_or(AuthError::IssuerMismatch)?;
        let key = cache.key(&kid).await?;
        if !key.accepts(alg) {
            return Err(AuthError::KeyAlgMismatch);
        }
        check_signature_form(key.kind, signature)?;
        let message = &token.as_bytes()[..h64.len() + 1 + p64.len()];
        if !key.verify(alg, message, signature) {
            return Err(AuthError::BadSignature);
        }
        let identity = self.check_claims(claims, rules, token, now)?;
        Ok(Verified { identity, alg, kid })
    }

    fn check_claims(
        &self,
        c: Claims<'_>,
        cfg: &IssuerRules,
        token: &str,
        now: i64,
    ) -> Result<Identity, AuthError> {
        let leeway = i64::try_from(self.config.leeway_seconds).unwrap_or(i64::MAX);
        let iss = c.iss.ok_or(AuthError::MissingClaim("iss"))?;
        if iss != cfg.issuer {
            return Err(AuthError::IssuerMismatch);
        }
        let exp = c.exp.ok_or(AuthError::MissingClaim("exp"))?.secs()?;
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
            (None, Some(TokenUse::Access), Some(cid)) => cfg.audiences.iter().any(|a| a == cid),
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
                        .is_some_and(|id| cfg.client_ids.iter().any(|c| c == id)),
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
                .is_some_and(|id| cfg.client_ids.iter().any(|c| c == id))
                || c.aud
                    .as_ref()
                    .is_some_and(|a| a.contains_any(&cfg.client_ids));
            if !ok {
                return Err(AuthError::ClientIdMismatch);
            }
        }
        let sub = c
            .sub
            .filter(|s| !s.trim().is_empty())
            .ok_or(AuthError::MissingClaim("sub"))?;
        // User IDs never collide across issuers: each issuer's prefix comes first.
        let user_id = format!("{}{sub}", cfg.user_id_prefix);
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
        // not 1–512 printable bytes is passed over (the token hash is always one).
        let usable = |s: &Cow<'_, str>| check_session_id(s).is_ok();
        let session_id = c
            .sid
            .filter(usable)
            .or(c.jti.filter(usable))
            .map_or_else(|| token_hash(token), Cow::into_owned);
        Ok(Identity {
            user_id,
            scopes,
            expires_at: exp,
            session_id,
            issuer: iss.into_owned(),
            issued_at,
        })
    }
}

/// The header's checks: an `alg` wsauth supports (never `none`, never symmetric), no `crit`, a
/// `kid` within the cap; the `typ`, normalized. Synchronous and returning owned values, so its
/// buffer is never part of `verify`'s future.
fn read_header(h64: &str) -> Result<(Algorithm, String, Option<String>), AuthError> {
    let mut header_buf = [0u8; MAX_HEADER_B64 / 4 * 3 + 3];
    let header_json = decode_into(h64, &mut header_buf, "header encoding")?;
    let header: Header =
        serde_json::from_slice(header_json).map_err(|_| AuthError::Malformed("header"))?;
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
        .ok_or(AuthError::MissingKid)?;
    if kid.len() > MAX_KID_BYTES {
        return Err(AuthError::Malformed("kid too long"));
    }
    let typ = header.typ.as_deref().map(normalize_token_type);
    Ok((alg, kid.into_owned(), typ))
}

/// A short stable hash of a token, used as a session ID when it carries neither `sid` nor `jti`.
/// Not reversible: the token itself is never stored or logged.
pub fn token_hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
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
        assert_ne!(h, token_hash("a.b.d"));
        assert_eq!(h.len(), 24);
    }
}
