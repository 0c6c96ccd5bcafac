//! Settings and capabilities of a queue, and the progress of its bounded admin operations.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{validate_queue_name, validate_retention};
use crate::Result;
use crate::retry::Backoff;

/// How far a bounded admin operation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Progress {
    /// What this call did.
    pub done: u64,
    /// What is left for further calls.
    pub remaining: u64,
}

/// Checks the `limit` of a bounded admin operation.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) naming `limit` when it is zero.
pub fn validate_limit(limit: usize) -> Result<()> {
    if limit == 0 {
        return Err(crate::Error::invalid("limit", "must be at least 1"));
    }
    Ok(())
}

/// What a queue backend can do; the conformance suite reads it to pick its trials. Built by
/// name: `QueueCapabilities::default().with_durable(true)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct QueueCapabilities {
    /// Jobs live in a server, not in this process: they survive a restart of the application
    /// and every handle opened on the same queue name sees the same jobs.
    pub durable: bool,
    /// A job can be enqueued inside the caller's database transaction.
    pub transactional_enqueue: bool,
}

impl QueueCapabilities {
    /// Sets [`QueueCapabilities::durable`].
    #[must_use]
    pub const fn with_durable(mut self, on: bool) -> Self {
        self.durable = on;
        self
    }

    /// Sets [`QueueCapabilities::transactional_enqueue`].
    #[must_use]
    pub const fn with_transactional_enqueue(mut self, on: bool) -> Self {
        self.transactional_enqueue = on;
        self
    }
}

/// Settings every queue backend takes.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The queue's name; backends keep queues of different names apart.
    pub name: String,
    /// How long to wait before each retry.
    pub backoff: Arc<Backoff>,
    /// How long a completed job (and so its unique key) is remembered. A cron tick's key must
    /// outlive the slowest instance that could fire the same tick.
    pub completed_retention: Duration,
}

impl QueueOptions {
    /// Options for queue `name` with the default backoff and a day's retention.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            backoff: Arc::new(Backoff::default()),
            completed_retention: Duration::from_secs(24 * 3600),
        }
    }

    /// Checks the options the way every backend does when it opens a queue.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) naming `queue.name`, as
    /// [`validate_queue_name`], or `completed_retention` past [`MAX_RETENTION`](super::MAX_RETENTION).
    pub fn validate(&self) -> Result<()> {
        validate_queue_name(&self.name)?;
        validate_retention(self.completed_retention)
    }

    /// Uses `backoff` between retries.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Arc::new(backoff);
        self
    }
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self::new("default")
    }
}
