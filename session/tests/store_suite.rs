//! One suite, run on both stores: the in-memory store and DynamoDB Local (a real DynamoDB, not
//! a mock). The DynamoDB half needs `AWS_ENDPOINT_URL_DYNAMODB` (set by `scripts/test`, which
//! starts DynamoDB Local) and fails, never skips, without it.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use wsauth_policy::Identity;
use wsauth_session::dynamo::{client, ensure_revocations_table, ensure_table};
use wsauth_session::{Binding, Lookup, Presumed, Renewal, Revoke, SessionStore, StoreError};

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
        issued_at: Some(NOW - 60),
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

fn renewal(user: &str, issued_at: Option<i64>, expires_at: i64, scopes: &[String]) -> Renewal {
    Renewal {
        user_id: user.into(),
        session_ids: vec![format!("sess-{user}")],
        session_id: format!("sess-{user}"),
        issued_at,
        expires_at,
        scopes: scopes.to_vec(),
        now: NOW,
    }
}

async fn extend_updates_only_the_owners_binding(s: Arc<dyn SessionStore>) {
    s.bind(&binding("ext", "alice", 1, NOW + 10)).await.unwrap();
    let scopes = vec![
        "messages:send".to_string(),
        "messages:broadcast".to_string(),
    ];
    let mallory = renewal("mallory", Some(NOW), NOW + 9999, &scopes);
    assert!(!s.extend("ext", &mallory).await.unwrap());
    assert_eq!(s.get("ext").await.unwrap().unwrap().expires_at, NOW + 10);
    let alice = renewal("alice", Some(NOW), NOW + 3600, &scopes);
    assert!(s.extend("ext", &alice).await.unwrap());
    let b = s.get("ext").await.unwrap().unwrap();
    assert_eq!((b.expires_at, b.ttl), (NOW + 3600, NOW + 3600 + 300));
    assert_eq!(b.scopes, scopes);
    assert_eq!(b.issued_at, Some(NOW), "the new token's iat");
    assert!(!s.extend("gone", &alice).await.unwrap());
}

/// A binding of `user` in session `session` whose token was issued at `iat`, opened at NOW.
fn token_binding(conn: &str, user: &str, session: &str, iat: Option<i64>) -> Binding {
    let id = Identity {
        session_id: session.into(),
        issued_at: iat,
        ..identity(user, NOW + 3600)
    };
    Binding::new(conn, &id, NOW * 1000, "https://api.test/dev")
}

async fn a_user_logout_refuses_every_token_issued_up_to_its_second(s: Arc<dyn SessionStore>) {
    assert_eq!(
        s.revoke(&Revoke::User("alice".into()), NOW).await.unwrap(),
        NOW
    );
    for (conn, iat) in [
        ("old", Some(NOW - 100)),
        ("same", Some(NOW)),
        ("noiat", None),
    ] {
        let b = token_binding(conn, "alice", &format!("s-{conn}"), iat);
        assert_eq!(s.bind(&b).await, Err(StoreError::Revoked), "{conn}");
        assert_eq!(s.get(conn).await.unwrap(), None, "{conn}: nothing written");
    }
    let later = token_binding("later", "alice", "s-later", Some(NOW + 1));
    s.bind(&later).await.unwrap();
    assert_eq!(s.get("later").await.unwrap(), Some(later));
    s.bind(&token_binding("bob", "bob", "s-bob", Some(NOW - 100)))
        .await
        .unwrap();
    // The connection ID check still holds under a revocation.
    let dup = token_binding("later", "alice", "s-2", Some(NOW + 2));
    assert_eq!(s.bind(&dup).await, Err(StoreError::AlreadyBound));
}

async fn a_session_logout_leaves_the_users_other_sessions(s: Arc<dyn SessionStore>) {
    s.revoke(&Revoke::Session("phone".into()), NOW)
        .await
        .unwrap();
    let phone = token_binding("p", "alice", "phone", Some(NOW - 5));
    assert_eq!(s.bind(&phone).await, Err(StoreError::Revoked));
    let laptop = token_binding("l", "alice", "laptop", Some(NOW - 5));
    s.bind(&laptop).await.unwrap();
    // A user named like the session is another key.
    s.bind(&token_binding("u", "phone", "x", Some(NOW - 5)))
        .await
        .unwrap();
}

async fn the_later_revocation_stays(s: Arc<dyn SessionStore>) {
    let alice = Revoke::User("alice".into());
    assert_eq!(s.revoke(&alice, NOW + 10).await.unwrap(), NOW + 10);
    assert_eq!(s.revoke(&alice, NOW).await.unwrap(), NOW + 10);
    let b = token_binding("c", "alice", "s", Some(NOW + 5));
    assert_eq!(s.bind(&b).await, Err(StoreError::Revoked));
    assert_eq!(s.revoke(&alice, NOW + 20).await.unwrap(), NOW + 20);
}

