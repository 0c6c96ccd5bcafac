//! `/health/live` and `/health/ready`.

use std::future::Future;
use std::time::{Duration, Instant};

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};

use crate::backends::Backends;
use stack_core::datapath::BreakerState;

/// How long one backend may take to answer a readiness probe before it counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Tags)]
enum Tag {
    /// Liveness and readiness probes.
    Health,
}

/// Whether a probe found something working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Status {
    /// Working.
    Up,
    /// Not working.
    Down,
}

/// The process is alive.
#[derive(Debug, Object)]
pub struct Liveness {
    /// Always `up`.
    pub status: Status,
}

/// One backend's readiness.
#[derive(Debug, Object)]
pub struct BackendCheck {
    /// The role (`store`, `cache`, `queue`).
    pub name: String,
    /// The implementation (`sqlite`, `postgres`, `memory`, `redis`).
    pub backend: String,
    /// Whether it answered its health check in time.
    pub status: Status,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
    /// Why it is down.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    /// The queue's namespace ([`Queue::location`](stack_core::queue::Queue::location)): the
    /// Redis key prefix or the SQL rows of its jobs, so a host can tell its own queue from
    /// another of the same backend; the queue check only.
    #[oai(skip_serializing_if_is_none)]
    pub namespace: Option<String>,
}

/// One database node behind the replica router.
#[derive(Debug, Object)]
pub struct NodeCheck {
    /// `primary`, or the replica's `host:port/database`.
    pub node: String,
    /// In rotation (a replica) or serving (the primary).
    pub healthy: bool,
    /// The last measured replay lag, in milliseconds (replicas).
    #[oai(skip_serializing_if_is_none)]
    pub lag_ms: Option<u64>,
    /// Reads it served since start.
    pub reads: u64,
    /// Why it is out of rotation.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// Every backend's readiness; `up` only when all are up.
#[derive(Debug, Object)]
pub struct Readiness {
    /// `up` when every check is up.
    pub status: Status,
    /// One entry per configured backend.
    pub checks: Vec<BackendCheck>,
    /// The database nodes, when read replicas are configured. A replica out of rotation does
    /// not make the service unready: its reads go to the primary.
    #[oai(skip_serializing_if_is_empty, default)]
    pub database_nodes: Vec<NodeCheck>,
    /// The circuit breaker around the primary: `closed`, `open` (calls fail at once) or
    /// `half_open` (one probe may pass); absent when the backends have no breaker.
    #[oai(skip_serializing_if_is_none)]
    pub database_circuit: Option<String>,
    /// The primary's connection pool now; absent when the backends have no SQL database.
    #[oai(skip_serializing_if_is_none)]
    pub database_pool: Option<PoolCheck>,
}

/// The primary's connection pool.
#[derive(Debug, Object)]
pub struct PoolCheck {
    /// The most it opens (`database.max_open_conns`).
    pub max: u32,
    /// Connections open now.
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// Open and lent to a caller.
    pub in_use: u32,
}

/// The readiness answer: 200 when ready, 503 when a backend is down.
#[derive(Debug, ApiResponse)]
pub enum ReadyResponse {
    /// Every backend answered.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// At least one backend is down; do not route traffic here.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

/// The health probes.
#[derive(Debug)]
pub struct HealthApi {
    backends: Backends,
}

impl HealthApi {
    /// Probes over `backends`.
    pub fn new(backends: Backends) -> Self {
        Self { backends }
    }
}

async fn check(
    name: &str,
    backend: &str,
    probe: impl Future<Output = stack_core::Result<()>>,
) -> BackendCheck {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, probe).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
    };
    if let Some(error) = &error {
        tracing::warn!(name, backend, error, "readiness check failed");
    }
    BackendCheck {
        name: name.to_owned(),
        backend: backend.to_owned(),
        status: if error.is_none() {
            Status::Up
        } else {
            Status::Down
        },
        latency_ms,
        error,
        namespace: None,
    }
}

/// The database nodes behind the replica router (none without replicas).
pub fn database_nodes(backends: &Backends) -> Vec<NodeCheck> {
    backends
        .replicas
        .as_ref()
        .map(|router| router.status())
        .unwrap_or_default()
        .into_iter()
        .map(|n| NodeCheck {
            node: n.node,
            healthy: n.healthy,
            lag_ms: n.lag_ms,
            reads: n.reads,
            error: n.error,
        })
        .collect()
}

/// The state of the circuit breaker around the primary: `closed`, `open` or `half_open`;
/// `None` when the backends have no breaker.
pub fn database_circuit(backends: &Backends) -> Option<String> {
    let state = match backends.breaker.as_ref()?.state() {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half_open",
    };
    Some(state.to_owned())
}

/// The primary's connection pool now; `None` when the backends have no SQL database.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub fn database_pool(backends: &Backends) -> Option<PoolCheck> {
    let pool = backends.database.as_ref()?.pool_stats();
    Some(PoolCheck {
        max: pool.max,
        size: pool.size,
        idle: pool.idle,
        in_use: pool.in_use,
    })
}

/// The primary's connection pool now: none in a build without an SQL backend.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
pub fn database_pool(_backends: &Backends) -> Option<PoolCheck> {
    None
}

#[OpenApi(tag = "Tag::Health")]
impl HealthApi {
    /// Liveness: answers 200 while the process serves requests.
    #[oai(path = "/health/live", method = "get")]
    async fn live(&self) -> Json<Liveness> {
        Json(Liveness { status: Status::Up })
    }

    /// Readiness: checks every configured backend (concurrently, each within 2 s); 503 when
    /// one is down.
    #[oai(path = "/health/ready", method = "get")]
    async fn ready(&self) -> ReadyResponse {
        let Backends {
            store,
            cache,
            queue,
            ..
        } = &self.backends;
        let (store, cache, mut queue_check) = tokio::join!(
            check("store", store.name(), store.health()),
            check("cache", cache.name(), cache.health()),
            check("queue", queue.name(), queue.health()),
        );
        queue_check.namespace = queue.location().map(|location| location.namespace);
        let queue = queue_check;
        let checks = vec![store, cache, queue];
        let all_up = checks.iter().all(|c| c.status == Status::Up);
        let report = Readiness {
            status: if all_up { Status::Up } else { Status::Down },
            checks,
            database_nodes: database_nodes(&self.backends),
            database_circuit: database_circuit(&self.backends),
            database_pool: database_pool(&self.backends),
        };
        if all_up {
            ReadyResponse::Ready(Json(report))
        } else {
            ReadyResponse::NotReady(Json(report))
        }
    }
}
