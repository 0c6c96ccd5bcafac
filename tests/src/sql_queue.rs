//! Opening the SQL queue on a migrated database of its own: one fresh PostgreSQL database,
//! or one SQLite file, per test process (nextest runs each trial in a process of its own),
//! which every handle a trial opens shares.

use std::sync::Arc;

use stack_backends::sql::{self, SqlOptions, SqlQueue, SqlQueueOptions};
use stack_core::queue::{Queue, QueueOptions};
use tokio::sync::OnceCell;

/// A small pool: the trials of a process share one database.
fn pool() -> SqlOptions {
    SqlOptions {
        max_open: 10,
        min_idle: 0,
        ..SqlOptions::default()
    }
}

/// The URL of this process's fresh, migrated PostgreSQL database.
///
/// # Panics
/// When PostgreSQL cannot be reached or migrated.
pub async fn postgres_url() -> String {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        let url = crate::services::fresh_postgres_database().await;
        sql::migrate_url(&url, &pool()).await.expect("migrate");
        url
    })
    .await
    .clone()
}

/// The URL of this process's migrated SQLite file.
///
/// # Panics
/// When the file cannot be made or migrated.
pub async fn sqlite_url() -> String {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        let dir = std::env::temp_dir().join(crate::unique("stack-sqlq"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display());
        sql::migrate_url(&url, &pool()).await.expect("migrate");
        url
    })
    .await
    .clone()
}

/// A queue handle with `options` over a pool of its own on `url`.
///
/// # Panics
/// When the database cannot be opened.
pub async fn open(url: &str, options: QueueOptions) -> Arc<SqlQueue> {
    let store = sql::open(url, &pool())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    SqlQueue::open(
        store.connection().clone(),
        options,
        SqlQueueOptions::default(),
    )
    .expect("open the SQL queue")
}

/// A handle on this process's PostgreSQL database.
pub async fn postgres(options: QueueOptions) -> Arc<dyn Queue> {
    open(&postgres_url().await, options).await
}

/// A handle on this process's SQLite file.
pub async fn sqlite(options: QueueOptions) -> Arc<dyn Queue> {
    open(&sqlite_url().await, options).await
}
