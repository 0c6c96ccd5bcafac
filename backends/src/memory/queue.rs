use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stack_core::Result;
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, Job, JobId, JobList, JobListing, JobState, Lease, LeaseToken,
    ListedJob, ListedState, LiveWorker, NewJob, Priority, PriorityStats, Progress, Queue,
    QueueCapabilities, QueueLocation, QueueOptions, QueueStats, WorkerBeat, validate_batch,
    validate_lease, validate_limit, validate_reserve, validate_type_filter,
};

use super::queue_state::{State, after, now_ms};
use super::workers::WorkerBook;

/// An in-process job queue with the full semantics of [`Queue`]: strict priorities, FIFO
/// within a priority, delayed jobs, batched leases with expiry and fencing, backoff stored as
/// the next run time, dead letters and unique keys.
///
/// Jobs live in this process only: they do not survive a restart and are not shared between
/// instances. Expired leases are recovered on every `reserve`, so no background task is needed.
#[derive(Debug)]
pub struct MemoryQueue {
    options: QueueOptions,
    state: Mutex<State>,
    /// Wakes idle workers when work may have become ready.
    wake: tokio::sync::Notify,
    workers: Mutex<WorkerBook>,
}

impl MemoryQueue {
    /// An empty queue with `options`.
    ///
    /// # Errors
    /// [`Error::Invalid`](stack_core::Error::Invalid) for a name every backend refuses ([`QueueOptions::validate`]).
    pub fn new(options: QueueOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self {
            options,
            state: Mutex::new(State::default()),
            wake: tokio::sync::Notify::new(),
            workers: Mutex::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every transition completes under the lock before it is released; a panic cannot
        // leave a half-made one, so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn workers_book(&self) -> MutexGuard<'_, WorkerBook> {
        // Reports are inserted and removed whole.
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enqueue_locked(&self, state: &mut State, job: NewJob, now: DateTime<Utc>) -> Enqueued {
        let job_type = job.job_type.clone();
        let enqueued = self.store_locked(state, job, now);
        stack_core::metrics::enqueued(&job_type, &enqueued);
        enqueued
    }

    fn store_locked(&self, state: &mut State, job: NewJob, now: DateTime<Utc>) -> Enqueued {
        // A job the queue holds already (a retried enqueue) is left as it is.
        if let Some(id) = job.id.filter(|id| state.jobs.contains_key(id)) {
            return Enqueued::Duplicate(id);
        }
        if let Some(existing) = job.unique_key.as_ref().and_then(|k| state.unique.get(k)) {
            return Enqueued::Duplicate(*existing);
        }
        let job = job.into_job(now);
        let id = job.id;
        state.insert(job);
        Enqueued::Created(id)
    }

    fn dead_of_type(state: &State, job_type: Option<&str>) -> Vec<JobId> {
        state
            .dead
            .values()
            .filter(|id| {
                job_type.is_none_or(|t| state.jobs.get(id).is_some_and(|s| s.job.job_type == t))
            })
            .copied()
            .collect()
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> Option<QueueLocation> {
        Some(QueueLocation {
            name: self.options.name.clone(),
            namespace: "this process".to_owned(),
        })
    }

    fn capabilities(&self) -> QueueCapabilities {
        QueueCapabilities::default()
    }

    fn unique_key_retention(&self) -> Option<Duration> {
        Some(self.options.completed_retention)
    }

    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        job.validate()?;
        let job = job.traced();
        let now = now_ms();
        let mut state = self.state();
        state.prune_completed(now, self.options.completed_retention);
        let enqueued = self.enqueue_locked(&mut state, job, now);
        drop(state);
        self.wake.notify_waiters();
        Ok(enqueued)
    }

    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        validate_batch(&jobs)?;
        let jobs = jobs.into_iter().map(NewJob::traced);
        let now = now_ms();
        let mut state = self.state();
        state.prune_completed(now, self.options.completed_retention);
        let enqueued = jobs
            .map(|job| self.enqueue_locked(&mut state, job, now))
            .collect();
        drop(state);
        self.wake.notify_waiters();
        Ok(enqueued)
    }

    async fn reserve(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        validate_reserve(max, lease_for)?;
        let now = now_ms();
        let mut state = self.state();
        state.recover_expired(now, usize::MAX);
        Ok(state.reserve(now, max, lease_for))
    }

    async fn complete(&self, token: &LeaseToken) -> Result<()> {
        let now = now_ms();
        let mut state = self.state();
        state.release_lease(token)?;
        state.complete(token.job_id, now);
        Ok(())
    }

    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome> {
        let now = now_ms();
        let mut state = self.state();
        let slot = state.release_lease(token)?;
        let attempts = slot.job.attempts;
        let retry_at = (failure.retryable && attempts < slot.job.max_attempts)
            .then(|| after(now, failure.delay(&self.options.backoff, attempts)));
        state.record_failure(token.job_id, now, failure.message, retry_at);
        drop(state);
        // A retry may be due before what idle workers are sleeping until.
        self.wake.notify_waiters();
        Ok(retry_at.map_or(FailOutcome::Dead, |run_at| FailOutcome::Retrying { run_at }))
    }

    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>> {
        validate_lease(lease_for)?;
        self.state().extend(token, now_ms(), lease_for)
    }

    async fn release(&self, token: &LeaseToken) -> Result<()> {
        let mut state = self.state();
        state.release_lease(token)?;
        state.hand_back(token.job_id);
        drop(state);
        self.wake.notify_waiters();
        Ok(())
    }

    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.state().next_run_at())
    }

    async fn wait_for_work(&self, max_wait: Duration) -> Result<()> {
        let woken = self.wake.notified();
        tokio::pin!(woken);
        // Registered before reading the state, so a job arriving in between still wakes us.
        woken.as_mut().enable();
        let now = now_ms();
        let until = match self.state().next_run_at() {
            Some(at) if at <= now => return Ok(()),
            Some(at) => (at - now).to_std().unwrap_or_default().min(max_wait),
            None => max_wait,
        };
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(until) => {}
        }
        Ok(())
    }

    async fn complete_many(&self, tokens: &[LeaseToken]) -> Result<Vec<Result<()>>> {
        let now = now_ms();
        let mut state = self.state();
        Ok(tokens
            .iter()
            .map(|token| {
                state.release_lease(token)?;
                state.complete(token.job_id, now);
                Ok(())
            })
            .collect())
    }

    async fn recover_expired(&self, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        let now = now_ms();
        let mut state = self.state();
        let done = state.recover_expired(now, limit);
        let remaining = state.lapsed(now);
        drop(state);
        if done > 0 {
            self.wake.notify_waiters();
        }
        Ok(Progress { done, remaining })
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        Ok(self.state().jobs.get(&id).map(|slot| slot.job.clone()))
    }

    async fn stats(&self) -> Result<QueueStats> {
        let now = now_ms();
        let state = self.state();
        let mut stats = QueueStats {
            running: state.running_total(),
            dead: state.dead.len() as u64,
            completed: state.completed_total(),
            ..QueueStats::default()
        };
        let mut ready_total = 0;
        for priority in Priority::URGENT_FIRST {
            let (ready, oldest) = state.ready(priority, now);
            ready_total += ready;
            let age = oldest.map(|at| u64::try_from((now - at).num_milliseconds()).unwrap_or(0));
            stats.by_priority.insert(
                priority,
                PriorityStats {
                    ready,
                    oldest_ready_age_ms: age,
                },
            );
        }
        stats.scheduled = state.pending_total() - ready_total;
        Ok(stats)
    }

    async fn list_jobs(&self, listing: &JobListing) -> Result<JobList> {
        listing.validate()?;
        let now = now_ms();
        let state = self.state();
        let mut jobs: Vec<ListedJob> = state
            .jobs
            .values()
            .filter(|slot| {
                listing
                    .job_type
                    .as_ref()
                    .is_none_or(|t| slot.job.job_type == *t)
            })
            .filter(|slot| match (listing.state, slot.job.state) {
                (ListedState::Running, JobState::Running) => true,
                (ListedState::Scheduled, JobState::Pending) => slot.job.run_at > now,
                (ListedState::Ready, JobState::Pending) => slot.job.run_at <= now,
                _ => false,
            })
            .map(|slot| ListedJob {
                job: slot.job.clone(),
                lease_expires_at: slot.lease_expiry(),
            })
            .filter(|listed| {
                let at = listed.cursor();
                listing.is_after_cursor(at.at, at.id)
            })
            .collect();
        drop(state);
        jobs.sort_by_key(ListedJob::cursor);
        jobs.truncate(listing.limit);
        Ok(JobList::full_or_last(jobs, listing.limit))
    }

    async fn dead_letters(&self, job_type: Option<&str>, page: PageRequest) -> Result<Page<Job>> {
        validate_type_filter(job_type)?;
        let state = self.state();
        let jobs: Vec<Job> = Self::dead_of_type(&state, job_type)
            .into_iter()
            .filter_map(|id| state.jobs.get(&id).map(|s| s.job.clone()))
            .collect();
        Ok(Page::from_vec(jobs, page))
    }

    async fn requeue_dead(&self, id: JobId) -> Result<()> {
        self.state().requeue_dead(id, now_ms())?;
        self.wake.notify_waiters();
        Ok(())
    }

    async fn requeue_dead_by_type(&self, job_type: &str, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        validate_type_filter(Some(job_type))?;
        let now = now_ms();
        let mut state = self.state();
        let ids = Self::dead_of_type(&state, Some(job_type));
        let chunk = &ids[..ids.len().min(limit)];
        for id in chunk {
            state.requeue_dead(*id, now)?;
        }
        drop(state);
        self.wake.notify_waiters();
        Ok(Progress {
            done: chunk.len() as u64,
            remaining: (ids.len() - chunk.len()) as u64,
        })
    }

    async fn purge_dead(&self, job_type: Option<&str>, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        validate_type_filter(job_type)?;
        let mut state = self.state();
        let ids = Self::dead_of_type(&state, job_type);
        let chunk = &ids[..ids.len().min(limit)];
        for id in chunk {
            state.purge(*id);
        }
        Ok(Progress {
            done: chunk.len() as u64,
            remaining: (ids.len() - chunk.len()) as u64,
        })
    }

    async fn drop_queue(&self, force: bool, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        let mut state = self.state();
        // Only live leases refuse: a lapsed one's worker is gone.
        let running = state.running_total() - state.lapsed(now_ms());
        if running > 0 && !force {
            return Err(running_refusal(running));
        }
        let (done, remaining) = state.drop_some(limit);
        if remaining == 0 {
            self.workers_book().clear();
        }
        Ok(Progress { done, remaining })
    }

    async fn record_worker(&self, beat: &WorkerBeat, ttl: Duration) -> Result<()> {
        beat.validate(ttl)?;
        self.workers_book().record(beat, ttl, now_ms());
        Ok(())
    }

    async fn workers(&self) -> Result<Vec<LiveWorker>> {
        Ok(self.workers_book().list(now_ms()))
    }

    async fn forget_worker(&self, id: uuid::Uuid) -> Result<()> {
        self.workers_book().forget(id);
        Ok(())
    }

    async fn health(&self) -> Result<()> {
        Ok(())
    }
}

/// The refusal of a drop that is not forced while `running` jobs run.
fn running_refusal(running: u64) -> stack_core::Error {
    stack_core::Error::conflict(format!(
        "{running} jobs are running: drop the queue once they finish, or force it"
    ))
}

#[cfg(test)]
mod tests {
    use stack_core::queue::QueueOptions;

    use super::MemoryQueue;

    #[test]
    fn a_name_every_backend_refuses_is_refused_here_too() {
        for name in ["", "}x", "a{b}"] {
            let err = MemoryQueue::new(QueueOptions::new(name)).unwrap_err();
            assert_eq!(err.kind(), stack_core::ErrorKind::Invalid, "{name:?}");
        }
        assert!(MemoryQueue::new(QueueOptions::new("jobs")).is_ok());
        let mut forever = QueueOptions::new("jobs");
        forever.completed_retention = std::time::Duration::MAX;
        let err = MemoryQueue::new(forever).unwrap_err();
        assert_eq!(err.kind(), stack_core::ErrorKind::Invalid, "{err}");
    }
}
