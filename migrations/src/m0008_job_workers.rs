//! The SQL job queue's worker registry, `stack_job_workers`: one row per worker pool of a
//! queue, its last report (JSON text) and when it arrived and expires (milliseconds since the
//! epoch, by the database's clock). Same text and integer columns on both engines.

use sea_orm_migration::prelude::*;

/// Creates `stack_job_workers` (down: drops it).
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

const TABLE: &str = r"
CREATE TABLE stack_job_workers (
    queue text NOT NULL,
    id text NOT NULL,
    report text NOT NULL,
    seen_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (queue, id)
)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(TABLE).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE stack_job_workers")
            .await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
