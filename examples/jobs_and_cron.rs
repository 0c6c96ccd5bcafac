//! Jobs and cron alone: an in-memory queue, a cron schedule that enqueues a job every second,
//! and a small worker loop that leases, heartbeats and completes them. Runs for three seconds.
//!
//! ```text
//! cargo run -p stack-examples --example jobs_and_cron
//! ```

use std::sync::Arc;
use std::time::Duration;

use stack_backends::memory::MemoryQueue;
use stack_core::queue::{Failure, NewJob, Priority, Queue, QueueOptions};
use stack_core::scheduler::{CronScheduler, ScheduleSpec, Scheduler};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(QueueOptions::new("example"))?);

    // A cron schedule: every second (six fields, seconds first).
    let scheduler = CronScheduler::new(Arc::clone(&queue));
    scheduler
        .add(ScheduleSpec::new("tick", "* * * * * *", "report"))
        .await?;
    scheduler.start().await?;

    // One-off jobs: an urgent one, and one that fails permanently.
    queue
        .enqueue(
            NewJob::new("receipt", serde_json::json!({ "deposit": 7 })).priority(Priority::High),
        )
        .await?;
    queue
        .enqueue(NewJob::new("broken", serde_json::json!({})).max_attempts(2))
        .await?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        for lease in queue.reserve(10, Duration::from_secs(30)).await? {
            let job = &lease.job;
            if job.job_type == "broken" {
                let outcome = queue
                    .fail(&lease.token, Failure::permanent("no handler"))
                    .await?;
                println!("{} {} -> {outcome:?}", job.job_type, job.id);
            } else {
                // A long job would extend its lease on a heartbeat about a third of the way in.
                queue.extend(&lease.token, Duration::from_secs(30)).await?;
                queue.complete(&lease.token).await?;
                let key = job.unique_key.as_deref().unwrap_or("-");
                println!(
                    "{} {} done (priority {}, key {key})",
                    job.job_type, job.id, job.priority
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    scheduler.stop().await?;
    println!("stats: {:?}", queue.stats().await?);
    Ok(())
}
