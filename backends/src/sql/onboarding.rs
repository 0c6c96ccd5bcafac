//! Onboarding flows: one per user, moved only through the transitions core allows.

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use serde_json::json;
use stack_core::store::{OnboardingFlow, OnboardingStatus, OnboardingStore};
use stack_core::{Error, ErrorKind, Result};
use stack_migrations::schema::OnboardingFlows;
use uuid::Uuid;

use super::audit::{self, Audit};
use super::error::db_error;
use super::wallets::require_user;
use super::{SqlStore, listing, rows};

async fn flow_of(db: &impl ConnectionTrait, user_id: Uuid) -> Result<OnboardingFlow> {
    let select = listing::select_all(OnboardingFlows::Table)
        .and_where(Expr::col(OnboardingFlows::UserId).eq(user_id))
        .to_owned();
    let row = db
        .query_one(&select)
        .await
        .map_err(|e| db_error("read onboarding", e))?;
    row.as_ref()
        .map(rows::onboarding)
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("onboarding of user {user_id}")))
}

#[async_trait]
impl OnboardingStore for SqlStore {
    async fn start_onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        let txn = self.write().await?;
        require_user(&txn, user_id).await?;
        let (id, at) = (Uuid::now_v7(), rows::now());
        let insert = Query::insert()
            .into_table(OnboardingFlows::Table)
            .columns([
                OnboardingFlows::Id,
                OnboardingFlows::UserId,
                OnboardingFlows::Status,
                OnboardingFlows::CreatedAt,
                OnboardingFlows::UpdatedAt,
            ])
            .values_panic([
                id.into(),
                user_id.into(),
                OnboardingStatus::Started.as_str().into(),
                at.into(),
                at.into(),
            ])
            .to_owned();
        txn.execute(&insert).await.map_err(|e| {
            let error = db_error("start onboarding", e);
            if error.kind() == ErrorKind::Conflict {
                Error::conflict(format!("user {user_id} has an onboarding flow")).with_source(error)
            } else {
                error
            }
        })?;
        audit::write(
            &txn,
            &[Audit {
                user_id,
                action: "onboarding.started",
                subject_id: id,
                detail: json!({}),
                at,
            }],
        )
        .await?;
        let flow = flow_of(&txn, user_id).await?;
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(flow)
    }

    async fn advance_onboarding(
        &self,
        user_id: Uuid,
        to: OnboardingStatus,
    ) -> Result<OnboardingFlow> {
        let txn = self.write().await?;
        let flow = flow_of(&txn, user_id).await?;
        flow.status.check_move(to)?;
        let at = rows::now();
        // Guarded by the state read, so a concurrent move of the same flow cannot be lost.
        let update = Query::update()
            .table(OnboardingFlows::Table)
            .value(OnboardingFlows::Status, to.as_str())
            .value(OnboardingFlows::UpdatedAt, at)
            .and_where(Expr::col(OnboardingFlows::Id).eq(flow.id))
            .and_where(Expr::col(OnboardingFlows::Status).eq(flow.status.as_str()))
            .to_owned();
        let moved = txn
            .execute(&update)
            .await
            .map_err(|e| db_error("advance onboarding", e))?
            .rows_affected();
        if moved != 1 {
            return Err(Error::conflict(format!(
                "onboarding of user {user_id} moved meanwhile; read it again"
            )));
        }
        let detail = json!({ "from": flow.status.as_str(), "to": to.as_str() });
        audit::write(
            &txn,
            &[Audit {
                user_id,
                action: "onboarding.moved",
                subject_id: flow.id,
                detail,
                at,
            }],
        )
        .await?;
        let flow = flow_of(&txn, user_id).await?;
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(flow)
    }

    async fn onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        flow_of(&self.conn().await.exec(), user_id).await
    }

    async fn onboarding_flow(&self, id: Uuid) -> Result<OnboardingFlow> {
        listing::by_id(
            &self.conn().await.exec(),
            OnboardingFlows::Table,
            id,
            rows::onboarding,
            "onboarding flow",
        )
        .await
    }
}
