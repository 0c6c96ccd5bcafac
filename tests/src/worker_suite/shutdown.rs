//! Graceful shutdown: jobs finish within the grace, the rest (started or fetched ahead) are
//! handed back, and a handler may hand its own job back when it sees the shutdown begin.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stack_core::queue::{JobId, JobState};
use stack_core::worker::{Handlers, JobContext, JobError, WorkerOptions, WorkerPool};

use super::{AN_HOUR, N, counted_sleeper, pool_options, state_of, until};
use crate::queue_suite::{QueueFactory, job, options};

/// Shutdown lets short jobs finish within the grace and releases the rest at once: ready
/// again, the attempt not counted, no error recorded, so another worker takes it now.
pub async fn graceful_shutdown_finishes_short_jobs_and_releases_the_rest(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let handlers = counted_sleeper("j", &started, |n| {
        if n == 0 {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(3600)
        }
    });
    let short = queue.enqueue(job("j", 0)).await.unwrap().id();
    let long = queue.enqueue(job("j", 1)).await.unwrap().id();
    let opts = WorkerOptions {
        shutdown_grace: Duration::from_millis(1500),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("both jobs started", || async {
        started.load(Ordering::SeqCst) == 2
    })
    .await;
    let stats = pool.stop().await;
    assert_eq!((stats.completed, stats.released), (1, 1), "{stats:?}");
    assert_eq!(
        state_of(&queue, short).await,
        None,
        "the short job completed"
    );
    let released = queue.get(long).await.unwrap().unwrap();
    assert_eq!(released.state, JobState::Pending);
    assert_eq!(released.attempts, 0, "a release does not use an attempt");
    assert!(released.errors.is_empty());
    let next = queue.reserve(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(next[0].job.id, long, "another worker takes it at once");
}

/// Leases fetched ahead of a free slot are handed back at shutdown with the running ones:
/// every job is ready again, none used an attempt.
pub async fn shutdown_releases_prefetched_leases_too(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let handlers = counted_sleeper("long", &started, AN_HOUR);
    let jobs = (0..6).map(|n| job("long", n)).collect();
    let ids: Vec<JobId> = queue
        .enqueue_batch(jobs)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id())
        .collect();
    let opts = WorkerOptions {
        concurrency: 1,
        prefetch: 5,
        shutdown_grace: Duration::from_millis(100),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("one job runs and five are held", || async {
        started.load(Ordering::SeqCst) == 1 && queue.stats().await.unwrap().running == 6
    })
    .await;
    assert_eq!(started.load(Ordering::SeqCst), 1, "only one slot");
    let stats = pool.stop().await;
    assert_eq!(stats.released, 6, "{stats:?}");
    for id in ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Pending, 0));
    }
}

/// A handler that sees the shutdown begin hands its job back with `JobError::release()`: the
/// job is ready again at once, its attempt not counted and no error recorded, and the pool
/// stops without waiting out the grace.
pub async fn a_handler_hands_its_job_back_at_shutdown(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&started);
    let handlers = Handlers::new().register_fn("polite", move |_: N, context: JobContext| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            context.shutdown.cancelled().await;
            Err(JobError::release())
        }
    });
    let id = queue.enqueue(job("polite", 1)).await.unwrap().id();
    let opts = WorkerOptions {
        shutdown_grace: Duration::from_secs(3600),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("the job started", || async {
        started.load(Ordering::SeqCst) == 1
    })
    .await;
    let stats = tokio::time::timeout(Duration::from_secs(20), pool.stop())
        .await
        .expect("the pool stops long before its grace: the handler ended its run");
    assert_eq!(
        (stats.released, stats.retried, stats.dead, stats.completed),
        (1, 0, 0, 0),
        "{stats:?}"
    );
    let released = queue.get(id).await.unwrap().unwrap();
    assert_eq!((released.state, released.attempts), (JobState::Pending, 0));
    assert!(released.errors.is_empty(), "{:?}", released.errors);
    let next = queue.reserve(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(next[0].job.id, id, "another worker takes it at once");
}

/// A release returned while the pool is running (no shutdown) is a retry that uses its
/// attempt: a handler that keeps releasing reaches the dead letters instead of holding the
/// head of its priority for ever.
pub async fn a_release_before_shutdown_is_a_retry(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&started);
    let handlers = Handlers::new().register_fn("eager", move |_: N, _: JobContext| {
        count.fetch_add(1, Ordering::SeqCst);
        async move { Err(JobError::release()) }
    });
    let id = queue
        .enqueue(job("eager", 1).max_attempts(1))
        .await
        .unwrap()
        .id();
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    until("the released job is dead after its one attempt", || async {
        state_of(&queue, id).await == Some(JobState::Dead)
    })
    .await;
    let stats = pool.stop().await;
    assert_eq!(started.load(Ordering::SeqCst), 1, "it ran once");
    assert_eq!((stats.released, stats.dead), (0, 1), "{stats:?}");
}
