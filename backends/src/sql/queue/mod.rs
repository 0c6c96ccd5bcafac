//! The job queue on PostgreSQL and SQLite: see [`SqlQueue`].

mod contract;
mod dead;
mod dialect;
mod enqueue;
mod listing;
mod maintenance;
mod rows;
mod settle;
mod wake;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionOptions, TransactionTrait, Value,
};
use stack_core::queue::{QueueOptions, Transaction};
use stack_core::{Error, Result};

use self::dialect::Dialect;
use super::error::db_error;

pub use maintenance::Sweep;

/// Jobs per enqueue statement, and the most leases one reserve hands out: a statement of
/// 500 rows of 11 parameters stays far under both engines' bound-parameter limits.
const CHUNK: usize = 500;

/// The most bytes of bound arrays one PostgreSQL statement of a batch carries (a few jobs or
/// tokens more when one alone is larger). A message larger than the client socket's first
/// send buffer (16 KiB on Linux) stalls on loopback until the server's delayed
/// acknowledgement, 40 ms later: 500-job statements ran at 11,000 jobs/s, 100-job ones at
/// 64,000 (docs/benchmarks.md).
const WIRE_BUDGET: usize = 12 * 1024;

/// Lease tokens per batch statement on PostgreSQL: two uuids (74 bytes of text) each, within
/// [`WIRE_BUDGET`].
const TOKEN_CHUNK: usize = WIRE_BUDGET / 80;

/// How many lapsed leases each reserve hands back before it leases (at most every
/// [`RECOVER_EVERY`] per handle): any instance that reserves recovers the leases of dead
/// workers, so no reaper process is needed.
const RECOVER_ON_RESERVE: usize = 100;

/// The least time between two recoveries a reserve runs first.
const RECOVER_EVERY: Duration = Duration::from_secs(1);

/// Settings of the SQL queue beyond [`QueueOptions`].
#[derive(Debug, Clone)]
pub struct SqlQueueOptions {
    /// How long a dead job is kept in the dead-letter queue before the sweep deletes it;
    /// `None` keeps dead letters until they are requeued or purged.
    pub dead_retention: Option<Duration>,
    /// How often the background sweep runs (deleting completed and dead jobs past their
    /// retention, and recovering lapsed leases); `None` runs none (call [`SqlQueue::sweep`]).
    /// The sweep and the vacuum run in one background task of each handle, started when
    /// either is set. Zero is refused.
    pub sweep_every: Option<Duration>,
    /// The most rows one sweep statement deletes, so it never holds the table for long.
    pub sweep_batch: usize,
    /// How often the background task runs `VACUUM (SKIP_LOCKED) stack_jobs` on PostgreSQL
    /// (and at once after a handle leased 10,000 jobs), so the space of deleted and updated
    /// rows is reused within seconds rather than after autovacuum's next round (a minute by
    /// default), which under a steady load is what keeps the table small and the reserves
    /// fast; `None` leaves it to autovacuum.
    pub vacuum_every: Option<Duration>,
}

impl Default for SqlQueueOptions {
    fn default() -> Self {
        Self {
            dead_retention: None,
            sweep_every: Some(Duration::from_secs(30)),
            sweep_batch: 5_000,
            vacuum_every: Some(Duration::from_secs(10)),
        }
    }
}

/// A durable job queue in the database of a [`SqlStore`](super::SqlStore), sharing its pool,
/// with the full semantics of [`Queue`](stack_core::queue::Queue).
///
/// Jobs are rows of `stack_jobs` (migration 6). Times are the database's clock, at
/// millisecond precision. On PostgreSQL a batch is reserved in one statement: a
/// `FOR UPDATE SKIP LOCKED` selection fenced in a CTE, then the update joined on it, so
/// concurrent reservers never wait on each other nor share a job; idle workers are woken by
/// `LISTEN`/`NOTIFY` (the notify is part of the enqueue's own statement, so a job enqueued
/// in a caller's transaction wakes workers when that transaction commits). On SQLite every
/// multi-statement change runs in a `BEGIN IMMEDIATE` transaction (one writer) and idle
/// workers of this process are woken in-process. Lease ids are random (UUIDv4).
#[derive(Debug)]
pub struct SqlQueue {
    db: DatabaseConnection,
    dialect: Dialect,
    options: QueueOptions,
    sql_options: SqlQueueOptions,
    wake: Arc<wake::Wake>,
    last_recovery: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The PostgreSQL listener task of this handle, started by the first wait.
    listener: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    sweeper: Option<tokio::task::JoinHandle<()>>,
    /// Jobs leased since the last vacuum (PostgreSQL), watched by the maintenance task.
    churn: Arc<maintenance::Churn>,
}

impl Drop for SqlQueue {
    fn drop(&mut self) {
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
        if let Some(listener) = self.listener.get_mut().as_ref() {
            listener.abort();
        }
    }
}

