//! Leasing and finishing: reserve, complete, fail, extend, release and the recovery of
//! lapsed leases. Every statement that finishes a lease names its lease id, so a token
//! whose lease lapsed and was handed out again changes nothing (fencing).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use stack_core::queue::{FailOutcome, Failure, JobId, Lease, LeaseToken};
use stack_core::{Error, Result};
use uuid::Uuid;

use super::dialect::LAZY_COMMIT;
use super::rows::{get, lease, time};
use super::{SqlQueue, int, millis};

/// What the rows of a lease must match: queue, id, lease id. A lease id is set only while its
/// job runs, so the state need not be named, and must not be: every index but the primary
/// key is partial on the state, and with the state named the planner may choose the running
/// jobs' index (it did, on a table not yet analyzed) and scan every running job per call.
const HELD: &str = "queue = $1 AND id = $2 AND lease_id = $3";

impl SqlQueue {
    fn held_values(&self, token: &LeaseToken) -> Vec<Value> {
        vec![
            self.options.name.clone().into(),
            token.job_id.into(),
            token.lease_id.into(),
        ]
    }

    /// The error for a token that matched no running job: `NotFound` when the job is gone,
    /// `Conflict` when it exists under another lease or state.
    pub(super) async fn refusal(&self, token: &LeaseToken) -> Error {
        let sql = "SELECT COUNT(*) AS n FROM stack_jobs WHERE queue = $1 AND id = $2".to_owned();
        let values = vec![self.options.name.clone().into(), token.job_id.into()];
        match self.number("look up a job", sql, values).await {
            Err(e) => e,
            Ok(0) => Error::not_found(format!("job {}", token.job_id)),
            Ok(_) => lease_lost(token),
        }
    }

    /// The refusal of each of `tokens` (none of which matched a running job), in order: as
    /// [`SqlQueue::refusal`], in one query on PostgreSQL.
    pub(super) async fn refusals(&self, tokens: &[LeaseToken]) -> Vec<Error> {
        if tokens.is_empty() {
            return Vec::new();
        }
        if !self.dialect.is_postgres() {
            let mut out = Vec::with_capacity(tokens.len());
            for token in tokens {
                out.push(self.refusal(token).await);
            }
            return out;
        }
        let ids: Vec<String> = tokens.iter().map(|t| t.job_id.to_string()).collect();
        let sql = "SELECT j.id FROM stack_jobs AS j JOIN UNNEST($2::text::uuid[]) AS t(id) \
                   ON j.id = t.id WHERE j.queue = $1"
            .to_owned();
        let values = vec![
            self.options.name.clone().into(),
            Value::from(format!("{{{}}}", ids.join(","))),
        ];
        let found = match self.rows(&self.db, "look up jobs", sql, values).await {
            Ok(rows) => rows
                .iter()
                .map(|row| get::<JobId>(row, "id"))
                .collect::<Result<HashSet<JobId>>>(),
            Err(e) => Err(e),
        };
        match found {
            Ok(found) => tokens
                .iter()
                .map(|token| {
                    if found.contains(&token.job_id) {
                        lease_lost(token)
                    } else {
                        Error::not_found(format!("job {}", token.job_id))
                    }
                })
                .collect(),
            Err(error) => tokens
                .iter()
                .map(|_| super::contract::chunk_failed(&error))
                .collect(),
        }
    }

