//! Every log line the authorizer writes, at every level, is searched for the tokens and
//! signatures it handled: none may appear.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use wsauth_authorizer::Authorizer;

#[tokio::test]
async fn no_log_line_contains_a_token_or_a_signature() {
    let capture = wsauth_settings::telemetry::LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let keys = Keys::new();
    let server = JwksServer::start(keys.jwks()).await;
    let auth = Authorizer::init(config(&server.url, &[("WSAUTH_CONNECT_SCOPES", "admin")]))
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for k in keys.all() {
        tokens.push(k.mint(&claims("alice")).unwrap()); // Deny: lacks `admin`
        let mut c = claims("alice");
        c["scope"] = json!("admin");
        tokens.push(k.mint(&c).unwrap()); // Allow
        c["exp"] = json!(now() - 3600);
        tokens.push(k.mint(&c).unwrap()); // expired: 401
    }
    tokens.push(format!("{}.tampered", tokens[0]));
    for t in &tokens {
        let _ = auth.handle(&authorizer_event(Some(t))).await;
    }
    let logs = capture.text();
    assert!(
        logs.lines().count() >= tokens.len(),
        "every decision is logged"
    );
    assert!(logs.contains("\"decision\""));
    for t in &tokens {
        let sig = t.rsplit('.').next().unwrap();
        let payload = t.split('.').nth(1).unwrap();
        assert!(!logs.contains(t.as_str()), "a token was logged");
        assert!(!logs.contains(sig), "a signature was logged");
        assert!(!logs.contains(payload), "a token payload was logged");
    }
}
