//! A [`Queue`] decorator that records on Redis lists each acknowledgement the pool sends
//! (`<record>:acking`, before the call) and each one the queue took (`<record>:acked`, after),
//! as `<job id>:<pid>`. The crash test reads them to tell a completed job (its data deleted,
//! as the queue does for a job without a unique key) from a lost one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stack_backends::redis::RedisConnection;
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, Job, JobId, Lease, LeaseToken, NewJob, Progress, Queue,
    QueueCapabilities, QueueStats,
};
use stack_core::{Error, Result};

/// See the module documentation.
pub(crate) struct Recording {
    inner: Arc<dyn Queue>,
    redis: RedisConnection,
    acking: String,
    acked: String,
    pid: u32,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("inner", &self.inner)
            .field("acked", &self.acked)
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// Wraps `inner`, recording on `<record>:acking` and `<record>:acked` through `redis`.
    pub(crate) fn new(inner: Arc<dyn Queue>, redis: RedisConnection, record: &str) -> Self {
        Self {
            inner,
            redis,
            acking: format!("{record}:acking"),
            acked: format!("{record}:acked"),
            pid: std::process::id(),
        }
    }

    /// Appends `<id>:<pid>` for each of `ids` to `list`.
    async fn record(&self, list: &str, ids: impl Iterator<Item = JobId>) -> Result<()> {
        let entries: Vec<String> = ids.map(|id| format!("{id}:{}", self.pid)).collect();
        if entries.is_empty() {
            return Ok(());
        }
        let mut redis = self.redis.clone();
        redis::cmd("RPUSH")
            .arg(list)
            .arg(entries)
            .query_async::<()>(&mut redis)
            .await
            .map_err(|e| Error::unavailable("the crash record", e))
    }
}

impl Recording {
    /// Records completions the queue took. Failing here is not the queue's failure (the pool
    /// must not report them again), so it is only said; the crash test will miss them.
    async fn taken(&self, ids: impl Iterator<Item = JobId>) {
        if let Err(e) = self.record(&self.acked, ids).await {
            eprintln!("crash_worker: recording completions failed: {e}");
        }
    }
}

#[async_trait]
impl Queue for Recording {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self) -> QueueCapabilities {
        self.inner.capabilities()
    }
    fn location(&self) -> Option<stack_core::queue::QueueLocation> {
        self.inner.location()
    }
    fn unique_key_retention(&self) -> Option<Duration> {
        self.inner.unique_key_retention()
    }
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        self.inner.enqueue(job).await
    }
    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        self.inner.enqueue_batch(jobs).await
    }
    async fn reserve(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        self.inner.reserve(max, lease_for).await
    }
    async fn complete(&self, token: &LeaseToken) -> Result<()> {
        self.record(&self.acking, std::iter::once(token.job_id))
            .await?;
        self.inner.complete(token).await?;
        self.taken(std::iter::once(token.job_id)).await;
        Ok(())
    }
    async fn complete_many(&self, tokens: &[LeaseToken]) -> Result<Vec<Result<()>>> {
        self.record(&self.acking, tokens.iter().map(|t| t.job_id))
            .await?;
        let results = self.inner.complete_many(tokens).await?;
        let taken = tokens
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(t, _)| t.job_id);
        self.taken(taken).await;
        Ok(results)
    }
    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome> {
        self.inner.fail(token, failure).await
    }
    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>> {
        self.inner.extend(token, lease_for).await
    }
    async fn extend_many(
        &self,
        tokens: &[LeaseToken],
        lease_for: Duration,
    ) -> Result<Vec<Result<DateTime<Utc>>>> {
        self.inner.extend_many(tokens, lease_for).await
    }
    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.inner.next_run_at().await
    }
    async fn wait_for_work(&self, max_wait: Duration) -> Result<()> {
        self.inner.wait_for_work(max_wait).await
    }
    async fn release(&self, token: &LeaseToken) -> Result<()> {
        self.inner.release(token).await
    }
    async fn recover_expired(&self, limit: usize) -> Result<Progress> {
        self.inner.recover_expired(limit).await
    }
    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        self.inner.get(id).await
    }
    async fn stats(&self) -> Result<QueueStats> {
        self.inner.stats().await
    }
    async fn list_jobs(
        &self,
        listing: &stack_core::queue::JobListing,
    ) -> Result<stack_core::queue::JobList> {
        self.inner.list_jobs(listing).await
    }
    async fn dead_letters(&self, job_type: Option<&str>, page: PageRequest) -> Result<Page<Job>> {
        self.inner.dead_letters(job_type, page).await
    }
    async fn requeue_dead(&self, id: JobId) -> Result<()> {
        self.inner.requeue_dead(id).await
    }
    async fn requeue_dead_by_type(&self, job_type: &str, limit: usize) -> Result<Progress> {
        self.inner.requeue_dead_by_type(job_type, limit).await
    }
    async fn purge_dead(&self, job_type: Option<&str>, limit: usize) -> Result<Progress> {
        self.inner.purge_dead(job_type, limit).await
    }
    async fn drop_queue(&self, force: bool, limit: usize) -> Result<Progress> {
        self.inner.drop_queue(force, limit).await
    }
    async fn record_worker(
        &self,
        beat: &stack_core::queue::WorkerBeat,
        ttl: std::time::Duration,
    ) -> Result<()> {
        self.inner.record_worker(beat, ttl).await
    }
    async fn workers(&self) -> Result<Vec<stack_core::queue::LiveWorker>> {
        self.inner.workers().await
    }
    async fn forget_worker(&self, id: uuid::Uuid) -> Result<()> {
        self.inner.forget_worker(id).await
    }
    async fn health(&self) -> Result<()> {
        self.inner.health().await
    }
}
