//! River's Rust client (`riverqueue`): its migrations, `insert_many` for the batches, and its
//! own client working queue `default` with `QueueConfig::new(n)` (n workers), with its
//! defaults otherwise (`LISTEN`/`NOTIFY` on, batched completion). River fetches at most
//! once per fetch cooldown (100 ms by default), and a fetch claims only free worker slots, so
//! with 10 workers its defaults cap it near 100 jobs/s: `fast` sets the cooldown to River's
//! minimum (1 ms, `FETCH_COOLDOWN_MIN`), its fastest setting for this work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use riverqueue::migrate::PostgresMigrator;
use riverqueue::{BoxError, Client, Job, JobArgs, QueueConfig, WorkContext, WorkOutcome, Workers};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::Work;

static RAN: AtomicU64 = AtomicU64::new(0);
static STARTS: OnceLock<Mutex<Option<mpsc::UnboundedSender<Instant>>>> = OnceLock::new();

#[derive(Clone, Debug, Deserialize, JobArgs, Serialize)]
#[river(kind = "noop")]
struct Noop {
    n: u64,
}

async fn noop(_context: WorkContext, _job: Job<Noop>) -> Result<WorkOutcome, BoxError> {
    RAN.fetch_add(1, Ordering::Relaxed);
    if let Some(tx) = STARTS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .as_ref()
    {
        let _ = tx.send(Instant::now());
    }
    Ok(WorkOutcome::Complete)
}

/// Enqueue-only jobs/s, end-to-end jobs/s, p50 and p99 idle start latency (ms).
pub async fn run(pool: PgPool, work: Work, fast: bool) -> (f64, f64, f64, f64) {
    PostgresMigrator::new(pool.clone())
        .migrate_up()
        .await
        .expect("River migrations");
    let mut workers = Workers::new();
    workers.add_fn(noop).expect("register the worker");
    let mut builder = Client::builder(pool.clone());
    if fast {
        builder = builder.fetch_cooldown(riverqueue::FETCH_COOLDOWN_MIN);
    }
    let client = builder
        .workers(workers)
        .queue("default", QueueConfig::new(work.concurrency))
        .build()
        .expect("the River client");
    let started = Instant::now();
    let mut n = 0;
    while n < work.jobs {
        let chunk: Vec<Noop> = (n..work.jobs.min(n + work.batch))
            .map(|i| Noop { n: i as u64 })
            .collect();
        client.insert_many(chunk).await.expect("insert_many");
        n += work.batch;
    }
    let enqueued = started.elapsed();
    let mut run = client.start().expect("start the River client");
    while (RAN.load(Ordering::Relaxed) as usize) < work.jobs {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    crate::until_zero(
        &pool,
        "SELECT count(*) FROM river_job WHERE state <> 'completed'",
    )
    .await;
    let finished = started.elapsed();

    let (tx, mut starts) = mpsc::unbounded_channel();
    *STARTS.get_or_init(Default::default).lock().unwrap() = Some(tx);
    let (p50, p99) = crate::latency(work.samples, &mut starts, |n| {
        let client = &client;
        async move {
            client.insert(Noop { n: n as u64 }).await.expect("insert");
        }
    })
    .await;
    run.stop().await.expect("stop the River client");
    (
        work.jobs as f64 / enqueued.as_secs_f64(),
        work.jobs as f64 / finished.as_secs_f64(),
        p50,
        p99,
    )
}
