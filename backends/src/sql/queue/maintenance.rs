//! The sweep: completed jobs past the retention (and dead ones past theirs, when set) are
//! deleted in bounded batches, and lapsed leases are recovered, so that the table holds
//! little more than the live jobs under a steady load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use sea_orm::Value;
use serde::Serialize;
use stack_core::queue::Progress;
use stack_core::{Error, Result};

use super::{SqlQueue, int, millis};

/// What one [`SqlQueue::sweep`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Completed jobs deleted (their retention had passed).
    pub completed: u64,
    /// Dead jobs deleted (past `dead_retention`).
    pub dead: u64,
    /// Lapsed leases recovered.
    pub recovered: u64,
}

impl Sweep {
    fn total(self) -> u64 {
        self.completed + self.dead + self.recovered
    }
}

impl SqlQueue {
    /// One bounded batch of maintenance: deletes up to `sweep_batch` completed jobs past the
    /// retention and as many dead jobs past `dead_retention`, and recovers up to
    /// `sweep_batch` lapsed leases. Call again while it did a full batch of anything.
    ///
    /// # Errors
    /// [`Error::Unavailable`](stack_core::Error::Unavailable) when the database cannot be
    /// reached.
    pub async fn sweep(&self) -> Result<Sweep> {
        let batch = self.sql_options.sweep_batch.max(1);
        let completed = self.forget_expired(&self.db, batch).await?;
        let dead = match self.sql_options.dead_retention {
            None => 0,
            Some(retention) => {
                let now = self.dialect.now();
                let sql = format!(
                    "DELETE FROM stack_jobs WHERE id IN (SELECT id FROM stack_jobs \
                     WHERE queue = $1 AND state = 'dead' AND finished_at <= {now} - $2 \
                     ORDER BY dead_seq LIMIT $3)"
                );
                let values = vec![
                    self.options.name.clone().into(),
                    millis(retention, 0),
                    int(batch),
                ];
                sea_orm::ConnectionTrait::execute_raw(&self.db, self.statement(sql, values))
                    .await
                    .map_err(|e| super::db_error("delete expired dead letters", e))?
                    .rows_affected()
            }
        };
        let recovered = self.recover(batch).await?;
        Ok(Sweep {
            completed,
            dead,
            recovered,
        })
    }
}

impl SqlQueue {
    /// One bounded batch of [`Queue::drop_queue`](stack_core::queue::Queue::drop_queue): up
    /// to `limit` (at most 500) rows of this queue deleted in one statement. Unless `force`,
    /// refused while a job runs (its lease not lapsed by the database's clock), and a job
    /// leased meanwhile is kept (the statement re-checks each row's lease), so no running job
    /// is deleted; a job whose lease lapsed (its worker died) goes with the rest.
    pub(super) async fn drop_some(&self, force: bool, limit: usize) -> Result<Progress> {
        let name = || Value::from(self.options.name.clone());
        let live = format!(
            "state = 'running' AND lease_expires_at > {}",
            self.dialect.now()
        );
        if !force {
            let sql = format!("SELECT COUNT(*) AS n FROM stack_jobs WHERE queue = $1 AND {live}");
            let running = self.number("count running jobs", sql, vec![name()]).await?;
            if running > 0 {
                return Err(Error::conflict(format!(
                    "{running} jobs are running: drop the queue once they finish, or force it"
                )));
            }
        }
        let keep = if force {
            String::new()
        } else {
            format!(" AND NOT ({live})")
        };
        let sql = format!(
            "DELETE FROM stack_jobs WHERE queue = $1{keep} AND id IN \
             (SELECT id FROM stack_jobs WHERE queue = $1{keep} LIMIT $2)"
        );
        let values = vec![name(), int(limit.min(super::CHUNK))];
        let done = sea_orm::ConnectionTrait::execute_raw(&self.db, self.statement(sql, values))
            .await
            .map_err(|e| super::db_error("drop the queue's jobs", e))?
            .rows_affected();
        let sql = "SELECT COUNT(*) AS n FROM stack_jobs WHERE queue = $1";
        let remaining = self
            .number("count the queue's jobs", sql.to_owned(), vec![name()])
            .await?;
        if remaining == 0 {
            self.forget_all_workers().await?;
        }
        Ok(Progress { done, remaining })
    }

