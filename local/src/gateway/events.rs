//! The events API Gateway sends its functions, built in AWS's documented shapes, and what it
//! checks of the authorizer's answer.

use std::collections::HashMap;

use axum::http::HeaderMap;
use serde_json::{Map, Value, json};
use wsauth_policy::PolicyDocument;
use wsauth_protocol::routes;

use crate::ids::connection_id;
use crate::timefmt::request_time;

/// API Gateway's limit on an authorizer's response; a larger one fails the handshake (500).
pub const MAX_AUTHORIZER_RESPONSE_BYTES: usize = 8 * 1024;

/// What API Gateway remembers of a connection for its later events.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    /// The connection ID.
    pub connection_id: String,
    /// When the handshake arrived, epoch ms.
    pub connected_at_ms: i64,
    /// The `Host` the client used, port included: the `$disconnect` event's `Host` header.
    pub host: String,
    /// The domain name the client used (its `Host` without the port): `domainName`, as API
    /// Gateway gives it (`{api-id}.execute-api.{region}.amazonaws.com` or a custom domain).
    pub domain: String,
    /// The client's address.
    pub source_ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// The authorizer's context (values as strings) with `principalId`, once authorized.
    pub authorizer: Map<String, Value>,
}

/// Where the events' fixed parts come from.
#[derive(Debug, Clone)]
pub struct Api {
    /// The stage.
    pub stage: String,
    /// Region in the `methodArn`.
    pub region: String,
    /// Account in the `methodArn`.
    pub account: String,
    /// API ID.
    pub api_id: String,
}

impl Api {
    /// The `$connect` route's ARN, as the authorizer event names it.
    pub fn method_arn(&self) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/$connect",
            self.region, self.account, self.api_id, self.stage
        )
    }

    /// `requestContext` of an event on `route_key` at `now_ms`.
    pub fn request_context(
        &self,
        meta: &ConnMeta,
        route_key: &str,
        event_type: &str,
        now_ms: i64,
    ) -> Map<String, Value> {
        let rid = connection_id().unwrap_or_default();
        let mut ctx = Map::new();
        ctx.insert("routeKey".into(), json!(route_key));
        ctx.insert("eventType".into(), json!(event_type));
        ctx.insert("extendedRequestId".into(), json!(rid));
        ctx.insert("requestTime".into(), json!(request_time(now_ms)));
        ctx.insert("messageDirection".into(), json!("IN"));
        ctx.insert("stage".into(), json!(self.stage));
        ctx.insert("connectedAt".into(), json!(meta.connected_at_ms));
        ctx.insert("requestTimeEpoch".into(), json!(now_ms));
        ctx.insert(
            "identity".into(),
            json!({"sourceIp": meta.source_ip, "userAgent": meta.user_agent}),
        );
        ctx.insert("requestId".into(), json!(rid));
        ctx.insert("domainName".into(), json!(meta.domain));
        ctx.insert("connectionId".into(), json!(meta.connection_id));
        ctx.insert("apiId".into(), json!(self.api_id));
        if !meta.authorizer.is_empty() {
            ctx.insert("authorizer".into(), Value::Object(meta.authorizer.clone()));
        }
        ctx
    }

    /// The REQUEST authorizer event of a handshake.
    pub fn authorizer_event(&self, meta: &ConnMeta, request: &Request, now_ms: i64) -> Value {
        json!({"type": "REQUEST", "methodArn": self.method_arn(),
            "headers": request.headers, "multiValueHeaders": request.multi_headers,
            "queryStringParameters": request.query, "multiValueQueryStringParameters": request.multi_query,
            "stageVariables": {}, "requestContext": self.request_context(meta, routes::CONNECT, "CONNECT", now_ms)})
    }

    /// The `$connect` event, after the authorizer allowed the handshake.
    pub fn connect_event(&self, meta: &ConnMeta, request: &Request, now_ms: i64) -> Value {
        json!({"headers": request.headers, "multiValueHeaders": request.multi_headers,
            "queryStringParameters": request.query, "multiValueQueryStringParameters": request.multi_query,
            "requestContext": self.request_context(meta, routes::CONNECT, "CONNECT", now_ms),
            "isBase64Encoded": false})
    }

    /// A MESSAGE event on `route_key`.
    pub fn message_event(
        &self,
        meta: &ConnMeta,
        route_key: &str,
        body: &str,
        now_ms: i64,
    ) -> Value {
        let mut ctx = self.request_context(meta, route_key, "MESSAGE", now_ms);
        ctx.insert(
            "messageId".into(),
            json!(connection_id().unwrap_or_default()),
        );
        json!({"requestContext": ctx, "body": body, "isBase64Encoded": false})
    }

    /// The `$disconnect` event with the close status, with the headers captured `$disconnect`
    /// events have: `Host` and three empty ones API Gateway adds.
    pub fn disconnect_event(&self, meta: &ConnMeta, code: u16, reason: &str, now_ms: i64) -> Value {
        let mut ctx = self.request_context(meta, routes::DISCONNECT, "DISCONNECT", now_ms);
        ctx.insert("disconnectStatusCode".into(), json!(code));
        ctx.insert("disconnectReason".into(), json!(reason));
        json!({"headers": {"Host": meta.host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""},
            "multiValueHeaders": {"Host": [meta.host], "x-api-key": [""], "X-Forwarded-For": [""], "x-restapi": [""]},
            "requestContext": ctx, "isBase64Encoded": false})
    }
}

/// The handshake request as API Gateway passes it on: headers (names in the client's case, with
/// the headers API Gateway adds) and query string, each as the last value and as every value
/// (`null` when absent).
#[derive(Debug, Clone)]
pub struct Request {
    headers: Value,
    multi_headers: Value,
    query: Value,
    multi_query: Value,
}

