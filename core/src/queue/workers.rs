//! The worker processes a queue knows of: each running pool reports itself with a
//! [`WorkerBeat`] every few seconds ([`Queue::record_worker`](super::Queue::record_worker)),
//! and is listed until its last report expires or it says goodbye. Operators read the
//! list ([`Queue::workers`](super::Queue::workers)) on the dashboard: which processes run
//! jobs, how many at once, and which jobs each holds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::JobId;
use crate::worker::WorkerStats;
use crate::{Error, Result};

/// The most job ids one report carries; a pool holding more lists the first ones and
/// counts them all in [`WorkerStats::running`].
pub const MAX_BEAT_JOBS: usize = 1_000;

/// The longest text of [`WorkerBeat::host`] (a DNS name's bound).
pub const MAX_HOST: usize = 253;

/// The longest a report may stay listed without another: a day.
pub const MAX_BEAT_TTL: Duration = Duration::from_secs(24 * 3600);

/// What one worker pool reports of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerBeat {
    /// The pool's id, random per start: two pools of one process are two workers.
    pub id: Uuid,
    /// The host it runs on (its hostname).
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// When the pool started, by its own clock.
    pub started_at: DateTime<Utc>,
    /// Jobs it may run at once now (moves with autoscaling).
    pub size: u64,
    /// The most it may grow to (`size` without autoscaling).
    pub max: u64,
    /// The jobs whose leases it holds (running or fetched ahead), at most
    /// [`MAX_BEAT_JOBS`] of them.
    pub jobs: Vec<JobId>,
    /// What it has done since it started.
    pub stats: WorkerStats,
}

impl WorkerBeat {
    /// Checks a report before it is stored: a host of 1 to [`MAX_HOST`] characters with no
    /// control character, at most [`MAX_BEAT_JOBS`] jobs, and a `ttl` from 1 ms to
    /// [`MAX_BEAT_TTL`].
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self, ttl: Duration) -> Result<()> {
        if self.host.is_empty() || self.host.chars().count() > MAX_HOST {
            return Err(Error::invalid(
                "host",
                format!("must be 1 to {MAX_HOST} characters"),
            ));
        }
        if self.host.chars().any(char::is_control) {
            return Err(Error::invalid("host", "must not hold a control character"));
        }
        if self.jobs.len() > MAX_BEAT_JOBS {
            return Err(Error::invalid(
                "jobs",
                format!("at most {MAX_BEAT_JOBS} job ids per report"),
            ));
        }
        if ttl < Duration::from_millis(1) || ttl > MAX_BEAT_TTL {
            return Err(Error::invalid("ttl", "must be from 1 ms to a day"));
        }
        Ok(())
    }

    /// The report as stored (JSON).
    ///
    /// # Errors
    /// Never in practice (every field serializes); [`Error::Backend`] if one did not.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::backend(format!("worker report: {e}")))
    }
}

/// A worker as its queue lists it: its last report and when, by the backend's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveWorker {
    /// What it last reported.
    pub beat: WorkerBeat,
    /// When that report arrived.
    pub seen_at: DateTime<Utc>,
    /// When it stops being listed unless it reports again.
    pub expires_at: DateTime<Utc>,
}

impl LiveWorker {
    /// A stored report read back: `json` as written by [`WorkerBeat::to_json`], times in
    /// milliseconds since the epoch. `None` when it cannot be read (a backend drops it).
    pub fn from_stored(json: &str, seen_ms: i64, expires_ms: i64) -> Option<Self> {
        let beat = serde_json::from_str(json).ok()?;
        Some(Self {
            beat,
            seen_at: DateTime::from_timestamp_millis(seen_ms)?,
            expires_at: DateTime::from_timestamp_millis(expires_ms)?,
        })
    }
}

/// Orders a listing: by host, then process id, then start, then id.
pub fn sort_workers(workers: &mut [LiveWorker]) {
    workers.sort_by(|a, b| {
        let key = |w: &LiveWorker| {
            (
                w.beat.host.clone(),
                w.beat.pid,
                w.beat.started_at,
                w.beat.id,
            )
        };
        key(a).cmp(&key(b))
    });
}

/// The `ttl` in whole milliseconds (at least 1), as backends store it.
pub fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}
