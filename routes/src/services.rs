//! The service bundle every handler and push operation uses: the session store, the
//! @connections client, the `refresh` verifier and the management endpoint override.

use std::sync::Arc;

use wsauth_authorizer::Verifier;
use wsauth_session::aws::{is_loopback_url, sdk_config_from_env};
use wsauth_session::{Binding, DynamoSessionStore, SessionStore};
use wsauth_settings::{ConfigError, Settings};

use crate::connections::{ApiGwConnections, Connections};
use crate::fanout::{Delivery, deliver};

/// What handlers may use.
pub struct Services {
    /// The bindings.
    pub store: Arc<dyn SessionStore>,
    /// The @connections client.
    pub connections: Arc<dyn Connections>,
    /// Verifies `refresh` tokens; `None` refuses refresh as `internal`.
    pub verifier: Option<Arc<Verifier>>,
    /// `WSAUTH_MANAGEMENT_ENDPOINT`: when set, every @connections call goes there.
    pub endpoint_override: Option<String>,
    /// `WSAUTH_LEEWAY_SECONDS`: the verifier accepts an `iat` up to this far ahead of our
    /// clock, so a logout revokes tokens issued up to this far ahead of now.
    pub leeway_seconds: i64,
}

impl Services {
    /// The services of a Lambda: the DynamoDB store, the @connections client and
    /// `WSAUTH_MANAGEMENT_ENDPOINT`; with `verify` (the `routes` Lambda), the `refresh` verifier
    /// from the issuer settings, its JWKS fetched on first use rather than at cold start. `push`
    /// never verifies, so it needs no issuer settings at all.
    pub async fn from_settings(settings: &Settings, verify: bool) -> Result<Self, ConfigError> {
        let verifier = if verify {
            let verifier = Verifier::new(settings.auth()?)
                .map_err(|e| ConfigError::new("WSAUTH_JWKS_URL", e.to_string()))?;
            Some(Arc::new(verifier))
        } else {
            None
        };
        let store = settings.store()?;
        let endpoint_override = settings.management_endpoint();
        // One SDK configuration for both clients, loaded once at start.
        let local = endpoint_override.as_deref().is_some_and(is_loopback_url)
            || store
                .dynamodb_endpoint
                .as_deref()
                .is_some_and(is_loopback_url);
        let sdk = sdk_config_from_env(local).await;
        Ok(Self {
            store: Arc::new(DynamoSessionStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                &store,
            )),
            connections: Arc::new(ApiGwConnections::new(sdk)),
            verifier,
            endpoint_override,
            leeway_seconds: settings.leeway_seconds()?,
        })
    }

    /// The endpoint to reach `b`'s connection through.
    pub fn endpoint_for<'a>(&'a self, b: &'a Binding) -> &'a str {
        self.endpoint_override.as_deref().unwrap_or(&b.endpoint)
    }

    /// Posts `payload` to `targets` at `now` (epoch seconds), pruning gone connections.
    pub async fn deliver(&self, targets: Vec<Binding>, payload: &[u8], now: i64) -> Delivery {
        self.deliver_stream(futures_util::stream::iter(targets), payload, now)
            .await
    }

    /// Posts `payload` to every binding `targets` yields at `now`, pruning gone connections.
    pub async fn deliver_stream(
        &self,
        targets: impl futures_util::Stream<Item = Binding>,
        payload: &[u8],
        now: i64,
    ) -> Delivery {
        deliver(
            self.connections.as_ref(),
            self.store.as_ref(),
            self.endpoint_override.as_deref(),
            targets,
            payload,
            now,
        )
        .await
    }
}
