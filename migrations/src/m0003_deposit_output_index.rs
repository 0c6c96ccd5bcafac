//! A deposit is identified by (chain, tx_hash, output_index): one transaction that pays two
//! of our addresses (a batch payout, a token transaction with several transfers) is two
//! deposits, where the unique key on (chain, tx_hash) recorded and credited only the first.
//! Existing deposits get output 0. `down` restores the old key and fails, changing nothing,
//! while two deposits share a (chain, tx_hash).

use sea_orm_migration::prelude::*;

use crate::schema::Deposits;

/// Adds `deposits.output_index` and moves the unique key onto it (down: the reverse).
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

const OLD_KEY: &str = "ux_deposits_chain_tx";
const NEW_KEY: &str = "ux_deposits_chain_tx_output";

fn key(name: &str, output: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(name)
        .table(Deposits::Table)
        .unique()
        .col(Deposits::Chain)
        .col(Deposits::TxHash);
    if output {
        index.col(Deposits::OutputIndex);
    }
    index.to_owned()
}

fn drop_key(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(Deposits::Table).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deposits::Table)
                    .add_column(
                        ColumnDef::new(Deposits::OutputIndex)
                            .big_integer()
                            .not_null()
                            .default(0)
                            .check(Expr::col(Deposits::OutputIndex).gte(0)),
                    )
                    .to_owned(),
            )
            .await?;
        manager.drop_index(drop_key(OLD_KEY)).await?;
        manager.create_index(key(NEW_KEY, true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(drop_key(NEW_KEY)).await?;
        manager.create_index(key(OLD_KEY, false)).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deposits::Table)
                    .drop_column(Deposits::OutputIndex)
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
