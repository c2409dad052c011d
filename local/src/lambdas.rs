//! `--lambdas DIR`: the four functions run as the very binaries that deploy, each behind an
//! emulated Lambda Runtime API (`/2018-06-01/runtime/invocation/next`, `…/{id}/response`,
//! `…/{id}/error`, `/2018-06-01/runtime/init/error`), the way Lambda runs a custom runtime.
//!
//! Like Lambda: an instance (a child process with `AWS_LAMBDA_RUNTIME_API` pointing at its own
//! Runtime API endpoint) handles one invocation at a time; more instances start on demand, as
//! many as `--lambda-instances` lets run on this machine (beyond, an invocation waits for a free
//! one) and within the gateway's concurrency limit (`--lambda-concurrency` per function, beyond
//! which an invocation is throttled at once); an invocation past the function's timeout ends its
//! instance and fails; an instance that exits is replaced by the next invocation; every child is
//! killed when wsauth-local stops. Each child gets only the environment `serverless.yml` gives the
//! functions, plus Lambda's own variables. Its output is forwarded to wsauth-local's log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router as HttpRouter;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use wsauth_settings::clock::now_ms;

use crate::gateway::functions::{Function, Functions, InvokeError};
use wsauth_protocol::host::{is_loopback_host, split_host};

/// Time an instance gets to take an invocation: Lambda's init phase (its own 10 s limit) for a
/// fresh instance. The function's timeout runs from the moment the invocation is delivered.
const INIT_ALLOWANCE: Duration = Duration::from_secs(10);

/// Where the binaries are and how to run them.
#[derive(Debug, Clone)]
pub struct LambdaOptions {
    /// The directory holding `authorizer`, `connect`, `routes` and `push` (or each as
    /// `{name}/bootstrap`, cargo-lambda's layout).
    pub dir: PathBuf,
    /// A command the binaries run under (e.g. `qemu-aarch64-static -L /usr/aarch64-linux-gnu`
    /// for arm64 builds on x86_64), from `--lambda-runner`; empty: run them directly.
    pub runner: Vec<String>,
    /// The most instances of each function running at once on this machine
    /// (`--lambda-instances`, default [`DEFAULT_INSTANCES`]): an invocation beyond them waits
    /// for one to be free (within the integration timeout), where Lambda would start another.
    /// A limit of the machine, not of Lambda: the gateway's `--lambda-concurrency` throttles.
    pub instances: usize,
}

/// The most instances per function unless `--lambda-instances` says otherwise: a burst of
/// 1,000 messages must not start 1,000 processes (under qemu, a few hundred MiB each).
pub const DEFAULT_INSTANCES: usize = 4;

impl LambdaOptions {
    /// The binary of `f` in the directory: `{dir}/{name}`, else `{dir}/{name}/bootstrap`.
    pub fn binary(&self, f: Function) -> Option<PathBuf> {
        [
            self.dir.join(f.name()),
            self.dir.join(f.name()).join("bootstrap"),
        ]
        .into_iter()
        .find(|p| p.is_file())
    }
}

type Reply = oneshot::Sender<Result<Value, InvokeError>>;

/// One invocation on its way to an instance.
struct Invocation {
    /// The `Lambda-Runtime-Aws-Request-Id` the instance answers with.
    request_id: String,
    /// The event, as the instance reads it from `…/invocation/next`.
    event: Value,
    /// The function's timeout, sent as the deadline header and enforced from delivery on.
    timeout: Duration,
    /// Where the response (or the error) goes.
    reply: Reply,
    /// Fired when the instance took the event: the timeout runs from then on.
    delivered: oneshot::Sender<()>,
}

/// What an instance's Runtime API endpoint and the pool share.
struct Shared {
    /// Which function this instance runs (logs, `Host` checks).
    function: Function,
    /// The invocations waiting for this instance's `…/invocation/next`.
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// Invocations taken and not answered yet, by request ID.
    in_flight: Mutex<HashMap<String, Reply>>,
    /// Set when the instance failed to start or crashed: the pool never reuses it.
    dead: AtomicBool,
    /// Set once the process is gone.
    died: tokio::sync::watch::Sender<bool>,
}

/// One running instance: its process (killed when this is dropped) and its invocation queue.
struct Instance {
    /// What it shares with its Runtime API endpoint.
    shared: Arc<Shared>,
    /// Where its next invocation is sent.
    queue: mpsc::Sender<Invocation>,
    /// Dropped with the instance: kills its process.
    _kill: oneshot::Sender<()>,
}

/// The instances of one function.
struct Pool {
    /// The function its instances run.
    function: Function,
    /// The binary each instance starts (`bootstrap` of the function's folder).
    binary: PathBuf,
    /// A command the binary runs under (qemu for arm64 builds on x86_64); empty: none.
    runner: Vec<String>,
    /// The environment each instance gets (the settings, credentials, Runtime API address).
    env: Vec<(String, String)>,
    /// Each invocation's timeout.
    timeout: Duration,
    /// Instances started and free for the next invocation (warm starts).
    idle: Mutex<Vec<Instance>>,
    /// One permit per instance that may run at once ([`LambdaOptions::instances`]).
    slots: tokio::sync::Semaphore,
}

