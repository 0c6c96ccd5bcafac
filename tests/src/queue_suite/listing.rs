//! Listing the jobs of one state: running by lease expiry, scheduled and ready by run time,
//! each id once across pages, a type filter, and bounded limits.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use stack_core::Error;
use stack_core::queue::{
    JobListing, JobState, ListedJob, ListedState, MAX_LIST_LIMIT, Priority, Queue,
};
use uuid::Uuid;

use super::{QueueFactory, job, options};

/// Every job of `state` (of `job_type` when given), `limit` per page, following the cursors.
async fn list_all(
    queue: &dyn Queue,
    state: ListedState,
    job_type: Option<&str>,
    limit: usize,
) -> Vec<ListedJob> {
    let mut listing = JobListing::new(state, limit);
    listing.job_type = job_type.map(str::to_owned);
    let mut all = Vec::new();
    for _ in 0..100 {
        let page = queue.list_jobs(&listing).await.expect("list jobs");
        assert!(page.jobs.len() <= limit, "a page holds at most its limit");
        all.extend(page.jobs);
        match page.next {
            Some(next) => listing.after = Some(next),
            None => return all,
        }
    }
    panic!("listing {state:?} did not end within 100 pages");
}

/// Checks that `listed` holds exactly `want` (each once), in state `job_state`, ordered by
/// their listing time then id; answers the listing times by id.
fn check(
    what: &str,
    listed: &[ListedJob],
    want: &HashSet<Uuid>,
    job_state: JobState,
) -> HashMap<Uuid, DateTime<Utc>> {
    let ids: Vec<Uuid> = listed.iter().map(|l| l.job.id).collect();
    let unique: HashSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{what}: an id listed twice: {ids:?}"
    );
    assert_eq!(&unique, want, "{what}: the wrong jobs");
    for l in listed {
        assert_eq!(l.job.state, job_state, "{what}: job {} state", l.job.id);
    }
    let keys: Vec<_> = listed.iter().map(|l| (l.cursor().at, l.job.id)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "{what}: not ordered by time then id: {keys:?}"
    );
    listed.iter().map(|l| (l.job.id, l.cursor().at)).collect()
}

/// Three running jobs (leases of 90, 30 and 60 s), five ready and four scheduled (two at the
/// same run time) are each listed once, in their state's order, over pages of two; a type
/// filter keeps only its type; a limit of 0 or over the maximum, and an empty type, are
/// refused.
pub async fn jobs_are_listed_by_state_in_order_across_pages(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let mut running = HashMap::new();
    for (n, secs) in [(0, 90), (1, 30), (2, 60)] {
        queue
            .enqueue(job("r", n).priority(Priority::High))
            .await
            .unwrap();
        let lease = queue
            .reserve(1, Duration::from_secs(secs))
            .await
            .unwrap()
            .remove(0);
        running.insert(lease.job.id, lease.expires_at);
    }
    let mut ready = HashSet::new();
    let mut ready_a = HashSet::new();
    for (n, kind) in [(10, "a"), (11, "b"), (12, "a"), (13, "b"), (14, "a")] {
        let id = queue.enqueue(job(kind, n)).await.unwrap().id();
        ready.insert(id);
        if kind == "a" {
            ready_a.insert(id);
        }
    }
    let hour = stack_core::queue::to_millis(Utc::now()) + chrono::Duration::hours(1);
    let mut scheduled = HashSet::new();
    let mut scheduled_b = HashSet::new();
    for (n, kind, at) in [
        (20, "a", hour),
        (21, "b", hour + chrono::Duration::minutes(30)),
        (22, "a", hour - chrono::Duration::minutes(30)),
        (23, "a", hour),
    ] {
        let id = queue.enqueue(job(kind, n).run_at(at)).await.unwrap().id();
        scheduled.insert(id);
        if kind == "b" {
            scheduled_b.insert(id);
        }
    }

    let listed = list_all(&*queue, ListedState::Running, None, 2).await;
    let want: HashSet<Uuid> = running.keys().copied().collect();
    let times = check("running", &listed, &want, JobState::Running);
    for (id, expires) in &running {
        assert_eq!(
            times.get(id),
            Some(expires),
            "running job {id}: lease expiry"
        );
    }
    let listed = list_all(&*queue, ListedState::Scheduled, None, 2).await;
    let times = check("scheduled", &listed, &scheduled, JobState::Pending);
    assert!(listed.iter().all(|l| l.lease_expires_at.is_none()));
    assert!(
        times
            .values()
            .all(|at| *at >= hour - chrono::Duration::minutes(30))
    );
    let listed = list_all(&*queue, ListedState::Ready, None, 2).await;
    check("ready", &listed, &ready, JobState::Pending);
    let listed = list_all(&*queue, ListedState::Ready, None, MAX_LIST_LIMIT).await;
    check("ready in one page", &listed, &ready, JobState::Pending);

    let listed = list_all(&*queue, ListedState::Scheduled, Some("b"), 1).await;
    check(
        "scheduled of type b",
        &listed,
        &scheduled_b,
        JobState::Pending,
    );
    let listed = list_all(&*queue, ListedState::Ready, Some("a"), 2).await;
    check("ready of type a", &listed, &ready_a, JobState::Pending);
    let listed = list_all(&*queue, ListedState::Running, Some("none"), 2).await;
    check(
        "running of an unknown type",
        &listed,
        &HashSet::new(),
        JobState::Running,
    );

    for limit in [0, MAX_LIST_LIMIT + 1] {
        let err = queue
            .list_jobs(&JobListing::new(ListedState::Running, limit))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "limit"),
            "limit {limit}: {err:?}"
        );
    }
    let mut empty_type = JobListing::new(ListedState::Scheduled, 10);
    empty_type.job_type = Some(String::new());
    let err = queue.list_jobs(&empty_type).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "empty type: {err:?}");
}
