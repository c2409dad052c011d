//! The authorizer handler: event in, policy (or refusal) out.
//!
//! Allow → an IAM policy allowing `execute-api:Invoke` on the `methodArn`, plus the flat context
//! (`userId`, `scopes`, `expiresAt`, `sessionId`, `issuer`). A valid token without the connect
//! scopes → a Deny policy (403). Anything wrong with the token → the error `Unauthorized` (401).
//! No usable key, or an event that is not a WebSocket REQUEST authorizer event → another error
//! (500). Each decision is logged with its reason code, the user when known, the connection ID
//! and the token's source, never the token.

use std::sync::Arc;

use wsauth_policy::{ExecuteApiArn, PolicyDocument};
use wsauth_settings::clock::now_epoch;

use crate::error::{AuthError, LambdaRefusal, Outcome};
use crate::jwks::JwksError;
use crate::request::{AuthorizerResponse, WebSocketAuthorizerRequest};
use crate::verify::{Verified, Verifier};
use wsauth_settings::AuthorizerConfig;

/// The `$connect` authorizer: a verifier and the connect-scope rule.
pub struct Authorizer {
    verifier: Arc<Verifier>,
}

impl Authorizer {
    /// Builds the JWKS cache and fetches the keys once (cold start). A failed first fetch is
    /// logged, not fatal: lookups fetch again, and fail closed (500) while nothing is usable.
    pub async fn init(config: AuthorizerConfig) -> Result<Self, JwksError> {
        let verifier = Verifier::new(config)?;
        // Every issuer's keys at once: a slow IdP does not delay the others.
        let primed = futures_util::future::join_all(verifier.caches().iter().map(|c| c.prime()));
        for (cache, result) in verifier.caches().iter().zip(primed.await) {
            match result {
                Ok(n) => tracing::info!(issuer = %cache.issuer(), keys = n, "JWKS loaded at start"),
                Err(e) => {
                    tracing::warn!(issuer = %cache.issuer(), error = %e, "JWKS not loaded at start; will retry on demand")
                }
            }
        }
        Ok(Self::with_verifier(Arc::new(verifier)))
    }

    /// An authorizer over an existing verifier (shared with the `refresh` route).
    pub fn with_verifier(verifier: Arc<Verifier>) -> Self {
        Self { verifier }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    async fn verify_event(
        &self,
        event: &WebSocketAuthorizerRequest,
        token: Result<&str, AuthError>,
        now: i64,
    ) -> Result<(String, Verified), AuthError> {
        let arn = event
            .method_arn
            .as_deref()
            .ok_or(AuthError::BadEvent("no methodArn"))?;
        ExecuteApiArn::parse(arn)
            .map_err(|_| AuthError::BadEvent("methodArn is not an execute-api ARN"))?;
        let verified = self.verifier.verify(token?, now).await?;
        if !verified
            .identity
            .has_scopes(&self.verifier.config().connect_scopes)
        {
            return Err(AuthError::MissingScopes(verified.identity.user_id));
        }
        Ok((arn.to_owned(), verified))
    }

    /// Decides one handshake at `now` (epoch seconds).
    pub async fn handle_at(
        &self,
        event: &WebSocketAuthorizerRequest,
        now: i64,
    ) -> Result<AuthorizerResponse, LambdaRefusal> {
        let connection_id = event.connection_id().unwrap_or("-");
        let source = self.verifier.config().token_source;
        let token = event.token(source);
        match self.verify_event(event, token, now).await {
            Ok((arn, v)) => {
                tracing::info!(decision = "allow", user = %v.identity.user_id, connection_id,
                    source = %source, kid = %v.kid, "handshake authorized");
                Ok(AuthorizerResponse {
                    principal_id: v.identity.user_id.clone(),
                    policy_document: PolicyDocument::allow_invoke(&arn),
                    context: v.identity.to_context(),
                })
            }
            Err(e) => {
                let outcome = e.outcome();
                tracing::info!(decision = ?outcome, reason = e.reason(), detail = %e, connection_id,
                    source = %source, "handshake refused");
                match (outcome, e) {
                    // Only a verified token reaches the scope check, so a Deny names its user.
                    (Outcome::Forbidden, AuthError::MissingScopes(user)) => {
                        let arn = event.method_arn.clone().unwrap_or_default();
                        Ok(AuthorizerResponse {
                            principal_id: user,
                            policy_document: PolicyDocument::deny_invoke(&arn),
                            context: Default::default(),
                        })
                    }
                    (Outcome::Unauthorized, _) => Err(LambdaRefusal::Unauthorized),
                    (Outcome::Forbidden | Outcome::Internal, _) => Err(LambdaRefusal::Internal),
                }
            }
        }
    }

    /// Decides one handshake now.
    pub async fn handle(
        &self,
        event: &WebSocketAuthorizerRequest,
    ) -> Result<AuthorizerResponse, LambdaRefusal> {
        self.handle_at(event, now_epoch()).await
    }
}
