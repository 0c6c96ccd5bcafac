//! A worker process for the crash test: runs jobs of type `work` from a Redis queue (or,
//! given a fifth argument, from the SQL queue of that PostgreSQL database) and records each
//! start as `<n>:<pid>` on a Redis list, so the test can tell which jobs ran
//! where and how often, and each completion the queue took (see [`recording`]), so it can
//! tell a completed job from a lost one. Stops gracefully on SIGTERM.
//!
//! `crash_worker <redis url, or comma-separated Cluster nodes> <queue> <record list> <concurrency> [<postgres url>]`

mod recording;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use stack_backends::redis::{RedisQueue, RedisTarget};
use stack_backends::sql::{SqlOptions, SqlQueue, SqlQueueOptions};
use stack_core::queue::{Queue, QueueOptions};
use stack_core::worker::{Handlers, JobContext, JobError, WorkerOptions, WorkerPool};

#[derive(Deserialize)]
struct Work {
    n: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, queue_name, record, concurrency, database) = match args.as_slice() {
        [url, queue, record, concurrency] => (url, queue, record, concurrency, None),
        [url, queue, record, concurrency, database] => {
            (url, queue, record, concurrency, Some(database.as_str()))
        }
        _ => {
            eprintln!(
                "usage: crash_worker <redis url> <queue> <record list> <concurrency> [<postgres url>]"
            );
            return ExitCode::from(2);
        }
    };
    let Ok(concurrency) = concurrency.parse::<usize>() else {
        eprintln!("concurrency must be a number");
        return ExitCode::from(2);
    };
    match run(url, queue_name, record, concurrency, database).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    url: &str,
    queue_name: &str,
    record: &str,
    concurrency: usize,
    database: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let target = RedisTarget::parse(url);
    let inner: Arc<dyn Queue> = match database {
        None => Arc::new(RedisQueue::open(target.clone(), QueueOptions::new(queue_name)).await?),
        Some(database) => {
            let store = stack_backends::sql::open(database, &SqlOptions::default()).await?;
            SqlQueue::open(
                store.connection().clone(),
                QueueOptions::new(queue_name),
                SqlQueueOptions::default(),
            )?
        }
    };
    let recorder = target.connect().await?;
    let queue = Arc::new(recording::Recording::new(inner, recorder.clone(), record));
    let record = record.to_owned();
    let pid = std::process::id();
    let handlers = Handlers::new().register_fn("work", move |work: Work, _: JobContext| {
        let mut recorder = recorder.clone();
        let record = record.clone();
        async move {
            redis::cmd("RPUSH")
                .arg(&record)
                .arg(format!("{}:{pid}", work.n))
                .query_async::<()>(&mut recorder)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(())
        }
    });
    let options = WorkerOptions {
        concurrency,
        lease: Duration::from_secs(3),
        shutdown_grace: Duration::from_secs(5),
        max_idle_wait: Duration::from_millis(500),
        ..WorkerOptions::default()
    };
    let pool = WorkerPool::start(queue, handlers, options)?;
    println!("ready {pid}");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    terminate.recv().await;
    pool.stop().await;
    Ok(())
}
