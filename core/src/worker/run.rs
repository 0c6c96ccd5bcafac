//! One job's run, and the heartbeat that keeps leases alive and stops runs whose lease is
//! gone.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::ack::report;
use super::pool::{Counters, Shared, Stop};
use super::{JobContext, JobError};
use crate::queue::{FailOutcome, Failure, Job, Lease, LeaseToken};

/// How a run ended.
enum Ended {
    Done,
    Failed(JobError),
    /// Its lease was lost, or it was cancelled on request.
    Stopped,
    /// The shutdown grace ran out.
    Aborted,
}

impl Ended {
    /// The `outcome` label of the run's metrics.
    fn label(&self) -> &'static str {
        match self {
            Self::Done => "ok",
            Self::Failed(_) => "error",
            Self::Stopped => "stopped",
            Self::Aborted => "aborted",
        }
    }
}

/// Runs one leased job to its end and reports the outcome to the queue, inside the
/// attempt's span.
pub(super) async fn run_job(shared: Arc<Shared>, lease: Lease, stop: Stop) {
    let span = attempt_span(shared.queue.name(), &lease.job);
    run_attempt(shared, lease, stop).instrument(span).await;
}

/// The span of one attempt (`job.attempt`: the job's id, type and attempt number, and the
/// queue's backend), a child of the trace context stored with the job: every attempt of a
/// job, retries included, continues the trace of the request that enqueued it.
fn attempt_span(backend: &str, job: &Job) -> tracing::Span {
    let span = tracing::info_span!(
        target: "stack::worker",
        "job.attempt",
        otel.kind = "consumer",
        job.id = %job.id,
        job.r#type = %job.job_type,
        job.attempt = job.attempts,
        queue = backend,
    );
    if let Some(trace) = &job.trace {
        // Fails only without an OpenTelemetry layer, when there is no trace to continue.
        let _ = span.set_parent(trace.to_otel());
    }
    span
}

async fn run_attempt(shared: Arc<Shared>, lease: Lease, stop: Stop) {
    let token = lease.token;
    let job_type = lease.job.job_type.clone();
    if stop.is_lost() {
        // Lost while it waited for a slot: another worker may run it now.
        return lost(&shared, &token, &job_type);
    }
    let context = JobContext {
        job: lease.job,
        shutdown: shared.handlers_stop.clone(),
    };
    let timeout = shared.options.job_timeout;
    let work = AssertUnwindSafe(shared.handlers.run(context)).catch_unwind();
    let started = Instant::now();
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
        () = stop.token.cancelled() => Ended::Stopped,
        () = shared.abort.cancelled() => Ended::Aborted,
    };
    shared.settling(&token);
    crate::metrics::job_ended(&job_type, ended.label(), started.elapsed());
    let queue = &shared.queue;
    let counters = &shared.counters;
    match ended {
        Ended::Done => {
            if let Err(unsent) = shared.acks.send(token) {
                let token = unsent.0;
                let done = report(&shared, &token, &job_type, "completion", || {
                    queue.complete(&token)
                });
                if done.await.is_some() {
                    Counters::add(&counters.completed, 1);
                }
            }
        }
        Ended::Failed(error) => {
            tracing::debug!(job = %token.job_id, %job_type, error = ?error, "job failed");
            let failure = match error.into_failure() {
                // Not a failure: the handler hands the job back, which is only honoured once
                // the pool is shutting down; before that a release would put the job back
                // at the head of its priority with its attempt refunded, over and over,
                // never reaching the dead letters: it is a retry after the backoff then.
                None if shared.shutdown.is_cancelled() => {
                    return release(&shared, &token, &job_type).await;
                }
                None => Failure::retry("the handler released the job while the pool was running"),
                Some(failure) => failure,
            };
            let failed = report(&shared, &token, &job_type, "failure", || {
                queue.fail(&token, failure.clone())
            });
            match failed.await {
                Some(FailOutcome::Retrying { .. }) => Counters::add(&counters.retried, 1),
                Some(FailOutcome::Dead) => {
                    Counters::add(&counters.dead, 1);
                    crate::metrics::dead_lettered(&job_type);
                }
                None => {}
            }
        }
        Ended::Stopped if stop.is_lost() => lost(&shared, &token, &job_type),
        Ended::Stopped => {
            let cancelled = Failure::permanent("cancelled");
            let failed = report(&shared, &token, &job_type, "cancellation", || {
                queue.fail(&token, cancelled.clone())
            });
            if failed.await.is_some() {
                Counters::add(&counters.dead, 1);
                crate::metrics::dead_lettered(&job_type);
            }
        }
        Ended::Aborted => release(&shared, &token, &job_type).await,
    }
}

