//! The emulated API Gateway WebSocket API: handshake, routing, limits, @connections, push.
//!
//! Handshake, as API Gateway does it: the configured identity source (the token source) missing
//! or empty → 401 without invoking the authorizer;
//! the REQUEST authorizer event built in AWS's shape and handed to the real authorizer; its
//! policy evaluated with `wsauth-policy` (Deny or no Allow → 403, `Unauthorized` → 401, any
//! other error → 500); then `$connect` with the authorizer's `principalId` and context, whose
//! non-2xx status refuses the upgrade; the subprotocol is selected only when `$connect` returns
//! it. Messages: route selection by `$request.body.action` among the router's own routes,
//! `$default` otherwise; the route's
//! response body goes back to the client (a route response). Limits: 128 KiB messages (close
//! 1009), binary frames (close 1003), idle timeout and maximum duration (close 1001).
//! `$disconnect` runs on every close. The routes and push handlers reach connections through
//! the @connections API served here, exactly as on AWS.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use axum::Router as HttpRouter;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use wsauth_authorizer::{Authorizer, LambdaRefusal, WebSocketAuthorizerRequest};
use wsauth_connect::ConnectHandler;
use wsauth_policy::iam::INVOKE_ACTION;
use wsauth_policy::protocol::TokenSource;
use wsauth_routes::{Pusher, Router};
use wsauth_runtime::Settings;
use wsauth_runtime::clock::{now_epoch, now_ms};

use crate::devissuer::DevIssuer;
use crate::ids::connection_id;
use crate::timefmt::{iso8601, request_time};

/// API Gateway's message size limit.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// Frames larger than this are not even buffered (the connection is dropped with 1009).
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// How long a server-initiated close waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How `wsauth-local` behaves (the `serve` flags).
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The stage: the WebSocket URL is `ws://{listen}/{stage}`.
    pub stage: String,
    /// Close a connection idle this long (1001).
    pub idle_timeout: Duration,
    /// Close any connection after this long (1001).
    pub max_connection_duration: Duration,
    /// Accept `POST /_wsauth/push` from non-loopback peers (off: loopback only).
    pub push_from_anywhere: bool,
    /// Region in the `methodArn`.
    pub region: String,
    /// Account in the `methodArn`.
    pub account: String,
    /// API ID in the `methodArn` and events.
    pub api_id: String,
    /// The one place the handshake token travels (`--token-source`, else `WSAUTH_TOKEN_SOURCE`,
    /// else `subprotocol`): the identity source API Gateway checks and the authorizer reads.
    pub token_source: TokenSource,
    /// The settings the emulated functions see (`serve` reads the environment once; tests
    /// pass their own, empty by default): verifier options, route policy, table.
    pub settings: Settings,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            stage: "dev".into(),
            idle_timeout: Duration::from_secs(600),
            max_connection_duration: Duration::from_secs(7200),
            push_from_anywhere: false,
            region: "us-east-1".into(),
            account: "123456789012".into(),
            api_id: "wsauthlocal".into(),
            token_source: TokenSource::default(),
            settings: Settings::default(),
        }
    }
}

struct Conn {
    /// Outgoing text frames, in order.
    tx: mpsc::UnboundedSender<String>,
    close_tx: mpsc::UnboundedSender<(u16, String)>,
    connected_at_ms: i64,
    last_active_ms: Arc<AtomicI64>,
    source_ip: String,
    user_agent: String,
    /// Set once a close has begun: from then on the connection is gone to @connections (410).
    closing: Arc<AtomicBool>,
}

impl Conn {
    fn live(&self) -> bool {
        !self.closing.load(Ordering::SeqCst)
    }
}

/// Everything the gateway needs: the real handlers and the connection registry.
pub struct Gateway {
    opts: GatewayOptions,
    authorizer: Authorizer,
    connect: ConnectHandler,
    router: Router,
    pusher: Pusher,
    route_keys: HashSet<String>,
    dev: Option<DevIssuer>,
    conns: RwLock<HashMap<String, Conn>>,
    shutting_down: AtomicBool,
    gone: tokio::sync::Notify,
}

