//! The worker processes a queue knows of (`GET /admin/queue/workers`), and which of them
//! holds each running job.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use stack_core::queue::{JobId, LiveWorker, Queue};
use uuid::Uuid;

/// One worker pool, as it last reported itself.
#[derive(Debug, Object)]
pub struct WorkerView {
    /// The pool's id (random per start).
    pub id: Uuid,
    /// The host it runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// When the pool started.
    pub started_at: DateTime<Utc>,
    /// When its last report arrived (the backend's clock).
    pub seen_at: DateTime<Utc>,
    /// When it leaves the list unless it reports again.
    pub expires_at: DateTime<Utc>,
    /// Jobs it may run at once now (moves with autoscaling).
    pub size: u64,
    /// The most it may grow to.
    pub max: u64,
    /// Leases it holds: running jobs and those fetched ahead.
    pub held: u64,
    /// The ids of the jobs it holds (at most 1000).
    pub jobs: Vec<Uuid>,
    /// Jobs it completed since it started.
    pub completed: u64,
    /// Failed attempts it saw retried.
    pub retried: u64,
    /// Jobs it sent to the dead-letter queue.
    pub dead: u64,
    /// Jobs it handed back at shutdown.
    pub released: u64,
    /// Runs it stopped because their lease was lost.
    pub lost: u64,
}

impl From<LiveWorker> for WorkerView {
    fn from(live: LiveWorker) -> Self {
        let beat = live.beat;
        Self {
            id: beat.id,
            host: beat.host,
            pid: beat.pid,
            started_at: beat.started_at,
            seen_at: live.seen_at,
            expires_at: live.expires_at,
            size: beat.size,
            max: beat.max,
            held: beat.stats.running,
            jobs: beat.jobs,
            completed: beat.stats.completed,
            retried: beat.stats.retried,
            dead: beat.stats.dead,
            released: beat.stats.released,
            lost: beat.stats.lost,
        }
    }
}

/// The live workers with their totals.
#[derive(Debug, Object)]
pub struct WorkersView {
    /// Whether the queue backend keeps a worker registry (every built-in one does); when
    /// not, `items` is empty whatever runs.
    pub supported: bool,
    /// Worker pools listed.
    pub pools: u64,
    /// Distinct processes (host and process id) among them.
    pub processes: u64,
    /// Their sizes added up: jobs that may run at once across them.
    pub size: u64,
    /// Leases they hold in all.
    pub held: u64,
    /// The pools, by host, process id, start.
    pub items: Vec<WorkerView>,
}

impl WorkersView {
    /// The view of `live` (`None`: the backend keeps no registry).
    pub fn new(live: Option<Vec<LiveWorker>>) -> Self {
        let supported = live.is_some();
        let items: Vec<WorkerView> = live
            .unwrap_or_default()
            .into_iter()
            .map(WorkerView::from)
            .collect();
        let mut processes: Vec<(&str, u32)> =
            items.iter().map(|w| (w.host.as_str(), w.pid)).collect();
        processes.sort_unstable();
        processes.dedup();
        Self {
            supported,
            pools: items.len() as u64,
            processes: processes.len() as u64,
            size: items.iter().map(|w| w.size).fold(0, u64::saturating_add),
            held: items.iter().map(|w| w.held).fold(0, u64::saturating_add),
            items,
        }
    }
}

/// The live workers, or `None` when the backend keeps no registry.
///
/// # Errors
/// As [`Queue::workers`], except `Unsupported`.
pub(super) async fn live_workers(queue: &dyn Queue) -> stack_core::Result<Option<Vec<LiveWorker>>> {
    match queue.workers().await {
        Ok(live) => Ok(Some(live)),
        Err(stack_core::Error::Unsupported { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Which worker holds each job its reports list; a job in two reports (a lease that lapsed
/// in one pool and was taken by another) goes to the latest report.
pub(super) fn holders(live: &[LiveWorker]) -> HashMap<JobId, Uuid> {
    let mut by_arrival: Vec<&LiveWorker> = live.iter().collect();
    by_arrival.sort_by_key(|w| w.seen_at);
    by_arrival
        .into_iter()
        .flat_map(|w| w.beat.jobs.iter().map(|job| (*job, w.beat.id)))
        .collect()
}
