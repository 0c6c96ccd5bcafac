//! The STACK side of the queue benchmarks (a bench binary, not a test): against BullMQ on
//! Redis (`scripts/bench-queue.sh`) and against apalis-postgres and River on PostgreSQL
//! (`scripts/bench-sql-queue.sh`); the scripts run it between the peers and write the tables.
//!
//! One run, on Redis (`stack-redis`), the Cluster (`stack-cluster`), PostgreSQL
//! (`stack-postgres`: a fresh migrated database on `STACK_TEST_POSTGRES_URL`'s server) or
//! SQLite (`stack-sqlite`: a fresh migrated file in the temp dir):
//! 1. enqueue 100,000 no-op jobs in batches of 1,000 (enqueue-only jobs/s), then start a
//!    worker pool of 10 and run them to completion (end-to-end jobs/s, from the first
//!    enqueue to the last acknowledgement);
//! 2. with the pool idle, enqueue one job at a time, 500 times, 5 ms apart, and measure from
//!    the enqueue call to the handler's start (p50 / p99 in ms).
//!
//! Prints one JSON line. `cargo bench -p stack-tests --bench queue -- stack-redis`
//! (needs `STACK_TEST_REDIS_URL` / `STACK_TEST_REDIS_CLUSTER_URL` /
//! `STACK_TEST_POSTGRES_URL`, as `scripts/services.sh` exports). `BENCH_JOBS`,
//! `BENCH_CONCURRENCY`, `BENCH_BATCH`, `BENCH_SAMPLES` scale it; `BENCH_POOL` is the SQL
//! queue's pool size (10); `BENCH_PREFETCH` the pool's prefetch (default: the pool's, 10).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a bench binary: a failure must stop it"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stack_backends::redis::{RedisQueue, RedisTarget};
use stack_backends::sql::{self, SqlOptions, SqlQueue, SqlQueueOptions};
use stack_core::queue::{NewJob, Queue, QueueOptions};
use stack_core::worker::{Handlers, JobContext, WorkerOptions, WorkerPool};
use tokio::sync::mpsc;

fn pool_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        prefetch: std::env::var("BENCH_PREFETCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        ..WorkerOptions::default()
    }
}

/// Where a run's queues live.
enum Target {
    Redis(RedisTarget),
    /// A migrated database's URL, and the pool size of each queue handle.
    Sql(String, u32),
}

async fn open(target: &Target, name: &str) -> Arc<dyn Queue> {
    match target {
        Target::Redis(target) => Arc::new(
            RedisQueue::open(target.clone(), QueueOptions::new(name))
                .await
                .unwrap(),
        ),
        Target::Sql(url, max_open) => {
            let options = SqlOptions {
                max_open: *max_open,
                ..SqlOptions::default()
            };
            let store = sql::open(url, &options).await.unwrap();
            SqlQueue::open(
                store.connection().clone(),
                QueueOptions::new(name),
                SqlQueueOptions::default(),
            )
            .unwrap()
        }
    }
}

/// Enqueue-only and end-to-end jobs per second.
async fn throughput(target: &Target, jobs: usize, batch: usize, concurrency: usize) -> (f64, f64) {
    let queue = open(
        target,
        &format!("bench-tp-{}", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let started = Instant::now();
    let mut n = 0;
    while n < jobs {
        let chunk = (n..jobs.min(n + batch))
            .map(|i| NewJob::new("noop", serde_json::json!({ "n": i })))
            .collect();
        queue.enqueue_batch(chunk).await.unwrap();
        n += batch;
    }
    let enqueued = started.elapsed();
    let ran = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&ran);
    let handlers =
        Handlers::new().register_fn("noop", move |_: serde_json::Value, _: JobContext| {
            count.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        });
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options(concurrency)).unwrap();
    // Done when every job ran and the queue holds nothing: the last ones acknowledged.
    loop {
        if ran.load(Ordering::Relaxed) as usize >= jobs {
            let stats = queue.stats().await.unwrap();
            if stats.ready() + stats.running + stats.scheduled == 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let finished = started.elapsed();
    pool.stop().await;
    (
        jobs as f64 / enqueued.as_secs_f64(),
        jobs as f64 / finished.as_secs_f64(),
    )
}

/// Idle enqueue-to-start latency: p50 and p99 in milliseconds.
async fn latency(target: &Target, samples: usize, concurrency: usize) -> (f64, f64) {
    let queue = open(
        target,
        &format!("bench-lat-{}", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let (started, mut starts) = mpsc::unbounded_channel::<Instant>();
    let handlers =
        Handlers::new().register_fn("noop", move |_: serde_json::Value, _: JobContext| {
            let _ = started.send(Instant::now());
            async { Ok(()) }
        });
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options(concurrency)).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut took = Vec::with_capacity(samples);
    for n in 0..samples {
        let sent = Instant::now();
        queue
            .enqueue(NewJob::new("noop", serde_json::json!({ "n": n })))
            .await
            .unwrap();
        let at = starts.recv().await.unwrap();
        took.push(at.duration_since(sent).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pool.stop().await;
    took.sort_by(f64::total_cmp);
    let at = |p: usize| took[(took.len() * p / 100).min(took.len() - 1)];
    (at(50), at(99))
}

#[tokio::main]
async fn main() {
    let system = std::env::args()
        .skip(1)
        .find(|a| a.starts_with("stack-"))
        .unwrap_or_else(|| "stack-redis".to_owned());
    let jobs = stack_tests::bench_setting("BENCH_JOBS", 100_000);
    let concurrency = stack_tests::bench_setting("BENCH_CONCURRENCY", 10);
    let pool = u32::try_from(stack_tests::bench_setting("BENCH_POOL", 10)).unwrap();
    let target = match system.as_str() {
        "stack-redis" => Target::Redis(RedisTarget::Single(
            std::env::var("STACK_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        )),
        "stack-cluster" => Target::Redis(RedisTarget::parse(
            &std::env::var("STACK_TEST_REDIS_CLUSTER_URL")
                .expect("STACK_TEST_REDIS_CLUSTER_URL (scripts/services.sh exports it)"),
        )),
        "stack-postgres" => Target::Sql(stack_tests::sql_queue::postgres_url().await, pool),
        "stack-sqlite" => Target::Sql(stack_tests::sql_queue::sqlite_url().await, pool),
        other => panic!(
            "unknown system {other}: stack-redis, stack-cluster, stack-postgres or stack-sqlite"
        ),
    };
    let batch = stack_tests::bench_setting("BENCH_BATCH", 1000);
    let samples = stack_tests::bench_setting("BENCH_SAMPLES", 500);
    let (enqueue, e2e) = throughput(&target, jobs, batch, concurrency).await;
    let (p50, p99) = latency(&target, samples, concurrency).await;
    println!(
        "{}",
        serde_json::json!({
            "system": system, "jobs": jobs, "concurrency": concurrency,
            "enqueue_jobs_s": enqueue, "e2e_jobs_s": e2e, "p50_ms": p50, "p99_ms": p99,
        })
    );
}