async fn a_revocation_ends_when_no_token_it_covers_can_live(s: Arc<dyn SessionStore>) {
    // Kept the default day + 30 s leeway: one issued a second longer ago no longer counts,
    // even for a token without `iat`.
    s.revoke(&Revoke::User("alice".into()), NOW - 86_431)
        .await
        .unwrap();
    s.bind(&token_binding("c", "alice", "s", None))
        .await
        .unwrap();
}

async fn refresh_is_refused_for_a_revoked_user_or_session(s: Arc<dyn SessionStore>) {
    s.bind(&token_binding("c", "alice", "phone", Some(NOW - 100)))
        .await
        .unwrap();
    let scopes = vec!["messages:send".to_string()];
    let mut r = renewal("alice", Some(NOW), NOW + 7200, &scopes);
    r.session_ids = vec!["phone".into(), "new-jti".into()];
    s.revoke(&Revoke::Session("phone".into()), NOW)
        .await
        .unwrap();
    assert_eq!(s.extend("c", &r).await, Err(StoreError::Revoked));
    assert_eq!(
        s.get("c").await.unwrap().unwrap().expires_at,
        NOW + 3600,
        "unchanged"
    );
    r.issued_at = Some(NOW + 1);
    assert!(s.extend("c", &r).await.unwrap());
    s.revoke(&Revoke::User("alice".into()), NOW + 1)
        .await
        .unwrap();
    assert_eq!(s.extend("c", &r).await, Err(StoreError::Revoked));
    r.issued_at = None;
    assert_eq!(s.extend("c", &r).await, Err(StoreError::Revoked));
    r.issued_at = Some(NOW + 2);
    assert!(s.extend("c", &r).await.unwrap());
}

async fn a_refresh_onto_another_session_moves_the_binding_there(s: Arc<dyn SessionStore>) {
    s.bind(&token_binding("c", "alice", "old-jti", Some(NOW - 100)))
        .await
        .unwrap();
    let scopes = vec!["messages:send".to_string()];
    let mut r = renewal("alice", Some(NOW), NOW + 7200, &scopes);
    r.session_ids = vec!["old-jti".into(), "new-jti".into()];
    r.session_id = "new-jti".into();
    assert!(s.extend("c", &r).await.unwrap());
    assert_eq!(s.get("c").await.unwrap().unwrap().session_id, "new-jti");
    assert!(s.session_bindings("old-jti").await.unwrap().is_empty());
    let moved: Vec<String> = s
        .session_bindings("new-jti")
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.connection_id)
        .collect();
    assert_eq!(moved, vec!["c"]);
}

async fn by_session_lists_exactly_a_sessions_connections(s: Arc<dyn SessionStore>) {
    for (conn, user, session) in [
        ("a1", "alice", "phone"),
        ("a2", "alice", "phone"),
        ("a3", "alice", "laptop"),
        ("b1", "bob", "bobs"),
    ] {
        s.bind(&token_binding(conn, user, session, Some(NOW)))
            .await
            .unwrap();
    }
    let mut phone: Vec<String> = s
        .session_bindings("phone")
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.connection_id)
        .collect();
    phone.sort();
    assert_eq!(phone, vec!["a1", "a2"]);
    s.unbind("a1").await.unwrap();
    assert_eq!(s.session_bindings("phone").await.unwrap().len(), 1);
    assert!(s.session_bindings("none").await.unwrap().is_empty());
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

/// What the message event's context names for a binding of [`token_binding`].
fn presumed<'a>(user: &'a str, session: &'a str) -> Option<Presumed<'a>> {
    Some(Presumed {
        user_id: user,
        session_id: session,
    })
}

async fn a_message_reads_the_binding_with_its_expiry_and_revocations(s: Arc<dyn SessionStore>) {
    let b = token_binding("c", "alice", "phone", Some(NOW - 100));
    s.bind(&b).await.unwrap();
    let ctx = presumed("alice", "phone");
    assert_eq!(
        s.authorize("c", ctx, NOW).await.unwrap(),
        Lookup::Live(b.clone())
    );
    assert_eq!(
        s.authorize("c", None, NOW).await.unwrap(),
        Lookup::Live(b.clone()),
        "without a context the same answer"
    );
    assert_eq!(
        s.authorize("nobody", ctx, NOW).await.unwrap(),
        Lookup::NotBound
    );
    assert_eq!(
        s.authorize("c", ctx, NOW + 3600).await.unwrap(),
        Lookup::Expired(b.clone())
    );
    // Another user's or session's logout changes nothing.
    s.revoke(&Revoke::User("bob".into()), NOW).await.unwrap();
    s.revoke(&Revoke::Session("laptop".into()), NOW)
        .await
        .unwrap();
    assert_eq!(
        s.authorize("c", ctx, NOW).await.unwrap(),
        Lookup::Live(b.clone())
    );
}

