//! `wsauth-bench`: the Rust side of `bench/run`.
//!
//! - `gen DIR N`: keys (RS256, ES256, EdDSA), their JWKS, and N tokens per algorithm, written
//!   once so that every contender verifies the very same tokens.
//! - `verify DIR SECONDS`: wsauth's verifier and the bare aws-lc-rs signature check of the same
//!   tokens, single-threaded; verifies per second, one JSON line per (contender, alg).
//! - `handler DIR SECONDS`: the full authorizer path, event JSON in → policy JSON out, per
//!   second, and heap allocations per call (counted in a pass of their own, not while timed).
//! - `gateway LABEL WS_URL DATA_DIR IDLE SAMPLES [--idle-seconds S] [--server-pids "P…"]`: the
//!   same WebSocket load against any gateway (wsauth-local, or the serverless-offline peer),
//!   one function per phase in `gateway.rs`; `--server-pids` names the processes whose resident
//!   memory is read.
//! - `table`: creates `WSAUTH_TABLE` on `AWS_ENDPOINT_URL_DYNAMODB` and binds the connection
//!   the routes cold start pings (for the cold-start runs).

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use wsauth_authorizer::{Authorizer, Verifier};
use wsauth_devkit::{SigningKey, jwks_json};

#[allow(unsafe_code)] // the global allocator: a forwarding `GlobalAlloc`, see alloc.rs
mod alloc;

/// Counts allocations only inside the handler bench's counting pass, never while timing.
#[global_allocator]
static GLOBAL: alloc::CountingSystem = alloc::CountingSystem::new();

const ISSUER: &str = "https://issuer.bench.test";
const AUDIENCE: &str = "wsauth-bench";
const ALGS: [(&str, Algorithm, &str); 3] = [
    ("RS256", Algorithm::RS256, "rsa-1"),
    ("ES256", Algorithm::ES256, "ec-1"),
    ("EdDSA", Algorithm::EdDSA, "ed-1"),
];

type Res<T> = Result<T, String>;

fn read_json(p: &Path) -> Res<Value> {
    let raw = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_slice(&raw).map_err(|e| format!("{}: {e}", p.display()))
}

fn generate(dir: &Path, n: usize) -> Res<()> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let now = wsauth_settings::clock::now_epoch();
    let mut keys = Vec::new();
    for (name, alg, kid) in ALGS {
        let key = SigningKey::generate(alg, kid).map_err(|e| e.to_string())?;
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": format!("user-{i}"),
                "iat": now, "nbf": now, "exp": now + 86_400, "jti": format!("{name}-{i}"),
                "scope": "messages:send"});
            tokens.push(key.mint(&claims).map_err(|e| e.to_string())?);
        }
        std::fs::write(
            dir.join(format!("tokens-{name}.json")),
            json!(tokens).to_string(),
        )
        .map_err(|e| e.to_string())?;
        if alg == Algorithm::ES256 {
            // The gateway load client mints its own tokens with this key.
            let der = key.to_pkcs8().map_err(|e| e.to_string())?;
            std::fs::write(dir.join("es256.pk8"), der).map_err(|e| e.to_string())?;
        }
        keys.push(key);
    }
    std::fs::write(dir.join("jwks.json"), jwks_json(&keys).to_string())
        .map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("meta.json"),
        json!({"issuer": ISSUER, "audience": AUDIENCE, "tokens_per_alg": n}).to_string(),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

