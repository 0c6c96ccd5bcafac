//! [`CircuitBreaker`]: fail fast while the database is down, probe, recover.
//!
//! Hand-written rather than taken from a crate: the maintained one (`failsafe`) lets every
//! call through once the cooldown ends (half-open admits all), where a database that is
//! coming back should see one probe, not the whole backlog at once; and the state must be
//! readable for `/health/ready`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;

use super::{Call, Op, StorePolicy};
use crate::store::Store;
use crate::{Error, ErrorKind, Result};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOptions {
    /// Consecutive connection-level failures that open it. Default 5.
    pub failure_threshold: u32,
    /// How long it stays open before one probe may pass. Default 10 s.
    pub cooldown: Duration,
    /// How long the probe (a health check of the database) may take before it counts as
    /// failed: a probe stuck on a black-holed connection must not keep the breaker half-open.
    /// Default 2 s.
    pub probe_timeout: Duration,
    /// How long one call that passes the breaker may take before it fails with `Timeout`
    /// (and counts as a connection-level failure): a hung database must not hang callers.
    /// `None` for no deadline. Default 30 s.
    pub call_timeout: Option<Duration>,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(2),
            call_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// Where the breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls pass; failures are counted.
    Closed,
    /// Calls fail at once with `CircuitOpen`.
    Open,
    /// One probe is on its way; other calls fail at once.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    Probing,
}

/// Fails calls at once with [`Error::CircuitOpen`] after `failure_threshold` consecutive
/// connection-level failures (`Unavailable`, `Timeout`; a constraint violation, not-found or
/// bad input is an answer, not a failure). After `cooldown` the next call first runs a probe:
/// a health check of the database within `probe_timeout`. Only a probe that reached the
/// database and succeeded closes the breaker (a call refused by input checks never reached it,
/// so it cannot); a failed or timed-out probe opens it for another cooldown. Every call that
/// passes has `call_timeout`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    store: Arc<dyn Store>,
    options: BreakerOptions,
    state: Arc<Mutex<State>>,
}

/// What a call may do.
enum Admission {
    Pass,
    Probe,
}

/// A call on its way. A probe whose caller gave up (its future dropped) counts as a failed
/// probe, so the breaker cannot stay half-open for ever.
struct Pending<'a> {
    breaker: &'a CircuitBreaker,
    admission: Option<Admission>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(Admission::Probe) = self.admission.take() {
            self.breaker.record(&Admission::Probe, true);
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker in front of `store`.
    pub fn new(store: Arc<dyn Store>, options: BreakerOptions) -> Self {
        Self {
            store,
            options,
            state: Arc::new(Mutex::new(State::Closed { failures: 0 })),
        }
    }

    /// Where the breaker is now.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if until <= Instant::now() => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::Probing => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn admit(&self) -> Result<Admission> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(Admission::Pass),
            State::Open { until } if until <= Instant::now() => {
                *state = State::Probing;
                Ok(Admission::Probe)
            }
            State::Open { until } => Err(Error::CircuitOpen {
                retry_after: until.saturating_duration_since(Instant::now()),
            }),
            State::Probing => Err(Error::CircuitOpen {
                retry_after: Duration::from_millis(100),
            }),
        }
    }

    fn record(&self, admission: &Admission, failed: bool) {
        let mut state = self.lock();
        let open = State::Open {
            until: Instant::now() + self.options.cooldown,
        };
        match (admission, failed) {
            (Admission::Probe, true) => {
                tracing::warn!("database circuit: probe failed, open again");
                *state = open;
            }
            (Admission::Probe, false) => {
                tracing::info!("database circuit: probe succeeded, closed");
                *state = State::Closed { failures: 0 };
            }
            (Admission::Pass, false) => {
                if let State::Closed { failures } = &mut *state {
                    *failures = 0;
                }
            }
            (Admission::Pass, true) => {
                if let State::Closed { failures } = &mut *state {
                    *failures += 1;
                    if *failures >= self.options.failure_threshold {
                        tracing::warn!(
                            failures = *failures,
                            cooldown = ?self.options.cooldown,
                            "database circuit: open"
                        );
                        *state = open;
                    }
                }
            }
        }
    }
}

impl CircuitBreaker {
    /// The probe: a health check of the database within `probe_timeout`; closes the breaker
    /// when it succeeds, opens it again otherwise (also when the caller gives up on it).
    async fn probe(&self) -> Result<()> {
        let mut pending = Pending {
            breaker: self,
            admission: Some(Admission::Probe),
        };
        let checked = tokio::time::timeout(self.options.probe_timeout, self.store.health()).await;
        let healthy = matches!(checked, Ok(Ok(())));
        pending.admission = None;
        self.record(&Admission::Probe, !healthy);
        if healthy {
            Ok(())
        } else {
            Err(Error::CircuitOpen {
                retry_after: self.options.cooldown,
            })
        }
    }

    /// Runs `op` within `call_timeout`; a call past it is `Timeout`.
    async fn call<T: Send + 'static>(&self, op: &Op<T>) -> Result<T> {
        let call = op(Arc::clone(&self.store));
        match self.options.call_timeout {
            None => call.await,
            Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
                Err(Error::Timeout {
                    operation: "database call".into(),
                    after: limit,
                })
            }),
        }
    }
}

#[async_trait]
impl StorePolicy for CircuitBreaker {
    async fn run<T: Send + 'static>(&self, _call: Call, op: &Op<T>) -> Result<T> {
        if let Admission::Probe = self.admit()? {
            self.probe().await?;
        }
        let answer = self.call(op).await;
        let failed = answer
            .as_ref()
            .err()
            .is_some_and(|e| matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout));
        self.record(&Admission::Pass, failed);
        answer
    }

    fn engine(&self) -> &'static str {
        self.store.name()
    }

    async fn health(&self) -> Result<()> {
        // The health check is a call like any other: it fails fast while open, and may be the
        // probe that closes the breaker.
        let call = Call::fresh("health", None);
        self.run(call, &|s: Arc<dyn Store>| {
            Box::pin(async move { s.health().await })
        })
        .await
    }
}
