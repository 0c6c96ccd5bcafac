//! Turning the rows the scripts answer into jobs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stack_core::queue::{AttemptError, Job, JobState, LeaseToken, NewJob, Priority, TraceContext};
use stack_core::{Error, Result};
use uuid::Uuid;

/// Fields per row: id, payload, spec, meta, errors.
pub(super) const ROW: usize = 5;

/// What the scripts need to know about a job, stored once at enqueue.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Spec {
    /// The job type.
    pub(super) t: String,
    /// Its priority's rank, 0 for critical.
    pub(super) r: usize,
    /// Its max attempts.
    pub(super) m: u32,
    /// Its unique key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) u: Option<String>,
    /// Its W3C trace context, as [`TraceContext::to_stored`] writes it: stored with the spec
    /// (one hash field the enqueue script sets, no key of its own), kept through dead letters
    /// and requeues, which leave the spec as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) c: Option<String>,
}

/// A priority's rank: its index in [`Priority::URGENT_FIRST`].
pub(super) fn rank(priority: Priority) -> usize {
    Priority::URGENT_FIRST
        .iter()
        .position(|p| *p == priority)
        .unwrap_or(2)
}

impl Spec {
    pub(super) fn of(job: &NewJob) -> Self {
        Self {
            t: job.job_type.clone(),
            r: rank(job.priority),
            m: job.max_attempts,
            u: job.unique_key.clone(),
            c: job.trace.as_ref().map(TraceContext::to_stored),
        }
    }
}

#[derive(Deserialize)]
struct StoredError {
    attempt: u32,
    at: i64,
    message: String,
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::backend(format!("Redis queue: unreadable {what}: {detail}"))
}

/// A millisecond timestamp as a time.
pub(super) fn millis(text: &str) -> Result<DateTime<Utc>> {
    text.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| corrupt("time", text))
}

/// One decoded row: the job and its current lease id, if it is running.
pub(super) fn decode(row: &[String]) -> Result<(Job, Option<Uuid>)> {
    let [id, payload, spec, meta, errors] = row else {
        return Err(corrupt("row", format!("{} fields", row.len())));
    };
    let spec: Spec = serde_json::from_str(spec).map_err(|e| corrupt("spec", e))?;
    // state|attempts|run_at|enqueued|rank|max|unique?|lease, as prelude.lua writes it.
    let fields: Vec<&str> = meta.splitn(8, '|').collect();
    let [state, attempts, run_at, enqueued, _, _, _, lease] = fields.as_slice() else {
        return Err(corrupt("meta", meta));
    };
    let errors: Vec<StoredError> = if errors.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(errors).map_err(|e| corrupt("errors", e))?
    };
    let errors = errors
        .into_iter()
        .map(|e| {
            Ok(AttemptError {
                attempt: e.attempt,
                at: DateTime::from_timestamp_millis(e.at).ok_or_else(|| corrupt("time", e.at))?,
                message: e.message,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let state = match *state {
        "p" => JobState::Pending,
        "r" => JobState::Running,
        "c" => JobState::Completed,
        "d" => JobState::Dead,
        other => return Err(corrupt("state", other)),
    };
    let job = Job {
        id: id.parse().map_err(|e| corrupt("id", e))?,
        job_type: spec.t,
        payload: serde_json::from_str(payload).map_err(|e| corrupt("payload", e))?,
        priority: *Priority::URGENT_FIRST
            .get(spec.r)
            .ok_or_else(|| corrupt("priority", spec.r))?,
        state,
        run_at: millis(run_at)?,
        enqueued_at: millis(enqueued)?,
        attempts: attempts.parse().map_err(|e| corrupt("attempts", e))?,
        max_attempts: spec.m,
        unique_key: spec.u,
        last_error: errors.last().map(|e| e.message.clone()),
        errors,
        // A stored context that is not valid (written by hand) is dropped, not an error.
        trace: spec.c.as_deref().and_then(TraceContext::from_stored),
    };
    let lease = if lease.is_empty() {
        None
    } else {
        Some(lease.parse().map_err(|e| corrupt("lease id", e))?)
    };
    Ok((job, lease))
}

/// The lease token of a leased row whose job cannot be decoded: its id, its attempts and
/// lease from the meta, which reserve just wrote.
pub(super) fn lease_token_of(row: &[String]) -> Option<LeaseToken> {
    let [id, _, _, meta, _] = row else {
        return None;
    };
    let fields: Vec<&str> = meta.splitn(8, '|').collect();
    let [_, attempts, _, _, _, _, _, lease] = fields.as_slice() else {
        return None;
    };
    Some(LeaseToken {
        job_id: id.parse().ok()?,
        attempt: attempts.parse().ok()?,
        lease_id: lease.parse().ok()?,
    })
}

/// Every row of a flat reply.
pub(super) fn decode_all(flat: &[String]) -> Result<Vec<(Job, Option<Uuid>)>> {
    flat.chunks(ROW).map(decode).collect()
}