/// The four functions as child processes.
pub struct Lambdas {
    /// One pool per function.
    pools: HashMap<Function, Pool>,
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

fn request_id() -> String {
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}-{n:08x}", u64::from_le_bytes(b))
}

impl Lambdas {
    /// The pools, each child started with `env` (what `serverless.yml` gives every function)
    /// and Lambda's own variables; `timeout` is each function's.
    pub fn new(
        opts: &LambdaOptions,
        env: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let mut pools = HashMap::new();
        for f in Function::ALL {
            let binary = opts.binary(f).ok_or_else(|| {
                format!(
                    "--lambdas {}: no `{}` (nor `{}/bootstrap`) there; build with `cargo build` \
                     or scripts/build-lambdas",
                    opts.dir.display(),
                    f.name(),
                    f.name()
                )
            })?;
            pools.insert(
                f,
                Pool {
                    function: f,
                    binary,
                    runner: opts.runner.clone(),
                    env: env.clone(),
                    timeout,
                    idle: Mutex::new(Vec::new()),
                    slots: tokio::sync::Semaphore::new(opts.instances.max(1)),
                },
            );
        }
        Ok(Self { pools })
    }
}

#[async_trait]
impl Functions for Lambdas {
    async fn invoke(&self, f: Function, event: Value) -> Result<Value, InvokeError> {
        match self.pools.get(&f) {
            Some(pool) => pool.invoke(event).await,
            None => Err(InvokeError::Crashed(format!("no {} binary", f.name()))),
        }
    }

    /// Kills every idle instance (busy ones end with their invocation or their process).
    fn stop(&self) {
        for pool in self.pools.values() {
            if let Ok(mut idle) = pool.idle.lock() {
                idle.clear();
            }
        }
    }
}

impl Pool {
    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        // Each invocation has an instance to itself: an idle one, else a new one, at most
        // `--lambda-instances` at once (this machine's limit: beyond it an invocation waits for
        // a free one; the gateway's `--lambda-concurrency` throttles before that).
        // The semaphore is never closed: acquiring fails only if it were.
        let Ok(_slot) = self.slots.acquire().await else {
            return Err(InvokeError::Crashed("no instance slot".into()));
        };
        let reused = self.idle.lock().ok().and_then(|mut idle| {
            while let Some(i) = idle.pop() {
                if !i.shared.dead.load(Ordering::SeqCst) {
                    return Some(i);
                }
            }
            None
        });
        let instance = match reused {
            Some(i) => i,
            None => self.start().await.map_err(InvokeError::Crashed)?,
        };
        let (reply, answer) = oneshot::channel();
        let (delivered_tx, delivered) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id(),
            event,
            timeout: self.timeout,
            reply,
            delivered: delivered_tx,
        };
        let mut died = instance.shared.died.subscribe();
        if instance.queue.send(invocation).await.is_err() {
            return Err(InvokeError::Crashed("the instance is gone".into()));
        }
        // Until the instance takes the invocation (its init, when fresh), then the timeout.
        let taken = async {
            tokio::select! {
                r = delivered => r.is_ok(),
                _ = died.wait_for(|d| *d) => false,
            }
        };
        match tokio::time::timeout(INIT_ALLOWANCE, taken).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(InvokeError::Crashed(format!(
                    "the {} process exited",
                    self.function.name()
                )));
            }
            Err(_) => return Err(InvokeError::Timeout),
        }
        let answered = async {
            tokio::select! {
                r = answer => r.map_err(|_| ()),
                _ = died.wait_for(|d| *d) => Err(()),
            }
        };
        match tokio::time::timeout(self.timeout, answered).await {
            Ok(Ok(result)) => {
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(instance);
                }
                result
            }
            Ok(Err(_)) => Err(InvokeError::Crashed(format!(
                "the {} process exited",
                self.function.name()
            ))),
            // Lambda ends an instance that runs past its timeout: dropping it kills the process.
            Err(_) => Err(InvokeError::Timeout),
        }
    }

    /// Starts an instance: its Runtime API endpoint on 127.0.0.1, then the process.
    async fn start(&self) -> Result<Instance, String> {
        let (queue_tx, queue_rx) = mpsc::channel::<Invocation>(1);
        let shared = Arc::new(Shared {
            function: self.function,
            queue: tokio::sync::Mutex::new(queue_rx),
            in_flight: Mutex::new(HashMap::new()),
            dead: AtomicBool::new(false),
            died: tokio::sync::watch::Sender::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("runtime API: {e}"))?;
        let api = listener
            .local_addr()
            .map_err(|e| format!("runtime API: {e}"))?;
        let app = runtime_api(shared.clone(), api.port());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let (program, args) = match self.runner.split_first() {
            Some((p, rest)) => (
                PathBuf::from(p),
                rest.iter()
                    .cloned()
                    .chain([self.binary.display().to_string()])
                    .collect(),
            ),
            None => (self.binary.clone(), Vec::new()),
        };
        let name = self.function.name();
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .env_clear()
            .envs(self.env.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("wsauth-local-{name}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/wsauth-local-{name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "wsauth-local")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", dir_of(&self.binary))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = cut(&line, MAX_FORWARDED_LINE);
                    tracing::info!(function = name, "{line}");
                }
            });
        }
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let watched = shared.clone();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    tracing::info!(function = name, status = ?status.ok(), "instance exited");
                }
                _ = kill_rx => {
                    let _ = child.kill().await;
                }
            }
            server.abort();
            watched.dead.store(true, Ordering::SeqCst);
            // Whatever it held fails as a crash.
            if let Ok(mut m) = watched.in_flight.lock() {
                m.clear();
            }
            watched.died.send_replace(true);
        });
        tracing::info!(function = name, runtime_api = %api, "instance started");
        Ok(Instance {
            shared,
            queue: queue_tx,
            _kill: kill_tx,
        })
    }
}

