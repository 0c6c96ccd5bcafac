//! Where a queue keeps its jobs, for operators' logs and audit entries.

use serde::Serialize;

/// Which queue a handle serves and where its jobs live: what an operator needs to tell two
/// queues apart in an audit log (two hosts on one Redis differ only by their key prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueLocation {
    /// The queue's name ([`QueueOptions::name`](super::QueueOptions::name)).
    pub name: String,
    /// Where its jobs are: the Redis key prefix of every key of the queue
    /// (`stack:queue:{default}:`), the SQL table and the queue's rows in it
    /// (`stack_jobs (queue = 'default')`), or `this process` for the memory queue.
    pub namespace: String,
}
