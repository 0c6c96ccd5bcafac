//! The backends a server runs on, opened from configuration in one place.

use std::sync::Arc;

use stack_backends::context::BackendContext;
use stack_backends::sql::SqlStore;
use stack_core::Result;
use stack_core::cache::Cache;
use stack_core::cache::TypedCache;
use stack_core::config::Config;
use stack_core::datapath::{
    BreakerOptions, CachingStore, CircuitBreaker, Instrumented, Layered, ReplicaOptions,
    ReplicaRouter,
};
use stack_core::queue::Queue;
use stack_core::scheduler::CronScheduler;
use stack_core::store::Store;

/// Everything the routes and workers share.
#[derive(Debug, Clone)]
pub struct Backends {
    /// The Store (`database.url`), migrated.
    pub store: Arc<dyn Store>,
    /// The cache (`cache.backend`).
    pub cache: Arc<dyn Cache>,
    /// The job queue (`queue.backend`).
    pub queue: Arc<dyn Queue>,
    /// Cron schedules, enqueuing on `queue`.
    pub scheduler: CronScheduler,
    /// The read-replica router in front of the primary, when `database.read_replicas` names
    /// any: its nodes' health and lag are part of `/health/ready`.
    pub replicas: Option<ReplicaRouter>,
    /// The circuit breaker around the primary.
    pub breaker: CircuitBreaker,
    /// The primary's pool, for its figures in `/health/ready`.
    pub database: SqlStore,
}

impl Backends {
    /// Opens every backend `config` names. An SQLite database is created and migrated on
    /// the spot (the embedded default needs no operator); a PostgreSQL schema that is behind
    /// is refused, naming the command that brings it up to date.
    ///
    /// # Errors
    /// A backend that is unknown, not compiled in, or unreachable; a schema that is behind.
    pub async fn open(config: &Config) -> Result<Self> {
        let context = BackendContext::new(config.clone());
        let url = &config.database.url;
        let sqlite_file = url.starts_with("sqlite:") && !stack_backends::sql::is_memory_url(url);
        if sqlite_file {
            // Before the serving pool exists: none of its connections may hold the old schema.
            let options = stack_backends::registry::sql_options(&config.database);
            migrate_file(url, &options).await?;
        }
        let database = context.database().await?.clone();
        if database.name() == "sqlite" {
            if !sqlite_file {
                stack_backends::sql::migrate_up(database.connection(), None).await?;
            }
        } else {
            let pending = stack_backends::sql::pending_migrations(database.connection()).await?;
            if !pending.is_empty() {
                return Err(stack_core::Error::unsupported(format!(
                    "the database schema is behind ({} pending: {}); run `stack migrate up` with the same configuration",
                    pending.len(),
                    pending.join(", ")
                )));
            }
        }
        // The data path, layer by layer: the primary's pool, the circuit breaker around it
        // (so that replicas keep serving reads while the primary is down), the replica
        // router, the instrumentation that counts and times every call that reaches the
        // database, and, when configured, the caching Store on top.
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
        let replicas = context.replicas().await?;
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
        // On top, when configured: query-result caching, invalidated by the writes below it.
        let store: Arc<dyn Store> = match config.cache.store_ttl {
            Some(ttl) => Arc::new(CachingStore::new(
                store,
                TypedCache::new(Arc::clone(&cache)),
                ttl,
            )),
            None => store,
        };
        let queue = context.queue().await?;
        let scheduler = CronScheduler::new(Arc::clone(&queue));
        Ok(Self {
            store,
            cache,
            queue,
            scheduler,
            replicas,
            breaker,
            database,
        })
    }
}

/// Migrates the SQLite file at `url`, retried a few times: two processes starting together
/// on a new file race to create its migration table, and the loser succeeds on a retry
/// (finding the migrations applied).
async fn migrate_file(url: &str, options: &stack_backends::sql::SqlOptions) -> Result<()> {
    let mut wait = std::time::Duration::from_millis(100);
    for _ in 0..4 {
        match stack_backends::sql::migrate_url(url, options).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, "migrating the SQLite file failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
    }
    stack_backends::sql::migrate_url(url, options).await
}
