//! The binding between an API Gateway WebSocket connection ID and a user session.
//!
//! - [`Binding`]: who a connection belongs to (the data model of the DynamoDB table).
//! - [`SessionStore`]: narrow async operations on bindings, with two implementations:
//!   [`DynamoSessionStore`] (AWS, or DynamoDB Local) and [`MemorySessionStore`] (embedded).
//! - [`dynamo::ensure_table`]: creates the table (key, `byUser` GSI, TTL), idempotently.
//!
//! DynamoDB deletes expired items lazily (hours to days later), so every read checks
//! `expiresAt` itself: [`SessionStore::lookup`] never reports an expired binding as live.

#![warn(missing_docs)]

pub mod aws;
pub mod binding;
pub mod dynamo;
pub mod memory;
pub mod store;

pub use binding::{Binding, TTL_GRACE_SECONDS, management_endpoint};
pub use dynamo::DynamoSessionStore;
pub use memory::MemorySessionStore;
pub use store::{Lookup, Page, SessionStore, StoreError};
