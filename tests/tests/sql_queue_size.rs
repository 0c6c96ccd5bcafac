//! How big `stack_jobs` stays under a steady load: jobs (each with a unique key, so every
//! completed job is kept for the retention) are enqueued and completed while the sweep
//! deletes those past the retention in bounded batches. Ignored by default (it takes
//! minutes); run it with
//!
//! ```text
//! STACK_SIZE_JOBS=1000000 cargo nextest run -p stack-tests --all-features \
//!   --test sql_queue_size --run-ignored only --no-capture
//! ```

#![allow(clippy::unwrap_used)] // trial helpers outside #[test] functions

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use stack_backends::sql::{self, SqlOptions, SqlQueue, SqlQueueOptions};
use stack_core::queue::{NewJob, Queue, QueueOptions};

const WORKERS: usize = 4;
const BATCH: usize = 500;

async fn table_size(queue: &SqlQueue) -> (i64, i64) {
    let row = queue
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_total_relation_size('stack_jobs') AS bytes, \
             (SELECT COUNT(*) FROM stack_jobs) AS rows",
        ))
        .await
        .expect("size")
        .expect("a row");
    (
        row.try_get("", "bytes").unwrap(),
        row.try_get("", "rows").unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: run for docs/benchmarks.md"]
async fn the_table_stays_small_under_a_steady_load() {
    let total = stack_tests::bench_setting("STACK_SIZE_JOBS", 100_000) as u64;
    let url = stack_tests::sql_queue::postgres_url().await;
    let pool = SqlOptions {
        max_open: 12,
        min_idle: 0,
        ..SqlOptions::default()
    };
    let store = sql::open(&url, &pool).await.expect("open");
    let mut options = QueueOptions::new("size");
    options.completed_retention = Duration::from_secs(5);
    let queue = SqlQueue::open(
        store.connection().clone(),
        options,
        SqlQueueOptions {
            sweep_every: Some(Duration::from_secs(1)),
            vacuum_every: Some(Duration::from_secs(5)),
            ..SqlQueueOptions::default()
        },
    )
    .expect("queue");
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let producer = {
        let queue = Arc::clone(&queue);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut n = 0;
            while n < total {
                // Keep at most 20,000 jobs in flight: a steady load, not a backlog.
                while n.saturating_sub(done.load(Ordering::SeqCst)) > 20_000 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let jobs = (n..(n + BATCH as u64).min(total))
                    .map(|i| {
                        NewJob::new("w", serde_json::json!({ "n": i })).unique_key(format!("k{i}"))
                    })
                    .collect::<Vec<_>>();
                n += jobs.len() as u64;
                queue.enqueue_batch(jobs).await.expect("enqueue");
            }
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                while done.load(Ordering::SeqCst) < total {
                    let leases = queue
                        .reserve(BATCH, Duration::from_secs(60))
                        .await
                        .expect("reserve");
                    if leases.is_empty() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                    let tokens: Vec<_> = leases.iter().map(|l| l.token).collect();
                    let results = queue.complete_many(&tokens).await.expect("complete");
                    assert!(results.iter().all(Result::is_ok));
                    done.fetch_add(tokens.len() as u64, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let mut peak = (0, 0);
    let mut next_report = total / 10;
    while done.load(Ordering::SeqCst) < total {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let size = table_size(&queue).await;
        peak = peak.max(size);
        let now = done.load(Ordering::SeqCst);
        if now >= next_report {
            println!(
                "{now} jobs done in {:.0?}: stack_jobs {} kB, {} rows",
                started.elapsed(),
                size.0 / 1024,
                size.1
            );
            next_report += total / 10;
        }
    }
    producer.await.expect("producer");
    for worker in workers {
        worker.await.expect("worker");
    }
    let end = table_size(&queue).await;
    println!(
        "{total} jobs enqueued and completed in {:.1?}; stack_jobs at the end: {} kB ({} rows: completed jobs within the 5 s retention); peak {} kB",
        started.elapsed(),
        end.0 / 1024,
        end.1,
        peak.0 / 1024
    );
}
