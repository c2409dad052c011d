//! Test support (feature `testing`): stores for the suites of every crate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::dynamo::{client_from_env, ensure_table};
use crate::{DynamoSessionStore, MemorySessionStore, SessionStore};

static TABLES: AtomicU32 = AtomicU32::new(0);

/// A store on a fresh table of DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB`, set by
/// `scripts/test`). Panics, so the test fails rather than skips, when DynamoDB Local is absent.
pub async fn dynamodb_local() -> DynamoSessionStore {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts DynamoDB Local"
    );
    let client = client_from_env().await;
    let table = format!(
        "wsauth-test-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    );
    if let Err(e) = ensure_table(&client, &table).await {
        panic!("cannot create a table on DynamoDB Local at {endpoint}: {e}");
    }
    DynamoSessionStore::new(client, &table)
}

/// [`dynamodb_local`] behind the trait.
pub async fn dynamodb_local_dyn() -> Arc<dyn SessionStore> {
    Arc::new(dynamodb_local().await)
}

/// A fresh in-memory store behind the trait.
pub async fn memory_dyn() -> Arc<dyn SessionStore> {
    Arc::new(MemorySessionStore::new())
}