fn verifier(dir: &Path) -> Res<Arc<Verifier>> {
    let cfg = wsauth_settings::Settings::from_pairs(&[
        ("WSAUTH_ISSUER", ISSUER),
        ("WSAUTH_AUDIENCE", AUDIENCE),
        ("WSAUTH_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ("WSAUTH_JWKS_MAX_STALE_SECONDS", "86400"),
        ("WSAUTH_JWKS_REFRESH_SECONDS", "86400"),
    ])
    .auth()
    .map_err(|e| e.to_string())?;
    let v = Verifier::new(cfg).map_err(|e| e.to_string())?;
    let jwks = std::fs::read(dir.join("jwks.json")).map_err(|e| e.to_string())?;
    for cache in v.caches() {
        cache.install(&jwks).map_err(|e| e.to_string())?;
    }
    Ok(Arc::new(v))
}

fn tokens(dir: &Path, alg: &str) -> Res<Vec<String>> {
    let v = read_json(&dir.join(format!("tokens-{alg}.json")))?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// Calls counted over time, round-robin over a set of inputs, resumable in slices.
#[derive(Default)]
struct Meter {
    calls: u64,
    time: Duration,
    at: usize,
}

impl Meter {
    /// Runs `f` over `items` round-robin for `slice`, continuing where the last slice stopped.
    fn run<T>(&mut self, items: &[T], slice: Duration, f: &mut impl FnMut(&T) -> bool) -> Res<()> {
        if items.is_empty() {
            return Err("nothing to measure".into());
        }
        // The clock is read every 16 calls: slices stay close to their length even for calls of
        // tens of microseconds, and the reads cost both contenders alike (a few ns a call).
        const BATCH: u64 = 16;
        let start = Instant::now();
        loop {
            for _ in 0..BATCH {
                if !f(&items[self.at]) {
                    return Err("a timed call failed".into());
                }
                self.at = (self.at + 1) % items.len();
            }
            self.calls += BATCH;
            if start.elapsed() >= slice {
                break;
            }
        }
        self.time += start.elapsed();
        Ok(())
    }

    fn result(&self) -> (f64, u64) {
        (self.calls as f64 / self.time.as_secs_f64(), self.calls)
    }
}

/// Warm-up: one pass over up to 1,000 items.
fn warm_up<T>(items: &[T], f: &mut impl FnMut(&T) -> bool) -> Res<()> {
    if items.iter().take(1000).all(f) {
        Ok(())
    } else {
        Err("a warm-up call failed".into())
    }
}

/// Runs `f` over `items` round-robin until `seconds` have passed; returns calls per second.
fn rate<T>(items: &[T], seconds: f64, mut f: impl FnMut(&T) -> bool) -> Res<(f64, u64)> {
    warm_up(items, &mut f)?;
    let mut m = Meter::default();
    m.run(items, Duration::from_secs_f64(seconds), &mut f)?;
    Ok(m.result())
}

/// Two contenders measured in alternating slices of about 10 ms (at least 20 each, `seconds` in
/// all per contender), so that a drift of the machine (frequency, a neighbour) weighs on both
/// alike: on a shared virtual machine a slow spell lasts tens to hundreds of milliseconds, and
/// slices much shorter than that split it between the two.
fn rate_interleaved<A, B>(
    seconds: f64,
    (a, mut fa): (&[A], impl FnMut(&A) -> bool),
    (b, mut fb): (&[B], impl FnMut(&B) -> bool),
) -> Res<((f64, u64), (f64, u64))> {
    const SLICE_SECONDS: f64 = 0.010;
    let slices = ((seconds / SLICE_SECONDS) as u32).max(20);
    warm_up(a, &mut fa)?;
    warm_up(b, &mut fb)?;
    let slice = Duration::from_secs_f64(seconds) / slices;
    let (mut ma, mut mb) = (Meter::default(), Meter::default());
    for _ in 0..slices {
        ma.run(a, slice, &mut fa)?;
        mb.run(b, slice, &mut fb)?;
    }
    Ok((ma.result(), mb.result()))
}

struct Raw {
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn raw_inputs(tokens: &[String]) -> Res<Vec<Raw>> {
    tokens
        .iter()
        .map(|t| {
            let (si, sig) = t.rsplit_once('.').ok_or("not a JWS")?;
            Ok(Raw {
                message: si.as_bytes().to_vec(),
                signature: URL_SAFE_NO_PAD.decode(sig).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

/// A public key: raw bytes (EC point, Ed25519), or RSA (n, e).
type RawKey = (Vec<u8>, Option<(Vec<u8>, Vec<u8>)>);

fn raw_key(dir: &Path, kid: &str) -> Res<RawKey> {
    let jwks = read_json(&dir.join("jwks.json"))?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|a| a.iter().find(|k| k["kid"] == kid))
        .ok_or("kid not in jwks")?;
    let d = |m: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[m].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    };
    match jwk["kty"].as_str() {
        Some("RSA") => Ok((Vec::new(), Some((d("n")?, d("e")?)))),
        Some("EC") => {
            let mut p = vec![4u8];
            p.extend(d("x")?);
            p.extend(d("y")?);
            Ok((p, None))
        }
        _ => Ok((d("x")?, None)),
    }
}

fn verify_bench(dir: &Path, seconds: f64) -> Res<()> {
    let v = verifier(dir)?;
    let waker = noop_waker();
    let now = wsauth_settings::clock::now_epoch();
    for (name, _alg, kid) in ALGS {
        let toks = tokens(dir, name)?;
        let inputs = raw_inputs(&toks)?;
        let (key, rsa) = raw_key(dir, kid)?;
        // The floor: the bare signature check with the key parsed once, as wsauth keeps it.
        let parsed = match (name, rsa) {
            ("RS256", Some((n_, e_))) => signature::RsaPublicKeyComponents { n: n_, e: e_ }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .map_err(|e| e.to_string())?,
            ("ES256", _) => ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, key)
                .map_err(|e| e.to_string())?,
            _ => ParsedPublicKey::new(&signature::ED25519, key).map_err(|e| e.to_string())?,
        };
        // The verifier's futures complete at the first poll: the keys are cached.
        let ((per_s, n), (raw_per_s, raw_n)) = rate_interleaved(
            seconds,
            (&toks, |t: &String| {
                poll_once(&waker, v.verify(t, now)).is_some_and(|r| r.is_ok())
            }),
            (&inputs, |r: &Raw| {
                parsed.verify_sig(&r.message, &r.signature).is_ok()
            }),
        )?;
        println!(
            "{}",
            json!({"bench":"verify","contender":"wsauth","alg":name,"per_second":per_s,"calls":n})
        );
        println!(
            "{}",
            json!({"bench":"verify","contender":"aws-lc-rs (raw)","alg":name,"per_second":raw_per_s,"calls":raw_n})
        );
    }
    Ok(())
}

/// A waker that does nothing: the verifier's futures never wait once keys are cached.
struct Noop;
impl std::task::Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn noop_waker() -> std::task::Waker {
    Arc::new(Noop).into()
}

/// Polls `fut` once; `None` if it would wait (it never does here).
fn poll_once<F: std::future::Future>(waker: &std::task::Waker, fut: F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

fn handler_bench(dir: &Path, seconds: f64) -> Res<()> {
    let v = verifier(dir)?;
    let auth = Authorizer::with_verifier(v);
    let template: Value = serde_json::from_str(include_str!(
        "../../authorizer/tests/data/authorizer-request.json"
    ))
    .map_err(|e| e.to_string())?;
    let waker = noop_waker();
    for (name, _, _) in ALGS {
        let events: Vec<Vec<u8>> = tokens(dir, name)?
            .into_iter()
            .take(2000)
            .map(|t| {
                // The token where the default deploy carries it: the subprotocol list.
                let mut e = template.clone();
                let offer = wsauth_protocol::token::subprotocol_offer(&t);
                e["headers"]["Sec-WebSocket-Protocol"] = json!(offer);
                e["multiValueHeaders"]["Sec-WebSocket-Protocol"] = json!([offer]);
                serde_json::to_vec(&e).unwrap_or_default()
            })
            .collect();
        let call = |raw: &Vec<u8>| -> bool {
            let Ok(event) =
                serde_json::from_slice::<wsauth_authorizer::WebSocketAuthorizerRequest>(raw)
            else {
                return false;
            };
            match poll_once(&waker, auth.handle(&event)) {
                Some(Ok(resp)) => serde_json::to_vec(&resp).is_ok(),
                _ => false,
            }
        };
        let (per_s, n) = rate(&events, seconds, call)?;
        // Allocations of one call, averaged over 1,000 calls.
        let region = GLOBAL.open();
        let mut ok = 0;
        for e in events.iter().cycle().take(1000) {
            ok += usize::from(call(e));
        }
        let (allocations, bytes) = region.close();
        if ok != 1000 {
            return Err(format!("{} of 1000 measured calls failed", 1000 - ok));
        }
        let per_call = allocations as f64 / 1000.0;
        let bytes = bytes as f64 / 1000.0;
        println!(
            "{}",
            json!({"bench":"handler","contender":"wsauth","alg":name,"per_second":per_s,"calls":n,
            "allocations_per_call":per_call,"bytes_allocated_per_call":bytes})
        );
    }
    Ok(())
}

mod gateway;
mod soak;

#[derive(Parser)]
#[command(name = "wsauth-bench", about = "The Rust side of bench/run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Keys, their JWKS and N tokens per algorithm, written once into DIR.
    Gen {
        /// Where to write.
        dir: PathBuf,
        /// Tokens per algorithm.
        n: usize,
    },
    /// wsauth's verifier beside the bare aws-lc-rs check, for SECONDS.
    Verify {
        /// What `gen` wrote.
        dir: PathBuf,
        /// How long to measure.
        seconds: f64,
    },
    /// The authorizer handler, event JSON in → policy JSON out, for SECONDS.
    Handler {
        /// What `gen` wrote.
        dir: PathBuf,
        /// How long to measure.
        seconds: f64,
    },
    /// Creates WSAUTH_TABLE and binds the connection the routes cold start pings.
    Table,
    /// The same WebSocket load against one gateway.
    Gateway {
        /// The contender's name in the report.
        label: String,
        /// Its WebSocket URL.
        url: String,
        /// What `gen` wrote.
        data_dir: PathBuf,
        /// Idle connections for the memory and broadcast phases.
        idle: usize,
        /// Round trips per latency phase.
        samples: usize,
        /// Time allowed to open the idle connections, in seconds.
        #[arg(long, default_value_t = 90)]
        idle_seconds: u64,
        /// The server's process IDs (their trees' resident memory is read).
        #[arg(long, value_delimiter = ' ')]
        server_pids: Vec<u32>,
    },
    /// Minutes of numbered traffic through wsauth-local with faults in the middle; writes the
    /// report (JSON) and exits 1 when a "must hold" line fails.
    Soak(soak::Soak),
}

fn soak_command(s: soak::Soak) -> Res<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let out = s.out.clone();
    let (report, ok) = rt.block_on(soak::run(s))?;
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    if ok {
        Ok(())
    } else {
        Err(format!("a must-hold line failed (see {})", out.display()))
    }
}

/// Creates the table and binds the connection the routes cold start pings, for a day, so that
/// it answers a real `ping` (not a not_bound close).
fn table() -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let settings = wsauth_settings::Settings::from_env()
            .store()
            .map_err(|e| e.to_string())?;
        let client = wsauth_session::dynamo::client(&settings).await;
        wsauth_session::dynamo::ensure_tables(&client, &settings)
            .await
            .map_err(|e| e.to_string())?;
        let store = wsauth_session::DynamoSessionStore::new(client, &settings);
        let id = wsauth_policy::Identity {
            user_id: "alice".into(),
            scopes: vec!["messages:send".into()],
            expires_at: wsauth_settings::clock::now_epoch() + 86_400,
            session_id: "bench".into(),
            issuer: ISSUER.into(),
            issued_at: None,
        };
        let b =
            wsauth_session::Binding::new("bench-ping-connection", &id, 1, "http://127.0.0.1:9/dev");
        use wsauth_session::SessionStore as _;
        match store.bind(&b).await {
            Ok(()) | Err(wsauth_session::StoreError::AlreadyBound) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    })
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Gen { dir, n } => generate(&dir, n),
        Command::Verify { dir, seconds } => verify_bench(&dir, seconds),
        Command::Handler { dir, seconds } => handler_bench(&dir, seconds),
        Command::Table => table(),
        Command::Gateway {
            label,
            url,
            data_dir,
            idle,
            samples,
            idle_seconds,
            server_pids,
        } => gateway::run(gateway::Run {
            label,
            url,
            data_dir,
            idle,
            samples,
            idle_budget: Duration::from_secs(idle_seconds),
            pids: server_pids,
        }),
        Command::Soak(s) => soak_command(s),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
