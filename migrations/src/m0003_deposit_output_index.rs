//! A deposit is identified by (chain, tx_hash, output_index): one transaction that pays two
//! of our addresses (a batch payout, a token transaction with several transfers) is two
//! deposits, where the unique key on (chain, tx_hash) recorded and credited only the first.
//! Existing deposits get output 0, and their hashes on known hex chains are rewritten in the
//! one spelling the Store now stores (`0x` + lowercase on EVM chains, bare lowercase on
//! bitcoin-like chains and tron), so that a transaction reported again in another case or
//! without its prefix is recognised. If two existing deposits are one transaction in two
//! spellings (it may have been credited twice), the migration stops naming them and changes
//! nothing. `down` restores the old key and fails, changing nothing, while two deposits share
//! a (chain, tx_hash).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

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

/// The chains and the spelling their hashes take, as of this migration (frozen here: the
/// Store's lists may grow; a migration must not change).
const EVM: &str =
    "'arbitrum','avalanche','base','bsc','ethereum','ethereum-classic','optimism','polygon'";
const BARE: &str = "'bitcoin','bitcoin-cash','dogecoin','litecoin','tron'";

/// The hex digits of `tx_hash`, lowercase, without a `0x` prefix (SQL shared by both engines).
const DIGITS: &str =
    "lower(CASE WHEN lower(tx_hash) LIKE '0x%' THEN substr(tx_hash, 3) ELSE tx_hash END)";

fn spelled() -> String {
    format!(
        "CASE WHEN chain IN ({EVM}) THEN '0x' || {DIGITS} WHEN chain IN ({BARE}) THEN {DIGITS} ELSE tx_hash END"
    )
}

/// Rewrites existing hashes in their one spelling, first refusing (with the deposits named)
/// when two of them would become one.
async fn respell_hashes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let clashes = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT chain, {s} AS spelled, COUNT(*) AS n FROM deposits \
                 GROUP BY chain, {s} HAVING COUNT(*) > 1",
                s = spelled()
            ),
        ))
        .await?;
    if let Some(row) = clashes.first() {
        let chain: String = row.try_get("", "chain")?;
        let hash: String = row.try_get("", "spelled")?;
        return Err(DbErr::Migration(format!(
            "{} transaction(s) were recorded in more than one spelling, for example {hash} on \
             {chain}: one transaction may have been credited twice; resolve them (keep one \
             deposit per transaction) and migrate again",
            clashes.len()
        )));
    }
    db.execute_raw(Statement::from_string(
        backend,
        format!(
            "UPDATE deposits SET tx_hash = {} WHERE chain IN ({EVM},{BARE})",
            spelled()
        ),
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        respell_hashes(manager).await?;
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
