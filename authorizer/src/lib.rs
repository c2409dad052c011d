//! wsauth's `$connect` authorizer for API Gateway WebSocket APIs: [`Authorizer`] takes the
//! REQUEST authorizer event and answers an Allow or Deny policy, or a refusal.
//!
//! # Layout
//!
//! - [`request`]: the REQUEST authorizer event (its identity sources, the token in it) and the
//!   response.
//! - [`verify`]: strict JWT verification against the issuer's JWKS (`verify/mod.rs` the
//!   pipeline, `segments.rs` splitting, decoding and the signature's form, `header.rs` the
//!   header and its per-thread cache, `claims_rules.rs` the claim rules).
//! - `claims` (internal): the token's claims, read by a scan of their common form or by
//!   serde_json.
//! - [`jwks`]: the JWKS cache (by issuer and kid, single-flight refetch, negative cache,
//!   bounded staleness, key-by-key vetting; `jwks/backoff.rs` the backoff after failed fetches).
//! - [`handler`]: event in, Allow/Deny policy or `Unauthorized` out.
//! - [`limits`]: the size caps applied before parsing.
//! - [`error`]: the one error enum and its single mapping to a handshake status.
//! - `src/main.rs`: the `authorizer` Lambda (settings and JWKS loaded once, at cold start).

#![deny(missing_docs)]

mod claims;
pub mod error;
pub mod handler;
pub mod jwks;
pub mod limits;
pub mod request;
pub mod verify;

pub use error::{AuthError, LambdaRefusal, Outcome};
pub use handler::Authorizer;
pub use jwks::JwksCache;
pub use request::{AuthorizerResponse, WebSocketAuthorizerRequest};
pub use verify::{Verified, Verifier};
pub use wsauth_settings::AuthorizerConfig;
