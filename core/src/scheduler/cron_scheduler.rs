use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{CronExpr, ScheduleSpec, ScheduledJob, Scheduler, tick_key};
use crate::queue::{Enqueued, NewJob, Queue};
use crate::{Error, Result};

/// The scheduler of STACK: cron schedules in this process, ticks enqueued on any
/// [`Queue`] with a per-tick unique key so several instances fire each tick once.
#[derive(Debug, Clone)]
pub struct CronScheduler {
    queue: Arc<dyn Queue>,
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
}

impl Entry {
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
            queue,
            entries: Arc::default(),
            changed: Arc::new(Notify::new()),
            runner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // Entries are plain data; a panic elsewhere cannot leave them half-written.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fires every schedule whose next tick is at or before `now`, then moves each to its next
    /// tick after `now` (missed ticks are not replayed). Answers what each enqueue did.
    ///
    /// The background task calls this; a host that drives time itself (or a test) may too.
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Vec<(String, Result<Enqueued>)> {
        let due: Vec<(String, DateTime<Utc>, NewJob)> = self
            .lock()
            .values()
            .filter_map(|e| {
                let tick = e.next_fire.filter(|t| *t <= now)?;
                Some((e.spec.name.clone(), tick, e.job(tick)))
            })
            .collect();
        let mut results = Vec::with_capacity(due.len());
        for (name, tick, job) in due {
            let outcome = self.queue.enqueue(job).await;
            if let Err(error) = &outcome {
                tracing::warn!(schedule = %name, %tick, %error, "cron tick failed to enqueue");
            }
            if let Some(entry) = self.lock().get_mut(&name) {
                entry.last_fire = Some(tick);
                entry.last_error = outcome.as_ref().err().map(ToString::to_string);
                // Never earlier than the tick just fired, never a tick already in the past.
                entry.next_fire = entry.expr.next_after(tick.max(now), entry.tz);
            }
            results.push((name, outcome));
        }
        results
    }

    /// The earliest next tick of any schedule.
    fn earliest(&self) -> Option<DateTime<Utc>> {
        self.lock().values().filter_map(|e| e.next_fire).min()
    }

    async fn run(self, cancel: CancellationToken) {
        loop {
            let wait = match self.earliest() {
                Some(at) => (at - Utc::now()).to_std().unwrap_or_default(),
                // Nothing to fire: sleep until a schedule is added or we are stopped.
                None => std::time::Duration::from_secs(3600),
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.changed.notified() => continue,
                () = tokio::time::sleep(wait) => {}
            }
            self.fire_due(Utc::now()).await;
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
        let now = Utc::now();
        for entry in self.lock().values_mut() {
            let from = entry.last_fire.map_or(now, |last| last.max(now));
            entry.next_fire = entry.expr.next_after(from, entry.tz);
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
