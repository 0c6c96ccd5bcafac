use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::missed::latest_tick;
use super::{CronExpr, MissedTicks, ScheduleSpec, ScheduledJob, Scheduler, tick_key};
use crate::queue::{Enqueued, NewJob, Queue};
use crate::{Error, Result};

/// How a tick whose enqueue failed is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickRetry {
    /// Retry the same tick (same unique key, so retrying is safe) until this long after the
    /// tick; then give up on it, record the error, and move to the next tick. Default 5 min.
    pub window: Duration,
    /// One enqueue that takes longer than this counts as failed. Default 10 s.
    pub enqueue_timeout: Duration,
    /// The first retry's wait; each next one doubles, up to 30 s. Default 500 ms.
    pub first_wait: Duration,
}

impl Default for TickRetry {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(300),
            enqueue_timeout: Duration::from_secs(10),
            first_wait: Duration::from_millis(500),
        }
    }
}

/// The scheduler of STACK: cron schedules in this process, ticks enqueued on any
/// [`Queue`] with a per-tick unique key so several instances fire each tick once. A tick
/// whose enqueue fails is retried with the same key (see [`TickRetry`]); the error is shown
/// by [`Scheduler::list`] until a tick is enqueued.
///
/// Once per tick holds because no instance enqueues a tick later than its queue still holds
/// the key of the tick's job: a tick is enqueued only within [`TickRetry::window`] after it
/// (an instance stalled for longer treats it as missed, see [`MissedTicks`]), a missed tick
/// is caught up only within the horizon (half the queue's
/// [`Queue::unique_key_retention`]), and [`Scheduler::start`] refuses a queue whose retention
/// is shorter than twice the window.
#[derive(Debug, Clone)]
pub struct CronScheduler {
    queue: Arc<dyn Queue>,
    retry: TickRetry,
    /// How long the queue keeps a completed job's unique key, when it says.
    retention: Option<Duration>,
    entries: Arc<Mutex<BTreeMap<String, Entry>>>,
    changed: Arc<Notify>,
    runner: Arc<tokio::sync::Mutex<Option<Runner>>>,
}

#[derive(Debug)]
struct Runner {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

#[derive(Debug, Clone)]
struct Entry {
    spec: ScheduleSpec,
    expr: CronExpr,
    tz: chrono_tz::Tz,
    next_fire: Option<DateTime<Utc>>,
    last_fire: Option<DateTime<Utc>>,
    last_error: Option<String>,
    /// While the tick `next_fire` is being retried: when to try again, and how many tries.
    retry_at: Option<DateTime<Utc>>,
    failures: u32,
}

impl Entry {
    /// When this entry wants to run next.
    fn wake_at(&self) -> Option<DateTime<Utc>> {
        let next = self.next_fire?;
        Some(self.retry_at.map_or(next, |r| r.max(next)))
    }

    fn view(&self) -> ScheduledJob {
        ScheduledJob {
            spec: self.spec.clone(),
            next_fire: self.next_fire,
            last_fire: self.last_fire,
            last_error: self.last_error.clone(),
        }
    }

    fn job(&self, tick: DateTime<Utc>) -> NewJob {
        NewJob::new(self.spec.job_type.clone(), self.spec.payload.clone())
            .priority(self.spec.priority)
            .max_attempts(self.spec.max_attempts)
            .unique_key(tick_key(&self.spec.name, tick))
    }
}

impl CronScheduler {
    /// A stopped scheduler with no schedules, enqueuing on `queue`.
    pub fn new(queue: Arc<dyn Queue>) -> Self {
        Self {
            retention: queue.unique_key_retention(),
            queue,
            retry: TickRetry::default(),
            entries: Arc::default(),
            changed: Arc::new(Notify::new()),
            runner: Arc::default(),
        }
    }

    /// Retries failed ticks as `retry` says.
    #[must_use]
    pub fn with_retry(mut self, retry: TickRetry) -> Self {
        self.retry = retry;
        self
    }

    /// How late a tick may be enqueued at all: half the queue's retention of unique keys
    /// (the other half covers clocks that disagree and a job's own run time), or the retry
    /// window when the queue does not say.
    fn horizon(&self) -> chrono::Duration {
        let limit = self.retention.map_or(self.retry.window, |r| r / 2);
        chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX)
    }

