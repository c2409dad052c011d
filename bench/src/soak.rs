//! The soak: minutes of steady, numbered traffic through the real `wsauth-local` (the release
//! binary, a process of its own), with DynamoDB Local and the issuer's JWKS failing in the
//! middle; every message accounted for.
//!
//! N connections of N/`per_user` users each send, at a fixed rate, `sendToUser` to a random user
//! or `ping`, every message numbered and carrying an `id`. Each receiver checks what arrives:
//! a message for another user is **misdelivered**, one acknowledged as delivered to N
//! connections but received by fewer is **lost**, one received twice is **duplicated**. A few
//! connections a second close and reconnect with a fresh token (handshake churn), so that
//! faults meet handshakes too. Everything is counted per phase (before, during and after each
//! fault), with the latency of replies and deliveries, the handshakes refused and why, and the
//! server's RSS and open descriptors at the start and after every connection closed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_devkit::jwks_server::Mode;
use wsauth_devkit::{JwksServer, Keys};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Res<T> = Result<T, String>;

const ISSUER: &str = "https://issuer.soak.test";
const AUDIENCE: &str = "wsauth-soak";
/// A reply later than this counts as a hang.
const HANG: Duration = Duration::from_secs(5);
/// The service must be back this soon after its dependency.
const RECOVERY: Duration = Duration::from_secs(5);

/// One run's settings.
#[derive(clap::Args)]
pub struct Soak {
    /// The run's name in the report.
    #[arg(long)]
    pub label: String,
    /// `memory` or `dynamodb`.
    #[arg(long, default_value = "memory")]
    pub store: String,
    /// Connections.
    #[arg(long, default_value_t = 200)]
    pub connections: usize,
    /// Connections per user.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub per_user: u16,
    /// Messages per second per connection.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// The wsauth-local binary.
    #[arg(long)]
    pub local_bin: PathBuf,
    /// DynamoDB Local's jar (its `DynamoDBLocal_lib` beside it), for the dynamodb store; it is
    /// started on the port of AWS_ENDPOINT_URL_DYNAMODB.
    #[arg(long)]
    pub ddb_jar: Option<PathBuf>,
    /// Stop DynamoDB Local at AT seconds for LEN seconds: `AT:LEN`.
    #[arg(long, value_parser = at_len)]
    pub ddb_down: Option<(u64, u64)>,
    /// The JWKS answers 503 from AT for LEN seconds: `AT:LEN`.
    #[arg(long, value_parser = at_len)]
    pub jwks_fail: Option<(u64, u64)>,
    /// The server's `WSAUTH_JWKS_MAX_STALE_SECONDS`.
    #[arg(long, default_value_t = 300)]
    pub max_stale: u64,
    /// Seconds of warm-up load (the same traffic, not accounted) before the baseline.
    #[arg(long, default_value_t = 10.0)]
    pub warm_seconds: f64,
    /// Where the JSON report goes.
    #[arg(long)]
    pub out: PathBuf,
}

/// How long the server is left to settle before its memory and descriptors are read, at the
/// baseline and at the end alike: every `$disconnect` runs and the keep-alive pools' idle
/// connections expire (`LOCAL_POOL_IDLE`, 5 s).
const SETTLE: Duration = Duration::from_secs(8);

