//! The SQL queue's worker registry: rows of `stack_job_workers` (migration 8), one per worker
//! pool of a queue, with times by the database's clock. Listing only reads; each report
//! deletes the queue's expired rows.

use std::time::Duration;

use sea_orm::Value;
use stack_core::Result;
use stack_core::queue::{LiveWorker, WorkerBeat, sort_workers, ttl_millis};
use uuid::Uuid;

use super::SqlQueue;
use super::rows::get;

impl SqlQueue {
    /// Stores `beat` for `ttl` (see [`Queue::record_worker`](stack_core::queue::Queue)).
    pub(super) async fn record_worker_row(&self, beat: &WorkerBeat, ttl: Duration) -> Result<()> {
        beat.validate(ttl)?;
        let now = self.dialect.now();
        let sql = format!(
            "INSERT INTO stack_job_workers (queue, id, report, seen_at, expires_at) \
             VALUES ($1, $2, $3, {now}, {now} + $4) \
             ON CONFLICT (queue, id) DO UPDATE SET report = excluded.report, \
             seen_at = excluded.seen_at, expires_at = excluded.expires_at"
        );
        let values = vec![
            self.options.name.clone().into(),
            beat.id.to_string().into(),
            beat.to_json()?.into(),
            Value::from(ttl_millis(ttl)),
        ];
        self.execute("report a worker", sql, values).await?;
        // The reports of pools that died go with the next report of any pool; a failure here
        // costs nothing but a row that the listing skips.
        let sql = format!("DELETE FROM stack_job_workers WHERE queue = $1 AND expires_at <= {now}");
        let name = vec![self.options.name.clone().into()];
        if let Err(error) = self
            .execute("delete expired worker reports", sql, name)
            .await
        {
            tracing::debug!(%error, "expired worker reports were not deleted");
        }
        Ok(())
    }

    /// The live reports (a read: expired rows are skipped, and deleted by the next report).
    pub(super) async fn worker_rows(&self) -> Result<Vec<LiveWorker>> {
        let now = self.dialect.now();
        let name = || Value::from(self.options.name.clone());
        let sql = format!(
            "SELECT report, seen_at, expires_at FROM stack_job_workers \
             WHERE queue = $1 AND expires_at > {now}"
        );
        let rows = self
            .rows(&self.db, "list workers", sql, vec![name()])
            .await?;
        let mut live = Vec::with_capacity(rows.len());
        for row in &rows {
            let report: String = get(row, "report")?;
            let seen: i64 = get(row, "seen_at")?;
            let expires: i64 = get(row, "expires_at")?;
            match LiveWorker::from_stored(&report, seen, expires) {
                Some(worker) => live.push(worker),
                None => {
                    tracing::warn!(queue = %self.options.name, "a worker report that cannot be read is skipped")
                }
            }
        }
        sort_workers(&mut live);
        Ok(live)
    }

    /// Deletes worker `id`'s report.
    pub(super) async fn forget_worker_row(&self, id: Uuid) -> Result<()> {
        let sql = "DELETE FROM stack_job_workers WHERE queue = $1 AND id = $2".to_owned();
        let values = vec![self.options.name.clone().into(), id.to_string().into()];
        self.execute("forget a worker", sql, values).await
    }

    /// Deletes every worker report of the queue (it was dropped).
    pub(super) async fn forget_all_workers(&self) -> Result<()> {
        let sql = "DELETE FROM stack_job_workers WHERE queue = $1".to_owned();
        self.execute(
            "forget the queue's workers",
            sql,
            vec![self.options.name.clone().into()],
        )
        .await
    }

    async fn execute(&self, doing: &str, sql: String, values: Vec<Value>) -> Result<()> {
        sea_orm::ConnectionTrait::execute_raw(&self.db, self.statement(sql, values))
            .await
            .map_err(|e| super::db_error(doing, e))?;
        Ok(())
    }
}
