//! Property test: no message body, on any route, panics the router; every message is answered.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use proptest::prelude::*;
use wsauth_policy::{Identity, RoutePolicy};
use wsauth_routes::{Connections, ManagementError, Router, Services};
use wsauth_session::{Binding, MemorySessionStore, SessionStore};

struct Sink;

#[async_trait]
impl Connections for Sink {
    async fn post(&self, _: &str, _: &str, _: &[u8]) -> Result<(), ManagementError> {
        Ok(())
    }
    async fn delete(&self, _: &str, _: &str) -> Result<(), ManagementError> {
        Ok(())
    }
}

fn router() -> (tokio::runtime::Runtime, Router) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(MemorySessionStore::new());
    let id = Identity {
        user_id: "alice".into(),
        scopes: vec!["messages:send".into(), "messages:broadcast".into()],
        expires_at: i64::MAX / 2,
        session_id: "s".into(),
        issuer: "https://i".into(),
        issued_at: None,
    };
    rt.block_on(store.bind(&Binding::new("c1", &id, 1, "https://x/dev")))
        .unwrap();
    let services = Arc::new(Services {
        store,
        connections: Arc::new(Sink),
        verifier: None,
        endpoint_override: None,
        leeway_seconds: 0,
    });
    (rt, Router::new(services, RoutePolicy::default()))
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "\\{\"action\":\"(ping|whoami|sendToUser|broadcast|refresh|x)\",\"to\":.{0,20},\"data\":.{0,40},\"token\":.{0,40}\\}",
        (0usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_body_on_any_route_is_answered_without_panic(
        route in "(ping|whoami|sendToUser|broadcast|refresh|\\$default|other)",
        b in body()
    ) {
        let (rt, r) = router();
        let out = rt.block_on(r.dispatch("c1", &route, Some(&b), 1000));
        let reply = out.frame.expect("every message gets a reply");
        prop_assert!(reply.get("type").is_some());
        prop_assert!(!out.close, "a bound, live connection is never closed for its content");
    }
}
