//! wsauth-client against a real wsauth-local (in process, on 127.0.0.1 port 0, its dev issuer).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wsauth_client::{BoxError, Client, Error, Options, Reconnect, State};
use wsauth_local::devissuer::DevIssuer;
use wsauth_local::{GatewayOptions, IssuerMode, StoreKind};

struct Local {
    url: String,
    addr: std::net::SocketAddr,
    gateway: Arc<wsauth_local::Gateway>,
    dev: Arc<DevIssuer>,
    /// The dev issuer's directory, removed with the gateway.
    _dir: tempfile::TempDir,
}

async fn local(settings: &[(&'static str, &str)]) -> Local {
    let dir = tempfile::Builder::new()
        .prefix("wsauth-client-")
        .tempdir()
        .unwrap();
    let opts = GatewayOptions {
        settings: wsauth_settings::Settings::from_pairs(settings),
        ..GatewayOptions::default()
    };
    let (listener, running) = wsauth_local::bind(
        "127.0.0.1:0",
        opts,
        IssuerMode::Dev(dir.path().to_owned()),
        StoreKind::Memory,
    )
    .await
    .unwrap();
    let gateway = running.gateway.clone();
    tokio::spawn(wsauth_local::run(
        listener,
        running.gateway,
        std::future::pending::<()>(),
    ));
    Local {
        url: format!("ws://{}/dev", running.addr),
        addr: running.addr,
        gateway,
        dev: Arc::new(DevIssuer::load_or_create(dir.path()).unwrap()),
        _dir: dir,
    }
}

fn now() -> i64 {
    wsauth_settings::clock::now_epoch()
}

impl Local {
    /// Options for `sub` whose provider mints a token of `ttl` seconds, counting its calls.
    fn options(&self, sub: &str, ttl: i64) -> (Options, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let (dev, sub, counter) = (self.dev.clone(), sub.to_owned(), calls.clone());
        let mut o = Options::new(&self.url, move || {
            let (dev, sub, counter) = (dev.clone(), sub.clone(), counter.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                dev.mint(&sub, "messages:send messages:broadcast", ttl, now())
                    .map_err(BoxError::from)
            }
        });
        o.reconnect = Reconnect {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        (o, calls)
    }

    async fn push(&self, body: Value) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = body.to_string();
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "POST /_wsauth/push HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let json = text
            .find('{')
            .and_then(|i| text.rfind('}').map(|j| &text[i..=j]))
            .unwrap_or("null");
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }
}

async fn wait_for_state(client: &Client, want: State) {
    let mut states = client.states();
    tokio::time::timeout(Duration::from_secs(10), states.wait_for(|s| *s == want))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn connects_with_a_token_provider_and_whoami_send_to_user_and_a_push_arrive() {
    let l = local(&[]).await;
    let alice = Client::connect(l.options("alice", 600).0).unwrap();
    let bob = Client::connect(l.options("bob", 600).0).unwrap();
    let mut inbox = bob.messages();
    alice.ready().await.unwrap();
    bob.ready().await.unwrap();
    let who = alice.whoami().await.unwrap();
    assert_eq!(
        (who["type"].as_str(), who["userId"].as_str()),
        (Some("whoami"), Some("alice"))
    );
    let sent = alice.send_to_user("bob", json!({"hi": 1})).await.unwrap();
    assert_eq!(sent["delivered"], 1);
    let got = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        json!({"type":"message","from":"alice","data":{"hi":1}})
    );
    let (status, _) = l
        .push(json!({"op":"sendToUser","userId":"bob","data":"from the backend"}))
        .await;
    assert_eq!(status, 200);
    let got = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got["from"].as_str(), got["data"].as_str()),
        (Some("$server"), Some("from the backend"))
    );
    match alice.request("nope", json!({})).await {
        Err(Error::Server { code, .. }) => assert_eq!(code, "unknown_action"),
        other => panic!("{other:?}"),
    }
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn fifty_concurrent_requests_each_get_their_own_reply() {
    let l = local(&[]).await;
    let c = Client::connect(l.options("carol", 600).0).unwrap();
    c.ready().await.unwrap();
    let replies = futures_util::future::join_all((0..50).map(|i| {
        let c = &c;
        async move {
            c.request("sendToUser", json!({"to": format!("user-{i}"), "data": i}))
                .await
                .unwrap()
        }
    }))
    .await;
    let mut ids = std::collections::HashSet::new();
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r["type"], "sent");
        assert_eq!(
            r["to"],
            format!("user-{i}"),
            "the reply of this very request"
        );
        ids.insert(r["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 50);
    c.close().await;
}

#[tokio::test]
async fn a_session_whose_first_token_lives_5_s_is_still_authorized_15_s_later() {
    let l = local(&[("WSAUTH_LEEWAY_SECONDS", "0")]).await;
    let (o, tokens) = l.options("dave", 5);
    let c = Client::connect(o).unwrap();
    let mut states = c.states();
    c.ready().await.unwrap();
    states.borrow_and_update();
    let first = c.whoami().await.unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let later = c.whoami().await.unwrap();
    assert_eq!(
        later["connectionId"], first["connectionId"],
        "the same connection"
    );
    assert!(
        later["expiresAt"].as_i64() > first["expiresAt"].as_i64(),
        "renewed"
    );
    assert!(tokens.load(Ordering::SeqCst) >= 4, "{tokens:?} tokens");
    assert!(
        !states.has_changed().unwrap(),
        "never dropped: {:?}",
        *states.borrow()
    );
    c.close().await;
}

#[tokio::test]
async fn after_disconnect_user_the_client_reconnects_by_itself_with_a_new_token() {
    let l = local(&[]).await;
    let (o, tokens) = l.options("erin", 600);
    let c = Client::connect(o).unwrap();
    c.ready().await.unwrap();
    let before = c.whoami().await.unwrap();
    let tokens_before = tokens.load(Ordering::SeqCst);
    let (status, body) = l.push(json!({"op":"disconnectUser","userId":"erin"})).await;
    assert_eq!((status, body), (200, json!({"disconnected":1})));
    wait_for_state(&c, State::Reconnecting).await;
    wait_for_state(&c, State::Open).await;
    let after = c.whoami().await.unwrap();
    assert_ne!(after["connectionId"], before["connectionId"]);
    assert!(
        tokens.load(Ordering::SeqCst) > tokens_before,
        "a fresh token"
    );
    c.close().await;
}

#[tokio::test]
async fn with_every_token_refused_attempts_back_off() {
    let l = local(&[]).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let c = Client::connect(Options::new(&l.url, move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>("not.a.token".to_owned())
        }
    }))
    .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let n = attempts.load(Ordering::SeqCst);
    assert!((3..=6).contains(&n), "{n} attempts in 10 s");
    assert_eq!(c.state(), State::Reconnecting);
    assert_eq!(c.whoami().await, Err(Error::NotOpen));
    c.close().await;
    assert_eq!(c.ready().await, Err(Error::Closed));
}

