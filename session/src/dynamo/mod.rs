//! The DynamoDB store (AWS, or DynamoDB Local through `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! Sessions table: partition key `connectionId` (S); GSIs `byUser` (`userId`, `connectedAt`)
//! and `bySession` (`sessionId`, `connectedAt`), all attributes projected; TTL attribute `ttl`.
//! Item ↔ [`Binding`] conversion lives in [`to_item`] and [`from_item`] only.
//!
//! Revocations table: partition key `target` (S: `user#{userId}` or `session#{sessionId}`),
//! `revokedBefore` (N, epoch s), `ttl` (N, epoch s: when no token it revokes can still be
//! valid; the TTL attribute). `bind` and `extend` are transactions: condition checks on the
//! user's and the session's revocations, and the conditional write of the binding.
//!
//! # Layout
//!
//! - this file: [`DynamoSessionStore`] (the store's requests, their retries and the reading of
//!   transaction cancellations) and [`client`].
//! - [`schema`]: the tables as data ([`schema::SESSIONS`], [`schema::REVOCATIONS`]) and their
//!   creation ([`ensure_tables`]).
//! - `item.rs`: the item mapping ([`to_item`], [`from_item`]).

mod item;
pub mod schema;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use wsauth_settings::StoreSettings;

use crate::aws::{is_loopback_url, sdk_config_from_env};
use crate::binding::{Binding, TTL_GRACE_SECONDS};
use crate::revocation::{Renewal, Revoke, revokes, session_key, user_key};
use crate::store::{Lookup, Page, Presumed, SessionStore, StoreError};

pub use item::{Item, from_item, to_item};
pub use schema::{
    BY_SESSION_INDEX, BY_USER_INDEX, ensure_revocations_table, ensure_table, ensure_tables,
};

use item::{key, n, revocation_of, s, scopes_attr};

/// How long a write may take to show in a GSI: a logout sweeps again after it. DynamoDB
/// documents GSI propagation as usually under a second.
pub const INDEX_DELAY: Duration = Duration::from_secs(1);

/// How many times a transaction that conflicts with another write in flight on one of its items
/// is tried: a bind or refresh against a logout's revocation write, or against another handshake
/// of the same user (each checks `user#…`). The waits grow exponentially with full jitter, about
/// 2.5 s in all at most. (A revocation write tries by time: [`REVOKE_DEADLINE`].)
const CONFLICT_ATTEMPTS: u32 = 8;

/// How long a revocation write keeps trying while it meets handshakes' transactions on its item
/// (each bind and refresh of the user condition-checks it): by time, not by count, so that a
/// client reconnecting in a loop cannot hold its own logout off (about 2.5 s of tries, then 503,
/// before). Within the push function's 10 s with the sweeps after it.
pub const REVOKE_DEADLINE: Duration = Duration::from_secs(5);

/// The wait before a revocation write's next try: short (a transaction holds its items for
/// milliseconds), jittered, at most 50 ms.
fn revoke_backoff(attempt: u32) -> Duration {
    let cap = 5u64.saturating_mul(1 << attempt.min(4)).min(50);
    Duration::from_millis(fastrand::u64(1..=cap))
}

/// How many times a message's read is sent while DynamoDB leaves some of its keys unprocessed.
const UNPROCESSED_ATTEMPTS: u32 = 4;

/// Whether one of `revocations` (items of the revocations table) is `target`'s and covers `b`'s
/// token at `now`.
fn covers(revocations: &[Item], target: &str, b: &Binding, now: i64) -> bool {
    revocations
        .iter()
        .filter(|i| {
            i.get("target")
                .and_then(|t| t.as_s().ok())
                .is_some_and(|t| t == target)
        })
        .filter_map(revocation_of)
        .any(|(before, until)| revokes(before, until, b.issued_at, now))
}

