//! The data of the in-process queue and the transitions between its states. Everything here
//! runs under one lock and never awaits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use stack_core::queue::{AttemptError, Job, JobId, JobState, Lease, LeaseToken, Priority};
use stack_core::{Error, Result};
use uuid::Uuid;

/// Orders jobs within one priority: due time, then arrival.
type DueKey = (DateTime<Utc>, u64);

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) job: Job,
    /// Its place among jobs due at the same time, from its enqueue: a released or recovered
    /// job goes back to where it was, not to the back.
    order: u64,
    /// The job's key in `pending[priority]` while it is pending.
    due: Option<DueKey>,
    /// The current lease while it is running.
    lease: Option<(Uuid, DueKey)>,
    /// Its key in `dead` while it is dead.
    dead_seq: Option<u64>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) jobs: HashMap<JobId, Slot>,
    /// Pending jobs per priority (indexed by `rank`), in the order they may run.
    pending: [BTreeMap<DueKey, JobId>; 4],
    /// Running jobs by lease expiry.
    running: BTreeMap<DueKey, JobId>,
    /// Dead jobs in the order they died.
    pub(super) dead: BTreeMap<u64, JobId>,
    /// Completed jobs that hold a unique key, by completion time, until retention ends.
    completed: VecDeque<(DateTime<Utc>, JobId)>,
    pub(super) unique: HashMap<String, JobId>,
    seq: u64,
}

