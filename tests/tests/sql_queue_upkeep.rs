//! What keeps the SQL queue fast under a burst without costing it its guarantees, on
//! PostgreSQL: statements cut by their size on the wire (a batch of several statements still
//! stores all or nothing), leases and acknowledgements committed without waiting for the disk
//! while the session stays durable for everything else, and an early vacuum after a burst of
//! leases.

#![allow(clippy::unwrap_used)] // trial helpers outside #[test] functions

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use stack_backends::sql::{self, SqlOptions, SqlQueue, SqlQueueOptions};
use stack_core::queue::{NewJob, Queue, QueueOptions};
use stack_tests::sql_queue::postgres_url;

/// A queue `name` over a pool of `max_open` connections, with maintenance every `every`.
async fn open(name: &str, max_open: u32, every: Duration) -> Arc<SqlQueue> {
    let options = SqlOptions {
        max_open,
        min_idle: 0,
        ..SqlOptions::default()
    };
    let store = sql::open(&postgres_url().await, &options).await.unwrap();
    let upkeep = SqlQueueOptions {
        sweep_every: Some(every),
        vacuum_every: Some(every),
        ..SqlQueueOptions::default()
    };
    SqlQueue::open(store.connection().clone(), QueueOptions::new(name), upkeep).unwrap()
}

async fn text(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<String>(0).unwrap()
}

async fn jobs_in(queue: &SqlQueue, name: &str) -> i64 {
    let sql = format!("SELECT COUNT(*)::bigint FROM stack_jobs WHERE queue = '{name}'");
    let row = queue
        .connection()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<i64>(0).unwrap()
}

/// A batch of large payloads travels as several statements: all of them are stored, in
/// order; and when a later statement fails, none of the batch is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_several_statements_is_stored_whole_or_not_at_all() {
    let queue = open("upkeep-wire", 4, Duration::from_secs(3600)).await;
    let big = "x".repeat(20_000);
    let jobs: Vec<NewJob> = (0..12)
        .map(|n| NewJob::new("big", serde_json::json!({ "n": n, "pad": big })))
        .collect();
    let done = queue.enqueue_batch(jobs).await.unwrap();
    assert!(done.iter().all(|e| e.is_created()), "{done:?}");
    let leases = queue.reserve(12, Duration::from_secs(60)).await.unwrap();
    let order: Vec<u64> = leases
        .iter()
        .map(|l| l.job.payload["n"].as_u64().unwrap())
        .collect();
    assert_eq!(order, (0..12).collect::<Vec<_>>());
    assert_eq!(
        leases[3].job.payload["pad"].as_str().map(str::len),
        Some(20_000)
    );

    // PostgreSQL refuses a NUL character in a JSON document: the last statement fails.
    let failing = open("upkeep-wire-fail", 4, Duration::from_secs(3600)).await;
    let mut jobs: Vec<NewJob> = (0..6)
        .map(|n| NewJob::new("big", serde_json::json!({ "n": n, "pad": big })))
        .collect();
    jobs.push(NewJob::new("bad", serde_json::json!({ "nul": "\u{0}" })));
    assert!(failing.enqueue_batch(jobs).await.is_err());
    assert_eq!(
        jobs_in(&failing, "upkeep-wire-fail").await,
        0,
        "nothing of the batch is stored"
    );
}

/// Job types, unique keys and payloads with the characters an array literal escapes or
/// treats specially come back exactly as given, and keys stay unique by their exact text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_bound_text_comes_back_exactly() {
    let queue = open("upkeep-text", 4, Duration::from_secs(3600)).await;
    let odd = [
        "a\"b", "c\\d", "{e}", "f,g", "NULL", "null", " h ", "é✓", "",
    ];
    let jobs: Vec<NewJob> = odd
        .iter()
        .map(|text| {
            NewJob::new(format!("t{text}"), serde_json::json!({ "text": text }))
                .unique_key(format!("k{text}"))
        })
        .collect();
    let done = queue.enqueue_batch(jobs.clone()).await.unwrap();
    assert!(done.iter().all(|e| e.is_created()), "{done:?}");
    let again = queue.enqueue_batch(jobs).await.unwrap();
    assert!(
        again
            .iter()
            .zip(&done)
            .all(|(a, d)| a.id() == d.id() && !a.is_created())
    );
    let leases = queue
        .reserve(odd.len(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leases.len(), odd.len());
    for text in odd {
        let lease = leases
            .iter()
            .find(|l| l.job.job_type == format!("t{text}"))
            .unwrap_or_else(|| panic!("job type t{text} came back altered"));
        assert_eq!(lease.job.payload["text"], *text);
        assert_eq!(
            lease.job.unique_key.as_deref(),
            Some(format!("k{text}").as_str())
        );
    }
}

