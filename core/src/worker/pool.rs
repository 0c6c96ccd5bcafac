//! The pool: a dispatcher that reserves while slots are free, a heartbeat, and an acker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ack::acknowledge;
use super::capacity::{Capacity, PoolSize, autoscale};
use super::dispatch::dispatch;
use super::report::{Identity, report};
use super::run::heartbeat;
use super::{Handlers, WorkerOptions};
use crate::Result;
use crate::queue::{JobId, LeaseToken, Queue};
use crate::retry::Backoff;

/// What a pool has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    /// Jobs stopped because their lease was lost: the queue refused to extend it (another
    /// worker holds the job now), or it lapsed while heartbeats failed (another worker may).
    pub lost: u64,
}

/// How a run is stopped, and why: shared by the run's task and the pool's map.
#[derive(Clone, Default)]
pub(super) struct Stop {
    /// Stops the job's handler.
    pub(super) token: CancellationToken,
    /// Whether it was stopped because its lease was lost (else: cancelled by request).
    pub(super) lost: Arc<AtomicBool>,
}

impl Stop {
    /// Stops the run because its lease is gone (refused by the queue, or lapsed).
    pub(super) fn lose(&self) {
        self.lost.store(true, Ordering::Relaxed);
        self.token.cancel();
    }

    pub(super) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

/// One lease the pool holds (fetched ahead, running, or with its outcome being reported), as
/// the heartbeat, the acker and cancellation see it. Keyed by its [`LeaseToken`]: a job whose
/// lease lapsed and that this pool reserved again is a second entry, not the first one
/// overwritten.
pub(super) struct Running {
    pub(super) stop: Stop,
    /// When the lease lapses unless renewed, by this process's clock and counted from before
    /// the call that granted or renewed it, so it is never later than the queue's expiry.
    pub(super) lapses_at: Instant,
    /// The handler has ended; only its outcome is left to report.
    pub(super) settling: bool,
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
    pub(super) running: Mutex<HashMap<LeaseToken, Running>>,
    /// Stop reserving and starting.
    pub(super) shutdown: CancellationToken,
    /// Handlers may stop early ([`JobContext::shutdown`](super::JobContext)): cancelled once
    /// the fetcher has stopped after `shutdown`, so that a job a handler hands back is not
    /// reserved again by a reserve of this pool still in flight.
    pub(super) handlers_stop: CancellationToken,
    /// The grace is over: stop every handler and release its job.
    pub(super) abort: CancellationToken,
    /// Every job task has ended: the acker flushes and stops.
    pub(super) drained: CancellationToken,
    /// The acker has flushed: the heartbeat stops.
    pub(super) flushed: CancellationToken,
    pub(super) acks: mpsc::UnboundedSender<LeaseToken>,
    /// Signalled whenever the pool stops holding a lease (see [`Shared::release_hold`]).
    pub(super) released: Notify,
    pub(super) counters: Counters,
    /// Delays between attempts to report an outcome the queue did not take.
    pub(super) report_backoff: Backoff,
    /// The pool's size now, and the limits that follow it.
    pub(super) capacity: Capacity,
}

impl Shared {
    pub(super) fn running(&self) -> MutexGuard<'_, HashMap<LeaseToken, Running>> {
        // Entries are inserted and removed whole; a poisoned map is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `token`, granted by a call made at `asked`; answers how to stop its run.
    pub(super) fn hold(&self, token: LeaseToken, asked: Instant) -> Stop {
        let stop = Stop::default();
        let running = Running {
            stop: stop.clone(),
            lapses_at: asked + self.options.lease,
            settling: false,
        };
        self.running().insert(token, running);
        stop
    }

    /// The run of `token` has ended; its outcome is to be reported.
    pub(super) fn settling(&self, token: &LeaseToken) {
        if let Some(running) = self.running().get_mut(token) {
            running.settling = true;
        }
    }

    /// No longer holds `token`: its outcome was reported, or its lease is gone.
    pub(super) fn release_hold(&self, token: &LeaseToken) {
        self.running().remove(token);
        self.released.notify_waiters();
    }

