//! The router: every message is authorized by its binding before any handler runs.
//!
//! Per message, in order: a strongly consistent read of the binding together with the
//! revocations of its user and session (one request: [`SessionStore::authorize`]; none →
//! `not_bound`, and the connection is closed); `expiresAt` passed, or a logout covering its token
//! → `session_expired` (binding removed, connection closed); the route policy for the route key API Gateway selected (not declared, or a scope
//! missing → `forbidden`); then the handler, which receives the authorized binding. The identity
//! comes only from the binding: nothing in a message body can name another connection or user.
//! Application code adds routes with [`Router::route`] (or [`Router::route_one_way`]) and never
//! repeats these checks.
//!
//! [`SessionStore::authorize`]: wsauth_session::SessionStore::authorize

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use wsauth_policy::{RouteDecision, RoutePolicy, RoutePolicyError};
use wsauth_protocol::{Builtin, routes};
use wsauth_session::{Binding, Lookup, Presumed};

use crate::error::{ErrorCode, RouteError};
use crate::services::Services;

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

impl MessageContext<'_> {
    /// Field `name` of the JSON body, if the body is an object that has it.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.body.and_then(|b| b.get(name))
    }
}

/// A route's handler. Returns the reply to the sender, if any.
#[async_trait]
pub trait RouteHandler: Send + Sync + 'static {
    /// Handles one authorized message.
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError>;
}

/// What the router answers one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The frame to send back, if any.
    pub frame: Option<Value>,
    /// Whether the connection must be closed after the reply.
    pub close: bool,
}

impl Reply {
    pub(crate) fn error(e: &RouteError) -> Self {
        Self {
            frame: Some(e.frame()),
            close: e.code.closes(),
        }
    }
}

/// The longest correlation `id` a message may carry, in characters.
pub use wsauth_protocol::limits::MAX_ID_CHARS as MAX_CORRELATION_ID;

/// Route key → handler, behind the per-message authorization.
pub struct Router {
    /// What handlers use: the store, @connections, the verifier.
    services: Arc<Services>,
    /// The scopes each route requires (a route absent from it is refused).
    policy: RoutePolicy,
    /// The handler of each route key.
    handlers: HashMap<String, Arc<dyn RouteHandler>>,
    /// The routes deployed without a route response: on API Gateway nothing they return
    /// reaches the client ([`Router::answers`]).
    one_way: HashSet<String>,
}

