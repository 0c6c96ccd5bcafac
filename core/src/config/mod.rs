//! Configuration: a YAML file plus `STACK__`-prefixed environment overrides, validated at
//! start with errors that name the bad key.
//!
//! `STACK__DATABASE__URL=postgres://...` overrides `database.url`; a double underscore
//! separates levels. Durations are written as `300s`, `5m` or `1h 30m`. Unknown keys are
//! refused, so a typo does not silently fall back to a default; the one exception is the
//! host application's own section, `app:`, which STACK keeps for the host to read into its
//! own type ([`ConfigLoader::load_with`], [`Config::app_settings`]).
//!
//! ```
//! use stack_core::config::Config;
//! let config = Config::from_yaml_str("workers:\n  count: 4\n").unwrap();
//! assert_eq!(config.workers.count, 4);
//! assert_eq!(config.database.max_open_conns, 25); // the default
//!
//! let err = Config::from_yaml_str("workers:\n  count: 0\n").unwrap_err();
//! assert_eq!(err.problems()[0].key, "workers.count");
//! ```

mod deprecation;
mod host;
mod load;
mod metrics;
mod problem;
mod scheme;
mod sources;
mod traces;
mod validate;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use deprecation::Deprecation;
pub use host::APP_KEY;
pub use load::{ConfigLoader, ENV_PREFIX, ExtraCheck};
pub use metrics::MetricsConfig;
pub use problem::{ConfigError, ConfigProblem};
pub use scheme::url_scheme;
pub use traces::{OtlpEndpointError, TracingConfig, traces_url as otlp_traces_url};
pub use validate::log_filter;

use crate::version::ApiVersion;

/// The whole configuration of a STACK service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP server.
    pub server: ServerConfig,
    /// Logging.
    pub log: LogConfig,
    /// The relational store.
    pub database: DatabaseConfig,
    /// The Redis connection shared by the Redis cache and queue.
    pub redis: RedisConfig,
    /// The cache backend.
    pub cache: CacheConfig,
    /// The job queue backend.
    pub queue: QueueConfig,
    /// The worker pool.
    pub workers: WorkersConfig,
    /// The REST API.
    pub api: ApiConfig,
    /// Prometheus metrics of the `stack` binary.
    pub metrics: MetricsConfig,
    /// Span export over OTLP of the `stack` binary.
    pub tracing: TracingConfig,
    /// The host application's own settings, kept free-form: STACK never reads them, and a
    /// host reads them into its own type with [`Config::app_settings`] or
    /// [`ConfigLoader::load_with`], whose errors name `app.<key>`. Default none.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub app: serde_json::Value,
}

/// Where and how the HTTP server listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The address to bind. Default `127.0.0.1`.
    pub host: String,
    /// The port to bind. Default `8080`.
    pub port: u16,
    /// How long in-flight requests may run after a shutdown signal. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// A connection must send a request's headers within this, or it is closed (a client
    /// that sends half a request cannot hold a connection, nor a shutdown). Default `10s`.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (human-readable, the default) or `json`.
    pub format: LogFormat,
    /// A level (`info`) or a `tracing` filter (`info,stack_server=debug`). Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The relational store and its pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://stack.db?mode=rwc` (the default), `sqlite::memory:` or `postgres://...`.
    pub url: String,
    /// The most connections the pool opens. Default `25`.
    pub max_open_conns: u32,
    /// Connections kept open while idle. Default `5`.
    pub max_idle_conns: u32,
    /// A connection is replaced after this long. Default `300s`.
    #[serde(with = "humantime_serde")]
    pub conn_max_lifetime: Duration,
    /// An idle connection is closed after this long. Default `300s`.
    #[serde(with = "humantime_serde")]
    pub conn_max_idle_time: Duration,
    /// A statement slower than this is logged as a warning (its SQL, parameter count and
    /// duration; never the parameters' values). Default `200ms`.
    #[serde(with = "humantime_serde")]
    pub slow_query_threshold: Duration,
    /// Prepared statements each connection keeps; `0` turns the cache off. Default `100`.
    pub statement_cache_capacity: u32,
    /// How long a call waits for a free connection before `Unavailable`. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// Consecutive connection-level failures of the primary that open the circuit breaker.
    /// Default `5`.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before one probe may pass. Default `10s`.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// How long the breaker's probe (a health check) may take before it counts as failed.
    /// Default `2s`.
    #[serde(with = "humantime_serde")]
    pub breaker_probe_timeout: Duration,
    /// How long one call to the primary may take (all its statements) before it fails with
    /// `Timeout` and counts toward opening the breaker; catches a connection that hangs
    /// instead of refusing. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for every connection of the pool: the server cancels
    /// a statement running longer. Default `15s`.
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Duration,
    /// PostgreSQL hot standbys that serve reads that may be a moment old. Default none.
    pub read_replicas: Vec<String>,
    /// A replica replaying further behind than this leaves the rotation. Default `2s`; with
    /// the check interval, at most `read_your_writes`.
    #[serde(with = "humantime_serde")]
    pub replica_max_lag: Duration,
    /// How often each replica's health and lag are checked. Default `1s`.
    #[serde(with = "humantime_serde")]
    pub replica_check_interval: Duration,
    /// After a write about a user or record, reads about it go to the primary for this
    /// long (read-your-writes). Default `3s`; at least `replica_max_lag + replica_check_interval`
    /// when replicas are set.
    #[serde(with = "humantime_serde")]
    pub read_your_writes: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://stack.db?mode=rwc".into(),
            max_open_conns: 25,
            max_idle_conns: 5,
            conn_max_lifetime: Duration::from_secs(300),
            conn_max_idle_time: Duration::from_secs(300),
            slow_query_threshold: Duration::from_millis(200),
            statement_cache_capacity: 100,
            acquire_timeout: Duration::from_secs(5),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(10),
            breaker_probe_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(15),
            read_replicas: Vec::new(),
            replica_max_lag: Duration::from_secs(2),
            replica_check_interval: Duration::from_secs(1),
            read_your_writes: Duration::from_secs(3),
        }
    }
}