    /// What the pool has done so far, and the leases it holds now.
    pub(super) fn stats_now(&self) -> WorkerStats {
        let c = &self.counters;
        WorkerStats {
            running: self.running().len() as u64,
            completed: c.completed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dead: c.dead.load(Ordering::Relaxed),
            released: c.released.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
        }
    }

    /// How long `token`'s lease still has, `None` once it lapsed or was lost.
    pub(super) fn lease_left(&self, token: &LeaseToken) -> Option<Duration> {
        let running = self.running();
        let held = running.get(token)?;
        let left = held.lapses_at.checked_duration_since(Instant::now())?;
        (!held.stop.is_lost() && !left.is_zero()).then_some(left)
    }
}

/// Starts pools. See the [module documentation](super).
#[derive(Debug)]
pub struct WorkerPool;

impl WorkerPool {
    /// Starts a pool running jobs of `queue` with `handlers`: `concurrency` at once, or, with
    /// [`WorkerOptions::autoscale`], from its `min` and resized by its rules.
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
        let report_backoff = Backoff::new(
            Duration::from_millis(50),
            (options.lease / 4).min(Duration::from_secs(2)),
        );
        let bounds = options
            .autoscale
            .as_ref()
            .map_or((options.concurrency, options.concurrency), |a| {
                (a.min, a.max)
            });
        let capacity = Capacity::new(bounds.0, bounds, options.prefetch, queue.name());
        let rules = options.autoscale.clone();
        let shared = Arc::new(Shared {
            queue,
            handlers,
            options,
            running: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            handlers_stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            drained: CancellationToken::new(),
            flushed: CancellationToken::new(),
            acks,
            released: Notify::new(),
            counters: Counters::default(),
            report_backoff,
            capacity,
        });
        let identity = Identity::new();
        let id = identity.id;
        let mut tasks = vec![
            tokio::spawn(dispatch(Arc::clone(&shared))),
            tokio::spawn(heartbeat(Arc::clone(&shared))),
            tokio::spawn(acknowledge(Arc::clone(&shared), received)),
            tokio::spawn(report(Arc::clone(&shared), identity)),
        ];
        if let Some(rules) = rules {
            tasks.push(tokio::spawn(autoscale(Arc::clone(&shared), rules)));
        }
        Ok(WorkerHandle { shared, tasks, id })
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
    id: uuid::Uuid,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("id", &self.id)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl WorkerHandle {
    /// What the pool has done so far.
    pub fn stats(&self) -> WorkerStats {
        self.shared.stats_now()
    }

    /// The pool's id in its queue's worker registry ([`Queue::workers`]), random per start.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// The pool's size (jobs it may run at once) now and as it changes, with its bounds; the
    /// view stays readable after the handle is consumed.
    pub fn size(&self) -> PoolSize {
        self.shared.capacity.watch()
    }

    /// Leases the pool fetches ahead now, beyond its running jobs: from
    /// [`WorkerOptions::prefetch`] up to four times it while jobs are short and the queue has
    /// a backlog (see the [module documentation](super)).
    pub fn prefetch(&self) -> usize {
        self.shared.capacity.prefetch()
    }

    /// Stops job `id` if this pool runs it: its handler is dropped and the job goes to the
    /// dead-letter queue as cancelled (from where it can be requeued). Whether it was running.
    pub fn cancel(&self, id: JobId) -> bool {
        let running = self.shared.running();
        let mut cancelled = false;
        for (token, run) in running.iter() {
            if token.job_id == id && !run.settling && !run.stop.is_lost() {
                run.stop.token.cancel();
                cancelled = true;
            }
        }
        cancelled
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
        WorkerStats {
            running: 0,
            ..self.shared.stats_now()
        }
    }

    /// Shuts down gracefully and waits for the end.
    pub async fn stop(self) -> WorkerStats {
        self.shutdown();
        self.join().await
    }
}
