//! The [`Scheduler`] conformance suite, run over every [`Queue`](stack_core::queue::Queue)
//! backend: a tick becomes one job however many scheduler instances share the queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use stack_core::ErrorKind;
use stack_core::queue::Enqueued;
use stack_core::scheduler::{CronScheduler, ScheduleSpec, Scheduler, TickRetry, tick_key};

use crate::faulty_queue::FaultyQueue;

mod instances;

pub use instances::*;

use crate::queue_suite::{LONG_LEASE, QueueFactory, options};

/// Two instances firing the same tick store one job: the second gets a duplicate.
pub async fn two_instances_fire_each_tick_once(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let one = CronScheduler::new(Arc::clone(&queue));
    let two = CronScheduler::new(Arc::clone(&queue));
    let mut next = None;
    for scheduler in [&one, &two] {
        next = scheduler
            .add(ScheduleSpec::new("settle", "@yearly", "settle_batch"))
            .await
            .unwrap()
            .next_fire;
    }
    // Both instances' next tick is the coming 1 January: fire it as if that day had come.
    let now = next.expect("a yearly schedule fires");
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

/// A tick whose enqueue fails is retried with the same key until it is enqueued; meanwhile
/// `list` shows the error, and no tick is skipped.
pub async fn a_failed_tick_is_retried_with_the_same_key(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let faulty = Arc::new(FaultyQueue::new(Arc::clone(&queue)));
    let scheduler = CronScheduler::new(faulty.clone());
    let added = scheduler
        .add(ScheduleSpec::new("settle", "@yearly", "settle_batch"))
        .await
        .unwrap();
    let tick = added.next_fire.unwrap();
    faulty.fail_next(2);
    let now = tick + chrono::Duration::seconds(1);
    assert!(scheduler.fire_due(now).await[0].1.is_err());
    let listed = scheduler.list().await.unwrap();
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("retrying")),
        "{listed:?}"
    );
    assert_eq!(listed[0].next_fire, Some(tick), "the failed tick stays due");
    assert!(
        scheduler.fire_due(now).await.is_empty(),
        "a retry waits its turn"
    );
    assert!(
        scheduler.fire_due(now + chrono::Duration::seconds(5)).await[0]
            .1
            .is_err()
    );
    let done = scheduler
        .fire_due(now + chrono::Duration::seconds(30))
        .await;
    assert!(done[0].1.as_ref().unwrap().is_created());
    let listed = scheduler.list().await.unwrap();
    assert_eq!(listed[0].last_fire, Some(tick));
    assert_eq!(listed[0].last_error, None);
    assert!(listed[0].next_fire.unwrap() > tick);
    let lease = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert_eq!(lease.len(), 1);
    assert_eq!(
        lease[0].job.unique_key.as_deref(),
        Some(tick_key("settle", tick).as_str())
    );
    assert_eq!(faulty.attempts(), 3);
}

/// A tick that cannot be enqueued within the retry window is given up, with its error kept,
/// and the schedule moves on.
pub async fn a_tick_is_given_up_after_the_retry_window(new_queue: QueueFactory) {
    let faulty = Arc::new(FaultyQueue::new(new_queue(options()).await));
    let retry = TickRetry {
        window: Duration::from_secs(2),
        ..TickRetry::default()
    };
    let scheduler = CronScheduler::new(faulty.clone()).with_retry(retry);
    let tick = scheduler
        .add(ScheduleSpec::new("settle", "@yearly", "t"))
        .await
        .unwrap()
        .next_fire
        .unwrap();
    faulty.fail_next(u32::MAX);
    scheduler.fire_due(tick).await;
    scheduler
        .fire_due(tick + chrono::Duration::seconds(3))
        .await;
    let listed = scheduler.list().await.unwrap();
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("skipped")),
        "{listed:?}"
    );
    assert!(listed[0].next_fire.unwrap() > tick + chrono::Duration::days(300));
}

/// `stop` returns promptly even while an enqueue hangs.
pub async fn stop_does_not_wait_for_a_stuck_enqueue(new_queue: QueueFactory) {
    let faulty = Arc::new(FaultyQueue::new(new_queue(options()).await));
    faulty.hang();
    let scheduler = CronScheduler::new(faulty.clone());
    scheduler
        .add(ScheduleSpec::new("beat", "* * * * * *", "t"))
        .await
        .unwrap();
    scheduler.start().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while faulty.attempts() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no enqueue attempted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = tokio::time::timeout(Duration::from_secs(5), scheduler.stop()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "stop hung behind the enqueue"
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
                a_failed_tick_is_retried_with_the_same_key,
                a_tick_is_given_up_after_the_retry_window,
                stop_does_not_wait_for_a_stuck_enqueue,
                three_instances_run_each_tick_of_a_minute_once,
                a_stalled_instance_does_not_enqueue_a_tick_the_queue_may_have_forgotten,
                missed_ticks_follow_the_schedule_policy_at_start,
            );
        }
    };
}
