//! The sampler: one task per process that reads the queue, the pool, the breaker and the
//! replicas into gauges every `metrics.sample_interval`, so a scrape never queries a backend.

use std::time::Duration;

use stack_core::datapath::BreakerState;
use tokio_util::sync::CancellationToken;

use crate::backends::Backends;

/// Samples `backends` every `every` until `stop` is cancelled (see [`sample`]); `queue` is
/// the `queue` label (`queue.name`). A sample that takes longer than `every` is abandoned and
/// counted as a failure.
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
        if tokio::time::timeout(every, sample(&backends, &queue))
            .await
            .is_err()
        {
            metrics::counter!("stack_queue_sample_errors_total", "queue" => queue.clone())
                .increment(1);
        }
    }
}

/// One sample of `backends` into gauges: the primary pool's connections, the breaker's
/// state, each replica's health, lag and reads (read from this process), then the queue's
/// depth by priority and state, its oldest ready job's age and dead letters (one
/// `Queue::stats` call) and the live worker pools (one `Queue::workers` call; none on a
/// backend without a registry).
pub async fn sample(backends: &Backends, queue: &str) {
    pool(backends);
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
    // The queue last: its calls go over the network (and may hang until the sample is cut
    // off); the gauges above are read from this process and are set whatever it does.
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

/// The primary pool's connections.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn pool(backends: &Backends) {
    let Some(database) = &backends.database else {
        return;
    };
    let stats = database.pool_stats();
    for (state, count) in [("idle", stats.idle), ("in_use", stats.in_use)] {
        metrics::gauge!("stack_db_pool_connections", "node" => "primary", "state" => state)
            .set(f64::from(count));
    }
    metrics::gauge!("stack_db_pool_max_connections", "node" => "primary").set(f64::from(stats.max));
}

/// No SQL pool in a build without an SQL backend.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn pool(_backends: &Backends) {}
