//! One suite, run on both stores: the in-memory store and DynamoDB Local (a real DynamoDB, not
//! a mock). The DynamoDB half needs `AWS_ENDPOINT_URL_DYNAMODB` (set by `scripts/test`, which
//! starts DynamoDB Local) and fails, never skips, without it.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use wsauth_policy::Identity;
use wsauth_session::dynamo::{client, ensure_table};
use wsauth_session::{Binding, Lookup, SessionStore, StoreError};

/// A fixed clock for the handlers, far in the future: DynamoDB Local enforces the `ttl`
/// attribute, and a binding whose `ttl` has passed on the real clock is deleted under the test.
const NOW: i64 = 4_102_444_800;

fn identity(user: &str, expires_at: i64) -> Identity {
    Identity {
        user_id: user.into(),
        scopes: vec!["messages:send".into()],
        expires_at,
        session_id: format!("sess-{user}"),
        issuer: "https://issuer.test".into(),
    }
}

fn binding(conn: &str, user: &str, connected_at: i64, expires_at: i64) -> Binding {
    Binding::new(
        conn,
        &identity(user, expires_at),
        connected_at,
        "https://api.test/dev",
    )
}

async fn bind_get_unbind_round_trip(s: Arc<dyn SessionStore>) {
    let b = binding("c1", "alice", 1000, NOW + 3600);
    s.bind(&b).await.unwrap();
    assert_eq!(s.get("c1").await.unwrap(), Some(b.clone()));
    assert_eq!(s.lookup("c1", NOW).await.unwrap(), Lookup::Live(b));
    assert!(s.unbind("c1").await.unwrap());
    assert_eq!(s.get("c1").await.unwrap(), None);
    assert_eq!(s.lookup("c1", NOW).await.unwrap(), Lookup::NotBound);
}

async fn binding_the_same_connection_twice_is_refused(s: Arc<dyn SessionStore>) {
    let first = binding("dup", "alice", 1000, NOW + 3600);
    s.bind(&first).await.unwrap();
    let second = binding("dup", "mallory", 2000, NOW + 7200);
    assert_eq!(s.bind(&second).await, Err(StoreError::AlreadyBound));
    assert_eq!(
        s.get("dup").await.unwrap(),
        Some(first),
        "the first binding is untouched"
    );
}

async fn unbinding_twice_is_fine(s: Arc<dyn SessionStore>) {
    s.bind(&binding("c2", "bob", 1, NOW + 60)).await.unwrap();
    assert!(s.unbind("c2").await.unwrap());
    assert!(!s.unbind("c2").await.unwrap());
    assert!(!s.unbind("never-bound").await.unwrap());
}

async fn by_user_lists_exactly_a_users_live_connections(s: Arc<dyn SessionStore>) {
    for (i, user) in ["alice", "bob", "carol"].iter().enumerate() {
        for j in 0..3 {
            let conn = format!("{user}-{j}");
            let connected = 1000 + (i * 10 + j) as i64;
            s.bind(&binding(&conn, user, connected, NOW + 3600))
                .await
                .unwrap();
        }
    }
    // One of bob's sessions has expired (TTL has not deleted it yet).
    s.bind(&binding("bob-old", "bob", 1, NOW - 10))
        .await
        .unwrap();
    let alice: Vec<String> = s
        .live_user_bindings("alice", NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.connection_id)
        .collect();
    assert_eq!(alice, vec!["alice-0", "alice-1", "alice-2"], "oldest first");
    let bob: Vec<String> = s
        .live_user_bindings("bob", NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.connection_id)
        .collect();
    assert_eq!(bob, vec!["bob-0", "bob-1", "bob-2"]);
    assert_eq!(s.user_bindings("bob").await.unwrap().len(), 4);
    s.unbind("alice-1").await.unwrap();
    assert_eq!(s.live_user_bindings("alice", NOW).await.unwrap().len(), 2);
    assert!(
        s.live_user_bindings("nobody", NOW)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_expired_binding_reads_as_expired(s: Arc<dyn SessionStore>) {
    let b = binding("exp", "alice", 1, NOW);
    s.bind(&b).await.unwrap();
    assert_eq!(
        s.lookup("exp", NOW - 1).await.unwrap(),
        Lookup::Live(b.clone())
    );
    assert_eq!(
        s.lookup("exp", NOW).await.unwrap(),
        Lookup::Expired(b.clone())
    );
    assert_eq!(
        s.lookup("exp", NOW + 100).await.unwrap(),
        Lookup::Expired(b)
    );
}

async fn extend_updates_only_the_owners_binding(s: Arc<dyn SessionStore>) {
    s.bind(&binding("ext", "alice", 1, NOW + 10)).await.unwrap();
    let scopes = vec![
        "messages:send".to_string(),
        "messages:broadcast".to_string(),
    ];
    assert!(
        !s.extend("ext", "mallory", NOW + 9999, &scopes)
            .await
            .unwrap()
    );
    assert_eq!(s.get("ext").await.unwrap().unwrap().expires_at, NOW + 10);
    assert!(s.extend("ext", "alice", NOW + 3600, &scopes).await.unwrap());
    let b = s.get("ext").await.unwrap().unwrap();
    assert_eq!((b.expires_at, b.ttl), (NOW + 3600, NOW + 3600 + 300));
    assert_eq!(b.scopes, scopes);
    assert!(
        !s.extend("gone", "alice", NOW + 3600, &scopes)
            .await
            .unwrap()
    );
}

async fn paging_walks_every_binding_once(s: Arc<dyn SessionStore>) {
    let mut want: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    for c in &want {
        s.bind(&binding(c, "u", 1, NOW + 60)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s.page(cursor.as_deref(), 10).await.unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items.into_iter().map(|b| b.connection_id));
        pages += 1;
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 10, "paging must end");
    }
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    assert!(pages >= 3);
}

wsauth_devkit::on_each_store!(
    bind_get_unbind_round_trip,
    binding_the_same_connection_twice_is_refused,
    unbinding_twice_is_fine,
    by_user_lists_exactly_a_users_live_connections,
    an_expired_binding_reads_as_expired,
    extend_updates_only_the_owners_binding,
    paging_walks_every_binding_once,
);

#[tokio::test]
async fn dynamodb_outage_gives_a_clean_error_not_a_panic() {
    let s = wsauth_devkit::stores::unreachable_dynamodb();
    let b = binding("c", "alice", 1, NOW + 60);
    assert!(matches!(s.bind(&b).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(s.get("c").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        s.unbind("c").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        s.user_bindings("alice").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        s.lookup("c", NOW).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn ensure_table_is_idempotent_and_creates_the_index_and_ttl() {
    let _ = wsauth_devkit::stores::dynamodb_local().await;
    let client = client(&wsauth_runtime::Settings::from_env().store()).await;
    let table = format!("wsauth-idem-{}", std::process::id());
    ensure_table(&client, &table).await.unwrap();
    ensure_table(&client, &table).await.unwrap();
    let d = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = d.table().unwrap();
    let gsis = t.global_secondary_indexes();
    assert_eq!(gsis.len(), 1);
    assert_eq!(gsis[0].index_name(), Some("byUser"));
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let desc = ttl.time_to_live_description().unwrap();
    assert_eq!(desc.attribute_name(), Some("ttl"));
}
