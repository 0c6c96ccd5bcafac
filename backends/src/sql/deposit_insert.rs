//! The multi-row insert of new deposits, per engine.

use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{DbBackend, Statement};
use stack_core::store::Deposit;
use stack_migrations::schema::Deposits;

use super::unnest::{self, Column};

/// The insert of new deposits, skipping (chain, tx_hash, output_index) keys already recorded and
/// returning the ids it inserted: `UNNEST` arrays on PostgreSQL, a `VALUES` list elsewhere.
pub(super) fn insert_statement(backend: DbBackend, rows: &[Deposit]) -> Statement {
    if backend == DbBackend::Postgres {
        let mut columns = [
            Column::new("id", "uuid", rows.len()),
            Column::new("user_id", "uuid", rows.len()),
            Column::new("chain", "text", rows.len()),
            Column::new("tx_hash", "text", rows.len()),
            Column::new("output_index", "bigint", rows.len()),
            Column::new("asset", "text", rows.len()),
            Column::new("amount", "numeric", rows.len()),
            Column::new("status", "text", rows.len()),
            Column::new("created_at", "timestamptz", rows.len()),
        ];
        for d in rows {
            columns[0].push(d.id);
            columns[1].push(d.user_id);
            columns[2].push(&d.chain);
            columns[3].push(&d.tx_hash);
            columns[4].push(d.output_index);
            columns[5].push(&d.asset);
            columns[6].push(d.amount);
            columns[7].push(d.status);
            columns[8].push(d.created_at.to_rfc3339());
        }
        let tail =
            "ON CONFLICT (\"chain\", \"tx_hash\", \"output_index\") DO NOTHING RETURNING \"id\"";
        return unnest::insert("deposits", &columns, tail);
    }
    let mut insert = Query::insert();
    insert.into_table(Deposits::Table).columns([
        Deposits::Id,
        Deposits::UserId,
        Deposits::Chain,
        Deposits::TxHash,
        Deposits::OutputIndex,
        Deposits::Asset,
        Deposits::Amount,
        Deposits::Status,
        Deposits::CreatedAt,
    ]);
    for deposit in rows {
        insert.values_panic([
            deposit.id.into(),
            deposit.user_id.into(),
            deposit.chain.as_str().into(),
            deposit.tx_hash.as_str().into(),
            i64::from(deposit.output_index).into(),
            deposit.asset.as_str().into(),
            deposit.amount.into(),
            deposit.status.as_str().into(),
            deposit.created_at.into(),
        ]);
    }
    insert
        .on_conflict(
            OnConflict::columns([Deposits::Chain, Deposits::TxHash, Deposits::OutputIndex])
                .do_nothing()
                .to_owned(),
        )
        .returning_col(Deposits::Id);
    backend.build(&insert)
}
