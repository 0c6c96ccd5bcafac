//! The rail's tables. Constraints that correctness depends on live here, in the database:
//! unique keys (email; chain + address; chain + tx_hash, which makes recording a deposit
//! idempotent; user + asset of a balance; user + type + reference of a ledger entry, which
//! makes crediting a deposit or retrying a debit exactly-once), a balance never negative,
//! amounts positive, states from their set, and foreign keys to users.
//!
//! Amounts are `NUMERIC(38, 18)` on PostgreSQL and exact decimal text on SQLite (whose
//! `REAL` would round them); the checks cast that text to compare it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::schema::{AuditLogs, Balances, Deposits, OnboardingFlows, Transactions, Users, Wallets};

/// Creates (and, down, drops) the rail's tables.
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

/// How one engine stores and checks amounts.
struct Amounts(DbBackend);

impl Amounts {
    fn column(&self, name: impl IntoIden) -> ColumnDef {
        let mut column = ColumnDef::new(name);
        match self.0 {
            DbBackend::Postgres => column.decimal_len(38, 18),
            _ => column.text(),
        };
        column.not_null().to_owned()
    }

    /// `CHECK (<column> <op> 0)` comparing the value as a number.
    fn check(&self, column: &str, op: &str) -> Check {
        let value = match self.0 {
            DbBackend::Postgres => column.to_owned(),
            _ => format!("CAST({column} AS NUMERIC)"),
        };
        Check::from((
            format!(
                "ck_{column}_{}",
                if op == ">" {
                    "positive"
                } else {
                    "not_negative"
                }
            ),
            Expr::cust(format!("{value} {op} 0")),
        ))
    }
}