/// The headers API Gateway adds to the request it passes on (values for this request).
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// The client's address: appended to any `X-Forwarded-For` the client sent.
    pub client_ip: String,
    /// The port the client connected to (`X-Forwarded-Port`; 443 on AWS).
    pub port: u16,
    /// The scheme the client used (`X-Forwarded-Proto`; `https` on AWS, `http` here).
    pub proto: &'static str,
    /// The X-Ray trace header (`X-Amzn-Trace-Id`), unless the client sent one.
    pub trace_id: String,
}

impl Request {
    /// From the upgrade request's headers (`names`: their names as the client wrote them, by
    /// lower-case name, when known) and query pairs, with the headers API Gateway adds.
    pub fn new(
        headers: &HeaderMap,
        names: Option<&HashMap<String, String>>,
        forwarded: &Forwarded,
        query: &[(String, String)],
    ) -> Self {
        let as_sent = |name: &str| {
            names
                .and_then(|n| n.get(name))
                .cloned()
                .unwrap_or_else(|| name.to_owned())
        };
        // API Gateway's own forwarding headers replace a client's (its `X-Forwarded-For` is
        // extended instead).
        let ours = ["x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"];
        let mut pairs: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| !ours.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                Some((as_sent(name.as_str()), value.to_owned()))
            })
            .collect();
        let sent_for: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded_for = sent_for
            .into_iter()
            .chain([forwarded.client_ip.as_str()])
            .collect::<Vec<_>>()
            .join(", ");
        pairs.push(("X-Forwarded-For".into(), forwarded_for));
        pairs.push(("X-Forwarded-Port".into(), forwarded.port.to_string()));
        pairs.push(("X-Forwarded-Proto".into(), forwarded.proto.into()));
        if !headers.contains_key("x-amzn-trace-id") {
            pairs.push(("X-Amzn-Trace-Id".into(), forwarded.trace_id.clone()));
        }
        let (headers, multi_headers) = single_and_multi(pairs.into_iter());
        let (query, multi_query) = if query.is_empty() {
            (Value::Null, Value::Null)
        } else {
            single_and_multi(query.iter().cloned())
        };
        Self {
            headers,
            multi_headers,
            query,
            multi_query,
        }
    }
}

fn single_and_multi(pairs: impl Iterator<Item = (String, String)>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), json!(v));
        match multi.get_mut(&k) {
            Some(Value::Array(a)) => a.push(json!(v)),
            _ => {
                multi.insert(k, json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// An authorizer's answer as API Gateway reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerAnswer {
    /// `principalId`.
    pub principal_id: String,
    /// The policy to evaluate.
    pub policy: PolicyDocument,
    /// The context, every value turned into a string (as later events carry it).
    pub context: Map<String, Value>,
}

/// Why API Gateway refuses an authorizer's answer (the handshake gets 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Larger than 8 KiB.
    #[error("authorizer response over 8 KiB")]
    TooLarge,
    /// Not `{principalId, policyDocument, context?}`.
    #[error("malformed authorizer response: {0}")]
    Malformed(String),
    /// A context value that is an object, an array or null.
    #[error("authorizer context value `{0}` is not a string, number or boolean")]
    ContextValue(String),
}

/// Checks an authorizer's response as API Gateway does: at most 8 KiB, a policy, and a flat
/// context of strings, numbers and booleans, which later events receive as strings.
pub fn read_authorizer_answer(response: &Value) -> Result<AuthorizerAnswer, AnswerError> {
    if response.to_string().len() > MAX_AUTHORIZER_RESPONSE_BYTES {
        return Err(AnswerError::TooLarge);
    }
    let principal_id = response["principalId"]
        .as_str()
        .ok_or_else(|| AnswerError::Malformed("no principalId".into()))?
        .to_owned();
    let policy: PolicyDocument = serde_json::from_value(response["policyDocument"].clone())
        .map_err(|e| AnswerError::Malformed(format!("policyDocument: {e}")))?;
    let mut context = Map::new();
    match &response["context"] {
        Value::Null => {}
        Value::Object(o) => {
            for (k, v) in o {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(AnswerError::ContextValue(k.clone())),
                };
                context.insert(k.clone(), Value::String(s));
            }
        }
        _ => return Err(AnswerError::Malformed("context is not an object".into())),
    }
    Ok(AuthorizerAnswer {
        principal_id,
        policy,
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(context: Value) -> Value {
        json!({"principalId": "alice", "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
            "context": context})
    }

    #[test]
    fn context_values_reach_later_events_as_strings() {
        let a = read_authorizer_answer(&answer(
            json!({"userId": "alice", "expiresAt": 1795604400, "admin": false}),
        ))
        .unwrap();
        assert_eq!(a.context["expiresAt"], json!("1795604400"));
        assert_eq!(a.context["admin"], json!("false"));
        assert_eq!(a.principal_id, "alice");
    }

    #[test]
    fn nested_values_and_oversized_answers_are_refused() {
        assert_eq!(
            read_authorizer_answer(&answer(json!({"scopes": ["a"]}))),
            Err(AnswerError::ContextValue("scopes".into()))
        );
        assert_eq!(
            read_authorizer_answer(&answer(json!({"x": null}))),
            Err(AnswerError::ContextValue("x".into()))
        );
        assert_eq!(
            read_authorizer_answer(&answer(json!({"pad": "p".repeat(9000)}))),
            Err(AnswerError::TooLarge)
        );
        assert!(matches!(
            read_authorizer_answer(&json!({"policyDocument": {}})),
            Err(AnswerError::Malformed(_))
        ));
    }
}