/// The longest line of a child's output forwarded to the log.
const MAX_FORWARDED_LINE: usize = 4096;

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn dir_of(p: &Path) -> String {
    p.parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// One instance's Runtime API, on 127.0.0.1 only, answering only a `Host` that names it: a
/// loopback name or address with its `port` (what `AWS_LAMBDA_RUNTIME_API` gives the runtime).
/// Anything else (a page that found the port through DNS rebinding) gets 403, and can neither
/// take an invocation (the authorizer's events carry bearer tokens) nor answer one.
fn runtime_api(shared: Arc<Shared>, port: u16) -> HttpRouter {
    HttpRouter::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(outcome))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let host = request
                    .headers()
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default();
                if !runtime_host_allowed(host, port) {
                    tracing::info!(host, "runtime API request refused: foreign Host");
                    return StatusCode::FORBIDDEN.into_response();
                }
                next.run(request).await
            },
        ))
        .with_state(shared)
}

/// Whether `host` (a `Host` header) names a Runtime API listening on loopback `port`.
fn runtime_host_allowed(host: &str, port: u16) -> bool {
    let (name, given) = split_host(host);
    is_loopback_host(name) && given == Some(port)
}

/// The next invocation (waits for one), with the headers `lambda_runtime` requires.
async fn next(State(s): State<Arc<Shared>>) -> Response {
    let mut queue = s.queue.lock().await;
    let Some(inv) = queue.recv().await else {
        return StatusCode::GONE.into_response();
    };
    drop(queue);
    let body = inv.event.to_string();
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", inv.request_id.clone());
    let deadline = now_ms() + i64::try_from(inv.timeout.as_millis()).unwrap_or(i64::MAX);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:us-east-1:123456789012:function:wsauth-local-{}",
            s.function.name()
        ),
    );
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-{}", inv.request_id),
    );
    set("content-type", "application/json".into());
    if let Ok(mut m) = s.in_flight.lock() {
        m.insert(inv.request_id, inv.reply);
    }
    let _ = inv.delivered.send(());
    (headers, body).into_response()
}

fn complete(s: &Shared, id: &str, result: Result<Value, InvokeError>) -> Response {
    let reply = s.in_flight.lock().ok().and_then(|mut m| m.remove(id));
    match reply {
        Some(r) => {
            let _ = r.send(result);
            StatusCode::ACCEPTED.into_response()
        }
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// `errorType` and `errorMessage` of a Runtime API error body (`{"errorType", "errorMessage"}`).
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let v = serde_json::from_slice::<Value>(body).unwrap_or_default();
    let field = |k: &str| v[k].as_str().map(str::to_owned);
    (field("errorType"), field("errorMessage"))
}

/// `…/invocation/{id}/response` (the function's response) or `…/invocation/{id}/error`.
async fn outcome(
    State(s): State<Arc<Shared>>,
    UrlPath((id, kind)): UrlPath<(String, String)>,
    body: Bytes,
) -> Response {
    let result = match kind.as_str() {
        "response" => serde_json::from_slice::<Value>(&body)
            .map_err(|e| InvokeError::Crashed(format!("response is not JSON: {e}"))),
        "error" => {
            let (error_type, message) = error_fields(&body);
            Err(InvokeError::failed(
                error_type.unwrap_or_default(),
                message.unwrap_or_else(|| "unknown error".into()),
            ))
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    complete(&s, &id, result)
}

/// The runtime could not start (a bad setting): the instance is dead.
async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    s.dead.store(true, Ordering::SeqCst);
    let message = error_fields(&body).1.unwrap_or_default();
    tracing::warn!(function = s.function.name(), error = %message, "instance failed to start");
    StatusCode::ACCEPTED.into_response()
}
