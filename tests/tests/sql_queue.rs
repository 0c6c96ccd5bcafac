//! The Queue and Worker suites on the SQL queue: PostgreSQL (a fresh database per test
//! process) and SQLite (a file per test process).

#![allow(clippy::unwrap_used)] // trial helpers outside #[test] functions

use stack_tests::sql_queue::{postgres, sqlite};

stack_tests::queue_conformance!(postgres_queue, postgres);
stack_tests::queue_conformance!(sqlite_queue, sqlite);
stack_tests::worker_conformance!(postgres_worker, postgres);
stack_tests::worker_conformance!(sqlite_worker, sqlite);
stack_tests::scheduler_conformance!(postgres_scheduler, postgres);
stack_tests::scheduler_conformance!(sqlite_scheduler, sqlite);

/// Enqueueing inside a caller's transaction (a unit of work): the job exists if and only if
/// the transaction commits, and a committed one wakes a waiting worker.
mod transactional {
    use std::sync::Arc;
    use std::time::Duration;

    use stack_backends::sql::{self, SqlOptions, SqlQueue, SqlQueueOptions, SqlStore};
    use stack_core::Error;
    use stack_core::queue::{NewJob, Queue, QueueOptions};
    use stack_core::unit;

    fn dyn_queue(queue: &Arc<SqlQueue>) -> Arc<dyn stack_core::queue::Queue> {
        Arc::clone(queue) as Arc<dyn stack_core::queue::Queue>
    }

    async fn open(url: &str) -> (SqlStore, Arc<SqlQueue>) {
        let store = sql::open(url, &SqlOptions::default()).await.expect("open");
        let queue = SqlQueue::open(
            store.connection().clone(),
            QueueOptions::new(stack_tests::unique("tx")),
            SqlQueueOptions::default(),
        )
        .expect("queue");
        (store, queue)
    }

    async fn a_rolled_back_transaction_leaves_no_job(url: String) {
        let (store, queue) = open(&url).await;
        let id = uuid::Uuid::now_v7();
        let outcome = unit::atomically(&store, async {
            let job = NewJob::new("w", serde_json::json!({})).id(id);
            let enqueued = unit::enqueue(dyn_queue(&queue), job).await?;
            assert!(enqueued.expect("in the transaction").is_created());
            Err::<(), _>(Error::conflict("the caller's write failed"))
        })
        .await;
        assert_eq!(
            outcome.unwrap_err().kind(),
            stack_core::ErrorKind::Conflict,
            "the enqueue succeeded in the transaction, and the caller's failure rolled it back"
        );
        assert_eq!(
            queue.get(id).await.unwrap(),
            None,
            "rolled back with the caller"
        );
        assert!(
            queue
                .reserve(10, Duration::from_secs(60))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(queue.stats().await.unwrap().ready(), 0);
    }

    async fn a_committed_transaction_wakes_a_waiting_worker(url: String) {
        let (store, queue) = open(&url).await;
        let waiter = {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while tokio::time::Instant::now() < deadline {
                    queue.wait_for_work(Duration::from_secs(120)).await.unwrap();
                    let got = queue.reserve(1, Duration::from_secs(60)).await.unwrap();
                    if let Some(lease) = got.into_iter().next() {
                        return Some(lease.job.id);
                    }
                }
                None
            })
        };
        let id = unit::atomically(&store, async {
            let job = NewJob::new("w", serde_json::json!({}));
            let enqueued = unit::enqueue(dyn_queue(&queue), job).await?;
            Ok(enqueued.expect("in the transaction").id())
        })
        .await
        .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the worker ran the committed job")
            .unwrap();
        assert_eq!(got, Some(id));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres_a_rolled_back_transaction_leaves_no_job() {
        a_rolled_back_transaction_leaves_no_job(stack_tests::sql_queue::postgres_url().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite_a_rolled_back_transaction_leaves_no_job() {
        a_rolled_back_transaction_leaves_no_job(stack_tests::sql_queue::sqlite_url().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres_a_committed_transaction_wakes_a_waiting_worker() {
        a_committed_transaction_wakes_a_waiting_worker(
            stack_tests::sql_queue::postgres_url().await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite_a_committed_transaction_wakes_a_waiting_worker() {
        a_committed_transaction_wakes_a_waiting_worker(stack_tests::sql_queue::sqlite_url().await)
            .await;
    }

    /// On PostgreSQL the wake-up is the enqueue's own NOTIFY: listeners hear it when the
    /// transaction commits, not before.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres_the_notify_is_sent_by_the_commit() {
        use sea_orm::sqlx::postgres::PgListener;

        let url = stack_tests::sql_queue::postgres_url().await;
        let (store, queue) = open(&url).await;
        let mut listener = PgListener::connect(&url).await.expect("listen");
        listener.listen("stack_jobs").await.expect("listen");
        let work = unit::Unit::begin(&store).await.unwrap();
        work.run(async {
            unit::enqueue(dyn_queue(&queue), NewJob::new("w", serde_json::json!({})))
                .await
                .unwrap();
        })
        .await;
        let early = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
        assert!(early.is_err(), "notified before the commit: {early:?}");
        work.commit().await.unwrap();
        let heard = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("notified at the commit")
            .unwrap();
        assert_eq!(heard.channel(), "stack_jobs");
        assert!(
            heard.payload().starts_with("tx-"),
            "the queue's name: {}",
            heard.payload()
        );
    }
}

/// An enqueue wakes an idle worker of this process at once, not at its fallback poll (half a
/// second to a second): on SQLite in-process, on PostgreSQL by the enqueue's NOTIFY.
mod wake {
    use std::time::{Duration, Instant};

    use stack_core::queue::{NewJob, Queue, QueueOptions};

    /// The median time from one `enqueue` (of a single job) to the return of a
    /// `wait_for_work` that started on an empty queue, over 5 tries. A waiter that is never
    /// woken returns at its poll, at least 500 ms later; the median leaves room for one
    /// stall of a loaded machine.
    async fn a_single_enqueue_wakes_an_idle_waiter(url: String) {
        let queue =
            stack_tests::sql_queue::open(&url, QueueOptions::new(stack_tests::unique("wk"))).await;
        let mut took = Vec::new();
        for n in 0..5 {
            let waiter = {
                let queue = std::sync::Arc::clone(&queue);
                tokio::spawn(async move {
                    queue.wait_for_work(Duration::from_secs(120)).await.unwrap();
                    Instant::now()
                })
            };
            // Room for the waiter to read the empty queue and sleep (not asserted on: a
            // waiter that has not yet read it finds the job and returns at once).
            tokio::time::sleep(Duration::from_millis(50)).await;
            let sent = Instant::now();
            queue
                .enqueue(NewJob::new("w", serde_json::json!({ "n": n })))
                .await
                .unwrap();
            let woke = waiter.await.unwrap();
            took.push(woke.saturating_duration_since(sent));
            let leases = queue.reserve(10, Duration::from_secs(60)).await.unwrap();
            assert_eq!(leases.len(), 1, "try {n}: the one job enqueued");
            queue.complete(&leases[0].token).await.unwrap();
        }
        took.sort();
        assert!(
            took[2] < Duration::from_millis(400),
            "woken by the poll, not the enqueue: {took:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite_a_single_enqueue_wakes_an_idle_waiter() {
        a_single_enqueue_wakes_an_idle_waiter(stack_tests::sql_queue::sqlite_url().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres_a_single_enqueue_wakes_an_idle_waiter() {
        a_single_enqueue_wakes_an_idle_waiter(stack_tests::sql_queue::postgres_url().await).await;
    }
}
