use std::collections::BTreeMap;

use serde::Serialize;

use super::Priority;

/// Ready work at one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PriorityStats {
    /// Jobs whose run time has passed, waiting for a worker.
    pub ready: u64,
    /// How long the oldest of them has been waiting since its run time, in milliseconds:
    /// the number operators alert on, since depth alone hides a stuck queue.
    pub oldest_ready_age_ms: Option<u64>,
}

/// A snapshot of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct QueueStats {
    /// Ready work per priority; every priority is present.
    pub by_priority: BTreeMap<Priority, PriorityStats>,
    /// Jobs whose run time is still ahead (delayed jobs and retries in backoff).
    pub scheduled: u64,
    /// Jobs leased to a worker.
    pub running: u64,
    /// Jobs in the dead-letter queue.
    pub dead: u64,
    /// Completed jobs the queue still remembers: those holding a unique key, until the
    /// retention has passed and they are cleaned (an expired one may linger until the next
    /// enqueue cleans it, and never more than about one enqueue's worth).
    pub completed: u64,
}

impl QueueStats {
    /// Ready jobs across every priority.
    pub fn ready(&self) -> u64 {
        self.by_priority.values().map(|p| p.ready).sum()
    }

    /// Ready jobs at `priority`.
    pub fn ready_at(&self, priority: Priority) -> u64 {
        self.by_priority.get(&priority).map_or(0, |p| p.ready)
    }
}
