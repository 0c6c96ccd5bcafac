//! Jobs enqueued inside a unit: deferred to the commit on a queue outside the transaction,
//! stored with the unit's writes on the SQL queue of its own pool.

use std::sync::Arc;
use std::time::Duration;

use stack_core::unit::{self, Unit};

use crate::fixtures::{DAY, store};

/// On a queue that cannot store a job in the unit's transaction, the job is enqueued after
/// the commit, never before it, and never for a unit that rolls back.
pub(crate) async fn a_deferred_job_waits_for_the_commit(kind: &str) {
    use stack_core::queue::{NewJob, Queue, QueueOptions};
    let store = store(kind).await;
    let queue: Arc<dyn Queue> = Arc::new(
        stack_backends::memory::MemoryQueue::new(QueueOptions::new("units")).expect("queue"),
    );
    let job = |n: u32| NewJob::new("unit.job", serde_json::json!({ "n": n }));
    let unit = Unit::begin(&store).await.expect("begin");
    let deferred = unit
        .run(unit::enqueue(Arc::clone(&queue), job(1)))
        .await
        .expect("enqueue");
    assert_eq!(deferred, None, "deferred to the commit");
    assert_eq!(
        queue
            .stats()
            .await
            .expect("stats")
            .ready_at(stack_core::queue::Priority::Normal),
        0
    );
    unit.rollback().await.expect("rollback");

    let unit = Unit::begin(&store).await.expect("begin");
    unit.run(unit::enqueue(Arc::clone(&queue), job(2)))
        .await
        .expect("enqueue");
    assert_eq!(
        queue
            .stats()
            .await
            .expect("stats")
            .ready_at(stack_core::queue::Priority::Normal),
        0
    );
    unit.commit().await.expect("commit");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queue
        .stats()
        .await
        .expect("stats")
        .ready_at(stack_core::queue::Priority::Normal)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "never enqueued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let leased = queue
        .reserve(10, Duration::from_secs(60))
        .await
        .expect("reserve");
    let numbers: Vec<_> = leased.iter().map(|l| l.job.payload["n"].clone()).collect();
    assert_eq!(
        numbers,
        [serde_json::json!(2)],
        "only the committed unit's job"
    );
}

/// A typed job enqueued inside a unit on the SQL queue of the unit's own pool (one
/// connection: a second one would time out) is stored with the unit's writes: gone when the
/// unit rolls back, there when it commits.
pub(crate) async fn a_typed_job_in_a_unit_commits_with_it(kind: &str) {
    use stack_backends::sql::{SqlQueue, SqlQueueOptions};
    use stack_core::queue::{Queue, QueueOptions, TypedJob};
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Tally {
        n: u32,
    }
    impl TypedJob for Tally {
        const TYPE: &'static str = "unit.tally";
    }
    let store = store(kind).await;
    let options = QueueOptions::new(stack_tests::unique("units"));
    let queue: Arc<dyn Queue> = SqlQueue::open(
        store.connection().clone(),
        options,
        SqlQueueOptions::default(),
    )
    .expect("queue");
    for commit in [false, true] {
        let unit = Unit::begin(&store).await.expect("begin");
        let n = u32::from(commit);
        let stored = unit
            .run(unit::enqueue_job(Arc::clone(&queue), &Tally { n }))
            .await
            .expect("enqueue");
        let id = stored.expect("stored in the unit's transaction").id();
        if commit {
            unit.commit().await.expect("commit");
        } else {
            unit.rollback().await.expect("rollback");
        }
        let job = queue.get(id).await.expect("get");
        assert_eq!(job.is_some(), commit, "commit {commit}");
    }
    let leased = queue.reserve(10, DAY).await.expect("reserve");
    let numbers: Vec<_> = leased.iter().map(|l| l.job.payload["n"].clone()).collect();
    assert_eq!(numbers, [serde_json::json!(1)], "only the committed job");
    assert_eq!(leased[0].job.job_type, "unit.tally");
}
