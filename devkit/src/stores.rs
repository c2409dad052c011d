//! Stores for the suites: the in-memory store, and a fresh table on DynamoDB Local
//! (`AWS_ENDPOINT_URL_DYNAMODB`, which `scripts/test` sets). [`on_each_store!`](crate::on_each_store)
//! runs the same test functions on both.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use wsauth_session::aws::sdk_config_from_env;
use wsauth_session::dynamo::{client, ensure_tables};
use wsauth_session::{
    Binding, DynamoSessionStore, Lookup, MemorySessionStore, Page, Presumed, Renewal, Revoke,
    SessionStore, StoreError,
};
use wsauth_settings::Settings;
use wsauth_settings::StoreSettings;

static TABLES: AtomicU32 = AtomicU32::new(0);

/// A store on a fresh table of DynamoDB Local.
///
/// # Panics
/// When DynamoDB Local is absent or refuses the table, so that a test fails rather than skips.
pub async fn dynamodb_local() -> DynamoSessionStore {
    let settings = match Settings::from_env().store() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let Some(endpoint) = settings.dynamodb_endpoint.clone() else {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts DynamoDB Local"
        );
    };
    let client = client(&settings).await;
    let n = TABLES.fetch_add(1, Ordering::SeqCst);
    let settings = StoreSettings {
        table: format!("wsauth-test-{}-{n}", std::process::id()),
        revocations_table: format!("wsauth-test-revocations-{}-{n}", std::process::id()),
        ..settings
    };
    if let Err(e) = ensure_tables(&client, &settings).await {
        panic!("cannot create tables on DynamoDB Local at {endpoint}: {e}");
    }
    DynamoSessionStore::new(client, &settings)
}

/// [`dynamodb_local`] whose client runs `interceptor` on every request it sends (to count
/// requests, or to replace DynamoDB's answers for fault injection).
///
/// # Panics
/// As [`dynamodb_local`].
pub async fn dynamodb_local_with(
    interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static,
) -> DynamoSessionStore {
    let plain = dynamodb_local().await;
    let conf = plain
        .client()
        .config()
        .to_builder()
        .interceptor(interceptor)
        .build();
    let settings = match Settings::default().store() {
        Ok(defaults) => StoreSettings {
            table: plain.table().to_owned(),
            revocations_table: plain.revocations_table().to_owned(),
            ..defaults
        },
        Err(e) => panic!("{e}"),
    };
    DynamoSessionStore::new(aws_sdk_dynamodb::Client::from_conf(conf), &settings)
}

/// An SDK interceptor that records the operation of every request a DynamoDB client sends
/// (every attempt, retries included): for [`dynamodb_local_with`], to count what an operation
/// costs in requests.
#[derive(Debug, Default, Clone)]
pub struct SentRequests(Arc<Mutex<Vec<String>>>);

impl SentRequests {
    /// The operations sent since the last call (`GetItem`, `BatchGetItem`, …), in order.
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// How many `operation` requests were sent (none taken).
    pub fn count(&self, operation: &str) -> usize {
        self.0
            .lock()
            .map(|v| v.iter().filter(|o| *o == operation).count())
            .unwrap_or_default()
    }
}

impl aws_sdk_dynamodb::config::Intercept for SentRequests {
    fn name(&self) -> &'static str {
        "SentRequests"
    }

    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = ctx.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or("?").to_owned();
        if let Ok(mut v) = self.0.lock() {
            v.push(operation);
        }
        Ok(())
    }
}

/// [`dynamodb_local`] behind the trait.
pub async fn dynamodb_local_dyn() -> Arc<dyn SessionStore> {
    Arc::new(dynamodb_local().await)
}

/// A DynamoDB store whose endpoint is a loopback port where nothing listens: DynamoDB "down"
/// (two attempts per call, so outages fail fast). Its client is built as every wsauth client is
/// ([`sdk_config_from_env`]), with the endpoint and the attempts overridden.
pub async fn unreachable_dynamodb() -> DynamoSessionStore {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(9, |a| a.port());
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk_config_from_env(true).await)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    // The default tables and retention: nothing is reached anyway.
    let settings = match Settings::default().store() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    DynamoSessionStore::new(aws_sdk_dynamodb::Client::from_conf(conf), &settings)
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

