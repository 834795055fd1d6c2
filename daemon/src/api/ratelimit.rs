//! A per-token sliding-window rate limit: an exact log of the last `limit`
//! admissions per key. A request is admitted when fewer than `limit` fall
//! within the last `window`; otherwise the answer is how long until the
//! oldest of them leaves the window (the 429's Retry-After).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    /// Admissions per window; 0 disables the limit.
    limit: u32,
    window: Duration,
    log: Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter { limit, window, log: Mutex::new(HashMap::new()) }
    }

    /// Admits one request for `key` at `now`, or says how long to wait.
    pub fn check(&self, key: i64, now: Instant) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() > 10_000 {
            // Forget keys whose whole log has left the window.
            log.retain(|_, times| times.back().is_some_and(|t| now.saturating_duration_since(*t) < self.window));
        }
        let times = log.entry(key).or_default();
        while times.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if times.len() >= self.limit as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + self.window).saturating_duration_since(now));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_instead_of_resetting() {
        let limiter = RateLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(limiter.check(1, t0).is_ok());
        assert!(limiter.check(1, t0 + Duration::from_secs(6)).is_ok());
        assert_eq!(limiter.check(1, t0 + Duration::from_secs(9)), Err(Duration::from_secs(1)));
        // The first admission left the window at t0+10; the second stays until t0+16.
        assert!(limiter.check(1, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(limiter.check(1, t0 + Duration::from_secs(12)), Err(Duration::from_secs(4)));
    }

    #[test]
    fn keys_are_limited_separately_and_zero_means_unlimited() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        let now = Instant::now();
        assert!(limiter.check(1, now).is_ok());
        assert!(limiter.check(1, now).is_err());
        assert!(limiter.check(2, now).is_ok());
        let unlimited = RateLimiter::new(0, Duration::from_secs(60));
        assert!((0..1000).all(|_| unlimited.check(1, now).is_ok()));
    }
}
