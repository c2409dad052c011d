//! The @connections management client: post to and delete a connection.
//!
//! [`ApiGwConnections`] wraps `aws-sdk-apigatewaymanagement`, one client per endpoint (an
//! endpoint is `https://{domain}/{stage}`, or `wsauth-local`'s). The endpoint always comes from
//! the binding or the configured override, never from a default: an SDK client without an
//! endpoint would send calls to the wrong host. `410 GoneException` is its own error, so that
//! callers prune the binding instead of failing.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;

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

/// @connections over `aws-sdk-apigatewaymanagement`.
pub struct ApiGwConnections {
    /// The SDK configuration every endpoint's client is built from (region, credentials,
    /// timeouts), loaded once.
    base: aws_config::SdkConfig,
    /// One client per endpoint, built on first use: bindings of several stages or domains may
    /// name several endpoints.
    clients: RwLock<HashMap<String, Client>>,
}

impl ApiGwConnections {
    /// Clients built from `base` (region, credentials, timeouts), one per endpoint.
    pub fn new(base: aws_config::SdkConfig) -> Self {
        Self {
            base,
            clients: RwLock::new(HashMap::new()),
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
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(&self.base)
            .endpoint_url(endpoint)
            .build();
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
