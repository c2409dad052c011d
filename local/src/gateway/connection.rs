//! One connection's life after the upgrade, as API Gateway runs it: frames over 32 KiB or
//! messages over 128 KiB close it with 1009, binary frames with 1003; every text message is
//! routed (`$request.body.action` among the router's routes, else `$default`) and invoked
//! concurrently (a slow message does not hold the next; replies are not ordered); a failing,
//! crashing, throttled or timed-out function answers `{"message":"Internal server error",…}`, an
//! integration past 29 s `{"message":"Endpoint request timed out",…}`, and the connection
//! stays; idle (no data either way) and maximum duration close with 1001; outgoing messages wait
//! in a bounded queue (full → @connections answers 429); `$disconnect` follows every close,
//! except the share `--lose-disconnects` drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use wsauth_protocol::routes;
use wsauth_settings::clock::now_ms;

use super::Gateway;
use super::events::ConnMeta;
use super::functions::{Function, InvokeError};

/// Outgoing messages a connection holds for a client that does not read; then 429.
pub const OUTGOING_QUEUE: usize = 64;
/// Messages of one connection being handled at once; the next read waits for a free slot.
const MESSAGES_IN_FLIGHT: usize = 32;
/// How long a server-initiated close waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why a message could not be queued for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostError {
    /// The outgoing queue is full (the client is not reading): 429.
    Full,
    /// The connection is closing or gone: 410.
    Gone,
}

/// A live connection, as the registry (and so @connections) sees it.
pub(crate) struct Conn {
    /// The frames queued for the client (bounded: a full queue answers @connections 429).
    outgoing: mpsc::Sender<String>,
    /// Asks the connection's task to close with a code and reason (@connections DELETE, limits).
    close_tx: mpsc::UnboundedSender<(u16, String)>,
    /// When the handshake completed (epoch ms): @connections GET's `connectedAt`.
    pub(crate) connected_at_ms: i64,
    /// The last data either way (epoch ms): the idle timeout and GET's `lastActiveAt`.
    pub(crate) last_active_ms: Arc<AtomicI64>,
    /// The client's address: GET's `identity.sourceIp`.
    pub(crate) source_ip: String,
    /// The client's `User-Agent`: GET's `identity.userAgent`.
    pub(crate) user_agent: String,
    /// Set once closing began: posts to it answer 410 from then on.
    closing: Arc<AtomicBool>,
}

impl Conn {
    /// Whether the connection is open (not closing).
    pub(crate) fn live(&self) -> bool {
        !self.closing.load(Ordering::SeqCst)
    }

    /// Begins a server close with `code`; from now on the connection is gone to @connections.
    pub(crate) fn close(&self, code: u16, reason: &str) {
        self.closing.store(true, Ordering::SeqCst);
        let _ = self.close_tx.send((code, reason.to_owned()));
    }

    /// Queues `text` for the client.
    pub(crate) fn post(&self, text: String) -> Result<(), PostError> {
        if !self.live() {
            return Err(PostError::Gone);
        }
        self.outgoing.try_send(text).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PostError::Full,
            mpsc::error::TrySendError::Closed(_) => PostError::Gone,
        })
    }
}

/// Where the connection is in its life.
enum Phase {
    Open,
    /// A server close was sent; waiting (until the deadline) for the client's reply.
    Closing {
        status: (u16, String),
        until: Instant,
    },
}

/// The frame API Gateway sends when a route's integration fails (a function error, a crash,
/// the function's timeout, a throttled invocation).
pub const INTERNAL_SERVER_ERROR: &str = "Internal server error";
/// The frame API Gateway sends when a route's integration has not answered within 29 s.
pub const ENDPOINT_TIMED_OUT: &str = "Endpoint request timed out";

/// API Gateway's own error frame: `message`, with the connection and request IDs.
fn error_frame(message: &str, connection_id: &str, request_id: &str) -> String {
    json!({"message": message, "connectionId": connection_id, "requestId": request_id}).to_string()
}

/// The close a read error calls for, when it is the client's fault rather than a broken
/// connection: a size limit (1009) or a text frame that is not UTF-8 (1007).
fn close_for(e: axum::Error) -> Option<(u16, &'static str)> {
    match e.into_inner().downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some((1009, "Message too big")),
        Some(tungstenite::Error::Utf8(_)) => Some((1007, "Invalid frame payload data")),
        _ => None,
    }
}