/// The wait before the next attempt after `attempt` conflicts: up to 10 ms·2^attempt, jittered.
fn conflict_backoff(attempt: u32) -> Duration {
    let cap = 10u64.saturating_mul(1 << attempt.min(10));
    Duration::from_millis(fastrand::u64(1..=cap))
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}

/// A DynamoDB client for `settings` (region, credentials and endpoint from the SDK's own
/// environment; placeholders for a local endpoint such as DynamoDB Local).
pub async fn client(settings: &StoreSettings) -> Client {
    let local = settings
        .dynamodb_endpoint
        .as_deref()
        .is_some_and(is_loopback_url);
    Client::new(&sdk_config_from_env(local).await)
}

/// Bindings and revocations in DynamoDB tables.
#[derive(Clone)]
pub struct DynamoSessionStore {
    /// The DynamoDB client, built once at start.
    client: Client,
    /// The sessions table.
    table: String,
    /// The revocations table.
    revocations_table: String,
    /// How long a revocation is kept (its TTL): the longest token lifetime and the leeway.
    revocations_kept_seconds: i64,
}

/// The condition a revocation item must meet for a token issued at `issued_at` to pass at
/// `:now`: no revocation, an expired one, or one older than the token.
fn not_revoked_condition(issued_at: Option<i64>) -> &'static str {
    match issued_at {
        Some(_) => "attribute_not_exists(target) OR #ttl <= :now OR revokedBefore < :iat",
        None => "attribute_not_exists(target) OR #ttl <= :now",
    }
}

/// Why a transaction was cancelled, from its per-item reasons.
enum Cancelled {
    /// A revocation's condition check failed.
    Revoked,
    /// The binding's own condition failed.
    Binding,
    /// A concurrent write to one of the items: worth trying again.
    Conflict,
    /// Anything else.
    Other(String),
}

fn cancelled(
    e: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    binding_index: usize,
) -> Cancelled {
    let Some(TransactWriteItemsError::TransactionCanceledException(t)) = e.as_service_error()
    else {
        return Cancelled::Other(DisplayErrorContext(e).to_string());
    };
    let codes: Vec<&str> = t
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect();
    let failed = |i: usize| codes.get(i) == Some(&"ConditionalCheckFailed");
    if (0..codes.len()).any(|i| i != binding_index && failed(i)) {
        Cancelled::Revoked
    } else if failed(binding_index) {
        Cancelled::Binding
    } else if codes.contains(&"TransactionConflict") {
        Cancelled::Conflict
    } else {
        Cancelled::Other(format!("transaction cancelled: {codes:?}"))
    }
}

impl DynamoSessionStore {
    /// A store on the tables of `settings` through `client`.
    pub fn new(client: Client, settings: &StoreSettings) -> Self {
        Self {
            client,
            table: settings.table.clone(),
            revocations_table: settings.revocations_table.clone(),
            revocations_kept_seconds: settings.revocations_kept_seconds,
        }
    }

    /// The revocations table name.
    pub fn revocations_table(&self) -> &str {
        &self.revocations_table
    }

