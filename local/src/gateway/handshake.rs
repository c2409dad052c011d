//! The WebSocket handshake, as API Gateway does it: the configured identity source missing or
//! empty → 401 without invoking the authorizer; the REQUEST authorizer event; its answer checked
//! (8 KiB, flat context) and its policy evaluated (Deny or no Allow → 403, `Unauthorized` → 401,
//! any other failure or a timeout → 500); then `$connect`, whose non-2xx status (or failure →
//! 500) refuses the upgrade; the subprotocol selected only when `$connect` returns it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use wsauth_authorizer::WebSocketAuthorizerRequest;
use wsauth_policy::iam::INVOKE_ACTION;
use wsauth_protocol::token::SUBPROTOCOL;
use wsauth_settings::clock::now_ms;

use super::events::{ConnMeta, Forwarded, Request, read_authorizer_answer};
use super::functions::{Function, InvokeError};
use super::{Gateway, INTEGRATION_TIMEOUT, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use crate::ids::{connection_id, trace_id};
use wsauth_protocol::host::split_host;
use wsauth_settings::clock::now_epoch;

fn refusal(status: u16) -> Response {
    let msg = match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        429 => "Too Many Requests",
        _ => super::connection::INTERNAL_SERVER_ERROR,
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(json!({"message": msg}))).into_response()
}

impl Gateway {
    /// Invokes `f` as an integration: API Gateway waits 29 s at most, whatever the function's
    /// timeout (`--function-timeout` may be longer).
    pub(super) async fn invoke_capped(
        &self,
        f: Function,
        event: Value,
    ) -> Result<Value, InvokeError> {
        let cap = self.opts.integration_timeout.min(INTEGRATION_TIMEOUT);
        // The invocation runs in a task of its own, holding its concurrency slot and its
        // instance: at the cap API Gateway stops waiting, while the function runs on to its own
        // timeout, as on Lambda.
        let functions = self.functions.clone();
        let task = tokio::spawn(async move { functions.invoke(f, event).await });
        match tokio::time::timeout(cap, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(InvokeError::Crashed(format!("invocation task: {join}"))),
            Err(_) => Err(InvokeError::IntegrationTimeout),
        }
    }

    /// Runs the handshake up to the upgrade: `Ok(select_subprotocol)` or the refusal status.
    async fn handshake(&self, meta: &mut ConnMeta, request: &Request) -> Result<bool, u16> {
        let started = std::time::Instant::now();
        let auth_event = self.api.authorizer_event(meta, request, now_ms());
        // API Gateway does not invoke the authorizer when the configured identity source is
        // missing or empty; a token in another place does not count.
        let source = self.opts.token_source;
        let parsed: WebSocketAuthorizerRequest =
            serde_json::from_value(auth_event.clone()).map_err(|_| 500u16)?;
        if !parsed.identity_present(source) {
            tracing::info!(connection_id = %meta.connection_id, status = 401, source = %source,
                "handshake refused: no identity source");
            return Err(401);
        }
        let answer = match self.invoke_capped(Function::Authorizer, auth_event).await {
            Ok(v) => v,
            Err(InvokeError::Failed { message, .. }) if message == "Unauthorized" => {
                return Err(401);
            }
            Err(e) => {
                tracing::warn!(connection_id = %meta.connection_id, error = %e, "authorizer failed: 500");
                return Err(500);
            }
        };
        let answer = read_authorizer_answer(&answer).map_err(|e| {
            tracing::warn!(connection_id = %meta.connection_id, error = %e, "authorizer answer refused: 500");
            500u16
        })?;
        if !answer
            .policy
            .evaluate(INVOKE_ACTION, &self.api.method_arn())
            .is_allowed()
        {
            return Err(403);
        }
        let latency = json!(started.elapsed().as_millis() as u64);
        let mut authorizer = answer.context;
        authorizer.insert("principalId".into(), json!(answer.principal_id));
        meta.authorizer = authorizer;
        let mut connect_event = self.api.connect_event(meta, request, now_ms());
        // The authorizer's latency is in `$connect`'s authorizer map only: captured message and
        // `$disconnect` events carry the context and `principalId` alone.
        if let Some(a) = connect_event
            .pointer_mut("/requestContext/authorizer")
            .and_then(Value::as_object_mut)
        {
            a.insert("integrationLatency".into(), latency);
        }
        let resp = match self.invoke_capped(Function::Connect, connect_event).await {
            Ok(v) => v,
            Err(e) => {
                let status = connect_failure_status(&e);
                tracing::warn!(connection_id = %meta.connection_id, error = %e, status, "$connect failed");
                return Err(status);
            }
        };
        let status = resp["statusCode"].as_u64().unwrap_or(500);
        if !(200..300).contains(&status) {
            return Err(u16::try_from(status).unwrap_or(500));
        }
        Ok(selected_subprotocol(&resp))
    }
}

