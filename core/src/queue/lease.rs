use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Job, JobId};

/// Proof that a worker holds a job: the fencing token every `complete`, `fail` and `extend`
/// carries.
///
/// Each reservation mints a new `lease_id`. When a lease expires and the job is handed to
/// another worker, the first worker's token no longer matches, so its late `complete` or
/// `fail` is refused with a conflict instead of overwriting the newer attempt's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseToken {
    /// The leased job.
    pub job_id: JobId,
    /// The attempt this lease is for, from 1.
    pub attempt: u32,
    /// Unique to this reservation.
    pub lease_id: Uuid,
}

/// A reserved job and the terms of its lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// The job, as of its reservation (`attempts` already counts this one).
    pub job: Job,
    /// The token to present when finishing or extending.
    pub token: LeaseToken,
    /// When the lease lapses unless extended; after that the job may be handed out again.
    pub expires_at: DateTime<Utc>,
}

/// What a worker reports when a job fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong; kept in the job's error history.
    pub message: String,
    /// Whether another attempt may succeed. A permanent failure dead-letters at once.
    pub retryable: bool,
    /// When set, the next attempt waits this long instead of the queue's backoff (a handler
    /// that knows better: a rate limit's `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure worth retrying (while attempts remain).
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure worth retrying after `delay` rather than the queue's backoff.
    pub fn retry_after(message: impl Into<String>, delay: Duration) -> Self {
        Self {
            message: message.into(),
            retryable: true,
            retry_after: Some(delay),
        }
    }

    /// How long the next attempt waits after failed attempt `attempt`: the failure's own
    /// delay, else `backoff`'s, at most [`MAX_DELAY`](super::MAX_DELAY) (a report is never
    /// refused for its delay: a longer one waits the longest delay).
    pub fn delay(&self, backoff: &crate::retry::Backoff, attempt: u32) -> Duration {
        self.retry_after
            .unwrap_or_else(|| backoff.delay(attempt))
            .min(super::MAX_DELAY)
    }

    /// A failure no retry can fix: the job goes to the dead-letter queue now.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailOutcome {
    /// It will run again, no earlier than `run_at` (now plus the backoff).
    Retrying {
        /// Its next run time.
        run_at: DateTime<Utc>,
    },
    /// It went to the dead-letter queue.
    Dead,
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enqueued {
    /// A new job was stored.
    Created(JobId),
    /// A live job already held the unique key; nothing was stored and this is its id.
    Duplicate(JobId),
}

impl Enqueued {
    /// The id of the job that now holds the work.
    pub fn id(self) -> JobId {
        match self {
            Self::Created(id) | Self::Duplicate(id) => id,
        }
    }

    /// Whether a new job was stored.
    pub fn is_created(self) -> bool {
        matches!(self, Self::Created(_))
    }
}