    /// A condition check: no revocation under `target` refuses a token issued at `issued_at`.
    fn not_revoked(
        &self,
        target: String,
        issued_at: Option<i64>,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.revocations_table)
            .key("target", AttributeValue::S(target))
            .condition_expression(not_revoked_condition(issued_at))
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now));
        if let Some(iat) = issued_at {
            check = check.expression_attribute_values(":iat", n(iat));
        }
        let check = check
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Runs a transaction whose item `binding_index` writes the binding and whose other items
    /// check revocations; a conflict with a concurrent write is tried again. `Ok(false)`: the
    /// binding's own condition failed.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        binding_index: usize,
    ) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match r {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            match cancelled(&e, binding_index) {
                Cancelled::Revoked => return Err(StoreError::Revoked),
                Cancelled::Binding => return Ok(false),
                Cancelled::Conflict if attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(attempt, "transaction conflict; trying again");
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                }
                Cancelled::Conflict => {
                    return Err(StoreError::Unavailable(
                        "transaction conflict persisted".into(),
                    ));
                }
                Cancelled::Other(why) => return Err(StoreError::Unavailable(why)),
            }
        }
    }

    async fn query_index(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<Binding>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :v")
                .expression_attribute_names("#k", attribute)
                .expression_attribute_values(":v", s(value))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in r.items() {
                out.push(from_item(item)?);
            }
            match r.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// One consistent `BatchGetItem`: the binding of `connection_id` (when asked) and the
    /// revocations under `targets`. Keys DynamoDB leaves unprocessed (throttling) are asked
    /// again, a few times, then the read fails (closed).
    async fn read_together(
        &self,
        connection_id: Option<&str>,
        targets: &[String],
    ) -> Result<(Option<Item>, Vec<Item>), StoreError> {
        let keys_of = |keys: Vec<Item>| {
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let mut request: HashMap<String, KeysAndAttributes> = HashMap::new();
        if let Some(c) = connection_id {
            request.insert(self.table.clone(), keys_of(vec![key(c)])?);
        }
        if !targets.is_empty() {
            let keys = targets
                .iter()
                .map(|t| HashMap::from([("target".to_owned(), s(t))]))
                .collect();
            request.insert(self.revocations_table.clone(), keys_of(keys)?);
        }
        let (mut binding, mut revocations) = (None, Vec::new());
        for attempt in 1..=UNPROCESSED_ATTEMPTS {
            let r = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(unavailable)?;
            for (table, items) in r.responses().iter().flat_map(|m| m.iter()) {
                if *table == self.table {
                    binding = items.first().cloned().or(binding);
                } else if *table == self.revocations_table {
                    revocations.extend(items.iter().cloned());
                }
            }
            match r.unprocessed_keys() {
                Some(left) if !left.is_empty() => {
                    request = left.clone();
                    if attempt < UNPROCESSED_ATTEMPTS {
                        tokio::time::sleep(conflict_backoff(attempt)).await;
                    }
                }
                _ => return Ok((binding, revocations)),
            }
        }
        Err(StoreError::Unavailable(
            "the binding and its revocations could not be read (unprocessed keys)".into(),
        ))
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl SessionStore for DynamoSessionStore {
    async fn bind(&self, b: &Binding) -> Result<(), StoreError> {
        let now = b.connected_at.div_euclid(1000);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(b)))
            .condition_expression("attribute_not_exists(connectionId)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.not_revoked(user_key(&b.user_id), b.issued_at, now)?,
            self.not_revoked(session_key(&b.session_id), b.issued_at, now)?,
        ];
        match self.transact(items, 0).await? {
            true => Ok(()),
            false => Err(StoreError::AlreadyBound),
        }
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Binding>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        r.item().map(from_item).transpose()
    }

    async fn authorize(
        &self,
        connection_id: &str,
        presumed: Option<Presumed<'_>>,
        now: i64,
    ) -> Result<Lookup, StoreError> {
        let asked: Vec<String> = presumed
            .map(|p| vec![user_key(p.user_id), session_key(p.session_id)])
            .unwrap_or_default();
        let (item, mut revocations) = self.read_together(Some(connection_id), &asked).await?;
        let Some(item) = item else {
            return Ok(Lookup::NotBound);
        };
        let b = from_item(&item)?;
        if b.is_expired(now) {
            return Ok(Lookup::Expired(b));
        }
        let (user, session) = (user_key(&b.user_id), session_key(&b.session_id));
        // The binding's own revocations that the first read did not name (a refresh moved
        // the session; an event without context): one more read, never a guess.
        let missing: Vec<String> = [user.clone(), session.clone()]
            .into_iter()
            .filter(|k| !asked.contains(k))
            .collect();
        if !missing.is_empty() {
            revocations.extend(self.read_together(None, &missing).await?.1);
        }
        Ok(
            if covers(&revocations, &user, &b, now) || covers(&revocations, &session, &b, now) {
                Lookup::Revoked(b)
            } else {
                Lookup::Live(b)
            },
        )
    }

    async fn user_bindings(&self, user_id: &str) -> Result<Vec<Binding>, StoreError> {
        self.query_index(BY_USER_INDEX, "userId", user_id).await
    }

    async fn session_bindings(&self, session_id: &str) -> Result<Vec<Binding>, StoreError> {
        self.query_index(BY_SESSION_INDEX, "sessionId", session_id)
            .await
    }

    async fn revoke(&self, target: &Revoke, revoked_before: i64) -> Result<i64, StoreError> {
        let key = HashMap::from([("target".to_owned(), s(&target.key()))]);
        let deadline = tokio::time::Instant::now() + REVOKE_DEADLINE;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self
                .client
                .update_item()
                .table_name(&self.revocations_table)
                .set_key(Some(key.clone()))
                .update_expression("SET revokedBefore = :t, #ttl = :k")
                // A later revocation already recorded stays (Lambdas' clocks differ a little).
                .condition_expression(
                    "attribute_not_exists(target) OR revokedBefore <= :t OR #ttl <= :t",
                )
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":t", n(revoked_before))
                .expression_attribute_values(
                    ":k",
                    n(revoked_before.saturating_add(self.revocations_kept_seconds)),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let e = match r {
                Ok(_) => return Ok(revoked_before),
                Err(e) => e,
            };
            match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let stored = c
                        .item()
                        .and_then(|i| i.get("revokedBefore"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse::<i64>().ok());
                    return Ok(stored.map_or(revoked_before, |t| t.max(revoked_before)));
                }
                // Every handshake of this user condition-checks this item inside a
                // transaction; a write meeting one is refused and must be tried again, until
                // the deadline, or a reconnecting client could hold its own logout off.
                Some(UpdateItemError::TransactionConflictException(_))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tracing::debug!(attempt, "revocation write met a transaction; trying again");
                    tokio::time::sleep(revoke_backoff(attempt)).await;
                }
                _ => return Err(unavailable(e)),
            }
        }
    }

    fn index_delay(&self) -> Duration {
        INDEX_DELAY
    }

    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let limit = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let r = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(limit)
            .set_exclusive_start_key(start_after.map(key))
            .send()
            .await
            .map_err(unavailable)?;
        let items = r.items().iter().map(from_item).collect::<Result<_, _>>()?;
        let next = r
            .last_evaluated_key()
            .and_then(|k| k.get("connectionId"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok(Page { items, next })
    }

    async fn extend(&self, connection_id: &str, r: &Renewal) -> Result<bool, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(connection_id)))
            .condition_expression("attribute_exists(connectionId) AND userId = :u")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":e", n(r.expires_at))
            .expression_attribute_values(":t", n(r.expires_at.saturating_add(TTL_GRACE_SECONDS)))
            .expression_attribute_values(":s", scopes_attr(&r.scopes))
            .expression_attribute_values(":u", s(&r.user_id))
            .expression_attribute_values(":sid", s(&r.session_id));
        update = match r.issued_at {
            Some(iat) => update
                .update_expression(
                    "SET expiresAt = :e, #ttl = :t, scopes = :s, sessionId = :sid, issuedAt = :i",
                )
                .expression_attribute_values(":i", n(iat)),
            None => update.update_expression(
                "SET expiresAt = :e, #ttl = :t, scopes = :s, sessionId = :sid REMOVE issuedAt",
            ),
        };
        let update = update
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.not_revoked(user_key(&r.user_id), r.issued_at, r.now)?,
        ];
        let mut sessions: Vec<&String> = r.session_ids.iter().collect();
        sessions.sort();
        sessions.dedup();
        for session in sessions {
            items.push(self.not_revoked(session_key(session), r.issued_at, r.now)?);
        }
        self.transact(items, 0).await
    }

    async fn unbind(&self, connection_id: &str) -> Result<bool, StoreError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(r.attributes().is_some_and(|a| !a.is_empty()))
    }
}
