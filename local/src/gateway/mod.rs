//! The emulated API Gateway WebSocket API: it refuses what API Gateway refuses and fails the way
//! it fails, in front of the four functions ([`functions`]), linked in or run as built binaries.
//!
//! # Layout
//!
//! - this file: the options, the connection registry, the HTTP application and its guards (a
//!   `Host` that is neither the listen address nor a loopback name → 403; URLs over 4,096
//!   characters → 414), shutdown.
//! - [`events`]: the events in AWS's shapes; what API Gateway checks of an authorizer's answer.
//! - [`functions`]: the four functions behind one JSON interface, with timeouts and crash
//!   isolation.
//! - [`handshake`]: the upgrade: identity source, authorizer, policy, `$connect`.
//! - [`connection`]: one connection's life: limits, concurrent message invocations, idle and
//!   maximum duration, `$disconnect`.
//! - [`management`]: the @connections API (SigV4, 410, 429), what the handlers call.
//! - [`peer`]: the listener that keeps each connection's request head (header names' case).
//! - [`sigv4`]: AWS Signature Version 4 verification for @connections.
//! - [`throttle`]: the account's token buckets (new connections, requests per second).
//! - [`dev`]: wsauth-local's own endpoints: push, dev tokens, JWKS, the demo page.

pub mod connection;
pub mod dev;
pub mod events;
pub mod functions;
pub mod handshake;
pub mod management;
pub mod peer;
pub mod sigv4;
pub mod throttle;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router as HttpRouter;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use wsauth_protocol::token::TokenSource;
use wsauth_session::SessionStore;
use wsauth_settings::Settings;

use crate::devissuer::DevIssuer;
use connection::Conn;
use events::Api;
use functions::Functions;
pub use sigv4::Credentials;

// API Gateway's limits, enforced here as on AWS (one home: `wsauth_protocol::limits`).
use wsauth_protocol::host::{is_loopback_host, is_loopback_ip, split_host};
pub use wsauth_protocol::limits::{
    IDLE_TIMEOUT, INTEGRATION_TIMEOUT, MAX_CONNECTION_DURATION, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES,
};
/// Each function's timeout, in seconds, unless `--function-timeout` says otherwise: the
/// `timeout` `serverless.yml` deploys with (`tests/tests/route_table.rs` holds them together).
pub const FUNCTION_TIMEOUT_SECS: u64 = 10;
/// The longest URL accepted (the handshake's and the management API's).
pub const MAX_URL_CHARS: usize = 4096;

/// How `wsauth-local` behaves (the `serve` flags).
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The stage: the WebSocket URL is `ws://{listen}/{stage}`.
    pub stage: String,
    /// Close a connection idle (no data either way) this long (1001).
    pub idle_timeout: Duration,
    /// Close any connection after this long (1001).
    pub max_connection_duration: Duration,
    /// Accept `POST /_wsauth/push` from non-loopback peers (off: loopback only).
    pub push_from_anywhere: bool,
    /// Region in the `methodArn`.
    pub region: String,
    /// Account in the `methodArn`.
    pub account: String,
    /// API ID in the `methodArn` and events.
    pub api_id: String,
    /// The one place the handshake token travels (`--token-source`, else `WSAUTH_TOKEN_SOURCE`,
    /// else `subprotocol`): the identity source API Gateway checks and the authorizer reads.
    pub token_source: TokenSource,
    /// The settings the emulated functions see (`serve` reads the environment once; tests
    /// pass their own, empty by default): verifier options, route policy, table.
    pub settings: Settings,
    /// Each function's timeout (`serverless.yml`'s `timeout`, 10 s); a route integration never
    /// waits longer than [`INTEGRATION_TIMEOUT`] either.
    pub function_timeout: Duration,
    /// The share of `$disconnect` invocations dropped (API Gateway delivers them on a best-effort
    /// basis): 0.0 to 1.0, default 0.
    pub lose_disconnects: f64,
    /// `--lambdas DIR`: run the built binaries instead of the linked-in handlers.
    pub lambdas: Option<crate::lambdas::LambdaOptions>,
    /// The concurrency the four functions share (`--lambda-concurrency`, both modes): one
    /// invocation more than this at once is throttled at once, as Lambda throttles (default:
    /// 1,000, the account's default limit).
    pub concurrency: usize,
    /// How long API Gateway waits for a route's integration: 29 s, as on AWS (then `Endpoint
    /// request timed out`). Shorter only in tests.
    pub integration_timeout: Duration,
    /// `--throttle-connections`: new connections per second (beyond: the handshake gets 429).
    pub throttle_connections: Option<throttle::Rate>,
    /// `--throttle-requests`: @connections calls per second (beyond: 429
    /// `LimitExceededException`).
    pub throttle_requests: Option<throttle::Rate>,
    /// `--custom-domain NAME/BASE_PATH`: a custom domain name whose base path maps to the
    /// stage, as an API Gateway custom domain with a base-path mapping does.
    pub custom_domain: Option<CustomDomain>,
}

