//! Shared harness: the real `wsauth-local` gateway on 127.0.0.1 port 0, a real WebSocket client.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_local::devissuer::DevIssuer;
use wsauth_local::{Gateway, GatewayOptions, IssuerMode, StoreKind};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Local {
    pub addr: std::net::SocketAddr,
    pub gateway: Arc<Gateway>,
    pub dev: Option<DevIssuer>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The dev issuer's directory, removed with the gateway.
    _dir: Option<tempfile::TempDir>,
}

/// A directory of its own, removed when dropped.
pub fn owned_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wsauth-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A fresh name under the temp directory (nothing is created).
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("wsauth-{tag}-{}-{t}-{n}", std::process::id()))
}

impl Local {
    /// wsauth-local with its dev issuer (keys in a fresh temp dir). With `WSAUTH_TEST_LAMBDAS`
    /// set (`scripts/test` does), the built Lambda binaries in that directory run the functions
    /// and the store is DynamoDB Local, whatever `store` says.
    pub async fn dev(opts: GatewayOptions, store: StoreKind) -> Self {
        let (opts, store) = if opts.lambdas.is_some() {
            (opts, store)
        } else {
            lambda_mode(opts, store)
        };
        Self::dev_with_routes(opts, store, Box::new(Ok)).await
    }

    /// wsauth-local with its dev issuer and application routes added to its router (always the
    /// linked-in handlers: the binaries have no application routes).
    pub async fn dev_with_routes(
        opts: GatewayOptions,
        store: StoreKind,
        add_routes: wsauth_local::AddRoutes,
    ) -> Self {
        let dir = owned_dir("dev");
        let issuer = IssuerMode::Dev(dir.path().to_owned());
        Self::start(opts, issuer, store, Some(dir), add_routes).await
    }

    /// wsauth-local verifying against an external issuer, configured by `settings` (in
    /// Lambda mode, the functions' environment).
    pub async fn external(opts: GatewayOptions, settings: wsauth_settings::Settings) -> Self {
        let cfg = settings.auth().unwrap();
        let opts = GatewayOptions { settings, ..opts };
        let (opts, store) = lambda_mode(opts, StoreKind::Memory);
        Self::start(
            opts,
            IssuerMode::External(Box::new(cfg)),
            store,
            None,
            Box::new(Ok),
        )
        .await
    }

