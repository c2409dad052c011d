//! The JWKS cache: the issuer's public keys, fetched, vetted one by one, and kept trustworthy.
//!
//! # Layout
//!
//! - [`keys`]: parsing keys and key sets (pure).
//! - [`fetch`]: the [`Fetcher`] trait and [`HttpFetcher`].
//! - `backoff.rs`: the backoff after failed fetches (the failures in a row, when the last one
//!   failed, and the wait before the next: [`MAX_BACKOFF`], [`FAIL_CLOSED_PROBE`]).
//! - this file: the cache policy (single flight, negative cache, when to back off, staleness),
//!   on tokio's clock so that tests run it on a paused one.
//!
//!
//! - Keys are stored by (issuer, kid), never by kid alone: a key set belongs to one issuer and a
//!   lookup names both.
//! - Each key is parsed once, when the set is loaded, into aws-lc-rs public keys for exactly the
//!   algorithms it may verify; a key that does not parse is skipped then, not at verify time.
//! - Fetched at cold start ([`JwksCache::prime`]); once older than `refresh_after`, a request
//!   triggers a background refresh and goes on with the keys it has.
//! - An unknown `kid` triggers at most one refetch at a time (single flight: concurrent callers
//!   wait for the fetch in progress instead of starting their own) and at most one per
//!   `unknown_kid_cooldown` (the negative cache), so a flood of random `kid`s costs the IdP nothing.
//! - A failed fetch never empties the cache: the last good keys keep working up to
//!   `max_staleness`, then lookups fail closed ([`AuthError::JwksUnavailable`] → 500).
//! - Failed fetches back off: while cached keys serve, exponentially from the cooldown up to
//!   [`MAX_BACKOFF`] (a failing IdP is asked about once in 5 minutes); while nothing usable is
//!   cached (cold start, or past `max_staleness`: every handshake fails closed), at most every
//!   `max(cooldown, FAIL_CLOSED_PROBE)`, so that service returns within seconds of the IdP.
//! - Unusable keys are skipped one by one, never the whole set: `oct`, `use` other than `sig`,
//!   RSA under 2048 bits, unknown `kty`/`crv`, a declared `alg` that does not fit the key.

mod backoff;
pub mod fetch;
pub mod keys;

use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::time::Instant;
use wsauth_settings::auth::JwksSettings;

use crate::error::AuthError;
use backoff::Backoff;
pub use backoff::{FAIL_CLOSED_PROBE, MAX_BACKOFF};
pub use fetch::{Fetcher, HttpFetcher};
pub use keys::{
    JwksError, KeyKind, KeyMap, SkipReason, Skipped, VerifyingKey, parse_jwk, parse_jwks,
};

/// One fetched (or installed) key set, replaced whole by the next.
struct KeySet {
    /// The issuer that published it (the cache's own, shared): a lookup for another finds nothing.
    issuer: Arc<str>,
    /// Its usable keys by `kid`.
    keys: KeyMap,
    /// When it was fetched: its age decides refresh and staleness.
    fetched_at: Instant,
}

impl KeySet {
    fn get(&self, issuer: &str, kid: &str) -> Option<&Arc<VerifyingKey>> {
        if *self.issuer != *issuer {
            return None;
        }
        self.keys.get(kid).filter(|k| k.issuer == issuer)
    }
}

