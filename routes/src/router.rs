//! The router: every message is authorized by its binding before any handler runs.
//!
//! Per message, in order: a strongly consistent read of the binding (none → `not_bound`, and the
//! connection is closed); `expiresAt` passed → `session_expired` (binding removed, connection
//! closed); the route policy for the route key API Gateway selected (not declared, or a scope
//! missing → `forbidden`); then the handler, which receives the authorized binding. The identity
//! comes only from the binding: nothing in a message body can name another connection or user.
//! Application code adds routes with [`Router::route`] and never repeats these checks.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use serde_json::{Value, json};
use wsauth_authorizer::Verifier;
use wsauth_policy::{RouteDecision, RoutePolicy, RoutePolicyError};
use wsauth_session::{Binding, Lookup, SessionStore, management_endpoint};

use crate::connections::Connections;
use crate::error::{ErrorCode, RouteError};
use crate::fanout::{Delivery, MAX_MESSAGE_BYTES, deliver};

/// Page size of the walk over every binding during a broadcast.
pub const BROADCAST_PAGE: usize = 100;

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
}

impl Services {
    /// The endpoint to reach `b`'s connection through.
    pub fn endpoint_for<'a>(&'a self, b: &'a Binding) -> &'a str {
        self.endpoint_override.as_deref().unwrap_or(&b.endpoint)
    }

    /// Posts `payload` to `targets`, pruning gone connections.
    pub async fn deliver(&self, targets: Vec<Binding>, payload: &[u8]) -> Delivery {
        self.deliver_stream(futures_util::stream::iter(targets), payload)
            .await
    }

    /// Posts `payload` to every binding `targets` yields, pruning gone connections.
    pub async fn deliver_stream(
        &self,
        targets: impl futures_util::Stream<Item = Binding>,
        payload: &[u8],
    ) -> Delivery {
        deliver(
            self.connections.as_ref(),
            self.store.as_ref(),
            self.endpoint_override.as_deref(),
            targets,
            payload,
        )
        .await
    }
}

/// One message, already authorized.
pub struct MessageContext<'a> {
    /// The sender's binding: the only source of identity.
    pub binding: &'a Binding,
    /// The sender's connection ID (from API Gateway, never from the body).
    pub connection_id: &'a str,
    /// The route key API Gateway selected.
    pub route_key: &'a str,
    /// The body parsed as JSON, or `None` when it is not JSON.
    pub body: Option<&'a Value>,
    /// The time of the check, epoch seconds.
    pub now: i64,
    /// Store, connections, verifier.
    pub services: &'a Services,
}

/// A route's handler. Returns the reply to the sender, if any.
#[async_trait]
pub trait RouteHandler: Send + Sync + 'static {
    /// Handles one authorized message.
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError>;
}

/// What the router decided for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The frame to send back, if any.
    pub reply: Option<Value>,
    /// Whether the connection must be closed after the reply.
    pub close: bool,
}

impl Outcome {
    fn error(e: &RouteError) -> Self {
        Self {
            reply: Some(e.frame()),
            close: e.code.closes(),
        }
    }
}

/// Route key → handler, behind the per-message authorization.
pub struct Router {
    services: Arc<Services>,
    policy: RoutePolicy,
    handlers: HashMap<String, Arc<dyn RouteHandler>>,
}

impl Router {
    /// A router with the built-in routes (`ping`, `whoami`, `sendToUser`, `broadcast`,
    /// `refresh`, `$default`) under `policy`.
    pub fn new(services: Arc<Services>, policy: RoutePolicy) -> Self {
        let mut handlers: HashMap<String, Arc<dyn RouteHandler>> = HashMap::new();
        handlers.insert("ping".into(), Arc::new(Ping));
        handlers.insert("whoami".into(), Arc::new(WhoAmI));
        handlers.insert("sendToUser".into(), Arc::new(SendToUser));
        handlers.insert("broadcast".into(), Arc::new(Broadcast));
        handlers.insert("refresh".into(), Arc::new(Refresh));
        handlers.insert("$default".into(), Arc::new(Default));
        Self {
            services,
            policy,
            handlers,
        }
    }

    /// Adds (or replaces) a route requiring `scopes`.
    pub fn route(
        mut self,
        route_key: &str,
        scopes: Vec<String>,
        handler: Arc<dyn RouteHandler>,
    ) -> Result<Self, RoutePolicyError> {
        self.policy.set(route_key, scopes)?;
        self.handlers.insert(route_key.to_owned(), handler);
        Ok(self)
    }