fn uuid_pk(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

fn uuid_col(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().to_owned()
}

fn text_col(name: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().to_owned()
}

fn time_col(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn states(name: &'static str, column: impl IntoIden, allowed: &[&str]) -> Check {
    Check::from((name, Expr::col(column).is_in(allowed.iter().copied())))
}

fn owned_by_user(
    table: impl IntoIden + Clone,
    column: impl IntoIden,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .to_owned()
}

fn unique(name: &str, table: impl IntoIden, columns: &[DynIden]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for column in columns {
        index.col(column.clone());
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let amounts = Amounts(manager.get_database_backend());
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid_pk(Users::Id))
                    .col(text_col(Users::Email, 254))
                    .col(ColumnDef::new(Users::Phone).string_len(16).null())
                    .col(text_col(Users::FullName, 200))
                    .col(text_col(Users::Status, 16))
                    .col(time_col(Users::CreatedAt))
                    .col(time_col(Users::UpdatedAt))
                    .check(states(
                        "ck_users_status",
                        Users::Status,
                        &["active", "suspended"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Wallets::Table)
                    .col(uuid_pk(Wallets::Id))
                    .col(uuid_col(Wallets::UserId))
                    .col(text_col(Wallets::Chain, 32))
                    .col(text_col(Wallets::Address, 128))
                    .col(text_col(Wallets::Status, 16))
                    .col(time_col(Wallets::CreatedAt))
                    .check(states(
                        "ck_wallets_status",
                        Wallets::Status,
                        &["active", "disabled"],
                    ))
                    .foreign_key(&mut owned_by_user(
                        Wallets::Table,
                        Wallets::UserId,
                        "fk_wallets_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deposits::Table)
                    .col(uuid_pk(Deposits::Id))
                    .col(uuid_col(Deposits::UserId))
                    .col(text_col(Deposits::Chain, 32))
                    .col(text_col(Deposits::TxHash, 128))
                    .col(text_col(Deposits::Asset, 12))
                    .col(amounts.column(Deposits::Amount))
                    .col(text_col(Deposits::Status, 16))
                    .col(time_col(Deposits::CreatedAt))
                    .col(
                        ColumnDef::new(Deposits::ConfirmedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .check(amounts.check("amount", ">"))
                    .check(states(
                        "ck_deposits_status",
                        Deposits::Status,
                        &["pending", "confirmed", "failed"],
                    ))
                    .foreign_key(&mut owned_by_user(
                        Deposits::Table,
                        Deposits::UserId,
                        "fk_deposits_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Balances::Table)
                    .col(uuid_col(Balances::UserId))
                    .col(text_col(Balances::Asset, 12))
                    .col(amounts.column(Balances::Available))
                    .col(time_col(Balances::UpdatedAt))
                    .primary_key(Index::create().col(Balances::UserId).col(Balances::Asset))
                    .check(amounts.check("available", ">="))
                    .foreign_key(&mut owned_by_user(
                        Balances::Table,
                        Balances::UserId,
                        "fk_balances_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Transactions::Table)
                    .col(uuid_pk(Transactions::Id))
                    .col(uuid_col(Transactions::UserId))
                    .col(text_col(Transactions::Kind, 8))
                    .col(text_col(Transactions::Asset, 12))
                    .col(amounts.column(Transactions::Amount))
                    .col(text_col(Transactions::Reference, 128))
                    .col(time_col(Transactions::CreatedAt))
                    .check(amounts.check("amount", ">"))
                    .check(states(
                        "ck_transactions_type",
                        Transactions::Kind,
                        &["credit", "debit"],
                    ))
                    .foreign_key(&mut owned_by_user(
                        Transactions::Table,
                        Transactions::UserId,
                        "fk_transactions_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OnboardingFlows::Table)
                    .col(uuid_pk(OnboardingFlows::Id))
                    .col(uuid_col(OnboardingFlows::UserId))
                    .col(text_col(OnboardingFlows::Status, 16))
                    .col(time_col(OnboardingFlows::CreatedAt))
                    .col(time_col(OnboardingFlows::UpdatedAt))
                    .check(states(
                        "ck_onboarding_status",
                        OnboardingFlows::Status,
                        &[
                            "started",
                            "kyc_submitted",
                            "kyc_approved",
                            "kyc_rejected",
                            "completed",
                        ],
                    ))
                    .foreign_key(&mut owned_by_user(
                        OnboardingFlows::Table,
                        OnboardingFlows::UserId,
                        "fk_onboarding_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(uuid_pk(AuditLogs::Id))
                    .col(uuid_col(AuditLogs::UserId))
                    .col(text_col(AuditLogs::Action, 64))
                    .col(uuid_col(AuditLogs::SubjectId))
                    .col(ColumnDef::new(AuditLogs::Detail).text().not_null())
                    .col(time_col(AuditLogs::CreatedAt))
                    .foreign_key(&mut owned_by_user(
                        AuditLogs::Table,
                        AuditLogs::UserId,
                        "fk_audit_user",
                    ))
                    .to_owned(),
            )
            .await?;
        let uniques = [
            unique("ux_users_email", Users::Table, &[Users::Email.into_iden()]),
            unique(
                "ux_wallets_chain_address",
                Wallets::Table,
                &[Wallets::Chain.into_iden(), Wallets::Address.into_iden()],
            ),
            unique(
                "ux_deposits_chain_tx",
                Deposits::Table,
                &[Deposits::Chain.into_iden(), Deposits::TxHash.into_iden()],
            ),
            unique(
                "ux_transactions_reference",
                Transactions::Table,
                &[
                    Transactions::UserId.into_iden(),
                    Transactions::Kind.into_iden(),
                    Transactions::Reference.into_iden(),
                ],
            ),
            unique(
                "ux_onboarding_user",
                OnboardingFlows::Table,
                &[OnboardingFlows::UserId.into_iden()],
            ),
        ];
        for index in uniques {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 7] = [
            AuditLogs::Table.into_iden(),
            OnboardingFlows::Table.into_iden(),
            Transactions::Table.into_iden(),
            Balances::Table.into_iden(),
            Deposits::Table.into_iden(),
            Wallets::Table.into_iden(),
            Users::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
