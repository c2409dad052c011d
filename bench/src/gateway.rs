//! The gateway load client: the same real WebSocket load against wsauth-local or the peer.
//!
//! Figures: handshakes/s (token verify + bind), `ping` round trips (p50/p99/p999, every message
//! authorized by its binding), `sendToUser` delivery latency, broadcast to IDLE connections (time
//! to last delivery), and the server's resident memory with IDLE connections open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_devkit::SigningKey;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Res<T> = Result<T, String>;

struct Minter {
    key: SigningKey,
    issuer: String,
    audience: String,
}

impl Minter {
    fn token(&self, sub: &str, scope: &str) -> Res<String> {
        let now = wsauth_settings::clock::now_epoch();
        self.key
            .mint(
                &json!({"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now,
                "nbf": now, "exp": now + 3600, "scope": scope, "jti": format!("g-{sub}")}),
            )
            .map_err(|e| e.to_string())
    }
}

async fn open(url: &str, token: &str) -> Res<Ws> {
    // Small buffers: the client holds 10,000 idle connections, and tungstenite's defaults
    // (128 KiB to read each) would make it the biggest process of the run.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("{url}?{}={token}", wsauth_protocol::token::QUERY_PARAMETER),
        Some(config),
        false,
    )
    .await
    .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

async fn next_json(ws: &mut Ws, wait: Duration) -> Res<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Err("timed out waiting for a frame".into()),
            Ok(None) => return Err("connection closed".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(t.as_str()).map_err(|e| e.to_string());
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn send(ws: &mut Ws, v: &Value) -> Res<()> {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .map_err(|e| e.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib(pids: &[u32]) -> u64 {
    // The processes named and all their descendants.
    let mut all: Vec<u32> = pids.to_vec();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        let entries: Vec<(u32, u32)> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let ppid = stat
                    .rsplit(')')
                    .next()?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some((pid, ppid))
            })
            .collect();
        let mut i = 0;
        while i < all.len() {
            let parent = all[i];
            for (pid, ppid) in &entries {
                if *ppid == parent && !all.contains(pid) {
                    all.push(*pid);
                }
            }
            i += 1;
        }
    }
    all.iter()
        .filter_map(|pid| {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

fn emit(label: &str, figure: &str, v: Value) {
    let mut o = json!({"bench": "gateway", "contender": label, "alg": figure});
    if let (Some(o), Some(v)) = (o.as_object_mut(), v.as_object()) {
        for (k, x) in v {
            o.insert(k.clone(), x.clone());
        }
    }
    println!("{o}");
}

/// What one gateway run measures against, and how much.
pub struct Run {
    /// The contender's name in the report.
    pub label: String,
    /// Its WebSocket URL.
    pub url: String,
    /// The directory `gen` wrote (keys, meta.json).
    pub data_dir: std::path::PathBuf,
    /// Idle connections to open for the memory and broadcast phases.
    pub idle: usize,
    /// Round trips per latency phase.
    pub samples: usize,
    /// Time allowed to open the idle connections.
    pub idle_budget: Duration,
    /// The server's processes (their trees' resident memory is read).
    pub pids: Vec<u32>,
}

/// Runs every phase against one gateway: handshakes, ping, sendToUser, idle connections with
/// memory, then broadcast to them.
pub fn run(run: Run) -> Res<()> {
    let meta: Value = serde_json::from_slice(
        &std::fs::read(run.data_dir.join("meta.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let der = std::fs::read(run.data_dir.join("es256.pk8")).map_err(|e| e.to_string())?;
    let minter = Arc::new(Minter {
        key: SigningKey::from_pkcs8(Algorithm::ES256, "ec-1", &der).map_err(|e| e.to_string())?,
        issuer: meta["issuer"].as_str().unwrap_or_default().to_owned(),
        audience: meta["audience"].as_str().unwrap_or_default().to_owned(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        handshakes(&run, &minter).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut alice = open(&run.url, &minter.token("alice", "messages:send")?).await?;
        ping(&run, &mut alice).await?;
        send_to_user(&run, &minter, &mut alice).await?;
        idle_then_broadcast(&run, &minter).await
    })
}

/// Handshakes per second: SAMPLES / 4 connections (at least 20), 16 at a time.
async fn handshakes(run: &Run, minter: &Arc<Minter>) {
    let handshakes = (run.samples / 4).max(20);
    let start = Instant::now();
    let mut opened = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..handshakes {
        let (m, u) = (minter.clone(), run.url.clone());
        tasks.spawn(async move {
            let t = m.token(&format!("hs-{i}"), "")?;
            let mut ws = open(&u, &t).await?;
            let _ = ws.close(None).await;
            Ok::<_, String>(())
        });
        if tasks.len() >= 16
            && let Some(r) = tasks.join_next().await
        {
            opened += usize::from(matches!(r, Ok(Ok(()))));
        }
    }
    while let Some(r) = tasks.join_next().await {
        opened += usize::from(matches!(r, Ok(Ok(()))));
    }
    let secs = start.elapsed().as_secs_f64();
    emit(
        &run.label,
        "handshakes",
        json!({"per_second": opened as f64 / secs, "ok": opened, "of": handshakes}),
    );
}

/// `ping` round trips on one connection, one at a time.
async fn ping(run: &Run, a: &mut Ws) -> Res<()> {
    let mut rtts = Vec::with_capacity(run.samples);
    let start = Instant::now();
    for _ in 0..run.samples {
        let t0 = Instant::now();
        send(a, &json!({"action": "ping"})).await?;
        let r = next_json(a, Duration::from_secs(10)).await?;
        if r["type"] != "pong" {
            return Err(format!("ping answered {r}"));
        }
        rtts.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let per_s = run.samples as f64 / start.elapsed().as_secs_f64();
    rtts.sort_by(f64::total_cmp);
    emit(
        &run.label,
        "ping",
        json!({"per_second": per_s, "p50_ms": percentile(&rtts, 0.5),
            "p99_ms": percentile(&rtts, 0.99), "p999_ms": percentile(&rtts, 0.999), "samples": rtts}),
    );
    Ok(())
}

/// `sendToUser` alice → bob: the time until bob has the message.
async fn send_to_user(run: &Run, minter: &Minter, a: &mut Ws) -> Res<()> {
    let mut b = open(&run.url, &minter.token("bob", "messages:send")?).await?;
    let mut lat = Vec::with_capacity(run.samples);
    for i in 0..run.samples {
        let t0 = Instant::now();
        send(a, &json!({"action": "sendToUser", "to": "bob", "data": i})).await?;
        let m = next_json(&mut b, Duration::from_secs(10)).await?;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        if m["type"] != "message" {
            return Err(format!("bob got {m}"));
        }
        let ack = next_json(a, Duration::from_secs(10)).await?;
        if ack["type"] != "sent" {
            return Err(format!("alice got {ack}"));
        }
    }
    lat.sort_by(f64::total_cmp);
    emit(
        &run.label,
        "sendToUser",
        json!({"p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99),
            "p999_ms": percentile(&lat, 0.999), "samples": lat}),
    );
    Ok(())
}

/// IDLE idle connections (bounded in time), the server's memory with them open, then one
/// broadcast to all of them: the time to the last delivery.
async fn idle_then_broadcast(run: &Run, minter: &Arc<Minter>) -> Res<()> {
    let rss_before = rss_kib(&run.pids);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut holders = tokio::task::JoinSet::new();
    let start = Instant::now();
    let mut ready = 0usize;
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    // Receivers stay connected until the broadcast is measured: closing on receipt would put
    // a $disconnect storm (a store delete each) inside the broadcast figure.
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    for i in 0..run.idle {
        let (m, u, tx, ready_tx) = (
            minter.clone(),
            run.url.clone(),
            tx.clone(),
            ready_tx.clone(),
        );
        let mut release = release_rx.clone();
        holders.spawn(async move {
            let Ok(t) = m.token(&format!("idle-{i}"), "") else {
                let _ = ready_tx.send(false);
                return;
            };
            let Ok(mut ws) = open(&u, &t).await else {
                let _ = ready_tx.send(false);
                return;
            };
            let _ = ready_tx.send(true);
            if let Ok(m) = next_json(&mut ws, Duration::from_secs(600)).await
                && m["type"] == "message"
            {
                let _ = tx.send(Instant::now());
            }
            let _ = release.wait_for(|r| *r).await;
            let _ = ws.close(None).await;
        });
        if i % 64 == 63 {
            // Let the handshakes drain a little: 64 in flight at most.
            while ready < i.saturating_sub(64) && start.elapsed() < run.idle_budget {
                match tokio::time::timeout(Duration::from_secs(1), ready_rx.recv()).await {
                    Ok(Some(true)) => ready += 1,
                    Ok(Some(false)) | Ok(None) => break,
                    Err(_) => {}
                }
            }
            if start.elapsed() >= run.idle_budget {
                break; // bounded in time: report how many opened
            }
        }
    }
    let mut failed = 0usize;
    let give_up = tokio::time::Instant::now() + run.idle_budget;
    while ready + failed < run.idle {
        match tokio::time::timeout_at(give_up, ready_rx.recv()).await {
            Ok(Some(true)) => ready += 1,
            Ok(Some(false)) => failed += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let open_secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = rss_kib(&run.pids);
    emit(
        &run.label,
        "idle",
        json!({"connections": ready, "failed": failed, "wanted": run.idle, "open_seconds": open_secs,
            "rss_kib_before": rss_before, "rss_kib_with_idle": rss_idle}),
    );
    let mut caster = open(&run.url, &minter.token("caster", "messages:broadcast")?).await?;
    let t0 = Instant::now();
    send(
        &mut caster,
        &json!({"action": "broadcast", "data": "hello everyone"}),
    )
    .await?;
    let mut got = 0usize;
    let mut last = t0;
    while got < ready {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(at)) => {
                got += 1;
                last = last.max(at);
            }
            _ => break,
        }
    }
    let ack = next_json(&mut caster, Duration::from_secs(60))
        .await
        .unwrap_or(Value::Null);
    emit(
        &run.label,
        "broadcast",
        json!({"recipients": ready, "received": got,
            "last_delivery_ms": (last - t0).as_secs_f64() * 1000.0, "ack": ack}),
    );
    let _ = release_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while holders.join_next().await.is_some() {}
    })
    .await;
    holders.abort_all();
    Ok(())
}
