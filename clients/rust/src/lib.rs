//! `wsauth-client`: a WebSocket client for wsauth (API Gateway WebSocket APIs with real
//! identities), the Rust twin of the JavaScript client in `clients/js`.
//!
//! It connects with a token from the caller's provider (in the subprotocol list by default, or
//! the query string), renews the token on the live connection (`refresh`) before `expiresAt`,
//! reconnects with exponential backoff and jitter (always with a fresh token) after a drop, a
//! `session_expired`/`not_bound`, a server close or a refused handshake, and matches replies to
//! requests by `id` (API Gateway does not keep replies in order).
//!
//! [`Client::connect`] refuses a plain `ws://` URL (the token would travel in clear text) unless
//! its host is loopback (`localhost`, `127.0.0.0/8`, `[::1]`) or [`Options::allow_insecure`] is
//! set: [`Error::InsecureUrl`], before any token is fetched.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wsauth_client::Error> {
//! use wsauth_client::{Client, Options};
//! let client = Client::connect(Options::new("wss://abc.execute-api.eu-west-1.amazonaws.com/prod", || async {
//!     Ok::<_, wsauth_client::BoxError>("a JWT from your identity provider".to_owned())
//! }))?;
//! let mut messages = client.messages();
//! client.ready().await?;
//! let me = client.whoami().await?;
//! client.send_to_user("bob", serde_json::json!({"hi": 1})).await?;
//! let pushed = messages.recv().await;
//! client.close().await;
//! # let _ = (me, pushed); Ok(()) }
//! ```
//!
//! # Layout
//!
//! - this file: [`Options`], [`Client`] (the handle: requests go to the connection task through
//!   a channel), [`State`], [`Error`];
//! - `task.rs`: the connection task (connect, read, reply matching, refresh, backoff).

#![deny(missing_docs)]

mod task;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::http::Uri;
use wsauth_protocol::Builtin;
use wsauth_protocol::host::is_loopback_host;

/// Any error a token provider returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a token provider returns.
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<String, BoxError>> + Send>>;

/// Called at every (re)connect and before expiry; returns a JWT.
pub type TokenProvider = Arc<dyn Fn() -> TokenFuture + Send + Sync>;

/// The protocol this client speaks: route keys, error codes, frame types, limits.
pub use wsauth_protocol as protocol;
/// Where the handshake token travels, as the deploy is configured (the protocol's own type).
pub use wsauth_protocol::TokenSource;

/// Reconnect backoff: exponential from `min_delay` to `max_delay`, each delay jittered between
/// half and all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The first delay. Default 500 ms.
    pub min_delay: Duration,
    /// The longest delay. Default 30 s.
    pub max_delay: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// How to connect.
#[derive(Clone)]
pub struct Options {
    /// `wss://{api}.execute-api.{region}.amazonaws.com/{stage}`, or wsauth-local's `ws://…/dev`.
    /// Plain `ws://` is refused by [`Client::connect`] unless the host is loopback
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) or [`allow_insecure`](Self::allow_insecure) is set.
    pub url: String,
    /// The token provider.
    pub get_token: TokenProvider,
    /// Where the token travels. Default [`TokenSource::Subprotocol`].
    pub token_source: TokenSource,
    /// How long before `expiresAt` the token is renewed on the live connection. Default 60 s.
    pub refresh_before: Duration,
    /// Reconnect backoff.
    pub reconnect: Reconnect,
    /// How long a request waits for its reply. Default 10 s.
    pub request_timeout: Duration,
    /// Send the token over plain `ws://` to a host that is not loopback (in clear text: anyone
    /// on the path can read and replay it). Default `false`; `wss://` never needs it.
    pub allow_insecure: bool,
}

impl Options {
    /// Options with the defaults, connecting to `url` with tokens from `get_token`.
    pub fn new<F, Fut>(url: impl Into<String>, get_token: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, BoxError>> + Send + 'static,
    {
        Self {
            url: url.into(),
            get_token: Arc::new(move || Box::pin(get_token())),
            token_source: TokenSource::default(),
            refresh_before: Duration::from_secs(60),
            reconnect: Reconnect::default(),
            request_timeout: Duration::from_secs(10),
            allow_insecure: false,
        }
    }
}

/// The connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The first connection is being made.
    Connecting,
    /// Connected and authorized.
    Open,
    /// The connection dropped; a new one is being made after a backoff.
    Reconnecting,
    /// [`Client::close`] was called.
    Closed,
}

/// Why a request, or [`Client::connect`], failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// wsauth answered with an error frame (`bad_request`, `forbidden`, `invalid_token`, …).
    #[error("{code}: {message}")]
    Server {
        /// The contract's error code.
        code: String,
        /// Its text.
        message: String,
    },
    /// No reply within the request timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// Not connected at the moment (reconnecting).
    #[error("not connected")]
    NotOpen,
    /// The connection closed before the reply came.
    #[error("connection closed before the reply")]
    ConnectionClosed,
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// The request itself is not valid (an empty action, a body that is not a JSON object);
    /// nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// [`Client::connect`] refused the URL: not a `ws://` or `wss://` URL with a host. No token
    /// was fetched.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// [`Client::connect`] refused a plain `ws://` URL to this host, which is not loopback: the
    /// token would travel in clear text. Use `wss://`, or set [`Options::allow_insecure`]. No
    /// token was fetched.
    #[error(
        "refusing to send a token over plain ws:// to {0}: use wss://, or set allow_insecure to opt in (ws:// needs no opt-in to localhost, 127.0.0.0/8 or [::1])"
    )]
    InsecureUrl(String),
}

