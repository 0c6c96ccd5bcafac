//! The Redis queue's worker registry: a hash under the queue's hash tag, kept by
//! `lua/workers.lua` with times by the server's clock.

use std::time::Duration;

use stack_core::Result;
use stack_core::queue::{LiveWorker, WorkerBeat, sort_workers, ttl_millis};
use uuid::Uuid;

use super::RedisQueue;
use super::scripts::Op;

impl RedisQueue {
    /// Stores `beat` for `ttl` (see [`Queue::record_worker`](stack_core::queue::Queue)).
    pub(super) async fn record_worker_entry(&self, beat: &WorkerBeat, ttl: Duration) -> Result<()> {
        beat.validate(ttl)?;
        let args = [
            "beat".to_owned(),
            beat.id.to_string(),
            beat.to_json()?,
            ttl_millis(ttl).to_string(),
        ];
        self.run(Op::Workers, &args).await.map(drop)
    }

    /// The live reports (the script deletes expired ones).
    pub(super) async fn worker_entries(&self) -> Result<Vec<LiveWorker>> {
        let values = self.run(Op::Workers, &["list".to_owned()]).await?;
        let mut live: Vec<LiveWorker> = values.iter().filter_map(|v| parse(v)).collect();
        if live.len() < values.len() {
            tracing::warn!(
                skipped = values.len() - live.len(),
                "worker reports that cannot be read are skipped"
            );
        }
        sort_workers(&mut live);
        Ok(live)
    }

    /// Deletes worker `id`'s report.
    pub(super) async fn forget_worker_entry(&self, id: Uuid) -> Result<()> {
        let args = ["forget".to_owned(), id.to_string()];
        self.run(Op::Workers, &args).await.map(drop)
    }
}

/// `seen|expires|report` as the script stores it.
fn parse(value: &str) -> Option<LiveWorker> {
    let mut parts = value.splitn(3, '|');
    let seen = parts.next()?.parse().ok()?;
    let expires = parts.next()?.parse().ok()?;
    LiveWorker::from_stored(parts.next()?, seen, expires)
}