/// Waits [`SETTLE`], then until the keep-alive pools' connections are gone too (at most 20 s
/// more: the pool drops idle connections lazily), so that the baseline and the end are read in
/// the same state; returns the descriptors by kind then.
async fn settle(pid: u32, ddb_port: Option<u16>) -> BTreeMap<String, u64> {
    tokio::time::sleep(SETTLE).await;
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let kinds = fd_kinds(pid, ddb_port);
        if !kinds.contains_key("pool") || Instant::now() >= until {
            return kinds;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn at_len(v: &str) -> Result<(u64, u64), String> {
    let (a, l) = v.split_once(':').ok_or("expected AT:LEN")?;
    Ok((
        a.parse().map_err(|_| "AT: seconds")?,
        l.parse().map_err(|_| "LEN: seconds")?,
    ))
}

/// A fault window, in seconds from the start of the load.
#[derive(Clone)]
struct Window {
    name: &'static str,
    from: f64,
    to: f64,
}

/// What happened to one numbered message.
#[derive(Default, Clone)]
struct Sent {
    at: f64,
    to_user: Option<usize>,
    /// The reply: (seconds after sending, delivered count for `sent`, error code).
    reply: Option<(f64, Option<u64>, Option<String>)>,
    /// Receiving connections, and how long after sending each got it.
    receipts: Vec<(usize, f64)>,
}

#[derive(Default)]
struct Handshake {
    at: f64,
    status: u16,
}

struct Shared {
    start: Instant,
    /// Per sending connection: seq → record.
    sent: Vec<Mutex<HashMap<u64, Sent>>>,
    handshakes: Mutex<Vec<Handshake>>,
    misdelivered: AtomicU64,
    duplicated: AtomicU64,
    dropped: AtomicU64,
    /// Per connection: when it left (started draining, or was dropped) and came back.
    away: Vec<Mutex<Vec<(f64, f64)>>>,
    /// API Gateway's own `{"message":"Internal server error",…}` frames (a failed or timed out
    /// integration: no `id` to match), by the second they arrived.
    integration_errors: Mutex<Vec<f64>>,
    stop: AtomicBool,
    per_user: usize,
}

impl Shared {
    fn now(&self) -> f64 {
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
async fn connection(
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
async fn warm_up(url: &str, keys: &Keys, (n, per_user): (usize, usize), rate: f64, seconds: f64) {
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

/// The server's resident memory (KiB) and open descriptors.
fn usage(pid: u32) -> (u64, u64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    (rss, fds)
}

/// The server's open descriptors by kind: `client` (a socket of a connection from outside the
/// process, such as a WebSocket client), `pool` (both ends of a keep-alive connection the
/// process holds to itself, such as its @connections client calling its own endpoint, and its
/// connections to DynamoDB: closed after the HTTP pool's idle timeout), `listen`, and the
/// rest by type (`pipe`, `anon_inode`, `file`).
fn fd_kinds(pid: u32, ddb_port: Option<u16>) -> BTreeMap<String, u64> {
    // inode → (local port, remote port, state), from the process's view of TCP.
    let mut tcp: HashMap<u64, (u16, u16, String)> = HashMap::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |a: &str| {
                a.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                    .unwrap_or(0)
            };
            if let (Some(l), Some(r), Some(st), Some(inode)) =
                (f.get(1), f.get(2), f.get(3), f.get(9))
                && let Ok(inode) = inode.parse::<u64>()
            {
                tcp.insert(inode, (port(l), port(r), (*st).to_owned()));
            }
        }
    }
    let mut sockets = Vec::new();
    let mut kinds = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            let target = std::fs::read_link(e.path())
                .map(|t| t.to_string_lossy().to_string())
                .unwrap_or_default();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            {
                sockets.push(tcp.get(&inode).cloned());
                continue;
            }
            let kind = target.split(':').next().unwrap_or("?").to_owned();
            let kind = if kind.starts_with('/') {
                "file".to_owned()
            } else {
                kind
            };
            *kinds.entry(kind).or_default() += 1;
        }
    }
    let own_ports: std::collections::HashSet<u16> =
        sockets.iter().flatten().map(|(l, _, _)| *l).collect();
    for sock in sockets {
        let kind = match sock {
            Some((_, _, st)) if st == "0A" => "listen",
            Some((_, r, _)) if own_ports.contains(&r) || Some(r) == ddb_port => "pool",
            Some(_) => "client",
            None => "other socket",
        };
        *kinds.entry(kind.to_owned()).or_default() += 1;
    }
    kinds
}

fn free_port() -> Res<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

async fn wait_port(port: u16, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// DynamoDB Local on `port`, its data in `dir` (kept across a restart).
fn start_ddb(
    jar: &std::path::Path,
    dir: &std::path::Path,
    port: u16,
) -> Res<tokio::process::Child> {
    let lib = jar
        .parent()
        .map(|p| p.join("DynamoDBLocal_lib"))
        .ok_or("jar has no directory")?;
    tokio::process::Command::new("java")
        .arg(format!("-Djava.library.path={}", lib.display()))
        .arg("-jar")
        .arg(jar)
        .args(["-sharedDb", "-dbPath"])
        .arg(dir)
        .args(["-port", &port.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("java: {e}"))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] * 1000.0
}

/// Runs one soak; the report as JSON, and whether every "must hold" line held.
pub async fn run(s: Soak) -> Res<(Value, bool)> {
    let keys = Arc::new(Keys::new());
    let jwks = JwksServer::start(keys.jwks())
        .await
        .map_err(|e| e.to_string())?;
    let work = std::env::temp_dir().join(format!("wsauth-soak-{}-{}", s.label, std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    // DynamoDB Local, when asked for: on the port of AWS_ENDPOINT_URL_DYNAMODB.
    let ddb_endpoint = wsauth_settings::Settings::from_env()
        .store()
        .map_err(|e| e.to_string())?
        .dynamodb_endpoint;
    let ddb_port = ddb_endpoint.as_deref().and_then(|u| {
        u.rsplit(':')
            .next()?
            .trim_end_matches('/')
            .parse::<u16>()
            .ok()
    });
    let mut ddb = None;
    if s.store == "dynamodb" {
        let (Some(jar), Some(port)) = (&s.ddb_jar, ddb_port) else {
            return Err("the dynamodb store needs --ddb-jar and AWS_ENDPOINT_URL_DYNAMODB".into());
        };
        ddb = Some(start_ddb(jar, &work, port)?);
        if !wait_port(port, Duration::from_secs(60)).await {
            return Err("DynamoDB Local did not start".into());
        }
    }
    // wsauth-local, as users run it.
    let local_bin = std::fs::canonicalize(&s.local_bin)
        .map_err(|e| format!("{}: {e}", s.local_bin.display()))?;
    let port = free_port()?;
    let table = format!("soak-{}-{}", s.label, std::process::id());
    let mut server = tokio::process::Command::new(&local_bin)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            &s.store,
        ])
        .args(["--idle-timeout", "3600"])
        .env("WSAUTH_ISSUER", ISSUER)
        .env("WSAUTH_AUDIENCE", AUDIENCE)
        .env("WSAUTH_JWKS_URL", &jwks.url)
        .env("WSAUTH_JWKS_REFRESH_SECONDS", "5")
        .env("WSAUTH_JWKS_MAX_STALE_SECONDS", s.max_stale.to_string())
        .env("WSAUTH_JWKS_COOLDOWN_SECONDS", "1")
        .env("WSAUTH_TABLE", &table)
        .env("WSAUTH_REVOCATIONS_TABLE", format!("{table}-revocations"))
        .env("RUST_LOG", "error")
        .current_dir(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", local_bin.display()))?;
    let pid = server.id().ok_or("no pid")?;
    let mut lines = tokio::io::BufReader::new(server.stdout.take().ok_or("no stdout")?).lines();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("listening") {
                return Ok(());
            }
        }
        Err("wsauth-local exited".to_string())
    })
    .await
    .map_err(|_| "wsauth-local did not start".to_string())??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = format!("ws://127.0.0.1:{port}/dev");
    let cold = usage(pid);
    // A warm-up wave (every connection opened, one round trip, closed) before the baseline:
    // connection pools and allocator arenas that a first load fills are not leaks.
    let per_user = usize::from(s.per_user);
    warm_up(
        &url,
        &keys,
        (s.connections, per_user),
        s.rate,
        s.warm_seconds,
    )
    .await;
    // Settled as at the end (every $disconnect run, idle pool connections expired).
    let fds_start = settle(pid, ddb_port).await;
    let (rss0, fds0) = usage(pid);

    let users = s.connections.div_ceil(per_user).max(1);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        sent: (0..s.connections)
            .map(|_| Mutex::new(HashMap::new()))
            .collect(),
        handshakes: Mutex::new(Vec::new()),
        misdelivered: AtomicU64::new(0),
        duplicated: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        integration_errors: Mutex::new(Vec::new()),
        away: (0..s.connections).map(|_| Mutex::new(Vec::new())).collect(),
        stop: AtomicBool::new(false),
        per_user,
    });
    let churn = Arc::new(Mutex::new(vec![false; s.connections]));
    // Open every connection (spread over a few seconds); the load's clock starts once all are.
    let opening = Instant::now();
    let mut tasks = Vec::new();
    let load_for = s.seconds as f64;
    for conn in 0..s.connections {
        let (shared, keys, url, churn) = (shared.clone(), keys.clone(), url.clone(), churn.clone());
        let rate = s.rate;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(conn as u64 * 3)).await;
            connection(shared, keys, url, conn, (users, rate), churn).await;
        }));
    }
    // Wait until every connection is bound (the first handshakes all done).
    let expected = s.connections;
    loop {
        let done = shared
            .handshakes
            .lock()
            .map(|h| h.iter().filter(|h| h.status == 101).count())
            .unwrap_or(0);
        if done >= expected || opening.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let opened_in = opening.elapsed().as_secs_f64();
    // Time zero of the load: everything below is relative to it.
    let t0 = shared.now();
    let mut windows = Vec::new();
    if let Some((at, len)) = s.ddb_down {
        windows.push(Window {
            name: "dynamodb down",
            from: t0 + at as f64,
            to: t0 + (at + len) as f64,
        });
    }
    if let Some((at, len)) = s.jwks_fail {
        windows.push(Window {
            name: "jwks failing",
            from: t0 + at as f64,
            to: t0 + (at + len) as f64,
        });
    }
    // Faults and churn, on schedule.
    let mut ddb_back_at = None;
    let mut jwks_back_at = None;
    let churn_per_second = (s.connections / 100).max(1);
    let mut rng = fastrand::Rng::with_seed(42);
    let end = t0 + load_for;
    let mut ddb_state = 0; // 0 up, 1 down, 2 back
    let mut jwks_state = 0;
    while shared.now() < end {
        let now = shared.now();
        for w in &windows {
            if w.name == "dynamodb down" {
                if ddb_state == 0 && now >= w.from {
                    if let Some(mut child) = ddb.take() {
                        let _ = child.kill().await;
                    }
                    ddb_state = 1;
                } else if ddb_state == 1 && now >= w.to {
                    if let (Some(jar), Some(port)) = (&s.ddb_jar, ddb_port) {
                        ddb = Some(start_ddb(jar, &work, port)?);
                        if wait_port(port, Duration::from_secs(60)).await {
                            ddb_back_at = Some(shared.now());
                        }
                    }
                    ddb_state = 2;
                }
            } else if w.name == "jwks failing" {
                if jwks_state == 0 && now >= w.from {
                    jwks.set(Mode::Status(503));
                    jwks_state = 1;
                } else if jwks_state == 1 && now >= w.to {
                    jwks.set(Mode::Json(keys.jwks()));
                    jwks_back_at = Some(shared.now());
                    jwks_state = 2;
                }
            }
        }
        if let Ok(mut c) = churn.lock() {
            for _ in 0..churn_per_second {
                let i = rng.usize(..s.connections);
                c[i] = true;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Stop sending; let replies and deliveries in flight arrive; then close everything.
    shared.stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    let fds_end = settle(pid, ddb_port).await;
    let (rss1, fds1) = usage(pid);
    // Bindings left behind (the dynamodb store): nothing may stay bound.
    let left = if s.store == "dynamodb" {
        count_bindings(&table).await
    } else {
        None
    };
    let _ = server.kill().await;
    if let Some(mut d) = ddb.take() {
        let _ = d.kill().await;
    }
    let _ = std::fs::remove_dir_all(&work);
    // Descriptors compared without the HTTP keep-alive pools (bounded, closed when idle).
    let pools = |k: &BTreeMap<String, u64>| k.get("pool").copied().unwrap_or(0);
    let mut report = report(
        &s,
        &shared,
        &windows,
        t0,
        end,
        ddb_back_at,
        jwks_back_at,
        opened_in,
        (
            rss0,
            fds0 - pools(&fds_start).min(fds0),
            rss1,
            fds1 - pools(&fds_end).min(fds1),
        ),
        left,
    );
    report.0["server"]["rss_kib_cold"] = json!(cold.0);
    report.0["server"]["fds_cold"] = json!(cold.1);
    report.0["server"]["fd_kinds_start"] = json!(fds_start);
    report.0["server"]["fd_kinds_end"] = json!(fds_end);
    Ok(report)
}

async fn count_bindings(table: &str) -> Option<u64> {
    use wsauth_session::SessionStore as _;
    let mut settings = wsauth_settings::Settings::from_env();
    settings.set("WSAUTH_TABLE", Some(table));
    let st = settings.store().ok()?;
    let client = wsauth_session::dynamo::client(&st).await;
    let store = wsauth_session::DynamoSessionStore::new(client, &st);
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = store.page(cursor.as_deref(), 1000).await.ok()?;
        n += page.items.len() as u64;
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Some(n),
        }
    }
}

#[derive(Default)]
struct Phase {
    sent: u64,
    acked: u64,
    refused: BTreeMap<String, u64>,
    unanswered: u64,
    late: u64,
    delivered: u64,
    lost: u64,
    /// Missing receipts where a connection of the recipient was closing or reconnecting then.
    lost_to_closing: u64,
    reply_latency: Vec<f64>,
    delivery_latency: Vec<f64>,
    handshakes: BTreeMap<u16, u64>,
}

#[allow(clippy::too_many_arguments)]
fn report(
    s: &Soak,
    shared: &Shared,
    windows: &[Window],
    t0: f64,
    end: f64,
    ddb_back_at: Option<f64>,
    jwks_back_at: Option<f64>,
    opened_in: f64,
    (rss0, fds0, rss1, fds1): (u64, u64, u64, u64),
    left: Option<u64>,
) -> (Value, bool) {
    // Phases: before the first fault, then during and after each one.
    let mut bounds: Vec<(String, f64, f64)> = Vec::new();
    let mut cursor = t0;
    for w in windows {
        bounds.push((
            if bounds.is_empty() {
                "before".into()
            } else {
                "between".into()
            },
            cursor,
            w.from,
        ));
        bounds.push((format!("during: {}", w.name), w.from, w.to));
        cursor = w.to;
    }
    bounds.push((
        if windows.is_empty() {
            "steady".into()
        } else {
            "after".into()
        },
        cursor,
        end,
    ));
    let phase_of = |t: f64| bounds.iter().position(|(_, a, b)| t >= *a && t < *b);
    let in_outage = |t: f64| windows.iter().any(|w| t >= w.from && t < w.to);
    let mut phases: Vec<Phase> = bounds.iter().map(|_| Phase::default()).collect();
    let mut timeline: BTreeMap<u64, (u64, u64, Vec<f64>)> = BTreeMap::new();
    let mut first_ok_after_ddb = None::<f64>;
    let mut errors_after_recovery = 0u64;
    let mut silent_in_outage = 0u64;
    for map in &shared.sent {
        let Ok(map) = map.lock() else { continue };
        for rec in map.values() {
            let Some(p) = phase_of(rec.at) else { continue };
            let ph = &mut phases[p];
            ph.sent += 1;
            let second = (rec.at - t0).max(0.0) as u64;
            let slot = timeline.entry(second).or_default();
            slot.0 += 1;
            match &rec.reply {
                None => {
                    ph.unanswered += 1;
                    if in_outage(rec.at) {
                        silent_in_outage += 1;
                    }
                }
                Some((lat, delivered, error)) => {
                    ph.reply_latency.push(*lat);
                    slot.2.push(*lat);
                    if *lat > HANG.as_secs_f64() {
                        ph.late += 1;
                    }
                    match error {
                        Some(code) => {
                            *ph.refused.entry(code.clone()).or_default() += 1;
                            slot.1 += 1;
                            // `internal` is the outage's answer; `not_bound` can be the honest
                            // answer to a message from a connection that was closing.
                            if code == "internal"
                                && let Some(back) = ddb_back_at
                                && rec.at >= back + RECOVERY.as_secs_f64()
                            {
                                errors_after_recovery += 1;
                            }
                        }
                        None => {
                            ph.acked += 1;
                            if let Some(back) = ddb_back_at
                                && rec.at >= back
                                && first_ok_after_ddb.is_none_or(|f| rec.at + lat < f)
                            {
                                first_ok_after_ddb = Some(rec.at + lat);
                            }
                            if let Some(n) = delivered {
                                ph.delivered += n;
                                let got = rec.receipts.len() as u64;
                                if got < *n {
                                    // A connection that closes (it asked to, or dropped) may miss
                                    // what was accepted for it a moment before: not a loss of
                                    // the service's making.
                                    let closing = rec.to_user.is_some_and(|u| {
                                        (u * shared.per_user..(u + 1) * shared.per_user).any(|c| {
                                            shared
                                                .away
                                                .get(c)
                                                .and_then(|a| a.lock().ok())
                                                .is_some_and(|a| {
                                                    a.iter().any(|(l, b)| {
                                                        rec.at < *b + 1.0 && rec.at + lat > *l - 3.0
                                                    })
                                                })
                                        })
                                    });
                                    if closing {
                                        ph.lost_to_closing += n - got;
                                    } else {
                                        ph.lost += n - got;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (_, lat) in &rec.receipts {
                ph.delivery_latency.push(*lat);
            }
        }
    }
    let mut first_handshake_after_jwks = None::<f64>;
    if let Ok(hs) = shared.handshakes.lock() {
        for h in hs.iter() {
            if let Some(p) = phase_of(h.at) {
                *phases[p].handshakes.entry(h.status).or_default() += 1;
            }
            if let Some(back) = jwks_back_at
                && h.at >= back
                && h.status == 101
                && first_handshake_after_jwks.is_none_or(|f| h.at < f)
            {
                first_handshake_after_jwks = Some(h.at);
            }
        }
    }
    let integration_errors = shared
        .integration_errors
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let misdelivered = shared.misdelivered.load(Ordering::Relaxed);
    let duplicated = shared.duplicated.load(Ordering::Relaxed);
    let mut rows = Vec::new();
    let mut holds: Vec<(String, bool)> = Vec::new();
    for ((name, from, to), ph) in bounds.iter().zip(phases.iter_mut()) {
        ph.reply_latency.sort_by(f64::total_cmp);
        ph.delivery_latency.sort_by(f64::total_cmp);
        let outage = name.starts_with("during");
        let ddb_outage = name.contains("dynamodb");
        if !outage {
            holds.push((format!("{name}: lost 0"), ph.lost == 0));
        }
        holds.push((
            format!("{name}: every send answered within 5 s"),
            ph.unanswered == 0 && ph.late == 0,
        ));
        if ddb_outage {
            let other: u64 = ph
                .refused
                .iter()
                .filter(|(c, _)| c.as_str() != "internal")
                .map(|(_, n)| n)
                .sum();
            holds.push((
                format!("{name}: failed sends answered `internal`"),
                other == 0,
            ));
            let bad_handshakes: u64 = ph
                .handshakes
                .iter()
                .filter(|(s, _)| **s != 500 && **s != 101)
                .map(|(_, n)| n)
                .sum();
            holds.push((
                format!("{name}: handshakes refused with 500"),
                bad_handshakes == 0,
            ));
        }
        let integration = integration_errors
            .iter()
            .filter(|t| **t >= *from && **t < *to)
            .count();
        rows.push(json!({
            "phase": name, "from_s": from - t0, "to_s": to - t0,
            "integration_errors": integration,
            "sent": ph.sent, "acknowledged": ph.acked, "refused": ph.refused,
            "unanswered": ph.unanswered, "answered_after_5s": ph.late,
            "delivered": ph.delivered, "lost": ph.lost, "missed_by_closing_connections": ph.lost_to_closing,
            "reply_ms": {"p50": pct(&ph.reply_latency, 0.5), "p99": pct(&ph.reply_latency, 0.99), "p999": pct(&ph.reply_latency, 0.999)},
            "delivery_ms": {"p50": pct(&ph.delivery_latency, 0.5), "p99": pct(&ph.delivery_latency, 0.99), "p999": pct(&ph.delivery_latency, 0.999)},
            "handshakes": ph.handshakes.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    holds.push(("misdelivered 0 (every phase)".into(), misdelivered == 0));
    holds.push(("duplicated 0".into(), duplicated == 0));
    // A live connection answered `not_bound` lost its binding while open (nothing in the soak
    // ends a session): never, faults or not.
    let not_bound: u64 = phases
        .iter()
        .filter_map(|ph| ph.refused.get("not_bound"))
        .sum();
    holds.push((
        "no live connection refused `not_bound` (every phase)".into(),
        not_bound == 0,
    ));
    holds.push((
        "no send unanswered during an outage".into(),
        silent_in_outage == 0,
    ));
    let ddb_recovery = ddb_back_at.and_then(|b| first_ok_after_ddb.map(|f| f - b));
    if ddb_back_at.is_some() {
        holds.push((
            "recovered within 5 s of DynamoDB's return".into(),
            ddb_recovery.is_some_and(|r| r <= RECOVERY.as_secs_f64()) && errors_after_recovery == 0,
        ));
    }
    let jwks_recovery = jwks_back_at.and_then(|b| first_handshake_after_jwks.map(|f| f - b));
    if jwks_back_at.is_some() {
        holds.push((
            "handshakes back within 5 s of the JWKS's return".into(),
            jwks_recovery.is_some_and(|r| r <= RECOVERY.as_secs_f64()),
        ));
    }
    if let Some(left) = left {
        holds.push((
            "nothing left bound after every connection closed".into(),
            left == 0,
        ));
    }
    let within = |a: u64, b: u64| b as f64 <= a as f64 * 1.10 + 1.0;
    holds.push((
        "RSS back within 10% after connections close".into(),
        within(rss0, rss1),
    ));
    holds.push((
        "descriptors (keep-alive pools aside) back within 10% after connections close".into(),
        within(fds0, fds1),
    ));
    let ok = holds.iter().all(|(_, h)| *h);
    let timeline: Vec<Value> = timeline
        .into_iter()
        .map(|(sec, (sent, errors, mut lat))| {
            lat.sort_by(f64::total_cmp);
            json!({"second": sec, "sent": sent, "errors": errors, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)})
        })
        .collect();
    let report = json!({
        "label": s.label, "store": s.store, "connections": s.connections,
        "users": s.connections.div_ceil(usize::from(s.per_user)), "rate_per_connection": s.rate,
        "seconds": s.seconds, "max_stale_s": s.max_stale, "opened_in_s": opened_in,
        "faults": windows.iter().map(|w| json!({"name": w.name, "from_s": w.from - t0, "to_s": w.to - t0})).collect::<Vec<_>>(),
        "phases": rows,
        "misdelivered": misdelivered, "duplicated": duplicated,
        "connections_dropped": shared.dropped.load(Ordering::Relaxed),
        "recovery_s": {"dynamodb": ddb_recovery, "jwks_handshakes": jwks_recovery},
        "server": {"rss_kib_start": rss0, "rss_kib_end": rss1, "fds_start_without_pools": fds0, "fds_end_without_pools": fds1},
        "bindings_left": left,
        "must_hold": holds.iter().map(|(n, h)| json!({"what": n, "holds": h})).collect::<Vec<_>>(),
        "ok": ok,
        "timeline": timeline,
    });
    (report, ok)
}
