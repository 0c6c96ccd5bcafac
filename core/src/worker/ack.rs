//! Reporting outcomes to the queue: each report is retried, with jittered backoff, for as long
//! as the job's lease allows, so a short outage neither re-runs finished jobs nor loses a
//! failure's error. The heartbeat keeps renewing a lease while its outcome waits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::pool::{Counters, Shared};
use crate::queue::LeaseToken;

/// The longest one call reporting an outcome may take before it is abandoned and tried again.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Successes acknowledged per `complete_many`.
const ACK_BATCH: usize = 500;

/// Reports one outcome of `token` (`what` names it for the log) until the queue takes it,
/// refuses it for good (a conflict: the lease is someone else's), or the lease lapses.
/// Answers the queue's reply when it took the report. The pool stops holding the lease either
/// way.
pub(super) async fn report<T, F, Fut>(
    shared: &Shared,
    token: &LeaseToken,
    job_type: &str,
    what: &str,
    mut call: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    let mut failures = 0u32;
    let outcome = loop {
        let Some(left) = shared.lease_left(token) else {
            tracing::warn!(job = %token.job_id, %job_type, failures, "the lease lapsed before the queue took the job's {what}; the job will run again");
            break None;
        };
        let error = match tokio::time::timeout(left.min(CALL_TIMEOUT), call()).await {
            Ok(Ok(value)) => break Some(value),
            Ok(Err(e)) if !e.is_temporary() => {
                tracing::warn!(job = %token.job_id, %job_type, error = %e, "the queue refused the job's {what}");
                break None;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        failures += 1;
        if failures == 1 {
            tracing::warn!(job = %token.job_id, %job_type, %error, "reporting the job's {what} failed; retrying while its lease lasts");
        }
        pause(shared, failures, left).await;
    };
    shared.release_hold(token);
    outcome
}

/// Sleeps the report backoff after `failures` failed calls, never past the lease (`left`).
async fn pause(shared: &Shared, failures: u32, left: Duration) {
    let delay = shared.report_backoff.delay(failures).min(left);
    tokio::time::sleep(delay).await;
}

/// Completes successful jobs in batches of up to [`ACK_BATCH`]. A batch the queue did not
/// take is tried again (with what arrived meanwhile) after a backoff; a token is dropped only
/// when the queue refuses it or its lease lapses. After every job task has ended it flushes
/// what is left the same way, then lets the heartbeat stop.
pub(super) async fn acknowledge(
    shared: Arc<Shared>,
    mut done: mpsc::UnboundedReceiver<LeaseToken>,
) {
    let mut pending: Vec<LeaseToken> = Vec::new();
    let mut failures = 0u32;
    let mut retry_at: Option<Instant> = None;
    loop {
        if let Some(at) = retry_at.take() {
            tokio::time::sleep_until(at).await;
        } else if pending.is_empty() {
            let first = tokio::select! {
                token = done.recv() => token,
                () = shared.drained.cancelled() => done.try_recv().ok(),
            };
            let Some(first) = first else { break };
            pending.push(first);
        }
        while let Ok(token) = done.try_recv() {
            pending.push(token);
        }
        pending.retain(|token| {
            let live = shared.lease_left(token).is_some();
            if !live {
                tracing::warn!(job = %token.job_id, failures, "the lease lapsed before the queue took the job's completion; the job will run again");
                shared.release_hold(token);
            }
            live
        });
        let Some(bound) = pending.iter().filter_map(|t| shared.lease_left(t)).max() else {
            continue;
        };
        let batch: Vec<LeaseToken> = pending.drain(..pending.len().min(ACK_BATCH)).collect();
        let outcome =
            tokio::time::timeout(bound.min(CALL_TIMEOUT), shared.queue.complete_many(&batch)).await;
        let error = match outcome {
            Ok(Ok(results)) => {
                let mut again = Vec::new();
                let mut results = results.into_iter();
                for token in batch {
                    match results.next() {
                        Some(Ok(())) => {
                            Counters::add(&shared.counters.completed, 1);
                            shared.release_hold(&token);
                        }
                        Some(Err(e)) if !e.is_temporary() => {
                            tracing::warn!(job = %token.job_id, error = %e, "the queue refused a job's completion");
                            shared.release_hold(&token);
                        }
                        // A temporary error, or no answer for this token: try it again.
                        Some(Err(_)) | None => again.push(token),
                    }
                }
                if again.is_empty() {
                    failures = 0;
                    continue;
                }
                pending.splice(0..0, again);
                "some completions were not taken".to_owned()
            }
            Ok(Err(e)) => {
                pending.splice(0..0, batch);
                e.to_string()
            }
            Err(_) => {
                pending.splice(0..0, batch);
                "no answer in time".to_owned()
            }
        };
        failures += 1;
        if failures == 1 {
            tracing::warn!(%error, jobs = pending.len(), "completing jobs failed; retrying while their leases last");
        }
        retry_at = Some(Instant::now() + shared.report_backoff.delay(failures).min(bound));
    }
    shared.flushed.cancel();
}
