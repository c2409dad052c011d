//! wsauth-local refuses what API Gateway refuses and fails the way it fails: each behaviour
//! shown with a real WebSocket client (and the real management SDK client) against the real
//! wsauth-local.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use wsauth_local::{GatewayOptions, StoreKind};
use wsauth_routes::{MessageContext, RouteError, RouteHandler, Router};

const SEND: &str = "messages:send";

/// A route that panics, one that takes 3 s, and one that takes 3 s and counts its ends.
struct Panics;
struct Slow;
struct SlowCounted;

/// How many `SlowCounted` invocations ran to their end.
static SLOW_ENDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[async_trait]
impl RouteHandler for SlowCounted {
    async fn handle(&self, _: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        tokio::time::sleep(Duration::from_secs(3)).await;
        SLOW_ENDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(json!({"type": "slow"})))
    }
}

#[async_trait]
impl RouteHandler for Panics {
    async fn handle(&self, _: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        panic!("a bug in an application route");
    }
}

#[async_trait]
impl RouteHandler for Slow {
    async fn handle(&self, _: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(Some(json!({"type": "slow"})))
    }
}

async fn with_faulty_routes() -> Local {
    let add = |r: Router| {
        r.route("explode", vec![], Arc::new(Panics))?
            .route("slow", vec![], Arc::new(Slow))
    };
    let opts = GatewayOptions {
        function_timeout: Duration::from_secs(1),
        ..GatewayOptions::default()
    };
    Local::dev_with_routes(opts, StoreKind::Memory, Box::new(add)).await
}

fn is_internal_server_error(v: &Value, connection_id: &str) -> bool {
    v["message"] == "Internal server error"
        && v["connectionId"] == connection_id
        && v["requestId"].as_str().is_some_and(|r| !r.is_empty())
}

#[tokio::test]
async fn a_crashing_route_answers_internal_server_error_and_the_connection_stays() {
    let l = with_faulty_routes().await;
    let (mut ws, me) = l.open_with_id("alice", SEND).await;
    let r = request(&mut ws, json!({"action": "explode"})).await;
    assert!(is_internal_server_error(&r, &me), "{r}");
    assert_pong(&mut ws).await;
}

/// Answers `{"type":"noted"}`, counting the messages it handled.
#[derive(Clone, Default)]
struct Noted(Arc<std::sync::atomic::AtomicUsize>);

#[async_trait]
impl RouteHandler for Noted {
    async fn handle(&self, _: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(json!({"type": "noted"})))
    }
}

#[tokio::test]
async fn a_one_way_route_sends_nothing_back_not_even_its_errors_but_its_failure_is_reported() {
    let (noted, scoped) = (Noted::default(), Noted::default());
    let (n, s) = (noted.clone(), scoped.clone());
    let add = move |r: Router| {
        r.route_one_way("note", vec![], Arc::new(n))?
            .route_one_way("scoped", vec!["admin".into()], Arc::new(s))?
            .route_one_way("explodeQuietly", vec![], Arc::new(Panics))
    };
    let l =
        Local::dev_with_routes(GatewayOptions::default(), StoreKind::Memory, Box::new(add)).await;
    let (mut ws, me) = l.open_with_id("alice", SEND).await;
    // The handler runs and replies, and API Gateway drops the reply: no route response.
    send(&mut ws, json!({"action": "note", "id": "n1"})).await;
    // Its refusals are replies too: a missing scope's `forbidden` never arrives either.
    send(&mut ws, json!({"action": "scoped", "id": "n2"})).await;
    assert_eq!(
        next(&mut ws, Duration::from_millis(500)).await,
        Seen::Timeout
    );
    let count = |c: &Noted| c.0.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        (count(&noted), count(&scoped)),
        (1, 0),
        "note ran, scoped was refused"
    );
    // A failing integration is API Gateway's own frame, sent whether or not the route answers.
    let r = request(&mut ws, json!({"action": "explodeQuietly"})).await;
    assert!(is_internal_server_error(&r, &me), "{r}");
    // A two-way route on the same connection still answers.
    assert_pong(&mut ws).await;
    // A session that is over ends on a one-way route too: its `session_expired` is posted
    // through @connections before the close, which no route response is needed for.
    let mut short = connect(&l.url(), &l.token("bob", "", 1), Via::Subprotocol)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    send(&mut short, json!({"action": "note"})).await;
    assert_eq!(recv(&mut short).await["code"], "session_expired");
    assert_eq!(
        expect_close(&mut short, Duration::from_secs(5)).await.0,
        Some(1000)
    );
}

