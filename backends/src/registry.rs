//! Opens the backend a configuration names: the URL scheme picks the implementation, the
//! Cargo features decide which were compiled in.
//!
//! [`SCHEMES`] is the one list of what each scheme serves; [`check_config`] (which
//! `stack config check`, `stack serve` and every `context::BackendContext` run) and the `open_*`
//! functions read it, so a configuration that checks out is one that opens. Asking for a backend that was not
//! compiled in names the feature to enable.

use std::sync::Arc;

use stack_core::cache::Cache;
use stack_core::config::{
    CacheConfig, Config, ConfigError, ConfigProblem, QueueConfig, url_scheme,
};
use stack_core::queue::{Queue, QueueOptions};
use stack_core::retry::Backoff;
use stack_core::{Error, Result};

/// What a backend URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `cache.backend`.
    Cache,
    /// `queue.backend`.
    Queue,
    /// `database.url`: what the store will open.
    Database,
    /// `database.read_replicas`: PostgreSQL hot standbys.
    Replica,
    /// `redis.url` and `redis.cluster_addrs`: a Redis node.
    RedisNode,
}

/// One URL scheme: the feature that compiles it and the roles it serves in this release.
#[derive(Debug, Clone, Copy)]
pub struct Scheme {
    /// The scheme, lowercase (`memory`).
    pub name: &'static str,
    /// The Cargo feature of stack-backends that compiles it.
    pub feature: &'static str,
    /// The roles it can be opened for.
    pub roles: &'static [Role],
}

/// Every scheme this release can open, and for what. TLS (`rediss://`) is not among them.
pub const SCHEMES: &[Scheme] = &[
    Scheme {
        name: "memory",
        feature: "memory",
        roles: &[Role::Cache, Role::Queue],
    },
    Scheme {
        name: "sqlite",
        feature: "sqlite",
        roles: &[Role::Database],
    },
    Scheme {
        name: "postgres",
        feature: "postgres",
        roles: &[Role::Database, Role::Replica],
    },
    Scheme {
        name: "postgresql",
        feature: "postgres",
        roles: &[Role::Database, Role::Replica],
    },
    Scheme {
        name: "redis",
        feature: "redis",
        roles: &[Role::Cache, Role::Queue, Role::RedisNode],
    },
    // The queue in the database `database.url` names (PostgreSQL or SQLite), on its pool.
    Scheme {
        name: "database",
        feature: DATABASE_FEATURE,
        roles: &[Role::Queue],
    },
];

/// What the `database://` queue needs compiled: either SQL engine (`database.url` picks it).
const DATABASE_FEATURE: &str = "sqlite or postgres";

fn compiled(feature: &str) -> bool {
    let built: [(&str, bool); 5] = [
        ("memory", cfg!(feature = "memory")),
        ("sqlite", cfg!(feature = "sqlite")),
        ("postgres", cfg!(feature = "postgres")),
        ("redis", cfg!(feature = "redis")),
        (
            DATABASE_FEATURE,
            cfg!(any(feature = "sqlite", feature = "postgres")),
        ),
    ];
    built.iter().any(|&(name, on)| name == feature && on)
}

/// Checks that `url` names a scheme that serves `role` and was compiled in; the scheme.
///
/// # Errors
/// [`Error::Invalid`] naming `key` for a URL no backend of this release serves in `role`;
/// [`Error::Unsupported`] naming the feature for one that was not compiled in.
pub fn resolve(key: &str, url: &str, role: Role) -> Result<&'static Scheme> {
    let scheme = url_scheme(url).ok_or_else(|| {
        Error::invalid(
            key,
            format!("`{url}` is not a URL of the form scheme://..."),
        )
    })?;
    let known: Vec<&str> = SCHEMES
        .iter()
        .filter(|s| s.roles.contains(&role))
        .map(|s| s.name)
        .collect();
    let Some(found) = SCHEMES
        .iter()
        .find(|s| s.name == scheme && s.roles.contains(&role))
    else {
        return Err(Error::invalid(
            key,
            format!(
                "`{scheme}://` is not served here; use one of: {}",
                known.join(", ")
            ),
        ));
    };
    if compiled(found.feature) {
        Ok(found)
    } else {
        Err(Error::unsupported(format!(
            "{key} `{url}` needs stack-backends built with feature {}",
            found.feature
        )))
    }
}

