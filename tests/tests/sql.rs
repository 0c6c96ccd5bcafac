//! The Store suite on SQLite (in memory and in a file) and on PostgreSQL, each trial with a
//! fresh, migrated database.

use std::sync::Arc;

use stack_backends::sql::{self, SqlOptions};
use stack_core::store::Store;

async fn migrated(url: String) -> Arc<dyn Store> {
    let store = sql::open(&url, &SqlOptions::default())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    sql::migrate_up(store.connection(), None)
        .await
        .expect("migrate");
    Arc::new(store)
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
