//! Deleting expired idempotency records, in bounded batches, now or periodically.
//!
//! An expired key is free on lookup anyway (`begin` takes it over); the purge only keeps the
//! table from growing. Each batch is one statement deleting at most `batch` rows, so it
//! never holds the table for long.

use std::sync::Arc;
use std::time::Duration;

use stack_core::Result;
use stack_core::idempotency::IdempotencyStore;
use tokio_util::sync::CancellationToken;

/// Rows per batch that [`purge_every`] deletes.
pub const PURGE_BATCH: u32 = 1_000;

/// Deletes every expired record, `batch` at a time (at least 1); answers how many.
///
/// # Errors
/// The first batch that fails; the batches before it stay deleted.
pub async fn purge_expired(store: &dyn IdempotencyStore, batch: u32) -> Result<u64> {
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let deleted = store.purge_expired(batch).await?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
        // Let other work at the database between batches.
        tokio::task::yield_now().await;
    }
}

/// Runs [`purge_expired`] every `every` until `stop` is cancelled; a failed run is logged and
/// retried at the next tick. Spawn it beside the server:
/// `tokio::spawn(purge_every(store, Duration::from_secs(300), shutdown.clone()))`.
pub async fn purge_every(
    store: Arc<dyn IdempotencyStore>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match purge_expired(store.as_ref(), PURGE_BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "expired idempotency keys purged"),
            Err(error) => tracing::warn!(%error, "purging expired idempotency keys failed"),
        }
    }
}
