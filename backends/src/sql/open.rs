//! Opening a database from its URL, and running the rail's migrations on it.

use std::time::Duration;

use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use stack_core::Result;
use stack_migrations::{Migrator, MigratorTrait};

use super::SqlStore;
use super::error::db_error;

/// Pool settings (`database.*`).
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// The most connections open at once.
    pub max_open: u32,
    /// Connections kept open while idle.
    pub min_idle: u32,
    /// A connection is replaced after this long.
    pub max_lifetime: Duration,
    /// An idle connection above `min_idle` is closed after this long.
    pub idle_timeout: Duration,
    /// How long a caller waits for a connection before `Unavailable`.
    pub acquire_timeout: Duration,
    /// Prepared statements each connection keeps (0 turns the cache off).
    pub statement_cache: usize,
    /// A statement slower than this is logged as a warning.
    pub slow_query: Duration,
    /// PostgreSQL's `statement_timeout` on every connection (`None`: the server's default).
    /// SQLite has none.
    pub statement_timeout: Option<Duration>,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            max_open: 25,
            min_idle: 5,
            max_lifetime: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(300),
            acquire_timeout: Duration::from_secs(5),
            statement_cache: 100,
            slow_query: Duration::from_millis(200),
            statement_timeout: None,
        }
    }
}

/// Opens the database at `url` (`sqlite://FILE?mode=rwc`, `sqlite::memory:`,
/// `postgres://...`) with `options`. SQLite files get WAL and a 5 s busy timeout; an
/// in-memory SQLite database gets one connection that never expires (each connection would
/// otherwise be a database of its own, and it vanishes with its last connection).
///
/// # Errors
/// `Unavailable` when the database cannot be reached.
pub async fn open(url: &str, options: &SqlOptions) -> Result<SqlStore> {
    let mut connect = ConnectOptions::new(url.to_owned());
    connect
        .sqlx_logging(false)
        .acquire_timeout(options.acquire_timeout);
    let memory = is_memory_url(url);
    if memory {
        connect
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    } else {
        connect
            .max_connections(options.max_open)
            .min_connections(options.min_idle)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime);
    }
    let cache = options.statement_cache;
    if url.starts_with("sqlite:") {
        // One closure: a second `map_sqlx_sqlite_opts` would replace the first.
        connect.map_sqlx_sqlite_opts(move |o| {
            let o = o.foreign_keys(true).statement_cache_capacity(cache);
            if memory {
                o
            } else {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5))
            }
        });
    } else {
        let timeout = options.statement_timeout.map(|t| t.as_millis().to_string());
        connect.map_sqlx_postgres_opts(move |o| {
            let o = o.statement_cache_capacity(cache);
            match &timeout {
                Some(ms) => o.options([("statement_timeout", ms.as_str())]),
                None => o,
            }
        });
    }
    let mut db = Database::connect(connect)
        .await
        .map_err(|e| db_error("connect", e))?;
    let slow = super::diagnostics::instrument(
        &mut db,
        super::diagnostics::StatementLog {
            slow_threshold: options.slow_query,
        },
    );
    Ok(SqlStore::new(db).with_slow_queries(slow))
}

/// Whether `url` names an in-memory SQLite database (one that lives and dies with its pool).
pub fn is_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Applies every pending migration to the database at `url` through a pool of one
/// connection that is closed afterwards. Migrate this way before opening the pool that will
/// serve: a pooled SQLite connection that read the schema before a migration changed a table
/// can keep the old shape of that table (sqlx then fails to read the new column, or reads
/// past the end of its row). An in-memory database cannot be migrated apart from its pool:
/// call [`migrate_up`] on that pool (it has one connection).
///
/// # Errors
/// `Unavailable` when the database cannot be reached; a migration that fails (rolled back);
/// `Unsupported` for an in-memory URL.
pub async fn migrate_url(url: &str, options: &SqlOptions) -> Result<()> {
    if is_memory_url(url) {
        return Err(stack_core::Error::unsupported(
            "an in-memory database is migrated on its own pool (migrate_up)",
        ));
    }
    let once = SqlOptions {
        max_open: 1,
        min_idle: 0,
        ..options.clone()
    };
    let store = open(url, &once).await?;
    let migrated = migrate_up(store.connection(), None).await;
    store.connection().clone().close().await.ok();
    migrated
}

/// Applies every pending migration (or the next `steps`) through `db`. On an SQLite file,
/// migrate with [`migrate_url`] before opening the pool that serves instead: this pool's
/// other connections may keep the old shape of a changed table.
///
/// # Errors
/// A migration that fails (it is rolled back).
pub async fn migrate_up(db: &DatabaseConnection, steps: Option<u32>) -> Result<()> {
    Migrator::up(db, steps).await.map_err(|e| match e {
        // A migration's own refusal is for the operator to read and act on.
        sea_orm::DbErr::Migration(reason) => stack_core::Error::conflict(reason),
        e => db_error("migrate up", e),
    })
}

/// Rolls back the last `steps` migrations (all when `None`).
///
/// # Errors
/// A rollback that fails; `Conflict` with the migration's reason when it refuses (it is
/// rolled back).
pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> Result<()> {
    Migrator::down(db, steps).await.map_err(|e| match e {
        // A migration's own refusal (data the old schema cannot hold) is for the operator.
        sea_orm::DbErr::Migration(reason) => stack_core::Error::conflict(reason),
        e => db_error("migrate down", e),
    })
}

/// Drops everything and applies every migration.
///
/// # Errors
/// A step that fails.
pub async fn migrate_fresh(db: &DatabaseConnection) -> Result<()> {
    Migrator::fresh(db)
        .await
        .map_err(|e| db_error("migrate fresh", e))
}

/// Every migration with whether it is applied, in order.
///
/// # Errors
/// A database failure.
pub async fn migrate_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>> {
    let all = Migrator::get_migration_with_status(db)
        .await
        .map_err(|e| db_error("read migration status", e))?;
    Ok(all
        .iter()
        .map(|m| {
            let applied = matches!(m.status(), stack_migrations::MigrationStatus::Applied);
            (m.name().to_owned(), applied)
        })
        .collect())
}

/// The names of the migrations not yet applied.
///
/// # Errors
/// A database failure.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>> {
    Ok(migrate_status(db)
        .await?
        .into_iter()
        .filter(|(_, applied)| !applied)
        .map(|(name, _)| name)
        .collect())
}