#[tokio::test]
async fn a_slow_route_times_out_without_holding_the_next_message() {
    let l = with_faulty_routes().await;
    let mut ws = l.open("alice", SEND).await;
    send(&mut ws, json!({"action": "slow"})).await;
    send(&mut ws, json!({"action": "ping"})).await;
    // The ping overtakes the slow message (invocations are concurrent, replies unordered)…
    assert_eq!(recv(&mut ws).await["type"], "pong");
    // …and the slow one ends at the function timeout (1 s here) with API Gateway's frame.
    let r = recv(&mut ws).await;
    assert_eq!(r["message"], "Internal server error", "{r}");
    assert_pong(&mut ws).await;
}

#[tokio::test]
async fn a_frame_over_32_kib_closes_with_1009_but_a_fragmented_100_kib_message_is_accepted() {
    let l = local().await;
    let mut ws = l.open("alice", SEND).await;
    // 100 KiB in four frames of 25 KiB: one message, within 128 KiB.
    let text = json!({"action": "ping", "pad": "p".repeat(100 * 1024)}).to_string();
    let bytes = text.as_bytes();
    let quarter = bytes.len().div_ceil(4);
    for (i, chunk) in bytes.chunks(quarter).enumerate() {
        let last = (i + 1) * quarter >= bytes.len();
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(chunk.to_vec(), opcode, last);
        ws.send(Message::Frame(frame)).await.unwrap();
    }
    assert_eq!(recv(&mut ws).await["type"], "pong");
    // One 40 KiB frame: over API Gateway's frame limit.
    let big = json!({"action": "ping", "pad": "p".repeat(40 * 1024)}).to_string();
    send_text(&mut ws, &big).await;
    let (code, _) = expect_close(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(code, Some(1009));
}

async fn local() -> Local {
    Local::dev(GatewayOptions::default(), StoreKind::Memory).await
}

#[tokio::test]
async fn a_client_that_never_reads_gets_429_on_its_pushes() {
    let l = local().await;
    let (ws, me) = l.open_with_id("bob", SEND).await;
    // From now on bob reads nothing: socket buffers fill, then the bounded queue.
    let client = management_client(&l).await;
    let payload = vec![b'x'; 64 * 1024];
    let mut limited = 0;
    for _ in 0..2000 {
        let r = post_via(&client, &me, payload.clone()).await;
        if let Err(e) = r {
            assert!(
                e.as_service_error()
                    .is_some_and(|e| e.is_limit_exceeded_exception()),
                "{e:?}"
            );
            limited += 1;
            if limited == 3 {
                break;
            }
        }
    }
    assert_eq!(
        limited, 3,
        "the queue is bounded: pushes are refused with 429"
    );
    drop(ws);
}

#[tokio::test]
async fn management_calls_need_a_sigv4_signature_with_wsauth_locals_credentials() {
    let l = local().await;
    let (mut ws, me) = l.open_with_id("alice", SEND).await;
    assert!(me.ends_with('='), "an ID shaped like API Gateway's: {me}");
    // Unsigned.
    let url = l.http(&format!("/dev/@connections/{}", me.replace('=', "%3D")));
    let host = l.addr.to_string();
    let (status, body) = http_request("POST", &url, &host, "application/json", "{}").await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Missing Authentication Token");
    // Signed with another secret, or by an access key it does not know: 403 ForbiddenException
    // (the contract's type) with AWS's message for each.
    use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata as _;
    let wrong = management_client_with_secret(&l, "not-the-secret").await;
    let err = post_via(&wrong, &me, b"{}".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some("ForbiddenException"), "{err:?}");
    assert!(
        err.message().is_some_and(|m| m.starts_with(
            "The request signature we calculated does not match the signature you provided."
        )),
        "{err:?}"
    );
    let stranger = management_client_with_key(&l, "AKIDSTRANGER", "local").await;
    let err = post_via(&stranger, &me, b"{}".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some("ForbiddenException"), "{err:?}");
    assert_eq!(
        err.message(),
        Some("The security token included in the request is invalid.")
    );
    // Signed right, with the `=` of the ID percent-encoded in the path: delivered.
    let right = management_client(&l).await;
    post_via(&right, &me, br#"{"ok":1}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(recv(&mut ws).await, json!({"ok": 1}));
}

#[tokio::test]
async fn a_foreign_host_a_text_push_and_an_overlong_url_are_refused() {
    let l = local().await;
    let push = l.http("/_wsauth/push");
    let body = json!({"op": "broadcast", "data": 1}).to_string();
    let here = l.addr.to_string();
    let token = l.http("/_wsauth/dev/token");
    let home = l.http("/");
    let dev_body = r#"{"sub":"alice"}"#;
    let cases = [
        // DNS rebinding: a name that resolves here but is not this server's.
        (
            "POST",
            &push,
            "evil.example.com",
            "application/json",
            body.as_str(),
            403,
        ),
        ("GET", &home, "evil.example.com:3001", "text/html", "", 403),
        (
            "POST",
            &token,
            "attacker.test",
            "application/json",
            dev_body,
            403,
        ),
        // A cross-site form post: text/plain never reaches the push function.
        ("POST", &push, &here, "text/plain", body.as_str(), 415),
        (
            "POST",
            &token,
            &here,
            "application/x-www-form-urlencoded",
            "sub=alice",
            415,
        ),
    ];
    for (method, url, host, content_type, payload, want) in cases {
        let (s, _) = http_request(method, url, host, content_type, payload).await;
        assert_eq!(s, want, "{method} {url} Host: {host}, {content_type}");
    }
    // The loopback names and the listen address are fine.
    for host in [here.as_str(), "localhost:3001", "127.0.0.1", "[::1]:9"] {
        let (s, v) = http_request(
            "POST",
            &push,
            host,
            "application/json; charset=utf-8",
            &body,
        )
        .await;
        assert_eq!((s, v["delivered"].as_u64()), (200, Some(0)), "{host}");
    }
    let long = l.http(&format!("/dev?pad={}", "a".repeat(4100)));
    let (s, _) = http_request("GET", &long, &here, "text/plain", "").await;
    assert_eq!(s, 414);
}

#[tokio::test]
async fn a_lost_disconnect_leaves_a_binding_that_the_next_push_prunes() {
    let opts = GatewayOptions {
        lose_disconnects: 1.0,
        ..GatewayOptions::default()
    };
    let l = Local::dev(opts, StoreKind::Memory).await;
    let mut ws = l.open("bob", SEND).await;
    assert_pong(&mut ws).await;
    ws.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        l.gateway.store().user_bindings("bob").await.unwrap().len(),
        1
    );
    // A binding is pruned on a 410 once it is older than the grace (younger, the connection may
    // still be completing its handshake): the binding is made as old as that, rather than the
    // test waiting for it.
    let store = l.gateway.store();
    let mut b = store.user_bindings("bob").await.unwrap().remove(0);
    assert!(store.unbind(&b.connection_id).await.unwrap());
    b.connected_at -= (wsauth_routes::services::PRUNE_GRACE_SECONDS + 1) * 1000;
    store.bind(&b).await.unwrap();
    let (status, r) = push(&l, json!({"op": "sendToUser", "userId": "bob", "data": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(r, json!({"delivered": 0, "pruned": 1}));
    assert!(
        l.gateway
            .store()
            .user_bindings("bob")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn outgoing_data_keeps_a_connection_alive_and_silence_closes_it() {
    let opts = GatewayOptions {
        idle_timeout: Duration::from_secs(2),
        ..GatewayOptions::default()
    };
    let l = Local::dev(opts, StoreKind::Memory).await;
    let mut fed = l.open("bob", SEND).await;
    let mut silent = l.open("carol", SEND).await;
    // Bob only receives (pushes every 500 ms for 3 s); carol neither sends nor receives.
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (s, _) = push(&l, json!({"op": "sendToUser", "userId": "bob", "data": i})).await;
        assert_eq!(s, 200);
        assert_eq!(recv(&mut fed).await["data"], i);
    }
    let (code, _) = expect_close(&mut silent, Duration::from_secs(2)).await;
    assert_eq!(code, Some(1001), "silence closes with 1001");
    assert_pong(&mut fed).await;
}

/// `with_faulty_routes`, with other options.
async fn faulty_routes_with(opts: GatewayOptions) -> Local {
    let add = |r: Router| {
        r.route("explode", vec![], Arc::new(Panics))?
            .route("slow", vec![], Arc::new(Slow))?
            .route("slow_counted", vec![], Arc::new(SlowCounted))
    };
    Local::dev_with_routes(opts, StoreKind::Memory, Box::new(add)).await
}

/// Lambda throttles beyond the concurrency at once, rather than queueing: with one invocation at
/// a time, a message arriving while the slow one runs is refused with API Gateway's frame before
/// the slow one answers, and a push gets 429.
#[tokio::test]
async fn beyond_the_concurrency_limit_a_message_is_throttled_at_once() {
    let l = faulty_routes_with(GatewayOptions {
        concurrency: 1,
        ..GatewayOptions::default()
    })
    .await;
    let (mut ws, me) = l.open_with_id("alice", SEND).await;
    send(&mut ws, json!({"action": "slow"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut ws, json!({"action": "ping"})).await;
    let first = recv(&mut ws).await;
    assert!(is_internal_server_error(&first, &me), "{first}");
    // The four functions share the limit: a push meanwhile is throttled too, as Lambda's Invoke
    // answers it (429).
    let (status, r) = push(&l, json!({"op": "broadcast", "data": 1})).await;
    assert_eq!(status, 429, "{r}");
    assert_eq!(recv(&mut ws).await["type"], "slow");
    // The slot is free again.
    assert_pong(&mut ws).await;
}

/// Past API Gateway's integration timeout (29 s; 1 s here), a message gets `Endpoint request
/// timed out`, not the `Internal server error` of a function that failed or hit its own timeout.
#[tokio::test]
async fn an_integration_past_the_integration_timeout_answers_endpoint_request_timed_out() {
    let l = faulty_routes_with(GatewayOptions {
        function_timeout: Duration::from_secs(10),
        integration_timeout: Duration::from_secs(1),
        ..GatewayOptions::default()
    })
    .await;
    let (mut ws, me) = l.open_with_id("alice", SEND).await;
    let r = request(&mut ws, json!({"action": "slow_counted"})).await;
    assert_eq!(r["message"], "Endpoint request timed out", "{r}");
    assert_eq!(r["connectionId"], me.as_str());
    assert!(
        r["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "{r}"
    );
    // The slow invocation still runs to its end (API Gateway only stopped waiting); its late
    // reply is not delivered.
    assert_eq!(SLOW_ENDS.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(
        next(&mut ws, Duration::from_millis(4000)).await,
        Seen::Timeout
    );
    assert_eq!(SLOW_ENDS.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_pong(&mut ws).await;
}

/// The account's new-connection rate (`--throttle-connections`): a burst of 2, refilled at one
/// per 1,000 s: the third handshake in a row is refused with 429.
#[tokio::test]
async fn beyond_the_connection_rate_a_handshake_gets_429() {
    let l = Local::dev(
        GatewayOptions {
            throttle_connections: Some("0.001/s:2".parse().unwrap()),
            ..GatewayOptions::default()
        },
        StoreKind::Memory,
    )
    .await;
    let token = l.token("alice", SEND, 600);
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(connect(&l.url(), &token, Via::Subprotocol).await.err());
    }
    assert_eq!(results, [None, None, Some(429)]);
}

/// The account's request rate (`--throttle-requests`) on @connections: a burst of 2, then 429
/// `LimitExceededException`; every answer, refusals included, carries `x-amzn-RequestId`.
#[tokio::test]
async fn beyond_the_request_rate_management_calls_get_429_and_every_answer_has_a_request_id() {
    use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata as _;
    use aws_sdk_apigatewaymanagement::operation::RequestId as _;
    let l = Local::dev(
        GatewayOptions {
            throttle_requests: Some("0.001/s:2".parse().unwrap()),
            ..GatewayOptions::default()
        },
        StoreKind::Memory,
    )
    .await;
    let (_ws, me) = l.open_with_id("alice", SEND).await;
    // Retries off: each call is one request, as the bucket counts them.
    let sdk = management_client(&l).await;
    let client = aws_sdk_apigatewaymanagement::Client::from_conf(
        sdk.config()
            .to_builder()
            .retry_config(aws_sdk_apigatewaymanagement::config::retry::RetryConfig::disabled())
            .build(),
    );
    let get = || client.get_connection().connection_id(&me).send();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = get().await.unwrap();
        ids.push(out.request_id().unwrap().to_owned());
    }
    let err = get().await.unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(429));
    assert_eq!(err.code(), Some("LimitExceededException"), "{err:?}");
    ids.push(err.meta().request_id().unwrap().to_owned());
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert_eq!(id.len(), 36, "{id}");
    }
    assert_ne!(ids[0], ids[1]);
}

/// A WebSocket to wsauth-local's listener, with `Host: {host}` and the path `path`: a client of
/// a custom domain that resolves to the API.
async fn connect_as(l: &Local, host: &str, path: &str, token: &str) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let mut req = format!("ws://{}{path}", l.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("host", HeaderValue::from_str(host).unwrap());
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("wsauth, bearer.{token}")).unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

/// The custom domain the next test maps: its base path `chat` reaches the stage `dev`.
const CUSTOM_DOMAIN: &str = "chat.example.com/chat";

#[tokio::test]
async fn the_endpoint_comes_from_the_event_and_a_custom_domain_base_path_needs_the_override() {
    let opts = GatewayOptions {
        custom_domain: Some(CUSTOM_DOMAIN.parse().unwrap()),
        ..GatewayOptions::default()
    };
    let l = Local::dev(opts.clone(), StoreKind::Memory).await;
    let to = |user: &str, n: u32| json!({"op": "sendToUser", "userId": user, "data": {"n": n}});

    // At the API's own address the functions derive the endpoint as on AWS,
    // https://{domainName}/{stage}, with domainName the Host without its port; the call, signed
    // for that endpoint, is answered by wsauth-local.
    let (mut ws, me) = l.open_with_id("alice", SEND).await;
    let b = l.gateway.store().get(&me).await.unwrap().unwrap();
    assert_eq!(b.endpoint, "https://127.0.0.1/dev");
    let (status, r) = push(&l, to("alice", 1)).await;
    assert_eq!((status, r["delivered"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(recv(&mut ws).await["data"], json!({"n": 1}));

    // At the custom domain the base path reaches the stage and the stage's name does not.
    let token = l.token("bob", SEND, 600);
    assert_eq!(
        connect_as(&l, "chat.example.com", "/dev", &token)
            .await
            .err(),
        Some(403)
    );
    let mut bob = connect_as(&l, "chat.example.com", "/chat", &token)
        .await
        .unwrap();
    assert_pong(&mut bob).await;
    let b = l.gateway.store().user_bindings("bob").await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].endpoint, "https://chat.example.com/dev");
    // So the derived endpoint fails there, as it fails on AWS: the domain maps no `/dev` (403,
    // which prunes nothing: the binding stays).
    let (status, r) = push(&l, to("bob", 2)).await;
    assert_eq!(status, 200);
    assert_eq!(r, json!({"delivered": 0, "pruned": 0}));
    assert_eq!(
        l.gateway.store().user_bindings("bob").await.unwrap().len(),
        1
    );

    // The custom domain reaches the stage only: wsauth-local's own endpoints refuse it (a name
    // someone else's DNS answers for must not open push or dev tokens to a rebinding page).
    let push_body = to("bob", 9).to_string();
    for (method, path, body) in [
        ("POST", "/_wsauth/push", push_body.as_str()),
        ("POST", "/_wsauth/dev/token", r#"{"sub":"bob"}"#),
        ("GET", "/", ""),
    ] {
        let (status, _) = http_request(
            method,
            &l.http(path),
            "chat.example.com",
            "application/json",
            body,
        )
        .await;
        assert_eq!(status, 403, "{method} {path} at the custom domain");
    }

    // An IPv6 Host keeps its brackets in domainName, so the derived endpoint is a URL.
    let token = l.token("dave", SEND, 600);
    let mut dave = connect_as(&l, &format!("[::1]:{}", l.addr.port()), "/dev", &token)
        .await
        .unwrap();
    let b = l.gateway.store().user_bindings("dave").await.unwrap();
    assert_eq!(b[0].endpoint, "https://[::1]/dev");
    let (status, r) = push(&l, to("dave", 4)).await;
    assert_eq!((status, r["delivered"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(recv(&mut dave).await["data"], json!({"n": 4}));

    // With the override the deploy documents for custom domains, it is delivered.
    let mut opts = opts;
    opts.settings.set(
        "WSAUTH_MANAGEMENT_ENDPOINT",
        Some("https://chat.example.com/chat"),
    );
    let l = Local::dev(opts, StoreKind::Memory).await;
    let token = l.token("carol", SEND, 600);
    let mut carol = connect_as(&l, "chat.example.com", "/chat", &token)
        .await
        .unwrap();
    let (status, r) = push(&l, to("carol", 3)).await;
    assert_eq!((status, r["delivered"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(recv(&mut carol).await["data"], json!({"n": 3}));
}