/// The cache of one issuer's JWKS. Cheap to share (`Arc`); all methods take `&self` or
/// `self: &Arc<Self>`.
pub struct JwksCache {
    /// The issuer whose keys these are: every key set and every lookup is bound to it, and the
    /// log lines name it. Held once, shared with each [`KeySet`].
    issuer: Arc<str>,
    /// The timing of refresh, staleness and the unknown-kid cooldown (the URL, timeout and body
    /// cap are the fetcher's).
    settings: JwksSettings,
    /// Where key sets come from: [`HttpFetcher`], or a fake in tests.
    fetcher: Arc<dyn Fetcher>,
    /// The last key set fetched or installed (`None` before the first): read on every
    /// verification, replaced whole, never emptied by a failure.
    current: RwLock<Option<Arc<KeySet>>>,
    /// Held while a fetch is in flight: the single-flight gate.
    fetch_gate: tokio::sync::Mutex<()>,
    /// Bumped after every fetch attempt, success or failure: a caller that waited at the gate
    /// sees it moved and uses that attempt's result instead of fetching again.
    generation: AtomicU64,
    /// When the last unknown-kid refetch was attempted: the negative cache (at most one such
    /// refetch per `unknown_kid_cooldown`).
    last_unknown_kid_fetch: RwLock<Option<Instant>>,
    /// Set while a background refresh runs, so that the requests that meet an old set start one
    /// task between them, not one each.
    background_refresh: AtomicBool,
    /// HTTP fetches attempted since start, for [`FetchStats`] (metrics and tests).
    fetches: AtomicU64,
    /// Failed fetches in a row, and when the last one failed: whether the next may start yet
    /// (see [`Backoff::wait`]). Locked only to read or update it, never across a fetch.
    backoff: std::sync::Mutex<Backoff>,
}

/// What a fetch did, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchStats {
    /// HTTP fetches attempted since start.
    pub fetches: u64,
    /// Keys now cached.
    pub keys: usize,
}

impl JwksCache {
    /// A cache for `issuer`'s JWKS; nothing is fetched until [`prime`](Self::prime) or a lookup.
    pub fn new(issuer: &str, settings: JwksSettings) -> Result<Self, JwksError> {
        let fetcher = Arc::new(HttpFetcher::new(&settings)?);
        Ok(Self::with_fetcher(issuer, settings, fetcher))
    }

    /// A cache for `issuer`'s JWKS fetched by `fetcher` (tests use a fake one).
    pub fn with_fetcher(issuer: &str, settings: JwksSettings, fetcher: Arc<dyn Fetcher>) -> Self {
        let backoff = Backoff::new(settings.unknown_kid_cooldown);
        Self {
            issuer: Arc::from(issuer),
            settings,
            fetcher,
            current: RwLock::new(None),
            fetch_gate: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            last_unknown_kid_fetch: RwLock::new(None),
            background_refresh: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
            backoff: std::sync::Mutex::new(backoff),
        }
    }

    /// The issuer whose keys this cache holds.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Fetches now (cold start). A failure is returned for logging; lookups will retry.
    pub async fn prime(&self) -> Result<usize, JwksError> {
        let generation = self.generation.load(Ordering::Acquire);
        self.fetch_single_flight(generation).await
    }

    /// Installs a key set as if it had just been fetched (a local dev issuer whose keys are in
    /// process, or tests). Unusable keys are skipped as on a fetch; an unusable set is refused
    /// and the cache keeps what it had.
    pub fn install(&self, body: &[u8]) -> Result<usize, JwksError> {
        let (keys, _skipped) = parse_jwks(&self.issuer, body)?;
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        let n = keys.len();
        if let Ok(mut g) = self.current.write() {
            *g = Some(Arc::new(KeySet {
                issuer: Arc::clone(&self.issuer),
                keys,
                fetched_at: Instant::now(),
            }));
        }
        Ok(n)
    }

