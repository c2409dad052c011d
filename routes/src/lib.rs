//! wsauth's message side: every message authorized by its binding, the built-in routes, and
//! pushes from backends.
//!
//! # Layout
//!
//! - [`router`]: the per-message authorization pipeline (binding lookup, expiry, route policy)
//!   in front of every handler; [`Router::route`] adds application routes.
//! - `builtin/`: the built-in routes, one file each (`ping`, `whoami`, `sendToUser`,
//!   `broadcast`, `refresh`, `$default`).
//! - [`handler`]: the `routes` Lambda's event in, its answer to API Gateway out
//!   ([`Router::handle_event`]).
//! - [`push`]: `sendToUser`, `broadcast`, `disconnectUser`, `logoutUser`, `logoutSession` for
//!   backends.
//! - [`frame`]: the message frame recipients get, shared by routes and push.
//! - [`services`]: the bundle handlers use (store, @connections, verifier, endpoint), and the
//!   fan-out through it: bounded-concurrency delivery with pruning of gone connections;
//!   broadcast.
//! - [`connections`]: the @connections client (`aws-sdk-apigatewaymanagement`).
//! - [`error`]: error codes and frames.
//! - `src/bin/routes.rs`, `src/bin/push.rs`: the `routes` and `push` Lambdas.

#![deny(missing_docs)]

mod builtin;
pub mod connections;
pub mod error;
pub mod frame;
pub mod handler;
pub mod push;
pub mod router;
pub mod services;

pub use connections::{ApiGwConnections, Connections, ManagementError};
pub use error::{ErrorCode, RouteError};
pub use push::{PushError, PushRequest, Pusher};
pub use router::{MessageContext, Reply, RouteHandler, Router};
pub use services::Services;
