//! The worker pool over a real queue: handlers by type, bad payloads, panics, timeouts,
//! handler-chosen retries, cancellation, heartbeats, graceful shutdown ([`shutdown`]) and
//! faults of the queue under a running pool ([`faults`]), typed jobs end to end
//! ([`typed`]), autoscaling ([`autoscale`]) and the adaptive prefetch ([`prefetch`]). Each trial runs a pool on a queue of its own from the factory, so the suite
//! runs on every backend.

mod autoscale;
mod faults;
mod prefetch;
mod registry;
mod shutdown;
mod typed;

pub use autoscale::*;
pub use faults::*;
pub use prefetch::*;
pub use registry::*;
pub use shutdown::*;
pub use typed::*;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use stack_core::queue::{JobId, JobState, Queue};
use stack_core::worker::{Handlers, JobContext, JobError, WorkerOptions, WorkerPool};

use crate::queue_suite::{QueueFactory, job, options};

#[derive(Debug, Deserialize)]
struct N {
    n: u64,
}

/// Fast options for trials.
fn pool_options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 4,
        job_timeout: Duration::from_secs(30),
        lease: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(5),
        max_idle_wait: Duration::from_millis(200),
        prefetch: 4,
        autoscale: None,
        report_every: Duration::from_millis(50),
    }
}

/// Polls `check` every 20 ms until it holds or 20 s pass; panics naming `what` otherwise.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn state_of(queue: &Arc<dyn Queue>, id: JobId) -> Option<JobState> {
    queue.get(id).await.unwrap().map(|j| j.state)
}

/// Handlers of `job_type` that count each start in `started` and then sleep for
/// `duration(n)` (`n` from the payload).
fn counted_sleeper(
    job_type: &str,
    started: &Arc<AtomicUsize>,
    duration: fn(u64) -> Duration,
) -> Handlers {
    let count = Arc::clone(started);
    Handlers::new().register_fn(job_type, move |p: N, _: JobContext| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(duration(p.n)).await;
            Ok(())
        }
    })
}

const AN_HOUR: fn(u64) -> Duration = |_| Duration::from_secs(3600);

/// The dead job `id`'s only error message.
async fn death_of(queue: &Arc<dyn Queue>, id: JobId) -> String {
    until("the job is dead", || async {
        state_of(queue, id).await == Some(JobState::Dead)
    })
    .await;
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1, "dead after one attempt");
    job.last_error.expect("an error is recorded")
}

/// Jobs reach the handler of their type with their payload parsed; each completes once and
/// the queue is left empty.
pub async fn handlers_run_jobs_by_type_and_complete_them(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let handlers = Handlers::new().register_fn("add", move |p: N, _: JobContext| {
        let record = Arc::clone(&record);
        async move {
            record.lock().unwrap().push(p.n);
            Ok(())
        }
    });
    let jobs = (0..50).map(|n| job("add", n)).collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    until("50 jobs ran", || async { seen.lock().unwrap().len() == 50 }).await;
    let stats = pool.stop().await;
    assert_eq!(stats.completed, 50);
    let mut ran = seen.lock().unwrap().clone();
    ran.sort_unstable();
    assert_eq!(ran, (0..50).collect::<Vec<_>>(), "each job once");
    let left = queue.stats().await.unwrap();
    assert_eq!((left.ready(), left.running, left.dead), (0, 0, 0));
}

/// A payload that does not parse into the handler's type is a permanent failure with a
/// clear error, and an unknown job type dead-letters naming the type: no panic, no retries.
pub async fn a_bad_payload_or_an_unknown_type_fails_permanently(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let handlers = Handlers::new().register_fn("add", |_: N, _: JobContext| async { Ok(()) });
    let bad = queue
        .enqueue(stack_core::queue::NewJob::new(
            "add",
            serde_json::json!({"n": "x"}),
        ))
        .await
        .unwrap()
        .id();
    let unknown = queue.enqueue(job("mystery", 1)).await.unwrap().id();
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    let error = death_of(&queue, bad).await;
    assert!(error.contains("does not parse"), "{error}");
    let error = death_of(&queue, unknown).await;
    assert!(
        error.contains("no handler for job type `mystery`"),
        "{error}"
    );
    assert_eq!(pool.stop().await.dead, 2);
}

/// A handler that panics fails its attempt with the panic's message; the pool runs on.
pub async fn a_panicking_handler_fails_its_attempt_and_the_pool_lives_on(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let handlers = Handlers::new().register_fn("p", |p: N, _: JobContext| async move {
        assert!(p.n != 0, "zero is not allowed");
        Ok(())
    });
    let boom = queue
        .enqueue(job("p", 0).max_attempts(1))
        .await
        .unwrap()
        .id();
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    let error = death_of(&queue, boom).await;
    assert!(error.contains("panicked: zero is not allowed"), "{error}");
    let fine = queue.enqueue(job("p", 1)).await.unwrap().id();
    until("the next job completed", || async {
        state_of(&queue, fine).await.is_none()
    })
    .await;
    assert_eq!(pool.stop().await.completed, 1);
}

