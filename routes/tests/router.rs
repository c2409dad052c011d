//! The router and push, at the unit level: real stores (memory and DynamoDB Local), a fake
//! @connections client that records every call.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use wsauth_authorizer::Verifier;
use wsauth_devkit::{SigningKey, jwks_json};
use wsauth_policy::{Identity, RoutePolicy};
use wsauth_routes::services::FANOUT_CONCURRENCY;
use wsauth_routes::{Connections, ManagementError, Pusher, Reply, Router, Services};
use wsauth_session::{Binding, Lookup, SessionStore};

/// A fixed clock for the handlers, far in the future: DynamoDB Local enforces the `ttl`
/// attribute, and a binding whose `ttl` has passed on the real clock is deleted under the test.
const NOW: i64 = 4_102_444_800;
const ISSUER: &str = "https://issuer.test";
const EP: &str = "https://abcdef123.execute-api.us-east-1.amazonaws.com/dev";

#[derive(Default)]
struct FakeConnections {
    posts: Mutex<Vec<(String, String, Value)>>,
    deletes: Mutex<Vec<(String, String)>>,
    gone: Mutex<HashSet<String>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay: Option<Duration>,
    /// DeleteConnection fails (throttled) instead of closing.
    deletes_fail: bool,
}

impl FakeConnections {
    fn posts_to(&self, conn: &str) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.1 == conn)
            .map(|p| p.2.clone())
            .collect()
    }
    fn post_count(&self) -> usize {
        self.posts.lock().unwrap().len()
    }
    fn set_gone(&self, conn: &str) {
        self.gone.lock().unwrap().insert(conn.into());
    }
}

#[async_trait]
impl Connections for FakeConnections {
    async fn post(&self, endpoint: &str, conn: &str, data: &[u8]) -> Result<(), ManagementError> {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.gone.lock().unwrap().contains(conn) {
            return Err(ManagementError::Gone);
        }
        let v: Value = serde_json::from_slice(data).unwrap();
        self.posts
            .lock()
            .unwrap()
            .push((endpoint.into(), conn.into(), v));
        Ok(())
    }
    async fn delete(&self, endpoint: &str, conn: &str) -> Result<(), ManagementError> {
        self.deletes
            .lock()
            .unwrap()
            .push((endpoint.into(), conn.into()));
        if self.deletes_fail {
            return Err(ManagementError::Other("throttled".into()));
        }
        if !self.gone.lock().unwrap().insert(conn.into()) {
            return Err(ManagementError::Gone);
        }
        Ok(())
    }
}

struct World {
    store: Arc<dyn SessionStore>,
    conns: Arc<FakeConnections>,
    router: Router,
    pusher: Pusher,
    key: SigningKey,
}

fn verifier(key: &SigningKey) -> Arc<Verifier> {
    let cfg = wsauth_devkit::authorizer_config(ISSUER, "api", "http://127.0.0.1:9/jwks.json", &[]);
    let v = Verifier::new(cfg).unwrap();
    v.cache(ISSUER)
        .unwrap()
        .install(jwks_json([key]).to_string().as_bytes())
        .unwrap();
    Arc::new(v)
}

fn world(store: Arc<dyn SessionStore>) -> World {
    world_with(store, FakeConnections::default())
}

fn world_with(store: Arc<dyn SessionStore>, conns: FakeConnections) -> World {
    let conns = Arc::new(conns);
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let services = Arc::new(Services {
        store: store.clone(),
        connections: conns.clone(),
        verifier: Some(verifier(&key)),
        endpoint_override: None,
        leeway_seconds: 0,
    });
    World {
        store,
        conns,
        router: Router::new(services.clone(), RoutePolicy::default()),
        pusher: Pusher::new(services),
        key,
    }
}

async fn bind(w: &World, conn: &str, user: &str, scopes: &[&str], expires_at: i64) {
    let id = Identity {
        user_id: user.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        expires_at,
        session_id: format!("s-{user}"),
        issuer: ISSUER.into(),
        issued_at: None,
    };
    let connected = (w.store.user_bindings(user).await.unwrap().len() as i64) + 1;
    w.store
        .bind(&Binding::new(conn, &id, connected, EP))
        .await
        .unwrap();
}

async fn send(w: &World, conn: &str, route: &str, body: Value) -> Reply {
    w.router
        .dispatch(conn, route, Some(&body.to_string()), NOW)
        .await
}

