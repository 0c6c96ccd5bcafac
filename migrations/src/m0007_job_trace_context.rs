//! A job's W3C trace context, `stack_jobs.trace_context`: the trace of the request that
//! enqueued it, which every attempt continues. Nullable text (the `traceparent`, then a space
//! and the `tracestate` when there is one); rows stored before it have none.

use sea_orm_migration::prelude::*;

/// Adds `stack_jobs.trace_context` (down: drops it).
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE stack_jobs ADD COLUMN trace_context text")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE stack_jobs DROP COLUMN trace_context")
            .await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
