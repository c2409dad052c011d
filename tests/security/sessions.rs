//! Session-binding attacks and hostile frames, on live connections.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{self, Seen, expect_close, next, recv, request, send, send_text};
use crate::env::{Env, WAIT};
use crate::{Check, said};

fn close_code(c: (Option<u16>, String)) -> String {
    c.0.map_or("none".into(), |c| c.to_string())
}

/// Identity spoofing (OWASP "mass assignment"): a body naming another `connectionId` or
/// `userId` acts as the sender only.
pub async fn body_cannot_override_identity(env: &Env) -> Check {
    let mut alice = env.open("alice", "messages:send", 600).await;
    let mut bob = env.open("bob", "", 600).await;
    let bob_conn = request(&mut bob, json!({"action":"whoami"})).await["connectionId"].clone();
    let who = request(
        &mut alice,
        json!({"action":"whoami","connectionId":bob_conn,"userId":"bob"}),
    )
    .await;
    let sent = request(
        &mut alice,
        json!({"action":"sendToUser","to":"bob","data":"x","from":"bob","userId":"bob","connectionId":bob_conn}),
    )
    .await;
    let got = recv(&mut bob).await;
    Check::new(
        "whoami alice (own connection), message from alice",
        &format!(
            "whoami {} ({} connection), message from {} ({} delivered)",
            who["userId"].as_str().unwrap_or("-"),
            if who["connectionId"] == bob_conn {
                "bob's"
            } else {
                "own"
            },
            got["from"].as_str().unwrap_or("-"),
            sent["delivered"]
        ),
    )
    .pass_if(who["userId"] == "alice" && who["connectionId"] != bob_conn && got["from"] == "alice")
}

