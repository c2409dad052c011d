//! Pushes from backends: to one user (every live connection), to everyone, or "log out
//! everywhere". Recipients get `{"type":"message","from":"$server","data":…}`.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;
use serde::Deserialize;
use serde_json::{Value, json};

use wsauth_policy::check_user_id;

use crate::connections::ManagementError;
use crate::fanout::{FANOUT_CONCURRENCY, broadcast_all};
use crate::frame::{FrameTooLarge, SERVER_SENDER, message_frame};
use crate::services::Services;

/// A push request, as the `push` function and `POST /_wsauth/push` take it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
pub enum PushRequest {
    /// Every live connection of `userId`.
    #[serde(rename = "sendToUser")]
    SendToUser {
        /// The recipient.
        #[serde(rename = "userId")]
        user_id: String,
        /// Any JSON.
        #[serde(default)]
        data: Value,
    },
    /// Every live connection.
    #[serde(rename = "broadcast")]
    Broadcast {
        /// Any JSON.
        #[serde(default)]
        data: Value,
    },
    /// Close every connection of `userId` and remove its bindings.
    #[serde(rename = "disconnectUser")]
    DisconnectUser {
        /// The user to log out everywhere.
        #[serde(rename = "userId")]
        user_id: String,
    },
}

/// Why a push failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Not a push request (unknown `op`, missing or mistyped field).
    #[error("bad push request: {0}")]
    BadRequest(String),
    /// The message would exceed 128 KiB.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The store failed.
    #[error("session store unavailable")]
    Unavailable(String),
}

impl PushError {
    /// The HTTP status `wsauth-local`'s push endpoint answers (the one mapping).
    pub fn status(&self) -> u16 {
        match self {
            PushError::BadRequest(_) => 400,
            PushError::PayloadTooLarge => 413,
            PushError::Unavailable(_) => 503,
        }
    }

    /// The status of a push that failed with `message` (its `errorMessage`, all a caller of the
    /// function sees): each variant's message has a stable beginning.
    pub fn status_of_message(message: &str) -> u16 {
        let samples = [
            PushError::BadRequest(String::new()),
            PushError::PayloadTooLarge,
            PushError::Unavailable(String::new()),
        ];
        samples
            .iter()
            .find(|e| {
                let text = e.to_string();
                let stable = text.trim_end_matches([' ', ':']);
                message.starts_with(stable)
            })
            .map_or(500, PushError::status)
    }
}

/// Executes pushes.
pub struct Pusher {
    services: Arc<Services>,
}

impl Pusher {
    /// A pusher over the same services as the router.
    pub fn new(services: Arc<Services>) -> Self {
        Self { services }
    }

    /// Parses and executes a push given as JSON.
    pub async fn handle_json(&self, v: Value, now: i64) -> Result<Value, PushError> {
        let req: PushRequest =
            serde_json::from_value(v).map_err(|e| PushError::BadRequest(e.to_string()))?;
        self.handle(req, now).await
    }

    /// Executes one push at `now` (epoch seconds).
    pub async fn handle(&self, req: PushRequest, now: i64) -> Result<Value, PushError> {
        let s = &self.services;
        let unavailable = |e: wsauth_session::StoreError| PushError::Unavailable(e.to_string());
        match req {
            PushRequest::SendToUser { user_id, data } => {
                check_user_id(&user_id)
                    .map_err(|e| PushError::BadRequest(format!("userId: {e}")))?;
                let payload = server_message(data)?;
                let targets = s
                    .store
                    .live_user_bindings(&user_id, now)
                    .await
                    .map_err(unavailable)?;
                let d = s.deliver(targets, &payload).await;
                tracing::info!(op = "sendToUser", user = %user_id, delivered = d.delivered, pruned = d.pruned, failed = d.failed, "push");
                Ok(json!({"delivered": d.delivered, "pruned": d.pruned}))
            }
            PushRequest::Broadcast { data } => {
                let payload = server_message(data)?;
                let d = broadcast_all(s, &payload, None, now)
                    .await
                    .map_err(unavailable)?;
                tracing::info!(
                    op = "broadcast",
                    delivered = d.delivered,
                    pruned = d.pruned,
                    failed = d.failed,
                    "push"
                );
                Ok(json!({"delivered": d.delivered, "pruned": d.pruned}))
            }
            PushRequest::DisconnectUser { user_id } => {
                check_user_id(&user_id)
                    .map_err(|e| PushError::BadRequest(format!("userId: {e}")))?;
                let bindings = s.store.user_bindings(&user_id).await.map_err(unavailable)?;
                let n = stream::iter(bindings)
                    .map(|b| async move {
                        let closed = match s.connections.delete(s.endpoint_for(&b), &b.connection_id).await {
                            Ok(()) | Err(ManagementError::Gone) => true,
                            Err(e) => {
                                tracing::warn!(connection_id = %b.connection_id, error = %e, "could not close a connection; removing its binding anyway");
                                false
                            }
                        };
                        // `$disconnect` may already have removed the binding of a closed
                        // connection; either way this connection is logged out.
                        let removed = s.store.unbind(&b.connection_id).await.unwrap_or(false);
                        closed || removed
                    })
                    .buffer_unordered(FANOUT_CONCURRENCY)
                    .fold(0usize, |n, removed| async move { n + usize::from(removed) })
                    .await;
                tracing::info!(op = "disconnectUser", user = %user_id, disconnected = n, "push");
                Ok(json!({"disconnected": n}))
            }
        }
    }
}

fn server_message(data: Value) -> Result<Vec<u8>, PushError> {
    message_frame(SERVER_SENDER, data).map_err(|FrameTooLarge| PushError::PayloadTooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_push_message_maps_back_to_its_status() {
        for e in [
            PushError::BadRequest("unknown variant `nuke`".into()),
            PushError::PayloadTooLarge,
            PushError::Unavailable("timeout".into()),
        ] {
            assert_eq!(PushError::status_of_message(&e.to_string()), e.status());
        }
        assert_eq!(PushError::status_of_message("something else"), 500);
    }

    #[test]
    fn push_requests_parse_per_the_contract() {
        let r: PushRequest =
            serde_json::from_value(json!({"op":"sendToUser","userId":"bob","data":{"x":1}}))
                .unwrap();
        assert_eq!(
            r,
            PushRequest::SendToUser {
                user_id: "bob".into(),
                data: json!({"x":1})
            }
        );
        let r: PushRequest =
            serde_json::from_value(json!({"op":"disconnectUser","userId":"bob"})).unwrap();
        assert_eq!(
            r,
            PushRequest::DisconnectUser {
                user_id: "bob".into()
            }
        );
        assert!(serde_json::from_value::<PushRequest>(json!({"op":"nuke"})).is_err());
        assert!(serde_json::from_value::<PushRequest>(json!({"op":"sendToUser"})).is_err());
    }
}
