//! The server's processes: wsauth-local and DynamoDB Local started and waited for; and what is
//! read of the server: its memory and descriptors from /proc, and the bindings left in its store.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;

use super::{AUDIENCE, ISSUER, Res, Soak};

/// How long the server is left to settle before its memory and descriptors are read, at the
/// baseline and at the end alike: every `$disconnect` runs and the keep-alive pools' idle
/// connections expire (`LOCAL_POOL_IDLE`, 5 s).
const SETTLE: Duration = Duration::from_secs(8);

/// The server's memory and descriptors at one moment, read once it has settled.
pub(super) struct Reading {
    /// Open descriptors by kind ([`fd_kinds`]): the keep-alive pools' are left out of the
    /// comparison.
    pub(super) kinds: BTreeMap<String, u64>,
    /// Resident memory, KiB.
    pub(super) rss: u64,
    /// Open descriptors, every kind.
    pub(super) fds: u64,
}

/// What was read of the server over the run, for the report.
pub(super) struct Readings {
    /// Resident memory (KiB) and open descriptors once it listened, before any load.
    pub(super) cold: (u64, u64),
    /// After the warm-up, settled: the baseline.
    pub(super) start: Reading,
    /// After every connection of the load closed, settled.
    pub(super) end: Reading,
    /// Bindings left in the store then (the dynamodb store; `None` otherwise, or unreadable).
    pub(super) left: Option<u64>,
}

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

/// [`settle`], then [`usage`]: the server read in the same state at the baseline and at the end.
pub(super) async fn settled(pid: u32, ddb_port: Option<u16>) -> Reading {
    let kinds = settle(pid, ddb_port).await;
    let (rss, fds) = usage(pid);
    Reading { kinds, rss, fds }
}

/// The server's resident memory (KiB) and open descriptors.
pub(super) fn usage(pid: u32) -> (u64, u64) {
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

/// A port free on 127.0.0.1 (the system's pick).
fn free_port() -> Res<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Whether 127.0.0.1:`port` accepts a connection within `within` (tried every 100 ms).
pub(super) async fn wait_port(port: u16, within: Duration) -> bool {
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
pub(super) fn start_ddb(
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

/// wsauth-local, as users run it (the binary, a process of its own), on a free port, with the
/// JWKS at `jwks_url` and `table` for the dynamodb store, working in `work`; waits for its
/// `listening` line (at most 60 s), then reads its output to the end. The process, its ID and
/// its port.
pub(super) async fn start_local(
    s: &Soak,
    jwks_url: &str,
    work: &std::path::Path,
    table: &str,
) -> Res<(tokio::process::Child, u32, u16)> {
    let local_bin = std::fs::canonicalize(&s.local_bin)
        .map_err(|e| format!("{}: {e}", s.local_bin.display()))?;
    let port = free_port()?;
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
        .env("WSAUTH_JWKS_URL", jwks_url)
        .env("WSAUTH_JWKS_REFRESH_SECONDS", "5")
        .env("WSAUTH_JWKS_MAX_STALE_SECONDS", s.max_stale.to_string())
        .env("WSAUTH_JWKS_COOLDOWN_SECONDS", "1")
        .env("WSAUTH_TABLE", table)
        .env("WSAUTH_REVOCATIONS_TABLE", format!("{table}-revocations"))
        .env("RUST_LOG", "error")
        .current_dir(work)
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
    Ok((server, pid, port))
}

/// Bindings in `table` (the dynamodb store), read page by page; `None` when it cannot be read.
pub(super) async fn count_bindings(table: &str) -> Option<u64> {
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