fn code(o: &Reply) -> &str {
    o.frame.as_ref().unwrap()["code"].as_str().unwrap_or("-")
}

const SEND: &[&str] = &["messages:send"];

async fn not_bound_is_refused_and_closes(w: World) {
    let o = send(&w, "ghost", "ping", json!({"action":"ping"})).await;
    assert_eq!(code(&o), "not_bound");
    assert!(o.close);
}

async fn expiry_between_two_messages_closes_the_session(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 10).await;
    let o = w
        .router
        .dispatch("a1", "ping", Some(r#"{"action":"ping"}"#), NOW + 9)
        .await;
    assert_eq!(o.frame, Some(json!({"type":"pong"})));
    let o = w
        .router
        .dispatch("a1", "ping", Some(r#"{"action":"ping"}"#), NOW + 10)
        .await;
    assert_eq!(code(&o), "session_expired");
    assert!(o.close);
    assert_eq!(
        w.store.lookup("a1", NOW).await.unwrap(),
        Lookup::NotBound,
        "binding removed"
    );
}

/// A logout whose sweep missed the connection (written to the store alone here, as when the
/// index lags): the connection's next message is `session_expired`, closes it and removes the
/// binding; another user's connection is served.
async fn a_message_after_a_logout_the_sweep_missed_ends_the_session(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 600).await;
    bind(&w, "b1", "bob", SEND, NOW + 600).await;
    w.store
        .revoke(&wsauth_session::Revoke::User("alice".into()), NOW)
        .await
        .unwrap();
    let o = send(&w, "a1", "ping", json!({"action":"ping","id":"p1"})).await;
    assert_eq!(code(&o), "session_expired");
    assert_eq!(o.frame.as_ref().unwrap()["id"], "p1");
    assert!(o.close);
    assert_eq!(w.store.get("a1").await.unwrap(), None, "binding removed");
    let o = send(&w, "b1", "ping", json!({"action":"ping"})).await;
    assert_eq!(o.frame, Some(json!({"type":"pong"})));
    // A session's logout the same way.
    w.store
        .revoke(&wsauth_session::Revoke::Session("s-bob".into()), NOW)
        .await
        .unwrap();
    let o = send(&w, "b1", "ping", json!({"action":"ping"})).await;
    assert_eq!(code(&o), "session_expired");
}

async fn a_route_needing_a_missing_scope_is_forbidden(w: World) {
    bind(&w, "a1", "alice", &[], NOW + 600).await;
    let o = send(
        &w,
        "a1",
        "sendToUser",
        json!({"action":"sendToUser","to":"bob","data":1}),
    )
    .await;
    assert_eq!(code(&o), "forbidden");
    assert!(!o.close);
    let o = send(
        &w,
        "a1",
        "broadcast",
        json!({"action":"broadcast","data":1}),
    )
    .await;
    assert_eq!(code(&o), "forbidden");
    let o = send(
        &w,
        "a1",
        "deleteEverything",
        json!({"action":"deleteEverything"}),
    )
    .await;
    assert_eq!(code(&o), "forbidden", "undeclared routes are denied");
    assert_eq!(w.conns.post_count(), 0);
}

async fn bad_frames_get_bad_request_or_unknown_action(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 600).await;
    for (body, want) in [
        ("not json", "bad_request"),
        ("[1,2]", "bad_request"),
        (r#"{"data":1}"#, "bad_request"),
        (r#"{"action":5}"#, "bad_request"),
        (r#"{"action":{"x":1}}"#, "bad_request"),
        (r#"{"action":"nope"}"#, "unknown_action"),
    ] {
        let o = w.router.dispatch("a1", "$default", Some(body), NOW).await;
        assert_eq!(code(&o), want, "{body}");
        assert!(!o.close);
    }
    let o = send(
        &w,
        "a1",
        "sendToUser",
        json!({"action":"sendToUser","data":1}),
    )
    .await;
    assert_eq!(code(&o), "bad_request");
    let o = send(
        &w,
        "a1",
        "sendToUser",
        json!({"action":"sendToUser","to":42}),
    )
    .await;
    assert_eq!(code(&o), "bad_request");
}

async fn ping_and_whoami_answer_from_the_binding(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 600).await;
    bind(&w, "b1", "bob", SEND, NOW + 600).await;
    assert_eq!(
        send(&w, "a1", "ping", json!({"action":"ping"})).await.frame,
        Some(json!({"type":"pong"}))
    );
    // A body naming another connection or user changes nothing.
    let o = send(
        &w,
        "a1",
        "whoami",
        json!({"action":"whoami","connectionId":"b1","userId":"bob"}),
    )
    .await;
    assert_eq!(
        o.frame,
        Some(
            json!({"type":"whoami","userId":"alice","connectionId":"a1","scopes":["messages:send"],"expiresAt":NOW+600})
        )
    );
}

async fn send_to_user_reaches_all_and_only_the_targets_connections(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 600).await;
    bind(&w, "b1", "bob", &[], NOW + 600).await;
    bind(&w, "b2", "bob", &[], NOW + 600).await;
    bind(&w, "b-old", "bob", &[], NOW - 1).await;
    bind(&w, "c1", "carol", &[], NOW + 600).await;
    let o = send(&w, "a1", "sendToUser",
        json!({"action":"sendToUser","to":"bob","data":{"text":"hi"},"from":"carol","connectionId":"c1"})).await;
    assert_eq!(
        o.frame,
        Some(json!({"type":"sent","to":"bob","delivered":2}))
    );
    let expect = json!({"type":"message","from":"alice","data":{"text":"hi"}});
    assert_eq!(w.conns.posts_to("b1"), vec![expect.clone()]);
    assert_eq!(w.conns.posts_to("b2"), vec![expect]);
    assert!(
        w.conns.posts_to("b-old").is_empty(),
        "expired sessions get nothing"
    );
    assert!(w.conns.posts_to("c1").is_empty());
    assert!(w.conns.posts_to("a1").is_empty());
    assert!(w.conns.posts.lock().unwrap().iter().all(|p| p.0 == EP));
}

async fn a_stale_connection_is_pruned_and_counted(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 600).await;
    bind(&w, "b1", "bob", &[], NOW + 600).await;
    bind(&w, "b2", "bob", &[], NOW + 600).await;
    w.conns.set_gone("b2");
    let o = send(
        &w,
        "a1",
        "sendToUser",
        json!({"action":"sendToUser","to":"bob","data":1}),
    )
    .await;
    assert_eq!(o.frame.unwrap()["delivered"], 1);
    assert_eq!(
        w.store.get("b2").await.unwrap(),
        None,
        "gone binding pruned"
    );
    bind(&w, "b3", "bob", &[], NOW + 600).await;
    w.conns.set_gone("b3");
    let r = w
        .pusher
        .handle_json(json!({"op":"sendToUser","userId":"bob","data":"x"}), NOW)
        .await
        .unwrap();
    assert_eq!(r, json!({"delivered":1,"pruned":1}));
}

async fn payloads_over_128_kib_are_refused_before_any_call(w: World) {
    bind(
        &w,
        "a1",
        "alice",
        &["messages:send", "messages:broadcast"],
        NOW + 600,
    )
    .await;
    bind(&w, "b1", "bob", &[], NOW + 600).await;
    let big = "x".repeat(128 * 1024);
    let o = send(
        &w,
        "a1",
        "sendToUser",
        json!({"action":"sendToUser","to":"bob","data":big}),
    )
    .await;
    assert_eq!(code(&o), "payload_too_large");
    let o = send(
        &w,
        "a1",
        "broadcast",
        json!({"action":"broadcast","data":big}),
    )
    .await;
    assert_eq!(code(&o), "payload_too_large");
    let e = w
        .pusher
        .handle_json(json!({"op":"broadcast","data":big}), NOW)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 413);
    assert_eq!(w.conns.post_count(), 0);
}

async fn broadcast_reaches_every_other_live_connection_page_by_page(w: World) {
    bind(&w, "a1", "alice", &["messages:broadcast"], NOW + 600).await;
    for i in 0..150 {
        bind(
            &w,
            &format!("u{i:03}"),
            &format!("user{}", i % 7),
            &[],
            NOW + 600,
        )
        .await;
    }
    bind(&w, "old", "zed", &[], NOW - 5).await;
    let o = send(
        &w,
        "a1",
        "broadcast",
        json!({"action":"broadcast","data":"hello"}),
    )
    .await;
    assert_eq!(o.frame, Some(json!({"type":"sent","delivered":150})));
    assert!(w.conns.posts_to("a1").is_empty(), "not to the sender");
    assert!(w.conns.posts_to("old").is_empty());
    assert_eq!(
        w.conns.posts_to("u149"),
        vec![json!({"type":"message","from":"alice","data":"hello"})]
    );
    let r = w
        .pusher
        .handle_json(json!({"op":"broadcast","data":{"n":1}}), NOW)
        .await
        .unwrap();
    assert_eq!(r, json!({"delivered":151,"pruned":0}));
    assert_eq!(
        w.conns.posts_to("a1"),
        vec![json!({"type":"message","from":"$server","data":{"n":1}})]
    );
}

async fn disconnect_user_leaves_the_user_with_no_binding(w: World) {
    bind(&w, "b1", "bob", &[], NOW + 600).await;
    bind(&w, "b2", "bob", &[], NOW + 600).await;
    bind(&w, "b3", "bob", &[], NOW - 1).await;
    bind(&w, "c1", "carol", &[], NOW + 600).await;
    w.conns.set_gone("b3");
    let r = w
        .pusher
        .handle_json(json!({"op":"disconnectUser","userId":"bob"}), NOW)
        .await
        .unwrap();
    assert_eq!(r, json!({"disconnected":3}));
    assert!(w.store.user_bindings("bob").await.unwrap().is_empty());
    let deleted: HashSet<String> = w
        .conns
        .deletes
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.1.clone())
        .collect();
    assert_eq!(
        deleted,
        HashSet::from(["b1".into(), "b2".into(), "b3".into()])
    );
    assert!(
        w.store.get("c1").await.unwrap().is_some(),
        "other users untouched"
    );
}

