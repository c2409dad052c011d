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
//! - [`channels`]: channel names, the operations rights name, the limits of a token's grants.

#![deny(missing_docs)]

/// An enum of wire values declared once: each variant with its spelling. Its `ALL` (every
/// variant, in order) and its spelling function are derived from that one list, so a variant
/// can neither lack a spelling nor be missing from `ALL`.
macro_rules! spelled {
    (
        $(#[$meta:meta])*
        pub enum $name:ident spelled by $spell:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $spelling:expr, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: [Self; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

            /// The value as spelled on the wire.
            pub const fn $spell(self) -> &'static str {
                match self {
                    $( Self::$variant => $spelling, )+
                }
            }
        }
    };
}

pub mod channels;
pub mod errors;
pub mod frames;
pub mod host;
pub mod limits;
pub mod routes;
pub mod token;

pub use errors::ErrorCode;
pub use routes::Builtin;
pub use token::TokenSource;
