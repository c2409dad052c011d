//! The binding between an API Gateway WebSocket connection ID and a user session.
//!
//! DynamoDB deletes expired items lazily (hours to days later), so every read checks
//! `expiresAt` itself: [`SessionStore::lookup`] never reports an expired binding as live.
//!
//! # Layout
//!
//! - [`binding`]: [`Binding`], who a connection belongs to (the data model of the DynamoDB
//!   table), and [`connections_endpoint`].
//! - [`store`]: [`SessionStore`], the narrow async operations on bindings, with two
//!   implementations below; [`Lookup`], [`StoreError`].
//! - [`dynamo`]: [`DynamoSessionStore`] (AWS, or DynamoDB Local), the item mapping, and
//!   [`dynamo::ensure_tables`], which creates the sessions table (key, `byUser` and `bySession`
//!   GSIs, TTL) and the revocations table idempotently.
//! - [`memory`]: [`MemorySessionStore`], the embedded store (`wsauth-local`'s default).
//! - [`revocation`]: logouts that stick: [`Revoke`], [`Renewal`] and the one rule
//!   ([`revocation::revokes`]) both stores apply.
//! - [`aws`]: the AWS SDK configuration every client shares (bounded timeouts and retries).

#![deny(missing_docs)]

pub mod aws;
pub mod binding;
pub mod dynamo;
pub mod memory;
pub mod revocation;
pub mod store;

pub use binding::{Binding, TTL_GRACE_SECONDS, connections_endpoint};
pub use dynamo::DynamoSessionStore;
pub use memory::MemorySessionStore;
pub use revocation::{Renewal, Revoke};
pub use store::{Lookup, Page, Presumed, SessionStore, StoreError};
