//! Test support: a real JWKS server on 127.0.0.1 (port 0) whose behaviour a test switches, and
//! an issuer whose keys it serves.

#![allow(clippy::unwrap_used)]
#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use wsauth_authorizer::{AuthorizerConfig, JwksCache, Verifier};
pub use wsauth_devkit::hostile::{b64, unb64};
use wsauth_devkit::{SigningKey, jwks_json};

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "wsauth-api";

pub use wsauth_devkit::{JwksServer as Server, Mode};

/// The switchable JWKS server (panics if it cannot bind: a test fails, it does not skip).
pub struct JwksServer;

impl JwksServer {
    #[allow(clippy::new_ret_no_self)]
    pub async fn start(initial: Value) -> Server {
        Server::start(initial).await.unwrap()
    }
}

pub fn now() -> i64 {
    wsauth_settings::clock::now_epoch()
}

pub use wsauth_devkit::Keys;

/// Claims that verify under [`config`].
pub fn claims(sub: &str) -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now,
           "exp": now + 600, "scope": "messages:send profile", "jti": format!("jti-{sub}")})
}

pub fn config(url: &str, extra: &[(&'static str, &str)]) -> AuthorizerConfig {
    wsauth_devkit::authorizer_config(ISSUER, AUDIENCE, url, extra)
}

pub fn verifier(cfg: AuthorizerConfig) -> Verifier {
    Verifier::new(cfg).unwrap()
}

/// A running JWKS server with the three keys, and a verifier on it.
pub async fn setup(extra: &[(&'static str, &str)]) -> (Keys, Server, Verifier) {
    let keys = Keys::new();
    let server = JwksServer::start(keys.jwks()).await;
    let v = verifier(config(&server.url, extra));
    (keys, server, v)
}

/// The API Gateway REQUEST authorizer fixture with `token` in the query string.
pub fn authorizer_event(token: Option<&str>) -> wsauth_authorizer::WebSocketAuthorizerRequest {
    let raw = include_str!("../data/authorizer-request.json");
    let mut v: Value = serde_json::from_str(raw).unwrap();
    match token {
        Some(t) => {
            v["queryStringParameters"]["token"] = json!(t);
            v["multiValueQueryStringParameters"]["token"] = json!([t]);
            let proto = format!("wsauth, bearer.{t}");
            v["headers"]["Sec-WebSocket-Protocol"] = json!(proto);
            v["multiValueHeaders"]["Sec-WebSocket-Protocol"] = json!([proto]);
        }
        None => {
            v["queryStringParameters"] = Value::Null;
            v["multiValueQueryStringParameters"] = Value::Null;
            wsauth_devkit::remove_header(&mut v, "Sec-WebSocket-Protocol");
        }
    }
    serde_json::from_value(v).unwrap()
}