/// Hands the job back unfinished: ready again at once, its attempt not counted.
async fn release(shared: &Shared, token: &LeaseToken, job_type: &str) {
    let released = report(shared, token, job_type, "release", || {
        shared.queue.release(token)
    });
    if released.await.is_some() {
        Counters::add(&shared.counters.released, 1);
    }
}

/// A run whose lease is gone: nothing to report, the job is another worker's now.
fn lost(shared: &Shared, token: &LeaseToken, job_type: &str) {
    tracing::warn!(job = %token.job_id, %job_type, "lease lost; the job is stopped here and runs again elsewhere");
    shared.release_hold(token);
    Counters::add(&shared.counters.lost, 1);
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Every third of the lease, extends every lease the pool holds in one call (running jobs,
/// those fetched ahead and those whose outcome waits to be reported). A run whose lease the
/// queue refuses to extend, or whose lease lapses because heartbeats failed, is stopped:
/// another worker may hold the job now. Runs until the acker has flushed.
pub(super) async fn heartbeat(shared: Arc<Shared>) {
    let every = shared.options.lease / 3;
    let mut next_beat = Instant::now() + every;
    loop {
        let wake = earliest_lapse(&shared).map_or(next_beat, |at| at.min(next_beat));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = shared.flushed.cancelled() => return,
        }
        stop_lapsed(&shared);
        if Instant::now() >= next_beat {
            beat(&shared, every).await;
            next_beat = Instant::now() + every;
        }
    }
}

/// When the next lease the pool still counts on lapses.
fn earliest_lapse(shared: &Shared) -> Option<Instant> {
    shared
        .running()
        .values()
        .filter(|r| !r.stop.is_lost())
        .map(|r| r.lapses_at)
        .min()
}

/// Stops every run whose lease has lapsed.
fn stop_lapsed(shared: &Shared) {
    let now = Instant::now();
    for (token, running) in shared.running().iter() {
        if running.lapses_at <= now && !running.stop.is_lost() {
            tracing::warn!(job = %token.job_id, "a lease lapsed: heartbeats did not reach the queue in time");
            running.stop.lose();
        }
    }
}

/// Extends every live lease once, the call bounded by `every`.
async fn beat(shared: &Shared, every: Duration) {
    let tokens: Vec<LeaseToken> = shared
        .running()
        .iter()
        .filter(|(_, r)| !r.stop.is_lost())
        .map(|(token, _)| *token)
        .collect();
    if tokens.is_empty() {
        return;
    }
    let asked = Instant::now();
    let extended = shared.queue.extend_many(&tokens, shared.options.lease);
    let results = match tokio::time::timeout(every, extended).await {
        Ok(Ok(results)) => results,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, jobs = tokens.len(), "extending leases failed");
            return;
        }
        Err(_) => {
            tracing::warn!(jobs = tokens.len(), "extending leases took too long");
            return;
        }
    };
    let mut running = shared.running();
    for (token, result) in tokens.iter().zip(results) {
        let Some(held) = running.get_mut(token) else {
            continue;
        };
        match result {
            Ok(_) => held.lapses_at = asked + shared.options.lease,
            Err(e)
                if matches!(
                    e.kind(),
                    crate::ErrorKind::Conflict | crate::ErrorKind::NotFound
                ) =>
            {
                held.stop.lose();
            }
            Err(e) => tracing::warn!(job = %token.job_id, error = %e, "extending a lease failed"),
        }
    }
}
