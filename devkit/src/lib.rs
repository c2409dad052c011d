//! wsauth's development kit: what local runs, tests and benchmarks need to play the identity
//! provider and the database. No Lambda depends on it (a test in `tests/` checks `cargo tree`).
//!
//! # Layout
//!
//! - [`issuer`]: a signing issuer: key pairs, their public JWKS, ordinary tokens minted with
//!   `jsonwebtoken::encode`.
//! - [`hostile`]: raw signing of any header and claims, and other forgeries the security suite
//!   needs; nothing else should use it.
//! - [`keys`]: an issuer's three test keys (RS256, ES256, EdDSA) and a test configuration.
//! - [`jwks_server`]: a real JWKS endpoint on 127.0.0.1 whose answers a test switches.
//! - [`stores`]: the in-memory store and a fresh DynamoDB Local table; [`on_each_store!`] runs a
//!   suite on both.

#![deny(missing_docs)]

pub mod hostile;
pub mod issuer;
pub mod jwks_server;
pub mod keys;
pub mod stores;

pub use issuer::{IssuerError, SigningKey, jwks_json};

/// Removes header `name` from an API Gateway event's `headers` and `multiValueHeaders`.
pub fn remove_header(event: &mut serde_json::Value, name: &str) {
    for map in ["headers", "multiValueHeaders"] {
        if let Some(h) = event[map].as_object_mut() {
            h.remove(name);
        }
    }
}
pub use jwks_server::{JwksServer, Mode};
pub use keys::{Keys, authorizer_config, authorizer_settings};
