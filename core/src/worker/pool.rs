//! The pool: a dispatcher that reserves while slots are free, a heartbeat, and an acker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::dispatch::dispatch;
use super::run::{acknowledge, heartbeat};
use super::{Handlers, WorkerOptions};
use crate::Result;
use crate::queue::{JobId, LeaseToken, Queue};

/// What a pool has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct WorkerStats {
    /// Leases held now: running jobs and those fetched ahead of a free slot.
    pub running: u64,
    /// Jobs completed (acknowledged by the queue).
    pub completed: u64,
    /// Failed attempts that will be retried.
    pub retried: u64,
    /// Jobs that went to the dead-letter queue from this pool.
    pub dead: u64,
    /// Jobs handed back unfinished at shutdown.
    pub released: u64,
    /// Jobs stopped because their lease was lost (another worker holds them now).
    pub lost: u64,
}

/// One running job, as the heartbeat and cancellation see it.
pub(super) struct Running {
    pub(super) token: LeaseToken,
    /// Stops the job's handler.
    pub(super) stop: CancellationToken,
    /// Whether it was stopped because its lease was lost (else: cancelled by request).
    pub(super) lost: Arc<AtomicBool>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) completed: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) dead: AtomicU64,
    pub(super) released: AtomicU64,
    pub(super) lost: AtomicU64,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What the dispatcher, the job tasks, the heartbeat and the acker share.
pub(super) struct Shared {
    pub(super) queue: Arc<dyn Queue>,
    pub(super) handlers: Handlers,
    pub(super) options: WorkerOptions,
    pub(super) running: Mutex<HashMap<JobId, Running>>,
    /// Stop reserving and starting; handlers may stop early.
    pub(super) shutdown: CancellationToken,
    /// The grace is over: stop every handler and release its job.
    pub(super) abort: CancellationToken,
    /// Every job task has ended: the heartbeat stops, the acker flushes and stops.
    pub(super) drained: CancellationToken,
    pub(super) acks: mpsc::UnboundedSender<LeaseToken>,
    pub(super) counters: Counters,
}

impl Shared {
    pub(super) fn running(&self) -> MutexGuard<'_, HashMap<JobId, Running>> {
        // Entries are inserted and removed whole; a poisoned map is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts pools. See the [module documentation](super).
#[derive(Debug)]
pub struct WorkerPool;

impl WorkerPool {
    /// Starts a pool running jobs of `queue` with `handlers`.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) when `options` fail
    /// [`WorkerOptions::validate`].
    pub fn start(
        queue: Arc<dyn Queue>,
        handlers: Handlers,
        options: WorkerOptions,
    ) -> Result<WorkerHandle> {
        options.validate()?;
        let (acks, received) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue,
            handlers,
            options,
            running: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            abort: CancellationToken::new(),
            drained: CancellationToken::new(),
            acks,
            counters: Counters::default(),
        });
        let tasks = vec![
            tokio::spawn(dispatch(Arc::clone(&shared))),
            tokio::spawn(heartbeat(Arc::clone(&shared))),
            tokio::spawn(acknowledge(Arc::clone(&shared), received)),
        ];
        Ok(WorkerHandle { shared, tasks })
    }
}

/// Stops a pool from anywhere; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stopper {
    shutdown: CancellationToken,
    abort: CancellationToken,
}

impl Stopper {
    /// As [`WorkerHandle::shutdown`].
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// As [`WorkerHandle::abort`].
    pub fn abort(&self) {
        self.shutdown.cancel();
        self.abort.cancel();
    }
}

/// A running pool.
pub struct WorkerHandle {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl WorkerHandle {
    /// What the pool has done so far.
    pub fn stats(&self) -> WorkerStats {
        let c = &self.shared.counters;
        WorkerStats {
            running: self.shared.running().len() as u64,
            completed: c.completed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dead: c.dead.load(Ordering::Relaxed),
            released: c.released.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
        }
    }

    /// Stops job `id` if this pool runs it: its handler is dropped and the job goes to the
    /// dead-letter queue as cancelled (from where it can be requeued). Whether it was running.
    pub fn cancel(&self, id: JobId) -> bool {
        self.shared
            .running()
            .get(&id)
            .map(|r| r.stop.cancel())
            .is_some()
    }

    /// Begins a graceful shutdown: no more reservations; running jobs have the grace to
    /// finish, then are released. Returns at once; [`WorkerHandle::join`] waits for the end.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// Ends the grace now: running jobs are stopped and released at once.
    pub fn abort(&self) {
        self.stopper().abort();
    }

    /// A handle that can shut the pool down or abort it while another task waits in
    /// [`WorkerHandle::join`] (a second signal cutting the grace short).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shutdown: self.shared.shutdown.clone(),
            abort: self.shared.abort.clone(),
        }
    }

    /// Waits until the pool has stopped (after [`WorkerHandle::shutdown`]); what it did.
    pub async fn join(self) -> WorkerStats {
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a worker pool task failed");
            }
        }
        let c = &self.shared.counters;
        WorkerStats {
            running: 0,
            completed: c.completed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dead: c.dead.load(Ordering::Relaxed),
            released: c.released.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
        }
    }

    /// Shuts down gracefully and waits for the end.
    pub async fn stop(self) -> WorkerStats {
        self.shutdown();
        self.join().await
    }
}