/// A custom domain name with a base-path mapping to the stage (`--custom-domain
/// api.example.com/chat`): a request whose `Host` names it reaches the stage at
/// `/{base_path}` (the WebSocket and @connections alike) and at no other path, and its events
/// carry the domain as `domainName` with the stage as `stage`, as on AWS. So the endpoint the
/// handlers derive from an event, `https://{domainName}/{stage}`, fails there unless the base
/// path is the stage, as it fails on AWS; `WSAUTH_MANAGEMENT_ENDPOINT` is the remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    /// The domain name, lower case, no port.
    pub name: String,
    /// The base path (one path segment, not empty).
    pub base_path: String,
}

impl std::str::FromStr for CustomDomain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, base_path) = s.split_once('/').ok_or_else(|| {
            format!("{s:?}: expected DOMAIN/BASE_PATH, e.g. api.example.com/chat")
        })?;
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.len() > 253 || !name.contains('.') || !name.split('.').all(label_ok) {
            return Err(format!(
                "{name:?}: not a domain name (e.g. api.example.com)"
            ));
        }
        let segment_ok = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        if base_path.is_empty() || !base_path.bytes().all(segment_ok) {
            return Err(format!(
                "{base_path:?}: the base path must be one non-empty path segment \
                 (letters, digits, - . _ ~); an empty base path is not emulated"
            ));
        }
        Ok(Self {
            name: name.to_ascii_lowercase(),
            base_path: base_path.to_owned(),
        })
    }
}

/// The functions' shared concurrency unless `--lambda-concurrency` says otherwise: Lambda's
/// default account limit.
pub const DEFAULT_CONCURRENCY: usize = 1000;

/// The stage wsauth-local serves unless told otherwise (`--stage`).
pub const DEFAULT_STAGE: &str = "dev";

/// The address wsauth-local listens on unless told otherwise (`--listen`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            stage: DEFAULT_STAGE.into(),
            idle_timeout: IDLE_TIMEOUT,
            max_connection_duration: MAX_CONNECTION_DURATION,
            push_from_anywhere: false,
            region: wsauth_settings::aws::LOCAL_REGION.into(),
            account: "123456789012".into(),
            api_id: "wsauthlocal".into(),
            token_source: TokenSource::default(),
            settings: Settings::default(),
            function_timeout: Duration::from_secs(FUNCTION_TIMEOUT_SECS),
            lose_disconnects: 0.0,
            lambdas: None,
            concurrency: DEFAULT_CONCURRENCY,
            integration_timeout: INTEGRATION_TIMEOUT,
            throttle_connections: None,
            throttle_requests: None,
            custom_domain: None,
        }
    }
}