/// The Redis server or Cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// A single node: `redis://127.0.0.1:6379` (the default).
    pub url: String,
    /// Connect to a Cluster through `cluster_addrs` instead of `url`. Default `false`.
    pub cluster_mode: bool,
    /// Seed nodes of the Cluster (`redis://127.0.0.1:7000`, ...). Default none.
    pub cluster_addrs: Vec<String>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            cluster_mode: false,
            cluster_addrs: Vec::new(),
        }
    }
}

/// The cache backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `memory://` (the default) or `redis://`, which uses the node or Cluster of the `redis`
    /// section (the URL's host is not read).
    pub backend: String,
    /// TTL of entries stored without one; `null` keeps them until evicted. Default `5m`.
    #[serde(with = "humantime_serde")]
    pub default_ttl: Option<Duration>,
    /// Prepended to every key, so applications can share a server. Default `stack:cache:`
    /// (apart from the queue's `stack:queue:`: on one Redis neither may hold the other).
    pub key_prefix: String,
    /// Most entries the in-memory cache holds before evicting. Default `100000`.
    pub max_entries: u64,
    /// With `redis://`, a first tier in each instance's memory in front of Redis, kept for
    /// at most this long and dropped when another instance writes (pub/sub); `null` (the
    /// default) for none.
    #[serde(with = "humantime_serde")]
    pub first_tier_ttl: Option<Duration>,
    /// Cache the Store's reads of users, wallets, balances and a user's first deposits page
    /// for this long, invalidated by every write that changes them; `null` (the default) for
    /// no query-result caching.
    #[serde(with = "humantime_serde")]
    pub store_ttl: Option<Duration>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            backend: "memory://".into(),
            default_ttl: Some(Duration::from_secs(300)),
            key_prefix: "stack:cache:".into(),
            max_entries: 100_000,
            first_tier_ttl: None,
            store_ttl: None,
        }
    }
}

/// The job queue backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// `database://` (the default): the SQL queue in the database of `database.url`, on the
    /// Store's pool, durable and able to enqueue inside a unit of work; `memory://` (this
    /// process only, lost on restart); or `redis://`, which uses the node or Cluster of the
    /// `redis` section (the URL's host is not read).
    pub backend: String,
    /// The queue's name. Default `default`.
    pub name: String,
    /// With `redis://`, prepended to every key of the queue (`<key_prefix>queue:{<name>}:*`),
    /// so applications sharing a server keep queues of the same name apart; no `{` or `}`
    /// (the hash tag is the queue name's). Not read by the other backends. Default `stack:`,
    /// where earlier releases kept every queue. Apart from `cache.key_prefix`, so a changed
    /// cache prefix never strands the jobs of an existing queue.
    pub key_prefix: String,
    /// The first retry's largest backoff. Default `1s`.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// The largest backoff of any retry. Default `1h`.
    #[serde(with = "humantime_serde")]
    pub backoff_cap: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            backend: "database://".into(),
            name: "default".into(),
            key_prefix: "stack:".into(),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(3600),
        }
    }
}

/// The worker pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// Jobs run at once. Default `10`.
    pub count: u32,
    /// A job running longer is failed (and retried). Default `300s`.
    #[serde(with = "humantime_serde")]
    pub job_timeout: Duration,
    /// How long a job's lease lasts; heartbeats renew it every third. At least `300ms`.
    /// Default `30s`. A worker that dies leaves its jobs for this long.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long running jobs may finish after `stack worker` (or `stack serve`, running
    /// workers) is asked to stop; then they are released for another worker. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Leases held ready beyond the running jobs (0-1000). Default `10`; `0` for long jobs.
    pub prefetch: u32,
    /// `stack serve` runs a worker pool of these settings beside the API, in its own
    /// process. Default `true`, so that the embedded configuration (one process, no server)
    /// runs the jobs it enqueues; `false` when separate `stack worker` processes do.
    pub in_serve: bool,
    /// Resize the pool at run time between a minimum and a maximum from the queue's
    /// backlog, instead of running `count` jobs at once. Default `null` (a fixed `count`).
    pub autoscale: Option<crate::worker::Autoscale>,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            count: 10,
            job_timeout: Duration::from_secs(300),
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            prefetch: 10,
            in_serve: true,
            autoscale: None,
        }
    }
}

/// The REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Versions served. Default `[v1, v2]`.
    pub supported_versions: Vec<ApiVersion>,
    /// Version of requests that name none. Default `v1`.
    pub default_version: ApiVersion,
    /// Bearer token of the admin API; `null` disables it. At least 16 characters.
    pub admin_token: Option<String>,
    /// Deprecated versions, announced in the headers of every response they serve.
    /// Default none.
    pub deprecations: Vec<Deprecation>,
    /// How long an `Idempotency-Key` is remembered (and its response replayed) after its
    /// first use. Default `24h`.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// How long a request holds its key while running; a retry in that time gets 409, and
    /// after it another request may take the key over (the first process died). Default `60s`.
    #[serde(with = "humantime_serde")]
    pub idempotency_lock: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            supported_versions: vec![ApiVersion::new(1), ApiVersion::new(2)],
            default_version: ApiVersion::new(1),
            admin_token: None,
            deprecations: Vec::new(),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_lock: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests;
