//! Revocations: "every token of this user (or of this session) issued at or before second T is
//! refused from now on". A logout writes one; `$connect` and `refresh` check them atomically
//! with their write to the bindings (see [`SessionStore::bind`](crate::SessionStore::bind)).
//!
//! A revocation is kept for as long as a token it revokes can still be valid
//! (`WSAUTH_MAX_TOKEN_LIFETIME_SECONDS` + leeway after T): after that every such token has
//! expired anyway, so the table holds only recent logouts.

/// Whose tokens a revocation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    /// Every session of a user (`logoutUser`).
    User(String),
    /// One session (`logoutSession`): the binding's `sessionId`.
    Session(String),
}

impl Revoke {
    /// The revocation's key: `user#{userId}` or `session#{sessionId}`.
    pub fn key(&self) -> String {
        match self {
            Revoke::User(u) => user_key(u),
            Revoke::Session(s) => session_key(s),
        }
    }
}

/// The key of a user's revocation.
pub fn user_key(user_id: &str) -> String {
    format!("user#{user_id}")
}

/// The key of a session's revocation.
pub fn session_key(session_id: &str) -> String {
    format!("session#{session_id}")
}

/// Whether a revocation (tokens issued at or before `revoked_before`, kept until `kept_until`)
/// refuses a token issued at `issued_at` at `now`. A token without `iat` cannot show it was
/// issued after the revocation: it is refused while the revocation is kept.
pub fn revokes(revoked_before: i64, kept_until: i64, issued_at: Option<i64>, now: i64) -> bool {
    if now >= kept_until {
        return false;
    }
    issued_at.is_none_or(|iat| iat <= revoked_before)
}

/// A token presented again (`refresh`): the checks it must pass and the session it extends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// The user the connection is bound to (the token's user ID must be the same).
    pub user_id: String,
    /// The sessions whose revocations apply: the binding's, and the new token's if different.
    pub session_ids: Vec<String>,
    /// The new token's session: the binding's `sessionId` from now on (the connection runs on
    /// this token, so `logoutSession` of this session must find it).
    pub session_id: String,
    /// The new token's `iat`.
    pub issued_at: Option<i64>,
    /// The new token's `exp`: the session's new end.
    pub expires_at: i64,
    /// The new token's scopes.
    pub scopes: Vec<String>,
    /// Now, epoch seconds.
    pub now: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_refuses_tokens_issued_up_to_its_second_and_only_while_kept() {
        // Revoked before 100, kept until 1000.
        assert!(revokes(100, 1000, Some(99), 500));
        assert!(revokes(100, 1000, Some(100), 500), "iat = T is revoked");
        assert!(!revokes(100, 1000, Some(101), 500), "a later second is not");
        assert!(revokes(100, 1000, None, 500), "no iat: refused while kept");
        assert!(!revokes(100, 1000, None, 1000), "expired revocation");
        assert!(!revokes(100, 1000, Some(50), 1000));
    }

    #[test]
    fn keys_keep_users_and_sessions_apart() {
        assert_eq!(Revoke::User("a".into()).key(), "user#a");
        assert_eq!(Revoke::Session("a".into()).key(), "session#a");
    }
}