impl Router {
    /// A router with the built-in routes (`ping`, `whoami`, `sendToUser`, `broadcast`,
    /// `refresh`, `$default`) under `policy`.
    pub fn new(services: Arc<Services>, policy: RoutePolicy) -> Self {
        Self {
            services,
            policy,
            handlers: crate::builtin::handlers(),
            one_way: Builtin::ALL
                .into_iter()
                .filter(|b| !b.answers())
                .map(|b| b.key().to_owned())
                .collect(),
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
        self.one_way.remove(route_key);
        Ok(self)
    }

    /// Adds (or replaces) a one-way route requiring `scopes`: deployed without a route response,
    /// so nothing it returns (a reply or an error frame) reaches the sender; it answers, if at
    /// all, by pushing. Its `serverless.yml` event has no `routeResponseSelectionExpression`.
    pub fn route_one_way(
        self,
        route_key: &str,
        scopes: Vec<String>,
        handler: Arc<dyn RouteHandler>,
    ) -> Result<Self, RoutePolicyError> {
        let mut r = self.route(route_key, scopes, handler)?;
        r.one_way.insert(route_key.to_owned());
        Ok(r)
    }

    /// Whether `route_key` answers its sender (is deployed with a route response).
    pub fn answers(&self, route_key: &str) -> bool {
        self.handlers.contains_key(route_key) && !self.one_way.contains(route_key)
    }

    /// Every route with whether it answers: the route table `serverless.yml` deploys (a route
    /// response on exactly the routes that answer) and wsauth-local emulates.
    pub fn route_table(&self) -> impl Iterator<Item = (&str, bool)> {
        self.route_keys().map(|k| (k, self.answers(k)))
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

    /// Authorizes and handles one message from `connection_id` on `route_key` at `now`. A
    /// message carrying `"id"` (a string of at most [`MAX_CORRELATION_ID`] characters) gets it
    /// back in its reply, errors included; any other `id` is a `bad_request` (once the binding
    /// checks have passed: an unbound or expired connection is refused and closed first).
    pub async fn dispatch(
        &self,
        connection_id: &str,
        route_key: &str,
        body: Option<&str>,
        now: i64,
    ) -> Reply {
        self.dispatch_presumed(connection_id, None, route_key, body, now)
            .await
    }

    /// [`Router::dispatch`], with what the event's authorizer context says of the connection:
    /// the revocations it names are read in the same request as the binding (the Lambda's path,
    /// [`Router::handle_event`]). Identity still comes only from the binding.
    pub async fn dispatch_presumed(
        &self,
        connection_id: &str,
        presumed: Option<Presumed<'_>>,
        route_key: &str,
        body: Option<&str>,
        now: i64,
    ) -> Reply {
        let parsed: Option<Value> = body.and_then(|b| serde_json::from_str(b).ok());
        let id = match parsed.as_ref().and_then(|v| v.get(routes::ID)) {
            None => Ok(None),
            Some(Value::String(id)) if id.chars().count() <= MAX_CORRELATION_ID => {
                Ok(Some(id.clone()))
            }
            Some(_) => Err(()),
        };
        let mut reply = self
            .authorize_and_handle(
                connection_id,
                presumed,
                route_key,
                parsed.as_ref(),
                id.is_err(),
                now,
            )
            .await;
        if let (Ok(Some(id)), Some(Value::Object(frame))) = (id, reply.frame.as_mut()) {
            frame.insert(routes::ID.into(), Value::String(id));
        }
        reply
    }

    async fn authorize_and_handle(
        &self,
        connection_id: &str,
        presumed: Option<Presumed<'_>>,
        route_key: &str,
        parsed: Option<&Value>,
        bad_id: bool,
        now: i64,
    ) -> Reply {
        // Every refusal is logged the same way: decision, reason code, connection, route, user.
        let refuse = |reason: &str, user: Option<&str>, error: RouteError| {
            tracing::info!(
                decision = "refuse",
                reason,
                connection_id,
                route_key,
                user = user.unwrap_or("-"),
                "message refused"
            );
            Reply::error(&error)
        };
        let store = &self.services.store;
        let looked_up = match store.authorize(connection_id, presumed, now).await {
            Ok(Lookup::Live(b)) => Ok(b),
            Ok(Lookup::NotBound) => {
                return refuse(
                    "not_bound",
                    None,
                    RouteError::new(ErrorCode::NotBound, "connection is not bound to a session"),
                );
            }
            Ok(Lookup::Expired(b)) => Err((b, "session_expired", "session expired")),
            // A logout covers this token and its sweep missed the connection (a lagging index).
            Ok(Lookup::Revoked(b)) => Err((b, "session_revoked", "session ended by a logout")),
            Err(e) => return Reply::error(&RouteError::internal(e)),
        };
        // An ended session, expired or logged out, ends here: unbound, refused, closed.
        let binding = match looked_up {
            Ok(b) => b,
            Err((b, reason, message)) => {
                if let Err(e) = store.unbind(connection_id).await {
                    tracing::warn!(connection_id, reason, error = %e, "could not remove an ended binding");
                }
                return refuse(
                    reason,
                    Some(&b.user_id),
                    RouteError::new(ErrorCode::SessionExpired, message),
                );
            }
        };
        let user = Some(binding.user_id.as_str());
        match self.policy.decide(route_key, &binding.scopes) {
            RouteDecision::Allowed => {}
            RouteDecision::UnknownRoute => {
                return refuse(
                    "route_not_declared",
                    user,
                    RouteError::new(ErrorCode::Forbidden, "route not allowed"),
                );
            }
            RouteDecision::MissingScopes(missing) => {
                return refuse(
                    "missing_scope",
                    user,
                    RouteError::new(
                        ErrorCode::Forbidden,
                        format!("missing scope: {}", missing.join(" ")),
                    ),
                );
            }
        }
        if bad_id {
            return Reply::error(&RouteError::new(
                ErrorCode::BadRequest,
                format!("`id` must be a string of at most {MAX_CORRELATION_ID} characters"),
            ));
        }
        let Some(handler) = self.handlers.get(route_key) else {
            return Reply::error(&RouteError::new(ErrorCode::UnknownAction, "unknown action"));
        };
        let ctx = MessageContext {
            binding: &binding,
            connection_id,
            route_key,
            body: parsed,
            now,
            services: &self.services,
        };
        match handler.handle(&ctx).await {
            Ok(frame) => Reply {
                frame,
                close: false,
            },
            Err(e) => Reply::error(&e),
        }
    }
}
