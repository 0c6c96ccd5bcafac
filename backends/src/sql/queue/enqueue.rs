//! Enqueueing, through the pool or a caller's transaction: one multi-row insert per chunk
//! that skips ids and unique keys already held (`ON CONFLICT DO NOTHING`, the unique index
//! deciding), then a look-up of the holder of each job that was skipped.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, Value};
use stack_core::queue::{Enqueued, JobId, NewJob, TraceContext, to_millis};
use stack_core::{Error, Result};
use uuid::Uuid;

use super::rows::{get, rank};
use super::{CHUNK, SqlQueue, TOKEN_CHUNK, WIRE_BUDGET, clamped_millis, int, millis};
use crate::sql::unnest::array_literal;

/// How often a skipped job whose holder vanished meanwhile is tried again.
const ATTEMPTS: usize = 3;

/// Who holds what a skipped job asked for.
enum Holder {
    /// A live job: the enqueue is a duplicate of it.
    Live(JobId),
    /// A completed job past its retention, deleted now: try again.
    Expired,
    /// Nobody any more: try again.
    Gone,
}

impl SqlQueue {
    /// Stores `jobs` (already validated) through `db`, the pool or a caller's transaction;
    /// one result per job, in order. On PostgreSQL the statement's own NOTIFY wakes workers
    /// (when the transaction commits); on SQLite the caller wakes them ([`Wake::notify`]),
    /// once the jobs are committed.
    ///
    /// [`Wake::notify`]: super::wake::Wake::notify
    pub(super) async fn enqueue_on(
        &self,
        db: &impl ConnectionTrait,
        jobs: &[NewJob],
    ) -> Result<Vec<Enqueued>> {
        if jobs
            .iter()
            .any(|j| j.unique_key.is_some() || j.id.is_some())
        {
            // At least as many expired completed jobs as this call may add are forgotten, so a
            // steady stream of unique jobs cannot grow the completed set without bound.
            self.forget_expired(db, 100 + jobs.len()).await?;
        }
        let mut out = Vec::with_capacity(jobs.len());
        for chunk in self.statements_for(jobs) {
            out.extend(self.enqueue_chunk(db, chunk).await?);
        }
        stack_core::metrics::enqueued_batch(jobs, &out);
        Ok(out)
    }

