//! Schema migrations for the STACK rail service (sea-orm-migration), the same steps on
//! PostgreSQL and SQLite:
//!
//! 1. [`m0001_rail_tables`]: the tables, with the constraints correctness depends on in the
//!    database (unique keys that make writes idempotent, a balance never negative, amounts
//!    positive, states from their set, foreign keys);
//! 2. [`m0002_list_indexes`]: the indexes the list queries use; `stack migrate down 7`
//!    (past migrations 8 to 3) removes these and migrations 3 to 8;
//! 3. [`m0003_deposit_output_index`]: a deposit is identified by (chain, tx_hash,
//!    output_index), so one transaction paying two of our addresses is two deposits;
//! 4. [`m0004_idempotency_keys`]: the table behind the API's `Idempotency-Key` (a key, the
//!    request it was first used for, its state and lease, the stored response, its expiry);
//! 5. [`m0005_operator_audit`]: an audit log may concern no user (an operator's action);
//! 6. [`m0006_jobs`]: the SQL job queue's table, `stack_jobs`, and its indexes;
//! 7. [`m0007_job_trace_context`]: a job's W3C trace context, `stack_jobs.trace_context`;
//! 8. [`m0008_job_workers`]: the job queue's worker registry, `stack_job_workers`.
//!
//! Each step runs in a transaction on both engines and has a working `down`.

pub mod m0001_rail_tables;
pub mod m0002_list_indexes;
pub mod m0003_deposit_output_index;
pub mod m0004_idempotency_keys;
pub mod m0005_operator_audit;
pub mod m0006_jobs;
pub mod m0007_job_trace_context;
pub mod m0008_job_workers;
pub mod schema;

use sea_orm_migration::prelude::*;
pub use sea_orm_migration::{MigrationStatus, MigratorTrait};

/// The rail's migrations, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_rail_tables::Migration),
            Box::new(m0002_list_indexes::Migration),
            Box::new(m0003_deposit_output_index::Migration),
            Box::new(m0004_idempotency_keys::Migration),
            Box::new(m0005_operator_audit::Migration),
            Box::new(m0006_jobs::Migration),
            Box::new(m0007_job_trace_context::Migration),
            Box::new(m0008_job_workers::Migration),
        ]
    }
}

/// Drops the list indexes (the `down` of [`m0002_list_indexes`]) and leaves every other
/// step applied and the migration record untouched: for plan comparisons with and without
/// the indexes (`stack migrate down 2` would also undo migration 3, which the Store's
/// statements need). Undo with [`create_list_indexes`].
///
/// # Errors
/// A statement that fails.
pub async fn drop_list_indexes(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    m0002_list_indexes::Migration
        .down(&SchemaManager::new(db))
        .await
}

/// Creates the list indexes again after [`drop_list_indexes`].
///
/// # Errors
/// A statement that fails.
pub async fn create_list_indexes(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    m0002_list_indexes::Migration
        .up(&SchemaManager::new(db))
        .await
}
