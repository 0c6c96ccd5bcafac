//! The SQL side of [`stack_core::unit`]: a unit's transaction is a [`SqlTransaction`] on the
//! primary, and every call of a [`SqlStore`] made inside the unit runs in it (a write as a
//! savepoint of it, a read on it), so a handler's writes, the idempotency record of its
//! answer and a SQL queue's job commit together.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend};
use stack_core::Result;
use stack_core::unit::{self, Lent, Transaction, TransactionSource};

use super::SqlStore;
use super::error::db_error;

/// A transaction on a SQL database, as a unit of work holds it. A SQL backend that lends
/// it takes it back with [`SqlTransaction::of`].
#[derive(Debug)]
pub struct SqlTransaction {
    transaction: DatabaseTransaction,
    /// The pool it was opened on ([`pool_identity`]).
    pool: usize,
}

impl SqlTransaction {
    /// `transaction` when it is a SQL one.
    pub fn of(transaction: &dyn Transaction) -> Option<&Self> {
        transaction.as_any().downcast_ref()
    }

    /// The open transaction, to run statements in.
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.transaction
    }

    /// Whether it was opened on `db`'s pool (or a clone of it): only then may a backend
    /// over `db` run its statements in it; another database's must not.
    pub fn is_on(&self, db: &DatabaseConnection) -> bool {
        self.pool == pool_identity(db)
    }
}

/// An identity of `db`'s pool, shared by its clones: the address of the connect options the
/// pool holds (one allocation per pool).
pub(super) fn pool_identity(db: &DatabaseConnection) -> usize {
    let options = match db.get_database_backend() {
        DbBackend::Postgres => {
            Arc::as_ptr(&db.get_postgres_connection_pool().connect_options()).cast::<()>()
        }
        _ => Arc::as_ptr(&db.get_sqlite_connection_pool().connect_options()).cast::<()>(),
    };
    options as usize
}

#[async_trait]
impl Transaction for SqlTransaction {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.transaction
            .commit()
            .await
            .map_err(|e| db_error("commit a unit of work", e))
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.transaction
            .rollback()
            .await
            .map_err(|e| db_error("roll back a unit of work", e))
    }
}

#[async_trait]
impl TransactionSource for SqlStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        let transaction = self.begin_top().await?;
        Ok(Box::new(SqlTransaction {
            transaction,
            pool: pool_identity(&self.db),
        }))
    }
}

/// Where one call of a [`SqlStore`] runs: the current unit's transaction, or the pool.
pub(super) struct Conn<'a> {
    lent: Option<Lent>,
    db: &'a DatabaseConnection,
}

impl Conn<'_> {
    /// The executor to run statements on.
    pub(super) fn exec(&self) -> DatabaseExecutor<'_> {
        match self.unit_transaction() {
            Some(transaction) => DatabaseExecutor::Transaction(transaction),
            None => DatabaseExecutor::Connection(self.db),
        }
    }

    /// The unit's transaction, when the call runs in one.
    pub(super) fn unit_transaction(&self) -> Option<&DatabaseTransaction> {
        let lent = self.lent.as_ref()?;
        SqlTransaction::of(lent.transaction()?)
            .filter(|transaction| transaction.is_on(self.db))
            .map(SqlTransaction::connection)
    }
}

impl SqlStore {
    /// Where the next call runs: inside the current unit's transaction when there is one, it
    /// was opened on this store's pool, and this store joins units (a replica's does not);
    /// else on the pool.
    pub(super) async fn conn(&self) -> Conn<'_> {
        let lent = if self.joins_units && unit::active() {
            unit::lend().await
        } else {
            None
        };
        Conn { lent, db: &self.db }
    }
}
