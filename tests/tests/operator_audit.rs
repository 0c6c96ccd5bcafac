//! Migration 5 (an audit log may concern no user) on SQLite, where it rebuilds the table, and
//! on PostgreSQL: the rows, the indexes and the foreign key survive; `down` refuses while an
//! operator's audit log exists and changes nothing.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed call must fail the test"
)]

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;
use stack_backends::sql::{self, SqlOptions};
use stack_core::ErrorKind;
use stack_core::page::PageRequest;
use stack_core::store::{AuditFilter, AuditStore, NewAuditLog, UserStore};
use uuid::Uuid;

/// `error` and its sources, one after the other.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

async fn audit_indexes(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'audit_logs' \
             AND indexname LIKE 'ix_%' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_logs' \
             AND name LIKE 'ix_%' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

async fn upgrade_keeps_rows_indexes_and_the_foreign_key(url: &str) {
    let store = sql::open(url, &SqlOptions::default()).await.expect("open");
    let db = store.connection().clone();
    sql::migrate_up(&db, Some(3)).await.expect("migrate to 3");
    let user = stack_tests::store_suite::user(&store).await;
    let indexes = audit_indexes(&db).await;
    assert_eq!(
        indexes,
        [
            "ix_audit_action_created",
            "ix_audit_created",
            "ix_audit_user_created"
        ]
    );

    // Up to migration 5, so that one step down is migration 5's.
    sql::migrate_up(&db, Some(2))
        .await
        .expect("migrate up to 5");
    let by_user = AuditFilter {
        user_id: Some(user.id),
        ..AuditFilter::default()
    };
    let kept = store
        .list_audit_logs(&by_user, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(kept.total_items, 1, "the user's audit log is kept");
    assert_eq!(kept.items[0].user_id, Some(user.id));
    assert_eq!(audit_indexes(&db).await, indexes, "the indexes are kept");
    let entry = |user_id| NewAuditLog {
        user_id,
        action: "job.replayed".into(),
        subject_id: Uuid::now_v7(),
        detail: json!({}),
    };
    let unknown = store.record_audit_log(entry(Some(Uuid::now_v7()))).await;
    assert_eq!(
        unknown.unwrap_err().kind(),
        ErrorKind::NotFound,
        "the foreign key holds"
    );
    store.record_audit_log(entry(None)).await.unwrap();

    let refused = sql::migrate_down(&db, Some(1)).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(
        refused.to_string().contains("DELETE FROM audit_logs"),
        "the operator is told what to do: {refused}"
    );
    assert!(
        chain(&refused).contains("audit log(s) of operator actions"),
        "{refused:?}"
    );
    let status = sql::migrate_status(&db).await.unwrap();
    assert!(
        status.iter().take(5).all(|(_, applied)| *applied),
        "{status:?}"
    );
    let all = store
        .list_audit_logs(&AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total_items, 2, "a refused down changes nothing");

    db.execute_unprepared("DELETE FROM audit_logs WHERE user_id IS NULL")
        .await
        .unwrap();
    sql::migrate_down(&db, Some(1)).await.expect("down");
    assert_eq!(audit_indexes(&db).await, indexes);
    let refused = store.record_audit_log(entry(None)).await.unwrap_err();
    assert_eq!(
        refused.kind(),
        ErrorKind::Invalid,
        "NOT NULL again: {refused}"
    );
    assert_eq!(store.user(user.id).await.unwrap(), user);
    sql::migrate_up(&db, None).await.expect("up again");
}

#[tokio::test]
async fn on_an_sqlite_file() {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-m0005"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("a.db").display());
    upgrade_keeps_rows_indexes_and_the_foreign_key(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    let url = stack_tests::services::fresh_postgres_database().await;
    upgrade_keeps_rows_indexes_and_the_foreign_key(&url).await;
}
