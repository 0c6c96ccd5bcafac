//! Failures: retries with backoff, dead letters, requeue and purge.

use std::time::Duration;

use chrono::Utc;
use stack_core::ErrorKind;
use stack_core::page::PageRequest;
use stack_core::queue::{FailOutcome, Failure, JobState, Queue};

use super::{LONG_LEASE, QueueFactory, job, options, reserve_until};

/// Runs one attempt of the only ready job and fails it.
async fn fail_once(queue: &dyn Queue, message: &str) -> FailOutcome {
    let lease = reserve_until(queue, 1, LONG_LEASE, Duration::from_secs(10))
        .await
        .remove(0);
    queue
        .fail(&lease.token, Failure::retry(message))
        .await
        .unwrap()
}

/// A failed attempt is retried: the backoff becomes the job's stored run time (within the
/// configured cap), not a sleep in the worker.
pub async fn failure_retries_with_backoff_stored_as_run_at(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue
        .enqueue(job("w", 1).max_attempts(3))
        .await
        .unwrap()
        .id();
    // Backends keep times at millisecond precision.
    let before = stack_core::queue::to_millis(Utc::now());
    let FailOutcome::Retrying { run_at } = fail_once(queue.as_ref(), "boom").await else {
        panic!("the first failure should retry");
    };
    assert!(run_at >= before);
    assert_eq!(
        run_at.timestamp_subsec_nanos() % 1_000_000,
        0,
        "not at millisecond precision"
    );
    assert!(
        run_at <= Utc::now() + chrono::Duration::milliseconds(50),
        "backoff above its cap"
    );
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Pending);
    assert_eq!(stored.run_at, run_at);
    assert_eq!(stored.last_error.as_deref(), Some("boom"));
    assert_eq!(
        fail_once(queue.as_ref(), "boom again").await,
        FailOutcome::Retrying {
            run_at: queue.get(id).await.unwrap().unwrap().run_at
        }
    );
}

/// After its last attempt a job goes to the dead-letter queue with every error it met.
pub async fn max_attempts_moves_the_job_to_dead_letters_with_its_errors(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue
        .enqueue(job("w", 1).max_attempts(3))
        .await
        .unwrap()
        .id();
    for attempt in 1..=3 {
        let outcome = fail_once(queue.as_ref(), &format!("failure {attempt}")).await;
        assert_eq!(
            outcome == FailOutcome::Dead,
            attempt == 3,
            "attempt {attempt}: {outcome:?}"
        );
    }
    let dead = queue.get(id).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 3);
    let messages: Vec<&str> = dead.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["failure 1", "failure 2", "failure 3"]);
    assert_eq!(dead.last_error.as_deref(), Some("failure 3"));
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.dead, stats.ready(), stats.scheduled), (1, 0, 0));
    let listed = queue
        .dead_letters(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, id);
}

/// A permanent failure skips the remaining attempts.
pub async fn permanent_failure_dead_letters_at_once(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue.enqueue(job("w", 1).max_attempts(10)).await.unwrap();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    let outcome = queue
        .fail(&lease.token, Failure::permanent("card declined"))
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Dead);
    assert_eq!(queue.stats().await.unwrap().dead, 1);
}

/// Dead jobs can be requeued one by one or by type (with fresh attempts), or purged.
pub async fn dead_letters_requeue_one_or_by_type_and_purge(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    for (job_type, n) in [("a", 1), ("a", 2), ("b", 3), ("c", 4)] {
        queue
            .enqueue(job(job_type, n).max_attempts(1))
            .await
            .unwrap();
    }
    for _ in 0..4 {
        fail_once(queue.as_ref(), "x").await;
    }
    assert_eq!(queue.stats().await.unwrap().dead, 4);

    let b = queue
        .dead_letters(Some("b"), PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    queue.requeue_dead(b.id).await.unwrap();
    assert_eq!(
        queue.requeue_dead(b.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Bounded: one at a time, saying how many remain.
    let first = queue.requeue_dead_by_type("a", 1).await.unwrap();
    assert_eq!((first.done, first.remaining), (1, 1));
    let second = queue.requeue_dead_by_type("a", 1).await.unwrap();
    assert_eq!((second.done, second.remaining), (1, 0));
    assert_eq!(
        queue.requeue_dead_by_type("a", 0).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.dead, stats.ready()), (1, 3));
    let requeued = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert!(
        requeued.iter().all(|l| l.job.attempts == 1),
        "requeued jobs start their attempts afresh"
    );

    assert_eq!(
        queue.purge_dead(Some("nothing"), 100).await.unwrap().done,
        0
    );
    assert_eq!(
        queue.purge_dead(None, 100).await.unwrap(),
        stack_core::queue::Progress {
            done: 1,
            remaining: 0
        }
    );
    assert_eq!(queue.stats().await.unwrap().dead, 0);
}

/// The dead-letter listing pages from one, caps a limit of 1000 to 100, and answers a page
/// past the end with no items but correct totals.
pub async fn dead_letter_listing_pages_with_capped_limit(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue
        .enqueue_batch((0..130).map(|n| job("w", n).max_attempts(1)).collect())
        .await
        .unwrap();
    loop {
        let leases = queue.reserve(50, LONG_LEASE).await.unwrap();
        if leases.is_empty() {
            break;
        }
        for lease in leases {
            queue.fail(&lease.token, Failure::retry("x")).await.unwrap();
        }
    }
    let first = queue
        .dead_letters(None, PageRequest::new(1, 1000).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (
            first.items.len(),
            first.limit,
            first.total_items,
            first.total_pages
        ),
        (100, 100, 130, 2)
    );
    assert!(first.has_next && !first.has_prev);
    let second = queue
        .dead_letters(None, PageRequest::new(2, 1000).unwrap())
        .await
        .unwrap();
    assert_eq!(second.items.len(), 30);
    assert!(!second.has_next && second.has_prev);
    let past = queue
        .dead_letters(None, PageRequest::new(9, 20).unwrap())
        .await
        .unwrap();
    assert!(past.items.is_empty());
    assert_eq!(
        (past.total_items, past.total_pages, past.has_next),
        (130, 7, false)
    );
    let mut ids: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|j| j.id)
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 130, "pages overlap");
}

/// A failure that names its own delay (a rate limit's `Retry-After`) waits exactly that long,
/// counted on the backend's clock, instead of the queue's backoff.
pub async fn a_failure_can_name_its_own_retry_delay(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue.enqueue(job("w", 1)).await.unwrap().id();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    let hour = Duration::from_secs(3600);
    let outcome = queue
        .fail(&lease.token, Failure::retry_after("rate limited", hour))
        .await
        .unwrap();
    let stored = queue.get(id).await.unwrap().unwrap();
    let failed_at = stored.errors.last().expect("the failure is recorded").at;
    assert_eq!(
        outcome,
        FailOutcome::Retrying {
            run_at: failed_at + chrono::Duration::hours(1)
        }
    );
    assert_eq!(stored.run_at, failed_at + chrono::Duration::hours(1));
    assert!(queue.reserve(1, LONG_LEASE).await.unwrap().is_empty());
    assert_eq!(queue.stats().await.unwrap().scheduled, 1);
}
