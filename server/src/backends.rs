//! The backends the routes and workers share: opened from configuration by
//! [`Backends::open`], or put together by a host from its own with [`Backends::builder`].

use std::sync::Arc;

use stack_core::cache::Cache;
use stack_core::datapath::{CircuitBreaker, ReplicaRouter};
use stack_core::queue::Queue;
use stack_core::scheduler::CronScheduler;
use stack_core::store::Store;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use stack_backends::sql::{SqlReplica, SqlStore};

/// Everything the routes and workers share. Read its fields; make it with
/// [`Backends::open`] (from configuration) or [`Backends::builder`] (from a host's own
/// backends), since fields may be added.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Backends {
    /// The Store (`database.url`), migrated.
    pub store: Arc<dyn Store>,
    /// The cache (`cache.backend`).
    pub cache: Arc<dyn Cache>,
    /// The job queue (`queue.backend`).
    pub queue: Arc<dyn Queue>,
    /// Cron schedules, enqueuing on `queue`.
    pub scheduler: CronScheduler,
    /// The read-replica router in front of the primary, when there are replicas: its nodes'
    /// health and lag are part of `/health/ready`.
    pub replicas: Option<ReplicaRouter>,
    /// The circuit breaker around the primary, when there is one: its state is part of
    /// `/health/ready`.
    pub breaker: Option<CircuitBreaker>,
    /// The primary's bare pool, when there is an SQL database: its figures in
    /// `/health/ready`, the admin diagnostics, and the rail API's transactions and
    /// idempotency keys (the rail is mounted only with one).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub database: Option<SqlStore>,
    /// The pool of each replica behind `replicas`, when they are SQL replicas of a data
    /// path ([`BackendsBuilder::data_path`]): their figures in the metrics beside the
    /// primary's.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub replica_pools: Vec<SqlReplica>,
}

impl Backends {
    /// Backends over a host's own `store`, `cache` and `queue` (the very ones its workers
    /// use, so `/health/ready` reports those); the rest is optional, see [`BackendsBuilder`].
    pub fn builder(
        store: Arc<dyn Store>,
        cache: Arc<dyn Cache>,
        queue: Arc<dyn Queue>,
    ) -> BackendsBuilder {
        BackendsBuilder {
            store,
            cache,
            queue,
            scheduler: None,
            replicas: None,
            breaker: None,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            database: None,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            replica_pools: Vec::new(),
        }
    }

    /// Opens every backend `config` names: the layered data path of
    /// [`stack_backends::datapath::open_layered`] (an SQLite database is created and
    /// migrated there; a PostgreSQL schema that is behind is refused, naming the command that
    /// brings it up to date), the cache, and the queue (sharing the database pool).
    ///
    /// # Errors
    /// A backend that is unknown, not compiled in, or unreachable; a schema that is behind.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub async fn open(config: &stack_core::config::Config) -> stack_core::Result<Self> {
        let context = stack_backends::context::BackendContext::new(config.clone());
        let data = stack_backends::datapath::open_layered(&context).await?;
        let queue = context.queue().await?;
        let cache = Arc::clone(&data.cache);
        Ok(Self::builder(Arc::clone(&data.store), cache, queue)
            .data_path(data)
            .build()?)
    }
}

/// Why [`BackendsBuilder::build`] refused the backends it was given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The queue is a SQL queue on another pool than the database (the SQL Store's): a job
    /// enqueued in a unit of work (a deposit's confirmation) could never join its
    /// transaction, and every such call would fail at run time.
    #[error(
        "the {queue} queue ({namespace}) is on another database pool than the database \
         (the SQL Store's); open the queue on the store's connection (SqlStore::connection)"
    )]
    QueueOnAnotherPool {
        /// The queue backend's name (`sqlite`, `postgres`).
        queue: &'static str,
        /// Where the queue keeps its jobs ([`Queue::location`]).
        namespace: String,
    },
}

impl From<BuildError> for stack_core::Error {
    fn from(error: BuildError) -> Self {
        Self::invalid("queue", error.to_string())
    }
}

/// Puts [`Backends`] together from a host's own; made by [`Backends::builder`].
#[derive(Debug)]
#[must_use]
pub struct BackendsBuilder {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    queue: Arc<dyn Queue>,
    scheduler: Option<CronScheduler>,
    replicas: Option<ReplicaRouter>,
    breaker: Option<CircuitBreaker>,
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    database: Option<SqlStore>,
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    replica_pools: Vec<SqlReplica>,
}

impl BackendsBuilder {
    /// The host's cron scheduler (it must enqueue on the same queue), so the admin API lists
    /// and triggers its schedules; without it, a new one over the queue.
    pub fn scheduler(mut self, scheduler: CronScheduler) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// The replica router in the store's data path, reported by `/health/ready`.
    pub fn replicas(mut self, router: ReplicaRouter) -> Self {
        self.replicas = Some(router);
        self
    }

    /// The circuit breaker in the store's data path, reported by `/health/ready`.
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Serves `store`, a bare SQL Store, in place of the builder's Store, and takes its pool
    /// as the database: its figures in `/health/ready`, the admin diagnostics, and the rail
    /// API (which keeps its transactions and idempotency keys there). The Store and the
    /// database are one pool by construction: a rail write on another pool than its
    /// transaction's would commit on its own, and a retried request could credit twice.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn sql_store(mut self, store: SqlStore) -> Self {
        self.store = Arc::new(store.clone());
        self.database = Some(store);
        self
    }

    /// Serves a data path of [`open_layered`](stack_backends::datapath::open_layered): its
    /// layered Store in place of the builder's, its breaker, its replica router and its
    /// replicas' pools, and its primary's pool as the database (see [`BackendsBuilder::sql_store`]), all of one
    /// configuration. The builder's cache and queue stay.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn data_path(mut self, data: stack_backends::datapath::DataPath) -> Self {
        self.store = data.store;
        self.breaker = Some(data.breaker);
        self.replicas = data.replicas;
        self.replica_pools = data.replica_pools;
        self.database = Some(data.database);
        self
    }

    /// The backends.
    ///
    /// # Errors
    /// [`BuildError::QueueOnAnotherPool`]: a SQL queue on another pool than the database.
    pub fn build(self) -> Result<Backends, BuildError> {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        self.check_queue_pool()?;
        let scheduler = self
            .scheduler
            .unwrap_or_else(|| CronScheduler::new(Arc::clone(&self.queue)));
        Ok(Backends {
            store: self.store,
            cache: self.cache,
            queue: self.queue,
            scheduler,
            replicas: self.replicas,
            breaker: self.breaker,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            database: self.database,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            replica_pools: self.replica_pools,
        })
    }

    /// Refuses a SQL queue on another pool than the database (see
    /// [`BuildError::QueueOnAnotherPool`]); a queue of another kind, or without a database,
    /// passes.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn check_queue_pool(&self) -> Result<(), BuildError> {
        let (Some(database), Some(queue)) = (
            self.database.as_ref(),
            self.queue
                .as_any()
                .and_then(|any| any.downcast_ref::<stack_backends::sql::SqlQueue>()),
        ) else {
            return Ok(());
        };
        if queue.shares_pool_with(database) {
            return Ok(());
        }
        Err(BuildError::QueueOnAnotherPool {
            queue: self.queue.name(),
            namespace: self
                .queue
                .location()
                .map_or_else(|| "unknown".to_owned(), |l| l.namespace),
        })
    }
}
