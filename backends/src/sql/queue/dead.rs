//! The SQL queue's dead letters moved in bounded batches: requeued or purged, oldest first.

use sea_orm::Value;
use stack_core::Result;
use stack_core::queue::Progress;

use super::{CHUNK, SqlQueue, int};

impl SqlQueue {
    /// The condition on dead jobs of this queue, of `job_type` when given; its values.
    pub(super) fn dead_where(&self, job_type: Option<&str>) -> (&'static str, Vec<Value>) {
        match job_type {
            Some(t) => (
                "queue = $1 AND state = 'dead' AND job_type = $2",
                vec![self.name_value(), t.to_owned().into()],
            ),
            None => ("queue = $1 AND state = 'dead'", vec![self.name_value()]),
        }
    }

    pub(super) async fn dead_count(&self, job_type: Option<&str>) -> Result<u64> {
        let (cond, values) = self.dead_where(job_type);
        let sql = format!("SELECT COUNT(*) AS n FROM stack_jobs WHERE {cond}");
        self.number("count dead letters", sql, values).await
    }

    /// Up to `limit` dead jobs of `job_type` (oldest death first) back to pending, or deleted.
    pub(super) async fn dead_batch(
        &self,
        job_type: Option<&str>,
        limit: usize,
        requeue: bool,
    ) -> Result<Progress> {
        let (cond, mut values) = self.dead_where(job_type);
        let limit_param = values.len() + 1;
        values.push(int(limit.min(CHUNK)));
        let oldest = format!(
            "SELECT id FROM stack_jobs WHERE {cond} ORDER BY dead_seq, id LIMIT ${limit_param}"
        );
        let sql = if requeue {
            format!(
                "UPDATE stack_jobs SET state = 'pending', attempts = 0, run_at = {}, \
                 finished_at = NULL, dead_seq = NULL WHERE state = 'dead' AND id IN ({oldest})",
                self.dialect.now()
            )
        } else {
            format!("DELETE FROM stack_jobs WHERE state = 'dead' AND id IN ({oldest})")
        };
        let done = sea_orm::ConnectionTrait::execute_raw(&self.db, self.statement(sql, values))
            .await
            .map_err(|e| super::db_error("move dead letters", e))?
            .rows_affected();
        if requeue && done > 0 {
            self.announce().await;
        }
        Ok(Progress {
            done,
            remaining: self.dead_count(job_type).await?,
        })
    }
}
