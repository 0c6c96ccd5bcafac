//! A [`Queue`] decorator that injects faults on demand, for trials of what callers do when the
//! queue misbehaves: enqueues that fail or hang, reports (complete, fail, release) that fail
//! as if the queue were down, heartbeats of one attempt that never reach it, and reserves
//! slowed down as a distant database's would be. Every other
//! call goes to the queue it wraps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
    hang_reserves: AtomicBool,
    hung_reserves: AtomicU32,
    /// Milliseconds each reserve waits before reaching the queue.
    reserve_delay_ms: AtomicU64,
    attempts: AtomicU32,
    reports_failing: AtomicU32,
    reports_refused: AtomicU32,
    /// Extends of leases for this attempt fail (0: none do).
    heartbeats_dropped_for: AtomicU32,
    /// Drops delete, then fail as if the answer were lost.
    drops_fail_after: AtomicBool,
}

/// What an unreachable queue answers.
fn unreachable() -> Error {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    Error::unavailable("queue (injected fault)", refused)
}

/// Takes one from `counter` if it is above zero; whether it did.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl FaultyQueue {
    /// Wraps `inner`; it behaves until told otherwise.
    pub fn new(inner: Arc<dyn Queue>) -> Self {
        Self {
            inner,
            failures_left: AtomicU32::new(0),
            hang: AtomicBool::new(false),
            hang_reserves: AtomicBool::new(false),
            hung_reserves: AtomicU32::new(0),
            reserve_delay_ms: AtomicU64::new(0),
            attempts: AtomicU32::new(0),
            reports_failing: AtomicU32::new(0),
            reports_refused: AtomicU32::new(0),
            heartbeats_dropped_for: AtomicU32::new(0),
            drops_fail_after: AtomicBool::new(false),
        }
    }

    /// The next `n` reports (`complete`, `complete_many`, `fail`, `release`) fail as an
    /// unreachable backend would; `u32::MAX` keeps the queue down, `0` brings it back.
    pub fn fail_reports(&self, n: u32) {
        self.reports_failing.store(n, Ordering::SeqCst);
    }

    /// How many reports failed by injection so far.
    pub fn reports_refused(&self) -> u32 {
        self.reports_refused.load(Ordering::SeqCst)
    }

    /// From now on, extending a lease of attempt `attempt` fails as an unreachable backend
    /// would (each such token's result is an error; other tokens are extended): a worker's
    /// heartbeats for that attempt never arrive and its lease lapses.
    pub fn drop_heartbeats_of_attempt(&self, attempt: u32) {
        self.heartbeats_dropped_for.store(attempt, Ordering::SeqCst);
    }

    /// Whether this report is to fail; counts it if so.
    fn report_fails(&self) -> bool {
        let fails = self.reports_failing.load(Ordering::SeqCst) == u32::MAX
            || take_one(&self.reports_failing);
        if fails {
            self.reports_refused.fetch_add(1, Ordering::SeqCst);
        }
        fails
    }

    fn heartbeat_dropped(&self, token: &LeaseToken) -> bool {
        token.attempt == self.heartbeats_dropped_for.load(Ordering::SeqCst)
    }

    /// From now on every drop deletes what the wrapped queue deletes, then fails as an
    /// unreachable backend would (the answer lost after the work was done).
    pub fn fail_drops_after_deleting(&self) {
        self.drops_fail_after.store(true, Ordering::SeqCst);
    }

    /// The next `n` enqueues fail as an unreachable backend would.
    pub fn fail_next(&self, n: u32) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    /// Every enqueue from now on never finishes.
    pub fn hang(&self) {
        self.hang.store(true, Ordering::SeqCst);
    }

    /// Every reserve from now on never finishes (a database that stopped answering).
    pub fn hang_reserves(&self) {
        self.hang_reserves.store(true, Ordering::SeqCst);
    }

    /// Every reserve from now on waits `delay` before reaching the queue (a round trip to a
    /// distant database, or a durable commit).
    pub fn slow_reserves(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.reserve_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many reserves hang now.
    pub fn hung_reserves(&self) -> u32 {
        self.hung_reserves.load(Ordering::SeqCst)
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
    fn location(&self) -> Option<stack_core::queue::QueueLocation> {
        self.inner.location()
    }
    fn unique_key_retention(&self) -> Option<Duration> {
        self.inner.unique_key_retention()
    }
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if take_one(&self.failures_left) {
            return Err(unreachable());
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
        if self.hang_reserves.load(Ordering::SeqCst) {
            self.hung_reserves.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        let delay = self.reserve_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.inner.reserve(max, lease_for).await
    }
    async fn complete(&self, token: &LeaseToken) -> Result<()> {
        if self.report_fails() {
            return Err(unreachable());
        }
        self.inner.complete(token).await
    }
    async fn complete_many(&self, tokens: &[LeaseToken]) -> Result<Vec<Result<()>>> {
        if self.report_fails() {
            return Err(unreachable());
        }
        self.inner.complete_many(tokens).await
    }
    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome> {
        if self.report_fails() {
            return Err(unreachable());
        }
        self.inner.fail(token, failure).await
    }
    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>> {
        if self.heartbeat_dropped(token) {
            return Err(unreachable());
        }
        self.inner.extend(token, lease_for).await
    }
    async fn extend_many(
        &self,
        tokens: &[LeaseToken],
        lease_for: Duration,
    ) -> Result<Vec<Result<DateTime<Utc>>>> {
        let dropped: Vec<bool> = tokens.iter().map(|t| self.heartbeat_dropped(t)).collect();
        if !dropped.contains(&true) {
            return self.inner.extend_many(tokens, lease_for).await;
        }
        let passed: Vec<LeaseToken> = tokens
            .iter()
            .zip(&dropped)
            .filter(|(_, dropped)| !**dropped)
            .map(|(t, _)| *t)
            .collect();
        let mut extended = self
            .inner
            .extend_many(&passed, lease_for)
            .await?
            .into_iter();
        let results = dropped
            .iter()
            .map(|&dropped| match dropped {
                true => Err(unreachable()),
                false => extended.next().unwrap_or_else(|| Err(unreachable())),
            })
            .collect();
        Ok(results)
    }
    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.inner.next_run_at().await
    }
    async fn wait_for_work(&self, max_wait: Duration) -> Result<()> {
        self.inner.wait_for_work(max_wait).await
    }
    async fn release(&self, token: &LeaseToken) -> Result<()> {
        if self.report_fails() {
            return Err(unreachable());
        }
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
        let progress = self.inner.drop_queue(force, limit).await?;
        if self.drops_fail_after.load(Ordering::SeqCst) {
            return Err(unreachable());
        }
        Ok(progress)
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
