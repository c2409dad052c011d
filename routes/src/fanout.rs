//! Delivery to many connections at once: concurrent with a bound, never one at a time and never
//! unbounded. A connection that answers 410 Gone has its binding pruned and is counted, unless
//! its handshake began less than [`PRUNE_GRACE_SECONDS`] ago (a connection still completing its
//! handshake is not reachable yet, but its binding is good); it never fails the whole operation.
//! Targets arrive as a stream, so a broadcast keeps the same number of calls in flight across
//! page boundaries while the next page is being read.

use futures_util::{Stream, StreamExt};
use wsauth_protocol::limits::INTEGRATION_TIMEOUT;
use wsauth_session::{Binding, SessionStore};

use crate::connections::{Connections, ManagementError};
use crate::services::Services;

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
pub async fn deliver(
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
