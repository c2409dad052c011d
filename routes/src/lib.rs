//! wsauth's message side: every message authorized by its binding, the built-in routes, and
//! pushes from backends.
//!
//! # Layout
//!
//! - [`router`]: the per-message authorization pipeline (binding lookup, expiry, route policy)
//!   in front of every handler; [`Router::route`] adds application routes.
//! - `builtin/`: the built-in routes, one file each (`ping`, `whoami`, `sendToUser`,
//!   `broadcast`, `refresh`, `$default`).
//! - [`response`]: the `routes` Lambda's answer to API Gateway ([`Router::handle_event`]).
//! - [`push`]: `sendToUser`, `broadcast`, `disconnectUser` for backends.
//! - [`frame`]: the message frame recipients get, shared by routes and push.
//! - [`fanout`]: bounded-concurrency delivery with pruning of gone connections; broadcast.
//! - [`services`]: the bundle handlers use (store, @connections, verifier, endpoint).
//! - [`connections`]: the @connections client (`aws-sdk-apigatewaymanagement`).
//! - [`error`]: error codes and frames.

mod builtin;
pub mod connections;
pub mod error;
pub mod fanout;
pub mod frame;
pub mod push;
pub mod response;
pub mod router;
pub mod services;

pub use connections::{ApiGwConnections, Connections, ManagementError};
pub use error::{ErrorCode, RouteError};
pub use push::{PushError, PushRequest, Pusher};
pub use router::{MessageContext, Reply, RouteHandler, Router};
pub use services::Services;

use std::sync::Arc;

/// A start-up configuration problem, naming the variable.
pub type ConfigError = wsauth_authorizer::config::ConfigError;

/// The route policy: defaults with `WSAUTH_ROUTE_POLICY` merged over them.
pub fn route_policy_from_env() -> Result<wsauth_policy::RoutePolicy, ConfigError> {
    match std::env::var("WSAUTH_ROUTE_POLICY") {
        Ok(v) if !v.trim().is_empty() => {
            wsauth_policy::RoutePolicy::with_overrides(&v).map_err(|e| ConfigError {
                var: "WSAUTH_ROUTE_POLICY",
                problem: e.to_string(),
            })
        }
        _ => Ok(wsauth_policy::RoutePolicy::default()),
    }
}

/// Services for the Lambda binaries: DynamoDB store (`WSAUTH_TABLE`), @connections client,
/// the refresh verifier (`WSAUTH_ISSUER` and friends; its JWKS is fetched on first use, not at
/// cold start), `WSAUTH_MANAGEMENT_ENDPOINT`.
pub async fn services_from_env() -> Result<Services, ConfigError> {
    use wsauth_session::dynamo::table_from_env;
    let auth = wsauth_authorizer::AuthorizerConfig::from_env()?;
    let jwks = wsauth_authorizer::JwksCache::new(&auth.issuer, auth.jwks.clone()).map_err(|e| {
        ConfigError {
            var: "WSAUTH_JWKS_URL",
            problem: e.to_string(),
        }
    })?;
    let verifier = wsauth_authorizer::Verifier::new(auth, Arc::new(jwks));
    let endpoint_override = std::env::var("WSAUTH_MANAGEMENT_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty());
    // One SDK configuration for both clients, loaded once at start.
    let local = endpoint_override
        .as_deref()
        .is_some_and(wsauth_session::aws::is_loopback_url)
        || std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .is_ok_and(|u| wsauth_session::aws::is_loopback_url(&u));
    let sdk = wsauth_session::aws::sdk_config_from_env(local).await;
    Ok(Services {
        store: Arc::new(wsauth_session::DynamoSessionStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &table_from_env(),
        )),
        connections: Arc::new(ApiGwConnections::new(sdk)),
        verifier: Some(Arc::new(verifier)),
        endpoint_override,
    })
}
