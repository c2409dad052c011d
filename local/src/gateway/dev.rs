//! wsauth-local's own endpoints: `POST /_wsauth/push` (the push function, loopback peers only
//! unless `--push-from-anywhere`), `POST /_wsauth/dev/token` (dev tokens, loopback only), the dev
//! issuer's JWKS and the demo page. Both POSTs take `Content-Type: application/json` only (415
//! otherwise): a cross-site form or `no-cors` request from a page the developer visits cannot
//! send that type without a CORS preflight, which is never granted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};
use wsauth_routes::PushError;
use wsauth_settings::clock::now_epoch;

use super::functions::{Function, InvokeError};
use super::{Gateway, is_loopback};

/// The JSON error of these endpoints: `{"error": message}`.
fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

/// The refusal (415) of a body not declared `application/json` (parameters such as `charset`
/// allowed), if it is not.
fn not_json(headers: &HeaderMap) -> Option<Response> {
    let declared = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match declared {
        Some(t) if t.eq_ignore_ascii_case("application/json") => None,
        _ => Some(json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )),
    }
}

/// `POST /_wsauth/push`: invokes the push function with the body.
pub(super) async fn push(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<super::peer::Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !gw.opts.push_from_anywhere && !is_loopback(&peer.addr) {
        return json_error(StatusCode::FORBIDDEN, "push is accepted from loopback only");
    }
    if let Some(r) = not_json(&headers) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    match gw.functions.invoke(Function::Push, v).await {
        Ok(r) => axum::Json(r).into_response(),
        Err(InvokeError::Failed {
            error_type,
            message,
        }) => {
            let status = StatusCode::from_u16(PushError::status_of_error_type(&error_type))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_error(status, message)
        }
        // Lambda's Invoke answers a throttled call 429 `TooManyRequestsException`.
        Err(InvokeError::Throttled) => json_error(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded."),
        Err(e) => json_error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

/// The dev issuer's JWKS.
pub(super) async fn jwks(State(gw): State<Arc<Gateway>>) -> Response {
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

/// `POST /_wsauth/dev/token` `{"sub", "scope"?, "ttl"?}` → `{"token", "expiresIn"}`.
pub(super) async fn dev_token(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<super::peer::Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(dev) = &gw.dev else {
        return json_error(StatusCode::NOT_FOUND, "no dev issuer: WSAUTH_ISSUER is set");
    };
    if !is_loopback(&peer.addr) {
        return json_error(
            StatusCode::FORBIDDEN,
            "dev tokens are issued to loopback only",
        );
    }
    if let Some(r) = not_json(&headers) {
        return r;
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

/// The demo page, under a strict CSP.
pub(super) async fn demo_page(State(gw): State<Arc<Gateway>>) -> Response {
    let page = include_str!("../../static/index.html").replace("{{STAGE}}", &gw.opts.stage);
    let mut r = Html(page).into_response();
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

/// The demo page's script.
pub(super) async fn demo_js() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("../../static/demo.js"),
    )
        .into_response()
}

/// The JavaScript client (`clients/js/index.js`), as an ES module: the demo page runs on it.
pub(super) async fn client_js() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("../../../clients/js/index.js"),
    )
        .into_response()
}

/// The demo page's style sheet.
pub(super) async fn demo_css() -> Response {
    (
        [("content-type", "text/css; charset=utf-8")],
        include_str!("../../static/demo.css"),
    )
        .into_response()
}
