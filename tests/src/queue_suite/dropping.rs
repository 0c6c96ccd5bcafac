//! Dropping a queue: every job in every state goes, in bounded batches, a running job refuses
//! the drop unless it is forced, the queue works again afterwards, and a queue beside it is
//! untouched.

use std::time::Duration;

use stack_core::ErrorKind;
use stack_core::queue::{Failure, JobId, Lease, Priority, Progress, Queue, QueueStats};

use super::{LONG_LEASE, QueueFactory, job, options};

/// The jobs [`fill`] stored, and the lease of the one left running.
#[derive(Debug)]
pub struct Filled {
    /// Every job stored, in any state.
    pub ids: Vec<JobId>,
    /// The running job's lease.
    pub running: Lease,
}

/// Every job the stats count, in any state.
pub fn total(stats: &QueueStats) -> u64 {
    stats.ready() + stats.scheduled + stats.running + stats.dead + stats.completed
}

async fn lease_one(queue: &dyn Queue) -> Lease {
    let mut got = queue.reserve(1, LONG_LEASE).await.expect("reserve");
    assert_eq!(got.len(), 1, "one ready job to lease");
    got.remove(0)
}

/// Stores a job in every state: completed holding a unique key, dead, pending after a failed
/// attempt (with an error history), running, ready at three priorities, and scheduled.
pub async fn fill(queue: &dyn Queue) -> Filled {
    let mut ids = Vec::new();
    let unique = job("w", 0)
        .priority(Priority::Critical)
        .unique_key("drop-unique");
    ids.push(queue.enqueue(unique).await.unwrap().id());
    let lease = lease_one(queue).await;
    queue.complete(&lease.token).await.unwrap();

    ids.push(queue.enqueue(job("w", 1)).await.unwrap().id());
    let lease = lease_one(queue).await;
    let failure = Failure::permanent("for the dead letters");
    queue.fail(&lease.token, failure).await.unwrap();

    let retried = job("w", 2).priority(Priority::Low).max_attempts(5);
    ids.push(queue.enqueue(retried).await.unwrap().id());
    let lease = lease_one(queue).await;
    queue
        .fail(&lease.token, Failure::retry("once more"))
        .await
        .unwrap();

    let running = job("w", 3).priority(Priority::Critical);
    ids.push(queue.enqueue(running).await.unwrap().id());
    let running = lease_one(queue).await;
    assert_eq!(running.job.id, ids[3], "the critical job is leased first");

    for (n, priority) in [
        (4, Priority::High),
        (5, Priority::Normal),
        (6, Priority::Low),
    ] {
        ids.push(
            queue
                .enqueue(job("w", n).priority(priority))
                .await
                .unwrap()
                .id(),
        );
    }
    let later = job("w", 7).delay(Duration::from_secs(3600));
    ids.push(queue.enqueue(later).await.unwrap().id());
    Filled { ids, running }
}

/// Drops `queue` by batches of `limit` until nothing remains; answers the jobs deleted.
/// Each call deletes at most `limit`, and the drop ends within a bounded number of calls.
pub async fn drop_all(queue: &dyn Queue, force: bool, limit: usize) -> u64 {
    let mut dropped = 0;
    for _ in 0..1000 {
        let progress = queue.drop_queue(force, limit).await.expect("drop");
        assert!(progress.done <= limit as u64, "{progress:?} within {limit}");
        dropped += progress.done;
        if progress.remaining == 0 {
            return dropped;
        }
    }
    panic!("the drop did not end in 1000 calls");
}

/// A drop refused while a job runs changes nothing; forced, it deletes every job in every
/// state by bounded batches, after which the queue holds nothing, a late acknowledgement is
/// refused, a freed unique key is free, the queue works again, and a queue beside it keeps
/// every job.
pub async fn dropping_a_queue_deletes_every_job_and_spares_its_neighbour(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let neighbour = new_queue(options()).await;
    let mine = fill(&*queue).await;
    let theirs = fill(&*neighbour).await;
    let held = total(&queue.stats().await.unwrap());
    let beside = total(&neighbour.stats().await.unwrap());
    assert!(held >= 8, "every job counted: {held}");

    let zero = queue.drop_queue(true, 0).await.unwrap_err();
    assert_eq!(zero.kind(), ErrorKind::Invalid);
    let refused = queue.drop_queue(false, 100).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert_eq!(
        total(&queue.stats().await.unwrap()),
        held,
        "nothing deleted"
    );
    for id in &mine.ids[1..] {
        assert!(queue.get(*id).await.unwrap().is_some(), "job {id} kept");
    }

    assert_eq!(
        drop_all(&*queue, true, 3).await,
        held,
        "every job deleted once"
    );
    assert_eq!(total(&queue.stats().await.unwrap()), 0);
    for id in &mine.ids {
        assert!(queue.get(*id).await.unwrap().is_none(), "job {id} gone");
    }
    let late = queue.complete(&mine.running.token).await.unwrap_err();
    assert_eq!(late.kind(), ErrorKind::NotFound, "{late}");
    assert_eq!(
        drop_all(&*queue, false, 100).await,
        0,
        "nothing left to drop"
    );

    assert_eq!(total(&neighbour.stats().await.unwrap()), beside);
    for id in &theirs.ids[1..] {
        assert!(neighbour.get(*id).await.unwrap().is_some(), "job {id} kept");
    }
    neighbour.complete(&theirs.running.token).await.unwrap();

    let again = job("w", 8)
        .priority(Priority::Critical)
        .unique_key("drop-unique");
    assert!(
        queue.enqueue(again).await.unwrap().is_created(),
        "key freed"
    );
    let lease = lease_one(&*queue).await;
    assert_eq!(lease.job.payload["n"], 8);
    queue.complete(&lease.token).await.unwrap();
    drop_all(&*queue, false, 100).await;
    drop_all(&*neighbour, false, 1000).await;
    assert_eq!(total(&neighbour.stats().await.unwrap()), 0);
}

/// A job whose lease lapsed (its worker died) does not refuse a drop: once the backend's
/// clock passes the lease, a drop without force succeeds and deletes that job too, whose
/// late acknowledgement is then refused; a live lease still refuses.
pub async fn a_lapsed_lease_does_not_refuse_a_drop(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    queue.enqueue(job("w", 1)).await.unwrap();
    let mut got = queue.reserve(1, Duration::from_millis(200)).await.unwrap();
    let lost = got.pop().expect("one job leased");
    // Refused while the lease lives (the backend's clock decides when it lapses), then done.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let progress = loop {
        match queue.drop_queue(false, 100).await {
            Ok(progress) => break progress,
            Err(e) if e.kind() == ErrorKind::Conflict => assert!(
                tokio::time::Instant::now() < deadline,
                "a lapsed lease still refuses the drop: {e}"
            ),
            Err(e) => panic!("drop: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        progress,
        Progress {
            done: 1,
            remaining: 0
        }
    );
    assert!(queue.get(lost.job.id).await.unwrap().is_none(), "job gone");
    let late = queue.complete(&lost.token).await.unwrap_err();
    assert_eq!(late.kind(), ErrorKind::NotFound, "{late}");

    queue.enqueue(job("w", 2)).await.unwrap();
    let live = lease_one(&*queue).await;
    let refused = queue.drop_queue(false, 100).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(queue.get(live.job.id).await.unwrap().is_some(), "job kept");
    queue.complete(&live.token).await.unwrap();
    assert_eq!(drop_all(&*queue, false, 100).await, 0);
}
