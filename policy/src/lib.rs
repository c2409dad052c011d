//! Pure authorization decisions for wsauth: no I/O, no clock, no logging set-up anywhere in this
//! crate (time is always a parameter).
//!
//! # Layout
//!
//! - [`iam`]: IAM policy documents as API Gateway Lambda authorizers return them, their builders,
//!   and an evaluator that answers "does this policy allow `execute-api:Invoke` on this ARN" with
//!   IAM's wildcard rules and explicit Deny winning.
//! - [`arn`]: `execute-api` ARNs (`arn:aws:execute-api:{region}:{account}:{api}/{stage}/{route}`).
//! - [`identity`]: who a connection belongs to, and its flat encoding in the authorizer context.
//! - [`routes`]: the route permission table (route key → required scopes).
//! - [`channels`]: channel rights: the rules of `WSAUTH_CHANNEL_RULES`, a token's grants, and
//!   the decision for one connection, channel and operation.

#![deny(missing_docs)]

pub mod arn;
pub mod channels;
pub mod iam;
pub mod identity;
pub mod routes;

pub use arn::{ArnError, ExecuteApiArn};
pub use iam::{Effect, Evaluation, PolicyDocument, Statement};
pub use identity::{
    ContextError, IdError, Identity, check_session_id, check_user_id, split_scopes,
};
pub use routes::{RouteDecision, RoutePolicy, RoutePolicyError};
