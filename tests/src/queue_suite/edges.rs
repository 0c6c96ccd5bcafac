//! Edges of the contract: unique keys across a job's whole life, the last attempt's lapsed
//! lease, the recovery count, queue isolation by name, strict priority with retries, and
//! the order of dead letters.

use std::time::Duration;

use chrono::Utc;
use stack_core::page::PageRequest;
use stack_core::queue::{Enqueued, Failure, JobState, Priority};

use super::{LONG_LEASE, QueueFactory, job, options};

/// Polls `check` every 10 ms until it holds or 10 s pass; whether it held.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A unique key holds while its job runs and while it is dead (it can be requeued), is free
/// again once the dead job is purged, and once a completed job's retention has passed.
pub async fn unique_keys_hold_for_the_whole_life_of_a_job(new_queue: QueueFactory) {
    let mut opts = options();
    let retention = Duration::from_secs(1);
    opts.completed_retention = retention;
    let queue = new_queue(opts).await;
    let keyed = || job("w", 1).unique_key("k").max_attempts(1);
    let id = queue.enqueue(keyed()).await.unwrap().id();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(
        queue.enqueue(keyed()).await.unwrap(),
        Enqueued::Duplicate(id),
        "while running"
    );
    queue
        .fail(&lease.token, Failure::permanent("x"))
        .await
        .unwrap();
    assert_eq!(
        queue.enqueue(keyed()).await.unwrap(),
        Enqueued::Duplicate(id),
        "while dead"
    );
    queue.purge_dead(None, 100).await.unwrap();
    let again = queue.enqueue(keyed()).await.unwrap();
    assert!(again.is_created(), "free after purge");
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    let completing = tokio::time::Instant::now();
    queue.complete(&lease.token).await.unwrap();
    let within = queue.enqueue(keyed()).await.unwrap();
    // Only an enqueue known to be inside the retention must be a duplicate: on a loaded
    // machine the two calls may take longer than the retention, and then either answer is
    // right (the time measured here bounds the backend's from above).
    if within.is_created() {
        assert!(
            completing.elapsed() >= retention,
            "the key came free within the retention"
        );
        return;
    }
    assert_eq!(within, Enqueued::Duplicate(again.id()), "within retention");
    assert!(
        eventually(|| async { queue.enqueue(keyed()).await.unwrap().is_created() }).await,
        "the key never came free after the retention"
    );
}

/// A lease that lapses on the job's last attempt sends it to the dead letters (a job that
/// keeps killing its worker must not loop), and `recover_expired` counts what it recovered.
pub async fn a_lapsed_last_attempt_goes_dead_and_recovery_counts(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let last = queue
        .enqueue(job("w", 1).max_attempts(1))
        .await
        .unwrap()
        .id();
    let other = queue
        .enqueue(job("w", 2).max_attempts(3))
        .await
        .unwrap()
        .id();
    assert_eq!(
        queue
            .reserve(2, Duration::from_millis(50))
            .await
            .unwrap()
            .len(),
        2
    );
    let counted = std::sync::atomic::AtomicU64::new(0);
    let all_back = eventually(|| async {
        let n = queue.recover_expired(100).await.unwrap().done;
        counted.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n >= 2
    })
    .await;
    let recovered = counted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(all_back, "recovered {recovered} of 2 lapsed leases");
    assert_eq!(recovered, 2);
    let dead = queue.get(last).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.last_error.is_some_and(|e| e.contains("lease")));
    assert_eq!(
        queue.get(other).await.unwrap().unwrap().state,
        JobState::Pending
    );
}

/// Queues with different names on the same backend never see each other's jobs.
pub async fn queues_with_different_names_are_apart(new_queue: QueueFactory) {
    let one = new_queue(options()).await;
    let two = new_queue(options()).await;
    one.enqueue(job("w", 1)).await.unwrap();
    assert!(two.reserve(10, LONG_LEASE).await.unwrap().is_empty());
    assert_eq!(two.stats().await.unwrap().dead, 0);
    assert_eq!(one.reserve(10, LONG_LEASE).await.unwrap().len(), 1);
}

/// A retried High job, once due, runs before every ready Low job, even with several
/// reservers taking work at once.
pub async fn a_due_retry_keeps_its_priority(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let high = queue
        .enqueue(job("w", 0).priority(Priority::High))
        .await
        .unwrap()
        .id();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(lease.job.id, high);
    for n in 1..=20 {
        queue
            .enqueue(job("w", n).priority(Priority::Low))
            .await
            .unwrap();
    }
    queue
        .fail(&lease.token, Failure::retry("again"))
        .await
        .unwrap();
    let due =
        eventually(|| async { queue.get(high).await.unwrap().unwrap().run_at <= Utc::now() }).await;
    assert!(due);
    let reservers: Vec<_> = (0..4)
        .map(|_| {
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move { queue.reserve(3, LONG_LEASE).await.unwrap() })
        })
        .collect();
    let mut firsts = Vec::new();
    for reserver in reservers {
        let got = reserver.await.unwrap();
        firsts.extend(got.first().map(|l| (l.job.priority, l.job.id)));
        // Within one batch, priority never rises after a lower one.
        assert!(
            got.windows(2)
                .all(|w| w[0].job.priority >= w[1].job.priority),
            "{got:?}"
        );
    }
    assert!(
        firsts.contains(&(Priority::High, high)),
        "the due High retry was not served first: {firsts:?}"
    );
}

/// Dead letters list oldest death first.
pub async fn dead_letters_list_oldest_first(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let mut died = Vec::new();
    for n in 0..3 {
        let id = queue.enqueue(job("w", n)).await.unwrap().id();
        let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
        assert_eq!(lease.job.id, id);
        queue
            .fail(&lease.token, Failure::permanent("x"))
            .await
            .unwrap();
        died.push(id);
    }
    let listed = queue
        .dead_letters(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items.iter().map(|j| j.id).collect::<Vec<_>>(), died);
}

/// A durable queue lives in its server: a second handle opened on the same name sees the
/// jobs of the first, and a job one handle leased is finished through the other. (A queue
/// that is not durable is skipped, since each of its handles is a queue of its own.)
pub async fn handles_on_one_name_share_a_durable_queue(new_queue: QueueFactory) {
    let opts = options();
    let first = new_queue(opts.clone()).await;
    if !first.capabilities().durable {
        crate::skip("handles_on_one_name_share_a_durable_queue", "durable");
        return;
    }
    let second = new_queue(opts).await;
    let id = first.enqueue(job("shared", 1)).await.unwrap().id();
    let lease = second.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(lease.job.id, id);
    assert!(first.reserve(1, LONG_LEASE).await.unwrap().is_empty());
    first.complete(&lease.token).await.unwrap();
    assert!(
        second.get(id).await.unwrap().is_none(),
        "completed and forgotten"
    );
    assert_eq!(second.stats().await.unwrap().running, 0);
}