    /// Counters for metrics and tests.
    pub fn stats(&self) -> FetchStats {
        FetchStats {
            fetches: self.fetches.load(Ordering::Relaxed),
            keys: self.snapshot().map_or(0, |s| s.keys.len()),
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// The key `kid` when a usable (not too stale) set holds it: no I/O and no wait, the
    /// verifier's fast path. Starts the background refresh of a set older than `refresh_after`.
    /// `None` leaves the decision (refetch, cooldown, fail closed) to [`JwksCache::key`].
    pub fn cached(self: &Arc<Self>, kid: &str) -> Option<Arc<VerifyingKey>> {
        // Read under the lock rather than through a snapshot: on every verification, two atomic
        // operations fewer.
        let (key, age) = {
            let current = self.current.read().ok()?;
            let set = current.as_ref()?;
            (
                set.get(&self.issuer, kid).cloned(),
                set.fetched_at.elapsed(),
            )
        };
        if age > self.settings.max_staleness {
            return None;
        }
        if age > self.settings.refresh_after {
            self.spawn_background_refresh();
        }
        key
    }

    /// The key `kid` of this cache's issuer, fetching as the rules above allow.
    pub async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<VerifyingKey>, AuthError> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let snapshot = self.snapshot();
        let usable = snapshot
            .as_ref()
            .map(|s| (s, s.fetched_at.elapsed()))
            .filter(|(_, age)| *age <= self.settings.max_staleness);
        match usable {
            Some((set, age)) => {
                if age > self.settings.refresh_after {
                    self.spawn_background_refresh();
                }
                if let Some(k) = set.get(&self.issuer, kid) {
                    return Ok(k.clone());
                }
                // Unknown kid: maybe a rotation. Refetch, unless one ran within the cooldown.
                let _ = self.refetch_for_unknown_kid(generation).await;
            }
            None => {
                // Nothing usable at all: fetch now (single flight), else fail closed. A failure
                // is logged where it happens, once per outage (`fetch_locked`).
                let _ = self.fetch_single_flight(generation).await;
            }
        }
        let set = self
            .snapshot()
            .filter(|s| s.fetched_at.elapsed() <= self.settings.max_staleness)
            .ok_or(AuthError::JwksUnavailable)?;
        set.get(&self.issuer, kid)
            .cloned()
            .ok_or(AuthError::UnknownKid)
    }

    async fn refetch_for_unknown_kid(&self, generation: u64) -> Result<usize, JwksError> {
        let _gate = self.fetch_gate.lock().await;
        if self.generation.load(Ordering::Acquire) != generation {
            return Ok(0); // another caller fetched while we waited: use its result
        }
        let recent = self
            .last_unknown_kid_fetch
            .read()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|t| t.elapsed() < self.settings.unknown_kid_cooldown);
        if recent {
            return Ok(0);
        }
        if let Ok(mut g) = self.last_unknown_kid_fetch.write() {
            *g = Some(Instant::now());
        }
        self.fetch_locked().await
    }

    async fn fetch_single_flight(&self, generation: u64) -> Result<usize, JwksError> {
        let _gate = self.fetch_gate.lock().await;
        if self.generation.load(Ordering::Acquire) != generation {
            return Ok(0);
        }
        self.fetch_locked().await
    }

