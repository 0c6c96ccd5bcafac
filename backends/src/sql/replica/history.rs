//! How far a standby is behind its primary, from positions in the write-ahead log alone: no
//! server clock is read, so no clock skew can make a lag look smaller (or negative).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Most positions of the primary kept; at one check a second, over an hour.
const MOST: usize = 4096;

/// How far behind: the WAL bytes the primary had (when last asked) that the standby has not
/// replayed, and the time since the primary was last seen at or before what the standby has
/// replayed (so the standby is at least as fresh as the primary was then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Behind {
    /// WAL bytes not replayed yet.
    pub(super) bytes: u64,
    /// How old the standby's data may be.
    pub(super) time: Duration,
}

/// The primary's WAL positions (`pg_current_wal_lsn()`, as bytes), each with the time just
/// before it was asked: the primary was at or before that position then.
#[derive(Debug, Default)]
pub(super) struct WalHistory {
    positions: VecDeque<(u64, Instant)>,
}

impl WalHistory {
    /// The primary was at `lsn` at some moment after `asked_at`.
    pub(super) fn record(&mut self, lsn: u64, asked_at: Instant) {
        if self.positions.back().is_some_and(|&(last, _)| lsn < last) {
            // The WAL went back: another primary (a failover). Its past is unknown.
            self.positions.clear();
        }
        if self.positions.len() == MOST {
            self.positions.pop_front();
        }
        self.positions.push_back((lsn, asked_at));
    }

    /// How far behind a standby that has replayed up to `replayed` is at `now`; `None` before
    /// any position is recorded. Positions older than the last one the standby has reached are
    /// dropped: what it replays only grows.
    pub(super) fn behind(&mut self, replayed: u64, now: Instant) -> Option<Behind> {
        let &(latest, _) = self.positions.back()?;
        let reached = self.positions.iter().rposition(|&(lsn, _)| lsn <= replayed);
        let since = match reached {
            Some(at) => {
                self.positions.drain(..at);
                self.positions.front().map(|&(_, asked)| asked)
            }
            // Behind every position kept: at least as old as the oldest.
            None => self.positions.front().map(|&(_, asked)| asked),
        }?;
        Some(Behind {
            bytes: latest.saturating_sub(replayed),
            time: now.saturating_duration_since(since),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_behind_is_as_old_as_the_last_position_it_reached() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut history = WalHistory::default();
        assert_eq!(history.behind(0, at(0)), None);
        history.record(100, at(0));
        history.record(200, at(1000));
        history.record(300, at(2000));
        let behind = history.behind(250, at(2500)).unwrap();
        assert_eq!(behind.bytes, 50);
        assert_eq!(behind.time, Duration::from_millis(1500), "at 200 since 1 s");
        // Caught up: only the time since the primary was asked.
        let current = history.behind(300, at(2600)).unwrap();
        assert_eq!(current.bytes, 0);
        assert_eq!(current.time, Duration::from_millis(600));
    }

    #[test]
    fn behind_every_position_is_at_least_as_old_as_the_oldest() {
        let start = Instant::now();
        let mut history = WalHistory::default();
        history.record(100, start);
        history.record(200, start + Duration::from_secs(5));
        let behind = history.behind(50, start + Duration::from_secs(6)).unwrap();
        assert_eq!((behind.bytes, behind.time), (150, Duration::from_secs(6)));
    }

    #[test]
    fn a_wal_that_goes_back_starts_over() {
        let start = Instant::now();
        let mut history = WalHistory::default();
        history.record(500, start);
        history.record(10, start + Duration::from_secs(3));
        let behind = history.behind(10, start + Duration::from_secs(3)).unwrap();
        assert_eq!((behind.bytes, behind.time), (0, Duration::ZERO));
    }
}
