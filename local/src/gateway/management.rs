//! The @connections management API, as the handlers (and any backend) call it:
//! `POST|GET|DELETE /{stage}/@connections/{connectionId}` (the ID percent-decoded), each request
//! signed with SigV4 for `execute-api` with wsauth-local's own credentials (else 403
//! `ForbiddenException`, as the contract types it, with AWS's message for the refusal); an unknown or closing connection → 410 `GoneException`; a full outgoing
//! queue → 429 `LimitExceededException`; a payload over 128 KiB → 413.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::connection::{Conn, PostError};
use super::{Gateway, MAX_MESSAGE_BYTES, aws_error};
use crate::timefmt::iso8601;

/// 410 `GoneException`, with an empty body as API Gateway sends it (SDKs read the type from
/// `x-amzn-ErrorType`).
fn gone() -> Response {
    super::typed(StatusCode::GONE.into_response(), "GoneException")
}

/// The refusal of a management request, if it must be refused before looking at the connection:
/// a path that reaches no stage (403: another stage, or the stage's name on a custom domain
/// whose base path differs) or a missing or wrong signature (403).
fn refuse(
    gw: &Gateway,
    peer: &SocketAddr,
    stage: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    // The stage's own path on the API's host, the base path on the custom domain.
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !gw.reaches_stage(host, stage) {
        return Some(super::forbidden());
    }
    // Its credentials are well known (`local`/`local` by default): loopback callers only,
    // unless --push-from-anywhere opens wsauth-local's backend endpoints to the network.
    // This machine's own calls (the functions') come from the listen address when it is not a
    // loopback one.
    if !gw.opts.push_from_anywhere && !super::is_loopback(peer) && peer.ip() != gw.listen.ip() {
        return Some(super::forbidden());
    }
    // None of these operations takes a query string: one would not be covered by the signature.
    if uri.query().is_some() {
        return Some(aws_error(
            403,
            "ForbiddenException",
            "Unexpected query string",
        ));
    }
    if let Err(e) = gw
        .credentials
        .verify(method.as_str(), uri.path(), headers, body)
    {
        // The contract types every signature refusal `ForbiddenException`; AWS's own type for
        // it is logged beside (CONTRACT.md, "wsauth-local").
        tracing::info!(path = uri.path(), reason = %e, aws_error_type = e.error_type(),
            "management request refused: signature");
        return Some(aws_error(403, "ForbiddenException", &e.to_string()));
    }
    None
}

/// Runs `f` on the live connection `id`; 410 when there is none.
fn with_live_connection(gw: &Gateway, id: &str, f: impl FnOnce(&Conn) -> Response) -> Response {
    let Ok(conns) = gw.conns.read() else {
        return aws_error(500, "InternalServerErrorException", "Internal error");
    };
    conns.get(id).filter(|c| c.live()).map_or_else(gone, f)
}

/// One management call: PostToConnection (POST), GetConnection (GET) or DeleteConnection
/// (DELETE, the client then sees a close with 1000), after the checks every call passes.
pub(super) async fn call(
    State(gw): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<super::peer::Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = answer(&gw, &peer.addr, &stage, &id, &method, &uri, &headers, &body);
    // Every answer of API Gateway's carries the request's ID, refusals included.
    if let Some(rid) =
        crate::ids::request_id().and_then(|r| axum::http::HeaderValue::from_str(&r).ok())
    {
        response.headers_mut().insert(REQUEST_ID_HEADER, rid);
    }
    response
}

/// The close reason after DeleteConnection: `$disconnect`'s `disconnectReason` (with 1000), as
/// captured from API Gateway; the client's close frame carries the same.
pub const DELETED_REASON: &str = "Connection Closed Normally";

/// The header naming the request's ID on every management API response.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// The management call's answer, before its request ID is added.
#[allow(clippy::too_many_arguments)]
fn answer(
    gw: &Gateway,
    peer: &SocketAddr,
    stage: &str,
    id: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Some(r) = refuse(gw, peer, stage, method, uri, headers, body) {
        return r;
    }
    // The account's request rate (`--throttle-requests`): checked once the caller is known.
    if !super::throttle::admitted(gw.requests_bucket.as_ref()) {
        return super::limit_exceeded();
    }
    match *method {
        Method::POST => post(gw, id, body),
        Method::GET => with_live_connection(gw, id, |c| {
            axum::Json(json!({
                "connectedAt": iso8601(c.connected_at_ms),
                "identity": {"sourceIp": c.source_ip, "userAgent": c.user_agent},
                "lastActiveAt": iso8601(c.last_active_ms.load(Ordering::Relaxed)),
            }))
            .into_response()
        }),
        Method::DELETE => with_live_connection(gw, id, |c| {
            // The status and reason API Gateway's `$disconnect` reports after DeleteConnection.
            c.close(1000, DELETED_REASON);
            StatusCode::NO_CONTENT.into_response()
        }),
        // HEAD (which the router serves with GET's handler) and anything else: no such API.
        _ => super::forbidden(),
    }
}

/// PostToConnection: queues `body` for the client.
fn post(gw: &Gateway, id: &str, body: &[u8]) -> Response {
    if body.len() > MAX_MESSAGE_BYTES {
        return aws_error(413, "PayloadTooLargeException", "Payload too large");
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return aws_error(400, "BadRequestException", "Data must be UTF-8 text");
    };
    with_live_connection(gw, id, |c| match c.post(text) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(PostError::Full) => super::limit_exceeded(),
        Err(PostError::Gone) => gone(),
    })
}
