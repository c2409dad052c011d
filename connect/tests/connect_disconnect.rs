//! `$connect` / `$disconnect` driven with API Gateway's event JSON, on both stores: the
//! in-memory one and DynamoDB Local.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde_json::{Value, json};
use wsauth_connect::ConnectHandler;
use wsauth_session::{Lookup, SessionStore};

/// The fixtures' clock: `requestTimeEpoch` of connect.json, before `expiresAt` (1795604400).
const FIXTURE_NOW: i64 = 1_795_600_800;
/// Every time in the fixtures is moved this far ahead, into the next century: DynamoDB Local
/// enforces the `ttl` attribute, and a binding whose `ttl` has passed on the real clock would be
/// deleted under the test.
const SHIFT: i64 = 4_102_444_800 - FIXTURE_NOW;
/// The handlers' clock.
const NOW: i64 = FIXTURE_NOW + SHIFT;
const CONN: &str = "L0SM9cOFvHcCIhw=";

fn fixture(name: &str) -> Value {
    let raw = match name {
        "connect" => include_str!("data/connect.json"),
        "disconnect" => include_str!("data/disconnect.json"),
        _ => unreachable!(),
    };
    let mut v: Value = serde_json::from_str(raw).unwrap();
    let ctx = &mut v["requestContext"];
    for (field, unit) in [("connectedAt", 1000), ("requestTimeEpoch", 1000)] {
        ctx[field] = json!(ctx[field].as_i64().unwrap() + SHIFT * unit);
    }
    let exp = &mut ctx["authorizer"]["expiresAt"];
    *exp = json!(exp.as_i64().unwrap() + SHIFT);
    v
}

fn event(v: Value) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(v).unwrap()
}

fn handler(store: &Arc<dyn SessionStore>) -> ConnectHandler {
    ConnectHandler::new(store.clone(), None)
}

async fn connect_binds_the_authorizer_identity_and_selects_the_subprotocol(
    s: Arc<dyn SessionStore>,
) {
    let r = handler(&s).handle_at(&event(fixture("connect")), NOW).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.headers.get("sec-websocket-protocol").unwrap(), "wsauth");
    let Lookup::Live(b) = s.lookup(CONN, NOW).await.unwrap() else {
        panic!("not bound")
    };
    assert_eq!(b.user_id, "alice");
    assert_eq!(b.session_id, "b1f0c8e2");
    assert_eq!(b.issuer, "https://issuer.example.com");
    assert_eq!(b.scopes, vec!["messages:send"]);
    assert_eq!(b.expires_at, 1_795_604_400 + SHIFT);
    assert_eq!(b.connected_at, (1_795_600_800 + SHIFT) * 1000);
    assert_eq!(
        b.endpoint,
        "https://abcdef123.execute-api.us-east-1.amazonaws.com/dev"
    );
}

async fn without_the_wsauth_offer_no_subprotocol_is_selected(s: Arc<dyn SessionStore>) {
    let mut v = fixture("connect");
    wsauth_devkit::remove_header(&mut v, "Sec-WebSocket-Protocol");
    let r = handler(&s).handle_at(&event(v), NOW).await;
    assert_eq!(r.status_code, 200);
    assert!(r.headers.get("sec-websocket-protocol").is_none());
}

