//! Pure authorization decisions for wsauth: no I/O anywhere in this crate.
//!
//! - [`iam`]: IAM policy documents as API Gateway Lambda authorizers return them, their builders,
//!   and an evaluator that answers "does this policy allow `execute-api:Invoke` on this ARN" with
//!   IAM's wildcard rules and explicit Deny winning.
//! - [`arn`]: `execute-api` ARNs (`arn:aws:execute-api:{region}:{account}:{api}/{stage}/{route}`).
//! - [`identity`]: who a connection belongs to, and its flat encoding in the authorizer context.
//! - [`routes`]: the route permission table (route key → required scopes).
//! - [`protocol`]: the `wsauth` / `bearer.<jwt>` subprotocol convention.
//! - `telemetry` (feature `telemetry`, for the Lambda binaries only): JSON log set-up.

pub mod arn;
pub mod iam;
pub mod identity;
pub mod protocol;
pub mod routes;
#[cfg(feature = "telemetry")]
pub mod telemetry;

pub use arn::{ArnError, ExecuteApiArn};
pub use iam::{Effect, Evaluation, PolicyDocument, Statement};
pub use identity::{ContextError, Identity};
pub use routes::{RouteDecision, RoutePolicy, RoutePolicyError};
