//! The embedded in-memory store: `wsauth-local`'s default and the unit tests' store.
//! Behaves as the DynamoDB store does (the shared suite runs on both), with a per-user index
//! so that a push to one user does not walk every connection.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use async_trait::async_trait;

use crate::binding::{Binding, TTL_GRACE_SECONDS};
use crate::revocation::{Renewal, Revoke, revokes, session_key, user_key};
use crate::store::{Lookup, Page, Presumed, SessionStore, StoreError};

pub use wsauth_settings::DEFAULT_REVOCATIONS_KEPT_SECONDS;

type Index = HashMap<String, BTreeSet<(i64, String)>>;

#[derive(Default)]
struct Inner {
    /// The bindings by connection ID (ordered: pages walk it).
    by_connection: BTreeMap<String, Binding>,
    /// user → (connectedAt, connectionId)
    by_user: Index,
    /// session → (connectedAt, connectionId)
    by_session: Index,
    /// revocation key → (revokedBefore, kept until)
    revocations: HashMap<String, (i64, i64)>,
}

impl Inner {
    /// Whether a revocation of `user_id` or of any of `sessions` refuses a token issued at
    /// `issued_at`, at `now`.
    fn revoked(&self, user_id: &str, sessions: &[&str], issued_at: Option<i64>, now: i64) -> bool {
        std::iter::once(user_key(user_id))
            .chain(sessions.iter().map(|s| session_key(s)))
            .filter_map(|k| self.revocations.get(&k))
            .any(|&(before, until)| revokes(before, until, issued_at, now))
    }

    /// The bindings `index` lists under `key`, oldest first (as DynamoDB's index answers).
    fn indexed(&self, index: &Index, key: &str) -> Vec<Binding> {
        index
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|(_, c)| self.by_connection.get(c).cloned())
            .collect()
    }

    fn prune_revocations(&mut self, now: i64) {
        self.revocations.retain(|_, &mut (_, until)| until > now);
    }
}

fn index_insert(index: &mut Index, key: &str, b: &Binding) {
    index
        .entry(key.to_owned())
        .or_default()
        .insert((b.connected_at, b.connection_id.clone()));
}

fn index_remove(index: &mut Index, key: &str, b: &Binding) {
    if let Some(set) = index.get_mut(key) {
        set.remove(&(b.connected_at, b.connection_id.clone()));
        if set.is_empty() {
            index.remove(key);
        }
    }
}

/// Bindings and revocations in process memory.
pub struct MemorySessionStore {
    /// Everything, under one lock: a bind and its revocation checks are one step, as
    /// DynamoDB's transaction makes them.
    inner: RwLock<Inner>,
    /// How long a revocation is kept (the DynamoDB store's TTL on it).
    revocations_kept_seconds: i64,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    /// An empty store keeping revocations [`DEFAULT_REVOCATIONS_KEPT_SECONDS`].
    pub fn new() -> Self {
        Self::with_revocations_kept(DEFAULT_REVOCATIONS_KEPT_SECONDS)
    }