/// Decides whether a call fails: the operation's name and its first string argument (the
/// connection, user or session ID, or the page cursor).
pub type FailWhen = dyn Fn(&'static str, Option<&str>) -> Option<StoreError> + Send + Sync;

/// Any store, with every call recorded (operation names, in order) and, optionally, some calls
/// failing (outages of one operation) or its indexes lagging: for counting the store calls a
/// message costs, and for what DynamoDB Local never shows.
pub struct Instrumented {
    /// The store every call reaches (unless it fails here).
    inner: Arc<dyn SessionStore>,
    /// The operations called, in order, since the last [`take_calls`](Self::take_calls).
    calls: Mutex<Vec<&'static str>>,
    /// Which calls fail, and how.
    fail: Box<FailWhen>,
    /// How long a binding stays out of `user_bindings` and `session_bindings` after it was
    /// written, as DynamoDB's eventually consistent GSIs may; also `index_delay`. `None`: the
    /// inner store's indexes and delay.
    lag: Option<std::time::Duration>,
    /// When each binding was written (for `lag`).
    written: Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Instrumented {
    /// `inner`, recorded, never failing.
    pub fn new(inner: Arc<dyn SessionStore>) -> Self {
        Self::failing(inner, |_, _| None)
    }

    /// `inner`, recorded, failing the calls `fail` names (without reaching `inner`).
    pub fn failing(
        inner: Arc<dyn SessionStore>,
        fail: impl Fn(&'static str, Option<&str>) -> Option<StoreError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            calls: Mutex::new(Vec::new()),
            fail: Box::new(fail),
            lag: None,
            written: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// `inner` whose indexes (`user_bindings`, `session_bindings`) show a binding only `lag`
    /// after it was written; `index_delay` is `lag`. For the logout's second sweep, which
    /// DynamoDB Local (whose indexes are immediate) never needs.
    pub fn lagging(inner: Arc<dyn SessionStore>, lag: std::time::Duration) -> Self {
        Self {
            lag: Some(lag),
            ..Self::new(inner)
        }
    }

    /// The calls made since the last [`take_calls`](Self::take_calls).
    pub fn take_calls(&self) -> Vec<&'static str> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    fn enter(&self, op: &'static str, arg: Option<&str>) -> Result<(), StoreError> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(op);
        }
        match (self.fail)(op, arg) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// What an index read shows of `found` under `lag`.
    fn visible(&self, mut found: Vec<Binding>) -> Vec<Binding> {
        let (Some(lag), Ok(w)) = (self.lag, self.written.lock()) else {
            return found;
        };
        found.retain(|b| w.get(&b.connection_id).is_none_or(|t| t.elapsed() >= lag));
        found
    }
}

#[async_trait]
impl SessionStore for Instrumented {
    async fn bind(&self, b: &Binding) -> Result<(), StoreError> {
        self.enter("bind", Some(&b.connection_id))?;
        self.inner.bind(b).await?;
        if let Ok(mut w) = self.written.lock() {
            w.insert(b.connection_id.clone(), std::time::Instant::now());
        }
        Ok(())
    }
    async fn get(&self, c: &str) -> Result<Option<Binding>, StoreError> {
        self.enter("get", Some(c))?;
        self.inner.get(c).await
    }
    async fn authorize(
        &self,
        c: &str,
        presumed: Option<Presumed<'_>>,
        now: i64,
    ) -> Result<Lookup, StoreError> {
        self.enter("authorize", Some(c))?;
        self.inner.authorize(c, presumed, now).await
    }
    async fn user_bindings(&self, u: &str) -> Result<Vec<Binding>, StoreError> {
        self.enter("user_bindings", Some(u))?;
        Ok(self.visible(self.inner.user_bindings(u).await?))
    }
    async fn page(&self, start: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        self.enter("page", start)?;
        self.inner.page(start, limit).await
    }
    async fn extend(&self, c: &str, r: &Renewal) -> Result<bool, StoreError> {
        self.enter("extend", Some(c))?;
        self.inner.extend(c, r).await
    }
    async fn revoke(&self, t: &Revoke, before: i64) -> Result<i64, StoreError> {
        self.enter("revoke", None)?;
        self.inner.revoke(t, before).await
    }
    async fn session_bindings(&self, s: &str) -> Result<Vec<Binding>, StoreError> {
        self.enter("session_bindings", Some(s))?;
        Ok(self.visible(self.inner.session_bindings(s).await?))
    }
    async fn unbind(&self, c: &str) -> Result<bool, StoreError> {
        self.enter("unbind", Some(c))?;
        self.inner.unbind(c).await
    }
    fn index_delay(&self) -> std::time::Duration {
        self.lag.unwrap_or_else(|| self.inner.index_delay())
    }
}
