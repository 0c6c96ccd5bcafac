//! Faults of the queue under a running pool, injected by [`FaultyQueue`]: heartbeats that never
//! arrive (a lease lapses while its run goes on) and reports the queue does not take (an
//! outage while acknowledging, during the run and at shutdown). Every job's runs are counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stack_core::queue::{JobId, JobState, Queue};
use stack_core::worker::{
    Handlers, JobContext, JobError, MAX_UNACKNOWLEDGED, WorkerOptions, WorkerPool,
};

use super::{DropFlag, N, pool_options, state_of, until};
use crate::faulty_queue::FaultyQueue;
use crate::queue_suite::{QueueFactory, job, options};

/// A queue wrapped in a [`FaultyQueue`], both as the trial uses them.
async fn faulty(new_queue: &QueueFactory) -> (Arc<FaultyQueue>, Arc<dyn Queue>) {
    let faulty = Arc::new(FaultyQueue::new(new_queue(options()).await));
    let queue: Arc<dyn Queue> = Arc::clone(&faulty) as Arc<dyn Queue>;
    (faulty, queue)
}

/// Runs per job `n`, shared with handlers.
type Runs = Arc<Mutex<HashMap<u64, usize>>>;

fn count_run(runs: &Runs, n: u64) {
    *runs.lock().unwrap().entry(n).or_default() += 1;
}

/// Enqueues jobs `0..count` of `job_type`; their ids by `n`.
async fn enqueue(queue: &Arc<dyn Queue>, job_type: &str, count: u64) -> Vec<(u64, JobId)> {
    let jobs = (0..count).map(|n| job(job_type, n)).collect();
    let created = queue.enqueue_batch(jobs).await.unwrap();
    (0..count)
        .zip(created.into_iter().map(|e| e.id()))
        .collect()
}

