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
//!
//! # Layout
//!
//! - `mod.rs`: the run's settings ([`Soak`]), the fault windows, and [`run`], one function per
//!   phase: the servers' start-up, the warm-up and baseline, the load's connections, the faults
//!   and churn on schedule, the stop, and the shutdown.
//! - `process.rs`: the server's processes: wsauth-local and DynamoDB Local started and waited
//!   for, and what is read of the server (RSS and descriptors from /proc, bindings left).
//! - `traffic.rs`: the client side: connections opened and reopened, the numbered sends, every
//!   reply and delivery accounted for as it arrives; the warm-up's traffic.
//! - `report.rs`: the report: counts by phase and by second, the "must hold" lines, the JSON.

mod process;
mod report;
mod traffic;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;
use wsauth_devkit::jwks_server::Mode;
use wsauth_devkit::{JwksServer, Keys};

use self::process::{
    Reading, Readings, count_bindings, settled, start_ddb, start_local, usage, wait_port,
};
use self::traffic::{Shared, connection, warm_up};

type Res<T> = Result<T, String>;

const ISSUER: &str = "https://issuer.soak.test";
const AUDIENCE: &str = "wsauth-soak";

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
    /// The fault, as the report names it and the schedule tells it apart: `dynamodb down` or
    /// `jwks failing`.
    name: &'static str,
    /// When it begins, on the shared clock (the load's time zero plus AT).
    from: f64,
    /// When it ends (plus LEN).
    to: f64,
}

/// The processes under test, and what they share, from start-up to shutdown (the fields in
/// the order they are dropped: wsauth-local, then DynamoDB Local, then the JWKS).
struct Servers {
    /// wsauth-local, killed at the shutdown.
    server: tokio::process::Child,
    /// wsauth-local's process ID, whose /proc entries are read.
    pid: u32,
    /// wsauth-local's WebSocket URL.
    url: String,
    /// wsauth-local's table (the dynamodb store), where the bindings left are counted.
    table: String,
    /// DynamoDB Local while it runs (the dynamodb store): killed and restarted by its fault.
    ddb: Option<tokio::process::Child>,
    /// DynamoDB Local's port (that of AWS_ENDPOINT_URL_DYNAMODB): where it is restarted, and
    /// how the server's connections to it are told apart among its descriptors.
    ddb_port: Option<u16>,
    /// The run's scratch directory: DynamoDB Local's data (kept across its restart) and
    /// wsauth-local's working directory; removed at the shutdown.
    work: PathBuf,
    /// The issuer's JWKS endpoint, made to answer 503 for the `jwks failing` window.
    jwks: JwksServer,
}

/// The measured load's connections, running.
struct Load {
    /// What the connections record, for the report.
    shared: Arc<Shared>,
    /// Per connection: told to close and reconnect with a fresh token (handshake churn).
    churn: Arc<Mutex<Vec<bool>>>,
    /// One task per connection, aborted once the load is over.
    tasks: Vec<JoinHandle<()>>,
    /// Seconds it took to open every connection.
    opened_in: f64,
}

/// Runs one soak; the report as JSON, and whether every "must hold" line held.
pub async fn run(s: Soak) -> Res<(Value, bool)> {
    let keys = Arc::new(Keys::new());
    let mut servers = start_servers(&s, &keys).await?;
    let cold = usage(servers.pid);
    let start = warm_up_and_settle(&s, &keys, &servers).await;
    let mut load = open_load(&s, &keys, &servers.url).await;
    // Time zero of the load: everything below is relative to it.
    let t0 = load.shared.now();
    let windows = fault_windows(&s, t0);
    let end = t0 + s.seconds as f64;
    let back = faults_and_churn(&s, &keys, &mut servers, &load, &windows, end).await?;
    stop_load(&mut load).await;
    let (end_reading, left) = shut_down(&s, &mut servers).await;
    let server = Readings {
        cold,
        start,
        end: end_reading,
        left,
    };
    Ok(report::report(
        &s,
        &load.shared,
        &windows,
        (t0, end),
        back,
        load.opened_in,
        &server,
    ))
}

/// Start-up: the issuer's JWKS, the scratch directory, DynamoDB Local (the dynamodb store) and
/// wsauth-local, each waited for.
async fn start_servers(s: &Soak, keys: &Keys) -> Res<Servers> {
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
    let table = format!("soak-{}-{}", s.label, std::process::id());
    let (server, pid, port) = start_local(s, &jwks.url, &work, &table).await?;
    let url = format!("ws://127.0.0.1:{port}/dev");
    Ok(Servers {
        server,
        pid,
        url,
        table,
        ddb,
        ddb_port,
        work,
        jwks,
    })
}

