//! End to end: a real WebSocket client (tokio-tungstenite) against the real wsauth-local on
//! 127.0.0.1, every handler real, the memory store and DynamoDB Local.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wsauth_local::{GatewayOptions, StoreKind};
use wsauth_protocol::token::TokenSource;

const SEND: &str = "messages:send";

async fn local() -> Local {
    Local::dev(GatewayOptions::default(), StoreKind::Memory).await
}

/// The three ways a client can present a token, as `Via`.
fn via(source: TokenSource) -> Via {
    match source {
        TokenSource::Subprotocol => Via::Subprotocol,
        TokenSource::Query => Via::Query,
        TokenSource::Header => Via::Header,
    }
}

#[tokio::test]
async fn only_the_configured_token_source_counts() {
    for configured in TokenSource::ALL {
        let opts = GatewayOptions {
            token_source: configured,
            ..GatewayOptions::default()
        };
        let l = Local::dev(opts, StoreKind::Memory).await;
        let t = l.token("alice", SEND, 600);
        for place in TokenSource::ALL {
            let got = connect_with(&l.url(), &t, via(place)).await;
            if place != configured {
                assert_eq!(
                    got.err(),
                    Some(401),
                    "configured {configured}, sent in {place}"
                );
                continue;
            }
            let (mut ws, proto) = got.unwrap();
            let who = request(&mut ws, json!({"action":"whoami"})).await;
            assert_eq!(who["userId"], "alice", "{configured}");
            match place {
                TokenSource::Subprotocol => assert_eq!(proto.as_deref(), Some("wsauth")),
                _ => assert_eq!(proto, None),
            }
        }
    }
}

#[tokio::test]
async fn by_default_the_token_travels_in_the_subprotocol_list() {
    let l = local().await;
    let t = l.token("alice", SEND, 600);
    let (_ws, proto) = connect_with(&l.url(), &t, Via::Subprotocol).await.unwrap();
    assert_eq!(proto.as_deref(), Some("wsauth"));
    assert_eq!(connect(&l.url(), &t, Via::Query).await.err(), Some(401));
    assert_eq!(connect(&l.url(), &t, Via::Header).await.err(), Some(401));
}