async fn refresh_extends_the_session_and_refuses_another_subject(w: World) {
    bind(&w, "a1", "alice", SEND, NOW + 60).await;
    let claims = |sub: &str, exp: i64| json!({"iss":ISSUER,"aud":"api","sub":sub,"exp":exp,"iat":NOW,"scope":"messages:send messages:broadcast"});
    let mallory = w.key.mint(&claims("mallory", NOW + 7200)).unwrap();
    let o = send(
        &w,
        "a1",
        "refresh",
        json!({"action":"refresh","token":mallory}),
    )
    .await;
    assert_eq!(code(&o), "invalid_token");
    let unchanged = w.store.get("a1").await.unwrap().unwrap();
    assert_eq!(
        (unchanged.user_id.as_str(), unchanged.expires_at),
        ("alice", NOW + 60)
    );
    let o = send(
        &w,
        "a1",
        "refresh",
        json!({"action":"refresh","token":"garbage"}),
    )
    .await;
    assert_eq!(code(&o), "invalid_token");
    let other_key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let forged = other_key.mint(&claims("alice", NOW + 7200)).unwrap();
    let o = send(
        &w,
        "a1",
        "refresh",
        json!({"action":"refresh","token":forged}),
    )
    .await;
    assert_eq!(code(&o), "invalid_token");
    let good = w.key.mint(&claims("alice", NOW + 7200)).unwrap();
    let o = send(
        &w,
        "a1",
        "refresh",
        json!({"action":"refresh","token":good}),
    )
    .await;
    assert_eq!(
        o.frame,
        Some(json!({"type":"refreshed","expiresAt":NOW+7200}))
    );
    let b = w.store.get("a1").await.unwrap().unwrap();
    assert_eq!(b.expires_at, NOW + 7200);
    assert_eq!(b.scopes, vec!["messages:send", "messages:broadcast"]);
    let o = w
        .router
        .dispatch("a1", "ping", Some("{}"), NOW + 3600)
        .await;
    assert_eq!(
        o.frame,
        Some(json!({"type":"pong"})),
        "alive past the old expiry"
    );
}

