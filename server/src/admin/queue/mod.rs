//! `/admin/queue`: stats, one job by id, jobs by state, the worker processes, the dead-letter
//! queue (list, replay one, replay by type, purge), and dropping the whole queue. Replays, purges and drops are bounded (`limit` jobs per
//! call, with what remains in the answer) and each writes an operator audit log.

mod wire;
mod workers;

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use stack_core::page::PageRequest;
use stack_core::queue::{JobCursor, JobListing, JobState, ListedState, validate_type_filter};
use stack_core::store::NewAuditLog;
use uuid::Uuid;

pub use wire::{
    AttemptView, BulkOutcome, DeadLetterPage, JobListPage, JobView, ListedJobView, PriorityView,
    QueueStatsView, Replayed,
};
pub use workers::{WorkerView, WorkersView};

use super::auth::AdminAuth;
use super::{Tag, audit, bad_query, invalid, query_error};
use crate::backends::Backends;
use crate::http::api_error::{ApiError, ApiResult};
use crate::http::problem::FieldError;

/// The most jobs one replay or purge call moves.
pub const MAX_BULK: u64 = 1000;

/// The queue's admin operations.
#[derive(Debug)]
pub struct QueueApi {
    backends: Backends,
}

impl QueueApi {
    /// The operations over `backends`.
    pub fn new(backends: Backends) -> Self {
        Self { backends }
    }
}

/// `limit` of a bulk call as a count (default 100).
fn bulk_limit(limit: Option<u64>) -> Result<usize, FieldError> {
    match limit.unwrap_or(100) {
        n @ 1..=MAX_BULK => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(bad_query(
            "limit",
            format!("must be between 1 and {MAX_BULK}"),
        )),
    }
}

#[OpenApi(tag = "Tag::Queue")]
impl QueueApi {
    /// Queue stats: ready jobs per priority with the age of the oldest ready one (the number
    /// to alert on), scheduled, running, dead and remembered completed jobs.
    #[oai(path = "/queue/stats", method = "get")]
    async fn stats(&self, _auth: AdminAuth) -> ApiResult<Json<QueueStatsView>> {
        let queue = &self.backends.queue;
        let stats = queue.stats().await?;
        Ok(Json(QueueStatsView::new(queue.name(), &stats)))
    }

    /// The job `id` in whatever state it is, with its error history; 404 when the queue does
    /// not hold it (never enqueued, purged, or completed and forgotten).
    #[oai(path = "/queue/jobs/:id", method = "get")]
    async fn job(&self, _auth: AdminAuth, id: Path<Uuid>) -> ApiResult<Json<JobView>> {
        let job = self.backends.queue.get(id.0).await?;
        let job = job.ok_or_else(|| ApiError::not_found(format!("no job has id {}", id.0)))?;
        Ok(Json(job.into()))
    }

