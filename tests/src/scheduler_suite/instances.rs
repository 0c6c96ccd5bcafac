//! Cron across instances: several schedulers on one queue run each tick once, a stalled
//! instance does not enqueue a tick whose key the queue may have forgotten, and missed ticks
//! follow each schedule's policy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use stack_core::ErrorKind;
use stack_core::queue::Queue;
use stack_core::scheduler::{
    CronScheduler, MissedTicks, ScheduleSpec, Scheduler, TickRetry, tick_key,
};

use crate::queue_suite::{LONG_LEASE, QueueFactory, options};

/// Runs every ready job of `queue` to completion; adds each job's unique key to `runs`.
async fn run_ready(queue: &dyn Queue, runs: &mut BTreeMap<String, u32>) {
    loop {
        let leases = queue.reserve(100, LONG_LEASE).await.unwrap();
        if leases.is_empty() {
            return;
        }
        for lease in leases {
            let key = lease
                .job
                .unique_key
                .clone()
                .expect("a tick's job has a key");
            *runs.entry(key).or_default() += 1;
            queue.complete(&lease.token).await.unwrap();
        }
    }
}

/// Three instances of an every-second schedule on one queue, over a minute of ticks: each
/// fires every tick (the first on time, the others up to 0.9 s late, in a changing order),
/// and the jobs run and complete between the instances' fires, so a late instance finds the
/// tick's job already done. Each of the 60 ticks runs exactly once.
///
/// The schedulers' clock is driven ([`CronScheduler::fire_due`]), so the minute takes well
/// under a second; the queue keeps its own clock, and keeps the key of a completed tick for
/// its retention (a day), longer than any instance may still enqueue the tick.
pub async fn three_instances_run_each_tick_of_a_minute_once(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    let instances: Vec<CronScheduler> = (0..3)
        .map(|_| CronScheduler::new(Arc::clone(&queue)))
        .collect();
    let mut first = None;
    for scheduler in &instances {
        let added = scheduler
            .add(ScheduleSpec::new("beat", "* * * * * *", "beat"))
            .await
            .unwrap();
        first = first.or(added.next_fire);
    }
    let first = first.expect("an every-second schedule fires");
    let lateness = [0, 300, 900].map(chrono::Duration::milliseconds);
    let mut runs = BTreeMap::new();
    let mut created = 0;
    for second in 0..60 {
        let tick = first + chrono::Duration::seconds(second);
        for turn in 0..3 {
            // A different instance goes first each tick.
            let index = usize::try_from((second + turn) % 3).unwrap();
            let now = tick + lateness[usize::try_from(turn).unwrap()];
            for (name, outcome) in instances[index].fire_due(now).await {
                assert_eq!(name, "beat");
                if outcome.unwrap().is_created() {
                    created += 1;
                }
            }
            // The tick's job runs and completes before the later instances fire it.
            run_ready(queue.as_ref(), &mut runs).await;
        }
    }
    let expected: BTreeMap<String, u32> = (0..60)
        .map(|s| (tick_key("beat", first + chrono::Duration::seconds(s)), 1))
        .collect();
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "ticks that ran more than once: {twice:?}");
    assert_eq!(runs, expected, "each tick of the minute runs once");
    assert_eq!(created, 60);
}

// Three instances on one PostgreSQL (and on one SQLite file): the same trial, instantiated
// by `tests/tests/sql_queue.rs`'s `scheduler_conformance!` lines.