    /// How late a tick may be enqueued on time (or retried).
    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.retry.window)
            .unwrap_or(chrono::Duration::MAX)
            .min(self.horizon())
    }

    /// The tick a missed one is replaced with, as `entry`'s policy says: the latest tick at
    /// or before `now` within the horizon and after the last one this instance fired, or
    /// `None` (skip to the next tick).
    fn catch_up(&self, entry: &Entry, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if entry.spec.missed != MissedTicks::RunLatest {
            return None;
        }
        latest_tick(&entry.expr, entry.tz, now, self.horizon())
            .filter(|tick| entry.last_fire.is_none_or(|last| *tick > last))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // Entries are plain data; a panic elsewhere cannot leave them half-written.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fires every schedule whose next tick is at or before `now` (and whose retry, if it is
    /// retrying, is due). A tick that is enqueued moves the schedule to its next tick after
    /// `now`; a tick that fails stays, to be retried with the same key, until
    /// [`TickRetry::window`] after it has passed. A tick already older than the window (this
    /// instance was stalled) is missed: skipped, or replaced by the latest tick, as the
    /// schedule's [`MissedTicks`] says. Answers what each enqueue did.
    ///
    /// The background task calls this; a host that drives time itself (or a test) may too.
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Vec<(String, Result<Enqueued>)> {
        let window = self.window();
        let mut due: Vec<(String, DateTime<Utc>, NewJob)> = Vec::new();
        for e in self.lock().values_mut() {
            let Some(mut tick) = e.next_fire.filter(|t| *t <= now) else {
                continue;
            };
            if e.retry_at.is_some_and(|r| r > now) {
                continue;
            }
            if now - tick > window {
                let Some(latest) = self.catch_up(e, now) else {
                    self.skip_missed(e, tick, now);
                    continue;
                };
                tick = latest;
                e.next_fire = Some(latest);
                (e.retry_at, e.failures) = (None, 0);
            }
            due.push((e.spec.name.clone(), tick, e.job(tick)));
        }
        let mut results = Vec::with_capacity(due.len());
        for (name, tick, job) in due {
            let outcome =
                match tokio::time::timeout(self.retry.enqueue_timeout, self.queue.enqueue(job))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Error::Timeout {
                        operation: format!("enqueue of cron tick {}", tick_key(&name, tick)),
                        after: self.retry.enqueue_timeout,
                    }),
                };
            if let Some(entry) = self.lock().get_mut(&name) {
                self.settle(entry, tick, now, outcome.as_ref().err());
            }
            results.push((name, outcome));
        }
        results
    }

    /// Gives up on `tick`, which is past its window, and moves `entry` to its next tick.
    fn skip_missed(&self, entry: &mut Entry, tick: DateTime<Utc>, now: DateTime<Utc>) {
        let why = if entry.failures > 0 {
            format!(
                "tick {tick} skipped after {} failed attempts",
                entry.failures
            )
        } else {
            format!("tick {tick} skipped: not fired within its window (this instance was stalled)")
        };
        tracing::warn!(schedule = %entry.spec.name, %tick, %now, "{why}");
        entry.last_error = Some(why);
        (entry.retry_at, entry.failures) = (None, 0);
        entry.next_fire = entry.expr.next_after(now, entry.tz);
    }

    /// Moves `entry` on after an enqueue of `tick`: to its next tick, or to a retry.
    fn settle(
        &self,
        entry: &mut Entry,
        tick: DateTime<Utc>,
        now: DateTime<Utc>,
        error: Option<&Error>,
    ) {
        let Some(error) = error else {
            entry.last_fire = Some(tick);
            entry.last_error = None;
            entry.retry_at = None;
            entry.failures = 0;
            // Never earlier than the tick just fired, never a tick already in the past.
            entry.next_fire = entry.expr.next_after(tick.max(now), entry.tz);
            return;
        };
        entry.failures += 1;
        let window = chrono::Duration::from_std(self.retry.window).unwrap_or(chrono::Duration::MAX);
        let doubling = 2u32.saturating_pow(entry.failures.saturating_sub(1).min(16));
        let wait = (self.retry.first_wait * doubling).min(Duration::from_secs(30));
        let retry_at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        if retry_at <= tick + window {
            tracing::warn!(schedule = %entry.spec.name, %tick, %error, failures = entry.failures, "cron tick failed to enqueue; retrying it");
            entry.last_error = Some(format!(
                "tick {tick}: {error} (attempt {}; retrying)",
                entry.failures
            ));
            entry.retry_at = Some(retry_at);
        } else {
            tracing::error!(schedule = %entry.spec.name, %tick, %error, failures = entry.failures, "cron tick failed to enqueue; giving up on it");
            entry.last_error = Some(format!(
                "tick {tick} skipped after {} failed attempts: {error}",
                entry.failures
            ));
            entry.retry_at = None;
            entry.failures = 0;
            entry.next_fire = entry.expr.next_after(tick.max(now), entry.tz);
        }
    }

    /// Enqueues schedule `name`'s job now, outside its ticks, under a unique key of its own
    /// ([`manual_key`](super::manual_key)): it neither takes a tick's key nor is mistaken for
    /// a duplicate of one, and the schedule's next and last fire are unchanged. Answers what
    /// the enqueue did and the key.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no schedule `name`; otherwise as
    /// [`Queue::enqueue`].
    pub async fn trigger(&self, name: &str) -> Result<(Enqueued, String)> {
        let key = super::manual_key(name, uuid::Uuid::now_v7());
        let job = {
            let entries = self.lock();
            let entry = entries
                .get(name)
                .ok_or_else(|| Error::not_found(format!("schedule {name}")))?;
            NewJob::new(entry.spec.job_type.clone(), entry.spec.payload.clone())
                .priority(entry.spec.priority)
                .max_attempts(entry.spec.max_attempts)
                .unique_key(key.clone())
        };
        let enqueued = self.queue.enqueue(job).await?;
        Ok((enqueued, key))
    }

    /// When the earliest schedule wants to run.
    fn earliest(&self) -> Option<DateTime<Utc>> {
        self.lock().values().filter_map(Entry::wake_at).min()
    }

    async fn run(self, cancel: CancellationToken) {
        loop {
            let wait = match self.earliest() {
                Some(at) => (at - Utc::now()).to_std().unwrap_or_default(),
                // Nothing to fire: sleep until a schedule is added or we are stopped.
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.changed.notified() => continue,
                () = tokio::time::sleep(wait) => {}
            }
            // A stop never waits behind a stuck enqueue: the tick is retried on the next start
            // (or by another instance), under the same key.
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = self.fire_due(Utc::now()) => {}
            }
        }
    }
}

