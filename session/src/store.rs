//! The `SessionStore` trait: the narrow set of operations wsauth performs on bindings.

use async_trait::async_trait;

use crate::binding::Binding;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `bind` on a connection ID that already has a binding (nothing was written).
    #[error("connection is already bound")]
    AlreadyBound,
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
    /// No binding for this connection ID.
    NotBound,
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
    /// Writes a binding unless the connection ID is already bound ([`StoreError::AlreadyBound`]).
    async fn bind(&self, binding: &Binding) -> Result<(), StoreError>;

    /// Reads a binding with a strongly consistent read.
    async fn get(&self, connection_id: &str) -> Result<Option<Binding>, StoreError>;

    /// Every binding of `user_id`, oldest connection first (expired ones included).
    async fn user_bindings(&self, user_id: &str) -> Result<Vec<Binding>, StoreError>;

    /// Up to `limit` bindings after the cursor `start_after` (`None`: from the start).
    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, StoreError>;

    /// Extends a session after a token refresh: sets `expiresAt` (and `ttl`) and `scopes`,
    /// only if the connection is bound to `user_id`. Returns whether it was.
    async fn extend(
        &self,
        connection_id: &str,
        user_id: &str,
        expires_at: i64,
        scopes: &[String],
    ) -> Result<bool, StoreError>;

    /// Removes a binding; idempotent. Returns whether one existed.
    async fn unbind(&self, connection_id: &str) -> Result<bool, StoreError>;

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
