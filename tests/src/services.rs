//! The harness that gives tests the real services they need.
//!
//! For each service, in order:
//! 1. the URL in its environment variable (`STACK_TEST_POSTGRES_URL`, `STACK_TEST_REDIS_URL`),
//!    which `scripts/test.sh` exports after starting the service (and
//!    `STACK_TEST_REDIS_CLUSTER_URL` for the Cluster, which has no container path);
//! 2. otherwise a container started with testcontainers, when a Docker engine answers;
//! 3. otherwise the test fails with a message saying how to provide the service. A required
//!    service that is missing is never a silent skip.

use std::any::Any;

use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::redis::Redis;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, Image};

/// A running service: its URL, and the container that must outlive the test if one was started.
pub struct Service {
    /// Where to connect.
    pub url: String,
    _container: Option<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL the tests use.
///
/// # Panics
/// When neither `STACK_TEST_POSTGRES_URL` nor a Docker engine is available.
pub async fn postgres() -> Service {
    obtain(
        "STACK_TEST_POSTGRES_URL",
        "PostgreSQL",
        Postgres::default(),
        5432,
        |host, port| format!("postgres://postgres:postgres@{host}:{port}/postgres"),
    )
    .await
}

/// The single-node Redis the tests use.
///
/// # Panics
/// When neither `STACK_TEST_REDIS_URL` nor a Docker engine is available.
pub async fn redis() -> Service {
    obtain(
        "STACK_TEST_REDIS_URL",
        "Redis",
        Redis::default(),
        6379,
        |host, port| format!("redis://{host}:{port}"),
    )
    .await
}

/// The Redis Cluster the tests use: the comma-separated node URLs of
/// `STACK_TEST_REDIS_CLUSTER_URL`, which `scripts/services.sh` exports after making a
/// 3-master Cluster on loopback ports. (There is no testcontainers path: a Cluster needs
/// several containers that announce addresses the host can reach.)
///
/// # Panics
/// When `STACK_TEST_REDIS_CLUSTER_URL` is not set.
pub fn redis_cluster() -> Service {
    match std::env::var("STACK_TEST_REDIS_CLUSTER_URL") {
        Ok(url) if !url.trim().is_empty() => Service {
            url,
            _container: None,
        },
        _ => panic!(
            "a Redis Cluster is required by this test and was not found.\n\
             Run `scripts/test.sh` (or `. scripts/services.sh`), which starts a 3-master Cluster \
             on 127.0.0.1:7000-7002 and exports STACK_TEST_REDIS_CLUSTER_URL, or set that \
             variable to a comma-separated list of your Cluster's nodes."
        ),
    }
}

async fn obtain<I>(
    var: &str,
    what: &str,
    image: I,
    port: u16,
    url: impl Fn(&str, u16) -> String,
) -> Service
where
    I: Image + 'static,
    ContainerAsync<I>: Send + Sync,
{
    if let Ok(url) = std::env::var(var) {
        if !url.trim().is_empty() {
            return Service {
                url,
                _container: None,
            };
        }
    }
    let failure = match image.start().await {
        Ok(container) => match (
            container.get_host().await,
            container.get_host_port_ipv4(port).await,
        ) {
            (Ok(host), Ok(mapped)) => {
                let url = url(&host.to_string(), mapped);
                return Service {
                    url,
                    _container: Some(Box::new(container)),
                };
            }
            (Err(e), _) | (_, Err(e)) => e.to_string(),
        },
        Err(e) => e.to_string(),
    };
    panic!(
        "{what} is required by this test and was not found.\n\
         Provide it in one of these ways:\n\
         - run `scripts/test.sh`, which installs and starts it and exports {var};\n\
         - or set {var} to the URL of a running {what};\n\
         - or run a Docker engine so testcontainers can start one (it said: {failure})."
    );
}

/// A new, empty PostgreSQL database on the test server, for one trial; its URL. Databases
/// left by runs more than an hour old are dropped first, so trials clean up after each other
/// without ever dropping a database a running trial uses.
///
/// # Panics
/// When the server cannot be reached or refuses to create a database.
pub async fn fresh_postgres_database() -> String {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let service = postgres().await;
    let admin = Database::connect(&service.url)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", service.url));
    let backend = admin.get_database_backend();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let stale = admin
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT datname FROM pg_database WHERE datname LIKE 'stack_t\\_%'",
        ))
        .await
        .unwrap_or_default();
    for row in stale {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let born: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if now.saturating_sub(born) > 3600 && born != u64::MAX {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
    let name = format!("stack_t_{now}_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let base = service
        .url
        .rsplit_once('/')
        .map_or(service.url.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}
