//! One route table: the routes the router declares are the protocol's built-in routes and the
//! routes wsauth-local selects from, `serverless.yml` deploys exactly those (with the protocol's
//! selection expression and identity sources), and an application route added with
//! `Router::route` is answered through wsauth-local like a built-in one.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use serde_json::{Value, json};
use wsauth_local::{GatewayOptions, StoreKind};
use wsauth_protocol::{Builtin, TokenSource, routes};
use wsauth_routes::{MessageContext, RouteError, RouteHandler};

fn serverless_yml() -> serde_yaml_ng::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../serverless.yml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every WebSocket route `serverless.yml` gives the function `function`, with whether it has a
/// route response (`routeResponseSelectionExpression: $default`: the route answers).
fn deployed_table(function: &str) -> BTreeMap<String, bool> {
    serverless_yml()["functions"][function]["events"]
        .as_sequence()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| {
                    let ws = &e["websocket"];
                    let answers =
                        ws["routeResponseSelectionExpression"].as_str() == Some("$default");
                    ws["route"].as_str().map(|r| (r.to_owned(), answers))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every WebSocket route `serverless.yml` gives the function `function`.
fn deployed_routes(function: &str) -> BTreeSet<String> {
    deployed_table(function).into_keys().collect()
}

#[tokio::test]
async fn serverless_yml_deploys_exactly_the_routes_the_router_declares() {
    let l = Local::dev(GatewayOptions::default(), StoreKind::Memory).await;
    let router: BTreeSet<String> = l.gateway.route_keys().map(str::to_owned).collect();
    let deployed = deployed_routes("routes");
    let builtin: BTreeSet<String> = Builtin::ALL.map(|b| b.key().to_owned()).into();
    assert_eq!(
        router, builtin,
        "the router's routes are not the protocol's built-in routes (wsauth_protocol::Builtin)"
    );
    assert_eq!(
        deployed, router,
        "serverless.yml's `routes` function and the router disagree: add or remove routes in both"
    );
    let connect: BTreeSet<String> = [routes::CONNECT, routes::DISCONNECT]
        .map(String::from)
        .into();
    assert_eq!(deployed_routes("connect"), connect);
}

#[tokio::test]
async fn serverless_yml_gives_a_route_response_to_exactly_the_routes_that_answer() {
    let l = Local::dev(GatewayOptions::default(), StoreKind::Memory).await;
    let emulated: BTreeMap<String, bool> = l
        .gateway
        .route_keys()
        .map(|k| (k.to_owned(), l.gateway.answers(k)))
        .collect();
    let protocol: BTreeMap<String, bool> = Builtin::ALL
        .map(|b| (b.key().to_owned(), b.answers()))
        .into();
    assert_eq!(
        emulated, protocol,
        "wsauth-local's route table is not the protocol's"
    );
    assert_eq!(
        deployed_table("routes"),
        emulated,
        "a route answers (routeResponseSelectionExpression: $default) in one and not the other"
    );
    // $connect's answer is the handshake's status, never a route response.
    assert!(deployed_table("connect").values().all(|answers| !answers));
}

#[tokio::test]
async fn an_application_route_is_one_way_when_declared_so() {
    let add = |r: wsauth_routes::Router| {
        r.route("echo", vec![], Arc::new(Echo))?
            .route_one_way("note", vec![], Arc::new(Echo))
    };
    let l =
        Local::dev_with_routes(GatewayOptions::default(), StoreKind::Memory, Box::new(add)).await;
    assert!(l.gateway.answers("echo"));
    assert!(!l.gateway.answers("note"));
    // Declared one-way, then two-way again: the last declaration holds.
    let again = |r: wsauth_routes::Router| {
        r.route_one_way("echo", vec![], Arc::new(Echo))?
            .route("echo", vec![], Arc::new(Echo))
    };
    let l = Local::dev_with_routes(
        GatewayOptions::default(),
        StoreKind::Memory,
        Box::new(again),
    )
    .await;
    assert!(l.gateway.answers("echo"));
}

#[test]
fn serverless_yml_selects_routes_and_reads_tokens_as_the_protocol_says() {
    let yml = serverless_yml();
    assert_eq!(
        yml["provider"]["websocketsApiRouteSelectionExpression"].as_str(),
        Some(routes::ROUTE_SELECTION_EXPRESSION)
    );
    let sources = &yml["custom"]["identitySources"];
    let listed = sources.as_mapping().map_or(0, |m| m.len());
    assert_eq!(listed, TokenSource::ALL.len(), "custom.identitySources");
    for t in TokenSource::ALL {
        assert_eq!(
            sources[t.as_str()].as_str(),
            Some(t.identity_source()),
            "custom.identitySources.{t}"
        );
    }
    assert_eq!(
        yml["params"]["default"]["tokenSource"].as_str(),
        Some(TokenSource::default().as_str())
    );
}

#[test]
fn wsauth_local_times_functions_out_as_the_deploy_does() {
    assert_eq!(
        serverless_yml()["provider"]["timeout"].as_u64(),
        Some(wsauth_local::gateway::FUNCTION_TIMEOUT_SECS)
    );
}

struct Echo;

#[async_trait]
impl RouteHandler for Echo {
    async fn handle(&self, ctx: &MessageContext<'_>) -> Result<Option<Value>, RouteError> {
        let text = ctx.body.and_then(|b| b.get("text")).cloned();
        Ok(Some(
            json!({"type": "echo", "userId": ctx.binding.user_id, "text": text}),
        ))
    }
}

#[tokio::test]
async fn an_application_route_is_answered_through_wsauth_local() {
    let add = |r: wsauth_routes::Router| r.route("echo", vec!["chat:write".into()], Arc::new(Echo));
    let l =
        Local::dev_with_routes(GatewayOptions::default(), StoreKind::Memory, Box::new(add)).await;
    let mut ws = l.open("alice", "chat:write").await;
    let r = request(
        &mut ws,
        json!({"action": "echo", "text": "hi", "userId": "mallory"}),
    )
    .await;
    assert_eq!(r, json!({"type": "echo", "userId": "alice", "text": "hi"}));
    // The route's own scope is enforced before its handler runs.
    let mut other = l.open("bob", "").await;
    let r = request(&mut other, json!({"action": "echo", "text": "hi"})).await;
    assert_eq!(r["code"], "forbidden");
    // A server without the route does not know it.
    let plain = Local::dev(GatewayOptions::default(), StoreKind::Memory).await;
    let mut ws = plain.open("alice", "chat:write").await;
    let r = request(&mut ws, json!({"action": "echo", "text": "hi"})).await;
    assert_eq!(r["code"], "unknown_action");
}
