//! The [`Queue`] trait: durable jobs with priorities, leases, retries and dead letters.
//!
//! Delivery is at least once. A worker [`reserve`](Queue::reserve)s jobs with a lease; it
//! [`complete`](Queue::complete)s or [`fail`](Queue::fail)s each with the lease's
//! [`LeaseToken`], and [`extend`](Queue::extend)s the lease while it works (a heartbeat at
//! about a third of the lease). A worker that dies loses nothing: its lease lapses, the job
//! becomes ready again and another worker runs it. The token fences the dead worker out: if
//! it comes back and reports late, the queue refuses with a conflict.
//!
//! A failed job is retried after an exponential, jittered backoff that the queue stores as
//! its next run time; after `max_attempts` starts, or on a permanent failure, it goes to the
//! dead-letter queue with its error history, from where it can be requeued or purged.
//!
//! Priorities are strict; within one priority, jobs run in the order they became due.
//!
//! A [`TypedJob`] defines a job once (its payload type and type name) for enqueueing
//! ([`NewJob::of`], [`QueueExt::enqueue_job`]) and for its handler.

mod bounds;
mod job;
mod lease;
mod listing;
mod location;
mod options;
mod stats;
mod trace;
mod typed;
mod workers;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use bounds::{
    EARLIEST_RUN_AT_MS, LATEST_RUN_AT_MS, MAX_DELAY, MAX_RETENTION, latest_run_at, run_time_after,
    validate_batch, validate_delay, validate_job_type, validate_lease, validate_queue_name,
    validate_reserve, validate_retention, validate_run_at, validate_type_filter,
};
pub use job::{
    AttemptError, DEFAULT_MAX_ATTEMPTS, Job, JobId, JobState, NewJob, Priority, to_millis,
};
pub use lease::{Enqueued, FailOutcome, Failure, Lease, LeaseToken};
pub use listing::{JobCursor, JobList, JobListing, ListedJob, ListedState, MAX_LIST_LIMIT};
pub use location::QueueLocation;
pub use options::{Progress, QueueCapabilities, QueueOptions, validate_limit};
pub use stats::{PriorityStats, QueueStats};
pub use trace::{MAX_TRACESTATE, TraceContext};
pub use typed::{QueueExt, TypedJob};
pub use workers::{
    LiveWorker, MAX_BEAT_JOBS, MAX_BEAT_TTL, MAX_HOST, WorkerBeat, sort_workers, ttl_millis,
};

use crate::Result;
use crate::page::{Page, PageRequest};

/// A caller's open database transaction, handed to [`Queue::enqueue_in`] so a job is stored
/// if and only if the caller's writes commit (see [`crate::unit`]).
pub use crate::unit::Transaction;