    /// An empty store keeping revocations `seconds` (the longest token lifetime plus leeway:
    /// `StoreSettings::revocations_kept_seconds`).
    pub fn with_revocations_kept(seconds: i64) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            revocations_kept_seconds: seconds,
        }
    }

    /// How many bindings are held.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .map(|i| i.by_connection.len())
            .unwrap_or(0)
    }

    /// Whether no binding is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("memory store lock poisoned".into())
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn bind(&self, b: &Binding) -> Result<(), StoreError> {
        let mut inner = self.inner.write().map_err(poisoned)?;
        // One lock for the check and the write: atomic, as DynamoDB's transaction is.
        let now = b.connected_at.div_euclid(1000);
        if inner.revoked(&b.user_id, &[&b.session_id], b.issued_at, now) {
            return Err(StoreError::Revoked);
        }
        if inner.by_connection.contains_key(&b.connection_id) {
            return Err(StoreError::AlreadyBound);
        }
        index_insert(&mut inner.by_user, &b.user_id, b);
        index_insert(&mut inner.by_session, &b.session_id, b);
        inner
            .by_connection
            .insert(b.connection_id.clone(), b.clone());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Binding>, StoreError> {
        let inner = self.inner.read().map_err(poisoned)?;
        Ok(inner.by_connection.get(connection_id).cloned())
    }

    async fn authorize(
        &self,
        connection_id: &str,
        _presumed: Option<Presumed<'_>>,
        now: i64,
    ) -> Result<Lookup, StoreError> {
        // One lock: the binding and the revocations as of one instant, as DynamoDB's one
        // consistent batch read.
        let inner = self.inner.read().map_err(poisoned)?;
        Ok(match inner.by_connection.get(connection_id) {
            None => Lookup::NotBound,
            Some(b) if b.is_expired(now) => Lookup::Expired(b.clone()),
            Some(b) if inner.revoked(&b.user_id, &[&b.session_id], b.issued_at, now) => {
                Lookup::Revoked(b.clone())
            }
            Some(b) => Lookup::Live(b.clone()),
        })
    }

    async fn user_bindings(&self, user_id: &str) -> Result<Vec<Binding>, StoreError> {
        let inner = self.inner.read().map_err(poisoned)?;
        Ok(inner.indexed(&inner.by_user, user_id))
    }

    async fn session_bindings(&self, session_id: &str) -> Result<Vec<Binding>, StoreError> {
        let inner = self.inner.read().map_err(poisoned)?;
        Ok(inner.indexed(&inner.by_session, session_id))
    }

    async fn revoke(&self, target: &Revoke, revoked_before: i64) -> Result<i64, StoreError> {
        let mut inner = self.inner.write().map_err(poisoned)?;
        inner.prune_revocations(revoked_before);
        let until = revoked_before.saturating_add(self.revocations_kept_seconds);
        let entry = inner
            .revocations
            .entry(target.key())
            .or_insert((revoked_before, until));
        if entry.0 < revoked_before {
            *entry = (revoked_before, until);
        }
        Ok(entry.0)
    }

    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let inner = self.inner.read().map_err(poisoned)?;
        let lower = match start_after {
            Some(c) => Bound::Excluded(c.to_owned()),
            None => Bound::Unbounded,
        };
        let limit = limit.max(1);
        let items: Vec<Binding> = inner
            .by_connection
            .range((lower, Bound::Unbounded))
            .take(limit)
            .map(|(_, b)| b.clone())
            .collect();
        let next = match items.last() {
            Some(last) if items.len() == limit => inner
                .by_connection
                .range::<String, _>((
                    Bound::Excluded(last.connection_id.clone()),
                    Bound::Unbounded,
                ))
                .next()
                .map(|_| last.connection_id.clone()),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn extend(&self, connection_id: &str, r: &Renewal) -> Result<bool, StoreError> {
        let mut inner = self.inner.write().map_err(poisoned)?;
        let sessions: Vec<&str> = r.session_ids.iter().map(String::as_str).collect();
        if inner.revoked(&r.user_id, &sessions, r.issued_at, r.now) {
            return Err(StoreError::Revoked);
        }
        let old = match inner.by_connection.get(connection_id) {
            Some(b) if b.user_id == r.user_id => b.clone(),
            _ => return Ok(false),
        };
        index_remove(&mut inner.by_session, &old.session_id, &old);
        let b = Binding {
            expires_at: r.expires_at,
            ttl: r.expires_at.saturating_add(TTL_GRACE_SECONDS),
            scopes: r.scopes.clone(),
            issued_at: r.issued_at,
            session_id: r.session_id.clone(),
            ..old
        };
        index_insert(&mut inner.by_session, &b.session_id, &b);
        inner.by_connection.insert(b.connection_id.clone(), b);
        Ok(true)
    }

    async fn unbind(&self, connection_id: &str) -> Result<bool, StoreError> {
        let mut inner = self.inner.write().map_err(poisoned)?;
        let Some(b) = inner.by_connection.remove(connection_id) else {
            return Ok(false);
        };
        index_remove(&mut inner.by_user, &b.user_id, &b);
        index_remove(&mut inner.by_session, &b.session_id, &b);
        Ok(true)
    }
}
