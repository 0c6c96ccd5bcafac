//! Wallets.

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use serde_json::json;
use stack_core::page::{Page, PageRequest};
use stack_core::store::{NewWallet, Wallet, WalletFilter, WalletStatus, WalletStore};
use stack_core::{Error, ErrorKind, Result};
use stack_migrations::schema::{Users, Wallets};
use uuid::Uuid;

use super::audit::{self, Audit};
use super::error::db_error;
use super::{SqlStore, listing, rows};

/// `NotFound` unless the user `id` exists (read on `db`, the caller's transaction).
pub(super) async fn require_user(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    let select = Query::select()
        .column(Users::Id)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id))
        .to_owned();
    match db
        .query_one(&select)
        .await
        .map_err(|e| db_error("read user", e))?
    {
        Some(_) => Ok(()),
        None => Err(Error::not_found(format!("user {id}"))),
    }
}

#[async_trait]
impl WalletStore for SqlStore {
    async fn create_wallet(&self, wallet: NewWallet) -> Result<Wallet> {
        let wallet = wallet.checked()?;
        let txn = self.write().await?;
        require_user(&txn, wallet.user_id).await?;
        let (id, at) = (Uuid::now_v7(), rows::now());
        let insert = Query::insert()
            .into_table(Wallets::Table)
            .columns([
                Wallets::Id,
                Wallets::UserId,
                Wallets::Chain,
                Wallets::Address,
                Wallets::Status,
                Wallets::CreatedAt,
            ])
            .values_panic([
                id.into(),
                wallet.user_id.into(),
                wallet.chain.clone().into(),
                wallet.address.clone().into(),
                WalletStatus::Active.as_str().into(),
                at.into(),
            ])
            .to_owned();
        txn.execute(&insert).await.map_err(|e| {
            let error = db_error("create wallet", e);
            if error.kind() == ErrorKind::Conflict {
                Error::conflict(format!(
                    "address {} on {} is taken",
                    wallet.address, wallet.chain
                ))
                .with_source(error)
            } else {
                error
            }
        })?;
        let detail = json!({ "chain": wallet.chain, "address": wallet.address });
        audit::write(
            &txn,
            &[Audit {
                user_id: wallet.user_id,
                action: "wallet.created",
                subject_id: id,
                detail,
                at,
            }],
        )
        .await?;
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        self.wallet(id).await
    }

    async fn wallet(&self, id: Uuid) -> Result<Wallet> {
        listing::by_id(
            &self.conn().await.exec(),
            Wallets::Table,
            id,
            rows::wallet,
            "wallet",
        )
        .await
    }

    async fn list_wallets(&self, filter: &WalletFilter, page: PageRequest) -> Result<Page<Wallet>> {
        listing::page(
            &self.conn().await.exec(),
            Wallets::Table,
            listing::wallets(filter),
            page,
            rows::wallet,
        )
        .await
    }
}