/// The handshake's status when `$connect`'s integration fails: a function error (a crash and the
/// function's own timeout are function errors to Lambda) is a bad gateway, 502; API Gateway's
/// 29 s integration timeout, 504; a throttled invocation, 500.
fn connect_failure_status(e: &InvokeError) -> u16 {
    match e {
        InvokeError::Failed { .. } | InvokeError::Crashed(_) | InvokeError::Timeout => 502,
        InvokeError::IntegrationTimeout => 504,
        InvokeError::Throttled => 500,
    }
}

/// Whether `$connect`'s response selects the `wsauth` subprotocol (header names compare
/// case-insensitively).
fn selected_subprotocol(resp: &Value) -> bool {
    let empty = Map::new();
    resp["headers"]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("sec-websocket-protocol") && v == SUBPROTOCOL)
}

/// `domainName` of a `Host`: without the port, an IPv6 literal kept in brackets (so that
/// `https://{domainName}/{stage}` is a URL).
fn domain_name(host: &str) -> String {
    let (name, _) = split_host(host);
    if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_owned()
    }
}

/// `GET /{stage}` with an upgrade: the handshake, then the connection.
pub(super) async fn upgrade(
    State(gw): State<Arc<Gateway>>,
    Path(stage): Path<String>,
    ConnectInfo(peer): ConnectInfo<super::peer::Peer>,
    Query(query): Query<Vec<(String, String)>>,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let host_header = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !gw.reaches_stage(host_header, &stage) {
        return super::forbidden();
    }
    if gw.shutting_down.load(Ordering::SeqCst) {
        return refusal(500);
    }
    // The account's new-connection rate (`--throttle-connections`), before anything runs.
    if !super::throttle::admitted(gw.connections_bucket.as_ref()) {
        tracing::info!(status = 429, "handshake refused: connection rate");
        return refusal(429);
    }
    let Some(id) = connection_id() else {
        return refusal(500);
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let host = header("host");
    let mut meta = ConnMeta {
        connection_id: id,
        connected_at_ms: now_ms(),
        domain: domain_name(&host),
        host,
        source_ip: peer.addr.ip().to_string(),
        user_agent: header("user-agent"),
        authorizer: Map::new(),
    };
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let forwarded = Forwarded {
        client_ip: meta.source_ip.clone(),
        port: gw.listen.port(),
        proto: "http",
        trace_id: trace_id(now_epoch()),
    };
    let request = Request::new(
        &headers,
        peer.header_names(target).as_ref(),
        &forwarded,
        &query,
    );
    match gw.handshake(&mut meta, &request).await {
        Err(status) => {
            tracing::info!(connection_id = %meta.connection_id, status, "handshake refused");
            refusal(status)
        }
        Ok(select) => {
            // Small buffers (they grow for large frames): 10,000 idle connections must not cost
            // 128 KiB each. Frames over 32 KiB and messages over 128 KiB fail the read (1009).
            let ws = ws
                .read_buffer_size(4 * 1024)
                .write_buffer_size(0)
                .max_frame_size(MAX_FRAME_BYTES)
                .max_message_size(MAX_MESSAGE_BYTES);
            let ws = if select {
                ws.protocols([SUBPROTOCOL])
            } else {
                ws
            };
            let (gw2, meta2) = (gw.clone(), meta.clone());
            let ws = ws.on_failed_upgrade(move |_| {
                tokio::spawn(async move { gw2.disconnect(&meta2, 1006, "upgrade failed").await });
            });
            ws.on_upgrade(move |socket| gw.run_connection(socket, meta))
        }
    }
}
