//! `/admin/schedules`: the cron schedules with their next and last fire, and "trigger now".

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use stack_core::queue::Enqueued;
use stack_core::scheduler::{ScheduledJob, Scheduler};
use uuid::Uuid;

use super::Tag;
use super::auth::AdminAuth;
use crate::backends::Backends;
use crate::http::api_error::ApiResult;

/// A schedule and its firing history.
#[derive(Debug, Object)]
pub struct ScheduleView {
    /// Its name.
    pub name: String,
    /// The cron expression.
    pub expression: String,
    /// The IANA time zone the expression is read in; UTC when absent.
    pub timezone: Option<String>,
    /// The type of the job each tick enqueues.
    pub job_type: String,
    /// That job's priority.
    pub priority: String,
    /// The next tick, if the schedule fires again.
    pub next_fire: Option<DateTime<Utc>>,
    /// The last tick this instance handled.
    pub last_fire: Option<DateTime<Utc>>,
    /// Why the last tick failed to enqueue, if it did.
    pub last_error: Option<String>,
}

impl From<ScheduledJob> for ScheduleView {
    fn from(job: ScheduledJob) -> Self {
        Self {
            name: job.spec.name,
            expression: job.spec.expression,
            timezone: job.spec.timezone,
            job_type: job.spec.job_type,
            priority: job.spec.priority.as_str().to_owned(),
            next_fire: job.next_fire,
            last_fire: job.last_fire,
            last_error: job.last_error,
        }
    }
}

/// What "trigger now" enqueued.
#[derive(Debug, Object)]
pub struct Triggered {
    /// The job that holds the run.
    pub job_id: Uuid,
    /// Its unique key (`cron:<name>:manual:<id>`), apart from every tick's.
    pub unique_key: String,
    /// Whether a job already held that key (nothing new was stored).
    pub duplicate: bool,
}

/// The schedules' admin operations.
#[derive(Debug)]
pub struct SchedulesApi {
    backends: Backends,
}

impl SchedulesApi {
    /// The operations over `backends`.
    pub fn new(backends: Backends) -> Self {
        Self { backends }
    }
}

#[OpenApi(tag = "Tag::Schedules")]
impl SchedulesApi {
    /// Every schedule, by name, with its next and last fire and its last error.
    #[oai(path = "/schedules", method = "get")]
    async fn list(&self, _auth: AdminAuth) -> ApiResult<Json<Vec<ScheduleView>>> {
        let schedules = self.backends.scheduler.list().await?;
        Ok(Json(
            schedules.into_iter().map(ScheduleView::from).collect(),
        ))
    }

    /// Enqueues the schedule's job now, under a unique key of its own; its ticks are
    /// unchanged.
    #[oai(path = "/schedules/:name/trigger", method = "post")]
    async fn trigger(&self, _auth: AdminAuth, name: Path<String>) -> ApiResult<Json<Triggered>> {
        let (enqueued, unique_key) = self.backends.scheduler.trigger(&name.0).await?;
        tracing::info!(action = "schedule.triggered", schedule = %name.0, job = %enqueued.id(), "admin action");
        Ok(Json(Triggered {
            job_id: enqueued.id(),
            unique_key,
            duplicate: matches!(enqueued, Enqueued::Duplicate(_)),
        }))
    }
}
