//! The job queue's table, `stack_jobs`, for the SQL queue (PostgreSQL and SQLite).
//!
//! One row per job of every queue (`queue` names it). Times are milliseconds since the Unix
//! epoch (`BIGINT`), the precision every queue backend keeps. The indexes are the queue's
//! access paths, each partial so that it holds only the rows its statement reads:
//!
//! - `stack_jobs_ready` (pending jobs by queue, priority, run time, id): the reserve's
//!   `ORDER BY priority, run_at, id LIMIT n`, the next run time (one probe per priority)
//!   and the ready counts of the stats;
//! - `stack_jobs_leases` (running jobs by lease expiry): recovery of lapsed leases;
//! - `stack_jobs_completed` (completed jobs by finish time): the retention sweep and the
//!   cleaning of expired unique keys;
//! - `stack_jobs_dead` (dead jobs in the order they died): the dead-letter listing and the
//!   dead-letter retention sweep;
//! - `stack_jobs_unique_key` (unique, where a key is set): a key no two live jobs of one
//!   queue share, enforced by the database.
//!
//! On PostgreSQL the payload and the error history are `jsonb`; on SQLite, JSON text.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Creates `stack_jobs` and its indexes (down: drops them).
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

const POSTGRES: &str = r"
CREATE TABLE stack_jobs (
    id uuid PRIMARY KEY,
    queue text NOT NULL,
    job_type text NOT NULL,
    payload jsonb NOT NULL,
    priority bigint NOT NULL CHECK (priority BETWEEN 0 AND 3),
    state text NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'dead')),
    run_at bigint NOT NULL,
    enqueued_at bigint NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    max_attempts bigint NOT NULL CHECK (max_attempts >= 1),
    unique_key text,
    lease_id uuid,
    lease_expires_at bigint,
    finished_at bigint,
    dead_seq bigint,
    last_error text,
    errors jsonb NOT NULL DEFAULT '[]'
)";

const SQLITE: &str = r"
CREATE TABLE stack_jobs (
    id uuid_text NOT NULL PRIMARY KEY,
    queue text NOT NULL,
    job_type text NOT NULL,
    payload text NOT NULL,
    priority integer NOT NULL CHECK (priority BETWEEN 0 AND 3),
    state text NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'dead')),
    run_at integer NOT NULL,
    enqueued_at integer NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    unique_key text,
    lease_id uuid_text,
    lease_expires_at integer,
    finished_at integer,
    dead_seq integer,
    last_error text,
    errors text NOT NULL DEFAULT '[]'
)";

const INDEXES: [&str; 5] = [
    "CREATE INDEX stack_jobs_ready ON stack_jobs (queue, priority, run_at, id) \
     WHERE state = 'pending'",
    "CREATE INDEX stack_jobs_leases ON stack_jobs (queue, lease_expires_at) \
     WHERE state = 'running'",
    "CREATE INDEX stack_jobs_completed ON stack_jobs (queue, finished_at) \
     WHERE state = 'completed'",
    "CREATE INDEX stack_jobs_dead ON stack_jobs (queue, dead_seq) WHERE state = 'dead'",
    "CREATE UNIQUE INDEX stack_jobs_unique_key ON stack_jobs (queue, unique_key) \
     WHERE unique_key IS NOT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let table = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES,
            _ => SQLITE,
        };
        db.execute_unprepared(table).await?;
        for index in INDEXES {
            db.execute_unprepared(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE stack_jobs")
            .await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