impl SqlQueue {
    /// Whether this queue runs on `store`'s pool (or a clone of it): only then can a job be
    /// enqueued in a transaction of that store's unit of work.
    pub fn shares_pool_with(&self, store: &super::SqlStore) -> bool {
        super::unit::pool_identity(&self.db) == super::unit::pool_identity(store.connection())
    }

    /// Opens queue `options.name` over `db` (a migrated database: see
    /// [`migrate_up`](super::migrate_up)), typically [`SqlStore::connection`](super::SqlStore::connection)
    /// so that the queue shares the Store's pool. Starts the background maintenance (sweep and
    /// vacuum) when `sql_options.sweep_every` or `vacuum_every` is set (inside a Tokio
    /// runtime).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a name every backend refuses ([`QueueOptions::validate`]) or a
    /// zero `sweep_every` / `vacuum_every`;
    /// [`Error::Unsupported`] for a database other than PostgreSQL or SQLite.
    pub fn open(
        db: DatabaseConnection,
        options: QueueOptions,
        sql_options: SqlQueueOptions,
    ) -> Result<Arc<Self>> {
        options.validate()?;
        for (field, every) in [
            ("sweep_every", sql_options.sweep_every),
            ("vacuum_every", sql_options.vacuum_every),
        ] {
            if every.is_some_and(|every| every.is_zero()) {
                return Err(Error::invalid(field, "must be more than zero, or none"));
            }
        }
        let backend = db.get_database_backend();
        if !matches!(backend, DbBackend::Postgres | DbBackend::Sqlite) {
            return Err(Error::unsupported(format!(
                "a job queue on {backend:?}; use PostgreSQL or SQLite"
            )));
        }
        let wake = wake::Wake::for_queue(&options.name);
        let mut queue = Self {
            db,
            dialect: Dialect::new(backend),
            options,
            sql_options,
            wake,
            last_recovery: std::sync::Mutex::new(None),
            listener: tokio::sync::Mutex::new(None),
            sweeper: None,
            churn: Arc::default(),
        };
        let (sweep_every, vacuum_every) = (
            queue.sql_options.sweep_every,
            queue.sql_options.vacuum_every,
        );
        Ok(Arc::new_cyclic(|weak| {
            let churn = Arc::clone(&queue.churn);
            queue.sweeper = maintenance::spawn(weak.clone(), churn, sweep_every, vacuum_every);
            queue
        }))
    }

    /// The connection the queue runs on.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    fn backend(&self) -> DbBackend {
        self.dialect.backend
    }

    fn statement(&self, sql: String, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend(), sql, values)
    }

    /// A transaction for a change of several statements: `BEGIN IMMEDIATE` on SQLite, so
    /// writers queue for the lock instead of failing to upgrade a read lock.
    async fn write(&self) -> Result<DatabaseTransaction> {
        let begun = if self.backend() == DbBackend::Sqlite {
            let options = TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            };
            self.db.begin_with_options(options).await
        } else {
            self.db.begin().await
        };
        begun.map_err(|e| db_error("begin a queue transaction", e))
    }

    /// The caller's transaction behind `tx`, when it is a SQL one ([`SqlTransaction`]: a
    /// unit of work's, see [`stack_core::unit`]).
    ///
    /// [`SqlTransaction`]: super::SqlTransaction
    fn own_transaction<'t>(&self, tx: &'t dyn Transaction) -> Result<&'t DatabaseTransaction> {
        super::SqlTransaction::of(tx)
            .filter(|sql| sql.is_on(&self.db))
            .map(super::SqlTransaction::connection)
            .ok_or_else(|| {
                Error::unsupported(
                    "enqueue inside a transaction that is not a SQL transaction (SqlTransaction) \
                     on this queue's database",
                )
            })
    }

    /// Runs `sql` and answers its rows.
    async fn rows(
        &self,
        db: &impl ConnectionTrait,
        doing: &str,
        sql: String,
        values: Vec<Value>,
    ) -> Result<Vec<sea_orm::QueryResult>> {
        db.query_all_raw(self.statement(sql, values))
            .await
            .map_err(|e| db_error(doing, e))
    }

    /// A count or a single number the statement answers in column `n`.
    async fn number(&self, doing: &str, sql: String, values: Vec<Value>) -> Result<u64> {
        let rows = self.rows(&self.db, doing, sql, values).await?;
        let n = rows
            .first()
            .map(|row| row.try_get::<Option<i64>>("", "n"))
            .transpose()
            .map_err(|e| Error::backend(format!("{doing}: {e}")))?
            .flatten()
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// `n` as a bound integer.
fn int(n: usize) -> Value {
    Value::from(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `span` in whole milliseconds (at least `floor`), as a bound integer.
fn millis(span: Duration, floor: u128) -> Value {
    Value::from(clamped_millis(span.max(Duration::from_millis(
        u64::try_from(floor).unwrap_or(u64::MAX),
    ))))
}

/// `span` in whole milliseconds, `i64::MAX` past it.
fn clamped_millis(span: Duration) -> i64 {
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX)
}
