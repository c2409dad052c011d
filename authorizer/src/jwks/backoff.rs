//! The backoff after failed fetches (aws-jwt-verify's "penalty box"): how many fetches of the
//! issuer's JWKS failed in a row, when the last one did, and how long the next attempt waits.
//! Pure: the caller says what time it is and whether cached keys still serve, and keeps it under
//! its lock.
//!
//! The wait is decided when it is asked for, not when a fetch fails: it depends on whether
//! cached keys still serve, which changes as they age past `max_staleness`.

use std::time::Duration;

use tokio::time::Instant;

/// The longest wait between two fetches while the issuer's JWKS keeps failing and cached keys
/// still serve.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// While nothing usable is cached, a failing IdP is asked again after at most this long (or the
/// cooldown, if longer): at most 15 requests a minute, and handshakes work again within seconds
/// of its return instead of up to [`MAX_BACKOFF`] later.
pub const FAIL_CLOSED_PROBE: Duration = Duration::from_secs(4);

/// Failed fetches in a row, and when the last one failed: whether the next may start yet.
pub(super) struct Backoff {
    /// The first wait after a failure, doubled with each further one, and (with
    /// [`FAIL_CLOSED_PROBE`]) the cap of the wait while nothing usable is cached: the issuer's
    /// `unknown_kid_cooldown` (`WSAUTH_JWKS_COOLDOWN_SECONDS`), copied from its settings, which
    /// never change.
    cooldown: Duration,
    /// Failed fetches in a row (0 once one succeeds): the exponent of the wait, and the outage's
    /// first failure told apart from the rest (one warning per outage).
    failures: u32,
    /// When the last failed fetch ended, `None` before any failure and after a success: the wait
    /// counts from here.
    failed_at: Option<Instant>,
}

impl Backoff {
    /// No failure yet: nothing to wait for.
    pub(super) fn new(cooldown: Duration) -> Self {
        Self {
            cooldown,
            failures: 0,
            failed_at: None,
        }
    }

    /// Failed fetches in a row.
    pub(super) fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether the last failed fetch was too recent at `now` for another: see
    /// [`Backoff::wait`] (`usable`: whether cached keys still serve).
    pub(super) fn backing_off(&self, now: Instant, usable: bool) -> bool {
        match self.failed_at {
            Some(failed_at) => now.saturating_duration_since(failed_at) < self.wait(usable),
            None => false,
        }
    }

    /// How long after the last of the failed fetches the next may start: exponentially from the
    /// cooldown up to [`MAX_BACKOFF`] while cached keys serve (`usable`), and at most
    /// `max(cooldown, FAIL_CLOSED_PROBE)` while nothing usable is cached.
    pub(super) fn wait(&self, usable: bool) -> Duration {
        let cooldown = self.cooldown;
        let factor = 1u32 << self.failures.saturating_sub(1).min(16);
        let wait = cooldown.saturating_mul(factor).min(MAX_BACKOFF);
        if usable {
            wait
        } else {
            wait.min(cooldown.max(FAIL_CLOSED_PROBE))
        }
    }

    /// A fetch failed at `now`: one failure more, and the wait counts from `now`.
    pub(super) fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.failed_at = Some(now);
    }

    /// A fetch succeeded: the backoff starts over.
    pub(super) fn succeeded(&mut self) {
        self.failures = 0;
        self.failed_at = None;
    }
}