impl Gateway {
    /// The route a message selects: its `action` when the router has that route, else `$default`.
    fn select_route(&self, text: &str) -> String {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => match o.get(routes::ACTION) {
                // `$`-keys are API Gateway's own: a body never selects them.
                Some(Value::String(a)) if !a.starts_with('$') && self.routes.contains_key(a) => {
                    a.clone()
                }
                _ => routes::DEFAULT.to_owned(),
            },
            _ => routes::DEFAULT.to_owned(),
        }
    }

    /// Invokes the route integration for one message; the frame to send back, if any.
    async fn route_message(&self, meta: &ConnMeta, text: &str) -> Option<String> {
        let route_key = self.select_route(text);
        // The route and the size only: a body may carry a token (`refresh`).
        tracing::trace!(route_key, bytes = text.len(), "message routed");
        let event = self.api.message_event(meta, &route_key, text, now_ms());
        let request_id = event["requestContext"]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match self.invoke_capped(Function::Routes, event).await {
            // A one-way route (no route response): API Gateway passes nothing of what the
            // integration returned back to the client, error frames included.
            Ok(_) if !self.answers(&route_key) => {
                tracing::debug!(connection_id = %meta.connection_id, route_key, "one-way route: reply dropped");
                None
            }
            Ok(response) => response["body"]
                .as_str()
                .filter(|b| !b.is_empty())
                .map(str::to_owned),
            // The function may still be running (its own timeout is longer): API Gateway
            // stopped waiting.
            Err(InvokeError::IntegrationTimeout) => {
                tracing::warn!(connection_id = %meta.connection_id, route_key,
                    "route integration timed out (integration timeout)");
                Some(error_frame(
                    ENDPOINT_TIMED_OUT,
                    &meta.connection_id,
                    &request_id,
                ))
            }
            Err(e) => {
                tracing::warn!(connection_id = %meta.connection_id, route_key, error = %e,
                    "route integration failed");
                Some(error_frame(
                    INTERNAL_SERVER_ERROR,
                    &meta.connection_id,
                    &request_id,
                ))
            }
        }
    }

    /// Invokes `$disconnect` (unless this one is lost, as API Gateway may lose it).
    pub(super) async fn disconnect(&self, meta: &ConnMeta, code: u16, reason: &str) {
        if self.opts.lose_disconnects > 0.0 && random_unit() < self.opts.lose_disconnects {
            tracing::info!(connection_id = %meta.connection_id, "$disconnect lost (--lose-disconnects)");
            return;
        }
        let event = self.api.disconnect_event(meta, code, reason, now_ms());
        if let Err(e) = self.functions.invoke(Function::Connect, event).await {
            tracing::warn!(connection_id = %meta.connection_id, error = %e, "$disconnect failed");
        }
    }

    /// Serves one upgraded connection until it closes, then runs `$disconnect`.
    pub(super) async fn run_connection(self: Arc<Self>, socket: WebSocket, meta: ConnMeta) {
        // Counted until its `$disconnect` has run: shutdown waits for that.
        self.active.fetch_add(1, Ordering::SeqCst);
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queued) = mpsc::channel::<String>(OUTGOING_QUEUE);
        let (close_tx, mut close_rx) = mpsc::unbounded_channel::<(u16, String)>();
        let last_active = Arc::new(AtomicI64::new(now_ms()));
        let closing = Arc::new(AtomicBool::new(false));
        if let Ok(mut conns) = self.conns.write() {
            conns.insert(
                meta.connection_id.clone(),
                Conn {
                    outgoing: outgoing.clone(),
                    close_tx: close_tx.clone(),
                    connected_at_ms: meta.connected_at_ms,
                    last_active_ms: last_active.clone(),
                    source_ip: meta.source_ip.clone(),
                    user_agent: meta.user_agent.clone(),
                    closing: closing.clone(),
                },
            );
        }
        if self.shutting_down.load(Ordering::SeqCst) {
            let _ = close_tx.send((1001, "Going away".into()));
        }
        // Writer: queued messages in order (each one is activity); a close frame ends it.
        let (wclose_tx, mut wclose_rx) = mpsc::unbounded_channel::<(u16, String)>();
        let writer_active = last_active.clone();
        let mut writer = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    Some(t) = queued.recv() => {
                        if sink.send(Message::Text(t.into())).await.is_err() { break; }
                        writer_active.store(now_ms(), Ordering::Relaxed);
                    }
                    Some((code, reason)) = wclose_rx.recv() => {
                        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        break;
                    }
                    else => break,
                }
            }
        });
        let in_flight = Arc::new(Semaphore::new(MESSAGES_IN_FLIGHT));
        let max_deadline = Instant::now() + self.opts.max_connection_duration;
        let idle_timeout = self.opts.idle_timeout;
        let idle_deadline = || {
            let idle_ms = (now_ms() - last_active.load(Ordering::Relaxed)).max(0);
            let idle = Duration::from_millis(u64::try_from(idle_ms).unwrap_or(0));
            Instant::now() + idle_timeout.saturating_sub(idle)
        };
        let mut phase = Phase::Open;
        let begin_close = |phase: &mut Phase, code: u16, reason: &str| {
            closing.store(true, Ordering::SeqCst);
            if matches!(phase, Phase::Open) {
                let _ = wclose_tx.send((code, reason.to_owned()));
                *phase = Phase::Closing {
                    status: (code, reason.to_owned()),
                    until: Instant::now() + CLOSE_GRACE,
                };
            }
        };
        let status: (u16, String) = loop {
            let grace = match &phase {
                Phase::Closing { until, .. } => *until,
                Phase::Open => max_deadline + Duration::from_secs(3600),
            };
            let open = matches!(phase, Phase::Open);
            let closed_as = |phase: &Phase, otherwise: (u16, String)| match phase {
                Phase::Closing { status, .. } => status.clone(),
                Phase::Open => otherwise,
            };
            let free = in_flight.available_permits() > 0;
            tokio::select! {
                // With every slot taken, the next frame waits (TCP pushes back on the client);
                // closes and timers are still served meanwhile.
                m = stream.next(), if free => match m {
                    None => break closed_as(&phase, (1006, "Connection closed abnormally".into())),
                    Some(Err(e)) => {
                        if let Some((code, reason)) = close_for(e) {
                            begin_close(&mut phase, code, reason);
                        }
                        break closed_as(&phase, (1006, "Connection closed abnormally".into()));
                    }
                    Some(Ok(Message::Close(frame))) => {
                        closing.store(true, Ordering::SeqCst);
                        let from_client = match frame {
                            Some(f) => (f.code, f.reason.to_string()),
                            None => (1005, "Client-side close frame status not set".into()),
                        };
                        break closed_as(&phase, from_client);
                    }
                    Some(Ok(_)) if !open => {}
                    Some(Ok(Message::Text(t))) => {
                        last_active.store(now_ms(), Ordering::Relaxed);
                        let Ok(permit) = in_flight.clone().try_acquire_owned() else { continue };
                        let (gw, meta, reply) = (self.clone(), meta.clone(), outgoing.clone());
                        tokio::spawn(async move {
                            let _permit = permit;
                            // A route's reply waits for room in the queue (never dropped); it
                            // fails only when the connection is gone.
                            if let Some(frame) = gw.route_message(&meta, t.as_str()).await {
                                let _ = reply.send(frame).await;
                            }
                        });
                    }
                    Some(Ok(Message::Binary(_))) => {
                        begin_close(&mut phase, 1003, "Binary frames are not supported");
                    }
                    // Control frames are not data: they keep nothing alive.
                    Some(Ok(_)) => {}
                },
                Some((code, reason)) = close_rx.recv(), if open => {
                    begin_close(&mut phase, code, &reason);
                }
                _ = tokio::time::sleep_until(idle_deadline()), if open => {
                    if idle_deadline() <= Instant::now() {
                        begin_close(&mut phase, 1001, "Going away");
                    }
                }
                _ = tokio::time::sleep_until(max_deadline), if open => {
                    begin_close(&mut phase, 1001, "Going away");
                }
                slot = in_flight.clone().acquire_owned(), if !free => drop(slot),
                _ = tokio::time::sleep_until(grace), if !open => {
                    break closed_as(&phase, (1006, "Connection closed abnormally".into()));
                }
            }
        };
        closing.store(true, Ordering::SeqCst);
        drop(wclose_tx);
        drop(outgoing);
        if let Ok(mut conns) = self.conns.write() {
            conns.remove(&meta.connection_id);
        }
        // A client that stopped reading never lets the writer finish: past the grace, the socket
        // is torn down (which also fails any reply still waiting for room in the queue).
        if tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        Box::pin(self.disconnect(&meta, status.0, &status.1)).await;
        tracing::info!(connection_id = %meta.connection_id, code = status.0, "connection closed");
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.gone.notify_waiters();
    }
}

/// A uniform number in [0, 1) from the system CSPRNG (0 if it fails).
fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0.0;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}
