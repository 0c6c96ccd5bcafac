//! One job's run, the heartbeat that keeps leases alive, and the acker that completes
//! successes in batches.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pool::{Counters, Shared};
use super::{JobContext, JobError};
use crate::queue::{FailOutcome, Failure, Lease, LeaseToken};

/// The longest the pool waits for the queue to take one outcome (a fail or a release), so a
/// queue that stopped answering cannot hold a shutdown: the lease lapses instead.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Successes acknowledged per `complete_many`.
const ACK_BATCH: usize = 500;

/// How a run ended.
enum Ended {
    Done,
    Failed(JobError),
    /// Its lease was lost, or it was cancelled on request.
    Stopped,
    /// The shutdown grace ran out.
    Aborted,
}

/// Runs one leased job to its end and reports the outcome to the queue.
pub(super) async fn run_job(
    shared: Arc<Shared>,
    lease: Lease,
    stop: CancellationToken,
    lost: Arc<AtomicBool>,
) {
    let token = lease.token;
    let job_type = lease.job.job_type.clone();
    let context = JobContext {
        job: lease.job,
        shutdown: shared.shutdown.clone(),
    };
    let timeout = shared.options.job_timeout;
    let work = AssertUnwindSafe(shared.handlers.run(context)).catch_unwind();
    let ended = tokio::select! {
        finished = tokio::time::timeout(timeout, work) => match finished {
            Ok(Ok(Ok(()))) => Ended::Done,
            Ok(Ok(Err(e))) => Ended::Failed(e),
            Ok(Err(panic)) => Ended::Failed(JobError::retry(format!(
                "the handler panicked: {}",
                panic_message(panic.as_ref())
            ))),
            Err(_) => Ended::Failed(JobError::retry(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            ))),
        },
        () = stop.cancelled() => Ended::Stopped,
        () = shared.abort.cancelled() => Ended::Aborted,
    };
    shared.running().remove(&token.job_id);
    let queue = &shared.queue;
    let counters = &shared.counters;
    match ended {
        Ended::Done => {
            if shared.acks.send(token).is_err() {
                settle(&job_type, &token, queue.complete(&token)).await;
            }
        }
        Ended::Failed(error) => {
            tracing::debug!(job = %token.job_id, %job_type, error = ?error, "job failed");
            match settle(&job_type, &token, queue.fail(&token, error.into_failure())).await {
                Some(FailOutcome::Retrying { .. }) => Counters::add(&counters.retried, 1),
                Some(FailOutcome::Dead) => Counters::add(&counters.dead, 1),
                None => {}
            }
        }
        Ended::Stopped if lost.load(Ordering::Relaxed) => {
            tracing::warn!(job = %token.job_id, %job_type, "lease lost; another worker has the job");
            Counters::add(&counters.lost, 1);
        }
        Ended::Stopped => {
            let cancelled = Failure::permanent("cancelled");
            if settle(&job_type, &token, queue.fail(&token, cancelled))
                .await
                .is_some()
            {
                Counters::add(&counters.dead, 1);
            }
        }
        Ended::Aborted => {
            if settle(&job_type, &token, queue.release(&token))
                .await
                .is_some()
            {
                Counters::add(&counters.released, 1);
            }
        }
    }
}

/// Awaits one report to the queue, bounded; logs what went wrong.
async fn settle<T>(
    job_type: &str,
    token: &LeaseToken,
    report: impl Future<Output = crate::Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(SETTLE_TIMEOUT, report).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::warn!(job = %token.job_id, %job_type, error = %e, "the queue refused a job's outcome");
            None
        }
        Err(_) => {
            tracing::warn!(job = %token.job_id, %job_type, "the queue did not take a job's outcome in time; its lease will lapse");
            None
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Every third of the lease, extends the leases of every running job in one call; a job
/// whose lease is gone is stopped (another worker holds it now).
pub(super) async fn heartbeat(shared: Arc<Shared>) {
    let every = shared.options.lease / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shared.drained.cancelled() => return,
        }
        let tokens: Vec<LeaseToken> = shared.running().values().map(|r| r.token).collect();
        if tokens.is_empty() {
            continue;
        }
        let results = match shared
            .queue
            .extend_many(&tokens, shared.options.lease)
            .await
        {
            Ok(results) => results,
            Err(e) => {
                tracing::warn!(error = %e, jobs = tokens.len(), "extending leases failed");
                continue;
            }
        };
        for (token, result) in tokens.iter().zip(results) {
            let Err(e) = result else { continue };
            if !matches!(
                e.kind(),
                crate::ErrorKind::Conflict | crate::ErrorKind::NotFound
            ) {
                continue;
            }
            if let Some(running) = shared.running().get(&token.job_id) {
                if running.token == *token {
                    running.lost.store(true, Ordering::Relaxed);
                    running.stop.cancel();
                }
            }
        }
    }
}

/// Completes successful jobs in batches of up to [`ACK_BATCH`].
pub(super) async fn acknowledge(
    shared: Arc<Shared>,
    mut done: mpsc::UnboundedReceiver<LeaseToken>,
) {
    loop {
        let first = tokio::select! {
            token = done.recv() => token,
            () = shared.drained.cancelled() => done.try_recv().ok(),
        };
        let Some(first) = first else { return };
        let mut batch = vec![first];
        while batch.len() < ACK_BATCH {
            match done.try_recv() {
                Ok(token) => batch.push(token),
                Err(_) => break,
            }
        }
        match shared.queue.complete_many(&batch).await {
            Ok(results) => {
                let ok = results.iter().filter(|r| r.is_ok()).count();
                Counters::add(&shared.counters.completed, ok as u64);
                for (token, result) in batch.iter().zip(results) {
                    if let Err(e) = result {
                        tracing::warn!(job = %token.job_id, error = %e, "completing a job was refused");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = batch.len(), "completing jobs failed; their leases will lapse and they will run again");
            }
        }
    }
}
