//! `refresh` `{"token":JWT}` → the binding's expiry and scopes extended when the new token
//! verifies and names the same `sub` and `iss`.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::{ErrorCode, RouteError};
use crate::router::{MessageContext, RouteHandler};

/// `refresh`.
pub(crate) struct Refresh;

#[async_trait]
impl RouteHandler for Refresh {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let token = match ctx.field("token") {
            Some(Value::String(t)) if !t.is_empty() => t,
            _ => {
                return Err(RouteError::new(
                    ErrorCode::BadRequest,
                    "`token` must be a string",
                ));
            }
        };
        let verifier = ctx
            .services
            .verifier
            .as_ref()
            .ok_or_else(|| RouteError::internal("refresh has no verifier configured"))?;
        let b = ctx.binding;
        let invalid = |reason: &str| {
            tracing::info!(route = "refresh", decision = "refuse", reason, user = %b.user_id, connection_id = ctx.connection_id, "refresh refused");
            RouteError::new(
                ErrorCode::InvalidToken,
                "token does not verify for this session",
            )
        };
        let v = match verifier.verify(token, ctx.now).await {
            Ok(v) => v,
            Err(e) if e.outcome() == wsauth_authorizer::Outcome::Internal => {
                return Err(RouteError::internal(e));
            }
            Err(e) => return Err(invalid(e.reason())),
        };
        if v.identity.user_id != b.user_id || v.identity.issuer != b.issuer {
            return Err(invalid("other_subject"));
        }
        if !v.identity.has_scopes(&verifier.config().connect_scopes) {
            return Err(invalid("missing_connect_scopes"));
        }
        let extended = ctx
            .services
            .store
            .extend(
                ctx.connection_id,
                &b.user_id,
                v.identity.expires_at,
                &v.identity.scopes,
            )
            .await
            .map_err(RouteError::internal)?;
        if !extended {
            return Err(RouteError::new(
                ErrorCode::NotBound,
                "connection is not bound to a session",
            ));
        }
        tracing::info!(route = "refresh", decision = "extend", user = %b.user_id, connection_id = ctx.connection_id,
            expires_at = v.identity.expires_at, "session refreshed");
        Ok(Some(
            json!({"type": "refreshed", "expiresAt": v.identity.expires_at}),
        ))
    }
}