/// The @connections endpoint handlers use to reach this gateway.
pub fn management_endpoint(listen: SocketAddr, stage: &str) -> String {
    let ip = if listen.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        listen.ip()
    };
    format!("http://{}/{stage}", SocketAddr::new(ip, listen.port()))
}

fn error_response(status: u16, error_type: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, axum::Json(json!({"message": message}))).into_response();
    if let Ok(v) = HeaderValue::from_str(error_type) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// The JSON error of wsauth-local's own endpoints (push, dev tokens): `{"error": message}`.
fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

fn handshake_refusal(status: u16) -> Response {
    let msg = match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Internal server error",
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(json!({"message": msg}))).into_response()
}

/// Headers as API Gateway passes them: `headers` (last value) and `multiValueHeaders`.
fn header_maps(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let Ok(v) = value.to_str() else { continue };
        single.insert(name.as_str().to_owned(), json!(v));
        match multi.get_mut(name.as_str()) {
            Some(Value::Array(a)) => a.push(json!(v)),
            _ => {
                multi.insert(name.as_str().to_owned(), json!([v]));
            }
        }
    }
    (single, multi)
}

fn query_maps(query: &[(String, String)]) -> (Value, Value) {
    if query.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in query {
        single.insert(k.clone(), json!(v));
        match multi.get_mut(k) {
            Some(Value::Array(a)) => a.push(json!(v)),
            _ => {
                multi.insert(k.clone(), json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// What API Gateway remembers of a connection for its later events.
#[derive(Clone)]
struct ConnMeta {
    connection_id: String,
    connected_at_ms: i64,
    domain: String,
    source_ip: String,
    user_agent: String,
    authorizer: Map<String, Value>,
}

impl Gateway {
    /// A gateway over the real handlers.
    pub fn new(
        opts: GatewayOptions,
        authorizer: Authorizer,
        connect: ConnectHandler,
        router: Router,
        pusher: Pusher,
        dev: Option<DevIssuer>,
    ) -> Self {
        // One route table: the router's routes are the ones selected here (`$`-keys are API
        // Gateway's own and never selected by the body).
        let route_keys = router
            .route_keys()
            .filter(|k| !k.starts_with('$'))
            .map(str::to_owned)
            .collect();
        Self {
            opts,
            authorizer,
            connect,
            router,
            pusher,
            route_keys,
            dev,
            conns: RwLock::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
            gone: tokio::sync::Notify::new(),
        }
    }

    /// The HTTP application: WebSocket endpoint, @connections, push, JWKS, demo page.
    pub fn app(self: &Arc<Self>) -> HttpRouter {
        HttpRouter::new()
            .route("/", get(demo_page))
            .route("/demo.js", get(demo_js))
            .route("/demo.css", get(demo_css))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/_wsauth/push", post(push))
            .route("/_wsauth/dev/token", post(dev_token))
            .route("/{stage}", get(upgrade))
            .route(
                "/{stage}/@connections/{id}",
                get(get_connection)
                    .post(post_to_connection)
                    .delete(delete_connection),
            )
            .with_state(self.clone())
    }

    /// The router behind the message routes (its route keys are the ones selected here).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The session store behind the handlers.
    pub fn store(&self) -> &Arc<dyn wsauth_session::SessionStore> {
        &self.router.services().store
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.conns.read().map(|c| c.len()).unwrap_or(0)
    }

    /// Closes every connection with 1001 and waits (up to `wait`) for their `$disconnect`.
    pub async fn shutdown(&self, wait: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        if let Ok(conns) = self.conns.read() {
            for c in conns.values() {
                let _ = c.close_tx.send((1001, "Going away".into()));
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        while self.connection_count() > 0 {
            if tokio::time::timeout_at(deadline, self.gone.notified())
                .await
                .is_err()
            {
                break;
            }
        }
    }

    fn method_arn(&self) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/$connect",
            self.opts.region, self.opts.account, self.opts.api_id, self.opts.stage
        )
    }

    fn request_context(
        &self,
        meta: &ConnMeta,
        route_key: &str,
        event_type: &str,
        now: i64,
    ) -> Map<String, Value> {
        let rid = connection_id().unwrap_or_default();
        let mut ctx = Map::new();
        ctx.insert("routeKey".into(), json!(route_key));
        ctx.insert("eventType".into(), json!(event_type));
        ctx.insert("extendedRequestId".into(), json!(rid));
        ctx.insert("requestTime".into(), json!(request_time(now)));
        ctx.insert("messageDirection".into(), json!("IN"));
        ctx.insert("stage".into(), json!(self.opts.stage));
        ctx.insert("connectedAt".into(), json!(meta.connected_at_ms));
        ctx.insert("requestTimeEpoch".into(), json!(now));
        ctx.insert(
            "identity".into(),
            json!({"sourceIp": meta.source_ip, "userAgent": meta.user_agent}),
        );
        ctx.insert("requestId".into(), json!(rid));
        ctx.insert("domainName".into(), json!(meta.domain));
        ctx.insert("connectionId".into(), json!(meta.connection_id));
        ctx.insert("apiId".into(), json!(self.opts.api_id));
        if !meta.authorizer.is_empty() {
            ctx.insert("authorizer".into(), Value::Object(meta.authorizer.clone()));
        }
        ctx
    }

    /// Runs the handshake up to the upgrade: `Ok(select_subprotocol)` or the refusal status.
    async fn handshake(
        &self,
        meta: &mut ConnMeta,
        headers: &HeaderMap,
        query: &[(String, String)],
    ) -> Result<bool, u16> {
        let (h, mh) = header_maps(headers);
        let (q, mq) = query_maps(query);
        let now = now_ms();
        let ctx = self.request_context(meta, "$connect", "CONNECT", now);
        let auth_event = json!({"type": "REQUEST", "methodArn": self.method_arn(),
            "headers": h, "multiValueHeaders": mh, "queryStringParameters": q,
            "multiValueQueryStringParameters": mq, "stageVariables": {}, "requestContext": ctx});
        let auth_event: WebSocketAuthorizerRequest =
            serde_json::from_value(auth_event).map_err(|_| 500u16)?;
        // API Gateway does not invoke the authorizer when the configured identity source is
        // missing or empty; a token in another place does not count.
        let source = self.authorizer.verifier().config().token_source;
        if !auth_event.identity_present(source) {
            tracing::info!(connection_id = %meta.connection_id, status = 401, source = %source,
                "handshake refused: no identity source");
            return Err(401);
        }
        let started = std::time::Instant::now();
        let response = match self.authorizer.handle(&auth_event).await {
            Ok(r) => r,
            Err(LambdaRefusal::Unauthorized) => return Err(401),
            Err(LambdaRefusal::Internal) => return Err(500),
        };
        // Evaluate the returned policy as API Gateway does (through its JSON form).
        let as_json = serde_json::to_value(&response).map_err(|_| 500u16)?;
        let checked: wsauth_authorizer::AuthorizerResponse =
            serde_json::from_value(as_json).map_err(|_| 500u16)?;
        if !checked
            .policy_document
            .evaluate(INVOKE_ACTION, &self.method_arn())
            .is_allowed()
        {
            return Err(403);
        }
        let mut authorizer = checked.context.clone();
        authorizer.insert("principalId".into(), json!(checked.principal_id));
        authorizer.insert(
            "integrationLatency".into(),
            json!(started.elapsed().as_millis() as u64),
        );
        meta.authorizer = authorizer;
        let ctx = self.request_context(meta, "$connect", "CONNECT", now_ms());
        let connect_event = json!({"headers": h, "multiValueHeaders": mh,
            "queryStringParameters": q, "multiValueQueryStringParameters": mq,
            "requestContext": ctx, "isBase64Encoded": false});
        let connect_event: ApiGatewayWebsocketProxyRequest =
            serde_json::from_value(connect_event).map_err(|_| 500u16)?;
        let resp = self.connect.handle(&connect_event).await;
        if !(200..300).contains(&resp.status_code) {
            return Err(u16::try_from(resp.status_code).unwrap_or(500));
        }
        let select = resp
            .headers
            .get("sec-websocket-protocol")
            .is_some_and(|v| v.as_bytes() == b"wsauth");
        Ok(select)
    }

    async fn route_message(&self, meta: &ConnMeta, text: &str) -> Option<String> {
        let route_key = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => match o.get("action") {
                Some(Value::String(a)) if self.route_keys.contains(a) => a.clone(),
                _ => "$default".to_owned(),
            },
            _ => "$default".to_owned(),
        };
        let now = now_ms();
        let mut ctx = self.request_context(meta, &route_key, "MESSAGE", now);
        ctx.insert(
            "messageId".into(),
            json!(connection_id().unwrap_or_default()),
        );
        let event = json!({"requestContext": ctx, "body": text, "isBase64Encoded": false});
        let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).ok()?;
        let resp = self.router.handle_event(&event, now_epoch()).await;
        match resp.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) if !t.is_empty() => Some(t),
            _ => None,
        }
    }

    async fn disconnect(&self, meta: &ConnMeta, code: u16, reason: &str) {
        let mut ctx = self.request_context(meta, "$disconnect", "DISCONNECT", now_ms());
        ctx.insert("disconnectStatusCode".into(), json!(code));
        ctx.insert("disconnectReason".into(), json!(reason));
        let event = json!({"headers": {"Host": meta.domain}, "multiValueHeaders": {"Host": [meta.domain]},
            "requestContext": ctx, "isBase64Encoded": false});
        if let Ok(event) = serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(event) {
            let _ = self.connect.handle(&event).await;
        }
    }

    async fn run_connection(self: Arc<Self>, socket: WebSocket, meta: ConnMeta) {
        let (mut sink, mut stream) = socket.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        // Route responses go straight to this connection's writer: no registry lookup per message.
        let reply_tx = tx.clone();
        let (close_tx, mut close_rx) = mpsc::unbounded_channel::<(u16, String)>();
        let last_active = Arc::new(AtomicI64::new(now_ms()));
        let closing_flag = Arc::new(AtomicBool::new(false));
        if let Ok(mut conns) = self.conns.write() {
            conns.insert(
                meta.connection_id.clone(),
                Conn {
                    tx,
                    close_tx: close_tx.clone(),
                    connected_at_ms: meta.connected_at_ms,
                    last_active_ms: last_active.clone(),
                    source_ip: meta.source_ip.clone(),
                    user_agent: meta.user_agent.clone(),
                    closing: closing_flag.clone(),
                },
            );
        }
        if self.shutting_down.load(Ordering::SeqCst) {
            let _ = close_tx.send((1001, "Going away".into()));
        }
        // Writer: outgoing messages in order; a close frame ends it.
        let (wclose_tx, mut wclose_rx) = mpsc::unbounded_channel::<(u16, String)>();
        let writer = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    Some(t) = rx.recv() => {
                        if sink.send(Message::Text(t.into())).await.is_err() { break; }
                    }
                    Some((code, reason)) = wclose_rx.recv() => {
                        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        break;
                    }
                    else => break,
                }
            }
        });
        let opened = tokio::time::Instant::now();
        let max_deadline = opened + self.opts.max_connection_duration;
        let mut idle_deadline = opened + self.opts.idle_timeout;
        let mut closing: Option<(u16, String, tokio::time::Instant)> = None;
        let mut status: (u16, String) = (1006, "Connection closed abnormally".into());
        let server_close =
            |code: u16, reason: &str, closing: &mut Option<(u16, String, tokio::time::Instant)>| {
                closing_flag.store(true, Ordering::SeqCst);
                if closing.is_none() {
                    let _ = wclose_tx.send((code, reason.to_owned()));
                    *closing = Some((
                        code,
                        reason.to_owned(),
                        tokio::time::Instant::now() + CLOSE_GRACE,
                    ));
                }
            };
        loop {
            let grace = closing
                .as_ref()
                .map_or(max_deadline + Duration::from_secs(3600), |c| c.2);
            tokio::select! {
                m = stream.next() => match m {
                    None => {
                        if let Some((c, r, _)) = &closing { status = (*c, r.clone()); }
                        break;
                    }
                    Some(Err(e)) => {
                        let msg = e.to_string();
                        if msg.contains("Space limit") || msg.contains("too long") || msg.contains("size") {
                            status = (1009, "Message too big".into());
                        } else if let Some((c, r, _)) = &closing {
                            status = (*c, r.clone());
                        }
                        break;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        closing_flag.store(true, Ordering::SeqCst);
                        status = match (&closing, frame) {
                            (Some((c, r, _)), _) => (*c, r.clone()),
                            (None, Some(f)) => (f.code, f.reason.to_string()),
                            (None, None) => (1005, "Client-side close frame status not set".into()),
                        };
                        break;
                    }
                    Some(Ok(_)) if closing.is_some() => {}
                    Some(Ok(Message::Text(t))) => {
                        last_active.store(now_ms(), Ordering::Relaxed);
                        idle_deadline = tokio::time::Instant::now() + self.opts.idle_timeout;
                        if t.len() > MAX_MESSAGE_BYTES {
                            server_close(1009, "Message too big", &mut closing);
                            continue;
                        }
                        // Boxed: held only while a message is handled, so an idle
                        // connection's task stays small.
                        if let Some(reply) = Box::pin(self.route_message(&meta, t.as_str())).await {
                            let _ = reply_tx.send(reply);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        server_close(1003, "Binary frames are not supported", &mut closing);
                    }
                    Some(Ok(_)) => {
                        last_active.store(now_ms(), Ordering::Relaxed);
                        idle_deadline = tokio::time::Instant::now() + self.opts.idle_timeout;
                    }
                },
                Some((code, reason)) = close_rx.recv(), if closing.is_none() => {
                    server_close(code, &reason, &mut closing);
                }
                _ = tokio::time::sleep_until(idle_deadline), if closing.is_none() => {
                    server_close(1001, "Going away", &mut closing);
                }
                _ = tokio::time::sleep_until(max_deadline), if closing.is_none() => {
                    server_close(1001, "Going away", &mut closing);
                }
                _ = tokio::time::sleep_until(grace), if closing.is_some() => {
                    if let Some((c, r, _)) = &closing { status = (*c, r.clone()); }
                    break;
                }
            }
        }
        closing_flag.store(true, Ordering::SeqCst);
        drop(wclose_tx);
        if let Ok(mut conns) = self.conns.write() {
            conns.remove(&meta.connection_id);
        }
        let _ = tokio::time::timeout(CLOSE_GRACE, writer).await;
        Box::pin(self.disconnect(&meta, status.0, &status.1)).await;
        tracing::info!(connection_id = %meta.connection_id, code = status.0, "connection closed");
        self.gone.notify_waiters();
    }
}

