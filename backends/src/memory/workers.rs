//! The memory queue's worker registry: reports kept in this process, by this process's clock.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use stack_core::queue::{LiveWorker, WorkerBeat, sort_workers, ttl_millis};
use uuid::Uuid;

/// The live reports of one memory queue, by worker id.
#[derive(Debug, Default)]
pub(super) struct WorkerBook {
    live: HashMap<Uuid, LiveWorker>,
}

impl WorkerBook {
    /// Keeps `beat` (already validated) from `now` for `ttl`.
    pub(super) fn record(&mut self, beat: &WorkerBeat, ttl: Duration, now: DateTime<Utc>) {
        let expires_at = now
            .checked_add_signed(chrono::Duration::milliseconds(ttl_millis(ttl)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let live = LiveWorker {
            beat: beat.clone(),
            seen_at: now,
            expires_at,
        };
        self.live.insert(beat.id, live);
    }

    /// The reports still live at `now`; expired ones are deleted.
    pub(super) fn list(&mut self, now: DateTime<Utc>) -> Vec<LiveWorker> {
        self.live.retain(|_, w| w.expires_at > now);
        let mut all: Vec<LiveWorker> = self.live.values().cloned().collect();
        sort_workers(&mut all);
        all
    }

    pub(super) fn forget(&mut self, id: Uuid) {
        self.live.remove(&id);
    }

    /// Forgets every report (the queue was dropped).
    pub(super) fn clear(&mut self) {
        self.live.clear();
    }
}