/// Binds `conn` to `user` in `session`, authorized by a token issued at `iat`.
async fn bind_issued(w: &World, conn: &str, user: &str, session: &str, iat: Option<i64>) {
    let id = Identity {
        user_id: user.into(),
        scopes: vec!["messages:send".into()],
        expires_at: NOW + 600,
        session_id: session.into(),
        issuer: ISSUER.into(),
        issued_at: iat,
    };
    w.store
        .bind(&Binding::new(conn, &id, NOW * 1000, EP))
        .await
        .unwrap();
}

fn deleted(w: &World) -> HashSet<String> {
    w.conns
        .deletes
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.1.clone())
        .collect()
}

async fn logout_user_refuses_the_users_tokens_and_closes_what_they_opened(w: World) {
    bind_issued(&w, "a1", "alice", "s1", Some(NOW - 10)).await;
    bind_issued(&w, "a2", "alice", "s2", None).await;
    // Opened with a token issued after the logout's second: not covered.
    bind_issued(&w, "a3", "alice", "s3", Some(NOW + 5)).await;
    bind_issued(&w, "b1", "bob", "s4", Some(NOW - 10)).await;
    let r = w
        .pusher
        .handle_json(json!({"op":"logoutUser","userId":"alice"}), NOW)
        .await
        .unwrap();
    assert_eq!(r, json!({"revokedBefore": NOW, "disconnected": 2}));
    assert_eq!(deleted(&w), HashSet::from(["a1".into(), "a2".into()]));
    for (conn, bound) in [("a1", false), ("a2", false), ("a3", true), ("b1", true)] {
        assert_eq!(w.store.get(conn).await.unwrap().is_some(), bound, "{conn}");
    }
    // The same token cannot bind again.
    let again = Identity {
        user_id: "alice".into(),
        scopes: vec![],
        expires_at: NOW + 600,
        session_id: "s1".into(),
        issuer: ISSUER.into(),
        issued_at: Some(NOW - 10),
    };
    assert_eq!(
        w.store
            .bind(&Binding::new("a4", &again, NOW * 1000, EP))
            .await,
        Err(wsauth_session::StoreError::Revoked)
    );
    // Nor refresh a live connection; a token of a later second can.
    let claims = |iat: i64| json!({"iss":ISSUER,"aud":"api","sub":"alice","sid":"s3","exp":NOW+7200,"iat":iat,"scope":"messages:send"});
    let revoked = w.key.mint(&claims(NOW)).unwrap();
    let o = send(
        &w,
        "a3",
        "refresh",
        json!({"action":"refresh","token":revoked}),
    )
    .await;
    assert_eq!(code(&o), "invalid_token");
    assert_eq!(
        w.store.get("a3").await.unwrap().unwrap().expires_at,
        NOW + 600
    );
    let later = w.key.mint(&claims(NOW + 1)).unwrap();
    let o = send(
        &w,
        "a3",
        "refresh",
        json!({"action":"refresh","token":later}),
    )
    .await;
    assert_eq!(o.frame.unwrap()["type"], "refreshed");
}

