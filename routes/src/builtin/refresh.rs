//! `refresh` `{"token":JWT}` → the binding's expiry and scopes extended when the new token
//! verifies, names the same `sub` and `iss`, and no logout revoked it (the user's, the bound
//! session's or the new token's session's), checked in the same transaction as the extension.

use async_trait::async_trait;
use serde_json::{Value, json};
use wsauth_protocol::frames::{self, Frame};

use wsauth_session::{Renewal, StoreError};

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
        if v.identity.user_id != b.user_id || *v.identity.issuer != *b.issuer {
            return Err(invalid("other_subject"));
        }
        if !v.identity.has_scopes(&verifier.config().connect_scopes) {
            return Err(invalid("missing_connect_scopes"));
        }
        let renewal = Renewal {
            user_id: b.user_id.clone(),
            session_ids: vec![b.session_id.clone(), v.identity.session_id.clone()],
            session_id: v.identity.session_id.clone(),
            issued_at: v.identity.issued_at,
            expires_at: v.identity.expires_at,
            scopes: v.identity.scopes.clone(),
            now: ctx.now,
        };
        let extended = match ctx.services.store.extend(ctx.connection_id, &renewal).await {
            Ok(extended) => extended,
            Err(StoreError::Revoked) => return Err(invalid("revoked")),
            Err(e) => return Err(RouteError::internal(e)),
        };
        if !extended {
            return Err(RouteError::new(
                ErrorCode::NotBound,
                "connection is not bound to a session",
            ));
        }
        tracing::info!(route = "refresh", decision = "extend", user = %b.user_id, connection_id = ctx.connection_id,
            expires_at = v.identity.expires_at, "session refreshed");
        Ok(Some(
            json!({frames::TYPE: Frame::Refreshed, "expiresAt": v.identity.expires_at}),
        ))
    }
}