    /// Leases up to `max` due jobs for `lease_for`, most urgent first.
    pub(super) async fn lease_due(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        let d = self.dialect;
        let now = d.now();
        let due = format!(
            "SELECT id FROM stack_jobs WHERE queue = $1 AND state = 'pending' AND run_at <= {now} \
             ORDER BY priority, run_at, id LIMIT $2"
        );
        let mut leases = if d.is_postgres() {
            let sql = format!(
                "WITH due AS ({due} FOR UPDATE SKIP LOCKED) \
                 UPDATE stack_jobs AS j SET state = 'running', attempts = j.attempts + 1, \
                 lease_id = gen_random_uuid(), lease_expires_at = {} \
                 FROM due WHERE j.id = due.id RETURNING {}",
                d.after("$3"),
                d.columns(Some("j")),
            );
            let values = vec![
                self.options.name.clone().into(),
                int(max),
                millis(lease_for, 1),
            ];
            let rows = self.rows(&self.db, "reserve jobs", sql, values).await?;
            self.churn.leased(rows.len());
            rows.iter().map(lease).collect::<Result<Vec<_>>>()?
        } else {
            let tx = self.write().await?;
            let values = vec![self.options.name.clone().into(), int(max)];
            let ids = self.rows(&tx, "reserve jobs", due, values).await?;
            let update = format!(
                "UPDATE stack_jobs SET state = 'running', attempts = attempts + 1, \
                 lease_id = $2, lease_expires_at = {} WHERE id = $1 RETURNING {}",
                d.after("$3"),
                d.columns(None),
            );
            let mut leases = Vec::with_capacity(ids.len());
            for row in &ids {
                let id: JobId = get(row, "id")?;
                let values = vec![id.into(), Uuid::new_v4().into(), millis(lease_for, 1)];
                let rows = self
                    .rows(&tx, "reserve a job", update.clone(), values)
                    .await?;
                for row in &rows {
                    leases.push(lease(row)?);
                }
            }
            tx.commit()
                .await
                .map_err(|e| super::db_error("commit a reserve", e))?;
            leases
        };
        // An UPDATE answers its rows in no particular order.
        leases.sort_by(|a, b| {
            b.job
                .priority
                .cmp(&a.job.priority)
                .then(a.job.run_at.cmp(&b.job.run_at))
                .then(a.job.id.cmp(&b.job.id))
        });
        Ok(leases)
    }

