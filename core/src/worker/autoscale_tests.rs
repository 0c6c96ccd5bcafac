//! Every rule of the autoscaler, fed samples on a logical clock.

use std::time::Duration;

use super::*;
use crate::queue::{Priority, PriorityStats};

fn rules() -> Autoscale {
    Autoscale {
        min: 2,
        max: 5,
        step: 1,
        ready_depth_above: 10,
        oldest_ready_age_above: Duration::from_secs(5),
        idle_for: Duration::from_secs(30),
        cooldown: Duration::from_secs(10),
        check_interval: Duration::from_secs(1),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn backlog(ready: u64, busy: usize) -> Sample {
    Sample {
        ready,
        oldest_ready_age: Some(secs(1)),
        busy,
    }
}

fn idle(busy: usize) -> Sample {
    Sample {
        ready: 0,
        oldest_ready_age: None,
        busy,
    }
}

/// Feeds the same sample every second from `from` to `to` (inclusive); the sizes chosen,
/// with when.
fn run(scaler: &mut Scaler, from: u64, to: u64, sample: Sample) -> Vec<(u64, usize)> {
    (from..=to)
        .filter_map(|t| scaler.decide(secs(t), &sample).map(|size| (t, size)))
        .collect()
}

#[test]
fn starts_at_min_and_grows_by_step_under_a_deep_backlog_once_per_cooldown() {
    let mut scaler = Scaler::new(rules());
    assert_eq!(scaler.size, 2);
    // 11 ready is above the threshold of 10: grow at once, then once per cooldown, to max.
    let changes = run(&mut scaler, 0, 60, backlog(11, 2));
    assert_eq!(changes, [(0, 3), (10, 4), (20, 5)]);
}

#[test]
fn a_depth_at_the_threshold_does_not_grow_but_an_old_job_does() {
    let mut scaler = Scaler::new(rules());
    assert_eq!(run(&mut scaler, 0, 20, backlog(10, 2)), []);
    let old = Sample {
        ready: 1,
        oldest_ready_age: Some(Duration::from_millis(5_001)),
        busy: 2,
    };
    let at_threshold = Sample {
        oldest_ready_age: Some(secs(5)),
        ..old
    };
    assert_eq!(run(&mut scaler, 21, 30, at_threshold), []);
    assert_eq!(scaler.decide(secs(31), &old), Some(3));
}

#[test]
fn a_bigger_step_stops_at_max() {
    let mut scaler = Scaler::new(Autoscale { step: 2, ..rules() });
    assert_eq!(run(&mut scaler, 0, 40, backlog(100, 2)), [(0, 4), (10, 5)]);
}

#[test]
fn shrinks_after_the_idle_period_then_once_per_cooldown_down_to_min() {
    let mut scaler = Scaler::new(rules());
    run(&mut scaler, 0, 20, backlog(100, 5));
    assert_eq!(scaler.size, 5);
    // Idle from 21: the first shrink at 21 + 30, then every cooldown, never below min.
    let changes = run(&mut scaler, 21, 200, idle(0));
    assert_eq!(changes, [(51, 4), (61, 3), (71, 2)]);
}

#[test]
fn any_sample_that_is_not_idle_restarts_the_idle_period() {
    let mut scaler = Scaler::new(rules());
    run(&mut scaler, 0, 20, backlog(100, 5));
    assert_eq!(run(&mut scaler, 21, 49, idle(1)), []);
    // One ready job (under the growth threshold) at 50: not idle, not pressed.
    assert_eq!(scaler.decide(secs(50), &backlog(1, 1)), None);
    assert_eq!(run(&mut scaler, 51, 80, idle(1)), []);
    assert_eq!(scaler.decide(secs(81), &idle(1)), Some(4));
}

#[test]
fn every_worker_busy_is_not_idle_and_a_shrink_keeps_the_running_jobs() {
    let mut scaler = Scaler::new(rules());
    run(&mut scaler, 0, 20, backlog(100, 5));
    // An empty queue but all five workers busy: no shrink, however long.
    assert_eq!(run(&mut scaler, 21, 200, idle(5)), []);
    // Four busy: one idle worker, so the pool shrinks by one only.
    assert_eq!(run(&mut scaler, 201, 400, idle(4)), [(231, 4)]);
}

#[test]
fn a_backlog_right_after_a_change_waits_for_the_cooldown() {
    let mut scaler = Scaler::new(rules());
    run(&mut scaler, 0, 20, backlog(100, 5));
    let changes = run(&mut scaler, 21, 60, idle(0));
    assert_eq!(changes, [(51, 4)]);
    // A backlog arrives 1s after a shrink: no growth until the cooldown has passed.
    assert_eq!(run(&mut scaler, 61, 61, backlog(100, 4)), [(61, 5)]);
    let mut scaler = Scaler::new(rules());
    run(&mut scaler, 0, 20, backlog(100, 5));
    run(&mut scaler, 21, 51, idle(0));
    assert_eq!(run(&mut scaler, 52, 61, backlog(100, 4)), [(61, 5)]);
}

#[test]
fn alternating_samples_never_change_the_size_twice_within_the_cooldown() {
    let mut scaler = Scaler::new(Autoscale {
        idle_for: secs(1),
        ..rules()
    });
    let mut changes = Vec::new();
    for t in 0..200 {
        let sample = if t % 4 < 2 { backlog(100, 0) } else { idle(0) };
        if let Some(size) = scaler.decide(secs(t), &sample) {
            changes.push(t);
            assert!((2..=5).contains(&size), "{size} is outside [2, 5]");
        }
    }
    assert!(changes.len() > 2, "{changes:?}");
    for pair in changes.windows(2) {
        assert!(
            pair[1] - pair[0] >= 10,
            "changed twice in the cooldown: {changes:?}"
        );
    }
}

#[test]
fn min_equal_to_max_never_changes() {
    let mut scaler = Scaler::new(Autoscale {
        min: 3,
        max: 3,
        ..rules()
    });
    assert_eq!(run(&mut scaler, 0, 100, backlog(1000, 3)), []);
    assert_eq!(run(&mut scaler, 101, 300, idle(0)), []);
}

#[test]
fn a_sample_reads_the_oldest_age_across_priorities() {
    let mut stats = QueueStats::default();
    let at = |ready, age| PriorityStats {
        ready,
        oldest_ready_age_ms: age,
    };
    stats.by_priority.insert(Priority::High, at(2, Some(300)));
    stats.by_priority.insert(Priority::Low, at(5, Some(9_000)));
    stats.by_priority.insert(Priority::Normal, at(0, None));
    let sample = Sample::new(&stats, 3);
    assert_eq!(sample.ready, 7);
    assert_eq!(sample.oldest_ready_age, Some(Duration::from_secs(9)));
    assert_eq!(sample.busy, 3);
}

#[test]
fn bad_rules_are_each_named() {
    assert!(Autoscale::default().problems().is_empty());
    let bad = Autoscale {
        min: 0,
        max: 1_001,
        step: 0,
        ready_depth_above: 0,
        oldest_ready_age_above: Duration::ZERO,
        idle_for: Duration::MAX,
        cooldown: Duration::from_secs(24 * 3600 + 1),
        check_interval: Duration::ZERO,
    };
    let fields: Vec<&str> = bad.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "min",
            "max",
            "step",
            "oldest_ready_age_above",
            "idle_for",
            "cooldown",
            "check_interval"
        ]
    );
    let inverted = Autoscale {
        min: 4,
        max: 3,
        ..Autoscale::default()
    };
    assert_eq!(
        inverted.problems(),
        [("max", "must be at least min (4)".to_owned())]
    );
}
