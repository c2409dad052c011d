//! wsauth's wire protocol: every fact a client, a backend or a deploy relies on, in one home.
//!
//! The server crates, `wsauth-local` and the Rust client (`clients/rust`) use these items; the
//! JavaScript client is held to them by a test (`clients/js/test/wire.test.mjs` reads
//! `protocol/wire.json`, which `tests/wire.rs` of this crate checks against the items below).
//! `serverless.yml`'s routes are held to [`routes::Builtin`] by `tests/tests/route_table.rs`.
//! It depends on `serde` only, so that a client can link it without linking wsauth.
//!
//! # Layout
//!
//! - [`routes`]: the route keys (`$connect`, `$disconnect`, `$default`, the built-in routes) and
//!   the scopes each built-in route requires by default.
//! - [`errors`]: the error codes of error frames, and which of them close the connection.
//! - [`frames`]: the `type` of every frame the server sends.
//! - [`token`]: where the handshake token travels ([`token::TokenSource`]) and the `wsauth` /
//!   `bearer.<jwt>` subprotocol convention.
//! - [`limits`]: the limits a client can hit (API Gateway's and wsauth's own).
//! - [`host`]: the one loopback test (a host name, an IP address, a URL).

#![deny(missing_docs)]

pub mod errors;
pub mod frames;
pub mod host;
pub mod limits;
pub mod routes;
pub mod token;

pub use errors::ErrorCode;
pub use routes::Builtin;
pub use token::TokenSource;
