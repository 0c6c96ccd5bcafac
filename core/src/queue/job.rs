use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// The kind of work.
    #[serde(rename = "type")]
    pub job_type: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// How urgent it is.
    pub priority: Priority,
    /// The earliest time it may run; `None` is now.
    pub run_at: Option<DateTime<Utc>>,
    /// How many starts it gets.
    pub max_attempts: u32,
    /// A key no other live job of this queue may share.
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A Normal-priority job of `job_type` that may run now.
    pub fn new(job_type: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            job_type: job_type.into(),
            payload,
            priority: Priority::Normal,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
        }
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Runs no earlier than `at`.
    #[must_use]
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Runs no earlier than `delay` from now.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        self.run_at = Some(
            Utc::now()
                .checked_add_signed(delay)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
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

    /// Checks the job before any backend stores it.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `type`, `max_attempts` or `unique_key`.
    pub fn validate(&self) -> Result<()> {
        if self.job_type.trim().is_empty() {
            return Err(Error::invalid("type", "must not be empty"));
        }
        if self.job_type.len() > 200 {
            return Err(Error::invalid("type", "must be at most 200 bytes"));
        }
        if self.max_attempts == 0 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        if self.unique_key.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid("unique_key", "must not be empty when given"));
        }
        Ok(())
    }

    /// Turns this request into a stored job with a fresh id, as of `now`.
    pub fn into_job(self, now: DateTime<Utc>) -> Job {
        Job {
            id: Uuid::now_v7(),
            job_type: self.job_type,
            payload: self.payload,
            priority: self.priority,
            state: JobState::Pending,
            run_at: self.run_at.unwrap_or(now),
            enqueued_at: now,
            attempts: 0,
            max_attempts: self.max_attempts,
            unique_key: self.unique_key,
            last_error: None,
            errors: Vec::new(),
        }
    }
}
