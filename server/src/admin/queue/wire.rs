//! The queue's admin wire types, and their conversions from the queue's own.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use stack_core::page::Page;
use stack_core::queue::{Job, JobState, ListedJob, QueueStats};
use uuid::Uuid;

/// Ready work at one priority.
#[derive(Debug, Object)]
pub struct PriorityView {
    /// `critical`, `high`, `normal` or `low`.
    pub priority: String,
    /// Jobs whose run time has passed, waiting for a worker.
    pub ready: u64,
    /// How long the oldest of them has waited since its run time, in milliseconds; absent
    /// when none is ready.
    pub oldest_ready_age_ms: Option<u64>,
}

/// A snapshot of the queue.
#[derive(Debug, Object)]
pub struct QueueStatsView {
    /// The queue backend (`memory`, `postgres`, `redis`).
    pub backend: String,
    /// Ready work per priority, most urgent first; every priority is present.
    pub by_priority: Vec<PriorityView>,
    /// Jobs whose run time is still ahead (delayed, or in a retry's backoff).
    pub scheduled: u64,
    /// Jobs leased to a worker.
    pub running: u64,
    /// Jobs in the dead-letter queue.
    pub dead: u64,
    /// Completed jobs still remembered (holding their unique key).
    pub completed: u64,
}

impl QueueStatsView {
    /// The view of `stats` of the `backend` queue.
    pub fn new(backend: &str, stats: &QueueStats) -> Self {
        let by_priority = stack_core::queue::Priority::URGENT_FIRST
            .iter()
            .map(|priority| {
                let at = stats.by_priority.get(priority).copied().unwrap_or_default();
                PriorityView {
                    priority: priority.as_str().to_owned(),
                    ready: at.ready,
                    oldest_ready_age_ms: at.oldest_ready_age_ms,
                }
            })
            .collect();
        Self {
            backend: backend.to_owned(),
            by_priority,
            scheduled: stats.scheduled,
            running: stats.running,
            dead: stats.dead,
            completed: stats.completed,
        }
    }
}

/// One failed attempt of a job.
#[derive(Debug, Object)]
pub struct AttemptView {
    /// The attempt, from 1.
    pub attempt: u32,
    /// When it failed.
    pub at: DateTime<Utc>,
    /// What the worker reported.
    pub message: String,
}

/// A job as the queue holds it.
#[derive(Debug, Object)]
pub struct JobView {
    /// Its id.
    pub id: Uuid,
    /// The kind of work.
    #[oai(rename = "type")]
    pub job_type: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// How urgent it is.
    pub priority: String,
    /// `pending`, `running`, `completed` or `dead`.
    pub state: String,
    /// The earliest time it may run.
    pub run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// How many times it was started.
    pub attempts: u32,
    /// How many starts it gets.
    pub max_attempts: u32,
    /// Its unique key.
    pub unique_key: Option<String>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Every failure, oldest first.
    pub errors: Vec<AttemptView>,
}

fn state(state: JobState) -> &'static str {
    match state {
        JobState::Pending => "pending",
        JobState::Running => "running",
        JobState::Completed => "completed",
        JobState::Dead => "dead",
    }
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            job_type: job.job_type,
            payload: job.payload,
            priority: job.priority.as_str().to_owned(),
            state: state(job.state).to_owned(),
            run_at: job.run_at,
            enqueued_at: job.enqueued_at,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            unique_key: job.unique_key,
            last_error: job.last_error,
            errors: job
                .errors
                .into_iter()
                .map(|e| AttemptView {
                    attempt: e.attempt,
                    at: e.at,
                    message: e.message,
                })
                .collect(),
        }
    }
}

/// One page of dead letters, oldest death first.
#[derive(Debug, Object)]
pub struct DeadLetterPage {
    /// The jobs of this page.
    pub items: Vec<JobView>,
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub limit: u32,
    /// Dead letters matching the filter.
    pub total_items: u64,
    /// Pages at this limit.
    pub total_pages: u64,
    /// Whether a next page exists.
    pub has_next: bool,
    /// Whether a previous page exists.
    pub has_prev: bool,
}

impl From<Page<Job>> for DeadLetterPage {
    fn from(page: Page<Job>) -> Self {
        Self {
            page: page.page,
            limit: page.limit,
            total_items: page.total_items,
            total_pages: page.total_pages,
            has_next: page.has_next,
            has_prev: page.has_prev,
            items: page.items.into_iter().map(JobView::from).collect(),
        }
    }
}

/// A dead letter made ready again.
#[derive(Debug, Object)]
pub struct Replayed {
    /// The job, pending again with a fresh set of attempts.
    pub id: Uuid,
    /// The audit log of the replay.
    pub audit_id: Uuid,
}

/// What a bounded bulk action on the dead letters did.
#[derive(Debug, Object)]
pub struct BulkOutcome {
    /// The id of this action: the subject of its audit log.
    pub operation_id: Uuid,
    /// Jobs this call replayed or purged.
    pub done: u64,
    /// Jobs left for further calls.
    pub remaining: u64,
    /// The audit log of the action.
    pub audit_id: Uuid,
}

/// A job in a listing of one state.
#[derive(Debug, Object)]
pub struct ListedJobView {
    /// Its id.
    pub id: Uuid,
    /// The kind of work.
    #[oai(rename = "type")]
    pub job_type: String,
    /// How urgent it is.
    pub priority: String,
    /// `pending` or `running`.
    pub state: String,
    /// How many times it was started (counting a running attempt).
    pub attempts: u32,
    /// How many starts it gets.
    pub max_attempts: u32,
    /// When it was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// The earliest time it may run (for a running job: when its current run became due).
    pub run_at: DateTime<Utc>,
    /// When the lease of a running job lapses unless its worker extends it.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// For a running job, the worker pool whose last report lists it (its `id` in
    /// `GET /admin/queue/workers`); absent when no live report does.
    pub worker: Option<Uuid>,
}

impl From<ListedJob> for ListedJobView {
    fn from(listed: ListedJob) -> Self {
        let job = listed.job;
        Self {
            id: job.id,
            job_type: job.job_type,
            priority: job.priority.as_str().to_owned(),
            state: state(job.state).to_owned(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            enqueued_at: job.enqueued_at,
            run_at: job.run_at,
            lease_expires_at: listed.lease_expires_at,
            last_error: job.last_error,
            worker: None,
        }
    }
}

/// One page of the jobs in one state.
#[derive(Debug, Object)]
pub struct JobListPage {
    /// The state listed: `running`, `scheduled` or `ready`.
    pub state: String,
    /// The jobs, in the state's order.
    pub items: Vec<ListedJobView>,
    /// The `after` of the next page; absent when nothing follows. A page may be short
    /// while `next` is present.
    pub next: Option<String>,
}
