//! Pushes from backends: to one user (every live connection), to everyone, closing a user's
//! connections, or logging a user or one session out for good. Recipients get
//! `{"type":"message","from":"$server","data":…}`.
//!
//! A logout writes the revocation first (from then on `$connect` and `refresh` refuse the
//! tokens it covers, atomically with their own writes), then closes and unbinds the
//! connections it covers, then sweeps once more after the store's index delay: a `$connect`
//! that committed just before the revocation may not have been visible to the first sweep.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;
use serde::Deserialize;
use serde_json::{Value, json};

use wsauth_policy::{check_session_id, check_user_id};
use wsauth_session::{Binding, Revoke};

use crate::connections::ManagementError;
use crate::frame::{FrameTooLarge, SERVER_SENDER, message_frame};
use crate::services::Services;
use crate::services::{FANOUT_CONCURRENCY, broadcast_all};

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
    /// Close every connection of `userId` and remove its bindings; the user may reconnect.
    #[serde(rename = "disconnectUser")]
    DisconnectUser {
        /// The user whose connections close.
        #[serde(rename = "userId")]
        user_id: String,
    },
    /// Refuse every token of `userId` issued up to now, and close the user's connections.
    #[serde(rename = "logoutUser")]
    LogoutUser {
        /// The user to log out everywhere.
        #[serde(rename = "userId")]
        user_id: String,
    },
    /// Refuse every token of one session issued up to now, and close its connections.
    #[serde(rename = "logoutSession")]
    LogoutSession {
        /// The binding's `sessionId` (`sid`, else `jti`, else the token hash).
        #[serde(rename = "sessionId")]
        session_id: String,
    },
}

/// Why a push failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Not a push request (unknown `op`, missing or mistyped field).
    #[error("bad push request: {0}")]
    BadRequest(String),
    /// The message would exceed API Gateway's message limit (`MAX_MESSAGE_BYTES`).
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

    /// The Lambda `errorType` the push function reports this error as: the variant's name,
    /// so that a caller of the function (wsauth-local's push endpoint) can tell them apart.
    pub fn error_type(&self) -> &'static str {
        match self {
            PushError::BadRequest(_) => "BadRequest",
            PushError::PayloadTooLarge => "PayloadTooLarge",
            PushError::Unavailable(_) => "Unavailable",
        }
    }

    /// The status of a push that failed with the Lambda `errorType` `error_type`
    /// ([`PushError::error_type`]); 500 for any other.
    pub fn status_of_error_type(error_type: &str) -> u16 {
        [
            PushError::BadRequest(String::new()),
            PushError::PayloadTooLarge,
            PushError::Unavailable(String::new()),
        ]
        .iter()
        .find(|e| e.error_type() == error_type)
        .map_or(500, PushError::status)
    }
}

