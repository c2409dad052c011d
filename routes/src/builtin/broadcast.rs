//! `broadcast` `{"data":…}` → every other live connection gets the message frame; the sender
//! gets `{"type":"sent","delivered":N}`.

use async_trait::async_trait;
use serde_json::{Value, json};
use wsauth_protocol::frames::{self, Frame};

use crate::error::RouteError;
use crate::frame::message_frame;
use crate::router::{MessageContext, RouteHandler};
use crate::services::broadcast_all;

/// `broadcast`.
pub(crate) struct Broadcast;

#[async_trait]
impl RouteHandler for Broadcast {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let data = ctx.field("data").cloned().unwrap_or(Value::Null);
        let payload = message_frame(&ctx.binding.user_id, data)?;
        let d = broadcast_all(ctx.services, &payload, Some(ctx.connection_id), ctx.now)
            .await
            .map_err(RouteError::internal)?;
        tracing::info!(route = "broadcast", user = %ctx.binding.user_id,
            delivered = d.delivered, pruned = d.pruned, failed = d.failed, "broadcast sent");
        Ok(Some(
            json!({frames::TYPE: Frame::Sent, "delivered": d.delivered}),
        ))
    }
}
