//! wsauth's message side: every message authorized by its binding, the built-in routes, and
//! pushes from backends.
//!
//! - [`router`]: binding lookup, expiry, route policy, then the handler; built-in routes.
//! - [`push`]: `sendToUser`, `broadcast`, `disconnectUser` for backends.
//! - [`fanout`]: bounded-concurrency delivery with pruning of gone connections.
//! - [`connections`]: the @connections client (`aws-sdk-apigatewaymanagement`).
//! - [`error`]: error codes and frames.

pub mod connections;
pub mod error;
pub mod fanout;
pub mod push;
pub mod router;

pub use connections::{ApiGwConnections, ConnError, Connections};
pub use error::{ErrorCode, RouteError};
pub use push::{PushError, PushRequest, Pusher};
pub use router::{MessageContext, Outcome, RouteHandler, Router, Services};

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
pub async fn services_from_env() -> Result<router::Services, ConfigError> {
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
    Ok(router::Services {
        store: Arc::new(wsauth_session::DynamoSessionStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &table_from_env(),
        )),
        connections: Arc::new(ApiGwConnections::new(sdk)),
        verifier: Some(Arc::new(verifier)),
        endpoint_override,
    })
}
