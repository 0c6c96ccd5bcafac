//! Balances and the ledger: every change of a balance is one ledger entry, written in the
//! same transaction, so a balance always equals the sum of its entries.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::json;
use stack_core::page::{Page, PageRequest};
use stack_core::store::{Balance, EntryFilter, EntryKind, LedgerEntry, NewDebit, exact};
use stack_core::{Error, Result};
use stack_migrations::schema::{Balances, Transactions};
use uuid::Uuid;

use super::audit::{self, Audit};
use super::error::db_error;
use super::wallets::require_user;
use super::{SqlStore, listing, rows};

/// Locks the (user, asset) balance for the rest of the transaction, creating it at zero when
/// the user holds none: on PostgreSQL the upsert locks the row, on SQLite the transaction
/// already holds the write lock. Its amount now.
async fn lock_balance(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    asset: &str,
    at: DateTime<Utc>,
) -> Result<Decimal> {
    let upsert = Query::insert()
        .into_table(Balances::Table)
        .columns([
            Balances::UserId,
            Balances::Asset,
            Balances::Available,
            Balances::UpdatedAt,
        ])
        .values_panic([
            user_id.into(),
            asset.into(),
            Decimal::ZERO.into(),
            at.into(),
        ])
        .on_conflict(
            OnConflict::columns([Balances::UserId, Balances::Asset])
                .update_column(Balances::UpdatedAt)
                .to_owned(),
        )
        .to_owned();
    db.execute(&upsert)
        .await
        .map_err(|e| db_error("lock balance", e))?;
    let select = Query::select()
        .column(Balances::Available)
        .from(Balances::Table)
        .and_where(Expr::col(Balances::UserId).eq(user_id))
        .and_where(Expr::col(Balances::Asset).eq(asset))
        .to_owned();
    let row = db
        .query_one(&select)
        .await
        .map_err(|e| db_error("read balance", e))?;
    let row = row.ok_or_else(|| Error::backend("balance vanished inside its transaction"))?;
    rows::amount(&row, "available", db.get_database_backend())
}

/// Moves the locked (user, asset) balance by `kind` and `amount` and writes the ledger entry.
/// A debit larger than the balance is `Invalid` on `amount` (the caller rolls back).
pub(super) async fn post(db: &impl ConnectionTrait, entry: &LedgerEntry) -> Result<Decimal> {
    let current = lock_balance(db, entry.user_id, &entry.asset, entry.created_at).await?;
    // Never `+`/`-`: they round a sum that needs more than 28 digits, and the ledger row
    // (exact NUMERIC) would then disagree with the balance.
    let next = match entry.kind {
        EntryKind::Credit => exact::add(current, entry.amount),
        EntryKind::Debit => exact::sub(current, entry.amount),
    }
    .map_err(|_| {
        Error::invalid(
            "amount",
            format!(
                "the {} balance {current} cannot take a {} of {} exactly (a balance holds at \
                 most 28 significant digits, 18 decimal places and 20 integer digits)",
                entry.asset,
                entry.kind.as_str(),
                entry.amount
            ),
        )
    })?;
    if next < Decimal::ZERO {
        return Err(Error::invalid(
            "amount",
            format!(
                "the {} balance is {current}; {} cannot be debited",
                entry.asset, entry.amount
            ),
        ));
    }
    let update = Query::update()
        .table(Balances::Table)
        .value(Balances::Available, next.normalize())
        .value(Balances::UpdatedAt, entry.created_at)
        .and_where(Expr::col(Balances::UserId).eq(entry.user_id))
        .and_where(Expr::col(Balances::Asset).eq(entry.asset.as_str()))
        .to_owned();
    db.execute(&update)
        .await
        .map_err(|e| db_error("update balance", e))?;
    let insert = Query::insert()
        .into_table(Transactions::Table)
        .columns([
            Transactions::Id,
            Transactions::UserId,
            Transactions::Kind,
            Transactions::Asset,
            Transactions::Amount,
            Transactions::Reference,
            Transactions::CreatedAt,
        ])
        .values_panic([
            entry.id.into(),
            entry.user_id.into(),
            entry.kind.as_str().into(),
            entry.asset.as_str().into(),
            entry.amount.into(),
            entry.reference.as_str().into(),
            entry.created_at.into(),
        ])
        .to_owned();
    db.execute(&insert)
        .await
        .map_err(|e| db_error("write ledger entry", e))?;
    Ok(next)
}

async fn entry_by_reference(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    kind: EntryKind,
    reference: &str,
) -> Result<Option<LedgerEntry>> {
    let select = listing::select_all(Transactions::Table)
        .and_where(Expr::col(Transactions::UserId).eq(user_id))
        .and_where(Expr::col(Transactions::Kind).eq(kind.as_str()))
        .and_where(Expr::col(Transactions::Reference).eq(reference))
        .to_owned();
    let row = db
        .query_one(&select)
        .await
        .map_err(|e| db_error("read ledger entry", e))?;
    row.map(|r| rows::entry(&r, db.get_database_backend()))
        .transpose()
}

impl SqlStore {
    pub(super) async fn debit_balance(&self, debit: NewDebit) -> Result<LedgerEntry> {
        let debit = debit.checked()?;
        let txn = self.write().await?;
        require_user(&txn, debit.user_id).await?;
        let at = rows::now();
        // Lock first, so a retry with the same reference waits for the first to finish.
        lock_balance(&txn, debit.user_id, &debit.asset, at).await?;
        if let Some(existing) =
            entry_by_reference(&txn, debit.user_id, EntryKind::Debit, &debit.reference).await?
        {
            // A retry is the same request; the same reference asking for something else is
            // a reused order id, never "done" with the old entry.
            if existing.asset == debit.asset && existing.amount == debit.amount {
                return Ok(existing);
            }
            return Err(Error::conflict(format!(
                "reference {} was debited {} {}; this request asks for {} {}",
                debit.reference, existing.amount, existing.asset, debit.amount, debit.asset
            )));
        }
        let entry = LedgerEntry {
            id: Uuid::now_v7(),
            user_id: debit.user_id,
            kind: EntryKind::Debit,
            asset: debit.asset.clone(),
            amount: debit.amount,
            reference: debit.reference.clone(),
            created_at: at,
        };
        let balance = post(&txn, &entry).await?;
        let detail = json!({ "asset": entry.asset, "amount": entry.amount.to_string(), "balance": balance.to_string(), "reference": entry.reference });
        audit::write(
            &txn,
            &[Audit {
                user_id: entry.user_id,
                action: "balance.debited",
                subject_id: entry.id,
                detail,
                at,
            }],
        )
        .await?;
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(entry)
    }

    pub(super) async fn user_balances(&self, user_id: Uuid) -> Result<Vec<Balance>> {
        let select = listing::select_all(Balances::Table)
            .and_where(Expr::col(Balances::UserId).eq(user_id))
            .order_by(Balances::Asset, Order::Asc)
            .to_owned();
        let found = self
            .conn()
            .await
            .exec()
            .query_all(&select)
            .await
            .map_err(|e| db_error("read balances", e))?;
        let backend: DbBackend = self.backend();
        found.iter().map(|r| rows::balance(r, backend)).collect()
    }

    pub(super) async fn entries(
        &self,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>> {
        let backend = self.backend();
        listing::page(
            &self.conn().await.exec(),
            Transactions::Table,
            listing::entries(filter),
            page,
            |r| rows::entry(r, backend),
        )
        .await
    }
}
