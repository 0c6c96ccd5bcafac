//! The few places where PostgreSQL and SQLite spell the queue's SQL differently. Every
//! fragment here is constant text; values only ever travel as bound parameters.

use sea_orm::DbBackend;
use stack_core::queue::LATEST_RUN_AT_MS;

/// The columns of a job, as every read selects them.
pub(super) const POSTGRES_COLUMNS: &str = "id, job_type, payload::text AS payload, priority, \
     state, run_at, enqueued_at, attempts, max_attempts, unique_key, last_error, \
     errors::text AS errors, lease_id, lease_expires_at, trace_context";

const SQLITE_COLUMNS: &str = "id, job_type, payload, priority, state, run_at, enqueued_at, \
     attempts, max_attempts, unique_key, last_error, errors, lease_id, lease_expires_at, \
     trace_context";

/// A PostgreSQL condition, always true, that makes the statement's own transaction commit
/// without waiting for its WAL to reach the disk (`synchronous_commit = off` for that
/// transaction only). Used only by the batch acknowledgement: if the server crashes (or fails
/// over) within the next few hundred milliseconds, a completion may be forgotten and the job
/// runs again once its lease lapses, after the first run ended, as at-least-once delivery
/// allows. Never by a reserve or a lease extension (a forgotten lease would let a second worker
/// run the job while the first still does), nor by an enqueue (a job once enqueued is never
/// lost: a later synchronous commit flushes every earlier WAL record).
pub(super) const LAZY_COMMIT: &str =
    "(SELECT set_config('synchronous_commit', 'off', true)) = 'off'";

/// The SQL spelling of one engine.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect {
    pub(super) backend: DbBackend,
}

impl Dialect {
    pub(super) fn new(backend: DbBackend) -> Self {
        Self { backend }
    }

    pub(super) fn is_postgres(self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// The database's clock in milliseconds since the epoch. PostgreSQL's `now()` is the
    /// transaction's start (one value for the whole statement); SQLite's `'now'` is one value
    /// per statement step, at millisecond precision.
    pub(super) fn now(self) -> &'static str {
        if self.is_postgres() {
            "(floor(extract(epoch from now()) * 1000)::bigint)"
        } else {
            "(CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))"
        }
    }

    /// `now + span_ms`, never past the latest time a queue keeps.
    pub(super) fn after(self, span_ms: &str) -> String {
        let least = if self.is_postgres() { "LEAST" } else { "MIN" };
        format!("{least}({} + {span_ms}, {LATEST_RUN_AT_MS})", self.now())
    }

    /// The columns of a job, prefixed by `alias.` when given.
    pub(super) fn columns(self, alias: Option<&str>) -> String {
        let columns = if self.is_postgres() {
            POSTGRES_COLUMNS
        } else {
            SQLITE_COLUMNS
        };
        match alias {
            None => columns.to_owned(),
            Some(alias) => columns
                .split(", ")
                .map(|c| format!("{alias}.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// A bound JSON document `param` as the column stores it.
    pub(super) fn json(self, param: &str) -> String {
        if self.is_postgres() {
            format!("{param}::jsonb")
        } else {
            param.to_owned()
        }
    }

    /// The error history with one more entry: attempt `attempt`, now, `message` (SQL
    /// expressions).
    pub(super) fn append_error(self, attempt: &str, message: &str) -> String {
        let now = self.now();
        if self.is_postgres() {
            format!(
                "errors || jsonb_build_array(jsonb_build_object('attempt', {attempt}, 'at', {now}, 'message', {message}))"
            )
        } else {
            format!(
                "json_insert(errors, '$[#]', json_object('attempt', {attempt}, 'at', {now}, 'message', {message}))"
            )
        }
    }

    /// The text of a millisecond time column, as RFC 3339 in UTC.
    pub(super) fn time_text(self, column: &str) -> String {
        if self.is_postgres() {
            format!(
                "to_char(to_timestamp({column} / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            )
        } else {
            format!("strftime('%Y-%m-%dT%H:%M:%fZ', {column} / 1000.0, 'unixepoch')")
        }
    }

    /// The next place in the dead-letter queue of queue `queue_param`.
    pub(super) fn next_dead_seq(self, queue_param: &str) -> String {
        format!(
            "(SELECT COALESCE(MAX(d.dead_seq), 0) + 1 FROM stack_jobs d \
             WHERE d.queue = {queue_param} AND d.state = 'dead')"
        )
    }
}