    async fn start(
        opts: GatewayOptions,
        issuer: IssuerMode,
        store: StoreKind,
        dir: Option<tempfile::TempDir>,
        add_routes: wsauth_local::AddRoutes,
    ) -> Self {
        let opts = with_test_losses(opts);
        let (listener, running) =
            wsauth_local::bind_with_routes("127.0.0.1:0", opts, issuer, store, add_routes)
                .await
                .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let gateway = running.gateway.clone();
        let task = tokio::spawn(wsauth_local::run(listener, running.gateway, async {
            let _ = rx.await;
        }));
        let dev = dir
            .as_ref()
            .map(|d| DevIssuer::load_or_create(d.path()).unwrap());
        Local {
            addr: running.addr,
            gateway,
            dev,
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/dev", self.addr)
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A connection of `sub` with `scope` (a token for 10 minutes, in the subprotocol list).
    pub async fn open(&self, sub: &str, scope: &str) -> Ws {
        connect(&self.url(), &self.token(sub, scope, 600), Via::Subprotocol)
            .await
            .unwrap()
    }

    /// [`Local::open`], and the connection's ID as `whoami` tells it.
    pub async fn open_with_id(&self, sub: &str, scope: &str) -> (Ws, String) {
        let mut ws = self.open(sub, scope).await;
        let id = request(&mut ws, serde_json::json!({"action": "whoami"})).await["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();
        (ws, id)
    }

    pub fn token(&self, sub: &str, scope: &str, ttl: i64) -> String {
        self.dev
            .as_ref()
            .unwrap()
            .mint(sub, scope, ttl, now())
            .unwrap()
    }

    /// Stops the server (graceful shutdown) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// The variable naming the share of `$disconnect` invocations the gateways of a run lose
/// (`scripts/test` sets 0.05 for one run of the e2e and security suites): API Gateway delivers
/// `$disconnect` on a best-effort basis, and the suites must hold when it does not.
pub const LOSE_DISCONNECTS_VAR: &str = "WSAUTH_TEST_LOSE_DISCONNECTS";

/// `opts` losing the share of `$disconnect` [`LOSE_DISCONNECTS_VAR`] names, unless the test set
/// a share of its own.
pub fn with_test_losses(mut opts: GatewayOptions) -> GatewayOptions {
    if opts.lose_disconnects == 0.0
        && let Ok(v) = std::env::var(LOSE_DISCONNECTS_VAR)
    {
        let share: f64 = v
            .parse()
            .unwrap_or_else(|_| panic!("{LOSE_DISCONNECTS_VAR}={v:?}: not a number"));
        assert!(
            (0.0..=1.0).contains(&share),
            "{LOSE_DISCONNECTS_VAR}={v}: 0 to 1"
        );
        opts.lose_disconnects = share;
    }
    opts
}

/// Whether the suites run against the built Lambda binaries (`WSAUTH_TEST_LAMBDAS=DIR`, with
/// `WSAUTH_TEST_LAMBDA_RUNNER`, e.g. qemu for arm64 builds), and the options for that.
pub fn lambda_mode(opts: GatewayOptions, store: StoreKind) -> (GatewayOptions, StoreKind) {
    match std::env::var("WSAUTH_TEST_LAMBDAS") {
        Ok(dir) if !dir.is_empty() => {
            let runner = std::env::var("WSAUTH_TEST_LAMBDA_RUNNER").unwrap_or_default();
            let lambdas = wsauth_local::lambdas::LambdaOptions {
                dir: dir.into(),
                runner: runner.split_whitespace().map(str::to_owned).collect(),
                // One instance per function: qemu processes are heavy on two cores, and the
                // suites' counts (JWKS fetches per instance) assume one warm instance.
                instances: 1,
            };
            let mut opts = GatewayOptions {
                lambdas: Some(lambdas),
                ..opts
            };
            // The functions' environment: DynamoDB Local's endpoint (scripts/test sets it).
            let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
            opts.settings
                .set("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_deref());
            (fresh_tables(opts), StoreKind::Dynamodb)
        }
        _ => (opts, store),
    }
}

/// `opts` with tables of their own (sessions and revocations) for the DynamoDB store: tests run
/// side by side, and one test's logout must not refuse another's user.
pub fn fresh_tables(mut opts: GatewayOptions) -> GatewayOptions {
    let name = temp_dir("table")
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    opts.settings.set("WSAUTH_TABLE", Some(&name));
    opts.settings.set(
        "WSAUTH_REVOCATIONS_TABLE",
        Some(&format!("{name}-revocations")),
    );
    opts
}

pub fn now() -> i64 {
    wsauth_settings::clock::now_epoch()
}

/// A claim of a JWT, read without verifying (the test's own tokens).
pub fn claim(token: &str, name: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&json).unwrap()[name].clone()
}

/// Sleeps until the clock shows a second after `t` (a token minted then is issued after it).
pub async fn after_second(t: i64) {
    while now() <= t {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How the client presents its token.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    Query,
    Header,
    Subprotocol,
    None,
}

/// Opens a WebSocket; `Err(status)` when the handshake is refused.
pub async fn connect(url: &str, token: &str, via: Via) -> Result<Ws, u16> {
    connect_with(url, token, via).await.map(|(ws, _)| ws)
}

/// Opens a WebSocket and returns the selected subprotocol too.
pub async fn connect_with(url: &str, token: &str, via: Via) -> Result<(Ws, Option<String>), u16> {
    let target = match via {
        Via::Query => format!("{url}?token={token}"),
        _ => url.to_owned(),
    };
    let mut req = target.into_client_request().unwrap();
    match via {
        Via::Header => {
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
        }
        Via::Subprotocol => {
            req.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(&format!("wsauth, bearer.{token}")).unwrap(),
            );
        }
        _ => {}
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, resp)) => {
            let proto = resp
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok((ws, proto))
        }
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub async fn send_text(ws: &mut Ws, s: &str) {
    ws.send(Message::Text(s.to_owned().into())).await.unwrap();
}

/// What the client saw next.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Json(Value),
    Closed(Option<u16>, String),
    Timeout,
}

pub async fn next(ws: &mut Ws, wait: Duration) -> Seen {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Seen::Timeout,
            Ok(None) => return Seen::Closed(None, String::new()),
            Ok(Some(Err(_))) => return Seen::Closed(None, String::new()),
            Ok(Some(Ok(Message::Text(t)))) => {
                return Seen::Json(serde_json::from_str(t.as_str()).unwrap());
            }
            Ok(Some(Ok(Message::Close(f)))) => {
                return match f {
                    Some(CloseFrame { code, reason }) => {
                        Seen::Closed(Some(code.into()), reason.to_string())
                    }
                    None => Seen::Closed(None, String::new()),
                };
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

pub async fn recv(ws: &mut Ws) -> Value {
    match next(ws, Duration::from_secs(5)).await {
        Seen::Json(v) => v,
        other => panic!("expected a JSON frame, saw {other:?}"),
    }
}

pub async fn expect_close(ws: &mut Ws, wait: Duration) -> (Option<u16>, String) {
    loop {
        match next(ws, wait).await {
            Seen::Closed(c, r) => return (c, r),
            Seen::Json(_) => continue,
            Seen::Timeout => panic!("connection was not closed"),
        }
    }
}

pub async fn request(ws: &mut Ws, v: Value) -> Value {
    send(ws, v).await;
    recv(ws).await
}

/// Asserts that the connection still answers `ping`.
pub async fn assert_pong(ws: &mut Ws) {
    let r = request(ws, serde_json::json!({"action": "ping"})).await;
    assert_eq!(r["type"], "pong", "{r}");
}

/// A real aws-sdk-apigatewaymanagement client pointed at the local @connections endpoint,
/// signing with wsauth-local's credentials (those of `scripts/test`, or its placeholders).
pub async fn management_client(local: &Local) -> aws_sdk_apigatewaymanagement::Client {
    management_client_with_secret(local, "local").await
}

/// The same client signing with another secret.
pub async fn management_client_with_secret(
    local: &Local,
    secret: &str,
) -> aws_sdk_apigatewaymanagement::Client {
    management_client_with_key(local, "local", secret).await
}

/// The same client signing with another access key and secret.
pub async fn management_client_with_key(
    local: &Local,
    key: &str,
    secret: &str,
) -> aws_sdk_apigatewaymanagement::Client {
    // Built as every wsauth client is, with the endpoint and the secret overridden.
    let sdk = wsauth_session::aws::sdk_config_from_env(true).await;
    let conf = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{}/dev", local.addr))
        .credentials_provider(aws_credential_types::Credentials::new(
            key, secret, None, None, "test",
        ))
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(conf)
}

/// PostToConnection through the SDK client.
pub async fn post_via(
    client: &aws_sdk_apigatewaymanagement::Client,
    connection_id: &str,
    data: impl Into<Vec<u8>>,
) -> Result<
    aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionOutput,
    aws_sdk_apigatewaymanagement::error::SdkError<
        aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError,
    >,
> {
    client
        .post_to_connection()
        .connection_id(connection_id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(data))
        .send()
        .await
}

/// POST /_wsauth/push.
pub async fn push(local: &Local, body: Value) -> (u16, Value) {
    http_post(&local.http("/_wsauth/push"), &body.to_string()).await
}

/// A minimal HTTP/1.1 POST of JSON over a TcpStream (no extra client dependency).
pub async fn http_post(url: &str, body: &str) -> (u16, Value) {
    let host = url
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    http_request("POST", url, &host, "application/json", body).await
}

/// A minimal HTTP/1.1 request with the given `Host` and `Content-Type`: the status and the JSON
/// body, if any.
pub async fn http_request(
    method: &str,
    url: &str,
    host_header: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).await.unwrap();
    let req = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    // Chunked bodies: take the JSON object within.
    let json = body
        .find('{')
        .and_then(|i| body.rfind('}').map(|j| &body[i..=j]))
        .unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}
