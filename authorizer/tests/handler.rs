//! The authorizer handler driven with API Gateway's REQUEST authorizer event JSON.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use wsauth_authorizer::{Authorizer, LambdaRefusal, WebSocketAuthorizerRequest};
use wsauth_protocol::token::TokenSource;

async fn authorizer(extra: &[(&'static str, &str)]) -> (Keys, Server, Authorizer) {
    let keys = Keys::new();
    let server = JwksServer::start(keys.jwks()).await;
    let auth = Authorizer::init(config(&server.url, extra)).await.unwrap();
    (keys, server, auth)
}

#[tokio::test]
async fn valid_token_gets_an_allow_policy_on_the_method_arn_and_a_flat_context() {
    let (keys, _s, auth) = authorizer(&[]).await;
    for k in keys.all() {
        let mut c = claims("alice");
        c["sid"] = json!("s-1");
        let t = k.mint(&c).unwrap();
        let resp = auth.handle(&authorizer_event(Some(&t))).await.unwrap();
        let v = serde_json::to_value(&resp).unwrap();
        assert_eq!(v["principalId"], "alice");
        assert_eq!(
            v["policyDocument"],
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"execute-api:Invoke",
                "Resource":"arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/$connect"}]})
        );
        let ctx = v["context"].as_object().unwrap();
        assert_eq!(ctx["userId"], "alice");
        assert_eq!(ctx["scopes"], "messages:send profile");
        assert_eq!(ctx["expiresAt"], c["exp"]);
        assert_eq!(ctx["sessionId"], "s-1");
        assert_eq!(ctx["issuer"], ISSUER);
        assert!(
            ctx.values()
                .all(|x| x.is_string() || x.is_number() || x.is_boolean())
        );
        assert!(serde_json::to_vec(&v).unwrap().len() < 8 * 1024);
    }
}

/// The fixture event with `token` in exactly one place.
fn event_with_token_in(place: TokenSource, t: &str) -> WebSocketAuthorizerRequest {
    let mut e = serde_json::to_value(authorizer_event(None)).unwrap();
    let (name, value) = match place {
        TokenSource::Query => {
            e["queryStringParameters"] = json!({"token": t});
            e["multiValueQueryStringParameters"] = json!({"token": [t]});
            return serde_json::from_value(e).unwrap();
        }
        TokenSource::Header => ("Authorization", format!("Bearer {t}")),
        TokenSource::Subprotocol => ("Sec-WebSocket-Protocol", format!("wsauth, bearer.{t}")),
    };
    e["headers"][name] = json!(value);
    e["multiValueHeaders"][name] = json!([value]);
    serde_json::from_value(e).unwrap()
}

#[tokio::test]
async fn the_token_is_read_from_the_configured_source_only() {
    for configured in TokenSource::ALL {
        let (keys, _s, auth) = authorizer(&[("WSAUTH_TOKEN_SOURCE", configured.as_str())]).await;
        let t = keys.ec.mint(&claims("bob")).unwrap();
        for place in TokenSource::ALL {
            let got = auth.handle(&event_with_token_in(place, &t)).await;
            if place == configured {
                assert_eq!(got.unwrap().principal_id, "bob", "{configured}");
            } else {
                assert_eq!(
                    got.unwrap_err(),
                    LambdaRefusal::Unauthorized,
                    "configured {configured}, token in {place}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_default_source_is_the_subprotocol() {
    let (keys, _s, auth) = authorizer(&[]).await;
    let t = keys.rsa.mint(&claims("erin")).unwrap();
    let ok = auth
        .handle(&event_with_token_in(TokenSource::Subprotocol, &t))
        .await;
    assert_eq!(ok.unwrap().principal_id, "erin");
    let refused = auth
        .handle(&event_with_token_in(TokenSource::Query, &t))
        .await;
    assert_eq!(refused.unwrap_err(), LambdaRefusal::Unauthorized);
}

#[tokio::test]
async fn no_token_is_unauthorized() {
    let (_k, _s, auth) = authorizer(&[]).await;
    assert_eq!(
        auth.handle(&authorizer_event(None)).await.unwrap_err(),
        LambdaRefusal::Unauthorized
    );
}

#[tokio::test]
async fn invalid_token_is_unauthorized_with_the_exact_message() {
    let (keys, _s, auth) = authorizer(&[]).await;
    let mut c = claims("alice");
    c["exp"] = json!(now() - 3600);
    let err = auth
        .handle(&authorizer_event(Some(&keys.rsa.mint(&c).unwrap())))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Unauthorized");
}

#[tokio::test]
async fn missing_connect_scopes_get_a_deny_policy() {
    let (keys, _s, auth) = authorizer(&[("WSAUTH_CONNECT_SCOPES", "ws:connect")]).await;
    let t = keys.rsa.mint(&claims("carol")).unwrap();
    let resp = auth.handle(&authorizer_event(Some(&t))).await.unwrap();
    assert_eq!(resp.principal_id, "carol");
    let v = serde_json::to_value(&resp.policy_document).unwrap();
    assert_eq!(v["Statement"][0]["Effect"], "Deny");
    assert!(resp.context.is_empty());
    let mut c = claims("dave");
    c["scope"] = json!("ws:connect");
    let ok = auth
        .handle(&authorizer_event(Some(&keys.rsa.mint(&c).unwrap())))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&ok.policy_document).unwrap()["Statement"][0]["Effect"],
        "Allow"
    );
}

#[tokio::test]
async fn jwks_down_at_cold_start_is_an_internal_error_not_a_401() {
    let keys = Keys::new();
    let server = JwksServer::start(keys.jwks()).await;
    server.set(Mode::Status(503));
    // Cooldown 0: no backoff, so the recovery is seen at once.
    let auth = Authorizer::init(config(
        &server.url,
        &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "0")],
    ))
    .await
    .unwrap();
    let t = keys.rsa.mint(&claims("alice")).unwrap();
    assert_eq!(
        auth.handle(&authorizer_event(Some(&t))).await.unwrap_err(),
        LambdaRefusal::Internal
    );
    server.set(Mode::Json(keys.jwks()));
    assert!(
        auth.handle(&authorizer_event(Some(&t))).await.is_ok(),
        "recovers when the IdP does"
    );
}

#[tokio::test]
async fn an_event_without_a_method_arn_is_an_internal_error() {
    let (keys, _s, auth) = authorizer(&[]).await;
    let t = keys.rsa.mint(&claims("alice")).unwrap();
    let mut e = authorizer_event(Some(&t));
    e.method_arn = None;
    assert_eq!(auth.handle(&e).await.unwrap_err(), LambdaRefusal::Internal);
    e.method_arn = Some("arn:aws:s3:::bucket".into());
    assert_eq!(auth.handle(&e).await.unwrap_err(), LambdaRefusal::Internal);
}