async fn logout_session_ends_that_session_only(w: World) {
    bind_issued(&w, "p1", "alice", "phone", Some(NOW - 10)).await;
    bind_issued(&w, "p2", "alice", "phone", Some(NOW - 5)).await;
    bind_issued(&w, "l1", "alice", "laptop", Some(NOW - 10)).await;
    let r = w
        .pusher
        .handle_json(json!({"op":"logoutSession","sessionId":"phone"}), NOW)
        .await
        .unwrap();
    assert_eq!(r, json!({"revokedBefore": NOW, "disconnected": 2}));
    assert_eq!(deleted(&w), HashSet::from(["p1".into(), "p2".into()]));
    let o = send(&w, "l1", "ping", json!({"action":"ping"})).await;
    assert_eq!(o.frame, Some(json!({"type":"pong"})));
    // A refresh of the laptop's connection with a phone token is refused too.
    let phone = w
        .key
        .mint(&json!({"iss":ISSUER,"aud":"api","sub":"alice","sid":"phone","exp":NOW+7200,"iat":NOW,"scope":"messages:send"}))
        .unwrap();
    let o = send(
        &w,
        "l1",
        "refresh",
        json!({"action":"refresh","token":phone}),
    )
    .await;
    assert_eq!(code(&o), "invalid_token");
    for bad in [
        json!({"op":"logoutSession","sessionId":""}),
        json!({"op":"logoutUser","userId":"$server"}),
        json!({"op":"logoutSession"}),
    ] {
        let e = w.pusher.handle_json(bad.clone(), NOW).await.unwrap_err();
        assert_eq!(e.status(), 400, "{bad}");
    }
}

