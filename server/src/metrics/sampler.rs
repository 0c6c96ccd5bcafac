//! The sampler: one task per process that reads the queue, the pool, the breaker and the
//! replicas into gauges every `metrics.sample_interval`, so a scrape never queries a backend.

use std::time::Duration;

use stack_core::datapath::BreakerState;
use tokio_util::sync::CancellationToken;

use crate::backends::Backends;

/// Samples `backends` every `every` until `stop` is cancelled (see [`sample`]); `queue` is
/// the `queue` label (`queue.name`). A sample that takes longer than `every` is abandoned and
/// counted as a failure; the acquire probes give up after half of `every`, so a saturated
/// pool shows in its probe rather than in an abandoned sample.
pub async fn sample_every(
    backends: Backends,
    queue: String,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        if tokio::time::timeout(every, sample(&backends, &queue, every / 2))
            .await
            .is_err()
        {
            metrics::counter!("stack_queue_sample_errors_total", "queue" => queue.clone())
                .increment(1);
        }
    }
}

/// One sample of `backends` into gauges. First what this process knows: the pool figures
/// of each node (the primary and every replica of [`Backends::replica_pools`]), the
/// breaker's state, each replica's health, lag and reads. Then, together, what goes over the
/// network: one acquire timed on each node's pool
/// ([`SqlStore::probe_acquire`](stack_backends::sql::SqlStore::probe_acquire), given up after
/// `probe_within`), and the queue's depth by priority and state, its oldest ready job's age
/// and dead letters (one `Queue::stats` call) and the live worker pools (one `Queue::workers`
/// call; none on a backend without a registry). Each gauge is set as soon as its own answer
/// comes, so a queue that hangs until the sample is cut off does not hold back the probes.
pub async fn sample(backends: &Backends, queue: &str, probe_within: Duration) {
    pool_figures(backends);
    if let Some(breaker) = &backends.breaker {
        let now = breaker.state();
        for (state, name) in [
            (BreakerState::Closed, "closed"),
            (BreakerState::Open, "open"),
            (BreakerState::HalfOpen, "half_open"),
        ] {
            metrics::gauge!("stack_db_breaker_state", "state" => name).set(if now == state {
                1.0
            } else {
                0.0
            });
        }
    }
    for node in backends
        .replicas
        .as_ref()
        .map(|r| r.status())
        .unwrap_or_default()
    {
        let label = node.node;
        metrics::counter!("stack_db_replica_reads_total", "node" => label.clone())
            .absolute(node.reads);
        if label == "primary" {
            continue;
        }
        metrics::gauge!("stack_db_replica_healthy", "node" => label.clone()).set(if node.healthy {
            1.0
        } else {
            0.0
        });
        if let Some(lag) = node.lag_ms {
            metrics::gauge!("stack_db_replica_lag_seconds", "node" => label)
                .set(lag as f64 / 1000.0);
        }
    }
    tokio::join!(
        probes(backends, probe_within),
        queue_gauges(backends, queue)
    );
}

/// The queue's gauges (see [`sample`]); a failed call is counted in
/// `stack_queue_sample_errors_total`.
async fn queue_gauges(backends: &Backends, queue: &str) {
    match backends.queue.stats().await {
        Ok(stats) => stack_core::metrics::queue_stats(queue, &stats),
        Err(error) => {
            tracing::debug!(%error, "queue stats for metrics failed");
            metrics::counter!("stack_queue_sample_errors_total", "queue" => queue.to_owned())
                .increment(1);
        }
    }
    match backends.queue.workers().await {
        Ok(live) => stack_core::metrics::queue_workers(queue, &live),
        Err(stack_core::Error::Unsupported { .. }) => {}
        Err(error) => {
            tracing::debug!(%error, "queue workers for metrics failed");
            metrics::counter!("stack_queue_sample_errors_total", "queue" => queue.to_owned())
                .increment(1);
        }
    }
}

/// Each node's pool with its `node` label: the primary's, then each replica's.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn nodes(backends: &Backends) -> Vec<(String, &stack_backends::sql::SqlStore)> {
    use stack_core::datapath::Replica;

    let primary = backends
        .database
        .iter()
        .map(|db| ("primary".to_owned(), db));
    let replicas = backends
        .replica_pools
        .iter()
        .map(|replica| (replica.label(), replica.database()));
    primary.chain(replicas).collect()
}

/// Each node's pool connections now.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn pool_figures(backends: &Backends) {
    for (node, database) in nodes(backends) {
        let stats = database.pool_stats();
        for (state, count) in [("idle", stats.idle), ("in_use", stats.in_use)] {
            metrics::gauge!("stack_db_pool_connections", "node" => node.clone(), "state" => state)
                .set(f64::from(count));
        }
        metrics::gauge!("stack_db_pool_max_connections", "node" => node).set(f64::from(stats.max));
    }
}

/// One acquire timed on every node's pool at once, each gauge set when its probe ends.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn probes(backends: &Backends, within: Duration) {
    futures::future::join_all(
        nodes(backends)
            .into_iter()
            .map(|(node, database)| async move {
                let waited = database.probe_acquire(within).await;
                metrics::gauge!("stack_db_acquire_probe_seconds", "node" => node)
                    .set(waited.as_secs_f64());
            }),
    )
    .await;
}

/// No SQL pool in a build without an SQL backend.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn pool_figures(_backends: &Backends) {}

/// No SQL pool in a build without an SQL backend.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
async fn probes(_backends: &Backends, _within: Duration) {}
