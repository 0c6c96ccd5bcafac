//! The seed's monitoring list as PromQL checks, and which of them do not hold yet.

use crate::client::query;

/// What the seed's monitoring list asks of the running server, each a PromQL expression
/// with a positive sample, and a positive sample for each label value listed.
const CHECKS: &[(&str, &str, &[&str])] = &[
    (
        "statement p50",
        "histogram_quantile(0.5, sum by (le, statement) (rate(stack_db_statement_seconds_bucket[1m])))",
        &["select users", "insert users"],
    ),
    (
        "statement p95",
        "histogram_quantile(0.95, sum by (le, statement) (rate(stack_db_statement_seconds_bucket[1m])))",
        &["select users"],
    ),
    (
        "statement p99",
        "histogram_quantile(0.99, sum by (le) (rate(stack_db_statement_seconds_bucket[1m])))",
        &[],
    ),
    (
        "slow-query rate",
        "sum(rate(stack_db_slow_queries_total[1m]))",
        &[],
    ),
    (
        "cache hit ratio",
        "sum(rate(stack_cache_hits_total[1m])) / (sum(rate(stack_cache_hits_total[1m])) + sum(rate(stack_cache_misses_total[1m])))",
        &[],
    ),
    (
        "cache hits by tier",
        "sum by (tier) (stack_cache_hits_total)",
        &["first", "redis"],
    ),
    (
        "cache misses by tier",
        "sum by (tier) (stack_cache_misses_total)",
        &["first", "redis"],
    ),
    (
        "queue depth by priority, while jobs waited",
        "max by (priority) (max_over_time(stack_queue_ready_jobs[5m]))",
        &["high", "low", "critical"],
    ),
    (
        "oldest ready job's age",
        "max by (priority) (max_over_time(stack_queue_oldest_ready_age_seconds[5m]))",
        &["high", "low"],
    ),
    ("dead letters", "stack_queue_dead_letters", &["default"]),
    (
        "pool utilisation",
        "max_over_time((sum(stack_db_pool_connections{state=\"in_use\"}) / sum(stack_db_pool_max_connections))[5m:1s])",
        &[],
    ),
    (
        "acquire probe by node",
        "max by (node) (max_over_time(stack_db_acquire_probe_seconds[5m]))",
        &["primary"],
    ),
    (
        "API p95 by version",
        "histogram_quantile(0.95, sum by (le, version) (rate(stack_http_request_seconds_bucket{version!=\"none\"}[1m])))",
        &["v1", "v2"],
    ),
    (
        "API 4xx rate",
        "sum by (status) (rate(stack_http_request_seconds_count{status=~\"4..\"}[1m]))",
        &["404", "422"],
    ),
    (
        "jobs enqueued through the API",
        "sum by (type) (stack_jobs_enqueued_total)",
        &["rail.deposit_confirmed"],
    ),
    (
        "jobs processed by the worker",
        "sum by (outcome) (stack_jobs_processed_total{process=\"worker\"})",
        &["ok", "error"],
    ),
    (
        "job p95 by type",
        // Since start: the worker's first scrape already holds the jobs it ran at once, so a
        // rate would see no increase.
        "histogram_quantile(0.95, sum by (le, type) (stack_job_duration_seconds_bucket))",
        &["metrics.test.unhandled", "rail.deposit_confirmed"],
    ),
    (
        "jobs dead-lettered",
        "sum(stack_jobs_dead_lettered_total)",
        &[],
    ),
    (
        "breaker closed",
        "stack_db_breaker_state{state=\"closed\", process=\"serve\"}",
        &[],
    ),
];

/// The checks that do not hold yet, each with what Prometheus answered.
pub(crate) fn unmet(prometheus: u16) -> Vec<String> {
    let mut unmet = Vec::new();
    for (name, promql, labels) in CHECKS {
        let samples = query(prometheus, promql);
        // A quantile is NaN for a series with no sample in its window: one positive is enough.
        let positive = samples.iter().any(|(_, v)| *v > 0.0);
        let named = labels.iter().all(|label| {
            samples.iter().any(|(metric, v)| {
                *v > 0.0 && metric.as_object().unwrap().values().any(|l| l == label)
            })
        });
        if !positive || !named {
            unmet.push(format!("{name}: {promql} -> {samples:?}"));
        }
    }
    unmet
}