/// The URL check of [`Client::connect`]: a `ws://` or `wss://` URL with a host, and plain
/// `ws://` only to a loopback host unless `allow_insecure`.
fn check_url(url: &str, allow_insecure: bool) -> Result<(), Error> {
    // The messages leave the URL out: it may carry credentials.
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::InvalidUrl(format!("not a ws:// or wss:// URL ({e})")))?;
    let host = uri.host().unwrap_or_default();
    if host.is_empty() {
        return Err(Error::InvalidUrl("the URL has no host".to_owned()));
    }
    match uri.scheme_str() {
        Some("wss") => Ok(()),
        Some("ws") if allow_insecure || is_loopback_host(host) => Ok(()),
        Some("ws") => Err(Error::InsecureUrl(host.to_owned())),
        _ => Err(Error::InvalidUrl("not a ws:// or wss:// URL".to_owned())),
    }
}

/// A request for the connection task.
pub(crate) struct Request {
    pub(crate) action: String,
    pub(crate) body: serde_json::Map<String, Value>,
    pub(crate) reply: oneshot::Sender<Result<Value, Error>>,
}

/// A wsauth connection that stays authorized and reconnects by itself.
pub struct Client {
    requests: mpsc::UnboundedSender<task::Command>,
    state: watch::Receiver<State>,
    messages: broadcast::Sender<Value>,
    timeout: Duration,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Client {
    /// Starts connecting (in a task on the current tokio runtime) and returns at once; await
    /// [`ready`](Self::ready) for the first open connection.
    ///
    /// Refuses, before any token is fetched, a URL that is not `ws://` or `wss://`
    /// ([`Error::InvalidUrl`]) and a plain `ws://` URL whose host is not loopback (`localhost`,
    /// `127.0.0.0/8`, `[::1]`) unless [`Options::allow_insecure`] ([`Error::InsecureUrl`]).
    pub fn connect(options: Options) -> Result<Self, Error> {
        check_url(&options.url, options.allow_insecure)?;
        let (requests, commands) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(State::Connecting);
        let (messages, _) = broadcast::channel(1024);
        let timeout = options.request_timeout;
        let task = tokio::spawn(task::run(
            options,
            commands,
            requests.clone(),
            state_tx,
            messages.clone(),
        ));
        Ok(Self {
            requests,
            state,
            messages,
            timeout,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// Waits until the connection is open (or was: a state that changes back quickly may be
    /// missed, and then the next open counts); [`Error::Closed`] once the client is closed.
    pub async fn ready(&self) -> Result<(), Error> {
        let mut s = self.state.clone();
        let state = s
            .wait_for(|s| matches!(s, State::Open | State::Closed))
            .await
            .map_err(|_| Error::Closed)?;
        match *state {
            State::Open => Ok(()),
            _ => Err(Error::Closed),
        }
    }

    /// The state now.
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// The states as they change.
    pub fn states(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    /// Pushes (`from: "$server"`) and user messages, from now on: `{"type":"message",…}`. A
    /// receiver that falls more than 1,024 messages behind skips the oldest (`Lagged`).
    pub fn messages(&self) -> broadcast::Receiver<Value> {
        self.messages.subscribe()
    }

    /// `whoami`: the user, connection, scopes and expiry of this session.
    pub async fn whoami(&self) -> Result<Value, Error> {
        self.request(Builtin::WhoAmI.key(), json!({})).await
    }

    /// `sendToUser`: to every live connection of `user_id`.
    pub async fn send_to_user(&self, user_id: &str, data: Value) -> Result<Value, Error> {
        self.request(
            Builtin::SendToUser.key(),
            json!({"to": user_id, "data": data}),
        )
        .await
    }

    /// `broadcast`: to every other live connection.
    pub async fn broadcast(&self, data: Value) -> Result<Value, Error> {
        self.request(Builtin::Broadcast.key(), json!({"data": data}))
            .await
    }

    /// Any route; `body` is a JSON object (its `action` and `id` are set here). The reply is the
    /// one carrying this request's `id`.
    pub async fn request(&self, action: &str, body: Value) -> Result<Value, Error> {
        if action.is_empty() {
            return Err(Error::InvalidRequest("the action must not be empty"));
        }
        let body = match body {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            _ => return Err(Error::InvalidRequest("the body must be a JSON object")),
        };
        let (reply, rx) = oneshot::channel();
        let req = Request {
            action: action.to_owned(),
            body,
            reply,
        };
        self.requests
            .send(task::Command::Request(req))
            .map_err(|_| Error::Closed)?;
        match tokio::time::timeout(self.timeout, rx).await {
            Err(_) => Err(Error::Timeout(self.timeout)),
            Ok(Err(_)) => Err(Error::Closed),
            Ok(Ok(r)) => r,
        }
    }

    /// Stops everything: the socket is closed (1000), no reconnect, no timer; pending requests
    /// fail with [`Error::Closed`]. Returns when the connection task has ended.
    pub async fn close(&self) {
        let _ = self.requests.send(task::Command::Close);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.requests.send(task::Command::Close);
    }
}