/// Sets its flag when dropped: proof that a handler's future was stopped, not left running.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A job past its timeout is stopped (its future dropped) and its attempt failed.
pub async fn a_job_past_its_timeout_is_stopped(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let handlers = Handlers::new().register_fn("slow", move |_: N, _: JobContext| {
        let guard = DropFlag(Arc::clone(&flag));
        async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    });
    let id = queue
        .enqueue(job("slow", 1).max_attempts(1))
        .await
        .unwrap()
        .id();
    let opts = WorkerOptions {
        job_timeout: Duration::from_millis(200),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    let error = death_of(&queue, id).await;
    assert!(error.contains("timed out after 200ms"), "{error}");
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler's future was dropped"
    );
    pool.stop().await;
}

/// A handler decides: retry after its own delay, or fail for good.
pub async fn a_handler_chooses_retry_after_or_permanent(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let handlers = Handlers::new().register_fn("h", |p: N, _: JobContext| async move {
        if p.n == 1 {
            Err(JobError::retry_after(
                "rate limited",
                Duration::from_secs(3600),
            ))
        } else {
            Err(JobError::permanent("account closed"))
        }
    });
    let later = queue.enqueue(job("h", 1)).await.unwrap().id();
    let never = queue.enqueue(job("h", 2)).await.unwrap().id();
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    assert_eq!(death_of(&queue, never).await, "account closed");
    until("the retry is scheduled", || async {
        queue.get(later).await.unwrap().unwrap().attempts == 1
            && state_of(&queue, later).await == Some(JobState::Pending)
    })
    .await;
    let job = queue.get(later).await.unwrap().unwrap();
    let failed_at = job.errors.last().unwrap().at;
    assert_eq!(job.run_at, failed_at + chrono::Duration::hours(1));
    let stats = pool.stop().await;
    assert_eq!((stats.retried, stats.dead), (1, 1));
}

/// A running job can be cancelled: its handler stops and the job is dead-lettered as
/// cancelled (to be requeued if wanted).
pub async fn a_running_job_can_be_cancelled(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let handlers = counted_sleeper("long", &started, AN_HOUR);
    let id = queue.enqueue(job("long", 1)).await.unwrap().id();
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    until("the job started", || async {
        started.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(pool.cancel(id));
    assert_eq!(death_of(&queue, id).await, "cancelled");
    assert!(!pool.cancel(id), "no longer running");
    pool.stop().await;
}

/// Heartbeats renew the lease of a job that runs longer than its lease: it is never handed
/// out twice.
pub async fn heartbeats_keep_a_long_job_to_one_worker(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let handlers = counted_sleeper("long", &runs, |_| Duration::from_millis(2000));
    let id = queue.enqueue(job("long", 1)).await.unwrap().id();
    let opts = WorkerOptions {
        lease: Duration::from_millis(450),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("the job completed", || async {
        state_of(&queue, id).await.is_none()
    })
    .await;
    let stats = pool.stop().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "ran once, over four leases");
    assert_eq!((stats.completed, stats.lost), (1, 0));
}

/// Instantiates the worker suite for one queue backend, like `queue_conformance!`.
#[macro_export]
macro_rules! worker_conformance {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::__trials!($crate::worker_suite, $crate::queue_suite::factory($factory);
                handlers_run_jobs_by_type_and_complete_them,
                a_bad_payload_or_an_unknown_type_fails_permanently,
                a_panicking_handler_fails_its_attempt_and_the_pool_lives_on,
                a_job_past_its_timeout_is_stopped,
                a_handler_chooses_retry_after_or_permanent,
                a_running_job_can_be_cancelled,
                heartbeats_keep_a_long_job_to_one_worker,
                graceful_shutdown_finishes_short_jobs_and_releases_the_rest,
                shutdown_releases_prefetched_leases_too,
                a_handler_hands_its_job_back_at_shutdown,
                a_release_before_shutdown_is_a_retry,
                a_lapsed_lease_stops_its_run_and_the_next_run_is_kept_alive,
                reports_survive_a_queue_outage,
                the_final_flush_waits_out_a_queue_outage,
                a_reserve_that_hangs_does_not_hold_up_shutdown,
                a_queue_slow_to_acknowledge_slows_reserving,
                typed_jobs_reach_their_typed_handlers,
                an_unserializable_payload_is_invalid_and_enqueues_nothing,
                an_autoscaled_pool_grows_under_a_backlog_and_shrinks_when_idle,
                a_pool_at_its_bounds_keeps_its_size,
                the_prefetch_grows_under_a_backlog_of_short_jobs,
                long_jobs_never_grow_the_prefetch,
                a_running_pool_is_listed_with_its_jobs_and_leaves_when_stopped,
            );
        }
    };
}
