//! Delivery order and batching.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use stack_core::queue::{JobState, NewJob, Priority};

use super::{LONG_LEASE, QueueFactory, job, n_of, options, reserve_until};

/// A reserved job carries its payload, counts the attempt, and shows as running.
pub async fn enqueue_then_reserve_round_trips(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let payload = serde_json::json!({ "deposit": 42, "amount": "10.50" });
    let id = queue
        .enqueue(NewJob::new("receipt", payload.clone()))
        .await
        .unwrap()
        .id();
    let leases = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert_eq!(leases.len(), 1);
    let lease = &leases[0];
    assert_eq!(lease.job.id, id);
    assert_eq!(lease.job.payload, payload);
    assert_eq!(lease.job.job_type, "receipt");
    assert_eq!(lease.job.attempts, 1);
    assert_eq!(lease.token.attempt, 1);
    assert!(lease.expires_at > Utc::now());
    assert_eq!(
        queue.get(id).await.unwrap().unwrap().state,
        JobState::Running
    );
    queue.complete(&lease.token).await.unwrap();
    assert!(queue.reserve(10, LONG_LEASE).await.unwrap().is_empty());
}

/// Under load, no job starts while a more urgent one is ready, and jobs of one priority
/// start in the order they were enqueued.
pub async fn priorities_are_strict_and_fifo_within_a_priority(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let levels = [
        Priority::Low,
        Priority::Critical,
        Priority::Normal,
        Priority::High,
    ];
    let jobs: Vec<NewJob> = (0..400u64)
        .map(|n| job("work", n).priority(levels[(n * 7 % 4) as usize]))
        .collect();
    queue.enqueue_batch(jobs).await.unwrap();

    let mut order = Vec::new();
    loop {
        let leases = queue.reserve(7, LONG_LEASE).await.unwrap();
        if leases.is_empty() {
            break;
        }
        order.extend(leases.iter().map(|l| (l.job.priority, n_of(l))));
    }
    assert_eq!(order.len(), 400);
    for pair in order.windows(2) {
        let ((p1, n1), (p2, n2)) = (pair[0], pair[1]);
        assert!(p1 >= p2, "{p2} job {n2} started after {p1} job {n1}");
        if p1 == p2 {
            assert!(n1 < n2, "{p1}: job {n2} started before earlier job {n1}");
        }
    }
}

/// A job delayed into the future is not handed out before its run time, and is once it passes.
pub async fn delayed_job_is_never_delivered_early(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let delay = Duration::from_millis(600);
    let id = queue
        .enqueue(job("later", 1).delay(delay))
        .await
        .unwrap()
        .id();
    let run_at = queue.get(id).await.unwrap().unwrap().run_at;
    assert!(queue.reserve(10, LONG_LEASE).await.unwrap().is_empty());
    assert_eq!(queue.stats().await.unwrap().scheduled, 1);

    let leases = reserve_until(queue.as_ref(), 1, LONG_LEASE, Duration::from_secs(10)).await;
    assert_eq!(leases.len(), 1, "the delayed job was never delivered");
    assert!(Utc::now() >= run_at, "delivered before its run time");
}

/// `reserve(max)` hands out at most `max` jobs and the rest on the next call.
pub async fn reserve_takes_at_most_max(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue
        .enqueue_batch((0..10).map(|n| job("w", n)).collect())
        .await
        .unwrap();
    assert_eq!(queue.reserve(4, LONG_LEASE).await.unwrap().len(), 4);
    assert_eq!(queue.reserve(100, LONG_LEASE).await.unwrap().len(), 6);
    assert!(queue.reserve(100, LONG_LEASE).await.unwrap().is_empty());
}

/// Workers reserving at the same time never receive the same job.
pub async fn concurrent_reservers_never_share_a_job(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue
        .enqueue_batch((0..200).map(|n| job("w", n)).collect())
        .await
        .unwrap();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let queue = Arc::clone(&queue);
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let leases = queue.reserve(5, LONG_LEASE).await.unwrap();
                if leases.is_empty() {
                    return mine;
                }
                mine.extend(leases.iter().map(|l| l.job.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(seen.insert(id), "job {id} was handed to two workers");
        }
    }
    assert_eq!(seen.len(), 200);
}

/// An idle worker waiting for work returns soon after an enqueue (woken, or by its poll of
/// at most a second), long before its wait runs out;
/// a ready job makes the wait return at once.
pub async fn a_waiting_worker_returns_soon_after_an_enqueue(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    assert_eq!(queue.next_run_at().await.unwrap(), None);
    let waiter = {
        let queue = std::sync::Arc::clone(&queue);
        tokio::spawn(async move { queue.wait_for_work(Duration::from_secs(120)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    queue.enqueue(job("w", 1)).await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), waiter).await;
    assert!(
        matches!(woke, Ok(Ok(Ok(())))),
        "not woken by the enqueue: {woke:?}"
    );
    let ready = tokio::time::timeout(
        Duration::from_secs(10),
        queue.wait_for_work(Duration::from_secs(120)),
    )
    .await;
    assert!(ready.is_ok(), "a ready job must not wait");
    assert!(
        queue
            .next_run_at()
            .await
            .unwrap()
            .is_some_and(|at| at <= Utc::now())
    );
}

/// With only a delayed job pending, the next run time is that job's, and a wait ends at it.
pub async fn waiting_ends_at_the_next_scheduled_job(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue
        .enqueue(job("w", 1).delay(Duration::from_millis(300)))
        .await
        .unwrap()
        .id();
    let run_at = queue.get(id).await.unwrap().unwrap().run_at;
    assert_eq!(queue.next_run_at().await.unwrap(), Some(run_at));
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        queue.wait_for_work(Duration::from_secs(120)),
    )
    .await;
    assert!(waited.is_ok(), "the wait did not end at the scheduled job");
    let got = reserve_until(queue.as_ref(), 1, LONG_LEASE, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
}
