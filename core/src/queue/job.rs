use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::TraceContext;

use crate::{Error, Result};

/// The identity of a job: a UUIDv7, so ids sort by creation time.
pub type JobId = Uuid;

/// How urgent a job is. Priorities are strict: no Normal job starts while a High one is ready.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Runs when nothing else is ready.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Runs before Normal and Low.
    High,
    /// Runs before everything else.
    Critical,
}

impl Priority {
    /// Every priority, most urgent first: the order in which work is taken.
    pub const URGENT_FIRST: [Priority; 4] = [Self::Critical, Self::High, Self::Normal, Self::Low];

    /// The lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Self::Low),
            "normal" => Ok(Self::Normal),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(Error::invalid(
                "priority",
                format!("`{s}` is not one of critical, high, normal, low"),
            )),
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its run time or for a worker (ready once `run_at` has passed).
    Pending,
    /// Leased to a worker.
    Running,
    /// Finished successfully.
    Completed,
    /// Gave up after its last attempt; kept in the dead-letter queue.
    Dead,
}

/// One failed attempt, kept in the job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt that failed, from 1.
    pub attempt: u32,
    /// When it failed.
    pub at: DateTime<Utc>,
    /// What the worker reported.
    pub message: String,
}

/// A job as the queue holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its identity.
    pub id: JobId,
    /// The kind of work, which picks the handler (`send_receipt`, `cron:nightly`).
    #[serde(rename = "type")]
    pub job_type: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// How urgent it is.
    pub priority: Priority,
    /// Where it is in its life.
    pub state: JobState,
    /// The earliest time it may run (its next retry time after a failure).
    pub run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// How many times it has been started.
    pub attempts: u32,
    /// How many starts it gets before it goes to the dead-letter queue.
    pub max_attempts: u32,
    /// A key no other live job of this queue may share.
    pub unique_key: Option<String>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Every failure, oldest first.
    pub errors: Vec<AttemptError>,
    /// The trace of the request that enqueued it, which every attempt continues.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::trace::lenient"
    )]
    pub trace: Option<TraceContext>,
}

/// The default number of attempts a job gets.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 25;

/// A job to enqueue, built fluently.
///
/// ```
/// use std::time::Duration;
/// use stack_core::queue::{NewJob, Priority};
/// let job = NewJob::new("send_receipt", serde_json::json!({"deposit": 7}))
///     .priority(Priority::High)
///     .delay(Duration::from_secs(30))
///     .max_attempts(5)
///     .unique_key("receipt:7");
/// assert!(job.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// The id to store the job under; `None` lets the queue mint one. While the queue holds a
    /// job of this id (pending, running, dead, or completed and still remembered), enqueueing
    /// it again stores nothing and answers [`Enqueued::Duplicate`](super::Enqueued): a
    /// client that retries an enqueue after a lost reply cannot reset the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<JobId>,
    /// The kind of work.
    #[serde(rename = "type")]
    pub job_type: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// How urgent it is.
    pub priority: Priority,
    /// The earliest time it may run; `None` is now (or after `delay`).
    pub run_at: Option<DateTime<Utc>>,
    /// How long after it reaches the backend it may run: a duration until then, turned into
    /// a time by the backend's clock, never the client's. `None` is no delay.
    #[serde(default, with = "humantime_serde")]
    pub delay: Option<Duration>,
    /// How many starts it gets.
    pub max_attempts: u32,
    /// A key no other live job of this queue may share.
    pub unique_key: Option<String>,
    /// The trace its attempts continue; `None` takes the current span's at enqueue (see
    /// [`NewJob::traced`]). A malformed one reads as `None`, never as an error.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::trace::lenient"
    )]
    pub trace: Option<TraceContext>,
}

impl NewJob {
    /// A Normal-priority job of `job_type` that may run now.
    pub fn new(job_type: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            id: None,
            job_type: job_type.into(),
            payload,
            priority: Priority::Normal,
            run_at: None,
            delay: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
            trace: None,
        }
    }

    /// Stores the job under `id`: enqueueing the same id again is a no-op while the queue
    /// holds the job.
    #[must_use]
    pub fn id(mut self, id: JobId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Runs no earlier than `at` (replacing any delay).
    #[must_use]
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self.delay = None;
        self
    }

    /// Runs no earlier than `delay` after the backend stores it (replacing any run-at): the
    /// delay travels as a duration, so a client whose clock is off cannot shift it.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self.run_at = None;
        self
    }

    /// Gives up after `n` starts.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Refuses to coexist with another live job holding `key`.
    #[must_use]
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Continues `trace` in every attempt, instead of the trace current at enqueue.
    #[must_use]
    pub fn trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// The job as a backend stores it: one without a [`trace`](NewJob::trace) takes the
    /// context of a zero-length `queue.enqueue` span opened under the current `tracing` span,
    /// when an OpenTelemetry layer is installed (without one: none, at the cost of a look-up).
    /// Every backend calls it when it enqueues.
    #[must_use]
    pub fn traced(mut self) -> Self {
        if self.trace.is_none() {
            self.trace = super::trace::enqueue_span(&self.job_type);
        }
        self
    }

    /// Checks the job before any backend stores it: every backend accepts the same jobs.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `type`, `max_attempts`, `unique_key`, `run_at` (before
    /// 1970 or after 9999, see [`validate_run_at`](super::validate_run_at)) or `delay`
    /// (longer than [`MAX_DELAY`](super::MAX_DELAY)).
    pub fn validate(&self) -> Result<()> {
        super::validate_job_type("type", &self.job_type)?;
        if self.max_attempts == 0 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        if self.unique_key.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid("unique_key", "must not be empty when given"));
        }
        if let Some(at) = self.run_at {
            super::validate_run_at(at)?;
        }
        if let Some(delay) = self.delay {
            super::validate_delay(delay)?;
        }
        Ok(())
    }

    /// Turns this request into a stored job with a fresh id, as of `now` (the backend's
    /// clock). Times are kept at millisecond precision, as every backend stores them.
    pub fn into_job(self, now: DateTime<Utc>) -> Job {
        let now = to_millis(now);
        let run_at = match (self.run_at, self.delay) {
            (Some(at), _) => to_millis(at),
            (None, Some(delay)) => super::run_time_after(now, delay),
            (None, None) => now,
        };
        Job {
            id: self.id.unwrap_or_else(Uuid::now_v7),
            job_type: self.job_type,
            payload: self.payload,
            priority: self.priority,
            state: JobState::Pending,
            run_at,
            enqueued_at: now,
            attempts: 0,
            max_attempts: self.max_attempts,
            unique_key: self.unique_key,
            last_error: None,
            errors: Vec::new(),
            trace: self.trace,
        }
    }
}

/// `at` truncated to the millisecond.
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod clock_tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_delay_is_counted_from_the_backend_s_clock_at_millisecond_precision() {
        // The backend's clock reads far from the client's: the delay follows the backend.
        let backend_now = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let job = NewJob::new("t", serde_json::json!({}))
            .delay(Duration::from_secs(10))
            .into_job(backend_now);
        assert_eq!(
            job.run_at,
            Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 10).unwrap()
                + chrono::Duration::milliseconds(123)
        );
        assert_eq!(job.enqueued_at.timestamp_subsec_nanos() % 1_000_000, 0);
        let at = NewJob::new("t", serde_json::json!({}))
            .delay(Duration::from_secs(10))
            .run_at(backend_now);
        assert_eq!(at.into_job(backend_now).run_at, to_millis(backend_now));
    }
}