    /// Completes the job of `token`: deleted, or kept as completed while its unique key must
    /// hold.
    pub(super) async fn complete_one(
        &self,
        db: &impl ConnectionTrait,
        token: &LeaseToken,
    ) -> Result<bool> {
        let now = self.dialect.now();
        let delete = format!("DELETE FROM stack_jobs WHERE {HELD} AND unique_key IS NULL");
        let keep = format!(
            "UPDATE stack_jobs SET state = 'completed', finished_at = {now}, lease_id = NULL, \
             lease_expires_at = NULL WHERE {HELD}"
        );
        for sql in [delete, keep] {
            let done = db
                .execute_raw(self.statement(sql, self.held_values(token)))
                .await
                .map_err(|e| super::db_error("complete a job", e))?;
            if done.rows_affected() > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Completes every token: in one statement on PostgreSQL, in one transaction on SQLite;
    /// per token whether it held its job (a token repeated in the batch holds it only the
    /// first time).
    pub(super) async fn complete_all(&self, tokens: &[LeaseToken]) -> Result<Vec<bool>> {
        let mut seen = HashSet::new();
        if self.dialect.is_postgres() {
            let done = self.complete_batch_postgres(tokens).await?;
            return Ok(tokens
                .iter()
                .map(|t| done.contains(&t.job_id) && seen.insert(t.job_id))
                .collect());
        }
        let tx = self.write().await?;
        let mut held = Vec::with_capacity(tokens.len());
        for token in tokens {
            held.push(seen.insert(token.job_id) && self.complete_one(&tx, token).await?);
        }
        tx.commit()
            .await
            .map_err(|e| super::db_error("commit completions", e))?;
        Ok(held)
    }

    /// The ids of the jobs `tokens` completed, in one statement: the tokens travel as two
    /// uuid arrays; jobs without a unique key are deleted, the others kept as completed.
    async fn complete_batch_postgres(&self, tokens: &[LeaseToken]) -> Result<HashSet<JobId>> {
        let now = self.dialect.now();
        let matched = "j.queue = $1 AND j.id = t.id AND j.lease_id = t.lease_id";
        let sql = format!(
            "WITH t AS (SELECT * FROM UNNEST($2::text::uuid[], $3::text::uuid[]) AS t(id, lease_id)), \
             gone AS (DELETE FROM stack_jobs AS j USING t WHERE {matched} AND j.unique_key IS NULL \
             RETURNING j.id), \
             kept AS (UPDATE stack_jobs AS j SET state = 'completed', finished_at = {now}, \
             lease_id = NULL, lease_expires_at = NULL FROM t WHERE {matched} \
             AND j.unique_key IS NOT NULL RETURNING j.id) \
             SELECT id FROM gone WHERE {LAZY_COMMIT} UNION ALL SELECT id FROM kept"
        );
        let values = self.token_arrays(tokens);
        let rows = self.rows(&self.db, "complete jobs", sql, values).await?;
        rows.iter().map(|row| get::<JobId>(row, "id")).collect()
    }

    /// The queue's name and `tokens` as two uuid arrays (job ids, lease ids): `$1` to `$3`
    /// of the batch statements.
    fn token_arrays(&self, tokens: &[LeaseToken]) -> Vec<Value> {
        let array = |f: fn(&LeaseToken) -> Uuid| {
            let items: Vec<String> = tokens.iter().map(|t| f(t).to_string()).collect();
            Value::from(format!("{{{}}}", items.join(",")))
        };
        vec![
            self.options.name.clone().into(),
            array(|t| t.job_id),
            array(|t| t.lease_id),
        ]
    }

    /// Extends the leases of `tokens` in one statement (PostgreSQL); the new expiry of each
    /// lease that was still held, by job and lease id.
    pub(super) async fn extend_batch_postgres(
        &self,
        tokens: &[LeaseToken],
        lease_for: Duration,
    ) -> Result<HashMap<(JobId, Uuid), DateTime<Utc>>> {
        let sql = format!(
            "WITH t AS (SELECT * FROM UNNEST($2::text::uuid[], $3::text::uuid[]) AS t(id, lease_id)) \
             UPDATE stack_jobs AS j SET lease_expires_at = {} FROM t \
             WHERE j.queue = $1 AND j.id = t.id AND j.lease_id = t.lease_id \
             RETURNING j.id, j.lease_id, j.lease_expires_at",
            self.dialect.after("$4")
        );
        let mut values = self.token_arrays(tokens);
        values.push(millis(lease_for, 1));
        let rows = self.rows(&self.db, "extend leases", sql, values).await?;
        rows.iter()
            .map(|row| {
                let key = (get::<JobId>(row, "id")?, get::<Uuid>(row, "lease_id")?);
                Ok((key, time(get(row, "lease_expires_at")?)?))
            })
            .collect()
    }

    /// Records a failed attempt: retried after `delay` or dead-lettered.
    pub(super) async fn fail_one(
        &self,
        token: &LeaseToken,
        failure: &Failure,
        delay: Duration,
    ) -> Result<Option<FailOutcome>> {
        let d = self.dialect;
        let now = d.now();
        let retry = "$4 AND attempts < max_attempts";
        let sql = format!(
            "UPDATE stack_jobs SET \
             state = CASE WHEN {retry} THEN 'pending' ELSE 'dead' END, \
             run_at = CASE WHEN {retry} THEN {after} ELSE run_at END, \
             finished_at = CASE WHEN {retry} THEN NULL ELSE {now} END, \
             dead_seq = CASE WHEN {retry} THEN NULL ELSE {seq} END, \
             lease_id = NULL, lease_expires_at = NULL, last_error = $6, \
             errors = {errors} \
             WHERE {HELD} RETURNING state, run_at",
            after = d.after("$5"),
            seq = d.next_dead_seq("$1"),
            errors = d.append_error("attempts", "$6"),
        );
        let mut values = self.held_values(token);
        values.extend([
            failure.retryable.into(),
            millis(delay, 0),
            failure.message.clone().into(),
        ]);
        let rows = self.rows(&self.db, "fail a job", sql, values).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        if get::<String>(row, "state")? == "pending" {
            self.announce().await;
            let run_at = time(get(row, "run_at")?)?;
            return Ok(Some(FailOutcome::Retrying { run_at }));
        }
        Ok(Some(FailOutcome::Dead))
    }

    /// Moves the lease of `token` to `lease_for` from now; the new expiry.
    pub(super) async fn extend_one(
        &self,
        token: &LeaseToken,
        lease_for: Duration,
    ) -> Result<Option<DateTime<Utc>>> {
        let sql = format!(
            "UPDATE stack_jobs SET lease_expires_at = {} WHERE {HELD} RETURNING lease_expires_at",
            self.dialect.after("$4")
        );
        let mut values = self.held_values(token);
        values.push(millis(lease_for, 1));
        let rows = self.rows(&self.db, "extend a lease", sql, values).await?;
        rows.first()
            .map(|row| time(get(row, "lease_expires_at")?))
            .transpose()
    }

    /// Hands the job of `token` back, its attempt not counted.
    pub(super) async fn release_one(&self, token: &LeaseToken) -> Result<bool> {
        let sql = format!(
            "UPDATE stack_jobs SET state = 'pending', attempts = attempts - 1, lease_id = NULL, \
             lease_expires_at = NULL WHERE {HELD}"
        );
        let done = self
            .db
            .execute_raw(self.statement(sql, self.held_values(token)))
            .await
            .map_err(|e| super::db_error("release a job", e))?;
        if done.rows_affected() > 0 {
            self.announce().await;
        }
        Ok(done.rows_affected() > 0)
    }

    /// Hands back up to `limit` jobs whose lease lapsed: pending again in their old place, or
    /// dead on their last attempt (a job that keeps killing its worker must not loop).
    pub(super) async fn recover(&self, limit: usize) -> Result<u64> {
        let d = self.dialect;
        let now = d.now();
        let spent = "attempts >= max_attempts";
        let message = format!(
            "'lease expired at ' || {} || ' (worker lost or too slow)'",
            d.time_text("lease_expires_at")
        );
        let lapsed = format!(
            "SELECT id FROM stack_jobs WHERE queue = $1 AND state = 'running' \
             AND lease_expires_at <= {now} ORDER BY lease_expires_at LIMIT $2"
        );
        let set = format!(
            "SET state = CASE WHEN {spent} THEN 'dead' ELSE 'pending' END, \
             finished_at = CASE WHEN {spent} THEN {now} ELSE NULL END, \
             dead_seq = CASE WHEN {spent} THEN {seq} ELSE NULL END, \
             last_error = {message}, errors = {errors}, lease_id = NULL, lease_expires_at = NULL",
            seq = d.next_dead_seq("$1"),
            errors = d.append_error("attempts", &message),
        );
        let sql = if d.is_postgres() {
            format!(
                "WITH lapsed AS ({lapsed} FOR UPDATE SKIP LOCKED) \
                 UPDATE stack_jobs {set} FROM lapsed WHERE stack_jobs.id = lapsed.id"
            )
        } else {
            format!("UPDATE stack_jobs {set} WHERE id IN ({lapsed})")
        };
        let values = vec![self.options.name.clone().into(), int(limit)];
        let done = self
            .db
            .execute_raw(self.statement(sql, values))
            .await
            .map_err(|e| super::db_error("recover lapsed leases", e))?
            .rows_affected();
        if done > 0 {
            self.announce().await;
        }
        Ok(done)
    }

    /// How many leases have lapsed and wait for recovery.
    pub(super) async fn lapsed(&self) -> Result<u64> {
        let now = self.dialect.now();
        let sql = format!(
            "SELECT COUNT(*) AS n FROM stack_jobs WHERE queue = $1 AND state = 'running' \
             AND lease_expires_at <= {now}"
        );
        self.number(
            "count lapsed leases",
            sql,
            vec![self.options.name.clone().into()],
        )
        .await
    }

    /// How long until [`recover_before_reserve`](Self::recover_before_reserve) runs a
    /// recovery again (zero when the next reserve will).
    pub(super) fn recovery_due_in(&self) -> Duration {
        let last = *self
            .last_recovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.map_or(Duration::ZERO, |at| {
            super::RECOVER_EVERY.saturating_sub(at.elapsed())
        })
    }

    /// Runs a bounded recovery before a reserve, at most every `RECOVER_EVERY` per handle.
    pub(super) async fn recover_before_reserve(&self) -> Result<()> {
        let now = tokio::time::Instant::now();
        {
            let mut last = self
                .last_recovery
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| now.duration_since(at) < super::RECOVER_EVERY) {
                return Ok(());
            }
            *last = Some(now);
        }
        self.recover(super::RECOVER_ON_RESERVE).await.map(drop)
    }
}

/// The refusal of `token` when its job exists under another lease or state.
fn lease_lost(token: &LeaseToken) -> Error {
    Error::conflict(format!(
        "job {} attempt {} no longer holds its lease (it expired and was handed out again, or the job was already finished)",
        token.job_id, token.attempt
    ))
}
