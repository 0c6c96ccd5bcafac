//! Rows of `stack_jobs` to jobs and leases.

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, TryGetable};
use serde::Deserialize;
use stack_core::queue::{AttemptError, Job, JobState, Lease, LeaseToken, Priority, TraceContext};
use stack_core::{Error, Result};
use uuid::Uuid;

/// The rank stored for a priority: 0 is the most urgent, so `ORDER BY priority` takes
/// work in the order [`Priority::URGENT_FIRST`] gives.
pub(super) fn rank(priority: Priority) -> i64 {
    match priority {
        Priority::Critical => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

fn priority_of(rank: i64) -> Result<Priority> {
    usize::try_from(rank)
        .ok()
        .and_then(|r| Priority::URGENT_FIRST.get(r).copied())
        .ok_or_else(|| Error::backend(format!("stack_jobs: priority {rank} is not 0 to 3")))
}

fn state_of(text: &str) -> Result<JobState> {
    Ok(match text {
        "pending" => JobState::Pending,
        "running" => JobState::Running,
        "completed" => JobState::Completed,
        "dead" => JobState::Dead,
        other => {
            return Err(Error::backend(format!(
                "stack_jobs: unknown state `{other}`"
            )));
        }
    })
}

pub(super) fn get<T: TryGetable>(row: &QueryResult, column: &str) -> Result<T> {
    row.try_get("", column)
        .map_err(|e| Error::backend(format!("stack_jobs: reading column {column}: {e}")))
}

/// A time stored as milliseconds since the epoch.
pub(super) fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Error::backend(format!("stack_jobs: time {ms} ms is out of range")))
}

fn count(row: &QueryResult, column: &str) -> Result<u32> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|_| Error::backend(format!("stack_jobs: {column} {n} out of range")))
}

/// One entry of the stored error history.
#[derive(Deserialize)]
struct StoredError {
    attempt: i64,
    at: i64,
    message: String,
}

/// The job a row holds.
pub(super) fn job(row: &QueryResult) -> Result<Job> {
    let payload: String = get(row, "payload")?;
    let errors: String = get(row, "errors")?;
    let errors: Vec<StoredError> = serde_json::from_str(&errors)
        .map_err(|e| Error::backend(format!("stack_jobs: error history: {e}")))?;
    Ok(Job {
        id: get(row, "id")?,
        job_type: get(row, "job_type")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| Error::backend(format!("stack_jobs: payload: {e}")))?,
        priority: priority_of(get(row, "priority")?)?,
        state: state_of(&get::<String>(row, "state")?)?,
        run_at: time(get(row, "run_at")?)?,
        enqueued_at: time(get(row, "enqueued_at")?)?,
        attempts: count(row, "attempts")?,
        max_attempts: count(row, "max_attempts")?,
        unique_key: get(row, "unique_key")?,
        last_error: get(row, "last_error")?,
        errors: errors
            .into_iter()
            .map(|e| {
                Ok(AttemptError {
                    attempt: u32::try_from(e.attempt).unwrap_or(0),
                    at: time(e.at)?,
                    message: e.message,
                })
            })
            .collect::<Result<_>>()?,
        // A stored context that is not valid (written by hand) is dropped, not an error.
        trace: get::<Option<String>>(row, "trace_context")?
            .as_deref()
            .and_then(TraceContext::from_stored),
    })
}

/// The lease a row of a job just reserved holds.
pub(super) fn lease(row: &QueryResult) -> Result<Lease> {
    let job = job(row)?;
    let lease_id: Option<Uuid> = get(row, "lease_id")?;
    let expires: Option<i64> = get(row, "lease_expires_at")?;
    let (Some(lease_id), Some(expires)) = (lease_id, expires) else {
        return Err(Error::backend(format!(
            "stack_jobs: job {} was reserved without a lease",
            job.id
        )));
    };
    Ok(Lease {
        token: LeaseToken {
            job_id: job.id,
            attempt: job.attempts,
            lease_id,
        },
        expires_at: time(expires)?,
        job,
    })
}
