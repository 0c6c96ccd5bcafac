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

/// An SQLite file at migration 2 (deposits keyed by chain and hash only) holding one user
/// and a pending 1.5 USDC deposit on ethereum for each of `hashes`, closed; its URL, the user
/// and the deposits' ids.
async fn old_file(hashes: &[&str]) -> (String, uuid::Uuid, Vec<uuid::Uuid>) {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Query};

    let dir = std::env::temp_dir().join(stack_tests::unique("stack-upgrade"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("old.db").display());
    let old = sql::open(&url, &SqlOptions::default()).await.expect("open");
    sql::migrate_up(old.connection(), Some(2))
        .await
        .expect("migrate to 2");
    let user = stack_tests::store_suite::user(&old).await;
    let mut ids = Vec::new();
    for hash in hashes {
        let id = uuid::Uuid::now_v7();
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
                id.into(),
                user.id.into(),
                "ethereum".into(),
                (*hash).into(),
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
        ids.push(id);
    }
    old.connection().clone().close().await.expect("close");
    (url, user.id, ids)
}

/// An SQLite file from before migration 3 is brought up to date apart from the serving pool:
/// its deposits get output 0 and their hashes their one spelling (`0xABC` becomes `0xabc`,
/// so `abc` reported again is the same deposit), and the same transaction's output 1 is a
/// deposit of its own.
#[tokio::test]
async fn an_existing_sqlite_file_is_upgraded_to_output_indexes() {
    use stack_core::store::{MoneyStore, NewDeposit, Recorded};

    let (url, user, ids) = old_file(&["0xABC"]).await;
    let options = SqlOptions::default();
    sql::migrate_url(&url, &options).await.expect("migrate");
    let store = sql::open(&url, &options).await.expect("open");
    let deposit = |hash: &str, output_index: u32| NewDeposit {
        user_id: user,
        chain: "ethereum".into(),
        tx_hash: hash.into(),
        output_index,
        asset: "USDC".into(),
        amount: "1.5".parse().expect("amount"),
    };
    let before = store
        .record_deposit(deposit("abc", 0))
        .await
        .expect("again");
    assert!(
        matches!(&before, Recorded::Existing(d) if d.id == ids[0] && d.tx_hash == "0xabc"),
        "{before:?}"
    );
    let second = store
        .record_deposit(deposit("0xabc", 1))
        .await
        .expect("output 1");
    assert!(matches!(second, Recorded::Created(_)));
}

/// Two old deposits that are one transaction in two spellings stop the migration, which
/// names them and changes nothing.
#[tokio::test]
async fn an_old_file_with_one_transaction_in_two_spellings_is_not_migrated() {
    let (url, _, _) = old_file(&["0xABC", "0xabc"]).await;
    let options = SqlOptions::default();
    let err = sql::migrate_url(&url, &options).await.unwrap_err();
    assert!(err.to_string().contains("0xabc on ethereum"), "{err}");
    let store = sql::open(&url, &options).await.expect("open");
    let status = sql::migrate_status(store.connection())
        .await
        .expect("status");
    assert!(
        status
            .iter()
            .any(|(name, applied)| name.contains("m0003") && !applied),
        "{status:?}"
    );
}
