//! `$default`: a frame that is not JSON, names no action, or names an action no route has.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::{ErrorCode, RouteError};
use crate::router::{MessageContext, RouteHandler};

/// `$default`.
pub(crate) struct DefaultRoute;

#[async_trait]
impl RouteHandler for DefaultRoute {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let Some(body) = ctx.body else {
            return Err(RouteError::new(
                ErrorCode::BadRequest,
                "message is not JSON",
            ));
        };
        match body.get(wsauth_protocol::routes::ACTION) {
            _ if !body.is_object() => Err(RouteError::new(
                ErrorCode::BadRequest,
                "message must be a JSON object",
            )),
            None => Err(RouteError::new(
                ErrorCode::BadRequest,
                "message names no action",
            )),
            Some(Value::String(_)) => {
                Err(RouteError::new(ErrorCode::UnknownAction, "unknown action"))
            }
            Some(_) => Err(RouteError::new(
                ErrorCode::BadRequest,
                "`action` must be a string",
            )),
        }
    }
}
