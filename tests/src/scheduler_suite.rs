//! The [`Scheduler`] conformance suite, run over every [`Queue`](stack_core::queue::Queue)
//! backend: a tick becomes one job however many scheduler instances share the queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use stack_core::ErrorKind;
use stack_core::queue::Enqueued;
use stack_core::scheduler::{CronScheduler, ScheduleSpec, Scheduler, tick_key};

use crate::queue_suite::{LONG_LEASE, QueueFactory, options};

/// Two instances firing the same tick store one job: the second gets a duplicate.
pub async fn two_instances_fire_each_tick_once(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let one = CronScheduler::new(Arc::clone(&queue));
    let two = CronScheduler::new(Arc::clone(&queue));
    for scheduler in [&one, &two] {
        scheduler
            .add(ScheduleSpec::new("settle", "@yearly", "settle_batch"))
            .await
            .unwrap();
    }
    // Both instances' next tick is the coming 1 January: fire it as if that day had come.
    let now = Utc::now() + chrono::Duration::days(370);
    let first = one.fire_due(now).await;
    let second = two.fire_due(now).await;
    assert_eq!(first.len(), 1);
    let created = first[0].1.as_ref().unwrap();
    assert!(created.is_created());
    assert_eq!(
        second[0].1.as_ref().unwrap(),
        &Enqueued::Duplicate(created.id())
    );

    let lease = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert_eq!(lease.len(), 1);
    assert_eq!(lease[0].job.job_type, "settle_batch");
    assert!(
        lease[0]
            .job
            .unique_key
            .as_deref()
            .is_some_and(|k| k.starts_with("cron:settle:"))
    );
}

/// Started for real, an every-second schedule enqueues one job per tick, each with its own
/// `cron:<name>:<tick>` key, and lists its last and next fire times.
pub async fn running_scheduler_enqueues_one_job_per_tick(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let schedulers = [
        CronScheduler::new(Arc::clone(&queue)),
        CronScheduler::new(Arc::clone(&queue)),
    ];
    for scheduler in &schedulers {
        scheduler
            .add(ScheduleSpec::new("heartbeat", "* * * * * *", "beat"))
            .await
            .unwrap();
        scheduler.start().await.unwrap();
        scheduler.start().await.unwrap(); // starting twice is harmless
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    for scheduler in &schedulers {
        scheduler.stop().await.unwrap();
        scheduler.stop().await.unwrap();
    }

    let leases = queue.reserve(100, LONG_LEASE).await.unwrap();
    assert!(
        (2..=4).contains(&leases.len()),
        "{} ticks in 2.6 s",
        leases.len()
    );
    let keys: HashSet<String> = leases
        .iter()
        .filter_map(|l| l.job.unique_key.clone())
        .collect();
    assert_eq!(keys.len(), leases.len(), "a tick was enqueued twice");

    let listed = schedulers[0].list().await.unwrap();
    let last = listed[0].last_fire.expect("fired");
    assert!(keys.contains(&tick_key("heartbeat", last)) || listed[0].last_error.is_some());
    assert!(listed[0].next_fire.expect("fires again") > last);
}

/// Adding a bad or duplicate schedule fails and changes nothing; removing an unknown one is
/// `NotFound`; the next fire time follows the expression.
pub async fn schedules_are_validated_and_listed(new_queue: QueueFactory) {
    let scheduler = CronScheduler::new(new_queue(options()).await);
    let err = scheduler
        .add(ScheduleSpec::new("bad", "* * *", "t"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(scheduler.list().await.unwrap().is_empty());

    let added = scheduler
        .add(ScheduleSpec::new("monthly", "0 0 1 * *", "statement").timezone("Europe/London"))
        .await
        .unwrap();
    let next = added.next_fire.unwrap();
    let london = next.with_timezone(&chrono_tz::Europe::London);
    assert_eq!(
        (
            chrono::Datelike::day(&london),
            chrono::Timelike::hour(&london)
        ),
        (1, 0)
    );
    assert!(next > Utc::now());

    let dup = scheduler
        .add(ScheduleSpec::new("monthly", "@daily", "t"))
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    assert_eq!(
        scheduler.remove("nope").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    scheduler.remove("monthly").await.unwrap();
    assert!(scheduler.list().await.unwrap().is_empty());
    // A tick key is stable and readable.
    let tick = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        tick_key("monthly", tick),
        "cron:monthly:2026-01-01T00:00:00Z"
    );
}

/// Instantiates the scheduler suite over one queue backend.
#[macro_export]
macro_rules! scheduler_conformance {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::__trials!($crate::scheduler_suite, $crate::queue_suite::factory($factory);
                two_instances_fire_each_tick_once,
                running_scheduler_enqueues_one_job_per_tick,
                schedules_are_validated_and_listed,
            );
        }
    };
}
