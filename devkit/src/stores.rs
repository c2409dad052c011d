//! Stores for the suites: the in-memory store, and a fresh table on DynamoDB Local
//! (`AWS_ENDPOINT_URL_DYNAMODB`, which `scripts/test` sets). [`on_each_store!`](crate::on_each_store)
//! runs the same test functions on both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use wsauth_runtime::Settings;
use wsauth_session::dynamo::{client, ensure_table};
use wsauth_session::{DynamoSessionStore, MemorySessionStore, SessionStore};

static TABLES: AtomicU32 = AtomicU32::new(0);

/// A store on a fresh table of DynamoDB Local.
///
/// # Panics
/// When DynamoDB Local is absent or refuses the table, so that a test fails rather than skips.
pub async fn dynamodb_local() -> DynamoSessionStore {
    let settings = Settings::from_env().store();
    let Some(endpoint) = settings.dynamodb_endpoint.clone() else {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts DynamoDB Local"
        );
    };
    let client = client(&settings).await;
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

/// A DynamoDB store whose endpoint is a loopback port where nothing listens: DynamoDB "down"
/// (two attempts per call, so outages fail fast).
pub fn unreachable_dynamodb() -> DynamoSessionStore {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(9, |a| a.port());
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "l", "l", None, None, "t",
        ))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    DynamoSessionStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "wsauth-sessions")
}

/// A fresh in-memory store behind the trait.
pub async fn memory_dyn() -> Arc<dyn SessionStore> {
    Arc::new(MemorySessionStore::new())
}

/// Runs each named `async fn(Arc<dyn SessionStore>)` (or, with `setup;` first, each
/// `async fn(T)` where `setup: fn(Arc<dyn SessionStore>) -> T`) as two tests: `memory_store::name`
/// and `dynamodb_local_store::name`. The functions live in the calling module.
#[macro_export]
macro_rules! on_each_store {
    ($setup:ident; $($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $name() {
                super::$name(super::$setup($crate::stores::memory_dyn().await)).await
            })*
        }
        mod dynamodb_local_store {
            $(#[tokio::test] async fn $name() {
                super::$name(super::$setup($crate::stores::dynamodb_local_dyn().await)).await
            })*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::stores::memory_dyn().await).await
            })*
        }
        mod dynamodb_local_store {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::stores::dynamodb_local_dyn().await).await
            })*
        }
    };
}