/// The warm-up (the load's traffic for `--warm-seconds`, not accounted), then the baseline:
/// the server read once it has settled.
async fn warm_up_and_settle(s: &Soak, keys: &Keys, servers: &Servers) -> Reading {
    // A warm-up wave (every connection opened, one round trip, closed) before the baseline:
    // connection pools and allocator arenas that a first load fills are not leaks.
    let per_user = usize::from(s.per_user);
    warm_up(
        &servers.url,
        keys,
        (s.connections, per_user),
        s.rate,
        s.warm_seconds,
    )
    .await;
    // Settled as at the end (every $disconnect run, idle pool connections expired).
    settled(servers.pid, servers.ddb_port).await
}

/// The traffic: every connection of the measured load started, and waited for until each is
/// bound (at most 120 s).
async fn open_load(s: &Soak, keys: &Arc<Keys>, url: &str) -> Load {
    let per_user = usize::from(s.per_user);
    let users = s.connections.div_ceil(per_user).max(1);
    let shared = Arc::new(Shared::new(s.connections, per_user));
    let churn = Arc::new(Mutex::new(vec![false; s.connections]));
    // Open every connection (spread over a few seconds); the load's clock starts once all are.
    let opening = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..s.connections {
        let (shared, keys, url, churn) =
            (shared.clone(), keys.clone(), url.to_owned(), churn.clone());
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
    Load {
        shared,
        churn,
        tasks,
        opened_in,
    }
}

/// The fault windows asked for (`--ddb-down`, `--jwks-fail`), on the shared clock from `t0`.
fn fault_windows(s: &Soak, t0: f64) -> Vec<Window> {
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
    windows
}

/// The fault phases, until `end`: each fault begun and ended on schedule (DynamoDB Local
/// killed and restarted, the JWKS answering 503 then its keys again), a few connections a second
/// churned; when DynamoDB Local and the JWKS came back.
async fn faults_and_churn(
    s: &Soak,
    keys: &Keys,
    servers: &mut Servers,
    load: &Load,
    windows: &[Window],
    end: f64,
) -> Res<(Option<f64>, Option<f64>)> {
    let shared = &load.shared;
    // Faults and churn, on schedule.
    let mut ddb_back_at = None;
    let mut jwks_back_at = None;
    let churn_per_second = (s.connections / 100).max(1);
    let mut rng = fastrand::Rng::with_seed(42);
    let mut ddb_state = 0; // 0 up, 1 down, 2 back
    let mut jwks_state = 0;
    while shared.now() < end {
        let now = shared.now();
        for w in windows {
            if w.name == "dynamodb down" {
                if ddb_state == 0 && now >= w.from {
                    if let Some(mut child) = servers.ddb.take() {
                        let _ = child.kill().await;
                    }
                    ddb_state = 1;
                } else if ddb_state == 1 && now >= w.to {
                    if let (Some(jar), Some(port)) = (&s.ddb_jar, servers.ddb_port) {
                        servers.ddb = Some(start_ddb(jar, &servers.work, port)?);
                        if wait_port(port, Duration::from_secs(60)).await {
                            ddb_back_at = Some(shared.now());
                        }
                    }
                    ddb_state = 2;
                }
            } else if w.name == "jwks failing" {
                if jwks_state == 0 && now >= w.from {
                    servers.jwks.set(Mode::Status(503));
                    jwks_state = 1;
                } else if jwks_state == 1 && now >= w.to {
                    servers.jwks.set(Mode::Json(keys.jwks()));
                    jwks_back_at = Some(shared.now());
                    jwks_state = 2;
                }
            }
        }
        if let Ok(mut c) = load.churn.lock() {
            for _ in 0..churn_per_second {
                let i = rng.usize(..s.connections);
                c[i] = true;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok((ddb_back_at, jwks_back_at))
}

/// The stop: no more sends; 3 s for the replies and deliveries in flight; then every
/// connection closed.
async fn stop_load(load: &mut Load) {
    // Stop sending; let replies and deliveries in flight arrive; then close everything.
    load.shared.stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    for t in &load.tasks {
        t.abort();
    }
    for t in load.tasks.drain(..) {
        let _ = t.await;
    }
}

/// The shutdown: the server read once it has settled, the bindings it left counted (the
/// dynamodb store), then wsauth-local and DynamoDB Local stopped and the scratch directory
/// removed.
async fn shut_down(s: &Soak, servers: &mut Servers) -> (Reading, Option<u64>) {
    let end = settled(servers.pid, servers.ddb_port).await;
    // Bindings left behind (the dynamodb store): nothing may stay bound.
    let left = if s.store == "dynamodb" {
        count_bindings(&servers.table).await
    } else {
        None
    };
    let _ = servers.server.kill().await;
    if let Some(mut d) = servers.ddb.take() {
        let _ = d.kill().await;
    }
    let _ = std::fs::remove_dir_all(&servers.work);
    (end, left)
}