/// Everything the gateway needs: the functions, the route table and the connection registry.
pub struct Gateway {
    /// What it was started with: the stage, API Gateway's limits, the token source, the
    /// settings the functions see.
    opts: GatewayOptions,
    /// The emulated API (ID, region, account, stage): what every event and `methodArn` names.
    api: Api,
    /// The address it listens on: the `Host` its endpoints answer to.
    listen: SocketAddr,
    /// The four functions (linked in, or child processes with `--lambdas`) behind their
    /// concurrency limit: every event goes through here, as on AWS every integration goes
    /// through Lambda.
    functions: Arc<dyn Functions>,
    /// The route table (the router's): the keys a message can select (any other selects
    /// `$default`), each with whether it has a route response. A route without one is one-way,
    /// as on API Gateway: what its integration returns is dropped.
    routes: HashMap<String, bool>,
    /// The bindings the functions keep: [`Gateway::store`] hands them to tests (linked mode).
    store: Arc<dyn SessionStore>,
    /// The credentials @connections calls must be signed with (SigV4), as IAM would require.
    credentials: Credentials,
    /// The dev issuer (JWKS and dev tokens) when `WSAUTH_ISSUER` is unset.
    dev: Option<DevIssuer>,
    /// The live connections by ID: what @connections posts to, reads and closes.
    conns: RwLock<HashMap<String, Conn>>,
    /// Connections whose `$disconnect` has not run yet: shutdown waits for them.
    active: AtomicUsize,
    /// Set by [`Gateway::shutdown`]: handshakes are refused from then on.
    shutting_down: AtomicBool,
    /// Woken each time a connection's `$disconnect` has run: shutdown waits on it.
    gone: tokio::sync::Notify,
    /// New connections per second (`--throttle-connections`).
    connections_bucket: Option<throttle::TokenBucket>,
    /// @connections calls per second (`--throttle-requests`).
    requests_bucket: Option<throttle::TokenBucket>,
}

