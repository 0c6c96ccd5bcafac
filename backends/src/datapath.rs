//! The layered data path from configuration, for the server and for a host alike:
//! [`open_layered`] opens the primary (an SQLite database is created and migrated; a
//! PostgreSQL schema that is behind is refused), and composes on top of it the circuit
//! breaker, the replica router (when `database.read_replicas` names any), the instrumentation
//! and, when `cache.store_ttl` is set, the caching Store.
//!
//! ```no_run
//! # async fn run(config: stack_core::config::Config) -> stack_core::Result<()> {
//! use stack_backends::context::BackendContext;
//!
//! let context = BackendContext::new(config);
//! let data = stack_backends::datapath::open_layered(&context).await?;
//! // The SQL queue (`queue.backend: database://`) shares the Store's pool through `context`.
//! let queue = context.queue().await?;
//! # let _ = (data.store, queue);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use stack_core::cache::{Cache, TypedCache};
use stack_core::datapath::{
    BreakerOptions, CachingStore, CircuitBreaker, Instrumented, Layered, Replica, ReplicaOptions,
    ReplicaRouter,
};
use stack_core::store::Store;
use stack_core::{Error, Result};

use crate::context::BackendContext;
use crate::registry;
use crate::sql::{self, SqlOptions, SqlStore};

/// The data path of a configuration, each layer kept for what reports on it (health, admin).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DataPath {
    /// The Store to use: every layer, outermost first (caching when configured,
    /// instrumentation, replica router when configured, circuit breaker, the primary).
    pub store: Arc<dyn Store>,
    /// The circuit breaker around the primary.
    pub breaker: CircuitBreaker,
    /// The read-replica router, when `database.read_replicas` names any.
    pub replicas: Option<ReplicaRouter>,
    /// The pool of each replica behind `replicas`, for its figures (metrics); none without.
    pub replica_pools: Vec<sql::SqlReplica>,
    /// The primary's bare pool (migrated): transactions, idempotency keys, pool figures and
    /// the slow-query log. Writes through it bypass the breaker and the caching layer.
    pub database: SqlStore,
    /// The cache `cache.backend` names; the caching layer (when on) invalidates through it.
    pub cache: Arc<dyn Cache>,
}

/// Opens the layered data path of `context`'s configuration, migrating first where it may:
/// an SQLite database (file or memory) is created and migrated here; a PostgreSQL schema is
/// only checked (migrations there are an operator's step: `stack migrate up`, or
/// [`sql::migrate_up`]).
///
/// # Errors
/// A backend that is unknown, not compiled in, or unreachable; a PostgreSQL schema that is
/// behind (naming the pending migrations).
pub async fn open_layered(context: &BackendContext) -> Result<DataPath> {
    let config = context.config();
    let url = &config.database.url;
    let sqlite_file = url.starts_with("sqlite:") && !sql::is_memory_url(url);
    if sqlite_file {
        // Before the serving pool exists: none of its connections may hold the old schema.
        migrate_file(url, &registry::sql_options(&config.database)).await?;
    }
    let database = context.database().await?.clone();
    if database.name() == "sqlite" {
        if !sqlite_file {
            sql::migrate_up(database.connection(), None).await?;
        }
    } else {
        let pending = sql::pending_migrations(database.connection()).await?;
        if !pending.is_empty() {
            return Err(Error::unsupported(format!(
                "the database schema is behind ({} pending: {}); run `stack migrate up` with the same configuration",
                pending.len(),
                pending.join(", ")
            )));
        }
    }
    // Layer by layer: the primary's pool, the circuit breaker around it (so that replicas
    // keep serving reads while the primary is down), the replica router, the instrumentation
    // that counts and times every call that reaches the database, and, when configured, the
    // caching Store on top.
    let d = &config.database;
    let breaker = CircuitBreaker::new(
        context.store().await?,
        BreakerOptions {
            failure_threshold: d.breaker_threshold,
            cooldown: d.breaker_cooldown,
            probe_timeout: d.breaker_probe_timeout,
            call_timeout: Some(d.call_timeout),
        },
    );
    let primary: Arc<dyn Store> = Arc::new(Layered::new(breaker.clone()));
    let replica_pools = context.sql_replicas().await?;
    let replicas: Vec<Arc<dyn Replica>> = replica_pools
        .iter()
        .map(|replica| Arc::new(replica.clone()) as Arc<dyn Replica>)
        .collect();
    let (store, replicas): (Arc<dyn Store>, _) = if replicas.is_empty() {
        (primary, None)
    } else {
        let options = ReplicaOptions {
            max_lag: d.replica_max_lag,
            check_every: d.replica_check_interval,
            read_your_writes: d.read_your_writes,
        };
        let router = ReplicaRouter::start(primary, replicas, options).await;
        (Arc::new(Layered::new(router.clone())), Some(router))
    };
    let store: Arc<dyn Store> = Arc::new(Layered::new(Instrumented::new(store)));
    let cache = context.cache().await?;
    // Query-result caching, invalidated by the writes below it.
    let store: Arc<dyn Store> = match config.cache.store_ttl {
        Some(ttl) => Arc::new(CachingStore::new(
            store,
            TypedCache::new(Arc::clone(&cache)),
            ttl,
        )),
        None => store,
    };
    Ok(DataPath {
        store,
        breaker,
        replicas,
        replica_pools,
        database,
        cache,
    })
}

/// Migrates the SQLite file at `url`, retried a few times: two processes starting together
/// on a new file race to create its migration table, and the loser succeeds on a retry
/// (finding the migrations applied).
async fn migrate_file(url: &str, options: &SqlOptions) -> Result<()> {
    let mut wait = Duration::from_millis(100);
    for _ in 0..4 {
        match sql::migrate_url(url, options).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, "migrating the SQLite file failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
    }
    sql::migrate_url(url, options).await
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use stack_core::config::Config;
    use stack_core::store::NewUser;

    use super::*;

    #[tokio::test]
    async fn an_sqlite_file_is_created_migrated_and_layered() {
        let dir = std::env::temp_dir().join(format!("stack-datapath-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut config = Config::default();
        config.database.url = format!("sqlite://{}?mode=rwc", dir.join("new.db").display());
        config.cache.store_ttl = Some(Duration::from_secs(60));
        let data = open_layered(&BackendContext::new(config))
            .await
            .expect("the data path opens on a new file");
        let user = data
            .store
            .create_user(NewUser {
                email: "layered@example.com".into(),
                phone: None,
                full_name: "Layered".into(),
            })
            .await
            .expect("the schema is there");
        assert_eq!(data.database.name(), "sqlite");
        assert!(data.replicas.is_none());
        let read = data.store.user(user.id).await.expect("a read");
        assert_eq!(read.email, "layered@example.com");
        let _ = std::fs::remove_dir_all(dir);
    }
}