/// A run whose heartbeats never reach the queue is stopped when its lease lapses; the pool
/// that reserves the job again runs it as a second run beside the stopped first, keeps that
/// one's lease alive over three leases and completes it: two runs, no third.
pub async fn a_lapsed_lease_stops_its_run_and_the_next_run_is_kept_alive(new_queue: QueueFactory) {
    let (faulty, queue) = faulty(&new_queue).await;
    faulty.drop_heartbeats_of_attempt(1);
    let lease = Duration::from_millis(600);
    let runs = Arc::new(AtomicUsize::new(0));
    let first_stopped = Arc::new(AtomicBool::new(false));
    let (count, flag) = (Arc::clone(&runs), Arc::clone(&first_stopped));
    let handlers = Handlers::new().register_fn("long", move |_: N, context: JobContext| {
        count.fetch_add(1, Ordering::SeqCst);
        let first = context.job.attempts == 1;
        let guard = first.then(|| DropFlag(Arc::clone(&flag)));
        async move {
            let _guard = guard;
            let length = if first {
                Duration::from_secs(3600)
            } else {
                lease * 3
            };
            tokio::time::sleep(length).await;
            Ok(())
        }
    });
    let id = queue.enqueue(job("long", 1)).await.unwrap().id();
    let opts = WorkerOptions {
        concurrency: 2,
        prefetch: 0,
        lease,
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("the job completed", || async {
        state_of(&queue, id).await.is_none()
    })
    .await;
    assert!(
        first_stopped.load(Ordering::SeqCst),
        "the first run was stopped when its lease lapsed"
    );
    let stats = pool.stop().await;
    assert_eq!(runs.load(Ordering::SeqCst), 2, "a first run and a second");
    assert_eq!((stats.completed, stats.lost), (1, 1), "{stats:?}");
}

/// The queue fails the first eight reports (acknowledgements and failures) as if it were
/// down: each is reported again while its lease lasts, so every job that succeeded ends
/// completed without running again, and every failure's error is recorded as its handler
/// gave it (not charged later as a lapsed lease).
pub async fn reports_survive_a_queue_outage(new_queue: QueueFactory) {
    let (faulty, queue) = faulty(&new_queue).await;
    faulty.fail_reports(8);
    let runs: Runs = Arc::default();
    let record = Arc::clone(&runs);
    let handlers = Handlers::new().register_fn("r", move |p: N, _: JobContext| {
        count_run(&record, p.n);
        async move {
            match p.n % 2 {
                0 => Ok(()),
                _ => Err(JobError::permanent(format!("bad {}", p.n))),
            }
        }
    });
    let ids = enqueue(&queue, "r", 20).await;
    let opts = WorkerOptions {
        lease: Duration::from_secs(5),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("every job is completed or dead", || async {
        for (n, id) in &ids {
            let want = (n % 2 == 1).then_some(JobState::Dead);
            if state_of(&queue, *id).await != want {
                return false;
            }
        }
        true
    })
    .await;
    assert_eq!(faulty.reports_refused(), 8, "the outage met the reports");
    let stats = pool.stop().await;
    for (n, id) in ids.iter().filter(|(n, _)| n % 2 == 1) {
        let dead = queue.get(*id).await.unwrap().unwrap();
        let errors: Vec<&str> = dead.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(errors, [format!("bad {n}")], "job {n}: its own error, once");
        assert_eq!(dead.attempts, 1, "job {n}");
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 20, "every job ran");
    assert!(runs.values().all(|&r| r == 1), "each once: {runs:?}");
    assert_eq!((stats.completed, stats.dead), (10, 10), "{stats:?}");
}

/// Acknowledgements still owed when the pool shuts down are flushed through an outage: the
/// shutdown keeps trying (within the leases, which the heartbeat renews) until the queue is
/// back, and every job ends completed, having run once.
pub async fn the_final_flush_waits_out_a_queue_outage(new_queue: QueueFactory) {
    let (faulty, queue) = faulty(&new_queue).await;
    faulty.fail_reports(u32::MAX);
    let runs: Runs = Arc::default();
    let record = Arc::clone(&runs);
    let handlers = Handlers::new().register_fn("f", move |p: N, _: JobContext| {
        count_run(&record, p.n);
        async { Ok(()) }
    });
    let ids = enqueue(&queue, "f", 10).await;
    let opts = WorkerOptions {
        lease: Duration::from_secs(5),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("every job ran and an acknowledgement failed", || async {
        runs.lock().unwrap().len() == 10 && faulty.reports_refused() >= 1
    })
    .await;
    let stopper = pool.stopper();
    stopper.shutdown();
    let refused = faulty.reports_refused();
    until(
        "acknowledgements are retried after the shutdown began",
        || async { faulty.reports_refused() >= refused + 2 },
    )
    .await;
    faulty.fail_reports(0);
    let stats = tokio::time::timeout(Duration::from_secs(20), pool.join())
        .await
        .expect("the pool stops once the queue takes the acknowledgements");
    assert_eq!(stats.completed, 10, "{stats:?}");
    for (n, id) in &ids {
        assert_eq!(state_of(&queue, *id).await, None, "job {n} completed");
    }
    let runs = runs.lock().unwrap().clone();
    assert!(runs.values().all(|&r| r == 1), "each once: {runs:?}");
}

/// A pool whose reserve hangs (the queue's server stopped answering mid-statement) still
/// stops: the drain waits for the reserve within the grace only.
pub async fn a_reserve_that_hangs_does_not_hold_up_shutdown(new_queue: QueueFactory) {
    let (faulty, queue) = faulty(&new_queue).await;
    faulty.hang_reserves();
    let opts = WorkerOptions {
        shutdown_grace: Duration::from_millis(300),
        ..pool_options()
    };
    let pool = WorkerPool::start(Arc::clone(&queue), Handlers::new(), opts).unwrap();
    until("a reserve hangs", || async { faulty.hung_reserves() > 0 }).await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), pool.stop()).await;
    assert!(stopped.is_ok(), "the pool never stopped");
}

/// While the queue takes no acknowledgements, the pool stops reserving once
/// [`MAX_UNACKNOWLEDGED`] run jobs wait for theirs (plus what one reserve in flight may add,
/// with the prefetch grown),
/// instead of leasing the whole backlog; once the queue takes them again every job completes,
/// each having run once.
pub async fn a_queue_slow_to_acknowledge_slows_reserving(new_queue: QueueFactory) {
    let (faulty, queue) = faulty(&new_queue).await;
    faulty.fail_reports(u32::MAX);
    let runs: Runs = Arc::default();
    let record = Arc::clone(&runs);
    let handlers = Handlers::new().register_fn("a", move |p: N, _: JobContext| {
        count_run(&record, p.n);
        async { Ok(()) }
    });
    let total = 2 * MAX_UNACKNOWLEDGED as u64;
    let ids = enqueue(&queue, "a", total).await;
    let opts = pool_options();
    // The prefetch may have grown to four times the setting (short jobs, a backlog).
    let most = MAX_UNACKNOWLEDGED + 2 * (opts.concurrency + 4 * opts.prefetch);
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, opts).unwrap();
    until("the pool reached its bound", || async {
        runs.lock().unwrap().len() >= MAX_UNACKNOWLEDGED
    })
    .await;
    // Time for a pool without the bound to lease the rest (it did, in well under this).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let running = queue.stats().await.unwrap().running;
    assert!(
        (MAX_UNACKNOWLEDGED as u64..=most as u64).contains(&running),
        "leases held while no acknowledgement lands: {running} (bound {most})"
    );
    faulty.fail_reports(0);
    until("every job is acknowledged", || async {
        let left = queue.stats().await.unwrap();
        (left.ready(), left.scheduled, left.running, left.dead) == (0, 0, 0, 0)
    })
    .await;
    let stats = pool.stop().await;
    for (_, id) in &ids {
        assert_eq!(state_of(&queue, *id).await, None, "job {id} acknowledged");
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len() as u64, total, "every job ran");
    assert!(runs.values().all(|&r| r == 1), "each once");
    assert_eq!(stats.completed, total, "{stats:?}");
}
