//! Enqueueing: unique keys, batches, validation, stats.

use std::time::Duration;

use stack_core::ErrorKind;
use stack_core::queue::{Enqueued, NewJob, Priority};

use super::{LONG_LEASE, QueueFactory, job, options};

/// A second enqueue with a live job's unique key stores nothing and names the first job,
/// including after that job completed (within the retention) and inside one batch.
pub async fn unique_key_is_merged_while_the_job_lives(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let first = queue
        .enqueue(job("receipt", 1).unique_key("receipt:1"))
        .await
        .unwrap();
    assert!(first.is_created());
    let again = queue
        .enqueue(job("receipt", 2).unique_key("receipt:1"))
        .await
        .unwrap();
    assert_eq!(again, Enqueued::Duplicate(first.id()));

    let lease = queue.reserve(10, LONG_LEASE).await.unwrap().remove(0);
    queue.complete(&lease.token).await.unwrap();
    let after_done = queue
        .enqueue(job("receipt", 3).unique_key("receipt:1"))
        .await
        .unwrap();
    assert_eq!(after_done, Enqueued::Duplicate(first.id()));

    let batch = queue
        .enqueue_batch(vec![
            job("r", 4).unique_key("k2"),
            job("r", 5).unique_key("k2"),
            job("r", 6),
        ])
        .await
        .unwrap();
    assert!(batch[0].is_created() && batch[2].is_created());
    assert_eq!(batch[1], Enqueued::Duplicate(batch[0].id()));
    assert_eq!(queue.stats().await.unwrap().ready(), 2);
}

/// A batch with one bad job stores nothing, and the error names the bad job's index.
pub async fn batch_enqueue_is_all_or_nothing_on_invalid_input(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let mut jobs: Vec<NewJob> = (0..5).map(|n| job("w", n)).collect();
    jobs[3] = NewJob::new("", serde_json::Value::Null);
    let err = queue.enqueue_batch(jobs).await.unwrap_err();
    assert!(
        matches!(&err, stack_core::Error::Invalid { field, .. } if field == "jobs[3].type"),
        "{err}"
    );
    assert_eq!(queue.stats().await.unwrap().ready(), 0);

    let ids = queue
        .enqueue_batch((0..50).map(|n| job("w", n)).collect())
        .await
        .unwrap();
    assert_eq!(ids.len(), 50);
    assert!(ids.iter().all(|e| e.is_created()));
    assert_eq!(queue.stats().await.unwrap().ready(), 50);
}

/// Bad arguments are refused with `Invalid` and leave the queue as it was.
pub async fn invalid_input_is_refused_and_changes_nothing(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let bad = [
        NewJob::new("  ", serde_json::Value::Null),
        job("w", 1).max_attempts(0),
        job("w", 1).unique_key(""),
    ];
    for job in bad {
        assert_eq!(
            queue.enqueue(job).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }
    queue.enqueue(job("w", 1)).await.unwrap();
    assert_eq!(
        queue.reserve(0, LONG_LEASE).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        queue.reserve(1, Duration::ZERO).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready(), stats.running), (1, 0));
}

/// Stats count ready work per priority, scheduled, running and dead jobs, and report how long
/// the oldest ready job of each priority has waited.
pub async fn stats_count_states_and_age_of_oldest_ready_job(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue
        .enqueue(job("w", 1).priority(Priority::Low))
        .await
        .unwrap();
    queue
        .enqueue(job("w", 2).priority(Priority::High))
        .await
        .unwrap();
    queue
        .enqueue(job("w", 3).priority(Priority::High))
        .await
        .unwrap();
    queue
        .enqueue(job("w", 4).delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;

    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.ready_at(Priority::High), 2);
    assert_eq!(stats.ready_at(Priority::Low), 1);
    assert_eq!(stats.ready_at(Priority::Normal), 0);
    assert_eq!(stats.scheduled, 1);
    assert_eq!(stats.running, 0);
    let low_age = stats.by_priority[&Priority::Low]
        .oldest_ready_age_ms
        .unwrap();
    assert!(low_age >= 100, "oldest low job waited {low_age} ms");
    assert_eq!(
        stats.by_priority[&Priority::Normal].oldest_ready_age_ms,
        None
    );
    assert_eq!(stats.by_priority.len(), 4);

    queue.reserve(1, LONG_LEASE).await.unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.running, stats.ready_at(Priority::High)), (1, 1));
}

/// A transaction that belongs to no backend.
struct ForeignTransaction;

#[async_trait::async_trait]
impl stack_core::queue::Transaction for ForeignTransaction {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    async fn commit(self: Box<Self>) -> stack_core::Result<()> {
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> stack_core::Result<()> {
        Ok(())
    }
}

/// A backend without transactional enqueue says so and stores nothing; one with it refuses
/// a transaction that is not its own (its own are tried by the SQL queue's trials).
pub async fn transactional_enqueue_is_refused_unless_supported(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let err = queue
        .enqueue_in(&ForeignTransaction, job("w", 1))
        .await
        .unwrap_err();
    if queue.capabilities().transactional_enqueue {
        assert_eq!(
            err.kind(),
            stack_core::ErrorKind::Unsupported,
            "a foreign transaction: {err}"
        );
    } else {
        assert_eq!(err.kind(), stack_core::ErrorKind::Unsupported, "{err}");
        crate::skip(
            "transactional_enqueue_is_refused_unless_supported (own transaction)",
            "transactional_enqueue",
        );
    }
    assert!(
        queue.reserve(10, LONG_LEASE).await.unwrap().is_empty(),
        "nothing stored"
    );
}
