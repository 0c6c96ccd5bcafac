//! Deposits: recorded idempotently on (chain, tx_hash, output_index), confirmed (credited)
//! exactly once.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::json;
use stack_core::bulk::{BulkItem, BulkOutcome};
use stack_core::page::{Page, PageRequest};
use stack_core::store::{
    Balance, Cursor, CursorPage, CursorRequest, Deposit, DepositFilter, DepositStatus, EntryFilter,
    EntryKind, LedgerEntry, MoneyStore, NewDebit, NewDeposit, Recorded,
};
use stack_core::{Error, Result};
use stack_migrations::schema::{Deposits, Transactions, Users};
use uuid::Uuid;

use super::audit::{self, Audit};
use super::deposit_insert::insert_statement;
use super::error::db_error;
use super::ledger::post;
use super::unnest::{self, Column};
use super::{SqlStore, listing, rows};

/// Rows per multi-row statement: 3,500 rows of 9 columns stay under SQLite's 32,766
/// bound parameters; fewer, larger statements are what makes bulk inserts fast.
const CHUNK: usize = 3_500;

async fn deposit_where(db: &impl ConnectionTrait, cond: Condition) -> Result<Vec<Deposit>> {
    let select = listing::select_all(Deposits::Table)
        .cond_where(cond)
        .to_owned();
    let found = db
        .query_all(&select)
        .await
        .map_err(|e| db_error("read deposits", e))?;
    let backend = db.get_database_backend();
    found.iter().map(|r| rows::deposit(r, backend)).collect()
}

/// What identifies a deposit: (chain, tx_hash, output_index).
type DepositKey = (String, String, u32);

fn key_of(chain: &str, tx_hash: &str, output_index: u32) -> DepositKey {
    (chain.to_owned(), tx_hash.to_owned(), output_index)
}

fn by_key(keys: &[&DepositKey]) -> Condition {
    keys.iter()
        .fold(Condition::any(), |cond, (chain, tx, output)| {
            cond.add(
                Condition::all()
                    .add(Expr::col(Deposits::Chain).eq(chain.as_str()))
                    .add(Expr::col(Deposits::TxHash).eq(tx.as_str()))
                    .add(Expr::col(Deposits::OutputIndex).eq(i64::from(*output))),
            )
        })
}

impl SqlStore {
    /// Inserts `batch` (skipping keys already recorded) with an audit log per new deposit;
    /// every deposit of the batch, new or existing, by its key.
    /// New rows are known from the input and `RETURNING`; only pairs that were already
    /// recorded are read back.
    async fn insert_deposits(
        &self,
        db: &impl ConnectionTrait,
        batch: &[NewDeposit],
    ) -> Result<(HashSet<Uuid>, HashMap<DepositKey, Deposit>)> {
        let at = rows::now();
        let rows: Vec<Deposit> = batch
            .iter()
            .map(|d| Deposit {
                id: Uuid::now_v7(),
                user_id: d.user_id,
                chain: d.chain.clone(),
                tx_hash: d.tx_hash.clone(),
                output_index: d.output_index,
                asset: d.asset.clone(),
                amount: d.amount,
                status: DepositStatus::Pending,
                created_at: at,
                confirmed_at: None,
            })
            .collect();
        let insert = insert_statement(db.get_database_backend(), &rows);
        let created: HashSet<Uuid> = db
            .query_all_raw(insert)
            .await
            .map_err(|e| db_error("record deposits", e))?
            .iter()
            .filter_map(|row| row.try_get::<Uuid>("", "id").ok())
            .collect();
        let mut found: HashMap<DepositKey, Deposit> = rows
            .into_iter()
            .filter(|d| created.contains(&d.id))
            .map(|d| (key_of(&d.chain, &d.tx_hash, d.output_index), d))
            .collect();
        let audits: Vec<Audit<'_>> = found
            .values()
            .map(|d| Audit {
                user_id: d.user_id,
                action: "deposit.recorded",
                subject_id: d.id,
                detail: json!({ "chain": d.chain, "tx_hash": d.tx_hash, "output_index": d.output_index, "asset": d.asset, "amount": d.amount.to_string() }),
                at,
            })
            .collect();
        audit::write(db, &audits).await?;
        let keys: Vec<DepositKey> = batch
            .iter()
            .map(|d| key_of(&d.chain, &d.tx_hash, d.output_index))
            .filter(|key| !found.contains_key(key))
            .collect();
        if !keys.is_empty() {
            let keys: Vec<&DepositKey> = keys.iter().collect();
            for before in deposit_where(db, by_key(&keys)).await? {
                found.insert(
                    key_of(&before.chain, &before.tx_hash, before.output_index),
                    before,
                );
            }
        }
        Ok((created, found))
    }