/// An instance that was stalled past a tick's window does not enqueue it when it wakes:
/// the queue may have forgotten the tick's key (here it keeps keys 2 s), so the tick would
/// run twice. It skips the tick, or runs the latest one, as the schedule says; and a
/// scheduler refuses to start on a queue that keeps keys for less than twice its window.
pub async fn a_stalled_instance_does_not_enqueue_a_tick_the_queue_may_have_forgotten(
    new_queue: QueueFactory,
) {
    let mut opts = options();
    opts.completed_retention = Duration::from_secs(2);
    let queue = new_queue(opts).await;
    let retry = TickRetry {
        window: Duration::from_millis(500),
        ..TickRetry::default()
    };
    let on_time = CronScheduler::new(Arc::clone(&queue)).with_retry(retry);
    let stalled = CronScheduler::new(Arc::clone(&queue)).with_retry(retry);
    let catching_up = CronScheduler::new(Arc::clone(&queue)).with_retry(retry);
    let spec = ScheduleSpec::new("beat", "* * * * * *", "beat");
    on_time.add(spec.clone()).await.unwrap();
    stalled.add(spec.clone()).await.unwrap();
    let tick = catching_up
        .add(spec.missed(MissedTicks::RunLatest))
        .await
        .unwrap()
        .next_fire
        .unwrap();
    let mut runs = BTreeMap::new();
    assert!(
        on_time.fire_due(tick).await[0]
            .1
            .as_ref()
            .unwrap()
            .is_created()
    );
    run_ready(queue.as_ref(), &mut runs).await;
    // Past the retention (the queue's own clock): the completed tick's key is free again.
    tokio::time::sleep(Duration::from_millis(2300)).await;

    let woke = tick + chrono::Duration::milliseconds(2400);
    let skipped = stalled.fire_due(woke).await;
    assert!(skipped.is_empty(), "a stale tick was enqueued: {skipped:?}");
    let listed = stalled.list().await.unwrap();
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("skipped")),
        "{listed:?}"
    );
    assert!(listed[0].next_fire.unwrap() > woke);

    let caught = catching_up.fire_due(woke).await;
    let latest = tick + chrono::Duration::seconds(2);
    assert_eq!(caught.len(), 1);
    assert!(caught[0].1.as_ref().unwrap().is_created());
    run_ready(queue.as_ref(), &mut runs).await;
    let expected = BTreeMap::from([(tick_key("beat", tick), 1), (tick_key("beat", latest), 1)]);
    assert_eq!(
        runs, expected,
        "the stale tick ran twice, or the latest not at all"
    );

    let err = CronScheduler::new(Arc::clone(&queue))
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
}

/// Ticks missed while the instance was down: at start a `RunLatest` schedule enqueues the
/// latest one at once (once, however many instances start), a `Skip` schedule waits for
/// its next tick.
pub async fn missed_ticks_follow_the_schedule_policy_at_start(new_queue: QueueFactory) {
    let queue = new_queue(options()).await;
    // Second 0 of every minute: at start, the latest tick is under a minute old.
    let every_minute = "0 * * * * *";
    let latest = |spec: &str| ScheduleSpec::new(spec, every_minute, spec);
    let starting: Vec<CronScheduler> = (0..2)
        .map(|_| CronScheduler::new(Arc::clone(&queue)))
        .collect();
    for scheduler in &starting {
        scheduler
            .add(latest("catch-up").missed(MissedTicks::RunLatest))
            .await
            .unwrap();
        scheduler.add(latest("skip")).await.unwrap();
        scheduler.start().await.unwrap();
    }
    let started_at: DateTime<Utc> = Utc::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut runs = BTreeMap::new();
    let caught = loop {
        run_ready(queue.as_ref(), &mut runs).await;
        if let Some(key) = runs.keys().find(|k| k.starts_with("cron:catch-up:")) {
            break key.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the missed tick was not run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let skip_next = starting[0]
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.spec.name == "skip")
        .and_then(|s| s.next_fire)
        .unwrap();
    for scheduler in &starting {
        scheduler.stop().await.unwrap();
    }
    run_ready(queue.as_ref(), &mut runs).await;
    let tick = DateTime::parse_from_rfc3339(caught.trim_start_matches("cron:catch-up:"))
        .unwrap()
        .with_timezone(&Utc);
    assert!(tick <= started_at, "{tick} is not a missed tick");
    assert!(started_at - tick < chrono::Duration::seconds(60));
    assert_eq!(
        runs.get(&caught),
        Some(&1),
        "two instances, one run: {runs:?}"
    );
    assert!(skip_next > tick, "a skipped tick is not due at start");
    let skipped = tick_key("skip", tick);
    assert!(!runs.contains_key(&skipped), "{runs:?}");
}
