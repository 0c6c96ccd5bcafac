//! apalis-postgres 1.0: `PostgresStorage` with its `LISTEN`/`NOTIFY` pubsub, `push_bulk` for
//! the batches, and apalis's own worker with `.concurrency(n)`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::Work;

static RAN: AtomicU64 = AtomicU64::new(0);
static STARTS: OnceLock<Mutex<Option<mpsc::UnboundedSender<Instant>>>> = OnceLock::new();

async fn noop(_n: u64) -> Result<(), BoxDynError> {
    RAN.fetch_add(1, Ordering::Relaxed);
    if let Some(tx) = STARTS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .as_ref()
    {
        let _ = tx.send(Instant::now());
    }
    Ok(())
}

/// Starts a worker of `concurrency` on `queue`; the sender stops it.
fn start(pool: &PgPool, queue: &str, concurrency: usize) -> tokio::sync::oneshot::Sender<()> {
    let backend = PostgresStorage::<u64>::new(pool)
        .with_config(Config::default().queue(queue).batch_size(concurrency))
        .with_pubsub();
    let worker = WorkerBuilder::new(format!("bench-{queue}"))
        .backend(backend)
        .concurrency(concurrency)
        .build(noop);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let signal = async move {
            let _ = stopped.await;
            Ok::<(), std::io::Error>(())
        };
        worker.run_until(signal).await.expect("the apalis worker");
    });
    stop
}

/// Enqueue-only jobs/s, end-to-end jobs/s, p50 and p99 idle start latency (ms).
pub async fn run(pool: PgPool, work: Work) -> (f64, f64, f64, f64) {
    PostgresStorage::setup(&pool)
        .await
        .expect("apalis migrations");
    let queue = "bench-tp";
    let mut sink = PostgresStorage::<u64>::new(&pool).with_config(Config::default().queue(queue));
    let started = Instant::now();
    let mut n = 0;
    while n < work.jobs {
        let chunk: Vec<u64> = (n..work.jobs.min(n + work.batch))
            .map(|i| i as u64)
            .collect();
        sink.push_bulk(chunk).await.expect("push_bulk");
        n += work.batch;
    }
    let enqueued = started.elapsed();
    let stop = start(&pool, queue, work.concurrency);
    while (RAN.load(Ordering::Relaxed) as usize) < work.jobs {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    crate::until_zero(
        &pool,
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'bench-tp' AND status <> 'Done'",
    )
    .await;
    let finished = started.elapsed();
    let _ = stop.send(());

    let lat_queue = "bench-lat";
    let (tx, mut starts) = mpsc::unbounded_channel();
    *STARTS.get_or_init(Default::default).lock().unwrap() = Some(tx);
    let sink = PostgresStorage::<u64>::new(&pool).with_config(Config::default().queue(lat_queue));
    let stop = start(&pool, lat_queue, work.concurrency);
    let (p50, p99) = crate::latency(work.samples, &mut starts, |n| {
        let mut sink = sink.clone();
        async move { sink.push(n as u64).await.expect("push") }
    })
    .await;
    let _ = stop.send(());
    (
        work.jobs as f64 / enqueued.as_secs_f64(),
        work.jobs as f64 / finished.as_secs_f64(),
        p50,
        p99,
    )
}
