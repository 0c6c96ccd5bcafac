//! The [`Scheduler`] trait: named cron schedules whose ticks become queue jobs.
//!
//! A tick does not run anything itself: it enqueues a job whose unique key is
//! `cron:<name>:<tick>` (the tick as RFC 3339 UTC). However many instances run the same
//! schedule, the queue stores one job per tick and the others get
//! [`Enqueued::Duplicate`](crate::queue::Enqueued::Duplicate): no leader election, and every
//! [`Queue`](crate::queue::Queue) backend serves it. See [`CronExpr`] for what expressions
//! mean, including daylight-saving gaps and folds.
//!
//! Ticks missed while no instance was running are skipped, or the latest of them is run
//! once, as each schedule's [`MissedTicks`] says.

mod cron_scheduler;
mod expression;
mod fields;
mod missed;
mod weekday;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use cron_scheduler::{CronScheduler, TickRetry};
pub use expression::CronExpr;
pub use missed::MissedTicks;

use crate::queue::{Priority, TypedJob};
use crate::{Error, Result};

/// A schedule to add: when to fire and what job to enqueue.
///
/// ```
/// use stack_core::scheduler::ScheduleSpec;
/// let spec = ScheduleSpec::new("nightly-report", "0 30 2 * * *", "build_report")
///     .timezone("Europe/London");
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// Unique name of the schedule; part of every tick's unique key.
    pub name: String,
    /// The cron expression (5 or 6 fields, or a descriptor); see [`CronExpr`].
    pub expression: String,
    /// IANA time zone the expression's wall-clock fields are read in; UTC when `None`.
    pub timezone: Option<String>,
    /// The type of the job each tick enqueues.
    pub job_type: String,
    /// The payload of that job.
    pub payload: serde_json::Value,
    /// The priority of that job.
    pub priority: Priority,
    /// The attempts that job gets.
    pub max_attempts: u32,
    /// What to do about ticks nobody fired in time. Default [`MissedTicks::Skip`].
    #[serde(default)]
    pub missed: MissedTicks,
}

impl ScheduleSpec {
    /// A UTC schedule `name` firing `expression`, enqueuing `job_type` with a null payload.
    pub fn new(
        name: impl Into<String>,
        expression: impl Into<String>,
        job_type: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            expression: expression.into(),
            timezone: None,
            job_type: job_type.into(),
            payload: serde_json::Value::Null,
            priority: Priority::Normal,
            max_attempts: crate::queue::DEFAULT_MAX_ATTEMPTS,
            missed: MissedTicks::Skip,
        }
    }

    /// A UTC schedule `name` firing `expression`, each tick enqueuing the [typed
    /// job](TypedJob) `payload` under its type name `J::TYPE`.
    ///
    /// ```
    /// use stack_core::queue::TypedJob;
    /// use stack_core::scheduler::ScheduleSpec;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct BuildReport {
    ///     period: String,
    /// }
    /// impl TypedJob for BuildReport {
    ///     const TYPE: &'static str = "build_report";
    /// }
    ///
    /// let report = BuildReport { period: "day".into() };
    /// let spec = ScheduleSpec::of("nightly-report", "0 30 2 * * *", &report)?;
    /// assert_eq!(spec.job_type, "build_report");
    /// assert_eq!(spec.payload, serde_json::json!({ "period": "day" }));
    /// # Ok::<(), stack_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`NewJob::of`](crate::queue::NewJob::of): [`Error::Invalid`] naming `payload`
    /// when it does not serialize.
    pub fn of<J: TypedJob>(
        name: impl Into<String>,
        expression: impl Into<String>,
        payload: &J,
    ) -> Result<Self> {
        let job = crate::queue::NewJob::of(payload)?;
        Ok(Self::new(name, expression, job.job_type).payload(job.payload))
    }

    /// Sets what to do about missed ticks.
    #[must_use]
    pub fn missed(mut self, missed: MissedTicks) -> Self {
        self.missed = missed;
        self
    }

    /// Reads the expression in time zone `tz` (an IANA name such as `America/New_York`).
    #[must_use]
    pub fn timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = Some(tz.into());
        self
    }

    /// Sets the job payload.
    #[must_use]
    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }

    /// Parses and checks everything; answers the compiled expression and time zone.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `name`, `expression`, `timezone` or `job_type`.
    pub fn validate(&self) -> Result<(CronExpr, chrono_tz::Tz)> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 100
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(Error::invalid(
                "name",
                "must be 1-100 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        if self.job_type.trim().is_empty() {
            return Err(Error::invalid("job_type", "must not be empty"));
        }
        if self.max_attempts == 0 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        let expr = CronExpr::parse(&self.expression)?;
        let tz = match &self.timezone {
            None => chrono_tz::UTC,
            Some(name) => name.parse().map_err(|_| {
                Error::invalid("timezone", format!("`{name}` is not an IANA time zone"))
            })?,
        };
        Ok((expr, tz))
    }
}

/// A schedule as listed: its spec and its firing history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledJob {
    /// The schedule as added.
    pub spec: ScheduleSpec,
    /// The next tick, if the schedule fires again.
    pub next_fire: Option<DateTime<Utc>>,
    /// The last tick this instance handled (whether it enqueued or found a duplicate).
    pub last_fire: Option<DateTime<Utc>>,
    /// Why the last tick failed to enqueue, if it did.
    pub last_error: Option<String>,
}

/// The unique key of the job for schedule `name`'s tick at `tick`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let tick = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// assert_eq!(stack_core::scheduler::tick_key("nightly", tick), "cron:nightly:2026-01-01T00:00:00Z");
/// ```
pub fn tick_key(name: &str, tick: DateTime<Utc>) -> String {
    format!(
        "cron:{name}:{}",
        tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// The unique key of the job for a run of schedule `name` asked for by hand
/// ([`CronScheduler::trigger`]): `cron:<name>:manual:<id>`, which no tick's key can equal
/// (a tick's starts with a digit).
///
/// ```
/// let id = uuid::Uuid::nil();
/// assert_eq!(
///     stack_core::scheduler::manual_key("nightly", id),
///     "cron:nightly:manual:00000000-0000-0000-0000-000000000000"
/// );
/// ```
pub fn manual_key(name: &str, id: uuid::Uuid) -> String {
    format!("cron:{name}:manual:{id}")
}

/// Named cron schedules that enqueue a job per tick.
#[async_trait]
pub trait Scheduler: Send + Sync + std::fmt::Debug {
    /// Adds a schedule; answers it with its next fire time.
    ///
    /// # Errors
    /// [`Error::Invalid`] as [`ScheduleSpec::validate`]; [`Error::Conflict`] when a schedule of
    /// that name exists.
    async fn add(&self, spec: ScheduleSpec) -> Result<ScheduledJob>;

    /// Removes schedule `name`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is none.
    async fn remove(&self, name: &str) -> Result<()>;

    /// Every schedule, by name.
    ///
    /// # Errors
    /// Implementations that keep schedules remotely may fail with
    /// [`Error::Unavailable`].
    async fn list(&self) -> Result<Vec<ScheduledJob>>;

    /// Starts firing ticks in the background; starting a started scheduler does nothing.
    ///
    /// # Errors
    /// Implementations may refuse to start with [`Error::Unavailable`].
    async fn start(&self) -> Result<()>;

    /// Stops firing and waits for the background task to end; stopping a stopped scheduler
    /// does nothing.
    ///
    /// # Errors
    /// Implementations may fail with [`Error::Backend`].
    async fn stop(&self) -> Result<()>;
}

#[cfg(test)]
mod tests;
