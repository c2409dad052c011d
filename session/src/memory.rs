//! The embedded in-memory store: `wsauth-local`'s default and the unit tests' store.
//! Behaves as the DynamoDB store does (the shared suite runs on both), with a per-user index
//! so that a push to one user does not walk every connection.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use async_trait::async_trait;

use crate::binding::{Binding, TTL_GRACE_SECONDS};
use crate::store::{Page, SessionStore, StoreError};

#[derive(Default)]
struct Inner {
    by_connection: BTreeMap<String, Binding>,
    /// user → (connectedAt, connectionId)
    by_user: HashMap<String, BTreeSet<(i64, String)>>,
}

/// Bindings in process memory.
#[derive(Default)]
pub struct MemorySessionStore {
    inner: RwLock<Inner>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
        if inner.by_connection.contains_key(&b.connection_id) {
            return Err(StoreError::AlreadyBound);
        }
        inner
            .by_user
            .entry(b.user_id.clone())
            .or_default()
            .insert((b.connected_at, b.connection_id.clone()));
        inner
            .by_connection
            .insert(b.connection_id.clone(), b.clone());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Binding>, StoreError> {
        let inner = self.inner.read().map_err(poisoned)?;
        Ok(inner.by_connection.get(connection_id).cloned())
    }

    async fn user_bindings(&self, user_id: &str) -> Result<Vec<Binding>, StoreError> {
        let inner = self.inner.read().map_err(poisoned)?;
        Ok(inner
            .by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|(_, c)| inner.by_connection.get(c).cloned())
            .collect())
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

    async fn extend(
        &self,
        connection_id: &str,
        user_id: &str,
        expires_at: i64,
        scopes: &[String],
    ) -> Result<bool, StoreError> {
        let mut inner = self.inner.write().map_err(poisoned)?;
        match inner.by_connection.get_mut(connection_id) {
            Some(b) if b.user_id == user_id => {
                b.expires_at = expires_at;
                b.ttl = expires_at.saturating_add(TTL_GRACE_SECONDS);
                b.scopes = scopes.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unbind(&self, connection_id: &str) -> Result<bool, StoreError> {
        let mut inner = self.inner.write().map_err(poisoned)?;
        let Some(b) = inner.by_connection.remove(connection_id) else {
            return Ok(false);
        };
        if let Some(set) = inner.by_user.get_mut(&b.user_id) {
            set.remove(&(b.connected_at, b.connection_id.clone()));
            if set.is_empty() {
                inner.by_user.remove(&b.user_id);
            }
        }
        Ok(true)
    }
}