#[async_trait]
impl Scheduler for CronScheduler {
    async fn add(&self, spec: ScheduleSpec) -> Result<ScheduledJob> {
        let (expr, tz) = spec.validate()?;
        let next_fire = expr.next_after(Utc::now(), tz);
        let entry = Entry {
            spec,
            expr,
            tz,
            next_fire,
            last_fire: None,
            last_error: None,
            retry_at: None,
            failures: 0,
        };
        let view = entry.view();
        {
            let mut entries = self.lock();
            if entries.contains_key(&entry.spec.name) {
                return Err(Error::conflict(format!(
                    "schedule {} already exists",
                    entry.spec.name
                )));
            }
            entries.insert(entry.spec.name.clone(), entry);
        }
        self.changed.notify_one();
        Ok(view)
    }

    async fn remove(&self, name: &str) -> Result<()> {
        if self.lock().remove(name).is_none() {
            return Err(Error::not_found(format!("schedule {name}")));
        }
        self.changed.notify_one();
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ScheduledJob>> {
        Ok(self.lock().values().map(Entry::view).collect())
    }

    async fn start(&self) -> Result<()> {
        let mut runner = self.runner.lock().await;
        if runner.is_some() {
            return Ok(());
        }
        if let Some(retention) = self.retention.filter(|r| *r / 2 < self.retry.window) {
            return Err(Error::invalid(
                "completed_retention",
                format!(
                    "the queue keeps a tick's unique key for {retention:?}, less than twice the \
                     cron tick-retry window ({:?}): a late instance could run a tick twice",
                    self.retry.window
                ),
            ));
        }
        let now = Utc::now();
        for entry in self.lock().values_mut() {
            // Ticks missed while this instance was down: the latest is due now, or none.
            let from = entry.last_fire.map_or(now, |last| last.max(now));
            entry.next_fire = self
                .catch_up(entry, now)
                .or_else(|| entry.expr.next_after(from, entry.tz));
        }
        let cancel = CancellationToken::new();
        let task = tokio::spawn(self.clone().run(cancel.clone()));
        *runner = Some(Runner { cancel, task });
        Ok(())
    }

    async fn stop(&self) -> Result<()> {
        let Some(runner) = self.runner.lock().await.take() else {
            return Ok(());
        };
        runner.cancel.cancel();
        runner
            .task
            .await
            .map_err(|e| Error::backend(format!("scheduler task ended badly: {e}")))
    }
}
