//! The @connections management client: post to and delete a connection.
//!
//! [`ApiGwConnections`] wraps `aws-sdk-apigatewaymanagement`, one client per endpoint (an
//! endpoint is `https://{domain}/{stage}` of the `$connect` event, or the override); under
//! wsauth-local the requests, addressed the same way, travel to its loopback address. The endpoint always comes from
//! the binding or the configured override, never from a default: an SDK client without an
//! endpoint would send calls to the wrong host. `410 GoneException` is its own error, so that
//! callers prune the binding instead of failing.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Why a management call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagementError {
    /// The connection no longer exists (HTTP 410).
    #[error("connection gone")]
    Gone,
    /// Anything else (network, throttling, permissions).
    #[error("management API: {0}")]
    Other(String),
}

/// The @connections operations wsauth uses.
#[async_trait]
pub trait Connections: Send + Sync + 'static {
    /// Sends `data` to the connection (PostToConnection).
    async fn post(
        &self,
        endpoint: &str,
        connection_id: &str,
        data: &[u8],
    ) -> Result<(), ManagementError>;
    /// Closes the connection (DeleteConnection).
    async fn delete(&self, endpoint: &str, connection_id: &str) -> Result<(), ManagementError>;
}

/// Sends each @connections request, once addressed and signed for its endpoint, to wsauth-local
/// instead (`WSAUTH_LOCAL_GATEWAY`): its path and its signed `Host` stay those of the endpoint,
/// so wsauth-local sees the call exactly as API Gateway would, endpoint derivation included.
#[derive(Debug, Clone)]
struct SendTo {
    /// `http://{loopback}:{port}`, no trailing slash.
    base: String,
}

impl Intercept for SendTo {
    fn name(&self) -> &'static str {
        "wsauth-local gateway"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().to_owned();
        let rest = uri.split_once("://").map_or(uri.as_str(), |(_, r)| r);
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        request
            .headers_mut()
            .try_insert("host", authority.to_owned())?;
        request.set_uri(format!("{}{path}", self.base))?;
        Ok(())
    }
}

/// @connections over `aws-sdk-apigatewaymanagement`.
pub struct ApiGwConnections {
    /// The SDK configuration every endpoint's client is built from (region, credentials,
    /// timeouts), loaded once.
    base: aws_config::SdkConfig,
    /// One client per endpoint, built on first use: bindings of several stages or domains may
    /// name several endpoints.
    clients: RwLock<HashMap<String, Client>>,
    /// `WSAUTH_LOCAL_GATEWAY`: every call is sent there (wsauth-local), addressed as before.
    send_to: Option<SendTo>,
}

impl ApiGwConnections {
    /// Clients built from `base` (region, credentials, timeouts), one per endpoint.
    pub fn new(base: aws_config::SdkConfig) -> Self {
        Self {
            base,
            clients: RwLock::new(HashMap::new()),
            send_to: None,
        }
    }

    /// [`ApiGwConnections::new`], every call sent to `local_gateway` (wsauth-local's loopback
    /// address, `WSAUTH_LOCAL_GATEWAY`) when set, addressed and signed for its endpoint.
    pub fn with_local_gateway(base: aws_config::SdkConfig, local_gateway: Option<String>) -> Self {
        Self {
            send_to: local_gateway.map(|base| SendTo { base }),
            ..Self::new(base)
        }
    }

    fn client(&self, endpoint: &str) -> Result<Client, ManagementError> {
        if endpoint.is_empty() {
            return Err(ManagementError::Other("no management endpoint".into()));
        }
        if let Some(c) = self
            .clients
            .read()
            .ok()
            .and_then(|m| m.get(endpoint).cloned())
        {
            return Ok(c);
        }
        let mut conf =
            aws_sdk_apigatewaymanagement::config::Builder::from(&self.base).endpoint_url(endpoint);
        if let Some(send_to) = &self.send_to {
            conf = conf.interceptor(send_to.clone());
        }
        let conf = conf.build();
        let client = Client::from_conf(conf);
        if let Ok(mut m) = self.clients.write() {
            m.insert(endpoint.to_owned(), client.clone());
        }
        Ok(client)
    }
}

/// 410 `GoneException` is its own error; anything else is described for the logs.
fn management_error<E, R>(e: SdkError<E, R>) -> ManagementError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.code() == Some("GoneException") {
        ManagementError::Gone
    } else {
        ManagementError::Other(DisplayErrorContext(e).to_string())
    }
}

#[async_trait]
impl Connections for ApiGwConnections {
    async fn post(
        &self,
        endpoint: &str,
        connection_id: &str,
        data: &[u8],
    ) -> Result<(), ManagementError> {
        match self
            .client(endpoint)?
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(management_error(e)),
        }
    }

    async fn delete(&self, endpoint: &str, connection_id: &str) -> Result<(), ManagementError> {
        match self
            .client(endpoint)?
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(management_error(e)),
        }
    }
}
