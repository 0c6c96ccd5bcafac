//! The prefetch that grows while jobs are short: over a queue whose reserves are slow (as a
//! durable commit is), a backlog of no-op jobs starves the slots between reserves and the
//! prefetch grows (never past four times the setting), then comes back once the queue is
//! dry; long jobs, released one at a time, always find a lease held and never grow it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stack_core::queue::Queue;
use stack_core::worker::{Handlers, JobContext, WorkerOptions, WorkerPool};
use tokio::sync::Semaphore;

use super::{N, pool_options, until};
use crate::faulty_queue::FaultyQueue;
use crate::queue_suite::{QueueFactory, job, options};

/// A queue each of whose reserves takes 20 ms more.
async fn slow_reserving(new_queue: &QueueFactory) -> Arc<dyn Queue> {
    let faulty = Arc::new(FaultyQueue::new(new_queue(options()).await));
    faulty.slow_reserves(Duration::from_millis(20));
    faulty
}

/// No-op jobs behind slow reserves grow the prefetch from 4 (up to 16), and an empty queue
/// brings it back to 4; every job is completed.
pub async fn the_prefetch_grows_under_a_backlog_of_short_jobs(new_queue: QueueFactory) {
    let queue = slow_reserving(&new_queue).await;
    let total = 1_000u64;
    let jobs = (0..total).map(|n| job("noop", n)).collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let handlers = Handlers::new().register_fn("noop", |_: N, _: JobContext| async { Ok(()) });
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    assert_eq!(pool.prefetch(), 4);
    let mut most = 0;
    until("the prefetch grew", || {
        most = most.max(pool.prefetch());
        let grew = most > 4;
        async move { grew }
    })
    .await;
    until("every job was completed", || {
        most = most.max(pool.prefetch());
        let completed = pool.stats().completed;
        async move { completed == total }
    })
    .await;
    assert!(most <= 16, "at most four times the setting: {most}");
    until("the prefetch came back once the queue was dry", || {
        let prefetch = pool.prefetch();
        async move { prefetch == 4 }
    })
    .await;
    assert_eq!(pool.stop().await.completed, total);
}

/// Long jobs (each ends when the trial lets it) behind the same slow reserves: every freed
/// slot finds a lease held, the pool never holds more than `concurrency + prefetch` leases,
/// and the prefetch stays at its setting.
pub async fn long_jobs_never_grow_the_prefetch(new_queue: QueueFactory) {
    let queue = slow_reserving(&new_queue).await;
    let total = 40u64;
    let jobs = (0..total).map(|n| job("long", n)).collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (gate_in, started_in) = (Arc::clone(&gate), Arc::clone(&started));
    let handlers = Handlers::new().register_fn("long", move |_: N, _: JobContext| {
        started_in.fetch_add(1, Ordering::SeqCst);
        let gate = Arc::clone(&gate_in);
        async move {
            gate.acquire().await.unwrap().forget();
            Ok(())
        }
    });
    let opts = WorkerOptions {
        concurrency: 2,
        prefetch: 2,
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    for ended in 0..20u64 {
        until("two jobs run and two leases wait", || {
            let (stats, runs) = (pool.stats(), started.load(Ordering::SeqCst) as u64);
            async move { stats.completed == ended && runs == ended + 2 && stats.running == 4 }
        })
        .await;
        assert_eq!(pool.prefetch(), 2, "after {ended} jobs");
        gate.add_permits(1);
    }
    gate.add_permits(usize::try_from(total).unwrap());
    until("every job was completed", || {
        let completed = pool.stats().completed;
        async move { completed == total }
    })
    .await;
    pool.stop().await;
}