/// A durable job queue. See the [module documentation](self) for its guarantees.
#[async_trait]
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// A short name of the backend (`memory`, `postgres`, `redis`).
    fn name(&self) -> &'static str;

    /// What this backend can do.
    fn capabilities(&self) -> QueueCapabilities;

    /// The queue's name and where its jobs live, for audit entries; `None` when unknown.
    fn location(&self) -> Option<QueueLocation> {
        None
    }

    /// The backend's own handle, for a caller that must inspect it (the server's
    /// `BackendsBuilder` checks that a SQL queue shares the database's pool); `None` by
    /// default. A wrapper should forward its inner queue's.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// How long a completed job keeps its unique key ([`QueueOptions::completed_retention`]),
    /// when the backend says; `None` when it does not. The cron scheduler reads it to bound
    /// how late it may still enqueue a tick (see
    /// [`CronScheduler`](crate::scheduler::CronScheduler)): a backend that keeps keys should
    /// answer it.
    fn unique_key_retention(&self) -> Option<Duration> {
        None
    }

    /// Stores `job`. When the queue already holds a job with the id of [`NewJob::id`], or a
    /// live job (pending, running, dead, or completed within the retention) already holds
    /// its unique key, nothing is stored and [`Enqueued::Duplicate`] names that job:
    /// enqueueing is idempotent per id and per key.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) when the job fails [`NewJob::validate`].
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued>;

    /// Stores every job of `jobs`, one result per job in order. The batch is checked first:
    /// if any job is invalid, nothing is stored.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) naming the index of the first bad job.
    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>>;

    /// Enqueues `job` inside the caller's transaction `tx`: stored when `tx` commits, gone if
    /// it rolls back. Only backends with [`QueueCapabilities::transactional_enqueue`] can.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) by default, and for a transaction of
    /// another backend; otherwise as [`Queue::enqueue`].
    async fn enqueue_in(&self, tx: &dyn Transaction, job: NewJob) -> Result<Enqueued> {
        let _ = (tx, job);
        Err(crate::Error::unsupported(format!(
            "enqueue inside a transaction on the {} queue",
            self.name()
        )))
    }

    /// Leases up to `max` ready jobs for `lease_for`, most urgent first, FIFO within a
    /// priority. Returns at once, possibly with none. Each lease counts as an attempt.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for `max == 0`, or a lease that is zero or
    /// longer than [`MAX_DELAY`].
    async fn reserve(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>>;

    /// Marks the leased job done.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) when `token` no longer holds the job (its
    /// lease lapsed and it was handed out again, or it was already finished);
    /// [`Error::NotFound`](crate::Error::NotFound) when the job does not exist.
    async fn complete(&self, token: &LeaseToken) -> Result<()>;

    /// Records a failed attempt: the job is retried after the backoff, or dead-lettered when
    /// its attempts are spent or the failure is permanent.
    ///
    /// # Errors
    /// As [`Queue::complete`].
    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome>;

    /// Extends the lease to `lease_for` from now; answers the new expiry.
    ///
    /// # Errors
    /// As [`Queue::complete`].
    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>>;

    /// When the earliest pending job may run: at or before now when one is ready, later when
    /// the earliest is delayed or waiting out a backoff; `None` when nothing is pending.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>>;

    /// Waits until work may be ready, at most `max_wait`; returns at once when a job is ready.
    /// A backend that can be woken (memory: a notify; Redis: a blocking pop; PostgreSQL:
    /// LISTEN/NOTIFY) returns when a job arrives; otherwise it sleeps until the next scheduled
    /// job or a jittered poll of at most a second, whichever is first. Returning does not
    /// promise a job: callers reserve and wait again when they get none.
    ///
    /// # Errors
    /// As [`Queue::next_run_at`].
    async fn wait_for_work(&self, max_wait: Duration) -> Result<()> {
        let poll = crate::retry::poll_interval().min(max_wait);
        let until = match self.next_run_at().await? {
            Some(at) => (at - Utc::now()).to_std().unwrap_or_default().min(poll),
            None => poll,
        };
        tokio::time::sleep(until).await;
        Ok(())
    }

    /// Hands a leased job back: ready again at once, its attempt not counted and no error
    /// recorded (a worker shutting down gives back what it has not started). The token no
    /// longer holds the job afterwards.
    ///
    /// # Errors
    /// As [`Queue::complete`].
    async fn release(&self, token: &LeaseToken) -> Result<()>;

    /// Completes several leases; one result per token, in order (a stale token fails alone).
    /// The default calls [`Queue::complete`] for each; a backend that can acknowledge a batch
    /// in one round trip overrides it.
    ///
    /// # Errors
    /// Only when the backend fails as a whole; per-token problems are in the results.
    async fn complete_many(&self, tokens: &[LeaseToken]) -> Result<Vec<Result<()>>> {
        let mut results = Vec::with_capacity(tokens.len());
        for token in tokens {
            results.push(self.complete(token).await);
        }
        Ok(results)
    }

    /// Extends several leases to `lease_for` from now; one result (the new expiry) per token,
    /// in order. The default calls [`Queue::extend`] for each.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for a zero `lease_for`; otherwise only when
    /// the backend fails as a whole.
    async fn extend_many(
        &self,
        tokens: &[LeaseToken],
        lease_for: Duration,
    ) -> Result<Vec<Result<DateTime<Utc>>>> {
        validate_lease(lease_for)?;
        let mut results = Vec::with_capacity(tokens.len());
        for token in tokens {
            results.push(self.extend(token, lease_for).await);
        }
        Ok(results)
    }

    /// Makes up to `limit` jobs whose lease has lapsed ready again (or dead, on their last
    /// attempt); answers how many, and how many lapsed leases remain. Bounded, so no single
    /// call (one Lua script, one statement) holds the queue for long; call again while
    /// `remaining > 0`. Backends may also recover on their own (the memory queue does on
    /// every reserve).
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for a zero `limit`;
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn recover_expired(&self, limit: usize) -> Result<Progress>;

    /// The job `id` in whatever state it is, `None` if unknown (or completed and forgotten).
    ///
    /// # Errors
    /// As [`Queue::recover_expired`].
    async fn get(&self, id: JobId) -> Result<Option<Job>>;

    /// One page of the jobs in one state (running, scheduled or ready), optionally of one
    /// type, after a cursor: running jobs by lease expiry then id, pending ones by run time
    /// then id. For a running job the page gives its lease expiry; which worker holds it is
    /// in that worker's report ([`Queue::workers`]). Read-only.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) as [`JobListing::validate`] (a `limit` of 0
    /// or over [`MAX_LIST_LIMIT`], an empty type);
    /// [`Error::Unsupported`](crate::Error::Unsupported) by default; otherwise as
    /// [`Queue::recover_expired`].
    async fn list_jobs(&self, listing: &JobListing) -> Result<JobList> {
        listing.validate()?;
        Err(crate::Error::unsupported(format!(
            "listing jobs of the {} queue",
            self.name()
        )))
    }

    /// Counts by state and priority, and the age of the oldest ready job per priority.
    ///
    /// # Errors
    /// As [`Queue::recover_expired`].
    async fn stats(&self) -> Result<QueueStats>;

    /// One page of the dead-letter queue, oldest death first, optionally of one job type.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for an empty `job_type`; otherwise as
    /// [`Queue::recover_expired`].
    async fn dead_letters(&self, job_type: Option<&str>, page: PageRequest) -> Result<Page<Job>>;

    /// Moves dead job `id` back to ready with a fresh set of attempts.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when no dead job has that id.
    async fn requeue_dead(&self, id: JobId) -> Result<()>;

    /// Moves up to `limit` dead jobs of `job_type` (oldest first) back to ready with fresh
    /// attempts; answers how many, and how many remain.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for an empty `job_type`; otherwise as
    /// [`Queue::recover_expired`].
    async fn requeue_dead_by_type(&self, job_type: &str, limit: usize) -> Result<Progress>;

    /// Deletes up to `limit` dead jobs (oldest first), all or those of `job_type`; answers how
    /// many, and how many remain.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for an empty `job_type`; otherwise as
    /// [`Queue::recover_expired`].
    async fn purge_dead(&self, job_type: Option<&str>, limit: usize) -> Result<Progress>;

    /// Drops the queue: deletes up to `limit` of its jobs in any state (pending, scheduled,
    /// running, dead, remembered completed) with their unique keys; answers how many, and how
    /// many remain. Bounded like [`Queue::purge_dead`] (one Lua script, one statement per
    /// call): call again while `remaining > 0`. Once `remaining` is 0 the queue holds nothing
    /// (no Redis key under its name, no row); it stays usable, and other queues are
    /// untouched. Enqueues that run meanwhile are dropped by later calls, or kept if they
    /// come after the last one.
    ///
    /// While a job is running (its lease not yet lapsed by the backend's clock), each call is
    /// refused unless `force`: a forced drop deletes running jobs too, and their workers'
    /// acknowledgements are then refused as not found. A job whose lease lapsed (its worker
    /// died) does not refuse the drop, and goes with the rest.
    /// A job leased by a reserve racing with the drop may be deleted as if forced.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) when a job is running and `force` is
    /// false (nothing is deleted); [`Error::Invalid`](crate::Error::Invalid) for a zero
    /// `limit`; [`Error::Unsupported`](crate::Error::Unsupported) by default, for a backend
    /// that cannot; otherwise as [`Queue::recover_expired`].
    async fn drop_queue(&self, force: bool, limit: usize) -> Result<Progress> {
        let _ = (force, limit);
        Err(crate::Error::unsupported(format!(
            "dropping the {} queue",
            self.name()
        )))
    }

    /// Records `beat` as worker `beat.id`'s state, listed by [`Queue::workers`] until `ttl`
    /// passes (by the backend's clock) without another report; a later report replaces it.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) as [`WorkerBeat::validate`] (nothing is
    /// stored); [`Error::Unsupported`](crate::Error::Unsupported) by default; otherwise as
    /// [`Queue::recover_expired`].
    async fn record_worker(&self, beat: &WorkerBeat, ttl: Duration) -> Result<()> {
        beat.validate(ttl)?;
        Err(crate::Error::unsupported(format!(
            "a worker registry on the {} queue",
            self.name()
        )))
    }

    /// The workers whose last report has not expired, ordered by [`sort_workers`]. Expired
    /// reports are not listed (and may be deleted by the call).
    ///
    /// # Errors
    /// As [`Queue::record_worker`].
    async fn workers(&self) -> Result<Vec<LiveWorker>> {
        Err(crate::Error::unsupported(format!(
            "a worker registry on the {} queue",
            self.name()
        )))
    }

    /// Forgets worker `id` at once (its pool stopped); nothing when it is not listed.
    ///
    /// # Errors
    /// As [`Queue::record_worker`].
    async fn forget_worker(&self, id: uuid::Uuid) -> Result<()> {
        let _ = id;
        Err(crate::Error::unsupported(format!(
            "a worker registry on the {} queue",
            self.name()
        )))
    }

    /// Checks that the backend answers.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when it does not.
    async fn health(&self) -> Result<()>;
}
