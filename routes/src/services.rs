//! The service bundle every handler and push operation uses ([`Services`]: the session store,
//! the @connections client, the `refresh` verifier and the management endpoint override), and
//! the fan-out through it.
//!
//! Fan-out: delivery to many connections at once: concurrent with a bound, never one at a time and never
//! unbounded. A connection that answers 410 Gone has its binding pruned and is counted, unless
//! its handshake began less than [`PRUNE_GRACE_SECONDS`] ago (a connection still completing its
//! handshake is not reachable yet, but its binding is good); it never fails the whole operation.
//! Targets arrive as a stream, so a broadcast keeps the same number of calls in flight across
//! page boundaries while the next page is being read.

use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use wsauth_authorizer::Verifier;
use wsauth_protocol::limits::INTEGRATION_TIMEOUT;
use wsauth_session::aws::{is_loopback_url, sdk_config_from_env};
use wsauth_session::{Binding, DynamoSessionStore, SessionStore};
use wsauth_settings::{ConfigError, Settings};

use crate::connections::{ApiGwConnections, Connections, ManagementError};

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
        let endpoint_override = settings.management_endpoint_override();
        let local_gateway = settings.local_gateway()?;
        // One SDK configuration for both clients, loaded once at start.
        let local = local_gateway.is_some()
            || endpoint_override.as_deref().is_some_and(is_loopback_url)
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
            connections: Arc::new(ApiGwConnections::with_local_gateway(sdk, local_gateway)),
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
        targets: impl Stream<Item = Binding>,
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

/// Page size of the walk over every binding during a broadcast.
pub const BROADCAST_PAGE: usize = 100;

/// API Gateway's message size limit; a larger outgoing message is refused before any call.
pub use wsauth_protocol::limits::MAX_MESSAGE_BYTES;

/// A binding younger than this is never pruned on a 410: until the upgrade completes,
/// @connections does not know the connection, and the binding's age counts from
/// `connectedAt`, when the handshake *began*: the authorizer and `$connect` (its bind retried
/// while DynamoDB is slow) run before the upgrade, for up to API Gateway's integration timeout
/// (29 s), so the grace is that and a second. (3 s was too short: the soak, with DynamoDB Local
/// restarting, saw a handshake complete after a push had pruned its binding, and the live
/// connection was refused `not_bound`.) A binding truly left behind by a lost `$disconnect`
/// costs a failed call per push until it is older.
pub const PRUNE_GRACE_SECONDS: i64 = INTEGRATION_TIMEOUT.as_secs() as i64 + 1;

/// How many @connections calls one fan-out keeps in flight.
pub const FANOUT_CONCURRENCY: usize = 32;

/// What a fan-out achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Connections that accepted the message.
    pub delivered: usize,
    /// Connections found gone (410) whose bindings were removed.
    pub pruned: usize,
    /// Connections that failed otherwise (logged).
    pub failed: usize,
}

enum One {
    Delivered,
    Pruned,
    Failed,
}

/// Posts `payload` to every binding `targets` yields (at `endpoint_override` when set, else each
/// binding's own endpoint) at `now` (epoch seconds), pruning gone ones.
async fn deliver(
    connections: &dyn Connections,
    store: &dyn SessionStore,
    endpoint_override: Option<&str>,
    targets: impl Stream<Item = Binding>,
    payload: &[u8],
    now: i64,
) -> Delivery {
    targets
        .map(|b| async move {
            let endpoint = endpoint_override.unwrap_or(&b.endpoint);
            match connections.post(endpoint, &b.connection_id, payload).await {
                Ok(()) => One::Delivered,
                Err(ManagementError::Gone)
                    if b.connected_at.div_euclid(1000) > now - PRUNE_GRACE_SECONDS =>
                {
                    tracing::info!(connection_id = %b.connection_id, "not reachable yet (bound moments ago); binding kept");
                    One::Failed
                }
                Err(ManagementError::Gone) => match store.unbind(&b.connection_id).await {
                    Ok(_) => {
                        tracing::info!(connection_id = %b.connection_id, user = %b.user_id, "stale connection pruned");
                        One::Pruned
                    }
                    Err(e) => {
                        tracing::warn!(connection_id = %b.connection_id, error = %e, "could not prune a gone connection");
                        One::Failed
                    }
                },
                Err(e) => {
                    tracing::warn!(connection_id = %b.connection_id, error = %e, "delivery failed");
                    One::Failed
                }
            }
        })
        .buffer_unordered(FANOUT_CONCURRENCY)
        .fold(Delivery::default(), |mut d, one| async move {
            match one {
                One::Delivered => d.delivered += 1,
                One::Pruned => d.pruned += 1,
                One::Failed => d.failed += 1,
            }
            d
        })
        .await
}

/// Posts `payload` to every live binding (except `skip`), reading the table a page at a time.
pub async fn broadcast_all(
    services: &Services,
    payload: &[u8],
    skip: Option<&str>,
    now: i64,
) -> Result<Delivery, wsauth_session::StoreError> {
    // The walk over the table and the delivery run side by side: the walk stays at most two pages
    // ahead (bounded memory), and delivery never waits for a page read between pages.
    let (tx, rx) = tokio::sync::mpsc::channel::<Binding>(2 * BROADCAST_PAGE);
    let walk = async move {
        let mut cursor: Option<String> = None;
        loop {
            let page = services
                .store
                .page(cursor.as_deref(), BROADCAST_PAGE)
                .await?;
            for b in page.items {
                if b.is_expired(now) || Some(b.connection_id.as_str()) == skip {
                    continue;
                }
                if tx.send(b).await.is_err() {
                    return Ok(());
                }
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => return Ok(()),
            }
        }
    };
    let targets =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let (walked, delivery) = tokio::join!(walk, services.deliver_stream(targets, payload, now));
    match walked {
        Ok(()) => Ok(delivery),
        Err(e) => {
            tracing::warn!(
                delivered = delivery.delivered,
                error = %e,
                "broadcast stopped: the walk over the bindings failed"
            );
            Err(e)
        }
    }
}
