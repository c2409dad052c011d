//! The account-level throttles API Gateway applies to a WebSocket API, as token buckets: new
//! connections per second (a handshake beyond it is refused with 429) and requests per second
//! (an @connections call beyond it answers 429 `LimitExceededException`). Off unless
//! `--throttle-connections` / `--throttle-requests` set a rate; on AWS the quotas are per account
//! and region (500 new connections per second, 10,000 requests per second with a burst of 5,000).

use std::sync::Mutex;
use std::time::Instant;

/// A sustained rate with the burst it allows: `N/s` (burst N) or `N/s:B`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// The most tokens the bucket holds: how many may pass at once after a quiet spell.
    pub burst: f64,
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `10/s`, `10` (per second) or `10/s:20` (burst 20); the rate and burst positive.
    fn from_str(v: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{v:?} is not a rate: write N/s or N/s:BURST, e.g. 500/s");
        let (rate, burst) = match v.split_once(':') {
            Some((r, b)) => (r, Some(b)),
            None => (v, None),
        };
        let rate = rate.strip_suffix("/s").unwrap_or(rate);
        let per_second: f64 = rate.trim().parse().map_err(|_| bad())?;
        let burst: f64 = match burst {
            Some(b) => b.trim().parse().map_err(|_| bad())?,
            None => per_second.max(1.0),
        };
        if !(per_second.is_finite() && per_second > 0.0 && burst.is_finite() && burst >= 1.0) {
            return Err(bad());
        }
        Ok(Self { per_second, burst })
    }
}

/// A token bucket: full at first, refilled at the rate, one token per request.
#[derive(Debug)]
pub struct TokenBucket {
    /// The rate and burst.
    rate: Rate,
    /// The tokens left and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket of `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            state: Mutex::new((rate.burst, Instant::now())),
        }
    }

    /// Takes a token if there is one: `false` means throttled.
    pub fn take(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        let now = Instant::now();
        let (tokens, since) = *state;
        let refilled = (tokens + now.duration_since(since).as_secs_f64() * self.rate.per_second)
            .min(self.rate.burst);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }
}

/// Takes a token from `bucket` when there is one: no bucket means no throttle.
pub fn admitted(bucket: Option<&TokenBucket>) -> bool {
    bucket.is_none_or(TokenBucket::take)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_and_without_a_burst_and_nonsense_is_refused() {
        assert_eq!(
            "500/s".parse::<Rate>(),
            Ok(Rate {
                per_second: 500.0,
                burst: 500.0
            })
        );
        assert_eq!(
            "2:5".parse::<Rate>(),
            Ok(Rate {
                per_second: 2.0,
                burst: 5.0
            })
        );
        for bad in ["", "0/s", "-1/s", "x/s", "1/s:0", "inf", "NaN/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_refuses_until_it_refills() {
        let b = TokenBucket::new("1/s:3".parse().unwrap());
        assert_eq!(
            (0..5).map(|_| b.take()).collect::<Vec<_>>(),
            [true, true, true, false, false]
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(b.take());
        assert!(!b.take());
    }
}
