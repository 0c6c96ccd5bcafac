//! One place that opens the backends of a configuration, each once, sharing what can be
//! shared: the Store and every SQL backend opened through the same context use one pool
//! (one `DatabaseConnection`), so they can also share one transaction.
//!
//! A context checks its configuration as `stack config check` does
//! ([`registry::check_config`]: every backend URL served by this release and compiled into
//! this build) before it opens anything: a host gets the binary's error, naming the key and
//! the Cargo feature to enable, before any connection is made.

use std::sync::Arc;

use stack_core::Result;
use stack_core::cache::Cache;
use stack_core::config::{Config, ConfigError};
use stack_core::datapath::Replica;
use stack_core::queue::Queue;
use stack_core::store::Store;
use tokio::sync::OnceCell;

use crate::registry;
use crate::sql::SqlStore;

/// See the module documentation.
#[derive(Debug)]
pub struct BackendContext {
    config: Config,
    /// What [`registry::validate`] refused, returned by every opener instead of opening.
    refused: Option<ConfigError>,
    database: OnceCell<SqlStore>,
}

impl BackendContext {
    /// A context over a validated `config`; nothing is opened yet. A backend URL this build
    /// cannot open fails the opener of its own section (`cache.backend` fails `cache`,
    /// `database.url` fails `store`, `database`, `replicas` and a `database://` queue) with the
    /// problems [`registry::check_config`] finds there, before any connection is made;
    /// [`BackendContext::try_new`] refuses the whole configuration at once.
    pub fn new(config: Config) -> Self {
        Self {
            refused: registry::validate(&config).err(),
            config,
            database: OnceCell::new(),
        }
    }

    /// As [`BackendContext::new`], refusing at once a configuration naming a backend this
    /// build cannot open.
    ///
    /// # Errors
    /// As [`registry::validate`]: every such URL, with its key and the Cargo feature to
    /// enable when it was not compiled in.
    pub fn try_new(config: Config) -> std::result::Result<Self, ConfigError> {
        registry::validate(&config)?;
        Ok(Self::new(config))
    }

    /// `Invalid` (naming the first key, listing every problem) when the configuration's
    /// `sections` (`database`, `cache`, `queue`, `redis`) name a backend this build cannot
    /// open: an opener checks only what it opens, so a host that never opens the cache is not
    /// refused its Store for a cache it lacks.
    fn checked(&self, sections: &[&str]) -> Result<()> {
        let Some(refused) = &self.refused else {
            return Ok(());
        };
        let mine: Vec<_> = refused
            .problems()
            .iter()
            .filter(|problem| {
                sections.iter().any(|section| {
                    problem.key == *section
                        || problem.key.starts_with(&format!("{section}."))
                        || problem.key.starts_with(&format!("{section}["))
                })
            })
            .cloned()
            .collect();
        match ConfigError::from_problems(mine) {
            Some(refused) => Err(refused.into()),
            None => Ok(()),
        }
    }

    /// The configuration backends are opened from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database `database.url` names, opened on first use and shared afterwards.
    ///
    /// # Errors
    /// As [`registry::open_store`]; `Invalid` when the configuration names a backend
    /// this build cannot open (see [`BackendContext::new`]).
    pub async fn database(&self) -> Result<&SqlStore> {
        self.checked(&["database"])?;
        self.database
            .get_or_try_init(|| registry::open_store(&self.config.database))
            .await
    }

