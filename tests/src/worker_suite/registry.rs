//! A running pool reports itself to its queue's worker registry with the jobs it holds, and
//! leaves the list when it stops.

use std::sync::Arc;

use stack_core::worker::{Handlers, JobContext, WorkerOptions, WorkerPool};
use tokio::sync::Semaphore;

use super::{N, pool_options, until};
use crate::queue_suite::{QueueFactory, job, options};

/// While two jobs block, the pool is listed once with its id, host, process, size and both
/// jobs; once they finish its counts show them; after it stops it is no longer listed.
pub async fn a_running_pool_is_listed_with_its_jobs_and_leaves_when_stopped(make: QueueFactory) {
    let queue = make(options()).await;
    let gate = Arc::new(Semaphore::new(0));
    let held = Arc::clone(&gate);
    let handlers = Handlers::new().register_fn("block", move |_: N, _: JobContext| {
        let gate = Arc::clone(&held);
        async move {
            let _permit = gate.acquire().await;
            Ok(())
        }
    });
    let mut ids = Vec::new();
    for n in 0..2 {
        ids.push(queue.enqueue(job("block", n)).await.unwrap().id());
    }
    ids.sort();
    let opts = WorkerOptions {
        concurrency: 3,
        prefetch: 0,
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    let me = pool.id();
    until("the pool is listed holding both jobs", || async {
        let live = queue.workers().await.unwrap();
        live.iter().any(|w| {
            let mut jobs = w.beat.jobs.clone();
            jobs.sort();
            w.beat.id == me && jobs == ids
        })
    })
    .await;
    let live = queue.workers().await.unwrap();
    let mine: Vec<_> = live.iter().filter(|w| w.beat.id == me).collect();
    assert_eq!(mine.len(), 1, "listed once: {live:?}");
    let report = &mine[0].beat;
    assert_eq!(report.pid, std::process::id());
    assert!(!report.host.is_empty());
    assert_eq!((report.size, report.max), (3, 3));
    assert_eq!(report.stats.running, 2);

    gate.add_permits(2);
    until("the report counts both completions", || async {
        let live = queue.workers().await.unwrap();
        live.iter()
            .any(|w| w.beat.id == me && w.beat.stats.completed == 2 && w.beat.jobs.is_empty())
    })
    .await;
    let stats = pool.stop().await;
    assert_eq!(stats.completed, 2);
    let live = queue.workers().await.unwrap();
    assert!(
        live.iter().all(|w| w.beat.id != me),
        "a stopped pool is not listed: {live:?}"
    );
}
