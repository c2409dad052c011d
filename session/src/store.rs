//! The `SessionStore` trait: the narrow set of operations wsauth performs on bindings.

use std::time::Duration;

use async_trait::async_trait;

use crate::binding::Binding;
use crate::revocation::{Renewal, Revoke};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `bind` on a connection ID that already has a binding (nothing was written).
    #[error("connection is already bound")]
    AlreadyBound,
    /// A revocation of the user or the session refuses this token (nothing was written).
    #[error("token revoked")]
    Revoked,
    /// The store could not be reached or refused the request (network, throttling, missing
    /// table…). The operation had no effect or an unknown one; callers fail closed.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read as a binding.
    #[error("corrupt binding: {0}")]
    Corrupt(String),
}

/// A binding looked up at a point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Bound, and the session has not expired.
    Live(Binding),
    /// Bound, but `expiresAt` has passed (the item may linger until TTL deletes it).
    Expired(Binding),
    /// Bound, but a revocation of its user or session (a logout) covers its token: the logout's
    /// sweep has not closed it yet (an index that lags), and it must not be served.
    Revoked(Binding),
    /// No binding for this connection ID.
    NotBound,
}

/// Who API Gateway's message event says its connection belongs to: the authorizer's context of
/// its `$connect`, which API Gateway repeats in every event of the connection. It only names the
/// revocations read together with the binding ([`SessionStore::authorize`]); the identity a
/// message acts as is always the binding's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presumed<'a> {
    /// The context's `userId`.
    pub user_id: &'a str,
    /// The context's `sessionId` (the binding's until a `refresh` moves it to another session).
    pub session_id: &'a str,
}

/// One page of a walk over every binding (for broadcast).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The bindings of this page (expired ones included; callers filter).
    pub items: Vec<Binding>,
    /// Where the next page starts, or `None` at the end.
    pub next: Option<String>,
}

/// Operations on bindings. Implementations: DynamoDB and in-memory; both pass one shared suite.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Writes a binding unless the connection ID is already bound ([`StoreError::AlreadyBound`])
    /// or a revocation of its user or session refuses its token ([`StoreError::Revoked`]), in
    /// one atomic step: a bind racing a logout either fails or happens before the revocation
    /// (and the logout's sweep finds it). Revocations are judged at `connected_at`.
    async fn bind(&self, binding: &Binding) -> Result<(), StoreError>;

    /// Reads a binding with a strongly consistent read.
    async fn get(&self, connection_id: &str) -> Result<Option<Binding>, StoreError>;

    /// Every binding of `user_id`, oldest connection first (expired ones included).
    async fn user_bindings(&self, user_id: &str) -> Result<Vec<Binding>, StoreError>;

    /// Up to `limit` bindings after the cursor `start_after` (`None`: from the start).
    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, StoreError>;

    /// Extends a session after a token refresh: sets `expiresAt` (and `ttl`), `scopes`,
    /// `issuedAt` and `sessionId`, only if the connection is bound to `renewal.user_id` and no revocation of
    /// the user or of `renewal.session_ids` refuses the new token ([`StoreError::Revoked`]),
    /// atomically. Returns whether the connection was bound.
    async fn extend(&self, connection_id: &str, renewal: &Renewal) -> Result<bool, StoreError>;

    /// Records a revocation of `target`'s tokens issued at or before `revoked_before` (epoch
    /// seconds), kept as long as such a token can live. A later revocation already recorded
    /// stays. Returns the `revokedBefore` now in force.
    async fn revoke(&self, target: &Revoke, revoked_before: i64) -> Result<i64, StoreError>;

    /// Every binding of the session `session_id` (expired ones included).
    async fn session_bindings(&self, session_id: &str) -> Result<Vec<Binding>, StoreError>;

    /// How long a binding may take to show in [`user_bindings`](Self::user_bindings) and
    /// [`session_bindings`](Self::session_bindings) (DynamoDB's indexes are eventually
    /// consistent): a logout sweeps again after it.
    fn index_delay(&self) -> Duration {
        Duration::ZERO
    }

    /// Removes a binding; idempotent. Returns whether one existed.
    async fn unbind(&self, connection_id: &str) -> Result<bool, StoreError>;

    /// Looks a connection up for a message at `now` (epoch seconds): its binding with a strongly
    /// consistent read, its expiry, and the revocations of its user and session, read together
    /// with it (on DynamoDB one `BatchGetItem`, consistent, of the binding and the revocations
    /// `presumed` names), so that a logout covers a connection from its next message on,
    /// whatever its sweep found in the eventually consistent indexes. When the binding's user or
    /// session is not the one `presumed` named (no context, or a `refresh` moved the session),
    /// the binding's own revocations are read after it.
    async fn authorize(
        &self,
        connection_id: &str,
        presumed: Option<Presumed<'_>>,
        now: i64,
    ) -> Result<Lookup, StoreError>;

    /// Looks a connection up at `now` (epoch seconds), checking expiry itself.
    async fn lookup(&self, connection_id: &str, now: i64) -> Result<Lookup, StoreError> {
        Ok(match self.get(connection_id).await? {
            None => Lookup::NotBound,
            Some(b) if b.is_expired(now) => Lookup::Expired(b),
            Some(b) => Lookup::Live(b),
        })
    }

    /// The live bindings of `user_id` at `now`.
    async fn live_user_bindings(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<Binding>, StoreError> {
        let mut v = self.user_bindings(user_id).await?;
        v.retain(|b| !b.is_expired(now));
        Ok(v)
    }
}
