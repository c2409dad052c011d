//! The `routes` Lambda's answer to API Gateway: the reply frame becomes the response body (the
//! route response, if the route has one, sends it to the client); when the connection must
//! close, the reply is posted through @connections first and the connection deleted after it,
//! so a session's end arrives on one-way routes too.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use serde_json::Value;
use wsauth_protocol::routes;
use wsauth_session::{Presumed, connections_endpoint};

use crate::error::{ErrorCode, RouteError};
use crate::router::{Reply, Router};

impl Router {
    /// Handles a MESSAGE event as the `routes` Lambda: the reply is the response body (API
    /// Gateway's route response, if the route has one, sends it to the client). When the connection must close, the
    /// reply is posted first and the connection deleted after it.
    pub async fn handle_event(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        now: i64,
    ) -> ApiGatewayProxyResponse {
        let ctx = &event.request_context;
        let connection_id = ctx.connection_id.as_deref().unwrap_or_default();
        let route_key = ctx.route_key.as_deref().unwrap_or(routes::DEFAULT);
        let reply = if connection_id.is_empty() {
            Reply::error(&RouteError::new(ErrorCode::NotBound, "no connection"))
        } else {
            // API Gateway repeats the `$connect` authorizer's context in every event: it names
            // the revocations to read with the binding (one request per message).
            let context = &ctx.authorizer.fields;
            let text = |k: &str| context.get(k).and_then(Value::as_str);
            let presumed = match (text("userId"), text("sessionId")) {
                (Some(user_id), Some(session_id)) => Some(Presumed {
                    user_id,
                    session_id,
                }),
                _ => None,
            };
            self.dispatch_presumed(
                connection_id,
                presumed,
                route_key,
                event.body.as_deref(),
                now,
            )
            .await
        };
        let mut resp = ApiGatewayProxyResponse::default();
        resp.status_code = 200;
        let body = reply.frame.as_ref().map(Value::to_string);
        if reply.close && !connection_id.is_empty() {
            let endpoint = connections_endpoint(
                self.services().endpoint_override.as_deref(),
                ctx.domain_name.as_deref(),
                ctx.stage.as_deref(),
            );
            match endpoint {
                Some(ep) => {
                    if let Some(b) = &body {
                        let _ = self
                            .services()
                            .connections
                            .post(&ep, connection_id, b.as_bytes())
                            .await;
                    }
                    if let Err(e) = self.services().connections.delete(&ep, connection_id).await {
                        tracing::warn!(connection_id, error = %e, "could not close the connection");
                    }
                }
                None => tracing::error!(
                    connection_id,
                    "no management endpoint: cannot close the connection"
                ),
            }
            resp.body = Some(Body::Empty);
        } else {
            resp.body = Some(body.map_or(Body::Empty, Body::Text));
        }
        resp
    }
}