    /// Every route key this router answers (built-in and added), `$default` included: the
    /// route table API Gateway must declare (`serverless.yml`) and wsauth-local selects from.
    pub fn route_keys(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// The services handlers use.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Authorizes and handles one message from `connection_id` on `route_key` at `now`.
    pub async fn dispatch(
        &self,
        connection_id: &str,
        route_key: &str,
        body: Option<&str>,
        now: i64,
    ) -> Outcome {
        let store = &self.services.store;
        let binding = match store.lookup(connection_id, now).await {
            Ok(Lookup::Live(b)) => b,
            Ok(Lookup::NotBound) => {
                tracing::info!(
                    decision = "refuse",
                    reason = "not_bound",
                    connection_id,
                    route_key,
                    "message refused"
                );
                return Outcome::error(&RouteError::new(
                    ErrorCode::NotBound,
                    "connection is not bound to a session",
                ));
            }
            Ok(Lookup::Expired(b)) => {
                tracing::info!(decision = "refuse", reason = "session_expired", connection_id, route_key, user = %b.user_id, "message refused");
                if let Err(e) = store.unbind(connection_id).await {
                    tracing::warn!(connection_id, error = %e, "could not remove an expired binding");
                }
                return Outcome::error(&RouteError::new(
                    ErrorCode::SessionExpired,
                    "session expired",
                ));
            }
            Err(e) => return Outcome::error(&RouteError::internal(e)),
        };
        match self.policy.decide(route_key, &binding.scopes) {
            RouteDecision::Allowed => {}
            RouteDecision::UnknownRoute => {
                tracing::info!(decision = "refuse", reason = "route_not_declared", connection_id, route_key, user = %binding.user_id, "message refused");
                return Outcome::error(&RouteError::new(ErrorCode::Forbidden, "route not allowed"));
            }
            RouteDecision::MissingScopes(missing) => {
                tracing::info!(decision = "refuse", reason = "missing_scope", connection_id, route_key, user = %binding.user_id, "message refused");
                return Outcome::error(&RouteError::new(
                    ErrorCode::Forbidden,
                    format!("missing scope: {}", missing.join(" ")),
                ));
            }
        }
        let Some(handler) = self.handlers.get(route_key) else {
            return Outcome::error(&RouteError::new(ErrorCode::UnknownAction, "unknown action"));
        };
        let parsed: Option<Value> = body.and_then(|b| serde_json::from_str(b).ok());
        let ctx = MessageContext {
            binding: &binding,
            connection_id,
            route_key,
            body: parsed.as_ref(),
            now,
            services: &self.services,
        };
        match handler.handle(&ctx).await {
            Ok(reply) => Outcome {
                reply,
                close: false,
            },
            Err(e) => Outcome::error(&e),
        }
    }

    /// Handles a MESSAGE event as the `routes` Lambda: the reply is the response body (API
    /// Gateway's route response sends it to the client). When the connection must close, the
    /// reply is posted first and the connection deleted after it.
    pub async fn handle_event(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        now: i64,
    ) -> ApiGatewayProxyResponse {
        let ctx = &event.request_context;
        let connection_id = ctx.connection_id.as_deref().unwrap_or_default();
        let route_key = ctx.route_key.as_deref().unwrap_or("$default");
        let outcome = if connection_id.is_empty() {
            Outcome::error(&RouteError::new(ErrorCode::NotBound, "no connection"))
        } else {
            self.dispatch(connection_id, route_key, event.body.as_deref(), now)
                .await
        };
        let mut resp = ApiGatewayProxyResponse::default();
        resp.status_code = 200;
        let body = outcome.reply.as_ref().map(Value::to_string);
        if outcome.close && !connection_id.is_empty() {
            let endpoint = management_endpoint(
                self.services.endpoint_override.as_deref(),
                ctx.domain_name.as_deref(),
                ctx.stage.as_deref(),
            );
            match endpoint {
                Some(ep) => {
                    if let Some(b) = &body {
                        let _ = self
                            .services
                            .connections
                            .post(&ep, connection_id, b.as_bytes())
                            .await;
                    }
                    if let Err(e) = self.services.connections.delete(&ep, connection_id).await {
                        tracing::warn!(connection_id, error = %e, "could not close the connection");
                    }
                }
                None => tracing::error!(
                    connection_id,
                    "no management endpoint: cannot close the connection"
                ),
            }
            resp.body = Some(Body::Empty);
        } else {
            resp.body = Some(body.map_or(Body::Empty, Body::Text));
        }
        resp
    }
}

fn field<'a>(ctx: &'a MessageContext<'_>, name: &str) -> Option<&'a Value> {
    ctx.body.and_then(|b| b.get(name))
}

fn message_frame(from: &str, data: Value) -> Result<Vec<u8>, RouteError> {
    let bytes = json!({"type": "message", "from": from, "data": data})
        .to_string()
        .into_bytes();
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(RouteError::new(
            ErrorCode::PayloadTooLarge,
            format!("message exceeds {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

struct Ping;

#[async_trait]
impl RouteHandler for Ping {
    async fn handle(&self, _: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        Ok(Some(json!({"type": "pong"})))
    }
}

struct WhoAmI;

#[async_trait]
impl RouteHandler for WhoAmI {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let b = ctx.binding;
        Ok(Some(
            json!({"type": "whoami", "userId": b.user_id, "connectionId": ctx.connection_id,
            "scopes": b.scopes, "expiresAt": b.expires_at}),
        ))
    }
}

struct SendToUser;

#[async_trait]
impl RouteHandler for SendToUser {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let to = match field(ctx, "to") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(RouteError::new(
                    ErrorCode::BadRequest,
                    "`to` must be a non-empty string",
                ));
            }
        };
        let data = field(ctx, "data").cloned().unwrap_or(Value::Null);
        let payload = message_frame(&ctx.binding.user_id, data)?;
        let targets = ctx
            .services
            .store
            .live_user_bindings(&to, ctx.now)
            .await
            .map_err(RouteError::internal)?;
        let d = ctx.services.deliver(targets, &payload).await;
        tracing::info!(route = "sendToUser", user = %ctx.binding.user_id, to = %to,
            delivered = d.delivered, pruned = d.pruned, failed = d.failed, "message sent");
        Ok(Some(
            json!({"type": "sent", "to": to, "delivered": d.delivered}),
        ))
    }
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
    let (walked, delivery) = tokio::join!(walk, services.deliver_stream(targets, payload));
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

struct Broadcast;

#[async_trait]
impl RouteHandler for Broadcast {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let data = field(ctx, "data").cloned().unwrap_or(Value::Null);
        let payload = message_frame(&ctx.binding.user_id, data)?;
        let d = broadcast_all(ctx.services, &payload, Some(ctx.connection_id), ctx.now)
            .await
            .map_err(RouteError::internal)?;
        tracing::info!(route = "broadcast", user = %ctx.binding.user_id,
            delivered = d.delivered, pruned = d.pruned, failed = d.failed, "broadcast sent");
        Ok(Some(json!({"type": "sent", "delivered": d.delivered})))
    }
}

struct Refresh;

#[async_trait]
impl RouteHandler for Refresh {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let token = match field(ctx, "token") {
            Some(Value::String(t)) if !t.is_empty() => t,
            _ => {
                return Err(RouteError::new(
                    ErrorCode::BadRequest,
                    "`token` must be a string",
                ));
            }
        };
        let verifier = ctx
            .services
            .verifier
            .as_ref()
            .ok_or_else(|| RouteError::internal("refresh has no verifier configured"))?;
        let b = ctx.binding;
        let invalid = |reason: &str| {
            tracing::info!(route = "refresh", decision = "refuse", reason, user = %b.user_id, connection_id = ctx.connection_id, "refresh refused");
            RouteError::new(
                ErrorCode::InvalidToken,
                "token does not verify for this session",
            )
        };
        let v = match verifier.verify(token, ctx.now).await {
            Ok(v) => v,
            Err(e) if e.outcome() == wsauth_authorizer::Outcome::Internal => {
                return Err(RouteError::internal(e));
            }
            Err(e) => return Err(invalid(e.reason())),
        };
        if v.identity.user_id != b.user_id || v.identity.issuer != b.issuer {
            return Err(invalid("other_subject"));
        }
        if !v.identity.has_scopes(&verifier.config().connect_scopes) {
            return Err(invalid("missing_connect_scopes"));
        }
        let extended = ctx
            .services
            .store
            .extend(
                ctx.connection_id,
                &b.user_id,
                v.identity.expires_at,
                &v.identity.scopes,
            )
            .await
            .map_err(RouteError::internal)?;
        if !extended {
            return Err(RouteError::new(
                ErrorCode::NotBound,
                "connection is not bound to a session",
            ));
        }
        tracing::info!(route = "refresh", decision = "extend", user = %b.user_id, connection_id = ctx.connection_id,
            expires_at = v.identity.expires_at, "session refreshed");
        Ok(Some(
            json!({"type": "refreshed", "expiresAt": v.identity.expires_at}),
        ))
    }
}

struct Default;

#[async_trait]
impl RouteHandler for Default {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let Some(body) = ctx.body else {
            return Err(RouteError::new(
                ErrorCode::BadRequest,
                "message is not JSON",
            ));
        };
        match body.get("action") {
            _ if !body.is_object() => Err(RouteError::new(
                ErrorCode::BadRequest,
                "message must be a JSON object",
            )),
            None => Err(RouteError::new(
                ErrorCode::BadRequest,
                "message names no action",
            )),
            Some(Value::String(_)) => {
                Err(RouteError::new(ErrorCode::UnknownAction, "unknown action"))
            }
            Some(_) => Err(RouteError::new(
                ErrorCode::BadRequest,
                "`action` must be a string",
            )),
        }
    }
}
