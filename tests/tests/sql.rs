//! The Store suite on SQLite (in memory and in a file) and on PostgreSQL, each trial with a
//! fresh, migrated database.

use std::sync::Arc;

use stack_backends::sql::{self, SqlOptions};
use stack_tests::store_suite::Subject;

async fn migrated(url: String) -> Subject {
    let options = SqlOptions::default();
    if !sql::is_memory_url(&url) {
        sql::migrate_url(&url, &options).await.expect("migrate");
    }
    let store = sql::open(&url, &options)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    if sql::is_memory_url(&url) {
        sql::migrate_up(store.connection(), None)
            .await
            .expect("migrate");
    }
    Subject {
        db: store.connection().clone(),
        store: Arc::new(store),
    }
}

stack_tests::store_conformance!(sqlite_memory, || async {
    migrated("sqlite::memory:".to_owned()).await
});

stack_tests::store_conformance!(sqlite_file, || async {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-sqlite"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    migrated(format!(
        "sqlite://{}?mode=rwc",
        dir.join("store.db").display()
    ))
    .await
});

stack_tests::store_conformance!(postgres, || async {
    migrated(stack_tests::services::fresh_postgres_database().await).await
});

/// An SQLite file from before migration 3 (deposits keyed by chain and hash only) is brought
/// up to date apart from the serving pool: its deposits get output 0 and read back, and the
/// same transaction's output 1 is a deposit of its own.
#[tokio::test]
async fn an_existing_sqlite_file_is_upgraded_to_output_indexes() {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Query};
    use stack_core::store::{NewDeposit, Recorded};

    let dir = std::env::temp_dir().join(stack_tests::unique("stack-upgrade"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("old.db").display());
    let options = SqlOptions::default();
    let old = sql::open(&url, &options).await.expect("open");
    sql::migrate_up(old.connection(), Some(2))
        .await
        .expect("migrate to 2");
    let user = stack_core::store::UserStore::create_user(
        &old,
        stack_core::store::NewUser {
            email: "old@example.com".into(),
            phone: None,
            full_name: "Old".into(),
        },
    )
    .await
    .expect("user");
    let deposit = uuid::Uuid::now_v7();
    let columns = [
        "id",
        "user_id",
        "chain",
        "tx_hash",
        "asset",
        "amount",
        "status",
        "created_at",
    ];
    let insert = Query::insert()
        .into_table(Alias::new("deposits"))
        .columns(columns.map(Alias::new))
        .values_panic([
            deposit.into(),
            user.id.into(),
            "ethereum".into(),
            "0xabc".into(),
            "USDC".into(),
            "1.5".into(),
            "pending".into(),
            chrono::Utc::now().into(),
        ])
        .to_owned();
    old.connection()
        .execute(&insert)
        .await
        .expect("old deposit");
    old.connection().clone().close().await.expect("close");

    sql::migrate_url(&url, &options).await.expect("migrate");
    let store = sql::open(&url, &options).await.expect("open");
    let before = stack_core::store::MoneyStore::record_deposit(
        &store,
        NewDeposit {
            user_id: user.id,
            chain: "ethereum".into(),
            tx_hash: "0xABC".into(),
            output_index: 0,
            asset: "USDC".into(),
            amount: "1.5".parse().expect("amount"),
        },
    )
    .await
    .expect("record again");
    assert!(matches!(&before, Recorded::Existing(d) if d.id == deposit && d.output_index == 0));
    let second = stack_core::store::MoneyStore::record_deposit(
        &store,
        NewDeposit {
            user_id: user.id,
            chain: "ethereum".into(),
            tx_hash: "0xabc".into(),
            output_index: 1,
            asset: "USDC".into(),
            amount: "2".parse().expect("amount"),
        },
    )
    .await
    .expect("second output");
    assert!(matches!(second, Recorded::Created(_)));
}
