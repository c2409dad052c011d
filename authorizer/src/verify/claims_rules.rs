//! The claim rules, once the signature verified: `iss` exact, `exp` required and `nbf` and `iat`
//! within the leeway, the lifetime capped, the audience (or Cognito's `client_id`), the Cognito
//! `token_use` and client IDs when configured, `sub` a user ID; then the identity the token
//! establishes (user ID, scopes, session ID).

use std::sync::Arc;

use wsauth_policy::{Identity, check_session_id, check_user_id, split_scopes};
use wsauth_settings::auth::{IssuerRules, TokenUse};

use super::{Verifier, signed_hash};
use crate::claims::{Claims, StrOrList};
use crate::error::AuthError;

impl Verifier {
    /// The claim rules of `cfg` (the issuer `iss` picked) applied to `c` at `now`; the identity
    /// the token establishes. `signing_input` is what the session ID is hashed from when the
    /// token carries neither `sid` nor `jti`.
    pub(super) fn check_claims(
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