    async fn existing_users(
        &self,
        db: &impl ConnectionTrait,
        ids: &[Uuid],
    ) -> Result<HashSet<Uuid>> {
        let statement = if db.get_database_backend() == DbBackend::Postgres {
            // One array parameter: an `IN` list of thousands is slow to parse and plan.
            let mut column = Column::new("id", "uuid", ids.len());
            ids.iter().for_each(|id| column.push(id));
            unnest::select_in("users", &column)
        } else {
            let select = Query::select()
                .column(Users::Id)
                .from(Users::Table)
                .and_where(Expr::col(Users::Id).is_in(ids.iter().copied()))
                .to_owned();
            db.get_database_backend().build(&select)
        };
        let found = db
            .query_all_raw(statement)
            .await
            .map_err(|e| db_error("read users", e))?;
        Ok(found
            .iter()
            .filter_map(|r| r.try_get::<Uuid>("", "id").ok())
            .collect())
    }
}

/// The same deposit recorded again must carry the same details.
fn same(existing: &Deposit, new: &NewDeposit) -> Result<()> {
    if existing.user_id == new.user_id
        && existing.asset == new.asset
        && existing.amount == new.amount
    {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "output {} of {} on {} was recorded with other details (user, asset or amount)",
            new.output_index, new.tx_hash, new.chain
        )))
    }
}

#[async_trait]
impl MoneyStore for SqlStore {
    async fn record_deposit(&self, deposit: NewDeposit) -> Result<Recorded> {
        let deposit = deposit.checked()?;
        let txn = self.write().await?;
        super::wallets::require_user(&txn, deposit.user_id).await?;
        let (created, by_key) = self
            .insert_deposits(&txn, std::slice::from_ref(&deposit))
            .await?;
        let found = by_key
            .get(&key_of(
                &deposit.chain,
                &deposit.tx_hash,
                deposit.output_index,
            ))
            .cloned()
            .ok_or_else(|| Error::backend("recorded deposit not found"))?;
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        if created.contains(&found.id) {
            Ok(Recorded::Created(found))
        } else {
            same(&found, &deposit)?;
            Ok(Recorded::Existing(found))
        }
    }

