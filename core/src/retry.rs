//! Retry backoff: exponential growth with full jitter.
//!
//! The delay before retry `n` (counting the first retry as 1) is drawn uniformly from
//! `[0, min(cap, base * 2^(n-1))]` ("full jitter", which spreads a burst of failures out
//! better than adding a small random term). Queues store `now + delay` as the job's next run
//! time; no worker ever sleeps it out.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Exponential backoff with full jitter, optionally deterministic.
///
/// ```
/// use std::time::Duration;
/// use stack_core::retry::Backoff;
/// let a = Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).with_seed(7);
/// let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).with_seed(7);
/// assert_eq!(a.delay(3), b.delay(3)); // same seed, same sequence
/// assert!(a.delay(30) <= Duration::from_secs(60)); // never above the cap
/// ```
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    rng: Mutex<StdRng>,
}

impl Backoff {
    /// A backoff starting at `base` and never exceeding `cap`, seeded from the OS.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            rng: Mutex::new(StdRng::from_os_rng()),
        }
    }

    /// The same backoff drawing from a generator seeded with `seed`, so tests can predict it.
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            ..self
        }
    }

    /// The largest delay retry `attempt` can draw: `min(cap, base * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << exponent.min(31))
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// A random delay for retry `attempt` (1 for the first retry), in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        // A poisoned lock only means another thread panicked mid-draw; the generator is fine.
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        Duration::from_millis(rng.random_range(0..=ceiling))
    }
}

impl Default for Backoff {
    /// One second, doubling, capped at one hour.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(3600))
    }
}

/// The fallback poll of a worker with no way to be woken: a random time between half a
/// second and a second, so that idle workers do not poll in step.
pub fn poll_interval() -> Duration {
    use rand::Rng;
    Duration::from_millis(rand::rng().random_range(500..=1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(800));
        assert_eq!(b.ceiling(5), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn seeded_backoff_is_deterministic_and_bounded() {
        let a = Backoff::new(Duration::from_millis(50), Duration::from_secs(10)).with_seed(42);
        let b = Backoff::new(Duration::from_millis(50), Duration::from_secs(10)).with_seed(42);
        let xs: Vec<_> = (1..20).map(|n| a.delay(n)).collect();
        let ys: Vec<_> = (1..20).map(|n| b.delay(n)).collect();
        assert_eq!(xs, ys);
        for (n, d) in (1..20).zip(&xs) {
            assert!(*d <= a.ceiling(n), "attempt {n}: {d:?}");
        }
        // Full jitter: draws are spread, not all at the ceiling.
        assert!(xs.iter().zip(1..).any(|(d, n)| *d < a.ceiling(n)));
    }
}
