//! The client side of the soak: connections opened (the token in the subprotocol list) and
//! reopened when churned or dropped, the numbered sends, and every frame that arrives accounted
//! for (replies, deliveries and their latencies, misdeliveries, duplicates); and the warm-up's
//! traffic, the same mix, not accounted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_devkit::Keys;

use super::{AUDIENCE, ISSUER, Res};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What happened to one numbered message.
#[derive(Default, Clone)]
pub(super) struct Sent {
    /// When it was sent (seconds on the shared clock, [`Shared::now`]).
    pub(super) at: f64,
    /// The user it was sent to (`sendToUser`); `None` for a `ping`.
    pub(super) to_user: Option<usize>,
    /// The reply: (seconds after sending, delivered count for `sent`, error code).
    pub(super) reply: Option<(f64, Option<u64>, Option<String>)>,
    /// Receiving connections, and how long after sending each got it.
    pub(super) receipts: Vec<(usize, f64)>,
}

/// One handshake attempt.
#[derive(Default)]
pub(super) struct Handshake {
    /// When it began (seconds on the shared clock).
    pub(super) at: f64,
    /// 101 when accepted; otherwise the HTTP status it was refused with, or what [`open`]
    /// returns when there was none (0: no request could be made, 1: failed, 2: timed out).
    pub(super) status: u16,
}

/// What every connection records, read by the report once the load is over.
pub(super) struct Shared {
    /// The shared clock's zero: every time recorded is seconds since this.
    start: Instant,
    /// Per sending connection: seq → record.
    pub(super) sent: Vec<Mutex<HashMap<u64, Sent>>>,
    /// Every handshake attempt, in the order they were made.
    pub(super) handshakes: Mutex<Vec<Handshake>>,
    /// Frames that reached a connection they were not for: a message for another user, a
    /// reply meant for another connection.
    pub(super) misdelivered: AtomicU64,
    /// Messages a connection received twice, and replies received twice.
    pub(super) duplicated: AtomicU64,
    /// Connections closed under the load (by the server, or a send that failed) before it
    /// stopped.
    pub(super) dropped: AtomicU64,
    /// Per connection: when it left (started draining, or was dropped) and came back.
    pub(super) away: Vec<Mutex<Vec<(f64, f64)>>>,
    /// API Gateway's own `{"message":"Internal server error",…}` frames (a failed or timed out
    /// integration: no `id` to match), by the second they arrived.
    pub(super) integration_errors: Mutex<Vec<f64>>,
    /// Set when the load is over: the connections stop sending and do not reconnect.
    pub(super) stop: AtomicBool,
    /// Connections per user: connection `c` is user `c / per_user`'s.
    pub(super) per_user: usize,
}

impl Shared {
    /// Nothing recorded yet for `connections` connections, `per_user` per user; the clock
    /// starts now.
    pub(super) fn new(connections: usize, per_user: usize) -> Self {
        Self {
            start: Instant::now(),
            sent: (0..connections)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            handshakes: Mutex::new(Vec::new()),
            misdelivered: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            integration_errors: Mutex::new(Vec::new()),
            away: (0..connections).map(|_| Mutex::new(Vec::new())).collect(),
            stop: AtomicBool::new(false),
            per_user,
        }
    }

    /// Seconds on the shared clock.
    pub(super) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

fn user_of(conn: usize, per_user: usize) -> usize {
    conn / per_user
}

fn mint(keys: &Keys, user: usize, n: u64) -> Res<String> {
    let now = wsauth_settings::clock::now_epoch();
    keys.ec
        .mint(
            &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": format!("u{user}"), "iat": now,
            "exp": now + 3600, "scope": "messages:send", "jti": format!("soak-{user}-{n}")}),
        )
        .map_err(|e| e.to_string())
}

