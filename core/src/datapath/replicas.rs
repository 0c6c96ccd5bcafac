//! [`ReplicaRouter`]: reads that may go stale go to a random healthy replica.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::Rng;
use serde::Serialize;
use uuid::Uuid;

use super::{Access, Call, Op, StorePolicy};
use crate::store::Store;
use crate::{ErrorKind, Result};

/// A read replica: its Store, and how far behind the primary it is.
#[async_trait]
pub trait Replica: Send + Sync + std::fmt::Debug {
    /// Where it is, for status and logs (`127.0.0.1:5433`); never a password.
    fn label(&self) -> String;

    /// The Store over this replica.
    fn store(&self) -> Arc<dyn Store>;

    /// How far behind the primary it has replayed.
    ///
    /// # Errors
    /// `Unavailable` when it does not answer.
    async fn replay_lag(&self) -> Result<Duration>;
}

/// How the router judges replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaOptions {
    /// A replica further behind than this leaves the rotation. Default 2 s.
    pub max_lag: Duration,
    /// How often each replica's health and lag are checked. Default 1 s.
    pub check_every: Duration,
    /// After a write about a user or record, reads about it go to the primary this long.
    /// Default 3 s (at least `max_lag + check_every`, or a read after a write can reach a
    /// standby still behind it).
    pub read_your_writes: Duration,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        Self {
            // The configuration's defaults, which keep read_your_writes >= max_lag + check_every.
            max_lag: Duration::from_secs(2),
            check_every: Duration::from_secs(1),
            read_your_writes: Duration::from_secs(3),
        }
    }
}

/// What `/health/ready` shows of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// `primary`, or the replica's label.
    pub node: String,
    /// In rotation (a replica) or answering (the primary).
    pub healthy: bool,
    /// The last measured replay lag in milliseconds (replicas).
    pub lag_ms: Option<u64>,
    /// Reads served since start.
    pub reads: u64,
    /// Why it is out of rotation.
    pub error: Option<String>,
}

#[derive(Debug)]
struct Node {
    replica: Arc<dyn Replica>,
    store: Arc<dyn Store>,
    healthy: AtomicBool,
    lag_ms: AtomicU64,
    reads: AtomicU64,
    error: Mutex<Option<String>>,
}

#[derive(Debug)]
struct Inner {
    primary: Arc<dyn Store>,
    nodes: Vec<Node>,
    options: ReplicaOptions,
    primary_reads: AtomicU64,
    /// Keys written recently, until when their reads go to the primary.
    pinned: Mutex<HashMap<Uuid, Instant>>,
}

/// Routes reads that may go stale to a random healthy replica, everything else to the
/// primary. A background check every `check_every` takes a replica that fails, or whose
/// replay lag passes `max_lag`, out of rotation and brings it back when it answers in time; a
/// read that fails on a replica for any reason other than its answer (not found, bad input)
/// is retried on the primary, and a replica that did not answer leaves the rotation at once,
/// so a replica going down fails no read. With no healthy replica, reads go to the primary. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReplicaRouter {
    inner: Arc<Inner>,
}

impl ReplicaRouter {
    /// A router over `primary` and `replicas`, checked once now and then every
    /// `options.check_every` while the router lives (the check task holds only a weak
    /// reference).
    pub async fn start(
        primary: Arc<dyn Store>,
        replicas: Vec<Arc<dyn Replica>>,
        options: ReplicaOptions,
    ) -> Self {
        let nodes = replicas
            .into_iter()
            .map(|replica| Node {
                store: replica.store(),
                replica,
                healthy: AtomicBool::new(false),
                lag_ms: AtomicU64::new(u64::MAX),
                reads: AtomicU64::new(0),
                error: Mutex::new(Some("not checked yet".into())),
            })
            .collect();
        let inner = Arc::new(Inner {
            primary,
            nodes,
            options,
            primary_reads: AtomicU64::new(0),
            pinned: Mutex::new(HashMap::new()),
        });
        check_all(&inner).await;
        let weak = Arc::downgrade(&inner);
        tokio::spawn(check_forever(weak, options.check_every));
        Self { inner }
    }

