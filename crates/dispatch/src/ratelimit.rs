//! Per-key token buckets (in memory, per instance): a caller may burst, then is held to a
//! steady rate. Several instances behind a balancer each apply the limit on their own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// [`RateLimiter::check`] against a budget of its own for `key` (0: unlimited), with a
    /// burst of a minute's worth up to 120, as the shop's.
    pub fn check_budget(&self, key: &str, per_minute: u32) -> Result<(), Duration> {
        self.check_budget_at(key, per_minute, Instant::now())
    }

    fn check_budget_at(&self, key: &str, per_minute: u32, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        self.take(key, now, f64::from(per_minute) / 60.0, f64::from(per_minute.min(120)))
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.take(key, now, self.per_second, self.burst)
    }

    fn take(&self, key: &str, now: Instant, per_second: f64, burst: f64) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle callers rather than grow without bound.
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(600));
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((burst, now));
        let refilled = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            let wait = if per_second > 0.0 { (1.0 - refilled) / per_second } else { 60.0 };
            Err(Duration::from_secs_f64(wait.max(0.001)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_of_its_own_replaces_the_shops() {
        let rl = RateLimiter::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(rl.check_budget_at("unlimited", 0, t0).is_ok(), "0 is no limit");
        }
        for _ in 0..10 {
            assert!(rl.check_budget_at("generous", 600, t0).is_ok(), "a burst of its own, above the shop's 3");
        }
        let mut refused = 0;
        for _ in 0..200 {
            refused += usize::from(rl.check_budget_at("small", 2, t0).is_err());
        }
        assert_eq!(refused, 198, "a budget of 2 a minute bursts 2");
    }

    #[test]
    fn bursts_then_holds_the_rate() {
        let rl = RateLimiter::new(60, 3); // one per second after a burst of three
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at("a", t0).is_ok());
        }
        let wait = rl.check_at("a", t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(rl.check_at("b", t0).is_ok(), "keys are independent");
        assert!(rl.check_at("a", t0 + Duration::from_millis(1_050)).is_ok());
        assert!(rl.check_at("a", t0 + Duration::from_millis(1_100)).is_err());
    }
}
