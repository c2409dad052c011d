//! The connection task: one per [`Client`](crate::Client). It owns the socket, assigns request
//! IDs, matches replies, renews the token before `expiresAt` and reconnects with backoff.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use wsauth_protocol::frames::{self, Frame};
use wsauth_protocol::{Builtin, ErrorCode, routes, token};

use crate::{Error, Options, Request, State, TokenSource};

/// What the handle (and the task's own refresh helper) asks of the task.
pub(crate) enum Command {
    Request(Request),
    /// A token for the `refresh` of connection `generation` (fetched off the loop).
    RefreshToken {
        generation: u64,
        token: Result<String, String>,
    },
    Close,
}

/// Who waits for a reply.
enum Waiter {
    Caller(oneshot::Sender<Result<Value, Error>>),
    /// `whoami` after open or `refresh`: its `expiresAt` schedules the next refresh.
    Session,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs until [`Command::Close`] or until every handle is gone.
pub(crate) async fn run(
    o: Options,
    mut commands: mpsc::UnboundedReceiver<Command>,
    me: mpsc::UnboundedSender<Command>,
    state: watch::Sender<State>,
    messages: broadcast::Sender<Value>,
) {
    let mut failures: u32 = 0;
    let mut generation: u64 = 0;
    // A connection that stayed up this long was a working session: the backoff starts over.
    let stable = o.reconnect.max_delay.min(Duration::from_secs(30));
    loop {
        let Some(token) = while_not_open(&mut commands, (o.get_token)()).await else {
            break;
        };
        let ws = match token {
            Ok(t) if !t.is_empty() => match while_not_open(&mut commands, open(&o, &t)).await {
                None => break,
                Some(ws) => ws,
            },
            _ => None,
        };
        if let Some(ws) = ws {
            generation += 1;
            let _ = state.send(State::Open);
            let opened = Instant::now();
            let ended = Connection {
                o: &o,
                generation,
                next_id: 0,
                pending: HashMap::new(),
                refresh_at: None,
                session_deadline: None,
                refreshing: None,
                me: &me,
                messages: &messages,
            }
            .serve(ws, &mut commands)
            .await;
            if ended == Ended::Closed {
                break;
            }
            if opened.elapsed() >= stable {
                failures = 0;
            }
        }
        let _ = state.send(State::Reconnecting);
        let delay = backoff(&o, failures);
        failures = failures.saturating_add(1);
        if while_not_open(&mut commands, tokio::time::sleep(delay))
            .await
            .is_none()
        {
            break;
        }
    }
    let _ = state.send(State::Closed);
    commands.close();
    while let Some(c) = commands.recv().await {
        if let Command::Request(r) = c {
            let _ = r.reply.send(Err(Error::Closed));
        }
    }
}

/// Equal jitter: between half and all of min·2^failures, capped at the maximum.
fn backoff(o: &Options, failures: u32) -> Duration {
    let min = o.reconnect.min_delay.max(Duration::from_millis(1));
    let base = min
        .saturating_mul(2u32.saturating_pow(failures.min(30)))
        .min(o.reconnect.max_delay.max(min));
    base / 2 + base.mul_f64(fastrand::f64() / 2.0)
}

/// Awaits `fut` while answering requests with [`Error::NotOpen`]; `None` on close.
async fn while_not_open<T>(
    commands: &mut mpsc::UnboundedReceiver<Command>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            v = &mut fut => return Some(v),
            c = commands.recv() => match c {
                None | Some(Command::Close) => return None,
                Some(Command::Request(r)) => { let _ = r.reply.send(Err(Error::NotOpen)); }
                Some(Command::RefreshToken { .. }) => {}
            },
        }
    }
}

/// The handshake, with the token where the deploy reads it; `None` when refused or unreachable.
async fn open(o: &Options, token: &str) -> Option<Ws> {
    let url = match o.token_source {
        TokenSource::Query => {
            let sep = if o.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}{}={token}", o.url, token::QUERY_PARAMETER)
        }
        _ => o.url.clone(),
    };
    let mut req = url.into_client_request().ok()?;
    let (name, value) = match o.token_source {
        TokenSource::Subprotocol => (
            o.token_source.header_name(),
            token::subprotocol_offer(token),
        ),
        TokenSource::Header => (
            o.token_source.header_name(),
            token::authorization_value(token),
        ),
        TokenSource::Query => (None, String::new()),
    };
    if let Some(name) = name {
        req.headers_mut()
            .insert(name, HeaderValue::from_str(&value).ok()?);
    }
    // A server that accepts the connection but never upgrades it must not hold the client.
    match tokio::time::timeout(o.request_timeout, tokio_tungstenite::connect_async(req)).await {
        Ok(Ok((ws, _))) => Some(ws),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The connection dropped or the session ended: reconnect.
    Dropped,
    /// The client was closed.
    Closed,
}

struct Connection<'a> {
    o: &'a Options,
    generation: u64,
    next_id: u64,
    pending: HashMap<String, Waiter>,
    refresh_at: Option<Instant>,
    /// When the client's own `whoami` or `refresh` in flight times out (a dead connection).
    session_deadline: Option<Instant>,
    /// The task fetching the token for the next `refresh`.
    refreshing: Option<tokio::task::JoinHandle<()>>,
    me: &'a mpsc::UnboundedSender<Command>,
    messages: &'a broadcast::Sender<Value>,
}