/// `http://{ip}:{port}` of this gateway (loopback when it listens on every interface): where the
/// functions it runs send their @connections calls (`WSAUTH_LOCAL_GATEWAY`), each addressed to
/// the endpoint it derived or was given.
pub fn local_base_url(listen: SocketAddr) -> String {
    let ip = if listen.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        listen.ip()
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// The header naming an AWS error's type (SDKs read the error from it).
pub(crate) const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// A management-API style error: the status, `x-amzn-errortype`, `{"message": …}`.
pub(crate) fn aws_error(status: u16, error_type: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    typed(
        (status, axum::Json(json!({"message": message}))).into_response(),
        error_type,
    )
}

/// API Gateway's 403 for a path, host or caller it does not serve.
pub(crate) fn forbidden() -> Response {
    aws_error(403, "ForbiddenException", "Forbidden")
}

/// API Gateway's 429 of a throttled @connections call or a full outgoing queue.
pub(crate) fn limit_exceeded() -> Response {
    aws_error(429, "LimitExceededException", "Rate exceeded")
}

/// `response` with its AWS error type.
pub(crate) fn typed(mut response: Response, error_type: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(error_type) {
        response.headers_mut().insert(ERROR_TYPE_HEADER, v);
    }
    response
}

impl Gateway {
    /// A gateway listening at `listen` in front of `functions`, selecting among `routes` (each
    /// key with whether it answers: has a route response);
    /// `store` is the session store the functions use (for inspection), `credentials` the ones
    /// @connections calls must be signed with.
    pub fn new(
        opts: GatewayOptions,
        listen: SocketAddr,
        functions: Arc<dyn Functions>,
        routes: impl IntoIterator<Item = (String, bool)>,
        store: Arc<dyn SessionStore>,
        credentials: Credentials,
        dev: Option<DevIssuer>,
    ) -> Self {
        let api = Api {
            stage: opts.stage.clone(),
            region: opts.region.clone(),
            account: opts.account.clone(),
            api_id: opts.api_id.clone(),
        };
        let functions: Arc<dyn Functions> =
            Arc::new(functions::Throttled::new(functions, opts.concurrency));
        Self {
            connections_bucket: opts.throttle_connections.map(throttle::TokenBucket::new),
            requests_bucket: opts.throttle_requests.map(throttle::TokenBucket::new),
            opts,
            api,
            listen,
            functions,
            routes: routes.into_iter().collect(),
            store,
            credentials,
            dev,
            conns: RwLock::new(HashMap::new()),
            active: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            gone: tokio::sync::Notify::new(),
        }
    }

    /// The HTTP application: WebSocket endpoint, @connections, push, JWKS, demo page.
    pub fn app(self: &Arc<Self>) -> HttpRouter {
        HttpRouter::new()
            .route("/", get(dev::demo_page))
            .route("/demo.js", get(dev::demo_js))
            .route("/wsauth-client.js", get(dev::client_js))
            .route("/demo.css", get(dev::demo_css))
            .route("/.well-known/jwks.json", get(dev::jwks))
            .route("/_wsauth/push", post(dev::push))
            .route("/_wsauth/dev/token", post(dev::dev_token))
            .route("/{stage}", get(handshake::upgrade))
            .route(
                "/{stage}/@connections/{id}",
                get(management::call)
                    .post(management::call)
                    .delete(management::call),
            )
            .layer(axum::middleware::from_fn_with_state(self.clone(), guard))
            .with_state(self.clone())
    }

    /// The route table: the keys messages are selected among (`$default` included).
    pub fn route_keys(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// Whether `route_key` has a route response: its integration's replies reach the client.
    pub fn answers(&self, route_key: &str) -> bool {
        self.routes.get(route_key).copied().unwrap_or(false)
    }

    /// The session store behind the functions.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.conns.read().map(|c| c.len()).unwrap_or(0)
    }

    /// Closes every connection with 1001, waits (up to `wait`) until each has run its
    /// `$disconnect`, then stops the functions.
    pub async fn shutdown(&self, wait: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        if let Ok(conns) = self.conns.read() {
            for c in conns.values() {
                c.close(1001, "Going away");
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before the check, so a notification between the two is not lost.
            let notified = self.gone.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        self.functions.stop();
    }

    /// Whether the first path segment `segment`, on a request whose `Host` is `host`, reaches
    /// the stage: the base path on the custom domain, the stage's name on any other host (the
    /// API's own endpoint). Anything else is 403 `Forbidden`, as API Gateway answers a path no
    /// stage or mapping serves.
    fn reaches_stage(&self, host: &str, segment: &str) -> bool {
        let (name, _) = split_host(host);
        match &self.opts.custom_domain {
            Some(d) if d.name.eq_ignore_ascii_case(name) => segment == d.base_path,
            _ => segment == self.opts.stage,
        }
    }

    /// Whether `host` (a `Host` header) names this server: a loopback name or address, or the
    /// listen address (any IP literal when listening on all interfaces). A domain name that
    /// merely resolves here (DNS rebinding) is refused.
    fn host_allowed(&self, host: &str, path: &str) -> bool {
        let (name, _) = split_host(host);
        if let Some(d) = &self.opts.custom_domain
            && d.name.eq_ignore_ascii_case(name)
        {
            // The custom domain reaches the stage's paths only, never wsauth-local's own
            // endpoints (push, dev tokens, the demo page): a name someone else's DNS answers for
            // must not open them to a rebinding page.
            let rest = path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(d.base_path.as_str()));
            return rest.is_some_and(|r| r.is_empty() || r.starts_with("/@connections/"));
        }
        if is_loopback_host(name) {
            return true;
        }
        name.parse::<IpAddr>()
            .is_ok_and(|ip| ip == self.listen.ip() || self.listen.ip().is_unspecified())
    }
}

/// Every request: the `Host` must name this server (403 otherwise: DNS rebinding; a configured
/// custom domain counts for the stage's paths only), and the URL
/// must fit API Gateway's limit (414).
async fn guard(State(gw): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    if request.uri().to_string().len() > MAX_URL_CHARS {
        return aws_error(414, "UriTooLongException", "URI too long");
    }
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !gw.host_allowed(host, request.uri().path()) {
        tracing::info!(host, "request refused: foreign Host");
        return forbidden();
    }
    next.run(request).await
}

/// Whether a peer is on this machine.
fn is_loopback(peer: &SocketAddr) -> bool {
    is_loopback_ip(peer.ip())
}
