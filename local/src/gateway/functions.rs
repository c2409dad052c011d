//! The four functions behind the emulated API, invoked the way API Gateway invokes Lambda:
//! event JSON in, response JSON (or a function error) out, under the function's timeout.
//!
//! [`Linked`] runs wsauth's handlers in this process: each invocation is a task of its own, so a
//! panicking handler fails its invocation (as a crashed Lambda would) instead of the connection.
//! `--lambdas DIR` replaces it with the built binaries behind an emulated Runtime API
//! (`lambdas`); the gateway cannot tell the two apart.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde_json::Value;
use tokio::sync::Semaphore;
use wsauth_authorizer::{Authorizer, WebSocketAuthorizerRequest};
use wsauth_connect::ConnectHandler;
use wsauth_routes::{Pusher, Router};
use wsauth_settings::clock::now_epoch;

/// One of the four functions `serverless.yml` deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// The `$connect` authorizer.
    Authorizer,
    /// `$connect` and `$disconnect`.
    Connect,
    /// Every message route.
    Routes,
    /// Backend pushes.
    Push,
}

impl Function {
    /// The four, in deployment order.
    pub const ALL: [Function; 4] = [
        Function::Authorizer,
        Function::Connect,
        Function::Routes,
        Function::Push,
    ];

    /// The function's (and its binary's) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Authorizer => "authorizer",
            Function::Connect => "connect",
            Function::Routes => "routes",
            Function::Push => "push",
        }
    }
}

/// Why an invocation produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function returned an error (Lambda's `errorType` and `errorMessage`).
    #[error("function error: {message}")]
    Failed {
        /// Lambda's `errorType`.
        error_type: String,
        /// Lambda's `errorMessage`.
        message: String,
    },
    /// It ran past its timeout.
    #[error("timed out")]
    Timeout,
    /// API Gateway stopped waiting for it: 29 s, its integration timeout, passed first.
    #[error("integration timed out ({} s)", wsauth_protocol::limits::INTEGRATION_TIMEOUT.as_secs())]
    IntegrationTimeout,
    /// It crashed (a panic, a dead process) or answered something that is not its response.
    #[error("function crashed: {0}")]
    Crashed(String),
    /// Lambda refused to run it: the function's concurrency was all in use
    /// (`TooManyRequestsException`, `--lambda-concurrency`). It never started.
    #[error("throttled: concurrency limit reached")]
    Throttled,
}

impl InvokeError {
    /// A function error of `error_type` saying `message`.
    pub fn failed(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Failed {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// Invokes the four functions.
#[async_trait]
pub trait Functions: Send + Sync + 'static {
    /// Invokes `f` with `event`; the function's response, or why there is none.
    async fn invoke(&self, f: Function, event: Value) -> Result<Value, InvokeError>;

    /// Stops whatever runs the functions (child processes); later invocations may start anew.
    fn stop(&self) {}
}

/// The handlers linked into this process.
pub struct Linked {
    /// The handlers, shared with each invocation's task (a panic there is a crash, not ours).
    inner: Arc<Handlers>,
    /// Each invocation's timeout.
    timeout: Duration,
}

/// The four handlers the Lambda mains run.
struct Handlers {
    /// The `authorizer` function.
    authorizer: Authorizer,
    /// The `connect` function (`$connect`, `$disconnect`).
    connect: ConnectHandler,
    /// The `routes` function.
    router: Router,
    /// The `push` function.
    pusher: Pusher,
}

impl Linked {
    /// The four handlers, each invocation bounded by `timeout`.
    pub fn new(
        authorizer: Authorizer,
        connect: ConnectHandler,
        router: Router,
        pusher: Pusher,
        timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Handlers {
                authorizer,
                connect,
                router,
                pusher,
            }),
            timeout,
        }
    }

    /// The router (for its route keys and its store).
    pub fn router(&self) -> &Router {
        &self.inner.router
    }
}

fn parse<T: serde::de::DeserializeOwned>(event: Value) -> Result<T, InvokeError> {
    serde_json::from_value(event)
        .map_err(|e| InvokeError::failed("BadEvent", format!("bad event: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, InvokeError> {
    serde_json::to_value(v).map_err(|e| InvokeError::Crashed(e.to_string()))
}

impl Handlers {
    async fn invoke(&self, f: Function, event: Value) -> Result<Value, InvokeError> {
        match f {
            Function::Authorizer => {
                let e: WebSocketAuthorizerRequest = parse(event)?;
                match self.authorizer.handle(&e).await {
                    Ok(r) => to_json(&r),
                    Err(refusal) => Err(InvokeError::failed("LambdaRefusal", refusal.to_string())),
                }
            }
            Function::Connect => {
                let e: ApiGatewayWebsocketProxyRequest = parse(event)?;
                to_json(&self.connect.handle(&e).await)
            }
            Function::Routes => {
                let e: ApiGatewayWebsocketProxyRequest = parse(event)?;
                to_json(&self.router.handle_event(&e, now_epoch()).await)
            }
            Function::Push => self
                .pusher
                .handle_json(event, now_epoch())
                .await
                .map_err(|e| InvokeError::failed(e.error_type(), e.to_string())),
        }
    }
}

#[async_trait]
impl Functions for Linked {
    async fn invoke(&self, f: Function, event: Value) -> Result<Value, InvokeError> {
        let inner = self.inner.clone();
        let task = tokio::spawn(async move { inner.invoke(f, event).await });
        let abort = task.abort_handle();
        match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(InvokeError::Crashed(if join.is_panic() {
                "panic".into()
            } else {
                "cancelled".into()
            })),
            Err(_) => {
                abort.abort();
                Err(InvokeError::Timeout)
            }
        }
    }
}

/// The functions behind Lambda's concurrency limit: the four together run at most `limit`
/// invocations at once (the account's unreserved concurrency, which functions without reserved
/// concurrency share), and one more is refused at once ([`InvokeError::Throttled`]) rather than
/// queued, as Lambda throttles.
pub struct Throttled {
    /// What runs the invocations that get a slot.
    inner: Arc<dyn Functions>,
    /// One permit per invocation running.
    slots: Semaphore,
}

impl Throttled {
    /// `inner`, limited to `limit` concurrent invocations in all (at least 1).
    pub fn new(inner: Arc<dyn Functions>, limit: usize) -> Self {
        Self {
            inner,
            slots: Semaphore::new(limit.max(1)),
        }
    }
}

#[async_trait]
impl Functions for Throttled {
    async fn invoke(&self, f: Function, event: Value) -> Result<Value, InvokeError> {
        let Ok(_slot) = self.slots.try_acquire() else {
            tracing::warn!(
                function = f.name(),
                "invocation throttled: concurrency limit"
            );
            return Err(InvokeError::Throttled);
        };
        self.inner.invoke(f, event).await
    }

    fn stop(&self) {
        self.inner.stop();
    }
}
