//! [`Queue`] for [`SqlQueue`].

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Value};
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, Job, JobId, JobList, JobListing, Lease, LeaseToken, LiveWorker,
    NewJob, Priority, PriorityStats, Progress, Queue, QueueCapabilities, QueueLocation, QueueStats,
    Transaction, WorkerBeat, validate_batch, validate_lease, validate_limit, validate_reserve,
    validate_type_filter,
};
use stack_core::{Error, Result};

use super::rows::{get, job};
use super::{CHUNK, SqlQueue};

impl SqlQueue {
    /// Wakes this process's idle workers after an enqueue on SQLite (PostgreSQL's enqueue
    /// notifies in its own statement).
    fn wake_local(&self) {
        if !self.dialect.is_postgres() {
            self.wake.notify();
        }
    }

    pub(super) fn name_value(&self) -> Value {
        self.options.name.clone().into()
    }
}

#[async_trait]
impl Queue for SqlQueue {
    fn name(&self) -> &'static str {
        match self.backend() {
            DbBackend::Postgres => "postgres",
            _ => "sqlite",
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn location(&self) -> Option<QueueLocation> {
        Some(QueueLocation {
            name: self.options.name.clone(),
            namespace: format!("stack_jobs (queue = '{}')", self.options.name),
        })
    }

    fn capabilities(&self) -> QueueCapabilities {
        QueueCapabilities::default()
            .with_durable(true)
            .with_transactional_enqueue(true)
    }

    /// A completed job keeps its row, and so its unique key, until the sweep deletes it
    /// past [`QueueOptions::completed_retention`](stack_core::queue::QueueOptions).
    fn unique_key_retention(&self) -> Option<Duration> {
        Some(self.options.completed_retention)
    }

    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        job.validate()?;
        let job = job.traced();
        let mut done = self
            .enqueue_on(&self.db, std::slice::from_ref(&job))
            .await?;
        self.wake_local();
        done.pop()
            .ok_or_else(|| Error::backend("SQL queue: empty enqueue result"))
    }

    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        validate_batch(&jobs)?;
        let jobs: Vec<NewJob> = jobs.into_iter().map(NewJob::traced).collect();
        let done = if self.statements_for(&jobs).len() <= 1 {
            self.enqueue_on(&self.db, &jobs).await?
        } else {
            // Several statements: all of them or none.
            let tx = self.write().await?;
            let done = self.enqueue_on(&tx, &jobs).await?;
            tx.commit()
                .await
                .map_err(|e| super::db_error("commit an enqueue", e))?;
            done
        };
        self.wake_local();
        Ok(done)
    }

    async fn enqueue_in(&self, tx: &dyn Transaction, job: NewJob) -> Result<Enqueued> {
        let tx = self.own_transaction(tx)?;
        job.validate()?;
        let job = job.traced();
        let mut done = self.enqueue_on(tx, std::slice::from_ref(&job)).await?;
        if !self.dialect.is_postgres() {
            // The job is visible once the caller's transaction commits: wake workers then
            // (at once outside a unit of work, whose caller commits on its own).
            let wake = std::sync::Arc::clone(&self.wake);
            stack_core::unit::after_commit(async move { wake.notify() }).await;
        }
        done.pop()
            .ok_or_else(|| Error::backend("SQL queue: empty enqueue result"))
    }

    async fn reserve(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        validate_reserve(max, lease_for)?;
        self.recover_before_reserve().await?;
        self.lease_due(max.min(CHUNK), lease_for).await
    }

    async fn complete(&self, token: &LeaseToken) -> Result<()> {
        if self.complete_one(&self.db, token).await? {
            Ok(())
        } else {
            Err(self.refusal(token).await)
        }
    }

    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome> {
        let delay = failure.delay(&self.options.backoff, token.attempt);
        match self.fail_one(token, &failure, delay).await? {
            Some(outcome) => Ok(outcome),
            None => Err(self.refusal(token).await),
        }
    }

    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>> {
        validate_lease(lease_for)?;
        match self.extend_one(token, lease_for).await? {
            Some(at) => Ok(at),
            None => Err(self.refusal(token).await),
        }
    }

    async fn extend_many(
        &self,
        tokens: &[LeaseToken],
        lease_for: Duration,
    ) -> Result<Vec<Result<DateTime<Utc>>>> {
        validate_lease(lease_for)?;
        let mut results = Vec::with_capacity(tokens.len());
        if !self.dialect.is_postgres() {
            for token in tokens {
                results.push(self.extend(token, lease_for).await);
            }
            return Ok(results);
        }
        for chunk in tokens.chunks(self.token_chunk()) {
            let extended = match self.extend_batch_postgres(chunk, lease_for).await {
                Ok(extended) => extended,
                Err(error) => {
                    results.extend(chunk.iter().map(|_| Err(chunk_failed(&error))));
                    continue;
                }
            };
            let missed: Vec<LeaseToken> = chunk
                .iter()
                .filter(|t| !extended.contains_key(&(t.job_id, t.lease_id)))
                .copied()
                .collect();
            let mut refusals = self.refusals(&missed).await.into_iter();
            for token in chunk {
                results.push(match extended.get(&(token.job_id, token.lease_id)) {
                    Some(at) => Ok(*at),
                    None => Err(refusals.next().unwrap_or_else(|| {
                        Error::backend("extend leases: a refusal went missing")
                    })),
                });
            }
        }
        Ok(results)
    }

    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        let (_, pending, lease) = self.next_times().await?;
        Ok(match (pending, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    async fn wait_for_work(&self, max_wait: Duration) -> Result<()> {
        self.wait(max_wait).await
    }

    async fn release(&self, token: &LeaseToken) -> Result<()> {
        if self.release_one(token).await? {
            Ok(())
        } else {
            Err(self.refusal(token).await)
        }
    }

    async fn complete_many(&self, tokens: &[LeaseToken]) -> Result<Vec<Result<()>>> {
        // One statement per chunk: a chunk that fails answers an error for its own tokens
        // only (temporary when the failure is), the others' completions stand.
        let mut results = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(self.token_chunk()) {
            match self.complete_all(chunk).await {
                Ok(held) => {
                    let missed: Vec<LeaseToken> = chunk
                        .iter()
                        .zip(&held)
                        .filter(|(_, held)| !**held)
                        .map(|(token, _)| *token)
                        .collect();
                    let mut refusals = self.refusals(&missed).await.into_iter();
                    for held in held {
                        results.push(if held {
                            Ok(())
                        } else {
                            Err(refusals.next().unwrap_or_else(|| {
                                Error::backend("complete jobs: a refusal went missing")
                            }))
                        });
                    }
                }
                Err(error) => results.extend(chunk.iter().map(|_| Err(chunk_failed(&error)))),
            }
        }
        Ok(results)
    }

    async fn recover_expired(&self, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        let done = self.recover(limit.min(CHUNK)).await?;
        Ok(Progress {
            done,
            remaining: self.lapsed().await?,
        })
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        let sql = format!(
            "SELECT {} FROM stack_jobs WHERE queue = $1 AND id = $2",
            self.dialect.columns(None)
        );
        let rows = self
            .rows(
                &self.db,
                "read a job",
                sql,
                vec![self.name_value(), id.into()],
            )
            .await?;
        rows.first().map(job).transpose()
    }

    async fn stats(&self) -> Result<QueueStats> {
        let now = self.dialect.now();
        let pending = format!(
            "SELECT priority, COUNT(*) AS total, \
             SUM(CASE WHEN run_at <= {now} THEN 1 ELSE 0 END) AS ready, \
             {now} - MIN(run_at) AS age \
             FROM stack_jobs WHERE queue = $1 AND state = 'pending' GROUP BY priority"
        );
        let rows = self
            .rows(
                &self.db,
                "read queue stats",
                pending,
                vec![self.name_value()],
            )
            .await?;
        let mut stats = QueueStats::default();
        for priority in Priority::URGENT_FIRST {
            stats.by_priority.insert(priority, PriorityStats::default());
        }
        let mut pending_total = 0;
        for row in &rows {
            let rank: i64 = get(row, "priority")?;
            let Some(priority) = usize::try_from(rank)
                .ok()
                .and_then(|r| Priority::URGENT_FIRST.get(r).copied())
            else {
                continue;
            };
            let ready = u64::try_from(get::<Option<i64>>(row, "ready")?.unwrap_or(0)).unwrap_or(0);
            let age: Option<i64> = get(row, "age")?;
            pending_total += u64::try_from(get::<i64>(row, "total")?).unwrap_or(0);
            stats.by_priority.insert(
                priority,
                PriorityStats {
                    ready,
                    oldest_ready_age_ms: (ready > 0)
                        .then(|| age.and_then(|a| u64::try_from(a).ok()))
                        .flatten(),
                },
            );
        }
        stats.scheduled = pending_total - stats.ready();
        let others = "SELECT state, COUNT(*) AS n FROM stack_jobs WHERE queue = $1 \
                      AND state IN ('running', 'completed', 'dead') GROUP BY state";
        let rows = self
            .rows(
                &self.db,
                "read queue stats",
                others.to_owned(),
                vec![self.name_value()],
            )
            .await?;
        for row in &rows {
            let n = u64::try_from(get::<i64>(row, "n")?).unwrap_or(0);
            match get::<String>(row, "state")?.as_str() {
                "running" => stats.running = n,
                "completed" => stats.completed = n,
                _ => stats.dead = n,
            }
        }
        Ok(stats)
    }

    async fn list_jobs(&self, listing: &JobListing) -> Result<JobList> {
        self.list(listing).await
    }

    async fn dead_letters(&self, job_type: Option<&str>, page: PageRequest) -> Result<Page<Job>> {
        validate_type_filter(job_type)?;
        let (cond, mut values) = self.dead_where(job_type);
        let n = values.len();
        values.push(i64::from(page.limit()).into());
        values.push(i64::try_from(page.offset()).unwrap_or(i64::MAX).into());
        let sql = format!(
            "SELECT {} FROM stack_jobs WHERE {cond} ORDER BY dead_seq, id LIMIT ${} OFFSET ${}",
            self.dialect.columns(None),
            n + 1,
            n + 2
        );
        let rows = self
            .rows(&self.db, "list dead letters", sql, values)
            .await?;
        let jobs = rows.iter().map(job).collect::<Result<Vec<_>>>()?;
        Ok(Page::new(jobs, page, self.dead_count(job_type).await?))
    }

    async fn requeue_dead(&self, id: JobId) -> Result<()> {
        let sql = format!(
            "UPDATE stack_jobs SET state = 'pending', attempts = 0, run_at = {}, \
             finished_at = NULL, dead_seq = NULL WHERE queue = $1 AND id = $2 AND state = 'dead'",
            self.dialect.now()
        );
        let done = sea_orm::ConnectionTrait::execute_raw(
            &self.db,
            self.statement(sql, vec![self.name_value(), id.into()]),
        )
        .await
        .map_err(|e| super::db_error("requeue a dead letter", e))?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("dead job {id}")));
        }
        self.announce().await;
        Ok(())
    }

    async fn requeue_dead_by_type(&self, job_type: &str, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        validate_type_filter(Some(job_type))?;
        self.dead_batch(Some(job_type), limit, true).await
    }

    async fn purge_dead(&self, job_type: Option<&str>, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        validate_type_filter(job_type)?;
        self.dead_batch(job_type, limit, false).await
    }

    async fn drop_queue(&self, force: bool, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        self.drop_some(force, limit).await
    }

    async fn record_worker(&self, beat: &WorkerBeat, ttl: Duration) -> Result<()> {
        self.record_worker_row(beat, ttl).await
    }

    async fn workers(&self) -> Result<Vec<LiveWorker>> {
        self.worker_rows().await
    }

    async fn forget_worker(&self, id: uuid::Uuid) -> Result<()> {
        self.forget_worker_row(id).await
    }

    async fn health(&self) -> Result<()> {
        self.db.ping().await.map_err(|e| super::db_error("ping", e))
    }
}

/// The error of each token of a batch statement that failed with `error`: temporary when
/// `error` is, so that the caller tries those tokens again.
pub(super) fn chunk_failed(error: &Error) -> Error {
    if error.is_temporary() {
        Error::unavailable("a batch statement of the queue failed", error.to_string())
    } else {
        Error::backend(format!("a batch statement of the queue failed: {error}"))
    }
}
