//! The table behind `Idempotency-Key`: one row per key, holding the request it was first used
//! for (method, target, body fingerprint), its state (`running` under a lease, or `done`)
//! and, once done, the response to replay. The key is the primary key, so claiming one is a
//! single `INSERT ... ON CONFLICT` that exactly one request wins, across processes. An index
//! on `expires_at` lets the purge delete expired rows in bounded batches.

use sea_orm_migration::prelude::*;

use crate::schema::IdempotencyKeys as K;

/// Creates (and, down, drops) `idempotency_keys`.
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

const EXPIRY_INDEX: &str = "ix_idempotency_keys_expires_at";

fn time(name: K) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(
                        ColumnDef::new(K::Key)
                            .string_len(255)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(K::Method).string_len(16).not_null())
                    .col(ColumnDef::new(K::Target).text().not_null())
                    .col(ColumnDef::new(K::Fingerprint).string_len(64).not_null())
                    .col(ColumnDef::new(K::State).string_len(16).not_null())
                    .col(ColumnDef::new(K::ClaimToken).uuid().not_null())
                    .col(
                        ColumnDef::new(K::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(K::Status).small_integer().null())
                    .col(ColumnDef::new(K::ContentType).text().null())
                    .col(ColumnDef::new(K::Body).blob().null())
                    .col(time(K::CreatedAt))
                    .col(time(K::ExpiresAt))
                    .check(Check::from((
                        "ck_idempotency_keys_state",
                        Expr::col(K::State).is_in(["running", "done"]),
                    )))
                    // A running claim has a lease; a done one has its response.
                    .check(Check::from((
                        "ck_idempotency_keys_shape",
                        Expr::cust(
                            "(state = 'running' AND lease_until IS NOT NULL) \
                             OR (state = 'done' AND status IS NOT NULL AND body IS NOT NULL)",
                        ),
                    )))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(EXPIRY_INDEX)
                    .table(K::Table)
                    .col(K::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(K::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