/// Opens a connection (token in the subprotocol list); `Err(status)` when refused.
async fn open(url: &str, token: &str) -> Result<Ws, u16> {
    let Ok(mut req) = url.into_client_request() else {
        return Err(0);
    };
    let Ok(proto) = HeaderValue::from_str(&wsauth_protocol::token::subprotocol_offer(token)) else {
        return Err(0);
    };
    req.headers_mut().insert("sec-websocket-protocol", proto);
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_with_config(req, Some(config), false),
    )
    .await
    {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(r))) => Err(r.status().as_u16()),
        Ok(Err(_)) => Err(1),
        Err(_) => Err(2),
    }
}

/// Connects `conn`, retrying until it gets through or the run stops; each attempt recorded.
async fn connect(shared: &Shared, keys: &Keys, url: &str, conn: usize, n: &mut u64) -> Option<Ws> {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return None;
        }
        *n += 1;
        let token = mint(keys, user_of(conn, shared.per_user), *n).ok()?;
        let at = shared.now();
        let r = open(url, &token).await;
        let status = match &r {
            Ok(_) => 101,
            Err(s) => *s,
        };
        if let Ok(mut h) = shared.handshakes.lock() {
            h.push(Handshake { at, status });
        }
        match r {
            Ok(ws) => return Some(ws),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Reads one frame's accounting.
fn on_frame(shared: &Shared, conn: usize, text: &str) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let now = shared.now();
    if v["message"] == "Internal server error" && v.get("type").is_none() {
        if let Ok(mut e) = shared.integration_errors.lock() {
            e.push(now);
        }
        return;
    }
    if v["type"] == "message" {
        let (Some(from), Some(seq)) = (v["data"]["c"].as_u64(), v["data"]["s"].as_u64()) else {
            return;
        };
        let Some(map) = shared.sent.get(from as usize) else {
            return;
        };
        let Ok(mut map) = map.lock() else { return };
        let Some(rec) = map.get_mut(&seq) else { return };
        if rec.to_user != Some(user_of(conn, shared.per_user)) {
            shared.misdelivered.fetch_add(1, Ordering::Relaxed);
        }
        if rec.receipts.iter().any(|(c, _)| *c == conn) {
            shared.duplicated.fetch_add(1, Ordering::Relaxed);
        }
        let latency = now - rec.at;
        rec.receipts.push((conn, latency));
        return;
    }
    // A reply: `id` is "{conn}-{seq}".
    let Some((c, seq)) = v["id"]
        .as_str()
        .and_then(|id| id.split_once('-'))
        .and_then(|(c, s)| Some((c.parse::<usize>().ok()?, s.parse::<u64>().ok()?)))
    else {
        return;
    };
    if c != conn {
        shared.misdelivered.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(map) = shared.sent.get(c) else {
        return;
    };
    let Ok(mut map) = map.lock() else { return };
    if let Some(rec) = map.get_mut(&seq) {
        if rec.reply.is_some() {
            shared.duplicated.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let error = (v["type"] == "error").then(|| v["code"].as_str().unwrap_or("?").to_owned());
        rec.reply = Some((now - rec.at, v["delivered"].as_u64(), error));
    }
}

/// One connection for the whole run: sends at `rate`, reads everything, reconnects when churned
/// or dropped.
pub(super) async fn connection(
    shared: Arc<Shared>,
    keys: Arc<Keys>,
    url: String,
    conn: usize,
    (users, rate): (usize, f64),
    churn: Arc<Mutex<Vec<bool>>>,
) {
    let mut n = 0;
    let mut seq: u64 = 0;
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut rng = fastrand::Rng::with_seed(conn as u64 * 7919 + 1);
    let mut left_at: Option<f64> = None;
    'outer: while let Some(ws) = connect(&shared, &keys, &url, conn, &mut n).await {
        if let Some(left) = left_at.take()
            && let Some(away) = shared.away.get(conn)
            && let Ok(mut away) = away.lock()
        {
            away.push((left, shared.now()));
        }
        let (mut sink, mut stream) = ws.split();
        // A random phase, so that sends spread over the period.
        tokio::time::sleep(period.mul_f64(rng.f64())).await;
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if shared.stop.load(Ordering::Relaxed) {
                        break 'outer;
                    }
                    let churned = churn.lock().ok().is_some_and(|mut c| std::mem::take(&mut c[conn]));
                    if churned {
                        left_at = Some(shared.now());
                        // Leave cleanly: stop sending, read what is in flight, then close.
                        let drain = tokio::time::sleep(Duration::from_millis(1500));
                        tokio::pin!(drain);
                        loop {
                            tokio::select! {
                                () = &mut drain => break,
                                m = stream.next() => match m {
                                    Some(Ok(Message::Text(t))) => on_frame(&shared, conn, t.as_str()),
                                    Some(Ok(_)) => {}
                                    _ => break,
                                },
                            }
                        }
                        let _ = sink.send(Message::Close(None)).await;
                        while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
                            if let Message::Text(t) = m { on_frame(&shared, conn, t.as_str()); }
                        }
                        continue 'outer;
                    }
                    seq += 1;
                    let id = format!("{conn}-{seq}");
                    let (frame, to_user) = if rng.bool() {
                        let to = rng.usize(..users);
                        (json!({"action":"sendToUser","to": format!("u{to}"),"data":{"c":conn,"s":seq},"id":id}), Some(to))
                    } else {
                        (json!({"action":"ping","id":id}), None)
                    };
                    if let Some(map) = shared.sent.get(conn) && let Ok(mut map) = map.lock() {
                        map.insert(seq, Sent { at: shared.now(), to_user, ..Sent::default() });
                    }
                    if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                        shared.dropped.fetch_add(1, Ordering::Relaxed);
                        left_at = Some(shared.now());
                        continue 'outer;
                    }
                }
                m = stream.next() => match m {
                    Some(Ok(Message::Text(t))) => on_frame(&shared, conn, t.as_str()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        if !shared.stop.load(Ordering::Relaxed) {
                            shared.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        left_at = Some(shared.now());
                        continue 'outer;
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}

/// The warm-up: opens `n` connections (64 at a time), runs the soak's own traffic mix on them
/// (`sendToUser` to random users and `ping`, at `rate` per connection) for `seconds`, reading
/// whatever arrives, and closes them. What a first load sizes once (connection pools, the
/// runtime's and the allocator's structures at peak concurrency) is then part of the baseline,
/// and the leak check compares like with like: after the measured load against after this one.
pub(super) async fn warm_up(
    url: &str,
    keys: &Keys,
    (n, per_user): (usize, usize),
    rate: f64,
    seconds: f64,
) {
    let users = n.div_ceil(per_user).max(1);
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let opened = Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut tasks = Vec::new();
    for conn in 0..n {
        let (gate, opened) = (gate.clone(), opened.clone());
        let (url, token) = (url.to_owned(), mint(keys, user_of(conn, per_user), 0));
        tasks.push(tokio::spawn(async move {
            let ws = match gate.acquire().await {
                Ok(_permit) => match token {
                    Ok(token) => open(&url, &token).await.ok(),
                    Err(_) => None,
                },
                Err(_) => None,
            };
            opened.wait().await;
            let Some(ws) = ws else { return };
            let (mut sink, mut stream) = ws.split();
            let mut rng = fastrand::Rng::with_seed(conn as u64 * 104_729 + 3);
            let period = Duration::from_secs_f64(1.0 / rate);
            tokio::time::sleep(period.mul_f64(rng.f64())).await;
            let mut tick = tokio::time::interval(period);
            let until = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
            while tokio::time::Instant::now() < until {
                tokio::select! {
                    _ = tick.tick() => {
                        let frame = if rng.bool() {
                            json!({"action":"sendToUser","to": format!("u{}", rng.usize(..users)),"data":{"warm":conn}})
                        } else {
                            json!({"action":"ping"})
                        };
                        if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                    m = stream.next() => if !matches!(m, Some(Ok(_))) { return },
                }
            }
            let _ = sink.send(Message::Close(None)).await;
            while let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_secs(2), stream.next()).await
            {}
        }));
    }
    opened.wait().await;
    for t in tasks {
        let _ = t.await;
    }
}
