//! What a schedule does about ticks nobody fired in time, and how late a tick may still be
//! enqueued.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CronExpr;

/// What a schedule does about ticks that were not fired in time: every instance was down
/// when they came (found when an instance starts), or this instance was stalled past the
/// tick's enqueue window (found when it wakes). Each schedule picks its own
/// ([`ScheduleSpec::missed`](super::ScheduleSpec::missed)); see docs/architecture.md ("Once per tick across instances").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedTicks {
    /// Missed ticks are not run; the schedule resumes at its next tick (the default: a
    /// heartbeat or a cache refresh has no use for old ticks).
    #[default]
    Skip,
    /// The latest missed tick is run once, under its own tick key, so that instances which
    /// start together, or an instance that ran it before, enqueue it once; older missed ticks
    /// are not. Only a tick younger than the scheduler's catch-up horizon (half the queue's
    /// retention of unique keys) counts: an older one might have run and been forgotten.
    RunLatest,
}

/// The latest tick of `expr` (in `tz`) at or before `now` and no older than `horizon`;
/// `None` when there is none.
pub(super) fn latest_tick(
    expr: &CronExpr,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    horizon: chrono::Duration,
) -> Option<DateTime<Utc>> {
    let earliest = now - horizon;
    // Look back 1 s, 2 s, 4 s ... until a tick falls in (probe, now]: at most about twice the
    // gap between ticks, so the walk forward below stays short.
    let mut back = chrono::Duration::seconds(1).min(horizon);
    let first = loop {
        let probe = now - back;
        // A tick exactly at `earliest` counts: `next_after` is strict, so start just before.
        let from = probe.max(earliest) - chrono::Duration::milliseconds(1);
        match expr.next_after(from, tz) {
            Some(tick) if tick <= now => break tick,
            _ if back >= horizon => return None,
            _ => back = (back * 2).min(horizon),
        }
    };
    let mut latest = first;
    while let Some(next) = expr.next_after(latest, tz).filter(|t| *t <= now) {
        latest = next;
    }
    Some(latest)
}
