//! Every series STACK emits, and the helpers that emit the ones several places share.
//!
//! Library code only emits through the `metrics` crate's macros: nothing here installs a
//! recorder, so a host that installs none pays next to nothing, and a host that installs its
//! own (Prometheus, StatsD, OpenTelemetry) gets every series. The `stack` binary installs a
//! Prometheus recorder and serves `/metrics` (docs/operations.md, "Metrics").
//!
//! [`SERIES`] is the catalogue: its names are what the binary describes (`# HELP`), what
//! docs/operations.md lists, and what the alert rules and the Grafana dashboard in `deploy/`
//! may query (tests check all three).

use std::time::Duration;

use crate::queue::{Enqueued, NewJob, QueueStats};

/// The kind of a series, as Prometheus shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// A value now.
    Gauge,
    /// Observations in buckets (`_bucket`, `_sum`, `_count`), for `histogram_quantile`.
    Histogram,
}

/// One series: its name, kind, labels and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// The metric's name (`stack_` prefix, unit suffix).
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its label names.
    pub labels: &'static [&'static str],
    /// What it measures (the `# HELP` text).
    pub help: &'static str,
}

const fn series(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Series {
    Series {
        name,
        kind,
        labels,
        help,
    }
}

use Kind::{Counter, Gauge, Histogram};

/// Every series STACK emits.
pub const SERIES: &[Series] = &[
    series(
        "stack_http_request_seconds",
        Histogram,
        &["version", "route", "method", "status"],
        "API request duration; route is the matched route template (`unmatched` when none), version the API version that served it (`none` outside /api)",
    ),
    series(
        "stack_db_statements_total",
        Counter,
        &["statement", "outcome"],
        "SQL statements run, by named statement (`select deposits`) and outcome (`ok`, `error`)",
    ),
    series(
        "stack_db_statement_seconds",
        Histogram,
        &["statement"],
        "SQL statement duration, by named statement",
    ),
    series(
        "stack_db_slow_queries_total",
        Counter,
        &["statement"],
        "SQL statements slower than database.slow_query_threshold",
    ),
    series(
        "stack_db_acquire_timeouts_total",
        Counter,
        &["node"],
        "callers that waited the whole database.acquire_timeout for a connection, by node (`primary` or a replica's label)",
    ),
    series(
        "stack_db_acquire_probe_seconds",
        Gauge,
        &["node"],
        "how long one connection took to acquire from a node's pool at the last sample, given up after half the sample interval (sampled)",
    ),
    series(
        "stack_store_calls_total",
        Counter,
        &["call", "outcome"],
        "Store calls at the top of the data path, by call and outcome",
    ),
    series(
        "stack_store_call_seconds",
        Histogram,
        &["call"],
        "Store call duration, replica fallback and breaker included",
    ),
    series(
        "stack_db_pool_connections",
        Gauge,
        &["node", "state"],
        "open connections of a node's pool, `idle` or `in_use` (sampled)",
    ),
    series(
        "stack_db_pool_max_connections",
        Gauge,
        &["node"],
        "the most connections a node's pool may open (sampled)",
    ),
    series(
        "stack_db_breaker_state",
        Gauge,
        &["state"],
        "1 for the circuit breaker's current state (`closed`, `open`, `half_open`), 0 for the others (sampled)",
    ),
    series(
        "stack_db_replica_healthy",
        Gauge,
        &["node"],
        "1 while a replica is in rotation, else 0 (sampled)",
    ),
    series(
        "stack_db_replica_lag_seconds",
        Gauge,
        &["node"],
        "a replica's last measured replay lag (sampled)",
    ),
    series(
        "stack_db_replica_reads_total",
        Counter,
        &["node"],
        "reads served by each node behind the replica router, the primary included (sampled)",
    ),
    series(
        "stack_cache_hits_total",
        Counter,
        &["tier"],
        "cache reads that found a live entry, by tier (`memory`, `first`, `redis`)",
    ),
    series(
        "stack_cache_misses_total",
        Counter,
        &["tier"],
        "cache reads that found nothing, by tier",
    ),
    series(
        "stack_cache_errors_total",
        Counter,
        &["tier"],
        "cache calls that failed (backend unreachable or erroring), by tier",
    ),
    series(
        "stack_queue_ready_jobs",
        Gauge,
        &["queue", "priority"],
        "jobs whose run time has passed, waiting for a worker (sampled)",
    ),
    series(
        "stack_queue_oldest_ready_age_seconds",
        Gauge,
        &["queue", "priority"],
        "how long the oldest ready job has waited since its run time; 0 with none (sampled)",
    ),
    series(
        "stack_queue_jobs",
        Gauge,
        &["queue", "state"],
        "jobs `scheduled` (run time ahead), `running` (leased) and `completed` (remembered for a unique key) (sampled)",
    ),
    series(
        "stack_queue_dead_letters",
        Gauge,
        &["queue"],
        "jobs in the dead-letter queue (sampled)",
    ),
    series(
        "stack_queue_worker_pools",
        Gauge,
        &["queue"],
        "worker pools whose last report to the queue is live, in every process (sampled)",
    ),
    series(
        "stack_queue_worker_capacity",
        Gauge,
        &["queue"],
        "jobs those pools may run at once, their sizes added up (sampled)",
    ),
    series(
        "stack_queue_sample_errors_total",
        Counter,
        &["queue"],
        "queue samples that failed (the queue's backend did not answer)",
    ),
    series(
        "stack_jobs_enqueued_total",
        Counter,
        &["type", "result"],
        "enqueues, `created` or `duplicate` (a live job held the unique key)",
    ),
    series(
        "stack_jobs_processed_total",
        Counter,
        &["type", "outcome"],
        "job runs ended by a worker: `ok`, `error` (retried or dead-lettered), `stopped` (lease lost or cancelled), `aborted` (shutdown grace over)",
    ),
    series(
        "stack_job_duration_seconds",
        Histogram,
        &["type", "outcome"],
        "job run duration in the handler",
    ),
    series(
        "stack_jobs_dead_lettered_total",
        Counter,
        &["type"],
        "jobs a worker sent to the dead-letter queue",
    ),
];

/// Counts an enqueue of a job of `job_type` (`stack_jobs_enqueued_total`).
pub fn enqueued(job_type: &str, enqueued: &Enqueued) {
    let result = match enqueued {
        Enqueued::Created(_) => "created",
        Enqueued::Duplicate(_) => "duplicate",
    };
    metrics::counter!("stack_jobs_enqueued_total", "type" => job_type.to_owned(), "result" => result)
        .increment(1);
}

/// Counts the enqueues of `jobs`, `done` being their results in order.
pub fn enqueued_batch(jobs: &[NewJob], done: &[Enqueued]) {
    for (job, result) in jobs.iter().zip(done) {
        enqueued(&job.job_type, result);
    }
}

/// Records a job run that ended with `outcome` after `elapsed`
/// (`stack_jobs_processed_total`, `stack_job_duration_seconds`).
pub fn job_ended(job_type: &str, outcome: &'static str, elapsed: Duration) {
    let job_type = job_type.to_owned();
    metrics::counter!("stack_jobs_processed_total", "type" => job_type.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("stack_job_duration_seconds", "type" => job_type, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// Counts a job a worker sent to the dead letters (`stack_jobs_dead_lettered_total`).
pub fn dead_lettered(job_type: &str) {
    metrics::counter!("stack_jobs_dead_lettered_total", "type" => job_type.to_owned()).increment(1);
}

/// Counts a cache read in `tier` (`stack_cache_hits_total` or `stack_cache_misses_total`).
pub fn cache_reads(tier: &'static str, hits: u64, misses: u64) {
    if hits > 0 {
        metrics::counter!("stack_cache_hits_total", "tier" => tier).increment(hits);
    }
    if misses > 0 {
        metrics::counter!("stack_cache_misses_total", "tier" => tier).increment(misses);
    }
}

/// Counts a failed cache call in `tier` (`stack_cache_errors_total`).
pub fn cache_error(tier: &'static str) {
    metrics::counter!("stack_cache_errors_total", "tier" => tier).increment(1);
}

/// Sets the queue gauges of `queue` from a snapshot: ready jobs and the oldest ready job's
/// age per priority, scheduled, running and remembered completed jobs, dead letters.
pub fn queue_stats(queue: &str, stats: &QueueStats) {
    for (priority, ready) in &stats.by_priority {
        let labels = [
            ("queue", queue.to_owned()),
            ("priority", priority.as_str().to_owned()),
        ];
        metrics::gauge!("stack_queue_ready_jobs", &labels).set(ready.ready as f64);
        let age = ready.oldest_ready_age_ms.unwrap_or(0) as f64 / 1000.0;
        metrics::gauge!("stack_queue_oldest_ready_age_seconds", &labels).set(age);
    }
    for (state, count) in [
        ("scheduled", stats.scheduled),
        ("running", stats.running),
        ("completed", stats.completed),
    ] {
        metrics::gauge!("stack_queue_jobs", "queue" => queue.to_owned(), "state" => state)
            .set(count as f64);
    }
    metrics::gauge!("stack_queue_dead_letters", "queue" => queue.to_owned()).set(stats.dead as f64);
}

/// Sets the worker gauges of `queue` from its registry: live pools and their sizes added up.
pub fn queue_workers(queue: &str, workers: &[crate::queue::LiveWorker]) {
    let capacity = workers
        .iter()
        .map(|w| w.beat.size)
        .fold(0u64, u64::saturating_add);
    metrics::gauge!("stack_queue_worker_pools", "queue" => queue.to_owned())
        .set(workers.len() as f64);
    metrics::gauge!("stack_queue_worker_capacity", "queue" => queue.to_owned())
        .set(capacity as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_unique_and_carry_their_unit() {
        let mut seen = std::collections::HashSet::new();
        for s in SERIES {
            assert!(s.name.starts_with("stack_"), "{}", s.name);
            assert!(seen.insert(s.name), "{} twice", s.name);
            match s.kind {
                Kind::Counter => assert!(s.name.ends_with("_total"), "{}", s.name),
                Kind::Histogram => assert!(s.name.ends_with("_seconds"), "{}", s.name),
                Kind::Gauge => assert!(!s.name.ends_with("_total"), "{}", s.name),
            }
        }
    }
}
