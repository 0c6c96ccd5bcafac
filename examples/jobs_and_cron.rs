//! Jobs and cron alone: an in-memory queue, typed jobs (each defined once, by its payload type
//! and type name, for both enqueueing and its handler), a cron schedule that enqueues a typed
//! job every second, and a worker pool that runs them. Runs for three seconds.
//!
//! ```text
//! cargo run -p stack-examples --example jobs_and_cron
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stack_backends::memory::MemoryQueue;
use stack_core::queue::{Priority, Queue, QueueExt, QueueOptions, TypedJob};
use stack_core::scheduler::{CronScheduler, ScheduleSpec, Scheduler};
use stack_core::worker::{Handlers, JobContext, JobError, WorkerOptions, WorkerPool};

/// Sends the receipt of a deposit.
#[derive(Debug, Serialize, Deserialize)]
struct SendReceipt {
    deposit: u64,
}

impl TypedJob for SendReceipt {
    const TYPE: &'static str = "receipt";
}

/// Builds the periodic report; enqueued by the cron schedule.
#[derive(Debug, Serialize, Deserialize)]
struct BuildReport {
    period: String,
}

impl TypedJob for BuildReport {
    const TYPE: &'static str = "report";
}

/// A job whose handler always fails for good: it ends in the dead-letter queue.
#[derive(Debug, Serialize, Deserialize)]
struct Broken {}

impl TypedJob for Broken {
    const TYPE: &'static str = "broken";
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(QueueOptions::new("example"))?);

    // Each handler takes its payload type; the type name comes from the definition.
    let handlers = Handlers::new()
        .register_job_fn(|receipt: SendReceipt, context: JobContext| async move {
            println!(
                "receipt for deposit {} (job {}, priority {})",
                receipt.deposit, context.job.id, context.job.priority
            );
            Ok(())
        })
        .register_job_fn(|report: BuildReport, context: JobContext| async move {
            let key = context.job.unique_key.as_deref().unwrap_or("-");
            println!("{} report built (key {key})", report.period);
            Ok(())
        })
        .register_job_fn(|_: Broken, _: JobContext| async {
            Err(JobError::permanent("this job cannot succeed"))
        });
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, WorkerOptions::default())?;

    // A cron schedule: every second (six fields, seconds first).
    let scheduler = CronScheduler::new(Arc::clone(&queue));
    let report = BuildReport {
        period: "second".into(),
    };
    scheduler
        .add(ScheduleSpec::of("tick", "* * * * * *", &report)?)
        .await?;
    scheduler.start().await?;

    // One-off jobs: an urgent one, and one that fails permanently.
    queue
        .enqueue_job_with(&SendReceipt { deposit: 7 }, |job| {
            job.priority(Priority::High)
        })
        .await?;
    let broken = queue
        .enqueue_job_with(&Broken {}, |job| job.max_attempts(2))
        .await?;

    tokio::time::sleep(Duration::from_secs(3)).await;
    scheduler.stop().await?;
    let stats = pool.stop().await;
    if let Some(dead) = queue.get(broken.id()).await? {
        println!(
            "{} {} is {:?}: {}",
            dead.job_type,
            dead.id,
            dead.state,
            dead.last_error.unwrap_or_default()
        );
    }
    println!("pool: {stats:?}");
    println!("queue: {:?}", queue.stats().await?);
    Ok(())
}
