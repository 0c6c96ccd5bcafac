//! An audit log may concern no user: an operator's action through the admin API (a dead
//! letter replayed, the dead-letter queue purged) is audited with `user_id` NULL. The foreign
//! key to `users` stays: a user id, when given, must name a user.
//!
//! PostgreSQL drops the NOT NULL in place. SQLite cannot change a column, so the table is
//! rebuilt (SQLite's documented way: create the new table, copy the rows, drop the old one,
//! rename the new one) and its indexes are created again as they were. `down` restores the
//! NOT NULL and fails, changing nothing, while an operator's audit log exists.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::schema::{AuditLogs, Users};

/// Makes `audit_logs.user_id` nullable (down: NOT NULL again).
#[derive(DeriveMigrationName, Debug)]
pub struct Migration;

/// The table SQLite's rebuild fills before it takes the old one's name.
const REBUILT: &str = "audit_logs_m0005";

/// `audit_logs` as m0001 created it, under `name`, with `user_id` nullable or not.
fn audit_table(name: &str, user_nullable: bool) -> TableCreateStatement {
    let mut user = ColumnDef::new(AuditLogs::UserId);
    user.uuid();
    if !user_nullable {
        user.not_null();
    }
    Table::create()
        .table(Alias::new(name))
        .col(
            ColumnDef::new(AuditLogs::Id)
                .uuid()
                .not_null()
                .primary_key(),
        )
        .col(user)
        .col(ColumnDef::new(AuditLogs::Action).string_len(64).not_null())
        .col(ColumnDef::new(AuditLogs::SubjectId).uuid().not_null())
        .col(ColumnDef::new(AuditLogs::Detail).text().not_null())
        .col(
            ColumnDef::new(AuditLogs::CreatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_audit_user")
                .from(Alias::new(name), AuditLogs::UserId)
                .to(Users::Table, Users::Id),
        )
        .to_owned()
}

/// Rebuilds SQLite's `audit_logs` with `user_id` nullable or not, keeping its rows and its
/// indexes (whichever exist now: the list indexes may have been dropped for a comparison).
async fn rebuild_sqlite(manager: &SchemaManager<'_>, user_nullable: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let indexes = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_logs' \
             AND sql IS NOT NULL",
        ))
        .await?;
    let mut index_sql = Vec::with_capacity(indexes.len());
    for row in &indexes {
        index_sql.push(row.try_get::<String>("", "sql")?);
    }
    manager
        .create_table(audit_table(REBUILT, user_nullable))
        .await?;
    let columns = "id, user_id, action, subject_id, detail, created_at";
    for sql in [
        format!("INSERT INTO {REBUILT} ({columns}) SELECT {columns} FROM audit_logs"),
        "DROP TABLE audit_logs".to_owned(),
        format!("ALTER TABLE {REBUILT} RENAME TO audit_logs"),
    ]
    .into_iter()
    .chain(index_sql)
    {
        db.execute_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_sqlite(manager, true).await,
            _ => {
                manager
                    .get_connection()
                    .execute_unprepared("ALTER TABLE audit_logs ALTER COLUMN user_id DROP NOT NULL")
                    .await?;
                Ok(())
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let operator = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM audit_logs WHERE user_id IS NULL",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if operator > 0 {
            return Err(DbErr::Migration(format!(
                "{operator} audit log(s) of operator actions have no user; the old schema \
                 cannot hold them: keep this migration, or delete them \
                 (DELETE FROM audit_logs WHERE user_id IS NULL) and migrate down again"
            )));
        }
        match backend {
            DbBackend::Sqlite => rebuild_sqlite(manager, false).await,
            _ => {
                db.execute_unprepared("ALTER TABLE audit_logs ALTER COLUMN user_id SET NOT NULL")
                    .await?;
                Ok(())
            }
        }
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
