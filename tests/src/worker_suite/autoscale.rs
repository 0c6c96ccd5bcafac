//! An autoscaling pool over a real queue: it grows under a backlog of slow jobs (seen by the
//! handlers themselves: more of them run at once than the minimum, never more than the
//! maximum), shrinks back to its minimum once idle, and runs every job once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stack_core::worker::{Autoscale, Handlers, JobContext, WorkerOptions, WorkerPool};

use super::{N, pool_options, until};
use crate::queue_suite::{QueueFactory, job, options};

/// Handlers of `slow` jobs that sleep `each`, counting how many run at once (the most in
/// `peak`) and how often each `n` ran.
fn gauged_sleepers(
    each: Duration,
    now: &Arc<AtomicUsize>,
    peak: &Arc<AtomicUsize>,
    runs: &Arc<Mutex<BTreeMap<u64, usize>>>,
) -> Handlers {
    let (now, peak, runs) = (Arc::clone(now), Arc::clone(peak), Arc::clone(runs));
    Handlers::new().register_fn("slow", move |p: N, _: JobContext| {
        let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(at_once, Ordering::SeqCst);
        *runs.lock().unwrap().entry(p.n).or_default() += 1;
        let now = Arc::clone(&now);
        async move {
            tokio::time::sleep(each).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

/// Rules fast enough for a trial: sample every 20 ms, change at most every 100 ms, shrink
/// after 300 ms idle.
fn fast_rules(min: usize, max: usize) -> Autoscale {
    Autoscale {
        min,
        max,
        step: 1,
        ready_depth_above: 0,
        oldest_ready_age_above: Duration::from_secs(60),
        idle_for: Duration::from_millis(300),
        cooldown: Duration::from_millis(100),
        check_interval: Duration::from_millis(20),
    }
}

/// Under a backlog of slow jobs the pool grows from its minimum to its maximum (the
/// handlers see more than `min` running at once, never more than `max`); once the queue is
/// empty it shrinks back to the minimum; every job ran exactly once and was completed.
pub async fn an_autoscaled_pool_grows_under_a_backlog_and_shrinks_when_idle(
    new_queue: QueueFactory,
) {
    let queue = new_queue(options()).await;
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let runs = Arc::new(Mutex::new(BTreeMap::new()));
    let handlers = gauged_sleepers(Duration::from_millis(150), &now, &peak, &runs);
    let total = 60u64;
    let jobs = (0..total).map(|n| job("slow", n)).collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let opts = WorkerOptions {
        prefetch: 1,
        autoscale: Some(fast_rules(1, 4)),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    let size = pool.size();
    assert_eq!((size.min(), size.max()), (1, 4));
    until("four handlers ran at once", || async {
        peak.load(Ordering::SeqCst) == 4
    })
    .await;
    until("every job ran", || async {
        runs.lock().unwrap().len() as u64 == total
    })
    .await;
    until("the pool shrank back to one worker", || async {
        size.current() == 1
    })
    .await;
    assert_eq!(
        peak.load(Ordering::SeqCst),
        4,
        "never more than max at once"
    );
    let stats = pool.stop().await;
    assert_eq!(stats.completed, total);
    assert_eq!(stats.lost, 0);
    let runs = runs.lock().unwrap().clone();
    assert_eq!(
        runs.keys().copied().collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>()
    );
    assert!(
        runs.values().all(|&n| n == 1),
        "each job ran once: {runs:?}"
    );
    let left = queue.stats().await.unwrap();
    assert_eq!((left.ready(), left.running, left.dead), (0, 0, 0));
    assert_eq!(size.current(), 1, "readable after the pool stopped");
}

/// A fixed pool's size is its concurrency, and a pool whose minimum is its maximum never
/// runs more than that however deep the backlog.
pub async fn a_pool_at_its_bounds_keeps_its_size(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let runs = Arc::new(Mutex::new(BTreeMap::new()));
    let handlers = gauged_sleepers(Duration::from_millis(50), &now, &peak, &runs);
    let fixed = WorkerPool::start(Arc::clone(&queue), handlers.clone(), pool_options()).unwrap();
    let size = fixed.size();
    assert_eq!((size.current(), size.min(), size.max()), (4, 4, 4));
    fixed.stop().await;
    let total = 30u64;
    let jobs = (0..total).map(|n| job("slow", n)).collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let opts = WorkerOptions {
        autoscale: Some(fast_rules(2, 2)),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("every job ran", || async {
        runs.lock().unwrap().len() as u64 == total
    })
    .await;
    assert_eq!(pool.size().current(), 2);
    assert_eq!(pool.stop().await.completed, total);
    assert_eq!(peak.load(Ordering::SeqCst), 2, "two at once, never more");
}
