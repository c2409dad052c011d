//! `sendToUser` `{"to":U,"data":…}` → every live connection of U gets the message frame; the
//! sender gets `{"type":"sent","to":U,"delivered":N}`.

use async_trait::async_trait;
use serde_json::{Value, json};
use wsauth_protocol::frames::{self, Frame};

use wsauth_policy::check_user_id;

use crate::error::{ErrorCode, RouteError};
use crate::frame::message_frame;
use crate::router::{MessageContext, RouteHandler};

/// `sendToUser`.
pub(crate) struct SendToUser;

#[async_trait]
impl RouteHandler for SendToUser {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let to = match ctx.field("to") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(RouteError::new(
                    ErrorCode::BadRequest,
                    "`to` must be a non-empty string",
                ));
            }
        };
        // Checked before it is used or logged: bounded, printable, never `$server`.
        check_user_id(&to)
            .map_err(|e| RouteError::new(ErrorCode::BadRequest, format!("`to`: {e}")))?;
        let data = ctx.field("data").cloned().unwrap_or(Value::Null);
        let payload = message_frame(&ctx.binding.user_id, data)?;
        let targets = ctx
            .services
            .store
            .live_user_bindings(&to, ctx.now)
            .await
            .map_err(RouteError::internal)?;
        let d = ctx.services.deliver(targets, &payload, ctx.now).await;
        tracing::info!(route = "sendToUser", user = %ctx.binding.user_id, to = %to,
            delivered = d.delivered, pruned = d.pruned, failed = d.failed, "message sent");
        Ok(Some(
            json!({frames::TYPE: Frame::Sent, "to": to, "delivered": d.delivered}),
        ))
    }
}
