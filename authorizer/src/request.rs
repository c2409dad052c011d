//! The REQUEST authorizer event API Gateway sends for a WebSocket `$connect`, the response it
//! expects, and reading the token from the one configured [`TokenSource`].
//!
//! Exactly one source counts (`WSAUTH_TOKEN_SOURCE`): `subprotocol` (`Sec-WebSocket-Protocol`
//! offering `bearer.<jwt>`), `query` (`token`) or `header` (`Authorization: Bearer <jwt>`); a token
//! anywhere else is no token. Header names compare case-insensitively. A source present twice
//! (two `token` parameters, two `bearer.` subprotocols, two `Authorization` headers) is refused
//! as ambiguous rather than guessed at.

use std::collections::HashMap;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wsauth_policy::PolicyDocument;
use wsauth_protocol::token::{
    AUTHORIZATION_SCHEME, BEARER_PROTOCOL_PREFIX, QUERY_PARAMETER, TokenSource, offered_protocols,
};

use crate::error::AuthError;

/// A WebSocket `$connect` REQUEST authorizer event, as API Gateway sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketAuthorizerRequest {
    /// Always `REQUEST`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`.
    #[serde(default)]
    pub method_arn: Option<String>,
    /// Headers, last value wins.
    #[serde(default)]
    pub headers: Option<HashMap<String, String>>,
    /// Headers, every value.
    #[serde(default)]
    pub multi_value_headers: Option<HashMap<String, Vec<String>>>,
    /// Query string, last value wins.
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
    /// Query string, every value.
    #[serde(default)]
    pub multi_value_query_string_parameters: Option<HashMap<String, Vec<String>>>,
    /// Stage variables.
    #[serde(default)]
    pub stage_variables: Option<HashMap<String, String>>,
    /// Connection ID, route key, domain, stage, … (kept whole).
    #[serde(default)]
    pub request_context: Option<ApiGatewayWebsocketProxyRequestContext>,
}

impl WebSocketAuthorizerRequest {
    /// Every value of header `name` (case-insensitive), from `multiValueHeaders` when present.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        if let Some(m) = &self.multi_value_headers {
            let v: Vec<&str> = m
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.iter().map(String::as_str))
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
        self.headers
            .iter()
            .flatten()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn query_values(&self, name: &str) -> Vec<&str> {
        if let Some(m) = &self.multi_value_query_string_parameters
            && let Some(v) = m.get(name)
            && !v.is_empty()
        {
            return v.iter().map(String::as_str).collect();
        }
        self.query_string_parameters
            .as_ref()
            .and_then(|m| m.get(name))
            .map(|v| vec![v.as_str()])
            .unwrap_or_default()
    }

    /// Whether the configured identity source is present and non-empty: what API Gateway checks
    /// before it invokes the authorizer at all (401 when not).
    pub fn identity_present(&self, source: TokenSource) -> bool {
        match source.header_name() {
            Some(h) => self.header_values(h).iter().any(|v| !v.trim().is_empty()),
            None => self
                .query_values(QUERY_PARAMETER)
                .iter()
                .any(|v| !v.is_empty()),
        }
    }

    /// The token from `source`, the one place it may travel. A token in another place does not
    /// count: the request then has no token. The source present more than once (two `token`
    /// parameters, two `Authorization` headers, two `bearer.` offers), even with an empty or
    /// unusable second one, is ambiguous.
    pub fn token(&self, source: TokenSource) -> Result<&str, AuthError> {
        let occurrences: Vec<&str> = match source {
            TokenSource::Query => self.query_values(QUERY_PARAMETER),
            TokenSource::Header => self.header_values("authorization"),
            TokenSource::Subprotocol => {
                offered_protocols(self.header_values("sec-websocket-protocol"))
                    .filter(|p| p.starts_with(BEARER_PROTOCOL_PREFIX))
                    .collect()
            }
        };
        let one = match occurrences.as_slice() {
            [] => return Err(AuthError::NoToken),
            [one] => *one,
            _ => return Err(AuthError::AmbiguousToken),
        };
        let token = match source {
            TokenSource::Query => Some(one),
            TokenSource::Header => one.trim().split_once(' ').and_then(|(scheme, rest)| {
                scheme
                    .eq_ignore_ascii_case(AUTHORIZATION_SCHEME)
                    .then(|| rest.trim())
            }),
            TokenSource::Subprotocol => one.strip_prefix(BEARER_PROTOCOL_PREFIX),
        };
        token.filter(|t| !t.is_empty()).ok_or(AuthError::NoToken)
    }

    /// The connection ID, for logs.
    pub fn connection_id(&self) -> Option<&str> {
        self.request_context
            .as_ref()
            .and_then(|c| c.connection_id.as_deref())
    }
}

