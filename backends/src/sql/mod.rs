//! The Store on SeaORM and sea-query, one implementation for PostgreSQL and SQLite.
//!
//! Every statement is built with sea-query (no input is ever formatted into SQL text). Each
//! write that moves money or changes a user's state runs in one transaction with its audit
//! log; on SQLite the transaction begins `IMMEDIATE`, so writers queue for the lock instead
//! of failing to upgrade it, and on PostgreSQL the first statement of each money write
//! locks the row it changes. Amounts are `NUMERIC(38, 18)` on PostgreSQL and exact decimal
//! text on SQLite.

mod audit;
mod deposit_insert;
pub mod diagnostics;
mod error;
mod idempotency;
mod ledger;
mod listing;
mod money;
mod named;
mod onboarding;
mod open;
mod queue;
mod replica;
mod rows;
mod unit;
mod unnest;
mod users;
mod wallets;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, TransactionOptions,
    TransactionTrait,
};
use stack_core::Result;
use stack_core::store::Store;

pub use named::ListQuery;
pub use open::{
    SqlOptions, is_memory_url, migrate_down, migrate_fresh, migrate_status, migrate_up,
    migrate_url, open, pending_migrations,
};
pub use queue::{SqlQueue, SqlQueueOptions, Sweep};
pub use replica::SqlReplica;
pub use unit::SqlTransaction;

use error::db_error;

/// A pool's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// The most it opens (`database.max_open_conns`).
    pub max: u32,
    /// Open now.
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// Open and lent to a caller.
    pub in_use: u32,
}

/// The Store over one SQL database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
    slow: diagnostics::SlowQueries,
    /// Whether calls made inside a [`stack_core::unit`] run in its transaction (the
    /// primary's store) or ignore it (a replica's).
    joins_units: bool,
}

impl SqlStore {
    /// A store over an open, migrated connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            slow: diagnostics::SlowQueries::default(),
            joins_units: true,
        }
    }

    /// This store, ignoring units of work: for a replica, whose reads must never run in (or
    /// wait for) a transaction on the primary.
    #[must_use]
    pub fn outside_units(mut self) -> Self {
        self.joins_units = false;
        self
    }

    /// This store, answering `slow` in [`SqlStore::slow_queries`]: what
    /// [`diagnostics::instrument`] answered for its connection.
    #[must_use]
    pub fn with_slow_queries(mut self, slow: diagnostics::SlowQueries) -> Self {
        self.slow = slow;
        self
    }

    /// The most recent statements of this pool slower than `database.slow_query_threshold`,
    /// newest first (empty for a store made with [`SqlStore::new`] alone).
    pub fn slow_queries(&self) -> Vec<diagnostics::SlowQuery> {
        self.slow.recent()
    }

    /// The connection, for migrations and for a SQL queue sharing the pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The pool now: its bound, its open connections, and how many are idle or in use.
    pub fn pool_stats(&self) -> PoolStats {
        let (max, size, idle) = match self.backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (
                    pool.options().get_max_connections(),
                    pool.size(),
                    pool.num_idle(),
                )
            }
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                (
                    pool.options().get_max_connections(),
                    pool.size(),
                    pool.num_idle(),
                )
            }
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        PoolStats {
            max,
            size,
            idle,
            in_use: size.saturating_sub(idle),
        }
    }

    /// How long a new caller waits for a connection now: one connection taken from the pool
    /// (opening one if the pool may, checking an idle one as every caller's is checked) and
    /// given back at once, abandoned after `within`. It waits in the same queue as the
    /// callers, so it shows a saturated pool as they see it; a refused connection ends it
    /// early (logged). sqlx times no acquire of the callers themselves.
    pub async fn probe_acquire(&self, within: Duration) -> Duration {
        let started = Instant::now();
        let acquired = match self.backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                tokio::time::timeout(within, pool.acquire())
                    .await
                    .map(|c| c.map(drop))
            }
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                tokio::time::timeout(within, pool.acquire())
                    .await
                    .map(|c| c.map(drop))
            }
        };
        if let Ok(Err(error)) = acquired {
            tracing::debug!(%error, "the acquire probe got no connection");
        }
        started.elapsed()
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// A transaction for a write: a savepoint of the current unit's transaction inside one
    /// (see [`unit`]), else a transaction of its own.
    async fn write(&self) -> Result<DatabaseTransaction> {
        let conn = self.conn().await;
        match conn.unit_transaction() {
            Some(transaction) => transaction
                .begin()
                .await
                .map_err(|e| db_error("begin a savepoint", e)),
            None => self.begin_top().await,
        }
    }

    /// A transaction of its own: `BEGIN IMMEDIATE` on SQLite.
    async fn begin_top(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let begun = if self.backend() == DbBackend::Sqlite {
            self.db.begin_with_options(options).await
        } else {
            self.db.begin().await
        };
        begun.map_err(|e| db_error("begin a transaction", e))
    }
}

#[async_trait]
impl Store for SqlStore {
    fn name(&self) -> &'static str {
        match self.backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "sql",
        }
    }

    /// A ping of the pool; inside a unit of work, a statement on the unit's connection (a
    /// breaker probing from inside a unit must not wait for a second connection).
    async fn health(&self) -> Result<()> {
        let conn = self.conn().await;
        if conn.unit_transaction().is_none() {
            return self.db.ping().await.map_err(|e| db_error("ping", e));
        }
        conn.exec()
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| db_error("ping", e))
    }
}