/// A logout whose sweep found nothing (the index lags behind the binding, as DynamoDB's GSIs
/// may): the connection's next message is refused all the same, for a user and for a session.
async fn a_logout_the_index_missed_refuses_the_next_message(inner: Arc<dyn SessionStore>) {
    let s =
        wsauth_devkit::stores::Instrumented::lagging(inner, std::time::Duration::from_secs(3600));
    let phone = token_binding("p", "alice", "phone", Some(NOW - 100));
    let laptop = token_binding("l", "alice", "laptop", Some(NOW - 100));
    s.bind(&phone).await.unwrap();
    s.bind(&laptop).await.unwrap();
    s.revoke(&Revoke::Session("phone".into()), NOW)
        .await
        .unwrap();
    assert!(
        s.session_bindings("phone").await.unwrap().is_empty(),
        "the sweep's index shows nothing yet"
    );
    assert_eq!(
        s.authorize("p", presumed("alice", "phone"), NOW)
            .await
            .unwrap(),
        Lookup::Revoked(phone.clone())
    );
    assert_eq!(
        s.authorize("p", None, NOW).await.unwrap(),
        Lookup::Revoked(phone)
    );
    assert_eq!(
        s.authorize("l", presumed("alice", "laptop"), NOW)
            .await
            .unwrap(),
        Lookup::Live(laptop.clone())
    );
    s.revoke(&Revoke::User("alice".into()), NOW).await.unwrap();
    assert!(s.user_bindings("alice").await.unwrap().is_empty());
    assert_eq!(
        s.authorize("l", presumed("alice", "laptop"), NOW)
            .await
            .unwrap(),
        Lookup::Revoked(laptop)
    );
    // A token issued after the revocation is served; an expired revocation refuses nothing.
    let later = token_binding("n", "alice", "laptop", Some(NOW + 1));
    s.bind(&later).await.unwrap();
    assert_eq!(
        s.authorize("n", presumed("alice", "laptop"), NOW + 1)
            .await
            .unwrap(),
        Lookup::Live(later)
    );
    assert!(matches!(
        s.authorize("l", presumed("alice", "laptop"), NOW + 86_431)
            .await
            .unwrap(),
        Lookup::Expired(_)
    ));
}

/// What `authorize` answers for connection `c` with `ctx` at `NOW`.
async fn at_now(s: &Arc<dyn SessionStore>, ctx: Option<Presumed<'_>>) -> Lookup {
    s.authorize("c", ctx, NOW).await.unwrap()
}

/// After a `refresh` moved the binding to another session, the context still names the first:
/// the logout of the session the connection now runs on refuses its next message.
async fn a_message_after_a_refresh_checks_the_session_it_moved_to(s: Arc<dyn SessionStore>) {
    s.bind(&token_binding("c", "alice", "old-jti", Some(NOW - 100)))
        .await
        .unwrap();
    let scopes = vec!["messages:send".to_string()];
    let mut r = renewal("alice", Some(NOW - 10), NOW + 7200, &scopes);
    r.session_ids = vec!["old-jti".into(), "new-jti".into()];
    r.session_id = "new-jti".into();
    assert!(s.extend("c", &r).await.unwrap());
    let ctx = presumed("alice", "old-jti");
    assert!(matches!(at_now(&s, ctx).await, Lookup::Live(_)));
    // The first session's logout no longer covers the connection (it runs on the new token).
    s.revoke(&Revoke::Session("old-jti".into()), NOW)
        .await
        .unwrap();
    assert!(matches!(at_now(&s, ctx).await, Lookup::Live(_)));
    s.revoke(&Revoke::Session("new-jti".into()), NOW)
        .await
        .unwrap();
    assert!(matches!(at_now(&s, ctx).await, Lookup::Revoked(b) if b.session_id == "new-jti"));
}

