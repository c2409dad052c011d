//! Delivery to many connections at once: concurrent with a bound, never one at a time and never
//! unbounded. A connection that answers 410 Gone has its binding pruned and is counted; it never
//! fails the whole operation. Targets arrive as a stream, so a broadcast keeps the same number of
//! calls in flight across page boundaries while the next page is being read.

use futures_util::{Stream, StreamExt};
use wsauth_session::{Binding, SessionStore};

use crate::connections::{ConnError, Connections};

/// API Gateway's message size limit; a larger outgoing message is refused before any call.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
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

impl std::ops::AddAssign for Delivery {
    fn add_assign(&mut self, o: Self) {
        self.delivered += o.delivered;
        self.pruned += o.pruned;
        self.failed += o.failed;
    }
}

enum One {
    Delivered,
    Pruned,
    Failed,
}

/// Posts `payload` to every binding `targets` yields (at `endpoint_override` when set, else each
/// binding's own endpoint), pruning gone ones.
pub async fn deliver(
    connections: &dyn Connections,
    store: &dyn SessionStore,
    endpoint_override: Option<&str>,
    targets: impl Stream<Item = Binding>,
    payload: &[u8],
) -> Delivery {
    targets
        .map(|b| async move {
            let endpoint = endpoint_override.unwrap_or(&b.endpoint);
            match connections.post(endpoint, &b.connection_id, payload).await {
                Ok(()) => One::Delivered,
                Err(ConnError::Gone) => match store.unbind(&b.connection_id).await {
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