async fn missing_or_malformed_authorizer_context_is_refused_and_nothing_bound(
    s: Arc<dyn SessionStore>,
) {
    let cases: Vec<(Value, i64)> = vec![
        (Value::Null, 403),
        (json!({}), 403),
        (json!({"principalId": "alice"}), 403),
        (
            json!({"principalId":"alice","userId":"alice","scopes":"","expiresAt":"soon","sessionId":"s","issuer":"i"}),
            403,
        ),
        (
            json!({"principalId":"alice","userId":"","scopes":"","expiresAt":1_795_604_400 + SHIFT,"sessionId":"s","issuer":"i"}),
            403,
        ),
        (
            json!({"principalId":"mallory","userId":"alice","scopes":"","expiresAt":1_795_604_400 + SHIFT,"sessionId":"s","issuer":"i"}),
            403,
        ),
        (
            json!({"principalId":"alice","userId":"alice","scopes":"","expiresAt":NOW - 1,"sessionId":"s","issuer":"i"}),
            401,
        ),
    ];
    for (ctx, status) in cases {
        let mut v = fixture("connect");
        if ctx.is_null() {
            v["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        } else {
            v["requestContext"]["authorizer"] = ctx.clone();
        }
        let r = handler(&s).handle_at(&event(v), NOW).await;
        assert_eq!(r.status_code, status, "{ctx}");
        assert_eq!(
            s.lookup(CONN, NOW).await.unwrap(),
            Lookup::NotBound,
            "{ctx}"
        );
    }
}

/// `$connect` with the fixture, answered 200.
async fn connected(h: &ConnectHandler) {
    let r = h.handle_at(&event(fixture("connect")), NOW).await;
    assert_eq!(r.status_code, 200);
}

async fn a_second_connect_with_the_same_id_is_refused(s: Arc<dyn SessionStore>) {
    let h = handler(&s);
    connected(&h).await;
    let mut v = fixture("connect");
    v["requestContext"]["authorizer"]["principalId"] = json!("mallory");
    v["requestContext"]["authorizer"]["userId"] = json!("mallory");
    assert_eq!(h.handle_at(&event(v), NOW).await.status_code, 409);
    let Lookup::Live(b) = s.lookup(CONN, NOW).await.unwrap() else {
        panic!("binding lost")
    };
    assert_eq!(b.user_id, "alice", "the first binding stands");
}

async fn disconnect_unbinds_and_twice_is_fine(s: Arc<dyn SessionStore>) {
    let h = handler(&s);
    connected(&h).await;
    let d = event(fixture("disconnect"));
    assert_eq!(h.handle_at(&d, NOW).await.status_code, 200);
    assert_eq!(s.lookup(CONN, NOW).await.unwrap(), Lookup::NotBound);
    assert_eq!(h.handle_at(&d, NOW).await.status_code, 200);
}

async fn the_endpoint_override_is_used_when_set(s: Arc<dyn SessionStore>) {
    let h = ConnectHandler::new(s.clone(), Some("http://127.0.0.1:3001/dev/".into()));
    assert_eq!(
        h.handle_at(&event(fixture("connect")), NOW)
            .await
            .status_code,
        200
    );
    let b = s.get(CONN).await.unwrap().unwrap();
    assert_eq!(b.endpoint, "http://127.0.0.1:3001/dev");
}

wsauth_devkit::on_each_store!(
    connect_binds_the_authorizer_identity_and_selects_the_subprotocol,
    without_the_wsauth_offer_no_subprotocol_is_selected,
    missing_or_malformed_authorizer_context_is_refused_and_nothing_bound,
    a_second_connect_with_the_same_id_is_refused,
    disconnect_unbinds_and_twice_is_fine,
    the_endpoint_override_is_used_when_set,
);

#[tokio::test]
async fn connect_writes_the_documented_item_to_dynamodb() {
    let store = wsauth_devkit::stores::dynamodb_local().await;
    let s: Arc<dyn SessionStore> = Arc::new(store.clone());
    assert_eq!(
        handler(&s)
            .handle_at(&event(fixture("connect")), NOW)
            .await
            .status_code,
        200
    );
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key(
            "connectionId",
            aws_sdk_dynamodb::types::AttributeValue::S(CONN.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = item.item().unwrap();
    for attr in [
        "connectionId",
        "userId",
        "sessionId",
        "issuer",
        "scopes",
        "connectedAt",
        "expiresAt",
        "ttl",
        "endpoint",
    ] {
        assert!(item.contains_key(attr), "missing {attr}");
    }
    assert_eq!(
        item["ttl"].as_n().unwrap(),
        &(1_795_604_400 + SHIFT + 300).to_string()
    );
}

#[tokio::test]
async fn a_store_outage_refuses_connect_with_500_and_writes_nothing() {
    let down: Arc<dyn SessionStore> = Arc::new(wsauth_devkit::stores::unreachable_dynamodb().await);
    let r = handler(&down)
        .handle_at(&event(fixture("connect")), NOW)
        .await;
    assert_eq!(r.status_code, 500);
    let r = handler(&down)
        .handle_at(&event(fixture("disconnect")), NOW)
        .await;
    assert_eq!(r.status_code, 500);
}

#[tokio::test]
async fn an_unexpected_event_type_is_a_400() {
    let s = wsauth_devkit::stores::memory_dyn().await;
    let mut v = fixture("connect");
    v["requestContext"]["eventType"] = json!("MESSAGE");
    assert_eq!(handler(&s).handle_at(&event(v), NOW).await.status_code, 400);
}
