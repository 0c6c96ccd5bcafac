//! How a claimed key is settled when its response is not simply stored: freed when the
//! request is dropped, committed with the handler's writes in a unit, or abandoned.

use std::sync::Arc;

use stack_core::idempotency::{Claim, IdempotencyStore, StoredResponse};
use stack_core::unit::Unit;

/// Frees the key if the request is dropped (its client went away) or panics before it
/// settled, so a retry need not wait out the lease.
pub(super) struct Held {
    store: Arc<dyn IdempotencyStore>,
    claim: Claim,
    armed: bool,
    /// The runtime the request runs on, taken while it runs: a dropped future may be
    /// dropped outside it (an aborted task, a runtime shutting down).
    runtime: Option<tokio::runtime::Handle>,
}

impl Held {
    /// Holds `claim` of `store` until it is settled, on the runtime the request runs on.
    pub(super) fn new(store: Arc<dyn IdempotencyStore>, claim: Claim) -> Self {
        Self {
            store,
            claim,
            armed: true,
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// The claim, now settled by the caller.
    pub(super) fn settle(mut self) -> Claim {
        self.armed = false;
        self.claim.clone()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, claim) = (Arc::clone(&self.store), self.claim.clone());
        tracing::debug!(key = %claim.key, "request dropped before it settled; freeing its key");
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move {
                if let Err(error) = store.abandon(&claim).await {
                    tracing::warn!(%error, key = %claim.key, "freeing an idempotency key failed");
                }
            });
        }
    }
}

/// Stores `response` for `claim` inside `unit` and commits both with the handler's writes.
/// When that fails, the handler's writes are undone (or their fate is unknown: a commit
/// whose reply was lost) and the key is freed unless it was stored.
///
/// # Errors
/// `Conflict` when another request took the key over; the database's.
pub(super) async fn commit_with(
    unit: Unit,
    claim: &Claim,
    response: &StoredResponse,
    store: &dyn IdempotencyStore,
) -> stack_core::Result<()> {
    let outcome = match unit.run(store.finish(claim, response)).await {
        Ok(()) => unit.commit().await,
        Err(error) => {
            if let Err(rollback) = unit.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a keyed request failed");
            }
            Err(error)
        }
    };
    if let Err(error) = &outcome {
        tracing::warn!(%error, key = %claim.key, "a keyed request's writes were not committed");
        // Frees the key only while it is still this claim's and running: a commit that went
        // through stored the response, and a retry replays it.
        abandon(store, claim).await;
    }
    outcome
}

/// Ends a request whose response is not stored: its writes roll back and its key is freed.
pub(super) async fn end(unit: Option<Unit>, claim: &Claim, store: &dyn IdempotencyStore) {
    if let Some(unit) = unit
        && let Err(error) = unit.rollback().await
    {
        tracing::warn!(%error, "rolling back a keyed request failed");
    }
    abandon(store, claim).await;
}

/// Frees `claim`'s key (a claim no longer held changes nothing); a failure is logged.
pub(super) async fn abandon(store: &dyn IdempotencyStore, claim: &Claim) {
    if let Err(error) = store.abandon(claim).await {
        tracing::warn!(%error, key = %claim.key, "freeing an idempotency key failed");
    }
}
