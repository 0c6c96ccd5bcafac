use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use stack_core::config::RedisConfig;
use stack_core::{Error, Result};

/// How long one command may take before the connection reports a timeout. Lua scripts of a
/// bounded batch finish in milliseconds; this only catches a server that stopped answering.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where Redis is: one node, or the seed nodes of a Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// A single server (`redis://127.0.0.1:6379`).
    Single(String),
    /// Seed nodes of a Cluster; the rest of the topology is discovered from them.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// The target the `redis` section names: `cluster_addrs` when `cluster_mode` is true
    /// (and `url` is then ignored), otherwise `url`.
    pub fn from_config(config: &RedisConfig) -> Self {
        if config.cluster_mode {
            Self::Cluster(config.cluster_addrs.clone())
        } else {
            Self::Single(config.url.clone())
        }
    }

    /// A target from one string: a comma-separated list of `redis://` URLs is a Cluster's
    /// seed nodes, one URL is a single node.
    pub fn parse(urls: &str) -> Self {
        let nodes: Vec<String> = urls
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if nodes.len() > 1 {
            Self::Cluster(nodes)
        } else {
            Self::Single(urls.trim().to_owned())
        }
    }

    /// Whether this is a Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Opens a multiplexed connection that reconnects on its own.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a URL the client cannot parse; [`Error::Unavailable`] when no
    /// node answers.
    pub async fn connect(&self) -> Result<RedisConnection> {
        self.open(Some(RESPONSE_TIMEOUT)).await
    }

    /// Opens a connection of its own for blocking commands (`BLPOP`), with no response
    /// timeout: the caller bounds each wait itself.
    ///
    /// # Errors
    /// As [`RedisTarget::connect`].
    pub async fn connect_blocking(&self) -> Result<RedisConnection> {
        self.open(None).await
    }

    async fn open(&self, timeout: Option<Duration>) -> Result<RedisConnection> {
        match self {
            Self::Single(url) => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| Error::invalid("redis.url", e.to_string()))?;
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(timeout)
                    .set_number_of_retries(2);
                let manager = ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(|e| unavailable(self, e))?;
                Ok(RedisConnection::Single(manager))
            }
            Self::Cluster(nodes) => {
                let mut builder = ClusterClient::builder(nodes.clone());
                if let Some(timeout) = timeout {
                    builder = builder.response_timeout(timeout);
                }
                let client = builder
                    .build()
                    .map_err(|e| Error::invalid("redis.cluster_addrs", e.to_string()))?;
                let connection = client
                    .get_async_connection()
                    .await
                    .map_err(|e| unavailable(self, e))?;
                Ok(RedisConnection::Cluster(connection))
            }
        }
    }
}

fn unavailable(target: &RedisTarget, error: redis::RedisError) -> Error {
    let what = match target {
        RedisTarget::Single(url) => format!("Redis at {url}"),
        RedisTarget::Cluster(nodes) => format!("Redis Cluster at {}", nodes.join(",")),
    };
    Error::unavailable(format!("{what} did not answer: {error}"), error)
}

/// A multiplexed connection to a single node or a Cluster; cheap to clone, and usable
/// wherever redis-rs takes an async connection (commands, pipelines, scripts).
#[derive(Clone)]
pub enum RedisConnection {
    /// A single node, through a connection manager that reconnects.
    Single(ConnectionManager),
    /// A Cluster; commands go to the shard of their keys.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "RedisConnection::Single",
            Self::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A Redis error as a core error: connection-level failures are `Unavailable` (temporary),
/// anything else (a script error) is a backend error.
pub(crate) fn redis_error(error: redis::RedisError) -> Error {
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.is_connection_refusal()
        || error.is_cluster_error()
    {
        Error::unavailable(format!("Redis: {error}"), error)
    } else {
        Error::backend(format!("Redis: {error}")).with_source(error)
    }
}
