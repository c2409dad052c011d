//! `whoami` → the identity of the binding: user, connection, scopes, expiry.

use async_trait::async_trait;
use serde_json::{Value, json};
use wsauth_protocol::frames::{self, Frame};

use crate::error::RouteError;
use crate::router::{MessageContext, RouteHandler};

/// `whoami`.
pub(crate) struct WhoAmI;

#[async_trait]
impl RouteHandler for WhoAmI {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let b = ctx.binding;
        Ok(Some(
            json!({frames::TYPE: Frame::WhoAmI, "userId": b.user_id, "connectionId": ctx.connection_id,
            "scopes": b.scopes, "expiresAt": b.expires_at}),
        ))
    }
}
