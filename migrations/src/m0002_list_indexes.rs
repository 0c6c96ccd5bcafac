//! The indexes of the list queries: each listing filters by its owner and reads newest
//! first, so the composite indexes end with `created_at DESC, id DESC` (the keyset order).
//! The seed's single-column indexes on an owner (`wallets.user_id`, `deposits.user_id`,
//! `transactions.user_id`, `audit_logs.user_id`) are the leading columns of these composites;
//! the unique keys (`users.email`, chain + address, chain + tx_hash, user + asset) live with
//! the tables, since correctness depends on them.

use sea_orm_migration::prelude::*;

use crate::schema::{AuditLogs, Balances, Deposits, OnboardingFlows, Transactions, Users, Wallets};

/// Adds (and, down, drops) the list indexes.
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

/// One index: its name, table and columns (a `true` column is descending).
struct ListIndex {
    name: &'static str,
    table: DynIden,
    columns: Vec<(DynIden, bool)>,
}

fn ix(name: &'static str, table: impl IntoIden, columns: Vec<(DynIden, bool)>) -> ListIndex {
    ListIndex {
        name,
        table: table.into_iden(),
        columns,
    }
}

fn asc(c: impl IntoIden) -> (DynIden, bool) {
    (c.into_iden(), false)
}

fn desc(c: impl IntoIden) -> (DynIden, bool) {
    (c.into_iden(), true)
}

fn indexes() -> Vec<ListIndex> {
    vec![
        ix(
            "ix_users_created",
            Users::Table,
            vec![desc(Users::CreatedAt), desc(Users::Id)],
        ),
        ix("ix_users_phone", Users::Table, vec![asc(Users::Phone)]),
        ix(
            "ix_wallets_user",
            Wallets::Table,
            vec![asc(Wallets::UserId), desc(Wallets::CreatedAt)],
        ),
        ix(
            "ix_wallets_status",
            Wallets::Table,
            vec![asc(Wallets::Status)],
        ),
        ix(
            "ix_balances_updated",
            Balances::Table,
            vec![desc(Balances::UpdatedAt)],
        ),
        ix(
            "ix_deposits_user_created",
            Deposits::Table,
            vec![
                asc(Deposits::UserId),
                desc(Deposits::CreatedAt),
                desc(Deposits::Id),
            ],
        ),
        ix(
            "ix_deposits_status_created",
            Deposits::Table,
            vec![asc(Deposits::Status), desc(Deposits::CreatedAt)],
        ),
        ix(
            "ix_deposits_chain_created",
            Deposits::Table,
            vec![asc(Deposits::Chain), desc(Deposits::CreatedAt)],
        ),
        ix(
            "ix_transactions_user_created",
            Transactions::Table,
            vec![
                asc(Transactions::UserId),
                desc(Transactions::CreatedAt),
                desc(Transactions::Id),
            ],
        ),
        ix(
            "ix_transactions_type_created",
            Transactions::Table,
            vec![asc(Transactions::Kind), desc(Transactions::CreatedAt)],
        ),
        ix(
            "ix_onboarding_status",
            OnboardingFlows::Table,
            vec![asc(OnboardingFlows::Status)],
        ),
        ix(
            "ix_audit_user_created",
            AuditLogs::Table,
            vec![
                asc(AuditLogs::UserId),
                desc(AuditLogs::CreatedAt),
                desc(AuditLogs::Id),
            ],
        ),
        ix(
            "ix_audit_action_created",
            AuditLogs::Table,
            vec![asc(AuditLogs::Action), desc(AuditLogs::CreatedAt)],
        ),
        ix(
            "ix_audit_created",
            AuditLogs::Table,
            vec![desc(AuditLogs::CreatedAt)],
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in indexes() {
            let mut create = Index::create();
            create.name(index.name).table(index.table.clone());
            for (column, descending) in index.columns {
                if descending {
                    create.col((column, IndexOrder::Desc));
                } else {
                    create.col(column);
                }
            }
            manager.create_index(create).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in indexes() {
            manager
                .drop_index(Index::drop().name(index.name).table(index.table).to_owned())
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
