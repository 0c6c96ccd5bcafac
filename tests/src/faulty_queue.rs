//! A [`Queue`] decorator that makes enqueues fail or hang on demand, for trials of what
//! callers do when the queue misbehaves; every other call goes to the queue it wraps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, Job, JobId, Lease, LeaseToken, NewJob, Progress, Queue,
    QueueCapabilities, QueueStats, Transaction,
};
use stack_core::{Error, Result};

/// See the module documentation.
#[derive(Debug)]
pub struct FaultyQueue {
    inner: Arc<dyn Queue>,
    failures_left: AtomicU32,
    hang: AtomicBool,
    attempts: AtomicU32,
}

impl FaultyQueue {
    /// Wraps `inner`; it behaves until told otherwise.
    pub fn new(inner: Arc<dyn Queue>) -> Self {
        Self {
            inner,
            failures_left: AtomicU32::new(0),
            hang: AtomicBool::new(false),
            attempts: AtomicU32::new(0),
        }
    }

    /// The next `n` enqueues fail as an unreachable backend would.
    pub fn fail_next(&self, n: u32) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    /// Every enqueue from now on never finishes.
    pub fn hang(&self) {
        self.hang.store(true, Ordering::SeqCst);
    }

    /// How many enqueues were attempted.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Queue for FaultyQueue {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn capabilities(&self) -> QueueCapabilities {
        self.inner.capabilities()
    }
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
            return Err(Error::unavailable("queue (injected fault)", refused));
        }
        self.inner.enqueue(job).await
    }
    async fn enqueue_in(&self, tx: &dyn Transaction, job: NewJob) -> Result<Enqueued> {
        self.inner.enqueue_in(tx, job).await
    }
    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        self.inner.enqueue_batch(jobs).await
    }
    async fn reserve(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        self.inner.reserve(max, lease_for).await
    }
    async fn complete(&self, token: &LeaseToken) -> Result<()> {
        self.inner.complete(token).await
    }
    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome> {
        self.inner.fail(token, failure).await
    }
    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>> {
        self.inner.extend(token, lease_for).await
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
    async fn health(&self) -> Result<()> {
        self.inner.health().await
    }
}
