//! A job's identity and place: an enqueue of an id the queue holds changes nothing, a
//! released or recovered job keeps its place in its priority, lease ids are random, expired
//! unique keys are cleaned as fast as they are added, and an empty job type selects nothing.

use std::collections::HashSet;
use std::time::Duration;

use stack_core::ErrorKind;
use stack_core::page::PageRequest;
use stack_core::queue::{Enqueued, Failure, JobId, JobState, Lease};

use super::{LONG_LEASE, QueueFactory, job, n_of, options, reserve_until};

/// An enqueue of an id the queue already holds (a client retrying after a lost reply) stores
/// nothing and answers `Duplicate`: the running job keeps its state, attempts and payload.
pub async fn an_enqueue_of_an_existing_id_changes_nothing(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = JobId::now_v7();
    assert_eq!(
        queue.enqueue(job("w", 1).id(id)).await.unwrap(),
        Enqueued::Created(id)
    );
    assert_eq!(
        queue.enqueue(job("w", 2).id(id)).await.unwrap(),
        Enqueued::Duplicate(id),
        "while pending"
    );
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!((lease.job.id, n_of(&lease)), (id, 1));
    let again = queue.enqueue_batch(vec![job("w", 3).id(id)]).await.unwrap();
    assert_eq!(again, vec![Enqueued::Duplicate(id)], "while running");
    let held = queue.get(id).await.unwrap().expect("the job");
    assert_eq!((held.state, held.attempts), (JobState::Running, 1));
    assert_eq!(held.payload["n"], 1);
    assert!(queue.reserve(1, LONG_LEASE).await.unwrap().is_empty());
    queue.complete(&lease.token).await.unwrap();

    let other = JobId::now_v7();
    let batch = queue
        .enqueue_batch(vec![job("w", 4).id(other), job("w", 5).id(other)])
        .await
        .unwrap();
    assert_eq!(
        batch,
        vec![Enqueued::Created(other), Enqueued::Duplicate(other)]
    );
    let leases = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].job.id, n_of(&leases[0])), (other, 4));
}

fn order(leases: &[Lease]) -> Vec<u64> {
    leases.iter().map(n_of).collect()
}

/// A released job, and one whose lease lapsed, goes back to its place in its priority, not
/// to the back: FIFO holds whatever order jobs are handed back in.
pub async fn a_released_or_recovered_job_keeps_its_place(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    for n in 0..3 {
        queue.enqueue(job("w", n)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let first = queue.reserve(1, LONG_LEASE).await.unwrap();
    assert_eq!(order(&first), vec![0]);
    queue.release(&first[0].token).await.unwrap();
    let all = queue.reserve(3, LONG_LEASE).await.unwrap();
    assert_eq!(order(&all), vec![0, 1, 2], "a released job keeps its place");
    for lease in all.iter().rev() {
        queue.release(&lease.token).await.unwrap();
    }
    let all = queue.reserve(3, LONG_LEASE).await.unwrap();
    assert_eq!(
        order(&all),
        vec![0, 1, 2],
        "whatever order they come back in"
    );
    for lease in &all {
        queue.release(&lease.token).await.unwrap();
    }

    let short = queue.reserve(1, Duration::from_millis(50)).await.unwrap();
    assert_eq!(order(&short), vec![0]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut recovered = 0;
    while recovered == 0 && tokio::time::Instant::now() < deadline {
        recovered = queue.recover_expired(10).await.unwrap().done;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(recovered, 1, "the lapsed lease was recovered");
    let all = queue.reserve(3, LONG_LEASE).await.unwrap();
    assert_eq!(
        order(&all),
        vec![0, 1, 2],
        "a recovered job keeps its place"
    );
    assert_eq!(all[0].job.attempts, 2, "the lapsed attempt counts");
}

/// Lease ids are random (UUIDv4) and never repeat, so no server-side counter can hand the
/// same one out twice.
pub async fn lease_ids_are_random(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue
        .enqueue_batch((0..20).map(|n| job("w", n)).collect())
        .await
        .unwrap();
    let leases = queue.reserve(20, LONG_LEASE).await.unwrap();
    assert_eq!(leases.len(), 20);
    let ids: HashSet<_> = leases.iter().map(|l| l.token.lease_id).collect();
    assert_eq!(ids.len(), 20);
    assert!(
        ids.iter()
            .all(|id| id.get_version() == Some(uuid::Version::Random)),
        "{ids:?}"
    );
    // Random through and through: no shared prefix as a counter dressed as a UUID would have.
    let prefixes: HashSet<_> = ids.iter().map(|id| id.as_bytes()[..4].to_vec()).collect();
    assert_eq!(prefixes.len(), 20, "lease ids look counted: {ids:?}");
}

/// With no retention, a steady stream of unique jobs leaves no completed job behind beyond
/// one batch: every enqueue cleans at least as many expired ones as it may add.
pub async fn expired_unique_keys_are_cleaned_as_fast_as_they_are_added(new_queue: QueueFactory) {
    let mut opts = options();
    opts.completed_retention = Duration::ZERO;
    let queue = new_queue(opts).await;
    for round in 0..4 {
        let jobs = (0..200)
            .map(|n| job("w", n).unique_key(format!("k:{round}:{n}")))
            .collect();
        let stored = queue.enqueue_batch(jobs).await.unwrap();
        assert!(stored.iter().all(|e| e.is_created()));
        assert_eq!(
            queue.stats().await.unwrap().completed,
            0,
            "round {round}: the last round's completed jobs are cleaned"
        );
        let leases = reserve_until(&*queue, 200, LONG_LEASE, Duration::from_secs(10)).await;
        assert_eq!(leases.len(), 200);
        let tokens: Vec<_> = leases.iter().map(|l| l.token).collect();
        assert!(
            queue
                .complete_many(&tokens)
                .await
                .unwrap()
                .iter()
                .all(Result::is_ok)
        );
        assert_eq!(queue.stats().await.unwrap().completed, 200);
    }
    // An expired key is free when it is looked up.
    let again = queue
        .enqueue(job("w", 0).unique_key("k:3:0"))
        .await
        .unwrap();
    assert!(again.is_created());
}

/// An empty job type selects no dead letters: listing, requeueing or purging by it is
/// refused with `Invalid` and changes nothing.
pub async fn an_empty_job_type_is_refused(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let id = queue.enqueue(job("w", 1)).await.unwrap().id();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    queue
        .fail(&lease.token, Failure::permanent("x"))
        .await
        .unwrap();
    for blank in ["", " "] {
        let listed = queue
            .dead_letters(Some(blank), PageRequest::default())
            .await;
        assert_eq!(listed.unwrap_err().kind(), ErrorKind::Invalid);
        let requeued = queue.requeue_dead_by_type(blank, 10).await;
        assert_eq!(requeued.unwrap_err().kind(), ErrorKind::Invalid);
        let purged = queue.purge_dead(Some(blank), 10).await;
        assert_eq!(purged.unwrap_err().kind(), ErrorKind::Invalid);
    }
    assert_eq!(queue.get(id).await.unwrap().unwrap().state, JobState::Dead);
    assert_eq!(queue.stats().await.unwrap().dead, 1);
    assert!(queue.enqueue(job("", 1)).await.is_err());
}
