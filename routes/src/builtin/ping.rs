//! `ping` → `{"type":"pong"}`.

use async_trait::async_trait;
use serde_json::{Value, json};
use wsauth_protocol::frames::{self, Frame};

use crate::error::RouteError;
use crate::router::{MessageContext, RouteHandler};

/// `ping`.
pub(crate) struct Ping;

#[async_trait]
impl RouteHandler for Ping {
    async fn handle(&self, _: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        Ok(Some(json!({frames::TYPE: Frame::Pong})))
    }
}
