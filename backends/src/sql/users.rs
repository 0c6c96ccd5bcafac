//! Users: created one by one or in bulk, each with its audit log.

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{OnConflict, Query};
use serde_json::json;
use stack_core::bulk::{BulkItem, BulkOutcome};
use stack_core::page::{Page, PageRequest};
use stack_core::store::{
    Cursor, CursorPage, CursorRequest, NewUser, User, UserFilter, UserStatus, UserStore,
};
use stack_core::{Error, Result};
use stack_migrations::schema::Users;
use uuid::Uuid;

use super::audit::{self, Audit};
use super::error::db_error;
use super::{SqlStore, listing, rows};

/// Rows per multi-row statement (7 columns: under SQLite's 32,766 bound parameters).
const CHUNK: usize = 4_000;

fn insert(
    users: &[(Uuid, NewUser)],
    at: chrono::DateTime<chrono::Utc>,
) -> sea_orm::sea_query::InsertStatement {
    let mut insert = Query::insert();
    insert.into_table(Users::Table).columns([
        Users::Id,
        Users::Email,
        Users::Phone,
        Users::FullName,
        Users::Status,
        Users::CreatedAt,
        Users::UpdatedAt,
    ]);
    for (id, user) in users {
        insert.values_panic([
            (*id).into(),
            user.email.clone().into(),
            user.phone.clone().into(),
            user.full_name.clone().into(),
            UserStatus::Active.as_str().into(),
            at.into(),
            at.into(),
        ]);
    }
    insert
        .on_conflict(OnConflict::column(Users::Email).do_nothing().to_owned())
        .returning_col(Users::Id)
        .to_owned()
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        let user = user.checked()?;
        let results = self.create_users(vec![user.clone()]).await?;
        match results.into_iter().next().map(|r| r.outcome) {
            Some(BulkOutcome::Ok(id)) => self.user(id).await,
            Some(BulkOutcome::Failed(error)) => Err(error),
            _ => Err(Error::backend("user not created")),
        }
    }

    async fn create_users(&self, users: Vec<NewUser>) -> Result<Vec<BulkItem<Uuid>>> {
        let mut outcomes: Vec<Option<BulkOutcome<Uuid>>> = (0..users.len()).map(|_| None).collect();
        let mut valid = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (index, user) in users.iter().enumerate() {
            match user.checked() {
                Ok(user) if !seen.insert(user.email.clone()) => {
                    outcomes[index] = Some(BulkOutcome::Failed(Error::conflict(format!(
                        "email {} appears twice in the batch",
                        user.email
                    ))));
                }
                Ok(user) => valid.push((index, Uuid::now_v7(), user)),
                Err(error) => outcomes[index] = Some(BulkOutcome::Failed(error)),
            }
        }
        let txn = self.write().await?;
        let at = rows::now();
        for chunk in valid.chunks(CHUNK) {
            let batch: Vec<(Uuid, NewUser)> =
                chunk.iter().map(|(_, id, u)| (*id, u.clone())).collect();
            let inserted = txn
                .query_all(&insert(&batch, at))
                .await
                .map_err(|e| db_error("create users", e))?;
            let inserted: std::collections::HashSet<Uuid> = inserted
                .iter()
                .filter_map(|row| row.try_get::<Uuid>("", "id").ok())
                .collect();
            let mut audits = Vec::new();
            for (index, id, user) in chunk {
                if inserted.contains(id) {
                    outcomes[*index] = Some(BulkOutcome::Ok(*id));
                    audits.push(Audit {
                        user_id: *id,
                        action: "user.created",
                        subject_id: *id,
                        detail: json!({ "email": user.email }),
                        at,
                    });
                } else {
                    outcomes[*index] = Some(BulkOutcome::Failed(Error::conflict(format!(
                        "email {} is taken",
                        user.email
                    ))));
                }
            }
            audit::write(&txn, &audits).await?;
        }
        txn.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| BulkItem {
                index,
                outcome: outcome.unwrap_or(BulkOutcome::Cancelled),
            })
            .collect())
    }

    async fn user(&self, id: Uuid) -> Result<User> {
        listing::by_id(
            &self.conn().await.exec(),
            Users::Table,
            id,
            rows::user,
            "user",
        )
        .await
    }

    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>> {
        listing::page(
            &self.conn().await.exec(),
            Users::Table,
            listing::users(filter),
            page,
            rows::user,
        )
        .await
    }

    async fn scan_users(
        &self,
        filter: &UserFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<User>> {
        listing::slice(
            &self.conn().await.exec(),
            Users::Table,
            listing::users(filter),
            request,
            rows::user,
            |u: &User| Cursor::new(u.created_at, u.id),
        )
        .await
    }
}
