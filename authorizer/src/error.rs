//! The authorizer's one error enum, and the one place it maps to a handshake outcome.
//!
//! Every refusal carries a stable reason code (logged with the decision, never shown to the
//! client). [`AuthError::outcome`] decides what API Gateway answers: 401 for anything wrong with
//! the token, 403 for a valid token that lacks the connect scopes, 500 when wsauth cannot decide
//! (JWKS unreachable with no usable key): it fails closed.

/// What API Gateway answers the handshake for a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The Lambda fails with the message `Unauthorized`: 401.
    Unauthorized,
    /// The Lambda returns a Deny policy: 403.
    Forbidden,
    /// The Lambda fails with any other message: 500.
    Internal,
}

/// Why a token or a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in the configured source (`WSAUTH_TOKEN_SOURCE`); a token elsewhere does not count.
    #[error("no token in the configured identity source")]
    NoToken,
    /// The configured source carries more than one token (two `token` parameters, two
    /// `bearer.` subprotocols, two `Authorization` headers).
    #[error("ambiguous or unusable identity source")]
    AmbiguousToken,
    /// Longer than the size cap; refused before any parsing.
    #[error("token exceeds the size cap")]
    TokenTooLarge,
    /// Not three base64url segments of JSON header, JSON claims and a signature.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is `none` in any letter case.
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// `alg` not in `WSAUTH_ALGORITHMS` (HS* included: symmetric algorithms are never accepted).
    #[error("algorithm not accepted")]
    AlgNotAllowed,
    /// A `crit` header parameter: wsauth understands no JWS extension.
    #[error("critical header extension not understood")]
    CritUnsupported,
    /// No `kid` in the header.
    #[error("token names no key (kid)")]
    MissingKid,
    /// The issuer's JWKS has no usable key with that `kid`, even after a refetch.
    #[error("unknown key id")]
    UnknownKid,
    /// The key's type, curve or declared `alg` does not fit the token's `alg`.
    #[error("key does not fit the token's algorithm")]
    KeyAlgMismatch,
    /// The signature has the wrong length or form for its algorithm (DER, r or s zero).
    #[error("signature encoding refused")]
    SignatureEncoding,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` − `iat` (or `exp` − now) exceeds `WSAUTH_MAX_TOKEN_LIFETIME_SECONDS`.
    #[error("token lifetime too long")]
    LifetimeTooLong,
    /// The header's `typ` is none of `WSAUTH_TOKEN_TYPES` (e.g. an ID token where an access
    /// token, `at+jwt`, is required: RFC 8725 §3.11).
    #[error("token type not accepted")]
    TokenTypeMismatch,
    /// `sub` is not a user ID: over `MAX_USER_ID_BYTES`, control characters, or starting with `$`.
    #[error("subject refused: {0}")]
    BadSubject(wsauth_policy::IdError),
    /// A claim the verifier needs is absent.
    #[error("required claim `{0}` missing")]
    MissingClaim(&'static str),
    /// `iss` differs from `WSAUTH_ISSUER`.
    #[error("issuer mismatch")]
    IssuerMismatch,
    /// `aud` contains none of `WSAUTH_AUDIENCE`.
    #[error("audience mismatch")]
    AudienceMismatch,
    /// `exp` is past, beyond the leeway.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `token_use` differs from `WSAUTH_TOKEN_USE`.
    #[error("token_use mismatch")]
    TokenUseMismatch,
    /// `client_id` (access) or `aud` (id) is none of `WSAUTH_CLIENT_ID`.
    #[error("client id mismatch")]
    ClientIdMismatch,
    /// A valid token (of the user named) without every scope of `WSAUTH_CONNECT_SCOPES`.
    #[error("missing connect scopes")]
    MissingScopes(String),
    /// No usable key could be had: JWKS unreachable or stale beyond the maximum, or invalid.
    #[error("JWKS unavailable")]
    JwksUnavailable,
    /// The event is not a WebSocket REQUEST authorizer event (no usable `methodArn`).
    #[error("malformed authorizer event: {0}")]
    BadEvent(&'static str),
}

impl AuthError {
    /// The handshake outcome: the single mapping from refusal to status.
    pub fn outcome(&self) -> Outcome {
        match self {
            AuthError::MissingScopes(_) => Outcome::Forbidden,
            AuthError::JwksUnavailable | AuthError::BadEvent(_) => Outcome::Internal,
            _ => Outcome::Unauthorized,
        }
    }

    /// A stable snake_case code for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::NoToken => "no_token",
            AuthError::AmbiguousToken => "ambiguous_token",
            AuthError::TokenTooLarge => "token_too_large",
            AuthError::Malformed(_) => "malformed",
            AuthError::AlgNone => "alg_none",
            AuthError::AlgNotAllowed => "alg_not_allowed",
            AuthError::CritUnsupported => "crit_unsupported",
            AuthError::MissingKid => "missing_kid",
            AuthError::UnknownKid => "unknown_kid",
            AuthError::KeyAlgMismatch => "key_alg_mismatch",
            AuthError::SignatureEncoding => "signature_encoding",
            AuthError::BadSignature => "bad_signature",
            AuthError::MissingClaim(_) => "missing_claim",
            AuthError::TokenTypeMismatch => "token_type_mismatch",
            AuthError::LifetimeTooLong => "lifetime_too_long",
            AuthError::BadSubject(_) => "bad_subject",
            AuthError::IssuerMismatch => "issuer_mismatch",
            AuthError::AudienceMismatch => "audience_mismatch",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::IssuedInFuture => "issued_in_future",
            AuthError::TokenUseMismatch => "token_use_mismatch",
            AuthError::ClientIdMismatch => "client_id_mismatch",
            AuthError::MissingScopes(_) => "missing_scopes",
            AuthError::JwksUnavailable => "jwks_unavailable",
            AuthError::BadEvent(_) => "bad_event",
        }
    }
}

/// The error a Lambda authorizer returns: API Gateway reads its message. Exactly
/// `Unauthorized` answers 401; anything else answers 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LambdaRefusal {
    /// 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// 500.
    #[error("Internal error")]
    Internal,
}

impl From<LambdaRefusal> for lambda_runtime::Diagnostic {
    fn from(r: LambdaRefusal) -> Self {
        lambda_runtime::Diagnostic {
            error_type: match r {
                LambdaRefusal::Unauthorized => "Unauthorized".into(),
                LambdaRefusal::Internal => "InternalError".into(),
            },
            error_message: r.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_message_unauthorized_means_401() {
        let d: lambda_runtime::Diagnostic = LambdaRefusal::Unauthorized.into();
        assert_eq!(d.error_message, "Unauthorized");
        let d: lambda_runtime::Diagnostic = LambdaRefusal::Internal.into();
        assert_ne!(d.error_message, "Unauthorized");
    }

    #[test]
    fn refusals_map_to_the_contract_statuses() {
        assert_eq!(AuthError::Expired.outcome(), Outcome::Unauthorized);
        assert_eq!(AuthError::NoToken.outcome(), Outcome::Unauthorized);
        assert_eq!(AuthError::UnknownKid.outcome(), Outcome::Unauthorized);
        assert_eq!(
            AuthError::MissingScopes("a".into()).outcome(),
            Outcome::Forbidden
        );
        assert_eq!(AuthError::JwksUnavailable.outcome(), Outcome::Internal);
    }
}