    /// The Store, over the shared database pool.
    ///
    /// # Errors
    /// As [`BackendContext::database`].
    pub async fn store(&self) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(self.database().await?.clone()))
    }

    /// A pool on each of `database.read_replicas`, with the primary's pool settings.
    ///
    /// # Errors
    /// A replica URL that is not PostgreSQL; `Unavailable` when one cannot be reached; `Invalid` when the configuration names a backend
    /// this build cannot open (see [`BackendContext::new`]).
    pub async fn replicas(&self) -> Result<Vec<Arc<dyn Replica>>> {
        Ok(self
            .sql_replicas()
            .await?
            .into_iter()
            .map(|replica| Arc::new(replica) as Arc<dyn Replica>)
            .collect())
    }

    /// As [`BackendContext::replicas`], each as its SQL replica (its own pool's figures).
    ///
    /// # Errors
    /// As [`BackendContext::replicas`].
    pub async fn sql_replicas(&self) -> Result<Vec<crate::sql::SqlReplica>> {
        self.checked(&["database"])?;
        let options = registry::sql_options(&self.config.database);
        let mut replicas = Vec::new();
        for (i, url) in self.config.database.read_replicas.iter().enumerate() {
            registry::resolve(
                &format!("database.read_replicas[{i}]"),
                url,
                registry::Role::Replica,
            )?;
            let replica = crate::sql::SqlReplica::open(url, &options).await?;
            let primary = self.database().await?.clone();
            replicas.push(replica.with_primary(primary));
        }
        Ok(replicas)
    }

    /// The cache `cache.backend` names.
    ///
    /// # Errors
    /// As [`registry::open_cache`]; `Invalid` when the configuration names a backend
    /// this build cannot open (see [`BackendContext::new`]).
    pub async fn cache(&self) -> Result<Arc<dyn Cache>> {
        self.checked(&["cache", "redis"])?;
        registry::open_cache(&self.config.cache, &self.config.redis).await
    }

    /// The queue `queue.backend` names; `database://` opens the SQL queue on the shared
    /// database pool (the Store's), opening the database first if need be.
    ///
    /// # Errors
    /// As [`registry::open_queue`] and [`BackendContext::database`]; `Invalid` when the configuration names a backend
    /// this build cannot open (see [`BackendContext::new`]).
    pub async fn queue(&self) -> Result<Arc<dyn Queue>> {
        self.checked(&["queue", "redis"])?;
        let database = if stack_core::config::url_scheme(&self.config.queue.backend).as_deref()
            == Some("database")
        {
            Some(self.database().await?)
        } else {
            None
        };
        registry::open_queue(&self.config.queue, &self.config.redis, database).await
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use stack_core::store::NewUser;

    use super::*;

    /// A cache URL this build cannot open: a scheme not compiled in when there is one, else
    /// one no backend serves (every feature on); the same check refuses both.
    fn unopenable_cache() -> &'static str {
        if cfg!(feature = "redis") {
            "memcached://127.0.0.1:11211"
        } else {
            "redis://"
        }
    }

    #[tokio::test]
    async fn a_backend_this_build_cannot_open_is_refused_by_its_own_opener_before_it_connects() {
        let mut config = Config::default();
        // A database nothing listens on: an attempt to connect would fail otherwise.
        config.database.url = "postgres://stack@127.0.0.1:9/nowhere".into();
        config.cache.backend = unopenable_cache().into();
        // What `stack config check` (the binary's loader) reports for this configuration.
        let binary: Vec<String> = registry::check_config(&config)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(binary[0].starts_with("cache.backend: "), "{binary:?}");
        if !cfg!(feature = "redis") {
            assert!(
                binary[0].contains("needs stack-backends built with feature redis"),
                "{binary:?}"
            );
        }

        let context = BackendContext::new(config.clone());
        let Err(err) = context.cache().await else {
            panic!("a cache this build cannot open was opened");
        };
        assert!(
            matches!(&err, stack_core::Error::Invalid { field, .. } if field == "cache.backend"),
            "{err}"
        );
        for problem in &binary {
            assert!(err.to_string().contains(problem.as_str()), "{err}");
        }
        // The other openers check only their own sections: the Store is not refused for a
        // cache this build lacks (it tries, and finds nothing listening).
        for err in [context.store().await.err(), context.queue().await.err()] {
            let err = err.expect("nothing listens on the database's port");
            assert!(
                !matches!(&err, stack_core::Error::Invalid { .. }),
                "refused for another section: {err}"
            );
        }
        assert!(context.replicas().await.unwrap().is_empty());
        assert!(context.database.get().is_none(), "nothing was opened");

        let refused = BackendContext::try_new(config).unwrap_err();
        let found: Vec<String> = refused.problems().iter().map(ToString::to_string).collect();
        assert_eq!(found, binary);
    }

    #[tokio::test]
    async fn stores_from_one_context_share_one_database() {
        let mut config = Config::default();
        // Each pool of an in-memory SQLite database is a database of its own: sharing shows.
        config.database.url = "sqlite::memory:".into();
        let context = BackendContext::new(config);
        crate::sql::migrate_up(context.database().await.unwrap().connection(), None)
            .await
            .unwrap();
        let (one, two) = (
            context.store().await.unwrap(),
            context.store().await.unwrap(),
        );
        let user = one
            .create_user(NewUser {
                email: "a@b.co".into(),
                phone: None,
                full_name: "A".into(),
            })
            .await
            .unwrap();
        assert_eq!(two.user(user.id).await.unwrap(), user);
    }

    #[tokio::test]
    async fn a_database_queue_shares_the_store_s_pool() {
        use stack_core::queue::NewJob;

        let mut config = Config::default();
        // One in-memory database per pool: a job seen through the Store's pool is shared.
        config.database.url = "sqlite::memory:".into();
        config.queue.backend = "database://".into();
        let context = BackendContext::new(config);
        let db = context.database().await.unwrap().connection().clone();
        crate::sql::migrate_up(&db, None).await.unwrap();
        let queue = context.queue().await.unwrap();
        assert_eq!(queue.name(), "sqlite");
        let id = queue
            .enqueue(NewJob::new("t", serde_json::json!({})))
            .await
            .unwrap()
            .id();
        let other = crate::sql::SqlQueue::open(
            db,
            stack_core::queue::QueueOptions::new("default"),
            crate::sql::SqlQueueOptions::default(),
        )
        .unwrap();
        assert_eq!(other.get(id).await.unwrap().map(|j| j.id), Some(id));
    }
}