    /// Sends reads about `key` to the primary for the read-your-writes window (a caller that
    /// wrote through another path, and must read its write back).
    pub fn pin_primary(&self, key: Uuid) {
        let until = Instant::now() + self.inner.options.read_your_writes;
        let mut pinned = lock(&self.inner.pinned);
        pinned.retain(|_, at| *at > Instant::now());
        pinned.insert(key, until);
    }

    /// The primary and every replica, as `/health/ready` shows them.
    pub fn status(&self) -> Vec<NodeStatus> {
        let mut all = vec![NodeStatus {
            node: "primary".into(),
            healthy: true,
            lag_ms: None,
            reads: self.inner.primary_reads.load(Ordering::Relaxed),
            error: None,
        }];
        all.extend(self.inner.nodes.iter().map(|n| {
            let lag = n.lag_ms.load(Ordering::Relaxed);
            NodeStatus {
                node: n.replica.label(),
                healthy: n.healthy.load(Ordering::Relaxed),
                lag_ms: (lag != u64::MAX).then_some(lag),
                reads: n.reads.load(Ordering::Relaxed),
                error: lock(&n.error).clone(),
            }
        }));
        all
    }

    fn pinned(&self, key: Option<Uuid>) -> bool {
        let Some(key) = key else { return false };
        lock(&self.inner.pinned)
            .get(&key)
            .is_some_and(|until| *until > Instant::now())
    }

    fn pick(&self) -> Option<&Node> {
        let healthy: Vec<&Node> = self
            .inner
            .nodes
            .iter()
            .filter(|n| n.healthy.load(Ordering::Relaxed))
            .collect();
        if healthy.is_empty() {
            return None;
        }
        Some(healthy[rand::rng().random_range(0..healthy.len())])
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn out_of_rotation(node: &Node, why: String) {
    if node.healthy.swap(false, Ordering::Relaxed) {
        tracing::warn!(replica = %node.replica.label(), reason = %why, "replica leaves the rotation");
    }
    *lock(&node.error) = Some(why);
}

async fn check(node: &Node, options: &ReplicaOptions) {
    let probe = tokio::time::timeout(
        options.check_every.max(Duration::from_millis(500)),
        node.replica.replay_lag(),
    );
    match probe.await {
        Ok(Ok(lag)) => {
            let ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
            node.lag_ms.store(ms, Ordering::Relaxed);
            if lag > options.max_lag {
                out_of_rotation(node, format!("replay lag {ms} ms is above the bound"));
            } else {
                if !node.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(replica = %node.replica.label(), lag_ms = ms, "replica in rotation");
                }
                *lock(&node.error) = None;
            }
        }
        Ok(Err(e)) => out_of_rotation(node, e.to_string()),
        Err(_) => out_of_rotation(node, "did not answer the health check in time".into()),
    }
}

async fn check_all(inner: &Inner) {
    futures::future::join_all(inner.nodes.iter().map(|n| check(n, &inner.options))).await;
}

async fn check_forever(inner: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        check_all(&inner).await;
    }
}

#[async_trait]
impl StorePolicy for ReplicaRouter {
    async fn run<T: Send + 'static>(&self, call: Call, op: &Op<T>) -> Result<T> {
        // A read for a value that fills a cache (`read_fresh`) goes to the primary too.
        let stale_ok =
            call.access == Access::Read && !super::reading_fresh() && !self.pinned(call.about);
        if stale_ok {
            if let Some(node) = self.pick() {
                match op(Arc::clone(&node.store)).await {
                    // The replica is gone: out of rotation, and the read goes to the primary.
                    Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => {
                        out_of_rotation(node, e.to_string());
                    }
                    // A read the standby could not serve (a query cancelled by a recovery
                    // conflict): the primary serves it; the replica stays in rotation.
                    Err(e) if e.kind() == ErrorKind::Backend => {
                        tracing::debug!(replica = %node.replica.label(), error = %e, "replica read failed; reading from the primary");
                    }
                    answer => {
                        node.reads.fetch_add(1, Ordering::Relaxed);
                        return answer;
                    }
                }
            }
            self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        } else if call.access != Access::Write {
            self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        }
        op(Arc::clone(&self.inner.primary)).await
    }

    fn wrote(&self, key: Uuid) {
        self.pin_primary(key);
    }

    fn engine(&self) -> &'static str {
        self.inner.primary.name()
    }

    async fn health(&self) -> Result<()> {
        self.inner.primary.health().await
    }
}