/// Per message, exactly one store call: the strongly consistent read of the binding together
/// with its user's and session's revocations (on DynamoDB one `BatchGetItem`: counted request
/// by request in `session/tests/store_suite.rs`).
async fn a_message_costs_one_read_of_its_binding(store: Arc<dyn SessionStore>) {
    let counted = Arc::new(wsauth_devkit::stores::Instrumented::new(store));
    let w = world(counted.clone());
    bind(&w, "a1", "alice", SEND, NOW + 600).await;
    w.pusher
        .handle_json(json!({"op":"logoutUser","userId":"mallory"}), NOW)
        .await
        .unwrap();
    counted.take_calls();
    for body in [
        json!({"action":"ping"}),
        json!({"action":"whoami"}),
        json!({"action":"chat","text":"hi"}),
    ] {
        let route = body["action"].as_str().unwrap();
        let route = if route == "chat" { "$default" } else { route };
        send(&w, "a1", route, body.clone()).await;
        assert_eq!(counted.take_calls(), vec!["authorize"], "{body}");
    }
}

#[tokio::test]
async fn a_message_costs_one_read_of_its_binding_memory() {
    a_message_costs_one_read_of_its_binding(wsauth_devkit::stores::memory_dyn().await).await;
}

#[tokio::test]
async fn a_message_costs_one_read_of_its_binding_dynamodb_local() {
    a_message_costs_one_read_of_its_binding(wsauth_devkit::stores::dynamodb_local_dyn().await)
        .await;
}

wsauth_devkit::on_each_store!(
    world;
    not_bound_is_refused_and_closes,
    expiry_between_two_messages_closes_the_session,
    a_message_after_a_logout_the_sweep_missed_ends_the_session,
    a_route_needing_a_missing_scope_is_forbidden,
    bad_frames_get_bad_request_or_unknown_action,
    ping_and_whoami_answer_from_the_binding,
    send_to_user_reaches_all_and_only_the_targets_connections,
    a_stale_connection_is_pruned_and_counted,
    payloads_over_128_kib_are_refused_before_any_call,
    broadcast_reaches_every_other_live_connection_page_by_page,
    disconnect_user_leaves_the_user_with_no_binding,
    refresh_extends_the_session_and_refuses_another_subject,
    logout_user_refuses_the_users_tokens_and_closes_what_they_opened,
    logout_session_ends_that_session_only,
);

#[tokio::test]
async fn fan_out_is_concurrent_but_bounded() {
    let conns = FakeConnections {
        delay: Some(Duration::from_millis(5)),
        ..Default::default()
    };
    let w = world_with(wsauth_devkit::stores::memory_dyn().await, conns);
    for i in 0..200 {
        bind(&w, &format!("c{i}"), "bob", &[], NOW + 600).await;
    }
    let r = w
        .pusher
        .handle_json(json!({"op":"sendToUser","userId":"bob","data":1}), NOW)
        .await
        .unwrap();
    assert_eq!(r["delivered"], 200);
    let max = w.conns.max_in_flight.load(Ordering::SeqCst);
    assert!(max > 1, "not one at a time ({max})");
    assert!(max <= FANOUT_CONCURRENCY, "bounded ({max})");
}

#[tokio::test]
async fn a_failing_store_answers_internal() {
    use wsauth_devkit::stores::Instrumented;
    use wsauth_session::StoreError;
    let down = Instrumented::failing(wsauth_devkit::stores::memory_dyn().await, |_, _| {
        Some(StoreError::Unavailable("down".into()))
    });
    let w = world_with(Arc::new(down), Default::default());
    let o = send(&w, "a1", "ping", json!({"action":"ping"})).await;
    assert_eq!(code(&o), "internal");
    assert!(!o.close, "an outage does not close connections");
    let msg = o.frame.unwrap()["message"].as_str().unwrap().to_owned();
    assert!(!msg.contains("down"), "internals are not shown to clients");
    let e = w
        .pusher
        .handle_json(json!({"op":"broadcast","data":1}), NOW)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 503);
}