impl From<PushError> for lambda_runtime::Diagnostic {
    fn from(e: PushError) -> Self {
        Self {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
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
                let d = s.deliver(targets, &payload, now).await;
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
                let n = self.close_and_unbind(bindings).await.0.len();
                tracing::info!(op = "disconnectUser", user = %user_id, disconnected = n, "push");
                Ok(json!({"disconnected": n}))
            }
            PushRequest::LogoutUser { user_id } => {
                check_user_id(&user_id)
                    .map_err(|e| PushError::BadRequest(format!("userId: {e}")))?;
                self.logout(Revoke::User(user_id), now).await
            }
            PushRequest::LogoutSession { session_id } => {
                check_session_id(&session_id).map_err(|e| {
                    PushError::BadRequest(format!("sessionId: {}", e.describe("a session ID")))
                })?;
                self.logout(Revoke::Session(session_id), now).await
            }
        }
    }

    /// Revokes `target`'s tokens issued up to `now` plus the leeway (the verifier accepts an
    /// `iat` that far ahead: an IdP clock ahead of ours), then closes and unbinds the
    /// connections the revocation covers, twice (before and after the store's index delay).
    /// A connection both sweeps miss is refused at its next message all the same
    /// ([`SessionStore::authorize`](wsauth_session::SessionStore::authorize)).
    async fn logout(&self, target: Revoke, now: i64) -> Result<Value, PushError> {
        let s = &self.services;
        let unavailable = |e: wsauth_session::StoreError| PushError::Unavailable(e.to_string());
        let until = now.saturating_add(s.leeway_seconds.max(0));
        let revoked_before = s.store.revoke(&target, until).await.map_err(unavailable)?;
        let mut closed = HashSet::new();
        let mut stuck = self.sweep(&target, revoked_before, &mut closed).await?;
        let delay = s.store.index_delay();
        if !delay.is_zero() || !stuck.is_empty() {
            tokio::time::sleep(delay).await;
            stuck = self.sweep(&target, revoked_before, &mut closed).await?;
        }
        let (op, who) = match &target {
            Revoke::User(u) => ("logoutUser", u.as_str()),
            Revoke::Session(s) => ("logoutSession", s.as_str()),
        };
        if !stuck.is_empty() {
            // The revocation holds (no new handshake or refresh), but these connections are
            // still served: the caller must know, and retry.
            tracing::warn!(
                op,
                target = who,
                revoked_before,
                stuck = stuck.len(),
                "logout could not close every connection"
            );
            return Err(PushError::Unavailable(format!(
                "{} connection(s) could be neither closed nor unbound",
                stuck.len()
            )));
        }
        tracing::info!(
            op,
            target = who,
            revoked_before,
            disconnected = closed.len(),
            "push"
        );
        Ok(json!({"revokedBefore": revoked_before, "disconnected": closed.len()}))
    }

    /// One pass: the connections of `target` whose token the revocation covers, not closed yet.
    /// Returns those that could be neither closed nor unbound.
    async fn sweep(
        &self,
        target: &Revoke,
        revoked_before: i64,
        closed: &mut HashSet<String>,
    ) -> Result<Vec<String>, PushError> {
        let store = &self.services.store;
        let found = match target {
            Revoke::User(u) => store.user_bindings(u).await,
            Revoke::Session(sid) => store.session_bindings(sid).await,
        }
        .map_err(|e| PushError::Unavailable(e.to_string()))?;
        let covered: Vec<Binding> = found
            .into_iter()
            .filter(|b| b.issued_by(revoked_before) && !closed.contains(&b.connection_id))
            .collect();
        let (done, stuck) = self.close_and_unbind(covered).await;
        closed.extend(done);
        Ok(stuck)
    }

    /// Closes each connection and removes its binding: the IDs of those logged out, and of those
    /// that could be neither closed nor unbound.
    async fn close_and_unbind(&self, bindings: Vec<Binding>) -> (Vec<String>, Vec<String>) {
        let s = &self.services;
        stream::iter(bindings)
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
                (closed || removed, b.connection_id)
            })
            .buffer_unordered(FANOUT_CONCURRENCY)
            .fold((Vec::new(), Vec::new()), |(mut done, mut stuck), (ok, id)| async move {
                if ok { done.push(id) } else { stuck.push(id) }
                (done, stuck)
            })
            .await
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
            assert_eq!(PushError::status_of_error_type(e.error_type()), e.status());
            let d = lambda_runtime::Diagnostic::from(e.clone());
            assert_eq!(
                (d.error_type.as_str(), d.error_message),
                (e.error_type(), e.to_string())
            );
        }
        // Any other type (the runtime's own, e.g. after a panic) is a 500.
        assert_eq!(PushError::status_of_error_type("Panic"), 500);
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
        let r: PushRequest =
            serde_json::from_value(json!({"op":"logoutUser","userId":"bob"})).unwrap();
        assert_eq!(
            r,
            PushRequest::LogoutUser {
                user_id: "bob".into()
            }
        );
        let r: PushRequest =
            serde_json::from_value(json!({"op":"logoutSession","sessionId":"s-1"})).unwrap();
        assert_eq!(
            r,
            PushRequest::LogoutSession {
                session_id: "s-1".into()
            }
        );
        assert!(serde_json::from_value::<PushRequest>(json!({"op":"logoutSession"})).is_err());
        assert!(serde_json::from_value::<PushRequest>(json!({"op":"nuke"})).is_err());
        assert!(serde_json::from_value::<PushRequest>(json!({"op":"sendToUser"})).is_err());
    }
}