fn is_loopback(peer: &SocketAddr) -> bool {
    match peer.ip() {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

async fn upgrade(
    State(gw): State<Arc<Gateway>>,
    Path(stage): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if stage != gw.opts.stage {
        return error_response(403, "ForbiddenException", "Forbidden");
    }
    if gw.shutting_down.load(Ordering::SeqCst) {
        return handshake_refusal(500);
    }
    let Some(id) = connection_id() else {
        return handshake_refusal(500);
    };
    let domain = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let mut meta = ConnMeta {
        connection_id: id,
        connected_at_ms: now_ms(),
        domain,
        source_ip: peer.ip().to_string(),
        user_agent: headers
            .get("user-agent")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        authorizer: Map::new(),
    };
    match gw.handshake(&mut meta, &headers, &query).await {
        Err(status) => {
            tracing::info!(connection_id = %meta.connection_id, status, "handshake refused");
            handshake_refusal(status)
        }
        Ok(select) => {
            // Small per-connection buffers (they grow for large frames): 10,000 idle
            // connections must not cost 128 KiB each.
            let ws = ws
                .read_buffer_size(4 * 1024)
                .write_buffer_size(0)
                .max_message_size(HARD_FRAME_LIMIT)
                .max_frame_size(HARD_FRAME_LIMIT);
            let ws = if select { ws.protocols(["wsauth"]) } else { ws };
            let gw2 = gw.clone();
            let meta2 = meta.clone();
            let ws = ws.on_failed_upgrade(move |_| {
                let (gw, meta) = (gw2, meta2);
                tokio::spawn(async move { gw.disconnect(&meta, 1006, "upgrade failed").await });
            });
            ws.on_upgrade(move |socket| gw.run_connection(socket, meta))
        }
    }
}

/// The refusal for a request naming another stage, if it does.
fn wrong_stage(gw: &Gateway, stage: &str) -> Option<Response> {
    (stage != gw.opts.stage).then(|| error_response(403, "ForbiddenException", "Forbidden"))
}

fn gone() -> Response {
    error_response(410, "GoneException", "The connection no longer exists")
}

/// Runs `f` on the live connection `id` of `stage`, answering as the management API does when
/// there is none (403 for another stage, 410 `GoneException` for an unknown or closing one).
fn with_live_connection(
    gw: &Gateway,
    stage: &str,
    id: &str,
    f: impl FnOnce(&Conn) -> Option<Response>,
) -> Response {
    if let Some(r) = wrong_stage(gw, stage) {
        return r;
    }
    let Ok(conns) = gw.conns.read() else {
        return error_response(500, "InternalServerErrorException", "Internal error");
    };
    conns
        .get(id)
        .filter(|c| c.live())
        .and_then(f)
        .unwrap_or_else(gone)
}

async fn post_to_connection(
    State(gw): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_MESSAGE_BYTES {
        return error_response(413, "PayloadTooLargeException", "Payload too large");
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return error_response(400, "BadRequestException", "Data must be UTF-8 text");
    };
    with_live_connection(&gw, &stage, &id, |c| {
        c.tx.send(text)
            .ok()
            .map(|()| StatusCode::OK.into_response())
    })
}

async fn get_connection(
    State(gw): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
) -> Response {
    with_live_connection(&gw, &stage, &id, |c| {
        Some(
            axum::Json(json!({
                "connectedAt": iso8601(c.connected_at_ms),
                "identity": {"sourceIp": c.source_ip, "userAgent": c.user_agent},
                "lastActiveAt": iso8601(c.last_active_ms.load(Ordering::Relaxed)),
            }))
            .into_response(),
        )
    })
}

async fn delete_connection(
    State(gw): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
) -> Response {
    with_live_connection(&gw, &stage, &id, |c| {
        c.closing.store(true, Ordering::SeqCst);
        let _ = c
            .close_tx
            .send((1000, "Connection closed by server".into()));
        Some(StatusCode::NO_CONTENT.into_response())
    })
}

async fn push(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if !gw.opts.push_from_anywhere && !is_loopback(&peer) {
        return json_error(StatusCode::FORBIDDEN, "push is accepted from loopback only");
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    match gw.pusher.handle_json(v, now_epoch()).await {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_error(status, e.to_string())
        }
    }
}

async fn jwks(State(gw): State<Arc<Gateway>>) -> Response {
    match &gw.dev {
        Some(d) => axum::Json(d.jwks()).into_response(),
        None => (StatusCode::NOT_FOUND, "no dev issuer: WSAUTH_ISSUER is set").into_response(),
    }
}

#[derive(serde::Deserialize)]
struct DevTokenRequest {
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    ttl: Option<i64>,
}

async fn dev_token(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let Some(dev) = &gw.dev else {
        return json_error(StatusCode::NOT_FOUND, "no dev issuer: WSAUTH_ISSUER is set");
    };
    if !is_loopback(&peer) {
        return json_error(
            StatusCode::FORBIDDEN,
            "dev tokens are issued to loopback only",
        );
    }
    let Ok(req) = serde_json::from_slice::<DevTokenRequest>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "expected {\"sub\":…, \"scope\":…}");
    };
    let sub = req.sub.trim();
    if sub.is_empty() || sub.len() > 128 {
        return json_error(StatusCode::BAD_REQUEST, "sub must be 1 to 128 characters");
    }
    let ttl = req.ttl.unwrap_or(3600).clamp(1, 86_400);
    match dev.mint(sub, req.scope.trim(), ttl, now_epoch()) {
        Ok(token) => axum::Json(json!({"token": token, "expiresIn": ttl})).into_response(),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot mint"),
    }
}

async fn demo_page(State(gw): State<Arc<Gateway>>) -> Response {
    let page = include_str!("../static/index.html").replace("{{STAGE}}", &gw.opts.stage);
    let mut r = Html(page).into_response();
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

async fn demo_js() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("../static/demo.js"),
    )
        .into_response()
}

async fn demo_css() -> Response {
    (
        [("content-type", "text/css; charset=utf-8")],
        include_str!("../static/demo.css"),
    )
        .into_response()
}