#[tokio::test]
async fn handshake_statuses_follow_the_contract() {
    let l = Local::dev(GatewayOptions::default(), StoreKind::Memory).await;
    // No token: 401.
    assert_eq!(connect(&l.url(), "", Via::None).await.err(), Some(401));
    // Invalid: 401.
    assert_eq!(
        connect(&l.url(), "not.a.jwt", Via::Subprotocol).await.err(),
        Some(401)
    );
    let expired = l
        .dev
        .as_ref()
        .unwrap()
        .mint("alice", SEND, -120, now())
        .unwrap();
    assert_eq!(
        connect(&l.url(), &expired, Via::Subprotocol).await.err(),
        Some(401)
    );
    // Valid: 101.
    assert!(
        connect(&l.url(), &l.token("alice", SEND, 600), Via::Subprotocol)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn ping_whoami_and_error_frames() {
    let l = local().await;
    let mut ws = l.open("alice", SEND).await;
    assert_eq!(
        request(&mut ws, json!({"action":"ping"})).await,
        json!({"type":"pong"})
    );
    let who = request(&mut ws, json!({"action":"whoami","userId":"mallory"})).await;
    assert_eq!(who["type"], "whoami");
    assert_eq!(who["userId"], "alice");
    assert_eq!(who["scopes"], json!([SEND]));
    assert!(who["connectionId"].as_str().unwrap().len() >= 16);
    assert!(who["expiresAt"].as_i64().unwrap() > now());
    send_text(&mut ws, "this is not json").await;
    assert_eq!(recv(&mut ws).await["code"], "bad_request");
    assert_eq!(
        request(&mut ws, json!({"action":"dance"})).await["code"],
        "unknown_action"
    );
    assert_eq!(
        request(&mut ws, json!({"action":"broadcast","data":1})).await["code"],
        "forbidden"
    );
    assert_eq!(
        request(&mut ws, json!({"action":"refresh","token":"x.y.z"})).await["code"],
        "invalid_token"
    );
    assert_eq!(
        request(&mut ws, json!({"action":"ping"})).await["type"],
        "pong",
        "still open after errors"
    );
}

async fn send_to_user_between_two_users_with_two_connections_each(store: StoreKind) {
    let l = Local::dev(GatewayOptions::default(), store).await;
    let mut a1 = l.open("alice", SEND).await;
    let mut a2 = l.open("alice", SEND).await;
    let mut b1 = l.open("bob", SEND).await;
    let mut b2 = l.open("bob", SEND).await;
    let r = request(
        &mut a1,
        json!({"action":"sendToUser","to":"bob","data":{"text":"hi bob"}}),
    )
    .await;
    assert_eq!(r, json!({"type":"sent","to":"bob","delivered":2}));
    for b in [&mut b1, &mut b2] {
        assert_eq!(
            recv(b).await,
            json!({"type":"message","from":"alice","data":{"text":"hi bob"}})
        );
    }
    assert_eq!(
        next(&mut a2, Duration::from_millis(300)).await,
        Seen::Timeout,
        "alice's other connection gets nothing"
    );
    let r = request(
        &mut b2,
        json!({"action":"sendToUser","to":"alice","data":[1,2,3]}),
    )
    .await;
    assert_eq!(r["delivered"], 2);
    assert_eq!(recv(&mut a1).await["data"], json!([1, 2, 3]));
    assert_eq!(recv(&mut a2).await["from"], "bob");
}

#[tokio::test]
async fn send_to_user_between_two_users_with_two_connections_each_memory() {
    send_to_user_between_two_users_with_two_connections_each(StoreKind::Memory).await;
}

#[tokio::test]
async fn send_to_user_between_two_users_with_two_connections_each_dynamodb_local() {
    // The default table is created on DynamoDB Local (fresh and in-memory for each run).
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "run through scripts/test (DynamoDB Local)"
    );
    send_to_user_between_two_users_with_two_connections_each(StoreKind::Dynamodb).await;
}

#[tokio::test]
async fn broadcast_reaches_every_other_connection() {
    let l = local().await;
    let mut a = l.open("alice", "messages:broadcast").await;
    let mut b = l.open("bob", "").await;
    let mut c = l.open("carol", "").await;
    assert_eq!(
        request(&mut a, json!({"action":"broadcast","data":"all"})).await,
        json!({"type":"sent","delivered":2})
    );
    assert_eq!(
        recv(&mut b).await,
        json!({"type":"message","from":"alice","data":"all"})
    );
    assert_eq!(recv(&mut c).await["from"], "alice");
}

#[tokio::test]
async fn refresh_extends_the_session() {
    let l = local().await;
    let mut ws = connect(&l.url(), &l.token("alice", SEND, 60), Via::Subprotocol)
        .await
        .unwrap();
    let fresh = l.token("alice", SEND, 7200);
    let r = request(&mut ws, json!({"action":"refresh","token":fresh})).await;
    assert_eq!(r["type"], "refreshed");
    assert!(r["expiresAt"].as_i64().unwrap() > now() + 7000);
    let bobs = l.token("bob", SEND, 7200);
    assert_eq!(
        request(&mut ws, json!({"action":"refresh","token":bobs})).await["code"],
        "invalid_token"
    );
    assert_eq!(
        request(&mut ws, json!({"action":"whoami"})).await["expiresAt"],
        r["expiresAt"]
    );
}

#[tokio::test]
async fn expiry_mid_session_sends_session_expired_and_closes() {
    let l = local().await;
    let mut ws = connect(&l.url(), &l.token("alice", SEND, 2), Via::Subprotocol)
        .await
        .unwrap();
    assert_pong(&mut ws).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    send(&mut ws, json!({"action":"ping"})).await;
    assert_eq!(recv(&mut ws).await["code"], "session_expired");
    expect_close(&mut ws, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn idle_connections_are_closed_with_1001() {
    let opts = GatewayOptions {
        idle_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let l = Local::dev(opts, StoreKind::Memory).await;
    let mut ws = l.open("alice", SEND).await;
    let (code, _) = expect_close(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(code, Some(1001));
}

#[tokio::test]
async fn connections_are_closed_at_the_maximum_duration() {
    let opts = GatewayOptions {
        // Long enough for three pings through qemu-run arm64 functions (`--lambdas`).
        max_connection_duration: Duration::from_secs(3),
        ..Default::default()
    };
    let l = Local::dev(opts, StoreKind::Memory).await;
    let mut ws = l.open("alice", SEND).await;
    for _ in 0..3 {
        assert_pong(&mut ws).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, _) = expect_close(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(code, Some(1001));
}

#[tokio::test]
async fn oversized_messages_close_with_1009_and_binary_frames_with_1003() {
    let l = local().await;
    let mut ws = l.open("alice", SEND).await;
    let big = format!(
        "{{\"action\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(128 * 1024)
    );
    send_text(&mut ws, &big).await;
    assert_eq!(
        expect_close(&mut ws, Duration::from_secs(5)).await.0,
        Some(1009)
    );
    let mut ws = l.open("alice", SEND).await;
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1u8, 2, 3].into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        expect_close(&mut ws, Duration::from_secs(5)).await.0,
        Some(1003)
    );
}

#[tokio::test]
async fn the_management_api_works_with_the_real_sdk_client() {
    let l = local().await;
    let (mut ws, conn) = l.open_with_id("alice", SEND).await;
    let client = management_client(&l).await;
    post_via(&client, &conn, br#"{"hello":"from sdk"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(recv(&mut ws).await, json!({"hello":"from sdk"}));
    let info = client
        .get_connection()
        .connection_id(&conn)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    assert!(info.last_active_at().is_some());
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );
    client
        .delete_connection()
        .connection_id(&conn)
        .send()
        .await
        .unwrap();
    expect_close(&mut ws, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = post_via(&client, &conn, b"x".to_vec()).await.unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "410 GoneException"
    );
    let err = client
        .get_connection()
        .connection_id(&conn)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception())
    );
}

#[tokio::test]
async fn push_reaches_a_user_everyone_or_logs_a_user_out() {
    let l = local().await;
    let mut a = l.open("alice", "").await;
    let mut b1 = l.open("bob", "").await;
    let mut b2 = l.open("bob", "").await;
    let (s, r) = push(&l, json!({"op":"sendToUser","userId":"bob","data":{"n":1}})).await;
    assert_eq!((s, r), (200, json!({"delivered":2,"pruned":0})));
    assert_eq!(
        recv(&mut b1).await,
        json!({"type":"message","from":"$server","data":{"n":1}})
    );
    assert_eq!(recv(&mut b2).await["from"], "$server");
    let (s, r) = push(&l, json!({"op":"broadcast","data":"all"})).await;
    assert_eq!((s, r["delivered"].clone()), (200, json!(3)));
    for ws in [&mut a, &mut b1, &mut b2] {
        assert_eq!(recv(ws).await["data"], "all");
    }
    let (s, r) = push(&l, json!({"op":"disconnectUser","userId":"bob"})).await;
    assert_eq!((s, r), (200, json!({"disconnected":2})));
    expect_close(&mut b1, Duration::from_secs(5)).await;
    expect_close(&mut b2, Duration::from_secs(5)).await;
    assert_pong(&mut a).await;
    let (s, _) = push(&l, json!({"op":"explode"})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn graceful_shutdown_closes_every_connection_with_1001() {
    let mut l = local().await;
    let mut a = l.open("alice", "").await;
    let mut b = l.open("bob", "").await;
    l.stop().await;
    assert_eq!(
        expect_close(&mut a, Duration::from_secs(5)).await.0,
        Some(1001)
    );
    assert_eq!(
        expect_close(&mut b, Duration::from_secs(5)).await.0,
        Some(1001)
    );
    assert_eq!(l.gateway.connection_count(), 0, "every $disconnect ran");
}

#[tokio::test]
async fn user_ids_named_by_clients_and_backends_follow_the_user_id_rule() {
    let l = local().await;
    let mut ws = l.open("alice", SEND).await;
    for to in ["$server", "bob\nadmin", &"b".repeat(513), ""] {
        let r = request(&mut ws, json!({"action":"sendToUser","to": to,"data":1})).await;
        assert_eq!(r["code"], "bad_request", "{to:?}: {r}");
    }
    for user in ["$server", "bob\u{0}", &"b".repeat(513)] {
        let (s, _) = push(&l, json!({"op":"sendToUser","userId": user,"data":1})).await;
        assert_eq!(s, 400, "{user:?}");
        let (s, _) = push(&l, json!({"op":"disconnectUser","userId": user})).await;
        assert_eq!(s, 400, "{user:?}");
    }
}

/// `logoutUser` closes every connection of the user, and the same tokens stay refused at the
/// handshake (401) and by `refresh`; a token issued after `revokedBefore` (now plus the leeway:
/// an IdP clock ahead of ours) connects.
async fn logout_user_sticks(store: StoreKind) {
    let mut opts = fresh_tables(GatewayOptions::default());
    opts.settings.set("WSAUTH_LEEWAY_SECONDS", Some("2"));
    let l = Local::dev(opts, store).await;
    let t1 = l.token("alice", SEND, 600);
    let t2 = l.token("alice", SEND, 600);
    let mut a1 = connect(&l.url(), &t1, Via::Subprotocol).await.unwrap();
    let mut a2 = connect(&l.url(), &t2, Via::Subprotocol).await.unwrap();
    let mut b = l.open("bob", SEND).await;
    let (s, r) = push(&l, json!({"op":"logoutUser","userId":"alice"})).await;
    assert_eq!((s, &r["disconnected"]), (200, &json!(2)), "{r}");
    let t = r["revokedBefore"].as_i64().unwrap();
    assert!(
        t >= claim(&t2, "iat").as_i64().unwrap() + 2,
        "now plus the leeway: {r}"
    );
    expect_close(&mut a1, Duration::from_secs(5)).await;
    expect_close(&mut a2, Duration::from_secs(5)).await;
    assert_pong(&mut b).await;
    for token in [&t1, &t2] {
        let again = connect(&l.url(), token, Via::Subprotocol).await;
        assert_eq!(again.err(), Some(401), "a logged-out token reconnects");
    }
    after_second(t).await;
    let t3 = l.token("alice", SEND, 600);
    let mut a3 = connect(&l.url(), &t3, Via::Subprotocol)
        .await
        .expect("a token issued after the logout connects");
    assert_pong(&mut a3).await;
    let r = request(&mut a3, json!({"action":"refresh","token":t1})).await;
    assert_eq!(r["code"], "invalid_token", "{r}");
    let r = request(
        &mut a3,
        json!({"action":"refresh","token":l.token("alice", SEND, 900)}),
    )
    .await;
    assert_eq!(r["type"], "refreshed", "{r}");
    // `disconnectUser` still only closes: the same token reconnects.
    let (s, r) = push(&l, json!({"op":"disconnectUser","userId":"alice"})).await;
    assert_eq!((s, r), (200, json!({"disconnected":1})));
    expect_close(&mut a3, Duration::from_secs(5)).await;
    assert_pong(&mut connect(&l.url(), &t3, Via::Subprotocol).await.unwrap()).await;
}

#[tokio::test]
async fn logout_user_sticks_memory() {
    logout_user_sticks(StoreKind::Memory).await;
}

#[tokio::test]
async fn logout_user_sticks_dynamodb_local() {
    logout_user_sticks(StoreKind::Dynamodb).await;
}

/// The holder of a token reconnecting in 20 loops cannot hold its own logout off: every
/// handshake (refused ones too) condition-checks the user's revocation in a transaction, and
/// each `logoutUser` during the flood still answers 200.
#[tokio::test]
async fn logout_user_answers_200_under_a_flood_of_20_reconnect_loops() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let l =
        Arc::new(Local::dev(fresh_tables(GatewayOptions::default()), StoreKind::Dynamodb).await);
    let stop = Arc::new(AtomicBool::new(false));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = (0..20)
        .map(|_| {
            let (l, stop, handshakes) = (l.clone(), stop.clone(), handshakes.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let t = l.token("flooder", SEND, 600);
                    let _ = connect(&l.url(), &t, Via::Subprotocol).await;
                    handshakes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (s, r) = push(&l, json!({"op":"logoutUser","userId":"flooder"})).await;
        statuses.push((s, r));
    }
    stop.store(true, Ordering::Relaxed);
    for h in loops {
        h.await.unwrap();
    }
    assert!(handshakes.load(Ordering::Relaxed) >= 20, "the flood ran");
    for (s, r) in &statuses {
        assert_eq!(*s, 200, "{r}");
    }
}

/// `logoutSession` ends one session (the dev issuer's tokens: one `jti` each) and leaves the
/// user's other session working.
async fn logout_session_ends_one_session(store: StoreKind) {
    let l = Local::dev(fresh_tables(GatewayOptions::default()), store).await;
    let phone = l.token("alice", SEND, 600);
    let laptop = l.token("alice", SEND, 600);
    let mut p1 = connect(&l.url(), &phone, Via::Subprotocol).await.unwrap();
    let mut p2 = connect(&l.url(), &phone, Via::Subprotocol).await.unwrap();
    let mut l1 = connect(&l.url(), &laptop, Via::Subprotocol).await.unwrap();
    let session = claim(&phone, "jti");
    let (s, r) = push(&l, json!({"op":"logoutSession","sessionId":session})).await;
    assert_eq!((s, &r["disconnected"]), (200, &json!(2)), "{r}");
    expect_close(&mut p1, Duration::from_secs(5)).await;
    expect_close(&mut p2, Duration::from_secs(5)).await;
    assert_pong(&mut l1).await;
    assert_eq!(
        connect(&l.url(), &phone, Via::Subprotocol).await.err(),
        Some(401)
    );
    assert_pong(&mut connect(&l.url(), &laptop, Via::Subprotocol).await.unwrap()).await;
    let (s, _) = push(&l, json!({"op":"logoutSession","sessionId":"a\nb"})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn logout_session_ends_one_session_memory() {
    logout_session_ends_one_session(StoreKind::Memory).await;
}

#[tokio::test]
async fn logout_session_ends_one_session_dynamodb_local() {
    logout_session_ends_one_session(StoreKind::Dynamodb).await;
}

/// Handshakes raced against a logout of their user, many times: whatever the interleaving, no
/// binding of a revoked token is left, and no socket that opened still answers.
async fn a_connect_racing_a_logout_never_leaves_a_live_binding(store: StoreKind) {
    use futures_util::SinkExt;
    const USERS: usize = 12;
    const CONNECTS: usize = 3;
    let l = Local::dev(fresh_tables(GatewayOptions::default()), store).await;
    let round = |i: usize| {
        let l = &l;
        async move {
            let user = format!("racer-{i}");
            let token = l.token(&user, SEND, 600);
            let connects = futures_util::future::join_all((0..CONNECTS).map(|k| {
                let token = token.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis((k * 3 + i % 4) as u64)).await;
                    connect(&l.url(), &token, Via::Subprotocol).await
                }
            }));
            let logout = async {
                tokio::time::sleep(Duration::from_millis((i % 5) as u64 * 2)).await;
                push(l, json!({"op":"logoutUser","userId":user})).await
            };
            let (opened, (status, r)) = tokio::join!(connects, logout);
            assert_eq!(status, 200, "{r}");
            (user, opened, r["revokedBefore"].as_i64().unwrap())
        }
    };
    // Three races at a time: with --lambdas each function runs one instance here, and a logout
    // on DynamoDB lasts over a second (it sweeps again after the index delay).
    let mut rounds = Vec::new();
    for batch in (0..USERS).collect::<Vec<_>>().chunks(3) {
        rounds.extend(futures_util::future::join_all(batch.iter().map(|&i| round(i))).await);
    }
    let (mut refused, mut open) = (0, 0);
    for (user, opened, revoked_before) in rounds {
        let left: Vec<_> = l
            .gateway
            .store()
            .user_bindings(&user)
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.issued_by(revoked_before))
            .collect();
        assert!(
            left.is_empty(),
            "{user}: bindings left after the logout: {left:?}"
        );
        for attempt in opened {
            match attempt {
                Err(status) => {
                    assert_eq!(status, 401, "{user}");
                    refused += 1;
                }
                Ok(mut ws) => {
                    open += 1;
                    let _ = ws
                        .send(tokio_tungstenite::tungstenite::Message::Text(
                            r#"{"action":"ping"}"#.into(),
                        ))
                        .await;
                    loop {
                        match next(&mut ws, Duration::from_secs(5)).await {
                            Seen::Closed(..) => break,
                            Seen::Json(v) => {
                                assert_ne!(
                                    v["type"], "pong",
                                    "{user}: a logged-out socket answers"
                                );
                            }
                            Seen::Timeout => panic!("{user}: a socket neither closed nor refused"),
                        }
                    }
                }
            }
        }
    }
    println!("{USERS} races: {open} handshakes got through and were swept, {refused} refused");
}

#[tokio::test]
async fn a_connect_racing_a_logout_never_leaves_a_live_binding_memory() {
    a_connect_racing_a_logout_never_leaves_a_live_binding(StoreKind::Memory).await;
}

#[tokio::test]
async fn a_connect_racing_a_logout_never_leaves_a_live_binding_dynamodb_local() {
    a_connect_racing_a_logout_never_leaves_a_live_binding(StoreKind::Dynamodb).await;
}