/// Every backend URL of `config` checked against [`SCHEMES`] and the compiled features: the
/// check that makes `config check` say ok only to what `serve` opens.
///
/// `serve` opens the cache, the queue and the database; the `redis` section is checked for
/// its schemes only (a `redis://` queue, which opens it, requires the feature through
/// `queue.backend`). Read replicas are checked like the database.
pub fn check_config(config: &Config) -> Vec<ConfigProblem> {
    let mut urls = vec![
        (
            "cache.backend".to_owned(),
            config.cache.backend.clone(),
            Role::Cache,
        ),
        (
            "queue.backend".to_owned(),
            config.queue.backend.clone(),
            Role::Queue,
        ),
        (
            "database.url".to_owned(),
            config.database.url.clone(),
            Role::Database,
        ),
    ];
    for (i, url) in config.database.read_replicas.iter().enumerate() {
        urls.push((
            format!("database.read_replicas[{i}]"),
            url.clone(),
            Role::Replica,
        ));
    }
    if !config.redis.cluster_mode {
        urls.push((
            "redis.url".to_owned(),
            config.redis.url.clone(),
            Role::RedisNode,
        ));
    }
    for (i, url) in config.redis.cluster_addrs.iter().enumerate() {
        urls.push((
            format!("redis.cluster_addrs[{i}]"),
            url.clone(),
            Role::RedisNode,
        ));
    }
    urls.into_iter()
        .filter_map(|(key, url, role)| {
            let error = resolve(&key, &url, role).err()?;
            let opened = matches!(
                role,
                Role::Cache | Role::Queue | Role::Database | Role::Replica
            );
            let reason = match error {
                Error::Invalid { reason, .. } => reason,
                Error::Unsupported { .. } if !opened => return None,
                other => other.to_string(),
            };
            Some(ConfigProblem::new(key, reason))
        })
        .collect()
}

/// [`check_config`] as a result: the check `stack config check` and `stack serve` run at
/// load, for a host that loaded its [`Config`] itself. `context::BackendContext` runs it
/// before it opens anything, so a host that opens its backends through one needs no call of
/// its own.
///
/// # Errors
/// A [`ConfigError`] listing every backend URL this build cannot open, each with its key.
pub fn validate(config: &Config) -> std::result::Result<(), ConfigError> {
    ConfigError::from_problems(check_config(config)).map_or(Ok(()), Err)
}

/// Opens the cache `config.backend` names: `memory://`, or `redis://`, which connects to the
/// node or Cluster of the `redis` section (as the queue does).
///
/// # Errors
/// As [`resolve`]; `Unavailable` when Redis does not answer.
#[cfg_attr(not(feature = "redis"), allow(unused_variables))]
pub async fn open_cache(
    config: &CacheConfig,
    redis: &stack_core::config::RedisConfig,
) -> Result<Arc<dyn Cache>> {
    let scheme = resolve("cache.backend", &config.backend, Role::Cache)?;
    match scheme.name {
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(crate::memory::MemoryCache::new(
            crate::memory::MemoryCacheOptions {
                default_ttl: config.default_ttl,
                max_entries: config.max_entries,
            },
        ))),
        #[cfg(feature = "redis")]
        "redis" => {
            let target = crate::redis::RedisTarget::from_config(redis);
            let options = crate::redis::RedisCacheOptions {
                key_prefix: config.key_prefix.clone(),
                default_ttl: config.default_ttl,
            };
            #[cfg(feature = "memory")]
            if let Some(ttl) = config.first_tier_ttl {
                let first = crate::redis::FirstTier {
                    ttl,
                    max_entries: config.max_entries,
                };
                return Ok(Arc::new(
                    crate::redis::TieredCache::open(target, options, first).await?,
                ));
            }
            Ok(Arc::new(
                crate::redis::RedisCache::open(target, options).await?,
            ))
        }
        other => Err(Error::unsupported(format!("cache backend `{other}://`"))),
    }
}

/// Opens the Store `config.url` names (`sqlite://...`, `sqlite::memory:`, `postgres://...`)
/// with the pool `config` describes. Migrations are the caller's choice: see
/// [`crate::sql::migrate_up`] and [`crate::sql::pending_migrations`].
///
/// # Errors
/// As [`resolve`]; `Unavailable` when the database cannot be reached.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub async fn open_store(
    config: &stack_core::config::DatabaseConfig,
) -> Result<crate::sql::SqlStore> {
    resolve("database.url", &config.url, Role::Database)?;
    crate::sql::open(&config.url, &sql_options(config)).await
}

