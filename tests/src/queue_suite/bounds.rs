//! Edge values: run times before the epoch and at the far end of the range, the largest
//! delay, retry delay and lease, and a 500-job batch with one bad job. Every backend accepts
//! the same range and refuses the rest with `Invalid` at enqueue, and nothing it keeps breaks
//! `get`, `stats` or `next_run_at`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, JobState, MAX_DELAY, NewJob, latest_run_at,
};
use stack_core::{Error, ErrorKind};

use super::{LONG_LEASE, QueueFactory, job, options, reserve_until};

fn refused_naming(result: stack_core::Result<Enqueued>, want: &str) {
    match result {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, want),
        other => panic!("expected Invalid naming {want}, got {other:?}"),
    }
}

/// A run time before 1970 or after 9999-12-31T23:59:59.999Z is refused; the epoch and the
/// latest time are kept exactly and read back by `get`, `stats` and `next_run_at`.
pub async fn run_times_outside_the_range_are_refused_and_the_ends_are_kept(
    new_queue: QueueFactory,
) {
    let queue = new_queue(options()).await;
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let before = [
        epoch - chrono::Duration::milliseconds(1),
        epoch - chrono::Duration::days(365 * 30),
        DateTime::<Utc>::MIN_UTC,
    ];
    for at in before {
        refused_naming(queue.enqueue(job("w", 0).run_at(at)).await, "run_at");
    }
    let after = [
        latest_run_at() + chrono::Duration::milliseconds(1),
        DateTime::<Utc>::MAX_UTC,
    ];
    for at in after {
        refused_naming(queue.enqueue(job("w", 0).run_at(at)).await, "run_at");
    }
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready(), stats.scheduled), (0, 0), "nothing stored");

    let first = queue.enqueue(job("w", 1).run_at(epoch)).await.unwrap().id();
    let last = queue
        .enqueue(job("w", 2).run_at(latest_run_at()))
        .await
        .unwrap()
        .id();
    let far = queue.get(last).await.unwrap().expect("the far job");
    assert_eq!(far.run_at, latest_run_at());
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready(), stats.scheduled), (1, 1));
    let age = stats.by_priority[&stack_core::queue::Priority::Normal]
        .oldest_ready_age_ms
        .expect("the epoch job is ready");
    assert!(age > 50 * 365 * 24 * 3600 * 1000, "age {age} ms");
    assert_eq!(queue.next_run_at().await.unwrap(), Some(epoch));

    let leases = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert_eq!(leases.len(), 1, "only the epoch job is due");
    assert_eq!((leases[0].job.id, leases[0].job.run_at), (first, epoch));
    queue.complete(&leases[0].token).await.unwrap();
    assert_eq!(
        queue.next_run_at().await.unwrap(),
        Some(latest_run_at()),
        "the far job is next"
    );
    // Every id accounted for: the first completed and forgotten, the far one still waiting.
    assert!(queue.get(first).await.unwrap().is_none());
    assert_eq!(
        queue.get(last).await.unwrap().unwrap().state,
        JobState::Pending
    );
}

/// The largest delay is kept (100 years ahead, by the backend's clock) and a longer one is
/// refused; a retry delay or lease beyond the bound never overflows: a retry waits at most
/// the largest delay, a lease longer than it is refused.
pub async fn the_largest_delay_is_kept_and_longer_ones_never_overflow(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    for delay in [MAX_DELAY + Duration::from_millis(1), Duration::MAX] {
        refused_naming(queue.enqueue(job("w", 0).delay(delay)).await, "delay");
    }
    let before = Utc::now();
    let id = queue
        .enqueue(job("w", 1).delay(MAX_DELAY))
        .await
        .unwrap()
        .id();
    let stored = queue.get(id).await.unwrap().expect("the delayed job");
    let ahead = stored.run_at - before;
    let max = chrono::Duration::from_std(MAX_DELAY).unwrap();
    assert!(
        ahead >= max - chrono::Duration::minutes(1) && ahead <= max + chrono::Duration::minutes(1),
        "run_at {} is not about 100 years ahead",
        stored.run_at
    );
    assert_eq!(queue.stats().await.unwrap().scheduled, 1);
    assert_eq!(queue.next_run_at().await.unwrap(), Some(stored.run_at));

    for lease in [MAX_DELAY + Duration::from_millis(1), Duration::MAX] {
        assert_eq!(
            queue.reserve(1, lease).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }
    let now_id = queue.enqueue(job("w", 2)).await.unwrap().id();
    let lease = queue.reserve(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(lease.job.id, now_id);
    assert_eq!(
        queue
            .extend(&lease.token, Duration::MAX)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    let outcome = queue
        .fail(&lease.token, Failure::retry_after("later", Duration::MAX))
        .await
        .unwrap();
    let FailOutcome::Retrying { run_at } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(
        run_at <= latest_run_at() && run_at > Utc::now() + max / 2,
        "{run_at}"
    );
    let retried = queue.get(now_id).await.unwrap().expect("the retried job");
    assert_eq!((retried.state, retried.run_at), (JobState::Pending, run_at));
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready(), stats.scheduled, stats.running), (0, 2, 0));
}

/// A 500-job batch with one bad job among them stores nothing and names the bad one; the
/// same batch without it stores all 500, and every one of them is leased once.
pub async fn a_500_job_batch_with_one_bad_job_stores_nothing(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let batch = |bad: Option<NewJob>| -> Vec<NewJob> {
        let mut jobs: Vec<NewJob> = (0..500).map(|n| job("w", n)).collect();
        if let Some(bad) = bad {
            jobs[250] = bad;
        }
        jobs
    };
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let bad_ones = [
        job("w", 250).run_at(epoch - chrono::Duration::milliseconds(1)),
        job("w", 250).delay(Duration::MAX),
        job("w", 250).run_at(DateTime::<Utc>::MAX_UTC),
    ];
    for bad in bad_ones {
        let err = queue.enqueue_batch(batch(Some(bad))).await.unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field.starts_with("jobs[250].")),
            "{err}"
        );
        let stats = queue.stats().await.unwrap();
        assert_eq!((stats.ready(), stats.scheduled), (0, 0), "nothing stored");
    }
    let stored = queue.enqueue_batch(batch(None)).await.unwrap();
    assert_eq!(stored.len(), 500);
    let ids: std::collections::HashSet<_> = stored.iter().map(|e| e.id()).collect();
    assert_eq!(ids.len(), 500);
    let leases = reserve_until(&*queue, 500, LONG_LEASE, Duration::from_secs(10)).await;
    let leased: std::collections::HashSet<_> = leases.iter().map(|l| l.job.id).collect();
    assert_eq!(leased, ids, "every stored job leased once");
    let tokens: Vec<_> = leases.iter().map(|l| l.token).collect();
    let acks = queue.complete_many(&tokens).await.unwrap();
    assert!(acks.iter().all(Result::is_ok));
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready(), stats.running, stats.dead), (0, 0, 0));
}