/// Session fixation / stale binding: after `$disconnect` the old connection ID is refused by
/// the management API (410) and has no binding.
pub async fn disconnected_id_is_gone_and_unbound(env: &Env) -> Check {
    // A user of its own: the push below must meet this connection only.
    const USER: &str = "gone-alice";
    let mut ws = env.open(USER, "", 600).await;
    let conn = request(&mut ws, json!({"action":"whoami"})).await["connectionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let _ = ws.close(None).await;
    let store = env.main.gateway.store().clone();
    let is_bound = || async { store.get(&conn).await.ok().flatten().is_some() };
    // $disconnect runs as the close completes.
    let mut bound = true;
    for _ in 0..50 {
        bound = is_bound().await;
        if !bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = common::management_client(&env.main).await;
    let post = common::post_via(&client, &conn, b"hi".to_vec()).await;
    let gone = post
        .as_ref()
        .err()
        .and_then(|e| e.as_service_error())
        .is_some_and(|e| e.is_gone_exception());
    // API Gateway may lose a `$disconnect` (the lossy run loses 5%): then the binding must go
    // with the next push to the user, which meets 410 and prunes it. The binding is aged past
    // the prune grace rather than the check waiting for it.
    let mut lost = "";
    if bound {
        lost = " (its $disconnect lost: pruned by the next push)";
        if let Ok(Some(mut b)) = store.get(&conn).await
            && store.unbind(&conn).await.is_ok()
        {
            b.connected_at -= (wsauth_routes::services::PRUNE_GRACE_SECONDS + 1) * 1000;
            let _ = store.bind(&b).await;
        }
        let _ = common::push(
            &env.main,
            json!({"op": "sendToUser", "userId": USER, "data": 1}),
        )
        .await;
        bound = is_bound().await;
    }
    let expected = "POST 410 GoneException, no binding";
    Check::new(
        expected,
        &format!(
            "POST {}, {}{lost}",
            if gone {
                "410 GoneException"
            } else {
                "accepted"
            },
            if bound { "STILL BOUND" } else { "no binding" }
        ),
    )
    .pass_if_prefix(expected)
}

/// RFC 7519 §4.1.4 after the handshake: a message after `exp` gets `session_expired` and the
/// connection closes.
pub async fn message_after_exp_is_session_expired(env: &Env) -> Check {
    let mut ws = env.open("alice", "", 2).await;
    let before = request(&mut ws, json!({"action":"ping"})).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    send(&mut ws, json!({"action":"ping"})).await;
    let err = recv(&mut ws).await;
    let closed = expect_close(&mut ws, WAIT).await;
    Check::new(
        "pong, then session_expired and close",
        &format!(
            "{}, then {} and close {}",
            before["type"].as_str().unwrap_or("-"),
            err["code"].as_str().unwrap_or("-"),
            close_code(closed)
        ),
    )
    .pass_if(before["type"] == "pong" && err["code"] == "session_expired")
}

/// Session takeover: `refresh` with another user's token is refused; the session is unchanged.
pub async fn refresh_with_another_users_token(env: &Env) -> Check {
    let mut ws = env.open("alice", "", 600).await;
    let before = request(&mut ws, json!({"action":"whoami"})).await;
    let bobs = env
        .keys
        .ec
        .mint(&crate::env::claims(
            "bob",
            "messages:send messages:broadcast",
            7200,
        ))
        .unwrap_or_default();
    env.remember(&bobs);
    let r = request(&mut ws, json!({"action":"refresh","token":bobs})).await;
    let after = request(&mut ws, json!({"action":"whoami"})).await;
    Check::new(
        "invalid_token, session unchanged",
        &format!(
            "{}, session {}",
            r["code"].as_str().or(r["type"].as_str()).unwrap_or("-"),
            said(before == after, "unchanged", "CHANGED")
        ),
    )
}

/// Broken function-level authorization: `sendToUser` without `messages:send` is `forbidden`.
pub async fn send_without_scope_is_forbidden(env: &Env) -> Check {
    let mut ws = env.open("mallory", "", 600).await;
    let mut bob = env.open("bob", "", 600).await;
    let r = request(
        &mut ws,
        json!({"action":"sendToUser","to":"bob","data":"spam"}),
    )
    .await;
    let leaked = next(&mut bob, Duration::from_millis(300)).await;
    Check::new(
        "forbidden, nothing delivered",
        &format!(
            "{}, {}",
            r["code"].as_str().unwrap_or("-"),
            said(leaked == Seen::Timeout, "nothing delivered", "DELIVERED")
        ),
    )
}

/// "Log out everywhere": `disconnectUser` closes every connection of that user and only theirs.
pub async fn disconnect_user_closes_only_that_user(env: &Env) -> Check {
    let mut e1 = env.open("eve", "", 600).await;
    let mut e2 = env.open("eve", "", 600).await;
    let mut f = env.open("frank", "", 600).await;
    let (status, body) =
        common::push(&env.main, json!({"op":"disconnectUser","userId":"eve"})).await;
    let c1 = close_code(expect_close(&mut e1, WAIT).await);
    let c2 = close_code(expect_close(&mut e2, WAIT).await);
    let frank = request(&mut f, json!({"action":"ping"})).await;
    let left = env
        .main
        .gateway
        .store()
        .user_bindings("eve")
        .await
        .map(|v| v.len())
        .unwrap_or(99);
    Check::new(
        "200 {disconnected:2}, both closed, no binding left, frank still served",
        &format!(
            "{status} {body}, closed {c1}/{c2}, {left} binding(s) left, frank {}",
            frank["type"].as_str().unwrap_or("-")
        ),
    )
    .pass_if(
        status == 200 && body == json!({"disconnected":2}) && left == 0 && frank["type"] == "pong",
    )
}

/// Predictable session IDs (CWE-330): 1,000 connection IDs are distinct, each of 11 random
/// bytes (16 characters ending in `=`, as API Gateway's), with no sequence.
pub async fn connection_ids_are_random(env: &Env) -> Check {
    use base64::Engine as _;
    let mut ids = Vec::new();
    for _ in 0..1000 {
        let Some(id) = wsauth_local::ids::connection_id() else {
            return Check::new("1000 distinct 11-byte random IDs", "CSPRNG failed");
        };
        ids.push(id);
    }
    // And some issued by the live gateway.
    for _ in 0..20 {
        let mut ws = env.open("ids", "", 600).await;
        let c = request(&mut ws, json!({"action":"whoami"})).await["connectionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ids.push(c);
    }
    let decoded: Vec<Vec<u8>> = ids
        .iter()
        .map(|i| {
            base64::engine::general_purpose::URL_SAFE
                .decode(i)
                .unwrap_or_default()
        })
        .collect();
    let distinct = ids.iter().collect::<std::collections::HashSet<_>>().len();
    let n = wsauth_local::ids::CONNECTION_ID_BYTES;
    let all_n = decoded.iter().all(|d| d.len() == n) && ids.iter().all(|i| i.len() == 16);
    let ones: u64 = decoded
        .iter()
        .flatten()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    let bits = (decoded.len() * n * 8) as u64;
    let ratio = ones as f64 / bits as f64;
    // Consecutive IDs as 88-bit numbers: a counter would show a constant small step.
    let as_num = |d: &Vec<u8>| d.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b));
    let small_steps = decoded
        .windows(2)
        .filter(|w| as_num(&w[1]).abs_diff(as_num(&w[0])) < 1 << 32)
        .count();
    Check::new(
        "1020 distinct, 11 bytes each, bit ratio 0.49–0.51, no small steps",
        &format!(
            "{distinct} distinct, {} each, bit ratio {ratio:.3}, {small_steps} small steps",
            if all_n { "11 bytes" } else { "NOT 11 bytes" }
        ),
    )
    .pass_if(distinct == ids.len() && all_n && (0.49..=0.51).contains(&ratio) && small_steps == 0)
}

async fn frame_case(env: &Env, body: &str, want: &str) -> Check {
    let mut ws = env.open("alice", "messages:send", 600).await;
    send_text(&mut ws, body).await;
    let r = recv(&mut ws).await;
    let alive = request(&mut ws, json!({"action":"ping"})).await;
    Check::new(
        &format!("{want}, still open"),
        &format!(
            "{}, {}",
            r["code"].as_str().unwrap_or("-"),
            if alive["type"] == "pong" {
                "still open"
            } else {
                "CLOSED"
            }
        ),
    )
}

/// Hostile frame: not JSON.
pub async fn frame_not_json(env: &Env) -> Check {
    frame_case(env, "{\"action\": oops", "bad_request").await
}
/// Hostile frame: `action` is a number.
pub async fn frame_action_number(env: &Env) -> Check {
    frame_case(env, r#"{"action": 42}"#, "bad_request").await
}
/// Hostile frame: `action` is an object.
pub async fn frame_action_object(env: &Env) -> Check {
    frame_case(env, r#"{"action": {"$ne": null}}"#, "bad_request").await
}
/// Hostile frame: `action` 10 KB long.
pub async fn frame_action_10_kb(env: &Env) -> Check {
    let body = json!({"action": "a".repeat(10 * 1024)}).to_string();
    frame_case(env, &body, "unknown_action").await
}
/// Stack exhaustion: JSON nested 10,000 deep.
pub async fn frame_nested_10000_deep(env: &Env) -> Check {
    let body = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    frame_case(env, &body, "bad_request").await
}
/// API Gateway's limit: 128 KiB + 1 byte closes with 1009.
pub async fn frame_over_128_kib_closes_1009(env: &Env) -> Check {
    let mut ws = env.open("alice", "", 600).await;
    let pad = 128 * 1024 + 1 - r#"{"action":"ping","pad":""}"#.len();
    let body = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(pad));
    let len = body.len();
    send_text(&mut ws, &body).await;
    Check::new(
        "close 1009",
        &format!(
            "close {} ({len} bytes)",
            close_code(expect_close(&mut ws, WAIT).await)
        ),
    )
    .pass_if_prefix("close 1009")
}
/// API Gateway's behaviour: a binary frame closes with 1003.
pub async fn binary_frame_closes_1003(env: &Env) -> Check {
    let mut ws = env.open("alice", "", 600).await;
    let _ = ws
        .send(Message::Binary(vec![0u8, 159, 146, 150].into()))
        .await;
    Check::new(
        "close 1003",
        &format!("close {}", close_code(expect_close(&mut ws, WAIT).await)),
    )
}
/// Flooding: 1,000 messages in a burst from one client are each answered or refused, and the
/// server still serves others meanwhile.
pub async fn burst_of_1000_messages(env: &Env) -> Check {
    let mut flood = env.open("flood", "", 600).await;
    let mut other = env.open("other", "", 600).await;
    for i in 0..1000 {
        let frame = if i % 3 == 0 {
            "garbage".to_owned()
        } else {
            json!({"action":"ping"}).to_string()
        };
        if flood.send(Message::Text(frame.into())).await.is_err() {
            break;
        }
    }
    let other_reply = request(&mut other, json!({"action":"ping"})).await;
    let mut answered = 0;
    let mut refused = 0;
    while answered + refused < 1000 {
        match next(&mut flood, WAIT).await {
            Seen::Json(v) if v["type"] == "pong" => answered += 1,
            Seen::Json(v) if v["type"] == "error" => refused += 1,
            _ => break,
        }
    }
    Check::new(
        "1000 answered or refused, others served",
        &format!(
            "{} answered or refused ({answered} pong, {refused} error), others {}",
            answered + refused,
            if other_reply["type"] == "pong" {
                "served"
            } else {
                "NOT served"
            }
        ),
    )
    .pass_if(answered + refused == 1000 && other_reply["type"] == "pong")
}
