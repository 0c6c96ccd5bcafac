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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, mi, s).unwrap()
    }

    fn latest(expr: &str, now: DateTime<Utc>, horizon_s: i64) -> Option<DateTime<Utc>> {
        let expr = CronExpr::parse(expr).unwrap();
        latest_tick(
            &expr,
            chrono_tz::UTC,
            now,
            chrono::Duration::seconds(horizon_s),
        )
    }

    #[test]
    fn the_latest_tick_at_or_before_now_within_the_horizon() {
        // A tick exactly now counts; so does one exactly at the horizon.
        assert_eq!(latest("* * * * * *", at(10, 0, 5), 60), Some(at(10, 0, 5)));
        assert_eq!(latest("0 * * * * *", at(10, 0, 59), 59), Some(at(10, 0, 0)));
        assert_eq!(latest("0 * * * * *", at(10, 0, 59), 58), None);
        // Daily at 02:00, looked for at 14:00: twelve hours back, found in a short walk.
        assert_eq!(
            latest("0 0 2 * * *", at(14, 0, 0), 12 * 3600),
            Some(at(2, 0, 0))
        );
        assert_eq!(latest("0 0 2 * * *", at(14, 0, 0), 3600), None);
        // A burst (every second of minute 0 of each hour), an hour and a half later.
        assert_eq!(
            latest("* 0 * * * *", at(11, 30, 0), 7200),
            Some(at(11, 0, 59))
        );
    }
}