#[tokio::test]
async fn a_handshake_that_never_completes_is_abandoned_and_close_returns_promptly() {
    // Accepts TCP, never upgrades.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let mut o = Options::new(format!("ws://{addr}/dev"), move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>("t".to_owned())
        }
    });
    o.request_timeout = Duration::from_millis(300);
    o.reconnect = Reconnect {
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(100),
    };
    let c = Client::connect(o).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        attempts.load(Ordering::SeqCst) >= 2,
        "abandoned and retried"
    );
    assert_eq!(c.state(), State::Reconnecting);
    assert_eq!(
        c.request("", json!({})).await,
        Err(Error::InvalidRequest("the action must not be empty"))
    );
    assert!(matches!(
        c.request("chat", json!([1])).await,
        Err(Error::InvalidRequest(_))
    ));
    tokio::time::timeout(Duration::from_secs(3), c.close())
        .await
        .expect("close returns promptly");
    assert_eq!(c.state(), State::Closed);
    held.abort();
}

#[tokio::test]
async fn close_leaves_no_task_and_no_socket_behind() {
    let l = local(&[]).await;
    let c = Client::connect(l.options("frank", 600).0).unwrap();
    c.ready().await.unwrap();
    c.whoami().await.unwrap();
    assert_eq!(l.gateway.connection_count(), 1);
    c.close().await;
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.whoami().await, Err(Error::Closed));
    for _ in 0..100 {
        if l.gateway.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(l.gateway.connection_count(), 0, "the socket is closed");
}

/// Options for `url` whose provider counts its calls and fails (so no connection is attempted).
fn counting_options(url: &str) -> (Options, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let o = Options::new(url, move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>(BoxError::from("no token in this test"))
        }
    });
    (o, calls)
}

#[tokio::test]
async fn plain_ws_to_a_host_that_is_not_loopback_is_refused_unless_allow_insecure() {
    let message = Error::InsecureUrl("example.com".to_owned()).to_string();
    assert!(message.contains("allow_insecure"), "{message}");
    for url in [
        "ws://example.com/dev",
        "ws://10.0.0.1:3001/dev",
        "ws://[2001:db8::1]/dev",
        "ws://localhost.example.com/dev",
        "ws://127.0.0.1.example.com/dev",
        "ws://[::ffff:127.0.0.1]/dev",
    ] {
        let (o, calls) = counting_options(url);
        match Client::connect(o) {
            Err(Error::InsecureUrl(host)) => assert!(url.contains(&host), "{url}: {host}"),
            Err(e) => panic!("{url}: {e:?}"),
            Ok(c) => {
                c.close().await;
                panic!("{url} accepted without allow_insecure");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{url}: no token fetched");
    }
    for url in [
        "http://localhost/dev",
        "localhost:3001",
        "ws:///dev",
        "not a url",
    ] {
        let (o, calls) = counting_options(url);
        assert!(
            matches!(Client::connect(o), Err(Error::InvalidUrl(_))),
            "{url}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{url}: no token fetched");
    }

    // Opting in: the client goes ahead (it asks for a token; this provider has none to give).
    let (mut o, calls) = counting_options("ws://example.com/dev");
    o.allow_insecure = true;
    let c = Client::connect(o).unwrap();
    for _ in 0..100 {
        if calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(calls.load(Ordering::SeqCst) > 0, "a token was asked for");
    c.close().await;

    // Loopback needs no opt-in, nor does wss://.
    for url in [
        "ws://localhost:3001/dev",
        "ws://LOCALHOST/dev",
        "ws://127.0.0.1:3001/dev",
        "ws://127.8.9.10/dev",
        "ws://[::1]:3001/dev",
        "wss://example.com/dev",
    ] {
        let c = Client::connect(counting_options(url).0).unwrap();
        c.close().await;
    }
}

#[tokio::test]
async fn ws_to_localhost_connects_without_allow_insecure() {
    let l = local(&[]).await;
    let (mut o, _) = l.options("grace", 600);
    o.url = format!("ws://localhost:{}/dev", l.addr.port());
    let c = Client::connect(o).unwrap();
    c.ready().await.unwrap();
    assert_eq!(c.whoami().await.unwrap()["userId"], "grace");
    c.close().await;
}
