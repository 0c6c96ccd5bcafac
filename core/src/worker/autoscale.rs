//! Autoscaling rules, and the decision they make from one sample of the queue: a pure state
//! machine on a logical clock, so every rule is tested without waiting.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::queue::QueueStats;

/// The largest pool an autoscaler may reach (as `workers.count`).
pub const MAX_WORKERS: usize = 1_000;

/// The longest any autoscaling duration may be: a day.
const LONGEST: Duration = Duration::from_secs(24 * 3600);

/// How a pool grows and shrinks between `min` and `max` workers (`workers.autoscale`).
///
/// Every `check_interval` the pool samples [`Queue::stats`](crate::queue::Queue::stats). It
/// grows by `step` while more than `ready_depth_above` jobs are ready or the oldest ready
/// job has waited longer than `oldest_ready_age_above`; it shrinks by `step` once no job has
/// been ready and some worker has been idle at every sample for `idle_for`. It never changes
/// twice within `cooldown`, never leaves `[min, max]`, and never shrinks below the jobs it is
/// running: shrinking only stops starting new jobs, running ones finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Autoscale {
    /// The fewest workers, and the size the pool starts at. Default `1`.
    pub min: usize,
    /// The most workers. Default `10`.
    pub max: usize,
    /// Workers added or removed at a time. Default `1`.
    pub step: usize,
    /// Grow while more jobs than this are ready. Default `10`.
    pub ready_depth_above: u64,
    /// Grow while the oldest ready job has waited longer than this. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub oldest_ready_age_above: Duration,
    /// Shrink once idle (no ready job, a worker with nothing to run) for this long.
    /// Default `60s`.
    #[serde(with = "humantime_serde")]
    pub idle_for: Duration,
    /// The least time between two changes of size. Default `15s`.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// How often the queue is sampled. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
}

impl Default for Autoscale {
    fn default() -> Self {
        Self {
            min: 1,
            max: 10,
            step: 1,
            ready_depth_above: 10,
            oldest_ready_age_above: Duration::from_secs(5),
            idle_for: Duration::from_secs(60),
            cooldown: Duration::from_secs(15),
            check_interval: Duration::from_secs(5),
        }
    }
}

impl Autoscale {
    /// Every rule these settings break, each as its field and why.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut found = Vec::new();
        let mut check = |ok: bool, field: &'static str, reason: String| {
            if !ok {
                found.push((field, reason));
            }
        };
        check(
            (1..=MAX_WORKERS).contains(&self.min),
            "min",
            format!("must be between 1 and {MAX_WORKERS}"),
        );
        check(
            (1..=MAX_WORKERS).contains(&self.max),
            "max",
            format!("must be between 1 and {MAX_WORKERS}"),
        );
        check(
            self.max >= self.min,
            "max",
            format!("must be at least min ({})", self.min),
        );
        check(
            (1..=MAX_WORKERS).contains(&self.step),
            "step",
            format!("must be between 1 and {MAX_WORKERS}"),
        );
        for (field, value) in [
            ("oldest_ready_age_above", self.oldest_ready_age_above),
            ("idle_for", self.idle_for),
            ("cooldown", self.cooldown),
            ("check_interval", self.check_interval),
        ] {
            check(
                !value.is_zero() && value <= LONGEST,
                field,
                "must be longer than zero and at most 24h".to_owned(),
            );
        }
        found
    }
}

/// What one sample saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Sample {
    /// Ready jobs in the queue, every priority.
    pub(super) ready: u64,
    /// How long the oldest ready job has waited.
    pub(super) oldest_ready_age: Option<Duration>,
    /// Jobs this pool is running.
    pub(super) busy: usize,
}

impl Sample {
    /// The sample of `stats` while the pool runs `busy` jobs.
    pub(super) fn new(stats: &QueueStats, busy: usize) -> Self {
        let oldest = stats
            .by_priority
            .values()
            .filter_map(|p| p.oldest_ready_age_ms)
            .max();
        Self {
            ready: stats.ready(),
            oldest_ready_age: oldest.map(Duration::from_millis),
            busy,
        }
    }
}

/// The autoscaler's state: the size it chose, when it last changed it, and since when the
/// pool has been idle. Time is whatever the caller counts from (a logical clock).
#[derive(Debug)]
pub(super) struct Scaler {
    rules: Autoscale,
    size: usize,
    last_change: Option<Duration>,
    idle_since: Option<Duration>,
}

impl Scaler {
    /// A scaler at the rules' minimum.
    pub(super) fn new(rules: Autoscale) -> Self {
        Self {
            size: rules.min,
            rules,
            last_change: None,
            idle_since: None,
        }
    }

    /// Takes the sample seen at `now`; answers the new size when it changes.
    pub(super) fn decide(&mut self, now: Duration, sample: &Sample) -> Option<usize> {
        let rules = &self.rules;
        let pressed = sample.ready > rules.ready_depth_above
            || sample
                .oldest_ready_age
                .is_some_and(|age| age > rules.oldest_ready_age_above);
        if sample.ready == 0 && sample.busy < self.size {
            self.idle_since.get_or_insert(now);
        } else {
            self.idle_since = None;
        }
        let cooled = self
            .last_change
            .is_none_or(|at| now.saturating_sub(at) >= rules.cooldown);
        let idle_long = self
            .idle_since
            .is_some_and(|since| now.saturating_sub(since) >= rules.idle_for);
        let target = if !cooled {
            self.size
        } else if pressed {
            self.size.saturating_add(rules.step)
        } else if idle_long {
            self.size.saturating_sub(rules.step).max(sample.busy)
        } else {
            self.size
        }
        .clamp(rules.min, rules.max);
        if target == self.size {
            return None;
        }
        self.size = target;
        self.last_change = Some(now);
        Some(target)
    }
}

#[cfg(test)]
#[path = "autoscale_tests.rs"]
mod tests;