/// Completing commits lazily for its own transaction only: the connection it ran on is back to
/// `synchronous_commit = on` for whatever runs next (a reserve, an enqueue, or the Store's
/// writes on the shared pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_commits_do_not_leak_into_the_session() {
    let queue = open("upkeep-lazy", 1, Duration::from_secs(3600)).await;
    let db = queue.connection().clone();
    assert_eq!(text(&db, "SHOW synchronous_commit").await, "on");
    queue
        .enqueue_batch(vec![
            NewJob::new("w", serde_json::json!({})),
            NewJob::new("w", serde_json::json!({})),
        ])
        .await
        .unwrap();
    let leases = queue.reserve(2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(leases.len(), 2);
    assert_eq!(
        text(&db, "SHOW synchronous_commit").await,
        "on",
        "after a reserve"
    );
    let tokens: Vec<_> = leases.iter().map(|l| l.token).collect();
    let extended = queue
        .extend_many(&tokens, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(extended.iter().all(Result::is_ok), "{extended:?}");
    assert_eq!(
        text(&db, "SHOW synchronous_commit").await,
        "on",
        "after extending"
    );
    let completed = queue.complete_many(&tokens).await.unwrap();
    assert!(completed.iter().all(Result::is_ok), "{completed:?}");
    assert_eq!(
        text(&db, "SHOW synchronous_commit").await,
        "on",
        "after completing"
    );
    assert_eq!(jobs_in(&queue, "upkeep-lazy").await, 0);
}

/// After a burst of 10,000 leases the handle vacuums the table at once, not at its next
/// `vacuum_every` (an hour here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_leases_vacuums_the_table_early() {
    let queue = open("upkeep-vacuum", 4, Duration::from_secs(3600)).await;
    let db = queue.connection().clone();
    let vacuums = "SELECT vacuum_count::text FROM pg_stat_user_tables WHERE relname = 'stack_jobs'";
    let before: u64 = text(&db, vacuums).await.parse().unwrap();
    for chunk in 0..20 {
        let jobs = (0..500)
            .map(|n| NewJob::new("w", serde_json::json!({ "n": chunk * 500 + n })))
            .collect();
        queue.enqueue_batch(jobs).await.unwrap();
    }
    let mut leased = 0;
    while leased < 10_000 {
        let got = queue.reserve(500, Duration::from_secs(600)).await.unwrap();
        assert!(
            !got.is_empty(),
            "only {leased} of 10,000 jobs could be leased"
        );
        leased += got.len();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now: u64 = text(&db, vacuums).await.parse().unwrap();
        if now > before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no vacuum after 10,000 leases"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A batch of acknowledgements and extensions larger than one statement answers per token
/// across every statement: held leases succeed, a stale lease is a conflict, an unknown job is
/// not found, each in its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_several_statements_answer_per_token() {
    use stack_core::ErrorKind;
    use stack_core::queue::LeaseToken;

    let queue = open("upkeep-tokens", 4, Duration::from_secs(3600)).await;
    let jobs = (0..400)
        .map(|n| NewJob::new("w", serde_json::json!({ "n": n })))
        .collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let leases = queue.reserve(400, Duration::from_secs(60)).await.unwrap();
    assert_eq!(leases.len(), 400);
    // Every 7th token names a lease the job does not hold, every 11th a job that is not there.
    let tokens: Vec<LeaseToken> = leases
        .iter()
        .enumerate()
        .map(|(i, l)| match (i % 7, i % 11) {
            (0, _) => LeaseToken {
                lease_id: uuid::Uuid::new_v4(),
                ..l.token
            },
            (_, 0) => LeaseToken {
                job_id: uuid::Uuid::now_v7(),
                ..l.token
            },
            _ => l.token,
        })
        .collect();
    let want = |i: usize| match (i % 7, i % 11) {
        (0, _) => Some(ErrorKind::Conflict),
        (_, 0) => Some(ErrorKind::NotFound),
        _ => None,
    };
    let extended = queue
        .extend_many(&tokens, Duration::from_secs(120))
        .await
        .unwrap();
    let completed = queue.complete_many(&tokens).await.unwrap();
    for (i, (e, c)) in extended.iter().zip(&completed).enumerate() {
        assert_eq!(e.as_ref().err().map(|e| e.kind()), want(i), "extend {i}");
        assert_eq!(c.as_ref().err().map(|e| e.kind()), want(i), "complete {i}");
    }
}
