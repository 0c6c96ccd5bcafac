//! Leases: expiry, redelivery, fencing, extension.

use std::time::Duration;

use stack_core::ErrorKind;
use stack_core::queue::{Failure, LeaseToken};

use super::{LONG_LEASE, QueueFactory, job, options, reserve_until};

/// A job whose worker never reports is handed out again once its lease lapses, as a new
/// attempt with a new token.
pub async fn expired_lease_is_redelivered(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue.enqueue(job("w", 1)).await.unwrap().id();
    let first = queue
        .reserve(1, Duration::from_millis(200))
        .await
        .unwrap()
        .remove(0);
    assert!(
        queue.reserve(1, LONG_LEASE).await.unwrap().is_empty(),
        "leased job handed out twice"
    );

    let again = reserve_until(queue.as_ref(), 1, LONG_LEASE, Duration::from_secs(10)).await;
    assert_eq!(again.len(), 1, "the expired job was never redelivered");
    let second = &again[0];
    assert_eq!(second.job.id, id);
    assert_eq!(second.job.attempts, 2);
    assert_ne!(second.token, first.token);
    let job = queue.get(id).await.unwrap().unwrap();
    assert!(
        job.last_error.is_some_and(|e| e.contains("lease")),
        "the lapse is recorded"
    );
}

/// A worker whose lease lapsed and whose job went to another worker cannot complete, fail or
/// extend it: the fencing token no longer matches, so the newer attempt's state stands.
pub async fn late_complete_from_a_lost_lease_is_rejected(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue.enqueue(job("w", 1)).await.unwrap();
    let stale = queue
        .reserve(1, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    let current = reserve_until(queue.as_ref(), 1, LONG_LEASE, Duration::from_secs(10))
        .await
        .remove(0);

    let conflict = |r: Result<(), stack_core::Error>| r.unwrap_err().kind();
    assert_eq!(
        conflict(queue.complete(&stale.token).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        queue
            .fail(&stale.token, Failure::retry("late"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        queue
            .extend(&stale.token, LONG_LEASE)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );

    queue.complete(&current.token).await.unwrap();
    // Finishing twice is refused too (the job may already be forgotten), never a silent success.
    let twice = conflict(queue.complete(&current.token).await);
    assert!(
        matches!(twice, ErrorKind::Conflict | ErrorKind::NotFound),
        "{twice:?}"
    );
    assert_eq!(queue.stats().await.unwrap().running, 0);
}

/// A heartbeat that extends the lease keeps the job from being redelivered.
pub async fn extend_keeps_the_lease(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue.enqueue(job("w", 1)).await.unwrap();
    let lease = queue
        .reserve(1, Duration::from_millis(400))
        .await
        .unwrap()
        .remove(0);
    let new_expiry = queue.extend(&lease.token, LONG_LEASE).await.unwrap();
    assert!(new_expiry > lease.expires_at);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(queue.recover_expired(100).await.unwrap().done, 0);
    assert!(queue.reserve(1, LONG_LEASE).await.unwrap().is_empty());
    queue.complete(&lease.token).await.unwrap();
}

/// A token for a job the queue never had is `NotFound`.
pub async fn unknown_job_is_not_found(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let token = LeaseToken {
        job_id: uuid::Uuid::now_v7(),
        attempt: 1,
        lease_id: uuid::Uuid::new_v4(),
    };
    assert_eq!(
        queue.complete(&token).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(queue.get(token.job_id).await.unwrap().is_none());
}

/// A released job is ready again at once with its attempt not counted and no error; the
/// released token no longer holds it.
pub async fn release_hands_a_job_back_without_using_an_attempt(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue.enqueue(job("w", 1)).await.unwrap().id();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    queue.release(&lease.token).await.unwrap();
    let back = queue.get(id).await.unwrap().unwrap();
    assert_eq!(back.attempts, 0);
    assert!(
        back.errors.is_empty() && back.last_error.is_none(),
        "{back:?}"
    );
    let again = queue.reserve(1, LONG_LEASE).await.unwrap();
    assert_eq!(again.len(), 1, "a released job is ready at once");
    assert_eq!(again[0].job.attempts, 1);
    for stale in [
        queue.complete(&lease.token).await,
        queue.release(&lease.token).await,
    ] {
        assert_eq!(stale.unwrap_err().kind(), ErrorKind::Conflict);
    }
    queue.complete(&again[0].token).await.unwrap();
}

/// Batch acknowledgements answer per token, in order: a stale token fails alone.
pub async fn batch_complete_and_extend_answer_per_token(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    for n in 0..3 {
        queue.enqueue(job("w", n)).await.unwrap();
    }
    let leases = queue.reserve(3, LONG_LEASE).await.unwrap();
    let tokens: Vec<LeaseToken> = leases.iter().map(|l| l.token).collect();
    queue.complete(&tokens[0]).await.unwrap();
    let extended = queue
        .extend_many(&tokens, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(extended.len(), 3);
    // A completed job's token holds nothing: Conflict, or NotFound once the job is forgotten.
    let gone = |kind| matches!(kind, ErrorKind::Conflict | ErrorKind::NotFound);
    assert!(
        gone(extended[0].as_ref().unwrap_err().kind()),
        "{extended:?}"
    );
    assert!(extended[1].is_ok() && extended[2].is_ok());
    let done = queue.complete_many(&tokens).await.unwrap();
    assert!(gone(done[0].as_ref().unwrap_err().kind()), "{done:?}");
    assert!(done[1].is_ok() && done[2].is_ok(), "{done:?}");
    assert_eq!(queue.stats().await.unwrap().running, 0);
    assert_eq!(
        queue
            .extend_many(&tokens, Duration::ZERO)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
}

/// After a dead job is requeued its attempts start again, so a new lease can carry the same
/// attempt number as an old one: the old token must still be refused.
pub async fn a_stale_token_with_the_current_attempt_number_is_refused(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue
        .enqueue(job("w", 1).max_attempts(1))
        .await
        .unwrap()
        .id();
    let old = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    queue
        .fail(&old.token, Failure::permanent("boom"))
        .await
        .unwrap();
    queue.requeue_dead(id).await.unwrap();
    let new = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(
        new.token.attempt, old.token.attempt,
        "the attempt number repeats"
    );
    assert_eq!(
        queue.complete(&old.token).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        queue
            .extend(&old.token, LONG_LEASE)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    queue.complete(&new.token).await.unwrap();
}