    /// `jobs` cut into the batches of one statement each: at most [`CHUNK`] jobs, and on
    /// PostgreSQL at most [`WIRE_BUDGET`] bytes of them (at least one job).
    pub(super) fn statements_for<'j>(&self, jobs: &'j [NewJob]) -> Vec<&'j [NewJob]> {
        if self.dialect.is_postgres() {
            cut_by_wire_size(jobs)
        } else {
            jobs.chunks(CHUNK).collect()
        }
    }

    /// Lease tokens per batch statement.
    pub(super) fn token_chunk(&self) -> usize {
        if self.dialect.is_postgres() {
            TOKEN_CHUNK
        } else {
            CHUNK
        }
    }

    /// Deletes up to `limit` completed jobs of this queue past the retention.
    pub(super) async fn forget_expired(
        &self,
        db: &impl ConnectionTrait,
        limit: usize,
    ) -> Result<u64> {
        let now = self.dialect.now();
        // Rows another transaction is deleting are skipped, not waited for: an enqueue in a
        // caller's transaction holds its deletions until that commits, and another caller's
        // enqueue must not wait for it (SQLite has one writer and no such clause).
        let skip_locked = if self.backend() == sea_orm::DbBackend::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "DELETE FROM stack_jobs WHERE id IN (SELECT id FROM stack_jobs \
             WHERE queue = $1 AND state = 'completed' AND finished_at <= {now} - $2 \
             ORDER BY finished_at LIMIT $3{skip_locked})"
        );
        let values = vec![
            self.options.name.clone().into(),
            millis(self.options.completed_retention, 0),
            int(limit),
        ];
        db.execute_raw(self.statement(sql, values))
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| super::db_error("forget expired jobs", e))
    }

    async fn enqueue_chunk(
        &self,
        db: &impl ConnectionTrait,
        jobs: &[NewJob],
    ) -> Result<Vec<Enqueued>> {
        let ids: Vec<JobId> = jobs
            .iter()
            .map(|j| j.id.unwrap_or_else(Uuid::now_v7))
            .collect();
        let mut out: Vec<Option<Enqueued>> = vec![None; jobs.len()];
        let mut todo: Vec<usize> = (0..jobs.len()).collect();
        for _ in 0..ATTEMPTS {
            if todo.is_empty() {
                break;
            }
            let created = self.insert(db, jobs, &ids, &todo).await?;
            let mut claimed = HashSet::new();
            let mut again = Vec::new();
            for &i in &todo {
                if created.contains(&ids[i]) && claimed.insert(ids[i]) {
                    out[i] = Some(Enqueued::Created(ids[i]));
                    continue;
                }
                match self.holder(db, &jobs[i], ids[i]).await? {
                    Holder::Live(id) => out[i] = Some(Enqueued::Duplicate(id)),
                    Holder::Expired | Holder::Gone => again.push(i),
                }
            }
            todo = again;
        }
        out.into_iter()
            .map(|e| {
                e.ok_or_else(|| {
                    Error::backend("enqueue: a job's id or unique key kept changing hands")
                })
            })
            .collect()
    }

    /// Inserts the jobs at `which`, skipping conflicts; the ids it stored.
    async fn insert(
        &self,
        db: &impl ConnectionTrait,
        jobs: &[NewJob],
        ids: &[JobId],
        which: &[usize],
    ) -> Result<HashSet<JobId>> {
        let (sql, values) = if self.dialect.is_postgres() {
            self.insert_arrays(jobs, ids, which)
        } else {
            self.insert_values(jobs, ids, which)
        };
        let found = self.rows(db, "enqueue", sql, values).await?;
        found.iter().map(|row| get::<JobId>(row, "id")).collect()
    }

    /// PostgreSQL: one array parameter per column (`UNNEST`), so that every batch is the same
    /// statement, parsed and planned once per connection, whatever its size; the statement's
    /// own NOTIFY wakes idle workers.
    fn insert_arrays(
        &self,
        jobs: &[NewJob],
        ids: &[JobId],
        which: &[usize],
    ) -> (String, Vec<Value>) {
        let d = self.dialect;
        let now = d.now();
        let mut columns: [Vec<Option<String>>; 9] = Default::default();
        for &i in which {
            let job = &jobs[i];
            let cells = [
                Some(ids[i].to_string()),
                Some(job.job_type.clone()),
                Some(job.payload.to_string()),
                Some(rank(job.priority).to_string()),
                job.run_at
                    .map(|at| to_millis(at).timestamp_millis().to_string()),
                Some(clamped_millis(job.delay.unwrap_or_default()).to_string()),
                Some(job.max_attempts.to_string()),
                job.unique_key.clone(),
                job.trace.as_ref().map(TraceContext::to_stored),
            ];
            for (column, cell) in columns.iter_mut().zip(cells) {
                column.push(cell);
            }
        }
        let sql = format!(
            "WITH ins AS (INSERT INTO stack_jobs (id, queue, job_type, payload, priority, state, \
             run_at, enqueued_at, max_attempts, unique_key, trace_context) \
             SELECT t.id, $1, t.job_type, t.payload::jsonb, t.priority, 'pending', \
             COALESCE(t.run_at, {after}), {now}, t.max_attempts, t.unique_key, t.trace_context \
             FROM UNNEST($2::text::uuid[], $3::text::text[], $4::text::text[], \
             $5::text::bigint[], $6::text::bigint[], $7::text::bigint[], $8::text::bigint[], \
             $9::text::text[], $10::text::text[]) AS t(id, job_type, payload, priority, run_at, \
             delay, max_attempts, unique_key, trace_context) \
             ON CONFLICT DO NOTHING RETURNING id), \
             wake AS (SELECT pg_notify('{channel}', $1) AS woken FROM (SELECT 1 FROM ins LIMIT 1) AS any_row) \
             SELECT ins.id FROM ins LEFT JOIN wake ON true",
            after = d.after("t.delay"),
            channel = super::wake::CHANNEL,
        );
        let mut values: Vec<Value> = vec![self.options.name.clone().into()];
        values.extend(columns.iter().map(|c| Value::from(array_literal(c))));
        (sql, values)
    }

    /// SQLite: a `VALUES` list, nine parameters per job.
    fn insert_values(
        &self,
        jobs: &[NewJob],
        ids: &[JobId],
        which: &[usize],
    ) -> (String, Vec<Value>) {
        let d = self.dialect;
        let now = d.now();
        let mut values: Vec<Value> = vec![self.options.name.clone().into()];
        let mut rows = Vec::with_capacity(which.len());
        for &i in which {
            let job = &jobs[i];
            let p = values.len() + 1;
            rows.push(format!(
                "(${p}, $1, ${}, {}, ${}, 'pending', COALESCE(${}, {}), {now}, ${}, ${}, ${})",
                p + 1,
                d.json(&format!("${}", p + 2)),
                p + 3,
                p + 4,
                d.after(&format!("${}", p + 5)),
                p + 6,
                p + 7,
                p + 8,
            ));
            values.extend([
                ids[i].into(),
                job.job_type.clone().into(),
                job.payload.to_string().into(),
                rank(job.priority).into(),
                job.run_at.map(|at| to_millis(at).timestamp_millis()).into(),
                millis(job.delay.unwrap_or_default(), 0),
                i64::from(job.max_attempts).into(),
                job.unique_key.clone().into(),
                job.trace.as_ref().map(TraceContext::to_stored).into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO stack_jobs (id, queue, job_type, payload, priority, state, run_at, \
             enqueued_at, max_attempts, unique_key, trace_context) VALUES {} ON CONFLICT DO NOTHING RETURNING id",
            rows.join(", ")
        );
        (sql, values)
    }

    /// Who holds the id or the unique key of skipped job `job` (stored under `id`).
    async fn holder(&self, db: &impl ConnectionTrait, job: &NewJob, id: JobId) -> Result<Holder> {
        let now = self.dialect.now();
        let retention = millis(self.options.completed_retention, 0);
        let name: Value = self.options.name.clone().into();
        let probe = |column: &str| {
            format!(
                "SELECT id, (state = 'completed' AND finished_at <= {now} - $2) AS expired \
                 FROM stack_jobs WHERE queue = $1 AND {column} = $3"
            )
        };
        let mut lookups = vec![(probe("id"), Value::from(id))];
        if let Some(key) = &job.unique_key {
            lookups.push((probe("unique_key"), key.clone().into()));
        }
        for (sql, value) in lookups {
            let found = self
                .rows(
                    db,
                    "find a job's holder",
                    sql,
                    vec![name.clone(), retention.clone(), value],
                )
                .await?;
            let Some(row) = found.first() else {
                continue;
            };
            let holder: JobId = get(row, "id")?;
            if !get::<bool>(row, "expired")? {
                return Ok(Holder::Live(holder));
            }
            let delete =
                "DELETE FROM stack_jobs WHERE queue = $1 AND id = $2 AND state = 'completed'";
            db.execute_raw(self.statement(delete.to_owned(), vec![name.clone(), holder.into()]))
                .await
                .map_err(|e| super::db_error("forget an expired job", e))?;
            return Ok(Holder::Expired);
        }
        Ok(Holder::Gone)
    }
}

/// About how many bytes `job` adds to the arrays of an enqueue statement: its text cells,
/// quoted and escaped, and the fixed ones (id, priority, times, attempts, trace context).
/// A trace context is at most a 55-byte `traceparent` and a `tracestate` of
/// [`MAX_TRACESTATE`](stack_core::queue::MAX_TRACESTATE) bytes.
fn wire_size(job: &NewJob) -> usize {
    let payload = serde_json::to_string(&job.payload).map_or(0, |text| text.len());
    // Every text cell counts twice: any of its characters may be escaped.
    let trace = job.trace.as_ref().map_or(0, |t| {
        t.traceparent().len() + t.tracestate().map_or(0, str::len) + 1
    });
    2 * (payload + job.job_type.len() + job.unique_key.as_ref().map_or(0, String::len) + trace) + 90
}

/// `jobs` in runs of at most [`CHUNK`] jobs and [`WIRE_BUDGET`] bytes (a job alone over the
/// budget is a run of its own).
fn cut_by_wire_size(jobs: &[NewJob]) -> Vec<&[NewJob]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, job) in jobs.iter().enumerate() {
        let size = wire_size(job);
        if i > start && (i - start == CHUNK || bytes + size > WIRE_BUDGET) {
            out.push(&jobs[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < jobs.len() {
        out.push(&jobs[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(bytes: usize) -> NewJob {
        NewJob::new("t", serde_json::Value::String("x".repeat(bytes)))
    }

    fn lengths(runs: &[&[NewJob]]) -> Vec<usize> {
        runs.iter().map(|run| run.len()).collect()
    }

    #[test]
    fn no_jobs_no_statement() {
        assert!(cut_by_wire_size(&[]).is_empty());
    }

    #[test]
    fn small_jobs_stop_at_the_row_limit() {
        let jobs: Vec<NewJob> = (0..CHUNK + 1)
            .map(|_| NewJob::new("t", serde_json::Value::Null))
            .collect();
        let per = WIRE_BUDGET / wire_size(&jobs[0]);
        let runs = cut_by_wire_size(&jobs);
        assert_eq!(runs[0].len(), per.min(CHUNK));
        assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), CHUNK + 1);
        assert!(runs.iter().all(|r| r.len() <= CHUNK));
    }

    #[test]
    fn a_job_over_the_budget_travels_alone_and_order_is_kept() {
        let jobs = vec![sized(10), sized(WIRE_BUDGET), sized(10), sized(10)];
        let runs = cut_by_wire_size(&jobs);
        assert_eq!(lengths(&runs), [1, 1, 2]);
        assert_eq!(runs[1][0].payload, jobs[1].payload);
    }

    #[test]
    fn runs_fill_up_to_the_budget() {
        let half = (WIRE_BUDGET - 2 * 90) / 4 - 10;
        let jobs = vec![sized(half), sized(half), sized(half)];
        let runs = cut_by_wire_size(&jobs);
        assert_eq!(lengths(&runs), [2, 1]);
    }
}
