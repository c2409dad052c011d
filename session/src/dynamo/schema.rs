//! The tables as data: [`SESSIONS`] and [`REVOCATIONS`] say each table's attributes, key,
//! indexes and TTL attribute once. [`ensure_tables`] creates them from it (on-demand, encrypted,
//! TTL on), and `tests/tests/schema.rs` holds `serverless.yml`'s tables to what this creates in
//! DynamoDB Local.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, SseSpecification, TableStatus, TimeToLiveSpecification,
};
use wsauth_settings::StoreSettings;

use super::unavailable;
use crate::store::StoreError;

/// The per-user index of the sessions table.
pub const BY_USER_INDEX: &str = "byUser";

/// The per-session index of the sessions table (`logoutSession`).
pub const BY_SESSION_INDEX: &str = "bySession";

/// The TTL attribute of every table (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// A key attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A string (`S`).
    S,
    /// A number (`N`).
    N,
}

/// A global secondary index: its key, all attributes projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSchema {
    /// The index name.
    pub name: &'static str,
    /// The partition key.
    pub hash: &'static str,
    /// The sort key.
    pub range: &'static str,
    /// What reads it (said when a table lacks it).
    pub purpose: &'static str,
}

/// One table's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    /// Every key attribute (of the table and its indexes) with its type.
    pub attributes: &'static [(&'static str, AttrType)],
    /// The partition key (no table has a sort key).
    pub hash: &'static str,
    /// The global secondary indexes.
    pub indexes: &'static [IndexSchema],
    /// The TTL attribute.
    pub ttl: &'static str,
}

/// The sessions table: one binding per connection, found by connection, user or session.
pub const SESSIONS: TableSchema = TableSchema {
    attributes: &[
        ("connectionId", AttrType::S),
        ("userId", AttrType::S),
        ("sessionId", AttrType::S),
        ("connectedAt", AttrType::N),
    ],
    hash: "connectionId",
    indexes: &[
        IndexSchema {
            name: BY_USER_INDEX,
            hash: "userId",
            range: "connectedAt",
            purpose: "sendToUser, disconnectUser and logoutUser",
        },
        IndexSchema {
            name: BY_SESSION_INDEX,
            hash: "sessionId",
            range: "connectedAt",
            purpose: "logoutSession",
        },
    ],
    ttl: TTL_ATTRIBUTE,
};

/// The revocations table: one item per revoked user (`user#…`) or session (`session#…`).
pub const REVOCATIONS: TableSchema = TableSchema {
    attributes: &[("target", AttrType::S)],
    hash: "target",
    indexes: &[],
    ttl: TTL_ATTRIBUTE,
};

fn built(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn key_element(name: &str, t: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .map_err(built)
}

/// Creates `table` with `schema` unless it exists, and waits until it is active with TTL on.
/// An existing table that lacks one of the schema's indexes is an error naming it (a table made
/// before `logoutSession` lacks `bySession`): said at start, not at the first request that needs
/// it. Safe to call concurrently and repeatedly.
pub async fn ensure(client: &Client, table: &str, schema: &TableSchema) -> Result<(), StoreError> {
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(d) => {
            let has = |name: &str| {
                d.table().is_some_and(|t| {
                    t.global_secondary_indexes()
                        .iter()
                        .any(|g| g.index_name() == Some(name))
                })
            };
            if let Some(missing) = schema.indexes.iter().find(|i| !has(i.name)) {
                return Err(StoreError::Unavailable(format!(
                    "table {table} has no `{}` index (it predates {}): add the index (GSI on \
                     {}, {}, all attributes) or use a new table",
                    missing.name, missing.purpose, missing.hash, missing.range
                )));
            }
            true
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => false,
        Err(e) => return Err(unavailable(e)),
    };
    if !exists {
        let mut create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element(schema.hash, KeyType::Hash)?)
            .sse_specification(SseSpecification::builder().enabled(true).build());
        for (name, t) in schema.attributes {
            let t = match t {
                AttrType::S => ScalarAttributeType::S,
                AttrType::N => ScalarAttributeType::N,
            };
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(t)
                    .build()
                    .map_err(built)?,
            );
        }
        for i in schema.indexes {
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(i.name)
                    .key_schema(key_element(i.hash, KeyType::Hash)?)
                    .key_schema(key_element(i.range, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(built)?,
            );
        }
        created_or_exists(create.send().await)?;
    }
    await_active_with_ttl(client, table, schema.ttl).await
}

/// The sessions table ([`SESSIONS`]), as [`ensure`] makes it.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    ensure(client, table, &SESSIONS).await
}

/// The revocations table ([`REVOCATIONS`]), as [`ensure`] makes it.
pub async fn ensure_revocations_table(client: &Client, table: &str) -> Result<(), StoreError> {
    ensure(client, table, &REVOCATIONS).await
}

/// Both tables of `settings`.
pub async fn ensure_tables(client: &Client, settings: &StoreSettings) -> Result<(), StoreError> {
    ensure_table(client, &settings.table).await?;
    ensure_revocations_table(client, &settings.revocations_table).await
}

/// A `CreateTable` that succeeded, or found the table made meanwhile (a concurrent call).
fn created_or_exists<T, E, R>(r: Result<T, SdkError<E, R>>) -> Result<(), StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

async fn await_active_with_ttl(client: &Client, table: &str, ttl: &str) -> Result<(), StoreError> {
    for _ in 0..100 {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(unavailable)?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(ttl)
        .build()
        .map_err(built)?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Already enabled (a second call, or a concurrent one).
        Err(e) if e.code() == Some("ValidationException") => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}