    /// `VACUUM (SKIP_LOCKED) stack_jobs` on PostgreSQL (skipped while another session
    /// vacuums it); nothing on SQLite, whose freed pages are reused without it.
    ///
    /// # Errors
    /// [`Error::Unavailable`](stack_core::Error::Unavailable) when the database cannot be
    /// reached.
    pub async fn vacuum(&self) -> Result<()> {
        if !self.dialect.is_postgres() {
            return Ok(());
        }
        sea_orm::ConnectionTrait::execute_unprepared(&self.db, "VACUUM (SKIP_LOCKED) stack_jobs")
            .await
            .map(drop)
            .map_err(|e| super::db_error("vacuum stack_jobs", e))
    }
}

/// Jobs leased through one handle after which it vacuums at once rather than at the next
/// `vacuum_every`: every lease and acknowledgement leaves a dead row version and a dead entry
/// in the ready index that each reserve walks past until a vacuum removes it, so a burst of
/// work slows its own reserves (100,000 jobs in ten seconds: see docs/benchmarks.md).
const VACUUM_AFTER_LEASES: u64 = 10_000;

/// Jobs this handle leased since it last vacuumed, and the signal to vacuum early.
#[derive(Debug, Default)]
pub(super) struct Churn {
    leased: AtomicU64,
    vacuum_now: Notify,
}

impl Churn {
    /// Counts `n` more leased jobs; past [`VACUUM_AFTER_LEASES`] the maintenance task
    /// vacuums at once.
    pub(super) fn leased(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let before = self.leased.fetch_add(n, Ordering::Relaxed);
        if before < VACUUM_AFTER_LEASES && before.saturating_add(n) >= VACUUM_AFTER_LEASES {
            self.vacuum_now.notify_one();
        }
    }
}

/// Runs the queue's maintenance until the queue is dropped: the sweep every `sweep_every`
/// (draining full batches at once) and `VACUUM` every `vacuum_every`, or as soon as
/// [`VACUUM_AFTER_LEASES`] jobs were leased. Must be called inside a Tokio runtime; `None`
/// when neither is set.
pub(super) fn spawn(
    queue: Weak<SqlQueue>,
    churn: Arc<Churn>,
    sweep_every: Option<Duration>,
    vacuum_every: Option<Duration>,
) -> Option<tokio::task::JoinHandle<()>> {
    if sweep_every.is_none() && vacuum_every.is_none() {
        return None;
    }
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    Some(runtime.spawn(async move {
        let start = Instant::now();
        let mut next_sweep = sweep_every.map(|every| start + every);
        let mut next_vacuum = vacuum_every.map(|every| start + every);
        loop {
            let due = match (next_sweep, next_vacuum) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(start),
            };
            let churned = tokio::select! {
                () = tokio::time::sleep_until(due) => false,
                () = churn.vacuum_now.notified(), if vacuum_every.is_some() => {
                    // A signal left over from before the last vacuum is not a new burst.
                    churn.leased.load(Ordering::Relaxed) >= VACUUM_AFTER_LEASES
                }
            };
            let Some(queue) = queue.upgrade() else {
                return;
            };
            let now = Instant::now();
            if let (Some(every), Some(at)) = (vacuum_every, next_vacuum) {
                if churned || now >= at {
                    next_vacuum = Some(now + every);
                    churn.leased.store(0, Ordering::Relaxed);
                    if let Err(error) = queue.vacuum().await {
                        tracing::warn!(%error, "SQL queue: VACUUM failed");
                    }
                }
            }
            if let (Some(every), Some(at)) = (sweep_every, next_sweep) {
                if now >= at {
                    next_sweep = Some(now + every);
                    sweep_all(&queue).await;
                }
            }
        }
    }))
}

/// Sweeps until a sweep does less than a full batch of everything.
async fn sweep_all(queue: &SqlQueue) {
    let full = u64::try_from(queue.sql_options.sweep_batch.max(1)).unwrap_or(u64::MAX);
    loop {
        match queue.sweep().await {
            Ok(done) if done.completed >= full || done.dead >= full || done.recovered >= full => {}
            Ok(done) => {
                if done.total() > 0 {
                    tracing::debug!(?done, queue = %queue.options.name, "SQL queue swept");
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, queue = %queue.options.name, "SQL queue: sweep failed");
                return;
            }
        }
    }
}