/// The pool settings of the `database` section.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub fn sql_options(config: &stack_core::config::DatabaseConfig) -> crate::sql::SqlOptions {
    crate::sql::SqlOptions {
        max_open: config.max_open_conns,
        min_idle: config.max_idle_conns,
        max_lifetime: config.conn_max_lifetime,
        idle_timeout: config.conn_max_idle_time,
        acquire_timeout: config.acquire_timeout,
        statement_cache: usize::try_from(config.statement_cache_capacity).unwrap_or(usize::MAX),
        slow_query: config.slow_query_threshold,
        statement_timeout: Some(config.statement_timeout),
    }
}

/// The [`QueueOptions`] a queue configuration describes.
pub fn queue_options(config: &QueueConfig) -> QueueOptions {
    QueueOptions::new(config.name.clone())
        .backoff(Backoff::new(config.backoff_base, config.backoff_cap))
}

/// The database a `database://` queue is opened in: the Store's, so that both share one pool
/// (and a caller's transaction).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub type QueueDatabase<'a> = Option<&'a crate::sql::SqlStore>;

/// Without a SQL engine compiled in there is no database to open a queue in.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
pub type QueueDatabase<'a> = Option<&'a std::convert::Infallible>;

/// Opens the queue `config.backend` names: `memory://`; `redis://`, which connects to the
/// node or Cluster of the `redis` section (`redis.cluster_mode` picks which; the host of
/// `queue.backend` itself is not used) under `queue.key_prefix`; or `database://`, the SQL queue in `database`, the
/// Store's database, on its pool (see [`crate::context::BackendContext::queue`], which
/// passes it).
///
/// # Errors
/// As [`resolve`]; `Unavailable` when Redis does not answer; `Invalid` naming
/// `queue.backend` for `database://` without a database.
#[cfg_attr(
    not(all(feature = "redis", any(feature = "sqlite", feature = "postgres"))),
    allow(unused_variables)
)]
pub async fn open_queue(
    config: &QueueConfig,
    redis: &stack_core::config::RedisConfig,
    database: QueueDatabase<'_>,
) -> Result<Arc<dyn Queue>> {
    let scheme = resolve("queue.backend", &config.backend, Role::Queue)?;
    match scheme.name {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        "database" => {
            let store = database.ok_or_else(|| {
                Error::invalid(
                    "queue.backend",
                    "`database://` keeps jobs in the Store's database: open it through the backend context",
                )
            })?;
            let queue = crate::sql::SqlQueue::open(
                store.connection().clone(),
                queue_options(config),
                crate::sql::SqlQueueOptions::default(),
            )?;
            Ok(queue)
        }
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(crate::memory::MemoryQueue::new(queue_options(
            config,
        ))?)),
        #[cfg(feature = "redis")]
        "redis" => Ok(Arc::new(
            crate::redis::RedisQueue::open_with(
                crate::redis::RedisTarget::from_config(redis),
                queue_options(config),
                crate::redis::RedisQueueOptions::with_key_prefix(config.key_prefix.clone()),
            )
            .await?,
        )),
        other => Err(Error::unsupported(format!("queue backend `{other}://`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_schemes_are_invalid_and_the_list_is_the_one_the_check_reads() {
        let cache = CacheConfig {
            backend: "memcached://x".into(),
            ..CacheConfig::default()
        };
        let err = open_cache(&cache, &stack_core::config::RedisConfig::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "cache.backend"),
            "{err}"
        );
        let config = Config {
            cache: cache.clone(),
            ..Config::default()
        };
        let problems = check_config(&config);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "cache.backend");
    }

    #[test]
    fn rediss_is_refused_everywhere_alike() {
        let mut config = Config::default();
        config.redis.url = "rediss://127.0.0.1:6380".into();
        config.redis.cluster_addrs = vec!["rediss://127.0.0.1:7000".into()];
        let keys: Vec<String> = check_config(&config).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["redis.url", "redis.cluster_addrs[0]"]);
    }

    #[test]
    fn a_backend_not_compiled_in_names_its_feature() {
        let mut config = Config::default();
        config.database.url = "postgres://db/x".into();
        let problems = check_config(&config);
        assert!(
            problems.is_empty(),
            "the store is not opened yet: {problems:?}"
        );
        let err = resolve("database.url", "postgres://db/x", Role::Database);
        if !cfg!(feature = "postgres") {
            assert!(err.unwrap_err().to_string().contains("feature postgres"));
        }
    }
}
