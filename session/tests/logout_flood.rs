//! A logout against a flood of handshakes, on DynamoDB Local (issue #24, finding 4): every bind
//! condition-checks the user's revocation item inside a transaction, and a revocation write
//! meeting one of those transactions is refused (`TransactionConflict`). The holder of the token
//! being revoked must not be able to hold the logout off by reconnecting in a loop.
//!
//! 20 loops bind (and unbind) connections of one user as fast as DynamoDB Local answers, while
//! the user is logged out again and again; every revocation must be written. The figures are
//! printed (`cargo test -p wsauth-session --test logout_flood -- --nocapture`).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wsauth_policy::Identity;
use wsauth_session::{Binding, Revoke, SessionStore, StoreError};

/// Far in the future, as the store suite's clock (DynamoDB Local enforces `ttl`).
const NOW: i64 = 4_102_444_800;
const LOOPS: usize = 20;
/// Logouts per run; `WSAUTH_FLOOD_LOGOUTS` raises it for a measurement.
fn logouts() -> usize {
    std::env::var("WSAUTH_FLOOD_LOGOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn binding(conn: &str, iat: i64) -> Binding {
    let id = Identity {
        user_id: "flooder".into(),
        scopes: vec![],
        expires_at: NOW + 3600,
        session_id: "flood-session".into(),
        issuer: "https://issuer.test".into(),
        issued_at: Some(iat),
    };
    Binding::new(conn, &id, NOW * 1000, "https://api.test/dev")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_is_written_under_a_flood_of_20_reconnect_loops() {
    // Every UpdateItem sent (each attempt of a revocation write) is counted.
    let updates = wsauth_devkit::stores::SentRequests::default();
    let store: Arc<dyn SessionStore> =
        Arc::new(wsauth_devkit::stores::dynamodb_local_with(updates.clone()).await);
    let stop = Arc::new(AtomicBool::new(false));
    let (binds, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut loops = Vec::new();
    for l in 0..LOOPS {
        let (store, stop, binds, refused) =
            (store.clone(), stop.clone(), binds.clone(), refused.clone());
        loops.push(tokio::spawn(async move {
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let conn = format!("flood-{l}-{k}");
                // Tokens issued later and later, so that each logout has something to revoke.
                match store.bind(&binding(&conn, NOW + 1000 * k as i64)).await {
                    Ok(()) => {
                        binds.fetch_add(1, Ordering::Relaxed);
                        let _ = store.unbind(&conn).await;
                    }
                    Err(StoreError::Revoked) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {}
                }
            }
        }));
    }
    // Let the flood reach its pace.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut written, mut failed, mut slowest) = (0, 0, Duration::ZERO);
    let logouts = logouts();
    let mut times = Vec::new();
    for i in 0..logouts {
        let t = Instant::now();
        match store
            .revoke(&Revoke::User("flooder".into()), NOW + 1000 * (i as i64 + 1))
            .await
        {
            Ok(_) => written += 1,
            Err(e) => {
                failed += 1;
                eprintln!("logout {i} failed: {e}");
            }
        }
        slowest = slowest.max(t.elapsed());
        times.push(t.elapsed().as_millis());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.unwrap();
    }
    times.sort_unstable();
    println!(
        "logout under {LOOPS} reconnect loops on DynamoDB Local: {written} of {logouts} written, \
         {failed} unavailable (503); {} write attempts (the rest met a handshake's \
         transaction); median {} ms, slowest {} ms; {} binds went through, {} refused as revoked",
        updates.count("UpdateItem"),
        times.get(times.len() / 2).copied().unwrap_or(0),
        slowest.as_millis(),
        binds.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    assert_eq!(failed, 0, "a flood of handshakes held a logout off");
    assert!(
        binds.load(Ordering::Relaxed) + refused.load(Ordering::Relaxed) > 100,
        "the flood must have run"
    );
}

/// Answers every `UpdateItem` with `TransactionConflictException` until `until`, as DynamoDB
/// does while a handshake's transaction holds the item (DynamoDB Local serializes its requests
/// and never does: the flood above meets no conflict there). The request still reaches
/// DynamoDB Local; only its answer is replaced.
#[derive(Debug, Clone)]
struct ConflictsUntil {
    until: Arc<std::sync::Mutex<Instant>>,
    tries: Arc<AtomicUsize>,
}

impl aws_sdk_dynamodb::config::Intercept for ConflictsUntil {
    fn name(&self) -> &'static str {
        "ConflictsUntil"
    }
    fn modify_before_deserialization(
        &self,
        ctx: &mut aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if Instant::now() >= *self.until.lock().unwrap() {
            return Ok(());
        }
        self.tries.fetch_add(1, Ordering::Relaxed);
        let r = ctx.response_mut();
        *r.status_mut() = aws_smithy_runtime_api::http::StatusCode::try_from(400u16)?;
        r.headers_mut().remove("x-amz-crc32");
        r.headers_mut().remove("content-length");
        *r.body_mut() = aws_smithy_types::body::SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#,
        );
        Ok(())
    }
}

/// Conflicts for 3 s, longer than the eight tries (about 2.5 s at most, 1.3 s on average) a
/// revocation write had: it is written all the same, once they stop.
#[tokio::test]
async fn a_revocation_write_outlasts_seconds_of_conflicts() {
    let conflicts = ConflictsUntil {
        until: Arc::new(std::sync::Mutex::new(Instant::now())),
        tries: Arc::new(AtomicUsize::new(0)),
    };
    let store = wsauth_devkit::stores::dynamodb_local_with(conflicts.clone()).await;
    // The tables exist: conflicts from now on, for 3 s.
    *conflicts.until.lock().unwrap() = Instant::now() + Duration::from_secs(3);
    let t = Instant::now();
    let written = store.revoke(&Revoke::User("flooder".into()), NOW).await;
    let tries = conflicts.tries.load(Ordering::Relaxed);
    println!(
        "revocation write under 3 s of conflicts: {written:?} after {} ms, {tries} conflicting tries",
        t.elapsed().as_millis()
    );
    assert_eq!(written, Ok(NOW));
    assert!(
        tries > 8,
        "{tries} conflicts: the injection must outlast eight tries"
    );
    // The revocation is in force: a bind of a token it covers is refused.
    assert_eq!(
        store.bind(&binding("after", NOW - 1)).await,
        Err(StoreError::Revoked)
    );
}