    async fn record_deposits(&self, deposits: Vec<NewDeposit>) -> Result<Vec<BulkItem<Uuid>>> {
        let checked: Vec<Result<NewDeposit>> = deposits.iter().map(NewDeposit::checked).collect();
        let user_ids: Vec<Uuid> = checked
            .iter()
            .flatten()
            .map(|d| d.user_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let txn = self.write().await?;
        let mut known = HashSet::new();
        for ids in user_ids.chunks(CHUNK) {
            known.extend(self.existing_users(&txn, ids).await?);
        }
        let valid: Vec<NewDeposit> = checked
            .iter()
            .flatten()
            .filter(|d| known.contains(&d.user_id))
            .cloned()
            .collect();
        let mut recorded = HashMap::new();
        for chunk in valid.chunks(CHUNK) {
            recorded.extend(self.insert_deposits(&txn, chunk).await?.1);
        }
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(checked
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let outcome = match item {
                    Err(error) => BulkOutcome::Failed(error),
                    Ok(d) if !known.contains(&d.user_id) => {
                        BulkOutcome::Failed(Error::not_found(format!("user {}", d.user_id)))
                    }
                    Ok(d) => match recorded.get(&key_of(&d.chain, &d.tx_hash, d.output_index)) {
                        Some(found) => match same(found, &d) {
                            Ok(()) => BulkOutcome::Ok(found.id),
                            Err(error) => BulkOutcome::Failed(error),
                        },
                        None => BulkOutcome::Failed(Error::backend("recorded deposit not found")),
                    },
                };
                BulkItem { index, outcome }
            })
            .collect())
    }

    async fn confirm_deposit(&self, id: Uuid) -> Result<Deposit> {
        let txn = self.write().await?;
        let at = rows::now();
        // The guarded update is the first statement: it takes the row (or database) lock, so
        // of racing confirms exactly one sees the deposit pending.
        let update = Query::update()
            .table(Deposits::Table)
            .value(Deposits::Status, DepositStatus::Confirmed.as_str())
            .value(Deposits::ConfirmedAt, at)
            .and_where(Expr::col(Deposits::Id).eq(id))
            .and_where(Expr::col(Deposits::Status).eq(DepositStatus::Pending.as_str()))
            .to_owned();
        let won = txn
            .execute(&update)
            .await
            .map_err(|e| db_error("confirm deposit", e))?
            .rows_affected()
            == 1;
        let deposit = deposit_where(&txn, Condition::all().add(Expr::col(Deposits::Id).eq(id)))
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(format!("deposit {id}")))?;
        if !won {
            return match deposit.status {
                DepositStatus::Confirmed => Ok(deposit),
                _ => Err(Error::conflict(format!(
                    "deposit {id} is {} and cannot be confirmed",
                    deposit.status
                ))),
            };
        }
        let entry = LedgerEntry {
            id: Uuid::now_v7(),
            user_id: deposit.user_id,
            kind: EntryKind::Credit,
            asset: deposit.asset.clone(),
            amount: deposit.amount,
            reference: deposit.id.to_string(),
            created_at: at,
        };
        let balance = post(&txn, &entry).await?;
        let detail = json!({ "asset": entry.asset, "amount": entry.amount.to_string(), "balance": balance.to_string(), "entry": entry.id });
        audit::write(
            &txn,
            &[Audit {
                user_id: deposit.user_id,
                action: "deposit.confirmed",
                subject_id: deposit.id,
                detail,
                at,
            }],
        )
        .await?;
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(deposit)
    }

    async fn deposit(&self, id: Uuid) -> Result<Deposit> {
        deposit_where(
            &self.conn().await.exec(),
            Condition::all().add(Expr::col(Deposits::Id).eq(id)),
        )
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(format!("deposit {id}")))
    }

    async fn list_deposits(
        &self,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> Result<Page<Deposit>> {
        let backend = self.backend();
        listing::page(
            &self.conn().await.exec(),
            Deposits::Table,
            listing::deposits(filter),
            page,
            |r| rows::deposit(r, backend),
        )
        .await
    }

    async fn scan_deposits(
        &self,
        filter: &DepositFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<Deposit>> {
        let backend = self.backend();
        let map = |r: &sea_orm::QueryResult| rows::deposit(r, backend);
        listing::slice(
            &self.conn().await.exec(),
            Deposits::Table,
            listing::deposits(filter),
            request,
            map,
            |d: &Deposit| Cursor::new(d.created_at, d.id),
        )
        .await
    }

    async fn debit(&self, debit: NewDebit) -> Result<LedgerEntry> {
        self.debit_balance(debit).await
    }

    async fn balances(&self, user_id: Uuid) -> Result<Vec<Balance>> {
        self.user_balances(user_id).await
    }

    async fn list_entries(
        &self,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>> {
        self.entries(filter, page).await
    }

    async fn scan_entries(
        &self,
        filter: &EntryFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<LedgerEntry>> {
        let backend = self.backend();
        listing::slice(
            &self.conn().await.exec(),
            Transactions::Table,
            listing::entries(filter),
            request,
            |r| rows::entry(r, backend),
            |e: &LedgerEntry| Cursor::new(e.created_at, e.id),
        )
        .await
    }
}
