//! The peers of STACK's SQL queue benchmark, on the same PostgreSQL and with the same work as
//! `tests/benches/queue.rs`: `stack-bench-peers apalis` (apalis-postgres 1.0, its own worker
//! with `.concurrency(10)`) or `stack-bench-peers river` (River's Rust client, its own
//! client with a queue of 10 workers). Each run makes a fresh database on the server of
//! `STACK_TEST_POSTGRES_URL`, runs the peer's own migrations, and drops it at the end.
//!
//! 1. enqueue `BENCH_JOBS` (100,000) no-op jobs in batches of `BENCH_BATCH` (1,000), then
//!    start the workers and run them to completion: end to end is from the first enqueue
//!    until every job ran and no row is left in a state other than completed;
//! 2. with the workers idle, enqueue one job at a time, `BENCH_SAMPLES` (500) times, 5 ms
//!    apart, and time the enqueue call to the handler's start (p50 / p99 in ms).
//!
//! Prints one JSON line, as the STACK bench does.

mod apalis_peer;
mod river_peer;

use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};

/// A bench setting from the environment, or its default.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The work of one run.
#[derive(Clone, Copy)]
pub struct Work {
    pub jobs: usize,
    pub batch: usize,
    pub concurrency: usize,
    pub samples: usize,
}

/// Polls `count` (a SQL statement answering one BIGINT) every millisecond until it is 0.
pub async fn until_zero(pool: &PgPool, count: &'static str) {
    loop {
        let left: i64 = sqlx::query_scalar(count)
            .fetch_one(pool)
            .await
            .expect(count);
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// p50 and p99 of `took` (ms).
pub fn percentiles(mut took: Vec<f64>) -> (f64, f64) {
    took.sort_by(f64::total_cmp);
    let at = |p: usize| took[(took.len() * p / 100).min(took.len() - 1)];
    (at(50), at(99))
}

/// One idle-latency sample loop: `enqueue(n)` then wait for the handler's start stamp.
pub async fn latency<F, Fut>(
    samples: usize,
    starts: &mut tokio::sync::mpsc::UnboundedReceiver<Instant>,
    mut enqueue: F,
) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::time::sleep(Duration::from_millis(500)).await;
    while starts.try_recv().is_ok() {}
    let mut took = Vec::with_capacity(samples);
    for n in 0..samples {
        let sent = Instant::now();
        enqueue(n).await;
        let at = starts.recv().await.expect("a start");
        took.push(at.duration_since(sent).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    percentiles(took)
}

#[tokio::main]
async fn main() {
    let system = std::env::args().nth(1).unwrap_or_default();
    let server = std::env::var("STACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/stack_test".into());
    let work = Work {
        jobs: setting("BENCH_JOBS", 100_000),
        batch: setting("BENCH_BATCH", 1000),
        concurrency: setting("BENCH_CONCURRENCY", 10),
        samples: setting("BENCH_SAMPLES", 500),
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!("stack_peer_{system}_{stamp}");
    let (base, _) = server.rsplit_once('/').expect("a database URL");
    let mut admin = PgConnection::connect(&server).await.expect("connect");
    admin
        .execute(sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE \"{name}\""
        ))))
        .await
        .expect("create database");
    let url = format!("{base}/{name}");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(u32::try_from(setting("BENCH_POOL", 10)).unwrap_or(10))
        .connect(&url)
        .await
        .expect("connect the bench database");
    let (enqueue, e2e, p50, p99) = match system.as_str() {
        "apalis" => apalis_peer::run(pool.clone(), work).await,
        "river" => river_peer::run(pool.clone(), work, false).await,
        "river-fast" => river_peer::run(pool.clone(), work, true).await,
        other => panic!("unknown peer {other:?}: apalis, river or river-fast"),
    };
    pool.close().await;
    admin
        .execute(sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        ))))
        .await
        .expect("drop database");
    println!(
        "{}",
        serde_json::json!({
            "system": system, "jobs": work.jobs, "concurrency": work.concurrency,
            "enqueue_jobs_s": enqueue, "e2e_jobs_s": e2e, "p50_ms": p50, "p99_ms": p99,
        })
    );
}