/// What the authorizer Lambda answers API Gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    /// The user (`sub`).
    pub principal_id: String,
    /// Allow or Deny `execute-api:Invoke` on the `methodArn`.
    pub policy_document: PolicyDocument,
    /// Flat context: strings, numbers, booleans only.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> WebSocketAuthorizerRequest {
        serde_json::from_value(v).unwrap()
    }

    const ALL_THREE: &str = r#"{"queryStringParameters":{"token":"q"},
        "headers":{"Authorization":"Bearer h","Sec-WebSocket-Protocol":"wsauth, bearer.p"}}"#;

    #[test]
    fn each_source_reads_only_its_own_place() {
        let e: WebSocketAuthorizerRequest = serde_json::from_str(ALL_THREE).unwrap();
        assert_eq!(e.token(TokenSource::Query), Ok("q"));
        assert_eq!(e.token(TokenSource::Header), Ok("h"));
        assert_eq!(e.token(TokenSource::Subprotocol), Ok("p"));
        let only_query = event(json!({"queryStringParameters":{"token":"q"}}));
        assert_eq!(
            only_query.token(TokenSource::Subprotocol),
            Err(AuthError::NoToken)
        );
        assert_eq!(
            only_query.token(TokenSource::Header),
            Err(AuthError::NoToken)
        );
        assert!(!only_query.identity_present(TokenSource::Subprotocol));
        assert!(only_query.identity_present(TokenSource::Query));
    }

    #[test]
    fn authorization_header_is_read_case_insensitively() {
        let e = event(
            json!({"headers":{"AUTHORIZATION":"bearer  h1 ","sec-websocket-protocol":"wsauth, bearer.p"}}),
        );
        assert_eq!(e.token(TokenSource::Header), Ok("h1"));
        let basic = event(json!({"headers":{"Authorization":"Basic xyz"}}));
        assert_eq!(basic.token(TokenSource::Header), Err(AuthError::NoToken));
        // Present for API Gateway (the authorizer runs), but no bearer token in it.
        assert!(basic.identity_present(TokenSource::Header));
    }

    #[test]
    fn subprotocol_token_is_found_among_offers() {
        let e = event(
            json!({"multiValueHeaders":{"Sec-WebSocket-Protocol":["wsauth, bearer.abc.def.ghi"]}}),
        );
        assert_eq!(e.token(TokenSource::Subprotocol), Ok("abc.def.ghi"));
        let no_bearer = event(json!({"headers":{"Sec-WebSocket-Protocol":"wsauth"}}));
        assert_eq!(
            no_bearer.token(TokenSource::Subprotocol),
            Err(AuthError::NoToken)
        );
        assert!(no_bearer.identity_present(TokenSource::Subprotocol));
    }

    #[test]
    fn no_source_is_no_token_and_null_maps_are_fine() {
        let e =
            event(json!({"headers":null,"queryStringParameters":null,"multiValueHeaders":null}));
        for s in TokenSource::ALL {
            assert_eq!(e.token(s), Err(AuthError::NoToken));
            assert!(!e.identity_present(s));
        }
        let empty = event(json!({"queryStringParameters":{"token":""}}));
        assert_eq!(empty.token(TokenSource::Query), Err(AuthError::NoToken));
        assert!(!empty.identity_present(TokenSource::Query));
    }

    #[test]
    fn duplicated_sources_are_refused_as_ambiguous() {
        let e = event(
            json!({"multiValueQueryStringParameters":{"token":["a","b"]},
                             "queryStringParameters":{"token":"b"}}),
        );
        assert_eq!(e.token(TokenSource::Query), Err(AuthError::AmbiguousToken));
        let e = event(json!({"headers":{"Sec-WebSocket-Protocol":"wsauth, bearer.a, bearer.b"}}));
        assert_eq!(
            e.token(TokenSource::Subprotocol),
            Err(AuthError::AmbiguousToken)
        );
    }

    #[test]
    fn the_api_gateway_fixture_keeps_its_request_context() {
        let raw = include_str!("../tests/data/authorizer-request.json");
        let e: WebSocketAuthorizerRequest = serde_json::from_str(raw).unwrap();
        let ctx = e.request_context.as_ref().unwrap();
        assert_eq!(ctx.connection_id.as_deref(), Some("L0SM9cOFvHcCIhw="));
        assert_eq!(ctx.route_key.as_deref(), Some("$connect"));
        assert_eq!(
            ctx.domain_name.as_deref(),
            Some("abcdef123.execute-api.us-east-1.amazonaws.com")
        );
        assert_eq!(ctx.stage.as_deref(), Some("dev"));
        assert_eq!(e.token(TokenSource::Subprotocol), Ok("TOKEN"));
        assert_eq!(e.token(TokenSource::Query), Ok("TOKEN"));
        assert_eq!(e.token(TokenSource::Header), Err(AuthError::NoToken));
    }
}