impl Connection<'_> {
    async fn serve(mut self, ws: Ws, commands: &mut mpsc::UnboundedReceiver<Command>) -> Ended {
        let (mut sink, mut stream) = ws.split();
        let whoami = self.frame(
            Builtin::WhoAmI.key(),
            serde_json::Map::new(),
            Waiter::Session,
        );
        if sink.send(whoami).await.is_err() {
            return self.end(Ended::Dropped);
        }
        // Ends the connection with a close frame (1000), the reason said.
        macro_rules! leave {
            ($ended:expr, $why:expr) => {{
                let close = CloseFrame {
                    code: CloseCode::Normal,
                    reason: $why.into(),
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    sink.send(Message::Close(Some(close))),
                )
                .await;
                return self.end($ended);
            }};
        }
        loop {
            let refresh = async {
                match self.refresh_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let session_timeout = async {
                match self.session_deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                c = commands.recv() => match c {
                    None | Some(Command::Close) => leave!(Ended::Closed, "client closed"),
                    Some(Command::Request(r)) => {
                        let frame = self.frame(&r.action, r.body, Waiter::Caller(r.reply));
                        if sink.send(frame).await.is_err() {
                            return self.end(Ended::Dropped);
                        }
                    }
                    Some(Command::RefreshToken { generation, token }) if generation == self.generation => {
                        let Ok(token) = token else { leave!(Ended::Dropped, "no token for refresh") };
                        let mut body = serde_json::Map::new();
                        body.insert("token".into(), Value::String(token));
                        let frame = self.frame(Builtin::Refresh.key(), body, Waiter::Session);
                        if sink.send(frame).await.is_err() {
                            return self.end(Ended::Dropped);
                        }
                    }
                    Some(Command::RefreshToken { .. }) => {}
                },
                m = stream.next() => {
                    let text = match m {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return self.end(Ended::Dropped),
                        Some(Ok(_)) => continue,
                    };
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                    if let Err(ended) = self.on_frame(v) {
                        leave!(ended, "session over");
                    }
                }
                () = refresh => {
                    self.refresh_at = None;
                    let (get_token, me, generation) = (self.o.get_token.clone(), self.me.clone(), self.generation);
                    self.refreshing = Some(tokio::spawn(async move {
                        let token = get_token().await.map_err(|e| e.to_string());
                        let _ = me.send(Command::RefreshToken { generation, token });
                    }));
                }
                // The client's own whoami or refresh got no answer: a dead connection.
                () = session_timeout => leave!(Ended::Dropped, "no answer"),
            }
        }
    }

    /// A request frame with a fresh `id`, its waiter recorded.
    fn frame(
        &mut self,
        action: &str,
        mut body: serde_json::Map<String, Value>,
        waiter: Waiter,
    ) -> Message {
        // Callers that stopped waiting (timed out) are forgotten.
        self.pending.retain(|_, w| match w {
            Waiter::Caller(tx) => !tx.is_closed(),
            Waiter::Session => true,
        });
        if matches!(waiter, Waiter::Session) {
            self.session_deadline = Some(Instant::now() + self.o.request_timeout);
        }
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        body.insert(routes::ACTION.into(), Value::String(action.to_owned()));
        body.insert(routes::ID.into(), Value::String(id.clone()));
        self.pending.insert(id, waiter);
        Message::Text(Value::Object(body).to_string().into())
    }

    fn on_frame(&mut self, v: Value) -> Result<(), Ended> {
        let waiter = v[routes::ID]
            .as_str()
            .and_then(|id| self.pending.remove(id));
        let is_error = v[frames::TYPE] == Frame::Error.as_str();
        let error = is_error.then(|| Error::Server {
            code: v["code"].as_str().unwrap_or("error").to_owned(),
            message: v["message"].as_str().unwrap_or_default().to_owned(),
        });
        // Codes after which the server closes the connection: reconnect with a fresh token.
        let session_over = is_error
            && v["code"]
                .as_str()
                .and_then(ErrorCode::from_code)
                .is_some_and(ErrorCode::closes);
        match (waiter, error) {
            (Some(Waiter::Caller(tx)), Some(e)) => {
                let _ = tx.send(Err(e));
                // The session is over (the server closes too): start over with a fresh token.
                if session_over {
                    return Err(Ended::Dropped);
                }
            }
            (Some(Waiter::Caller(tx)), None) => {
                let _ = tx.send(Ok(v));
            }
            // The session could not be confirmed or renewed: start over with a fresh token.
            (Some(Waiter::Session), Some(_)) => return Err(Ended::Dropped),
            (Some(Waiter::Session), None) => {
                self.session_deadline = None;
                match v["expiresAt"].as_i64() {
                    Some(exp) => self.schedule_refresh(exp),
                    None => return Err(Ended::Dropped),
                }
            }
            (None, Some(_)) if session_over => return Err(Ended::Dropped),
            (None, _) => {
                if v[frames::TYPE] == Frame::Message.as_str() {
                    let _ = self.messages.send(v);
                }
            }
        }
        Ok(())
    }

    /// `refresh_before` ahead of `expires_at`, never sooner than half the remaining lifetime
    /// (a short-lived token must not cause a refresh loop) nor sooner than a second.
    fn schedule_refresh(&mut self, expires_at: i64) {
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let remaining = (expires_at as f64 - now_s).max(0.0);
        let before = self.o.refresh_before.as_secs_f64();
        // At most a year ahead: never an overflow on an absurd `expiresAt`.
        let wait = (remaining - before)
            .max(remaining / 2.0)
            .clamp(1.0, 365.0 * 86_400.0);
        self.refresh_at = Instant::now().checked_add(Duration::from_secs_f64(wait));
    }

    /// Fails what still waits and reports how the connection ended.
    fn end(self, ended: Ended) -> Ended {
        if let Some(t) = &self.refreshing {
            t.abort();
        }
        let error = match ended {
            Ended::Closed => Error::Closed,
            Ended::Dropped => Error::ConnectionClosed,
        };
        for (_, w) in self.pending {
            if let Waiter::Caller(tx) = w {
                let _ = tx.send(Err(error.clone()));
            }
        }
        ended
    }
}
