//! A binding: one live connection of one user session.

use wsauth_policy::Identity;

/// How long after `expiresAt` DynamoDB's TTL may delete a binding. Reads never rely on it.
pub const TTL_GRACE_SECONDS: i64 = 300;

/// One connection bound to one user session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// API Gateway's connection ID (the table's partition key).
    pub connection_id: String,
    /// The token's `sub`.
    pub user_id: String,
    /// `sid`, else `jti`, else a hash of the token.
    pub session_id: String,
    /// The token's `iss`.
    pub issuer: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the connection opened, epoch milliseconds (the `byUser` sort key).
    pub connected_at: i64,
    /// The token's `exp`, epoch seconds: after it the session is over.
    pub expires_at: i64,
    /// DynamoDB TTL attribute, epoch seconds: `expires_at` + [`TTL_GRACE_SECONDS`].
    pub ttl: i64,
    /// The @connections endpoint of the API and stage (`https://{domain}/{stage}`).
    pub endpoint: String,
    /// The `iat` of the token that authorized the connection (the last `refresh`'s), when it
    /// had one: a logout closes the connections whose token it revokes.
    pub issued_at: Option<i64>,
}

/// The @connections endpoint of an API stage: `override_url` when set (a custom domain, or
/// `wsauth-local`), else `https://{domain_name}/{stage}`. `None` when neither is known: calls
/// must never go to a guessed host.
pub fn connections_endpoint(
    override_url: Option<&str>,
    domain_name: Option<&str>,
    stage: Option<&str>,
) -> Option<String> {
    if let Some(u) = override_url.filter(|u| !u.is_empty()) {
        return Some(u.trim_end_matches('/').to_owned());
    }
    match (domain_name, stage) {
        (Some(d), Some(s)) if !d.is_empty() && !s.is_empty() => Some(format!("https://{d}/{s}")),
        _ => None,
    }
}

impl Binding {
    /// Binds `identity` to `connection_id`.
    pub fn new(
        connection_id: &str,
        identity: &Identity,
        connected_at_ms: i64,
        endpoint: &str,
    ) -> Self {
        Self {
            connection_id: connection_id.to_owned(),
            user_id: identity.user_id.clone(),
            session_id: identity.session_id.clone(),
            issuer: identity.issuer.to_string(),
            scopes: identity.scopes.clone(),
            connected_at: connected_at_ms,
            expires_at: identity.expires_at,
            ttl: identity.expires_at.saturating_add(TTL_GRACE_SECONDS),
            endpoint: endpoint.to_owned(),
            issued_at: identity.issued_at,
        }
    }

    /// Whether the session is over at `now` (epoch seconds): `exp` is the first instant at
    /// which the token is no longer valid (RFC 7519 §4.1.4).
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// The identity this binding carries.
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.user_id.clone(),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
            session_id: self.session_id.clone(),
            issuer: self.issuer.as_str().into(),
            issued_at: self.issued_at,
        }
    }

    /// Whether a revocation of tokens issued at or before `revoked_before` covers this
    /// connection's token (one without `iat` always is).
    pub fn issued_by(&self, revoked_before: i64) -> bool {
        self.issued_at.is_none_or(|iat| iat <= revoked_before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_endpoint_is_the_override_or_derived_never_guessed() {
        assert_eq!(
            connections_endpoint(
                None,
                Some("abc.execute-api.us-east-1.amazonaws.com"),
                Some("dev")
            ),
            Some("https://abc.execute-api.us-east-1.amazonaws.com/dev".into())
        );
        assert_eq!(
            connections_endpoint(Some("http://127.0.0.1:3001/dev/"), Some("x"), Some("y")),
            Some("http://127.0.0.1:3001/dev".into())
        );
        assert_eq!(connections_endpoint(None, None, Some("dev")), None);
        assert_eq!(connections_endpoint(Some(""), Some("d"), None), None);
    }

    #[test]
    fn a_binding_expires_at_exp_and_its_ttl_comes_a_little_later() {
        let id = Identity {
            user_id: "alice".into(),
            scopes: vec!["messages:send".into()],
            expires_at: 1000,
            session_id: "s".into(),
            issuer: "https://i".into(),
            issued_at: Some(900),
        };
        let b = Binding::new("c1", &id, 5, "https://x/dev");
        assert!(!b.is_expired(999));
        assert!(b.is_expired(1000));
        assert_eq!(b.ttl, 1000 + TTL_GRACE_SECONDS);
        assert_eq!(b.identity(), id);
    }
}