    /// Starts a refresh in the background, unless one runs or the issuer is being backed off
    /// (then there is nothing to do until the wait is over: no task per request).
    fn spawn_background_refresh(self: &Arc<Self>) {
        if self.backing_off(true) || self.background_refresh.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let generation = this.generation.load(Ordering::Acquire);
            // A failure is logged once per outage, by `fetch_locked`; cached keys stay.
            let _ = this.fetch_single_flight(generation).await;
            this.background_refresh.store(false, Ordering::Release);
        });
    }

    /// Whether the last failed fetch was too recent for another: see [`Backoff::wait`]
    /// (`usable`: whether cached keys still serve).
    fn backing_off(&self, usable: bool) -> bool {
        self.backoff
            .lock()
            .ok()
            .is_some_and(|b| b.backing_off(Instant::now(), usable))
    }

    /// One fetch; the caller holds the gate. A well-formed key set replaces the cached one whole
    /// (a key it no longer lists stops verifying at once, even if none is left); a failure leaves
    /// the cache as it was and backs the next attempt off. While backing off, nothing is fetched.
    async fn fetch_locked(&self) -> Result<usize, JwksError> {
        let usable = self
            .snapshot()
            .is_some_and(|s| s.fetched_at.elapsed() <= self.settings.max_staleness);
        if self.backing_off(usable) {
            return Err(JwksError::BackingOff);
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self
            .fetcher
            .fetch()
            .await
            .and_then(|body| parse_jwks(&self.issuer, &body));
        self.generation.fetch_add(1, Ordering::AcqRel);
        let failures_before = self.backoff.lock().ok().map_or(0, |mut b| {
            let before = b.failures();
            match &result {
                Ok(_) => b.succeeded(),
                Err(_) => b.failed(Instant::now()),
            }
            before
        });
        // One warning per outage (its first failure) and one line when it ends, however many
        // requests meet it in between.
        match (&result, failures_before) {
            (Err(e), 0) => {
                tracing::warn!(issuer = %self.issuer, error = %e, usable, "JWKS fetch failed; backing off (further failures of this outage are logged at debug)")
            }
            (Err(e), n) => {
                tracing::debug!(issuer = %self.issuer, error = %e, failures = n + 1, "JWKS fetch failed again")
            }
            (Ok(_), n) if n > 0 => {
                tracing::info!(issuer = %self.issuer, failures = n, "JWKS fetch succeeded again after failures")
            }
            (Ok(_), _) => {}
        }
        let (keys, skipped) = result?;
        for (kid, reason) in &skipped {
            tracing::info!(issuer = %self.issuer, kid = kid.as_deref().unwrap_or("-"), reason = ?reason, "JWKS key skipped");
        }
        let n = keys.len();
        if let Ok(mut g) = self.current.write() {
            *g = Some(Arc::new(KeySet {
                issuer: Arc::clone(&self.issuer),
                keys,
                fetched_at: Instant::now(),
            }));
        }
        tracing::info!(issuer = %self.issuer, keys = n, skipped = skipped.len(), "JWKS refreshed");
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    //! The cache policy on tokio's paused clock with a scripted fetcher: no network, no sleeps.

    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use jsonwebtoken::Algorithm;
    use serde_json::json;
    use wsauth_devkit::{SigningKey, jwks_json};

    use super::*;

    const ISS: &str = "https://issuer.example.com";

    /// Answers with `body` (or fails), counting calls.
    struct Scripted {
        body: Mutex<Option<Vec<u8>>>,
        calls: AtomicU64,
    }

    impl Scripted {
        fn new(body: Option<serde_json::Value>) -> Arc<Self> {
            Arc::new(Self {
                body: Mutex::new(body.map(|b| b.to_string().into_bytes())),
                calls: AtomicU64::new(0),
            })
        }
        fn set(&self, body: Option<serde_json::Value>) {
            *self.body.lock().unwrap() = body.map(|b| b.to_string().into_bytes());
        }
        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Fetcher for Scripted {
        async fn fetch(&self) -> Result<Vec<u8>, JwksError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.body
                .lock()
                .unwrap()
                .clone()
                .ok_or(JwksError::Status(503))
        }
    }

    fn settings(cooldown_s: u64) -> JwksSettings {
        JwksSettings {
            url: format!("{ISS}/jwks"),
            refresh_after: Duration::from_secs(300),
            max_staleness: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(cooldown_s),
            fetch_timeout: Duration::from_secs(3),
            max_body_bytes: 256 * 1024,
        }
    }

    fn key(kid: &str) -> SigningKey {
        SigningKey::generate(Algorithm::ES256, kid).unwrap()
    }

    /// A cache primed with `k1` (cooldown 10 s), the IdP down from then on.
    async fn k1_served_then_idp_down() -> (Arc<JwksCache>, Arc<Scripted>) {
        let fetcher = Scripted::new(Some(jwks_json([&key("k1")])));
        let cache = Arc::new(JwksCache::with_fetcher(ISS, settings(10), fetcher.clone()));
        cache.prime().await.unwrap();
        fetcher.set(None);
        (cache, fetcher)
    }

    /// The seconds (of `seconds`, one lookup each) at which `fetcher` was called.
    async fn fetch_times(
        cache: &Arc<JwksCache>,
        fetcher: &Scripted,
        seconds: u64,
        kid: impl Fn(u64) -> String,
    ) -> Vec<u64> {
        let mut at = Vec::new();
        for second in 0..seconds {
            let before = fetcher.calls();
            let _ = cache.key(&kid(second)).await;
            // A background refresh the lookup started runs while the clock advances.
            tokio::time::advance(Duration::from_secs(1)).await;
            if fetcher.calls() > before {
                at.push(second);
            }
        }
        at
    }

    #[tokio::test(start_paused = true)]
    async fn while_cached_keys_serve_failures_back_off_exponentially_to_five_minutes() {
        let (cache, fetcher) = k1_served_then_idp_down().await;
        // An unknown kid a second for 20 minutes, the IdP down all along; k1 keeps serving.
        let at = fetch_times(&cache, &fetcher, 1200, |s| format!("flood-{s}")).await;
        // 10 s, 20 s, 40 s, 80 s, 160 s, then 300 s apart (±1 s: a background refresh is
        // counted in the second it was started).
        let gaps: Vec<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
        let want = [10u64, 20, 40, 80, 160, 300, 300];
        assert_eq!(gaps.len(), want.len(), "{at:?}");
        for (got, want) in gaps.iter().zip(want) {
            assert!(got.abs_diff(want) <= 1, "{at:?}");
        }
        assert!(
            cache.key("k1").await.is_ok(),
            "the cached key served throughout"
        );
        // The IdP is back: the next attempt (at most 5 minutes later) succeeds, and resets it.
        fetcher.set(Some(jwks_json([&key("k1")])));
        tokio::time::advance(Duration::from_secs(300)).await;
        assert!(cache.key("new").await.is_err());
        // The background refresh that lookup started (the set was past `refresh_after`) ends
        // while the IdP is still up.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            cache.backoff.lock().unwrap().failures(),
            0,
            "a success resets the backoff"
        );
        fetcher.set(None);
        tokio::time::advance(Duration::from_secs(10)).await;
        let before = fetcher.calls();
        let _ = cache.key("other").await;
        tokio::time::advance(Duration::from_secs(10)).await;
        let _ = cache.key("other-2").await;
        assert_eq!(
            fetcher.calls() - before,
            2,
            "after a success, the backoff starts over"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn while_nothing_usable_is_cached_a_failing_idp_is_asked_every_few_seconds() {
        // Cold start, cooldown 1 s: 1 s, 2 s, then every FAIL_CLOSED_PROBE (4 s).
        let fetcher = Scripted::new(None);
        let cache = Arc::new(JwksCache::with_fetcher(ISS, settings(1), fetcher.clone()));
        let at = fetch_times(&cache, &fetcher, 60, |_| "k1".into()).await;
        assert_eq!(&at[..5], &[0, 1, 3, 7, 11], "{at:?}");
        assert!(at.windows(2).all(|w| w[1] - w[0] <= 4), "{at:?}");
        assert!(at.len() <= 17, "about 15 a minute: {at:?}");
        // The IdP is back: handshakes work again within FAIL_CLOSED_PROBE.
        fetcher.set(Some(jwks_json([&key("k1")])));
        let mut waited = 0;
        while cache.key("k1").await.is_err() {
            tokio::time::advance(Duration::from_secs(1)).await;
            waited += 1;
            assert!(waited <= 4, "recovered within 4 s");
        }
        // A longer cooldown is the probe interval then.
        let fetcher = Scripted::new(None);
        let cache = Arc::new(JwksCache::with_fetcher(ISS, settings(10), fetcher.clone()));
        let at = fetch_times(&cache, &fetcher, 60, |_| "k1".into()).await;
        assert_eq!(at, vec![0, 10, 20, 30, 40, 50]);
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_staleness_bound_probing_returns_to_every_few_seconds() {
        let (cache, fetcher) = k1_served_then_idp_down().await;
        // An hour of outage: k1 serves (max staleness 3600 s) while the backoff grows to 5 min.
        let at = fetch_times(&cache, &fetcher, 3600, |s| format!("flood-{s}")).await;
        assert!(at.windows(2).any(|w| w[1] - w[0] == 300), "{at:?}");
        // Past the bound, every lookup fails closed, and the IdP is asked every 10 s again.
        let at = fetch_times(&cache, &fetcher, 60, |_| "k1".into()).await;
        assert!(at.windows(2).all(|w| w[1] - w[0] <= 11), "{at:?}");
        assert!(at.len() >= 5, "{at:?}");
        fetcher.set(Some(jwks_json([&key("k1")])));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(
            cache.key("k1").await.is_ok(),
            "recovered within the cooldown"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cached_keys_serve_through_an_outage_until_the_staleness_bound() {
        let k1 = key("k1");
        let fetcher = Scripted::new(Some(jwks_json([&k1])));
        let cache = Arc::new(JwksCache::with_fetcher(ISS, settings(10), fetcher.clone()));
        cache.prime().await.unwrap();
        fetcher.set(None);
        tokio::time::advance(Duration::from_secs(3599)).await;
        assert!(cache.key("k1").await.is_ok(), "within max_staleness");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            cache.key("k1").await.unwrap_err(),
            AuthError::JwksUnavailable
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_is_one_warning_and_no_task_per_request() {
        let lines = wsauth_settings::telemetry::LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(lines.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let (cache, fetcher) = k1_served_then_idp_down().await;
        tokio::time::advance(Duration::from_secs(301)).await;
        // Past `refresh_after`, the IdP down: a thousand verifications a second for 20 s.
        for _ in 0..20 {
            for _ in 0..1000 {
                assert!(cache.cached("k1").is_some(), "cached keys serve");
            }
            tokio::task::yield_now().await;
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let text = lines.text();
        let warnings = text.lines().filter(|l| l.contains("WARN")).count();
        assert_eq!(warnings, 1, "{text}");
        assert!(fetcher.calls() <= 3, "{} fetches in 20 s", fetcher.calls());
        // The IdP back: one line says so.
        fetcher.set(Some(jwks_json([&key("k1")])));
        tokio::time::advance(Duration::from_secs(300)).await;
        assert!(cache.cached("k1").is_some());
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let text = lines.text();
        assert!(text.contains("succeeded again"), "{text}");
        assert_eq!(text.lines().filter(|l| l.contains("WARN")).count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_older_than_refresh_after_are_refreshed_in_the_background() {
        let (k1, k2) = (key("k1"), key("k2"));
        let fetcher = Scripted::new(Some(jwks_json([&k1])));
        let cache = Arc::new(JwksCache::with_fetcher(ISS, settings(10), fetcher.clone()));
        cache.prime().await.unwrap();
        fetcher.set(Some(jwks_json([&k1, &k2])));
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(cache.key("k1").await.is_ok());
        assert_eq!(fetcher.calls(), 1, "not yet");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.key("k1").await.is_ok(), "the request does not wait");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(fetcher.calls(), 2);
        assert!(cache.key("k2").await.is_ok());
        assert_eq!(fetcher.calls(), 2, "k2 came with the refresh");
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_kids_refetch_once_per_cooldown_and_a_fetched_set_is_authoritative() {
        let (k1, k2) = (key("k1"), key("k2"));
        let fetcher = Scripted::new(Some(jwks_json([&k1, &k2])));
        let cache = Arc::new(JwksCache::with_fetcher(ISS, settings(10), fetcher.clone()));
        cache.prime().await.unwrap();
        for i in 0..100 {
            let _ = cache.key(&format!("random-{i}")).await;
        }
        assert_eq!(fetcher.calls(), 2, "one refetch for a hundred unknown kids");
        // k1 leaves the set: after the next refetch it is unknown.
        fetcher.set(Some(jwks_json([&k2])));
        tokio::time::advance(Duration::from_secs(11)).await;
        let _ = cache.key("random-again").await;
        assert_eq!(fetcher.calls(), 3);
        assert_eq!(cache.key("k1").await.unwrap_err(), AuthError::UnknownKid);
        assert!(cache.key("k2").await.is_ok());
        // An emptied set empties the cache.
        fetcher.set(Some(json!({"keys": []})));
        tokio::time::advance(Duration::from_secs(11)).await;
        let _ = cache.key("random-once-more").await;
        assert_eq!(cache.key("k2").await.unwrap_err(), AuthError::UnknownKid);
    }
}