fn rank(priority: Priority) -> usize {
    match priority {
        Priority::Critical => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

/// `span` after `now`, at millisecond precision (as every backend stores times), never past
/// the latest time a queue keeps.
pub(super) fn after(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    stack_core::queue::run_time_after(now, span)
}

/// The queue's clock: now, at millisecond precision.
pub(super) fn now_ms() -> DateTime<Utc> {
    stack_core::queue::to_millis(Utc::now())
}

impl Slot {
    /// When the current lease lapses, while the job is running.
    pub(super) fn lease_expiry(&self) -> Option<DateTime<Utc>> {
        self.lease.map(|(_, (expires, _))| expires)
    }
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Stores a new job as pending.
    pub(super) fn insert(&mut self, job: Job) {
        if let Some(key) = &job.unique_key {
            self.unique.insert(key.clone(), job.id);
        }
        let id = job.id;
        let order = self.next_seq();
        self.jobs.insert(
            id,
            Slot {
                job,
                order,
                due: None,
                lease: None,
                dead_seq: None,
            },
        );
        self.make_pending(id);
    }

    /// Files job `id` (already in `jobs`) under its priority and run time.
    fn make_pending(&mut self, id: JobId) {
        let Some(slot) = self.jobs.get_mut(&id) else {
            return;
        };
        let key = (slot.job.run_at, slot.order);
        slot.job.state = JobState::Pending;
        slot.due = Some(key);
        self.pending[rank(slot.job.priority)].insert(key, id);
    }

    /// Leases up to `max` due jobs, most urgent first.
    pub(super) fn reserve(
        &mut self,
        now: DateTime<Utc>,
        max: usize,
        lease_for: Duration,
    ) -> Vec<Lease> {
        let mut leases = Vec::new();
        for level in 0..self.pending.len() {
            while leases.len() < max {
                let Some((&key, &id)) = self.pending[level].first_key_value() else {
                    break;
                };
                if key.0 > now {
                    break;
                }
                self.pending[level].remove(&key);
                let expires_at = after(now, lease_for);
                let lease_key = (expires_at, self.next_seq());
                let Some(slot) = self.jobs.get_mut(&id) else {
                    continue;
                };
                let lease_id = Uuid::new_v4();
                slot.due = None;
                slot.lease = Some((lease_id, lease_key));
                slot.job.state = JobState::Running;
                slot.job.attempts += 1;
                self.running.insert(lease_key, id);
                leases.push(Lease {
                    token: LeaseToken {
                        job_id: id,
                        attempt: slot.job.attempts,
                        lease_id,
                    },
                    job: slot.job.clone(),
                    expires_at,
                });
            }
        }
        leases
    }

    /// Takes job `id` out of the running set if `token` still holds its lease.
    pub(super) fn release_lease(&mut self, token: &LeaseToken) -> Result<&mut Slot> {
        let slot = self
            .jobs
            .get_mut(&token.job_id)
            .ok_or_else(|| Error::not_found(format!("job {}", token.job_id)))?;
        match slot.lease {
            Some((lease_id, key)) if lease_id == token.lease_id => {
                slot.lease = None;
                self.running.remove(&key);
                Ok(slot)
            }
            _ => Err(Error::conflict(format!(
                "job {} attempt {} no longer holds its lease (it expired and was handed out again, or the job was already finished)",
                token.job_id, token.attempt
            ))),
        }
    }

    /// Moves the lease of `token` to expire `lease_for` after `now`.
    pub(super) fn extend(
        &mut self,
        token: &LeaseToken,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<DateTime<Utc>> {
        self.release_lease(token)?;
        let expires_at = after(now, lease_for);
        let key = (expires_at, self.next_seq());
        if let Some(slot) = self.jobs.get_mut(&token.job_id) {
            slot.lease = Some((token.lease_id, key));
        }
        self.running.insert(key, token.job_id);
        Ok(expires_at)
    }

    /// Puts a released job back where it was in its priority (its run time has passed, so it
    /// is ready at once), without counting the attempt it was leased for.
    pub(super) fn hand_back(&mut self, id: JobId) {
        let Some(slot) = self.jobs.get_mut(&id) else {
            return;
        };
        slot.job.attempts = slot.job.attempts.saturating_sub(1);
        self.make_pending(id);
    }

    /// Marks a released job completed; remembers it only while its unique key must hold.
    pub(super) fn complete(&mut self, id: JobId, now: DateTime<Utc>) {
        let Some(slot) = self.jobs.get_mut(&id) else {
            return;
        };
        slot.job.state = JobState::Completed;
        if slot.job.unique_key.is_some() {
            self.completed.push_back((now, id));
        } else {
            self.jobs.remove(&id);
        }
    }

    /// Records a failed attempt of a released job, then retries it at `retry_at` or, with
    /// `retry_at` `None`, dead-letters it.
    pub(super) fn record_failure(
        &mut self,
        id: JobId,
        now: DateTime<Utc>,
        message: String,
        retry_at: Option<DateTime<Utc>>,
    ) {
        let Some(slot) = self.jobs.get_mut(&id) else {
            return;
        };
        slot.job.errors.push(AttemptError {
            attempt: slot.job.attempts,
            at: now,
            message: message.clone(),
        });
        slot.job.last_error = Some(message);
        match retry_at {
            Some(at) => {
                slot.job.run_at = at;
                self.make_pending(id);
            }
            None => {
                let seq = self.next_seq();
                if let Some(slot) = self.jobs.get_mut(&id) {
                    slot.job.state = JobState::Dead;
                    slot.dead_seq = Some(seq);
                }
                self.dead.insert(seq, id);
            }
        }
    }

    /// Hands back every job whose lease lapsed before `now`: ready again at once in its old
    /// place, or dead if that was its last attempt (a job that keeps killing its worker must
    /// not loop).
    pub(super) fn recover_expired(&mut self, now: DateTime<Utc>, limit: usize) -> u64 {
        let mut recovered = 0;
        while let Some((&key, &id)) = self.running.first_key_value() {
            if key.0 > now || recovered as usize >= limit {
                break;
            }
            self.running.remove(&key);
            let Some(slot) = self.jobs.get_mut(&id) else {
                continue;
            };
            slot.lease = None;
            let spent = slot.job.attempts >= slot.job.max_attempts;
            let run_at = slot.job.run_at;
            let message = format!("lease expired at {} (worker lost or too slow)", key.0);
            self.record_failure(id, now, message, (!spent).then_some(run_at));
            recovered += 1;
        }
        recovered
    }

    /// Moves dead job `id` back to pending with fresh attempts.
    pub(super) fn requeue_dead(&mut self, id: JobId, now: DateTime<Utc>) -> Result<()> {
        let slot = self
            .jobs
            .get_mut(&id)
            .filter(|s| s.job.state == JobState::Dead);
        let Some(slot) = slot else {
            return Err(Error::not_found(format!("dead job {id}")));
        };
        if let Some(seq) = slot.dead_seq.take() {
            self.dead.remove(&seq);
        }
        slot.job.attempts = 0;
        slot.job.run_at = now;
        self.make_pending(id);
        Ok(())
    }

    /// Deletes job `id`, in whatever state, from every index and frees its unique key.
    pub(super) fn purge(&mut self, id: JobId) {
        let Some(slot) = self.jobs.remove(&id) else {
            return;
        };
        if let Some(due) = slot.due {
            self.pending[rank(slot.job.priority)].remove(&due);
        }
        if let Some((_, key)) = slot.lease {
            self.running.remove(&key);
        }
        if let Some(seq) = slot.dead_seq {
            self.dead.remove(&seq);
        }
        if slot.job.state == JobState::Completed {
            self.completed.retain(|(_, held)| *held != id);
        }
        self.forget_unique(&slot.job);
    }

    /// Deletes up to `limit` jobs in any state; answers how many, and how many remain. The
    /// last call leaves the state as new.
    pub(super) fn drop_some(&mut self, limit: usize) -> (u64, u64) {
        let total = self.jobs.len();
        if total <= limit {
            *self = Self::default();
            return (total as u64, 0);
        }
        let ids: Vec<JobId> = self.jobs.keys().take(limit).copied().collect();
        for id in &ids {
            self.purge(*id);
        }
        (ids.len() as u64, self.jobs.len() as u64)
    }

    fn forget_unique(&mut self, job: &Job) {
        if let Some(key) = &job.unique_key {
            if self.unique.get(key) == Some(&job.id) {
                self.unique.remove(key);
            }
        }
    }

    /// Forgets completed jobs (and their unique keys) older than `retention`.
    pub(super) fn prune_completed(&mut self, now: DateTime<Utc>, retention: Duration) {
        let Ok(retention) = chrono::Duration::from_std(retention) else {
            return;
        };
        while let Some(&(at, id)) = self.completed.front() {
            if now.signed_duration_since(at) < retention {
                break;
            }
            self.completed.pop_front();
            if let Some(slot) = self.jobs.remove(&id) {
                self.forget_unique(&slot.job);
            }
        }
    }

    /// Per priority: how many are due and when the oldest became due.
    pub(super) fn ready(
        &self,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> (u64, Option<DateTime<Utc>>) {
        let queue = &self.pending[rank(priority)];
        let due = queue.range(..=(now, u64::MAX)).count() as u64;
        let oldest = queue
            .first_key_value()
            .map(|(k, _)| k.0)
            .filter(|at| *at <= now);
        (due, oldest)
    }

    /// When the earliest pending job may run; a lapsing lease counts too, since the job
    /// becomes ready when it lapses.
    pub(super) fn next_run_at(&self) -> Option<DateTime<Utc>> {
        let pending = self
            .pending
            .iter()
            .filter_map(|level| level.first_key_value());
        let lapsing = self.running.first_key_value();
        pending.chain(lapsing).map(|(key, _)| key.0).min()
    }

    /// How many leases have lapsed by `now`.
    pub(super) fn lapsed(&self, now: DateTime<Utc>) -> u64 {
        self.running.keys().take_while(|key| key.0 <= now).count() as u64
    }

    pub(super) fn pending_total(&self) -> u64 {
        self.pending.iter().map(|q| q.len() as u64).sum()
    }

    pub(super) fn running_total(&self) -> u64 {
        self.running.len() as u64
    }

    /// Completed jobs still remembered for their unique key.
    pub(super) fn completed_total(&self) -> u64 {
        self.completed.len() as u64
    }
}
