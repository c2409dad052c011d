//! What a wsauth process takes from its surroundings, in one place: every setting (the
//! `WSAUTH_*` variables and the AWS endpoint override the README lists, read once at start), the
//! wall clock, and the Lambda log set-up. Everything else in wsauth receives these as values.
//!
//! # Layout
//!
//! - [`settings`]: [`Settings`], a snapshot of the environment, and the typed sections each
//!   process asks for ([`Settings::auth`], [`Settings::store`], [`Settings::route_policy`], …);
//!   one error type, [`ConfigError`], naming the variable.
//! - [`clock`]: the wall clock (seconds and milliseconds since the epoch).
//! - [`telemetry`]: JSON logs for the Lambda binaries.

#![warn(missing_docs)]

pub mod apigw;
pub mod clock;
pub mod settings;
pub mod telemetry;

pub use settings::{ConfigError, Settings};
