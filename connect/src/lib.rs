//! `$connect` and `$disconnect`: bind the authorized identity to the connection ID, and unbind.
//!
//! `$connect` reads `requestContext.authorizer` (`principalId` and the flat context the
//! authorizer returned), refuses anything missing, malformed or already expired (fail closed:
//! never an anonymous binding), writes the binding with `attribute_not_exists(connectionId)`
//! in one transaction with the checks of the user's and the session's revocations (a logged-out
//! token → 401), and selects the `wsauth` subprotocol when the client offered it. `$disconnect` deletes the
//! binding idempotently (AWS delivers it on a best-effort basis; TTL and the per-read expiry
//! check cover the rest). Every refusal maps to a status in [`ConnectError::status`] only.
//!
//! # Layout
//!
//! - this file: [`ConnectHandler`] ([`ConnectHandler::handle_at`] dispatches on `eventType`) and
//!   [`ConnectError`].
//! - `src/main.rs`: the `connect` Lambda, for both `$connect` and `$disconnect`.

#![deny(missing_docs)]

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use wsauth_policy::{ContextError, Identity};
use wsauth_protocol::token::{SUBPROTOCOL, offers_wsauth};
use wsauth_session::{Binding, SessionStore, StoreError, connections_endpoint};

/// Why `$connect` or `$disconnect` was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// No authorizer context, or one that is not a valid identity.
    #[error("no valid authorizer identity: {0}")]
    NoIdentity(ContextError),
    /// `principalId` and `userId` disagree.
    #[error("principalId does not match userId")]
    PrincipalMismatch,
    /// The identity's `expiresAt` has already passed.
    #[error("session already expired")]
    Expired,
    /// The event carries no connection ID.
    #[error("no connection ID")]
    NoConnectionId,
    /// No @connections endpoint could be derived (no domain/stage and no override).
    #[error("no management endpoint")]
    NoEndpoint,
    /// The connection ID is already bound (nothing was written).
    #[error("connection already bound")]
    AlreadyBound,
    /// A logout revoked this token (its user's or its session's); nothing was written.
    #[error("token revoked")]
    Revoked,
    /// The store failed; nothing was bound.
    #[error("session store: {0}")]
    Store(String),
    /// Neither CONNECT nor DISCONNECT.
    #[error("unexpected event type")]
    UnexpectedEvent,
}

impl ConnectError {
    /// The HTTP status API Gateway answers the handshake with (the one mapping).
    pub fn status(&self) -> i64 {
        match self {
            ConnectError::NoIdentity(_) | ConnectError::PrincipalMismatch => 403,
            ConnectError::Expired | ConnectError::Revoked => 401,
            ConnectError::AlreadyBound => 409,
            ConnectError::UnexpectedEvent => 400,
            ConnectError::NoConnectionId | ConnectError::NoEndpoint | ConnectError::Store(_) => 500,
        }
    }

    /// A stable reason code for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            ConnectError::NoIdentity(_) => "no_identity",
            ConnectError::PrincipalMismatch => "principal_mismatch",
            ConnectError::Expired => "expired",
            ConnectError::NoConnectionId => "no_connection_id",
            ConnectError::NoEndpoint => "no_endpoint",
            ConnectError::AlreadyBound => "already_bound",
            ConnectError::Revoked => "revoked",
            ConnectError::Store(_) => "store_unavailable",
            ConnectError::UnexpectedEvent => "unexpected_event",
        }
    }
}

impl From<StoreError> for ConnectError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyBound => ConnectError::AlreadyBound,
            StoreError::Revoked => ConnectError::Revoked,
            other => ConnectError::Store(other.to_string()),
        }
    }
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Result<&str, ConnectError> {
    event
        .request_context
        .connection_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(ConnectError::NoConnectionId)
}

/// The `$connect`/`$disconnect` handler.
pub struct ConnectHandler {
    store: Arc<dyn SessionStore>,
    endpoint_override: Option<String>,
}

fn response(status: i64, headers: HeaderMap) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.headers = headers;
    r.body = Some(Body::Empty);
    r
}

impl ConnectHandler {
    /// A handler writing to `store`; `endpoint_override` is `WSAUTH_MANAGEMENT_ENDPOINT`.
    pub fn new(store: Arc<dyn SessionStore>, endpoint_override: Option<String>) -> Self {
        Self {
            store,
            endpoint_override,
        }
    }

    /// Handles a `$connect` or `$disconnect` event at `now` (epoch seconds).
    pub async fn handle_at(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        now: i64,
    ) -> ApiGatewayProxyResponse {
        let ctx = &event.request_context;
        let connection_id = ctx.connection_id.as_deref().unwrap_or("-");
        let result = match ctx.event_type.as_deref() {
            Some("CONNECT") => self.connect(event, now).await,
            Some("DISCONNECT") => self.disconnect(event).await,
            _ => Err(ConnectError::UnexpectedEvent),
        };
        match result {
            Ok(r) => r,
            Err(e) => {
                let user = ctx.authorizer.fields.get("userId").and_then(|v| v.as_str());
                tracing::warn!(event_type = ctx.event_type.as_deref().unwrap_or("-"), connection_id,
                    user = user.unwrap_or("-"), reason = e.reason(), detail = %e, "connection refused");
                response(e.status(), HeaderMap::new())
            }
        }
    }

    /// Handles an event now.
    pub async fn handle(&self, event: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        self.handle_at(event, wsauth_settings::clock::now_epoch())
            .await
    }

    async fn connect(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        now: i64,
    ) -> Result<ApiGatewayProxyResponse, ConnectError> {
        let ctx = &event.request_context;
        let connection_id = connection_id(event)?;
        let fields = &ctx.authorizer.fields;
        let identity = Identity::from_context(fields).map_err(ConnectError::NoIdentity)?;
        match fields.get("principalId") {
            None => {}
            Some(p) if p.as_str() == Some(identity.user_id.as_str()) => {}
            Some(_) => return Err(ConnectError::PrincipalMismatch),
        }
        if now >= identity.expires_at {
            return Err(ConnectError::Expired);
        }
        let endpoint = connections_endpoint(
            self.endpoint_override.as_deref(),
            ctx.domain_name.as_deref(),
            ctx.stage.as_deref(),
        )
        .ok_or(ConnectError::NoEndpoint)?;
        let binding = Binding::new(connection_id, &identity, ctx.connected_at, &endpoint);
        self.store.bind(&binding).await?;
        tracing::info!(decision = "bound", connection_id, user = %identity.user_id,
            session = %identity.session_id, "connection bound");
        let offered = event
            .headers
            .get_all("sec-websocket-protocol")
            .iter()
            .chain(
                event
                    .multi_value_headers
                    .get_all("sec-websocket-protocol")
                    .iter(),
            )
            .filter_map(|v| v.to_str().ok());
        let mut headers = HeaderMap::new();
        if offers_wsauth(offered) {
            headers.insert(
                "sec-websocket-protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
        }
        Ok(response(200, headers))
    }

    async fn disconnect(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<ApiGatewayProxyResponse, ConnectError> {
        let ctx = &event.request_context;
        let connection_id = connection_id(event)?;
        let existed = self.store.unbind(connection_id).await?;
        tracing::info!(
            decision = "unbound",
            connection_id,
            existed,
            status = ctx.disconnect_status_code.unwrap_or_default(),
            "connection unbound"
        );
        Ok(response(200, HeaderMap::new()))
    }
}