wsauth_devkit::on_each_store!(
    a_message_reads_the_binding_with_its_expiry_and_revocations,
    a_logout_the_index_missed_refuses_the_next_message,
    a_message_after_a_refresh_checks_the_session_it_moved_to,
    bind_get_unbind_round_trip,
    binding_the_same_connection_twice_is_refused,
    unbinding_twice_is_fine,
    by_user_lists_exactly_a_users_live_connections,
    an_expired_binding_reads_as_expired,
    extend_updates_only_the_owners_binding,
    paging_walks_every_binding_once,
    a_user_logout_refuses_every_token_issued_up_to_its_second,
    a_session_logout_leaves_the_users_other_sessions,
    the_later_revocation_stays,
    a_revocation_ends_when_no_token_it_covers_can_live,
    refresh_is_refused_for_a_revoked_user_or_session,
    by_session_lists_exactly_a_sessions_connections,
    a_refresh_onto_another_session_moves_the_binding_there,
);

#[tokio::test]
async fn dynamodb_outage_gives_a_clean_error_not_a_panic() {
    let s = wsauth_devkit::stores::unreachable_dynamodb().await;
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
    assert!(matches!(
        s.revoke(&Revoke::User("alice".into()), NOW).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        s.session_bindings("s").await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_table_without_one_of_the_schemas_indexes_is_refused_naming_it() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let _ = wsauth_devkit::stores::dynamodb_local().await;
    let client = client(&wsauth_settings::Settings::from_env().store().unwrap()).await;
    // A sessions table as it was before logoutSession: the key and no index at all.
    let table = format!("wsauth-old-{}", std::process::id());
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("connectionId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("connectionId")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    match ensure_table(&client, &table).await {
        Err(StoreError::Unavailable(m)) => {
            assert!(m.contains(&table) && m.contains("`byUser`"), "{m}");
        }
        other => panic!("an old table was accepted: {other:?}"),
    }
}

#[tokio::test]
async fn ensure_table_is_idempotent_and_creates_the_indexes_and_ttl() {
    let _ = wsauth_devkit::stores::dynamodb_local().await;
    let client = client(&wsauth_settings::Settings::from_env().store().unwrap()).await;
    let table = format!("wsauth-idem-{}", std::process::id());
    ensure_table(&client, &table).await.unwrap();
    ensure_table(&client, &table).await.unwrap();
    let revocations = format!("wsauth-idem-revocations-{}", std::process::id());
    ensure_revocations_table(&client, &revocations)
        .await
        .unwrap();
    ensure_revocations_table(&client, &revocations)
        .await
        .unwrap();
    let r = client
        .describe_time_to_live()
        .table_name(&revocations)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.time_to_live_description().unwrap().attribute_name(),
        Some("ttl")
    );
    let d = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = d.table().unwrap();
    let mut gsis: Vec<&str> = t
        .global_secondary_indexes()
        .iter()
        .filter_map(|g| g.index_name())
        .collect();
    gsis.sort();
    assert_eq!(gsis, vec!["bySession", "byUser"]);
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let desc = ttl.time_to_live_description().unwrap();
    assert_eq!(desc.attribute_name(), Some("ttl"));
}

/// The per-message check costs one DynamoDB request, revocations included: one consistent
/// `BatchGetItem`. After a `refresh` moved the session, one more for its revocation.
#[tokio::test]
async fn a_message_costs_one_dynamodb_request_revocations_included() {
    let sent = wsauth_devkit::stores::SentRequests::default();
    let s = wsauth_devkit::stores::dynamodb_local_with(sent.clone()).await;
    s.bind(&token_binding("c", "alice", "phone", Some(NOW - 100)))
        .await
        .unwrap();
    let taken = || sent.take();
    taken();
    let ctx = presumed("alice", "phone");
    assert!(matches!(
        s.authorize("c", ctx, NOW).await.unwrap(),
        Lookup::Live(_)
    ));
    assert_eq!(taken(), vec!["BatchGetItem"]);
    s.revoke(&Revoke::User("alice".into()), NOW).await.unwrap();
    taken();
    assert!(matches!(
        s.authorize("c", ctx, NOW).await.unwrap(),
        Lookup::Revoked(_)
    ));
    assert_eq!(taken(), vec!["BatchGetItem"], "a refusal costs the same");
    assert_eq!(s.authorize("x", ctx, NOW).await.unwrap(), Lookup::NotBound);
    assert_eq!(taken(), vec!["BatchGetItem"]);
    // A context naming another session (a refresh moved it): the binding's own, read after.
    s.bind(&token_binding("d", "bob", "new", Some(NOW - 100)))
        .await
        .unwrap();
    taken();
    assert!(matches!(
        s.authorize("d", presumed("bob", "old"), NOW).await.unwrap(),
        Lookup::Live(_)
    ));
    assert_eq!(taken(), vec!["BatchGetItem", "BatchGetItem"]);
}