#[tokio::test]
async fn the_lambda_event_replies_in_the_body_and_closes_through_the_derived_endpoint() {
    let w = world_with(
        wsauth_devkit::stores::memory_dyn().await,
        Default::default(),
    );
    let mut ev: Value = serde_json::from_str(include_str!("data/message.json")).unwrap();
    ev["requestContext"]["routeKey"] = json!("whoami");
    ev["body"] = json!(r#"{"action":"whoami"}"#);
    let conn = "L0SM9cOFvHcCIhw=";
    // Not bound: the error frame is posted, then the connection deleted, at the event's endpoint.
    let e: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(ev.clone()).unwrap();
    let r = w.router.handle_event(&e, NOW).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(w.conns.posts_to(conn)[0]["code"], "not_bound");
    assert_eq!(
        w.conns.deletes.lock().unwrap().clone(),
        vec![(EP.to_string(), conn.to_string())]
    );
    // Bound: the reply is the response body.
    w.conns.gone.lock().unwrap().clear();
    bind(&w, conn, "alice", SEND, NOW + 600).await;
    let r = w.router.handle_event(&e, NOW).await;
    let body = match r.body.unwrap() {
        aws_lambda_events::encodings::Body::Text(t) => t,
        other => panic!("{other:?}"),
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["userId"], "alice");
    assert_eq!(v["connectionId"], conn);
}

#[tokio::test]
async fn application_routes_get_the_checks_for_free() {
    struct Echo;
    #[async_trait]
    impl wsauth_routes::RouteHandler for Echo {
        async fn handle(
            &self,
            ctx: &wsauth_routes::MessageContext<'_>,
        ) -> Result<Option<Value>, wsauth_routes::RouteError> {
            Ok(Some(json!({"type":"echo","user":ctx.binding.user_id})))
        }
    }
    let w = world_with(
        wsauth_devkit::stores::memory_dyn().await,
        Default::default(),
    );
    bind(&w, "a1", "alice", &["chat:write"], NOW + 600).await;
    bind(&w, "b1", "bob", &[], NOW + 600).await;
    let router = w
        .router
        .route("echo", vec!["chat:write".into()], Arc::new(Echo))
        .unwrap();
    let o = router.dispatch("a1", "echo", Some("{}"), NOW).await;
    assert_eq!(o.frame, Some(json!({"type":"echo","user":"alice"})));
    let o = router.dispatch("b1", "echo", Some("{}"), NOW).await;
    assert_eq!(code(&o), "forbidden");
    let o = router.dispatch("zz", "echo", Some("{}"), NOW).await;
    assert_eq!(code(&o), "not_bound");
}

#[tokio::test]
async fn a_broadcast_whose_walk_fails_midway_is_reported_not_silently_cut_short() {
    use wsauth_devkit::stores::Instrumented;
    use wsauth_session::StoreError;
    // The memory store, except that every page after the first fails.
    let inner = Instrumented::failing(wsauth_devkit::stores::memory_dyn().await, |op, start| {
        (op == "page" && start.is_some())
            .then(|| StoreError::Unavailable("second page lost".into()))
    });
    let w = world_with(Arc::new(inner), Default::default());
    bind(&w, "a1", "alice", &["messages:broadcast"], NOW + 600).await;
    for i in 0..250 {
        bind(&w, &format!("u{i:03}"), "bob", &[], NOW + 600).await;
    }
    let e = w
        .pusher
        .handle_json(json!({"op":"broadcast","data":1}), NOW)
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        503,
        "the caller learns the broadcast did not reach everyone"
    );
    let first_page = w.conns.post_count();
    assert_eq!(
        first_page,
        wsauth_routes::services::BROADCAST_PAGE,
        "the first page was delivered"
    );
    let o = send(
        &w,
        "a1",
        "broadcast",
        json!({"action":"broadcast","data":2}),
    )
    .await;
    assert_eq!(code(&o), "internal");
    assert!(!o.close, "a store outage does not close the sender");
}

#[tokio::test]
async fn the_second_sweep_finds_a_binding_the_index_did_not_show_yet() {
    let lagging = wsauth_devkit::stores::Instrumented::lagging(
        wsauth_devkit::stores::memory_dyn().await,
        Duration::from_millis(300),
    );
    let w = world(Arc::new(lagging));
    // Bound just before the logout: the index does not show it to the first sweep.
    bind_issued(&w, "a1", "alice", "s1", Some(NOW - 10)).await;
    let r = w
        .pusher
        .handle_json(json!({"op":"logoutUser","userId":"alice"}), NOW)
        .await
        .unwrap();
    assert_eq!(r, json!({"revokedBefore": NOW, "disconnected": 1}));
    assert_eq!(deleted(&w), HashSet::from(["a1".into()]));
    assert_eq!(w.store.get("a1").await.unwrap(), None);
}

