//! The sweep: completed jobs past the retention (and dead ones past theirs, when set) are
//! deleted in bounded batches, and lapsed leases are recovered, so that the table holds
//! little more than the live jobs under a steady load.

use std::sync::Weak;
use std::time::Duration;

use serde::Serialize;
use stack_core::Result;

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

/// Sweeps the queue behind `queue` every `every` (draining full batches at once), and
/// vacuums its table every `vacuum_every`, until the queue is dropped. Must be called inside
/// a Tokio runtime.
pub(super) fn spawn(queue: Weak<SqlQueue>, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    Some(runtime.spawn(async move {
        let mut vacuumed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(every).await;
            let Some(queue) = queue.upgrade() else {
                return;
            };
            if let Some(vacuum_every) = queue.sql_options.vacuum_every {
                if vacuumed.elapsed() >= vacuum_every {
                    vacuumed = tokio::time::Instant::now();
                    if let Err(error) = queue.vacuum().await {
                        tracing::warn!(%error, "SQL queue: VACUUM failed");
                    }
                }
            }
            let full = u64::try_from(queue.sql_options.sweep_batch.max(1)).unwrap_or(u64::MAX);
            loop {
                match queue.sweep().await {
                    Ok(done) if done.completed >= full || done.dead >= full || done.recovered >= full => {}
                    Ok(done) => {
                        if done.total() > 0 {
                            tracing::debug!(?done, queue = %queue.options.name, "SQL queue swept");
                        }
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, queue = %queue.options.name, "SQL queue: sweep failed");
                        break;
                    }
                }
            }
        }
    }))
}
