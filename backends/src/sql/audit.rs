//! Audit logs: written by every state-changing write in its own transaction, and on their
//! own for an operator's action; listed here.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, DbBackend};
use stack_core::Result;
use stack_core::page::{Page, PageRequest};
use stack_core::store::{
    AuditFilter, AuditLog, AuditStore, Cursor, CursorPage, CursorRequest, NewAuditLog,
};
use stack_migrations::schema::AuditLogs;
use uuid::Uuid;

use super::error::db_error;
use super::unnest::{self, Column};
use super::{SqlStore, listing, rows};

/// One audit entry to write.
pub(super) struct Audit<'a> {
    pub(super) user_id: Uuid,
    pub(super) action: &'a str,
    pub(super) subject_id: Uuid,
    pub(super) detail: serde_json::Value,
    pub(super) at: DateTime<Utc>,
}

/// Writes `entries` on `db` (the caller's transaction).
pub(super) async fn write(db: &impl ConnectionTrait, entries: &[Audit<'_>]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let statement = if db.get_database_backend() == DbBackend::Postgres {
        let mut columns = [
            Column::new("id", "uuid", entries.len()),
            Column::new("user_id", "uuid", entries.len()),
            Column::new("action", "text", entries.len()),
            Column::new("subject_id", "uuid", entries.len()),
            Column::new("detail", "text", entries.len()),
            Column::new("created_at", "timestamptz", entries.len()),
        ];
        for entry in entries {
            columns[0].push(Uuid::now_v7());
            columns[1].push(entry.user_id);
            columns[2].push(entry.action);
            columns[3].push(entry.subject_id);
            columns[4].push(&entry.detail);
            columns[5].push(entry.at.to_rfc3339());
        }
        unnest::insert("audit_logs", &columns, "")
    } else {
        let mut insert = Query::insert();
        insert.into_table(AuditLogs::Table).columns([
            AuditLogs::Id,
            AuditLogs::UserId,
            AuditLogs::Action,
            AuditLogs::SubjectId,
            AuditLogs::Detail,
            AuditLogs::CreatedAt,
        ]);
        for entry in entries {
            insert.values_panic([
                Uuid::now_v7().into(),
                entry.user_id.into(),
                entry.action.into(),
                entry.subject_id.into(),
                entry.detail.to_string().into(),
                entry.at.into(),
            ]);
        }
        db.get_database_backend().build(&insert)
    };
    db.execute_raw(statement)
        .await
        .map_err(|e| db_error("write audit log", e))?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit_log(&self, entry: NewAuditLog) -> Result<AuditLog> {
        let entry = entry.checked()?;
        let stored = AuditLog {
            id: Uuid::now_v7(),
            user_id: entry.user_id,
            action: entry.action,
            subject_id: entry.subject_id,
            detail: entry.detail.to_string(),
            created_at: rows::now(),
        };
        let mut insert = Query::insert();
        insert
            .into_table(AuditLogs::Table)
            .columns([
                AuditLogs::Id,
                AuditLogs::UserId,
                AuditLogs::Action,
                AuditLogs::SubjectId,
                AuditLogs::Detail,
                AuditLogs::CreatedAt,
            ])
            .values_panic([
                stored.id.into(),
                stored.user_id.into(),
                stored.action.clone().into(),
                stored.subject_id.into(),
                stored.detail.clone().into(),
                stored.created_at.into(),
            ]);
        self.conn()
            .await
            .exec()
            .execute_raw(self.backend().build(&insert))
            .await
            .map_err(|e| db_error("record audit log", e))?;
        Ok(stored)
    }

    async fn list_audit_logs(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>> {
        listing::page(
            &self.conn().await.exec(),
            AuditLogs::Table,
            listing::audit_logs(filter),
            page,
            rows::audit,
        )
        .await
    }

    async fn scan_audit_logs(
        &self,
        filter: &AuditFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<AuditLog>> {
        listing::slice(
            &self.conn().await.exec(),
            AuditLogs::Table,
            listing::audit_logs(filter),
            request,
            rows::audit,
            |a: &AuditLog| Cursor::new(a.created_at, a.id),
        )
        .await
    }
}