    /// One page of the jobs in one state: `running` (by lease expiry, then id), `scheduled`
    /// (run time ahead; by run time, then id) or `ready` (run time passed; by run time, then
    /// id), optionally of one type. `after` is the previous page's `next`; `limit` 1-1000,
    /// default 50. A running job names the worker pool whose last report lists it
    /// (`GET /admin/queue/workers`).
    #[oai(path = "/queue/jobs", method = "get")]
    async fn list_jobs(
        &self,
        _auth: AdminAuth,
        /// `running`, `scheduled` or `ready`.
        state: Query<String>,
        /// Only jobs of this type.
        #[oai(name = "type")]
        job_type_filter: Query<Option<String>>,
        /// Where the page starts: the previous page's `next`.
        after: Query<Option<String>>,
        /// Jobs per page (1-1000, default 50).
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<JobListPage>> {
        let listed: ListedState = state.0.parse().map_err(|e| query_error("state", e))?;
        let after = match after.0.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<JobCursor>()
                    .map_err(|e| query_error("after", e))?,
            ),
        };
        let listing = JobListing {
            state: listed,
            job_type: job_type_filter.0,
            after,
            limit: usize::try_from(limit.0.unwrap_or(50)).unwrap_or(usize::MAX),
        };
        listing.validate().map_err(|e| match e {
            stack_core::Error::Invalid { field, reason, .. } if field == "limit" => {
                invalid(bad_query("limit", reason))
            }
            other => query_error("type", other),
        })?;
        let page = self.backends.queue.list_jobs(&listing).await?;
        let holders = if listed == ListedState::Running {
            // Which pool holds each job adds to the page; a registry that cannot be read
            // leaves the column empty rather than failing the listing.
            match workers::live_workers(self.backends.queue.as_ref()).await {
                Ok(live) => workers::holders(&live.unwrap_or_default()),
                Err(error) => {
                    tracing::warn!(%error, "the worker registry could not be read for the running jobs");
                    Default::default()
                }
            }
        } else {
            Default::default()
        };
        let items = page
            .jobs
            .into_iter()
            .map(|listed| {
                let worker = holders.get(&listed.job.id).copied();
                ListedJobView {
                    worker,
                    ..ListedJobView::from(listed)
                }
            })
            .collect();
        Ok(Json(JobListPage {
            state: state.0,
            items,
            next: page.next.map(|c| c.to_string()),
        }))
    }

    /// The worker pools that reported to the queue within their last report's lifetime
    /// (three report intervals), with their host, process, size, the jobs they hold and
    /// their counts; and the totals (pools, distinct processes, size, held leases).
    #[oai(path = "/queue/workers", method = "get")]
    async fn workers(&self, _auth: AdminAuth) -> ApiResult<Json<WorkersView>> {
        let live = workers::live_workers(self.backends.queue.as_ref()).await?;
        Ok(Json(WorkersView::new(live)))
    }

    /// Dead letters, oldest death first, optionally of one job type, by page (`page` from
    /// 1, `limit` up to 100, default 20).
    #[oai(path = "/queue/dead-letters", method = "get")]
    async fn dead_letters(
        &self,
        _auth: AdminAuth,
        /// Only jobs of this type.
        #[oai(name = "type")]
        job_type_filter: Query<Option<String>>,
        /// The page, from 1.
        page: Query<Option<u32>>,
        /// Jobs per page (at most 100; more is capped).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DeadLetterPage>> {
        let filter = job_type_filter.0.as_deref();
        validate_type_filter(filter).map_err(|e| query_error("type", e))?;
        let request = PageRequest::from_query(page.0, limit.0).map_err(|e| match e {
            stack_core::Error::Invalid { field, reason, .. } => invalid(bad_query(&field, reason)),
            other => other.into(),
        })?;
        let page = self.backends.queue.dead_letters(filter, request).await?;
        Ok(Json(page.into()))
    }

    /// Replays one dead letter: pending again at once with a fresh set of attempts. Writes
    /// the audit log `job.replayed`.
    #[oai(path = "/queue/dead-letters/:id/replay", method = "post")]
    async fn replay(&self, _auth: AdminAuth, id: Path<Uuid>) -> ApiResult<Json<Replayed>> {
        let queue = &self.backends.queue;
        let job = queue
            .get(id.0)
            .await?
            .filter(|job| job.state == JobState::Dead)
            .ok_or_else(|| ApiError::not_found(format!("no dead job has id {}", id.0)))?;
        queue.requeue_dead(id.0).await?;
        tracing::info!(action = "job.replayed", job = %id.0, job_type = %job.job_type, "admin action");
        let detail = serde_json::json!({ "actor": "admin", "job_type": job.job_type });
        let audit_id = audit(&self.backends, "job.replayed", id.0, detail).await?;
        Ok(Json(Replayed { id: id.0, audit_id }))
    }

    /// Replays up to `limit` dead letters of one job type (oldest first); answers how many,
    /// and how many remain for further calls. Writes the audit log `jobs.replayed`.
    #[oai(path = "/queue/dead-letters/replay", method = "post")]
    async fn replay_by_type(
        &self,
        _auth: AdminAuth,
        /// The job type to replay.
        #[oai(name = "type")]
        job_type_filter: Query<String>,
        /// The most jobs this call replays (1-1000, default 100).
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<BulkOutcome>> {
        let kind = job_type_filter.0;
        validate_type_filter(Some(&kind)).map_err(|e| query_error("type", e))?;
        let limit = bulk_limit(limit.0).map_err(invalid)?;
        let progress = self
            .backends
            .queue
            .requeue_dead_by_type(&kind, limit)
            .await?;
        let operation_id = Uuid::now_v7();
        tracing::info!(action = "jobs.replayed", job_type = %kind, done = progress.done, remaining = progress.remaining, %operation_id, "admin action");
        let detail = serde_json::json!({
            "actor": "admin",
            "job_type": kind,
            "replayed": progress.done,
            "remaining": progress.remaining,
        });
        let audit_id = audit(&self.backends, "jobs.replayed", operation_id, detail).await?;
        Ok(Json(BulkOutcome {
            operation_id,
            done: progress.done,
            remaining: progress.remaining,
            audit_id,
        }))
    }

    /// Deletes up to `limit` dead letters for good (oldest first), all or those of one job
    /// type. Refused unless `confirm=true`: nothing is deleted without it. Writes the audit
    /// log `jobs.purged`.
    #[oai(path = "/queue/dead-letters", method = "delete")]
    async fn purge(
        &self,
        _auth: AdminAuth,
        /// Only jobs of this type; every dead letter when absent.
        #[oai(name = "type")]
        job_type_filter: Query<Option<String>>,
        /// Must be `true`: a purge cannot be undone.
        confirm: Query<Option<bool>>,
        /// The most jobs this call deletes (1-1000, default 100).
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<BulkOutcome>> {
        let filter = job_type_filter.0;
        validate_type_filter(filter.as_deref()).map_err(|e| query_error("type", e))?;
        let limit = bulk_limit(limit.0).map_err(invalid)?;
        if confirm.0 != Some(true) {
            return Err(invalid(bad_query(
                "confirm",
                "must be true: a purge deletes dead letters for good",
            )));
        }
        let progress = self
            .backends
            .queue
            .purge_dead(filter.as_deref(), limit)
            .await?;
        let operation_id = Uuid::now_v7();
        tracing::info!(action = "jobs.purged", job_type = ?filter, done = progress.done, remaining = progress.remaining, %operation_id, "admin action");
        let detail = serde_json::json!({
            "actor": "admin",
            "job_type": filter,
            "purged": progress.done,
            "remaining": progress.remaining,
        });
        let audit_id = audit(&self.backends, "jobs.purged", operation_id, detail).await?;
        Ok(Json(BulkOutcome {
            operation_id,
            done: progress.done,
            remaining: progress.remaining,
            audit_id,
        }))
    }

    /// Drops the configured queue: deletes up to `limit` of its jobs in every state
    /// (pending, scheduled, running, dead, remembered completed) with their unique keys, and
    /// answers how many remain; call again until `remaining` is 0, when the queue holds
    /// nothing (no Redis key, no row) and still takes new jobs. Refused unless
    /// `confirm=true`; refused with 409 while a job is running unless `force=true` (a forced
    /// drop deletes running jobs, whose workers' acknowledgements are then refused; a job
    /// whose lease lapsed does not refuse it). Each call writes the audit log
    /// `queue.drop_requested` before it deletes anything, naming the queue, its namespace
    /// (Redis key prefix, SQL rows) and what it held (a call whose log cannot be written
    /// deletes nothing), then its outcome under the same subject: `queue.dropped` (done,
    /// remaining), `queue.drop_refused` (a job runs) or `queue.drop_failed`.
    #[oai(path = "/queue", method = "delete")]
    async fn drop_queue(
        &self,
        _auth: AdminAuth,
        /// Must be `true`: a drop cannot be undone.
        confirm: Query<Option<bool>>,
        /// `true` deletes running jobs too; by default a running job refuses the drop.
        force: Query<Option<bool>>,
        /// The most jobs this call deletes (1-1000, default 100).
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<BulkOutcome>> {
        let limit = bulk_limit(limit.0).map_err(invalid)?;
        if confirm.0 != Some(true) {
            return Err(invalid(bad_query(
                "confirm",
                "must be true: dropping the queue deletes every job in it for good",
            )));
        }
        let force = force.0.unwrap_or(false);
        let queue = &self.backends.queue;
        let stats = queue.stats().await?;
        let location = queue.location();
        let operation_id = Uuid::now_v7();
        let detail = serde_json::json!({
            "actor": "admin",
            "backend": queue.name(),
            "queue": location.as_ref().map(|l| l.name.as_str()),
            "namespace": location.as_ref().map(|l| l.namespace.as_str()),
            "force": force,
            "limit": limit,
            "held": {
                "ready": stats.ready(),
                "scheduled": stats.scheduled,
                "running": stats.running,
                "dead": stats.dead,
                "completed": stats.completed,
            },
        });
        // Written before anything is deleted, so that a drop failing (or this process dying)
        // after it deleted still leaves the operator's trace; no trace, no drop.
        let entry = NewAuditLog {
            user_id: None,
            action: "queue.drop_requested".to_owned(),
            subject_id: operation_id,
            detail,
        };
        let audit_id = self.backends.store.record_audit_log(entry).await?.id;
        let outcome = queue.drop_queue(force, limit).await;
        // The outcome, under the same operation id: what was deleted, or why nothing was.
        let (action, detail) = match &outcome {
            Ok(progress) => (
                "queue.dropped",
                serde_json::json!({"actor": "admin", "done": progress.done, "remaining": progress.remaining}),
            ),
            Err(error) => (
                if error.kind() == stack_core::ErrorKind::Conflict {
                    "queue.drop_refused"
                } else {
                    "queue.drop_failed"
                },
                serde_json::json!({"actor": "admin", "error": error.to_string()}),
            ),
        };
        let entry = NewAuditLog {
            user_id: None,
            action: action.to_owned(),
            subject_id: operation_id,
            detail,
        };
        if let Err(error) = self.backends.store.record_audit_log(entry).await {
            // The request's log is written; the answer (and the log line below) tell the rest.
            tracing::warn!(action, %operation_id, %audit_id, %error, "admin action's outcome not audited");
        }
        let progress = outcome.inspect_err(|error| {
            tracing::warn!(action, %operation_id, %audit_id, %error, "admin action failed");
        })?;
        tracing::info!(action, backend = queue.name(), queue = ?location, force, done = progress.done, remaining = progress.remaining, %operation_id, %audit_id, "admin action");
        Ok(Json(BulkOutcome {
            operation_id,
            done: progress.done,
            remaining: progress.remaining,
            audit_id,
        }))
    }
}