#[tokio::test]
async fn a_logout_that_cannot_close_a_connection_says_so() {
    use wsauth_session::StoreError;
    let store = wsauth_devkit::stores::Instrumented::failing(
        wsauth_devkit::stores::memory_dyn().await,
        |op, _| (op == "unbind").then(|| StoreError::Unavailable("down".into())),
    );
    let conns = FakeConnections {
        deletes_fail: true,
        ..Default::default()
    };
    let w = world_with(Arc::new(store), conns);
    bind_issued(&w, "a1", "alice", "s1", Some(NOW - 10)).await;
    let e = w
        .pusher
        .handle_json(json!({"op":"logoutUser","userId":"alice"}), NOW)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 503, "{e}");
    // The revocation holds all the same.
    let again = Identity {
        user_id: "alice".into(),
        scopes: vec![],
        expires_at: NOW + 600,
        session_id: "s2".into(),
        issuer: ISSUER.into(),
        issued_at: Some(NOW),
    };
    assert_eq!(
        w.store
            .bind(&Binding::new("a2", &again, NOW * 1000, EP))
            .await,
        Err(StoreError::Revoked)
    );
}

#[tokio::test]
async fn a_message_id_comes_back_in_its_reply_errors_included() {
    let w = world(wsauth_devkit::stores::memory_dyn().await);
    bind(&w, "a1", "alice", &[], NOW + 600).await;
    let o = send(&w, "a1", "ping", json!({"action":"ping","id":"r-1"})).await;
    assert_eq!(o.frame, Some(json!({"type":"pong","id":"r-1"})));
    let o = send(
        &w,
        "a1",
        "sendToUser",
        json!({"action":"sendToUser","to":"bob","data":1,"id":"r-2"}),
    )
    .await;
    assert_eq!(code(&o), "forbidden");
    assert_eq!(o.frame.as_ref().unwrap()["id"], "r-2");
    let o = send(&w, "ghost", "ping", json!({"action":"ping","id":"r-3"})).await;
    assert_eq!((code(&o), o.close), ("not_bound", true));
    assert_eq!(o.frame.as_ref().unwrap()["id"], "r-3");
    let o = send(&w, "a1", "ping", json!({"action":"ping"})).await;
    assert_eq!(o.frame, Some(json!({"type":"pong"})), "no id, no id");
    let longest = "x".repeat(64);
    let o = send(&w, "a1", "ping", json!({"action":"ping","id":longest})).await;
    assert_eq!(o.frame.unwrap()["id"], json!(longest));
    let o = send(&w, "a1", "ping", json!({"action":"ping","id":""})).await;
    assert_eq!(o.frame, Some(json!({"type":"pong","id":""})));
    // The binding checks come first: an unbound connection with a bad id is refused and closed.
    let o = send(&w, "ghost", "ping", json!({"action":"ping","id":7})).await;
    assert_eq!((code(&o), o.close), ("not_bound", true));
    for bad in [json!(7), json!("x".repeat(65)), json!({"a":1}), json!(null)] {
        let o = send(&w, "a1", "ping", json!({"action":"ping","id":bad})).await;
        assert_eq!(code(&o), "bad_request", "{bad}");
        assert!(o.frame.as_ref().unwrap().get("id").is_none());
        assert!(!o.close);
    }
}

#[tokio::test]
async fn a_binding_made_moments_ago_is_not_pruned_on_410() {
    // Between `$connect` writing the binding and the upgrade completing, @connections does not
    // know the connection yet: its binding is good and must stay.
    let w = world(wsauth_devkit::stores::memory_dyn().await);
    bind_issued(&w, "b1", "bob", "s1", Some(NOW)).await;
    w.conns.set_gone("b1");
    let push = json!({"op":"sendToUser","userId":"bob","data":1});
    let r = w.pusher.handle_json(push.clone(), NOW + 1).await.unwrap();
    assert_eq!(r, json!({"delivered":0,"pruned":0}));
    assert!(w.store.get("b1").await.unwrap().is_some(), "kept");
    // As slow a handshake as API Gateway allows (29 s) keeps its binding too.
    let r = w.pusher.handle_json(push.clone(), NOW + 29).await.unwrap();
    assert_eq!(r, json!({"delivered":0,"pruned":0}));
    // Still gone once the grace has passed: pruned then.
    let grace = wsauth_routes::services::PRUNE_GRACE_SECONDS;
    let r = w.pusher.handle_json(push, NOW + grace + 1).await.unwrap();
    assert_eq!(r, json!({"delivered":0,"pruned":1}));
    assert!(w.store.get("b1").await.unwrap().is_none());
}
