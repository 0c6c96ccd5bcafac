//! A real Prometheus scrapes a running `stack serve` (on its API port) and a `stack worker`
//! (on `metrics.listen`) while work runs: requests of both API versions, 4xx among them,
//! reads through the two-tier cache (Redis behind a first tier), jobs at several priorities
//! left waiting until the worker starts, dead letters, every statement slow (threshold 0s).
//! Then the monitoring list of the seed is queried over Prometheus's HTTP API, and each
//! series must have moved: statement p50/p95/p99, the cache hit ratio, the queue depth by
//! priority, the dead letters, the pool's utilisation, the API's response time by version.
//!
//! Prometheus comes from `STACK_TEST_PROMETHEUS_BIN` (scripts/services.sh installs Debian's
//! `prometheus` package and exports it) or `prometheus` on the `PATH`; without it the test
//! fails, it never skips.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod checks;
mod client;
#[path = "../common/mod.rs"]
mod common;
mod traffic;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checks::unmet;
use client::{http, http_ready, query};
use common::{LogTail, Spawned, free_port, stack, wait_until_serving};
use serde_json::{Value, json};
use stack_core::metrics::{Kind, SERIES};
use stack_core::queue::{NewJob, Priority};
use traffic::drive_api;

/// How long the whole scrape-and-query loop may take.
const DEADLINE: Duration = Duration::from_secs(90);

/// A directory of its own, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("stack-prometheus-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn prometheus_bin() -> String {
    std::env::var("STACK_TEST_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into())
}

#[test]
fn a_real_prometheus_finds_every_series_of_the_monitoring_list_moving() {
    let dir = TempDir::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let redis = runtime.block_on(stack_tests::services::redis());
    let (api, worker_metrics, prometheus) = (free_port(), free_port(), free_port());
    let db = dir.0.join("stack.db");
    let config = format!(
        "database:\n  url: sqlite://{db}?mode=rwc\n  slow_query_threshold: 0s\n\
         redis:\n  url: {redis}\n\
         cache:\n  backend: redis://\n  key_prefix: \"metrics-test:{id}:cache:\"\n  store_ttl: 60s\n  first_tier_ttl: 2s\n\
         queue:\n  backend: database://\n\
         workers:\n  in_serve: false\n  count: 2\n\
         log:\n  level: error\n\
         metrics:\n  sample_interval: 250ms\n",
        db = db.display(),
        redis = redis.url,
        id = uuid::Uuid::new_v4().simple(),
    );
    let config_file = dir.0.join("stack.yaml");
    std::fs::write(&config_file, &config).unwrap();

    let mut serve = Spawned::new(
        stack()
            .args(["serve", "--port", &api.to_string(), "--config"])
            .arg(&config_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let _serve_logs = LogTail::new(&mut serve);
    wait_until_serving(api);

    let scrape = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: stack\n    static_configs:\n\
         \x20     - targets: ['127.0.0.1:{api}']\n        labels: {{process: serve}}\n\
         \x20     - targets: ['127.0.0.1:{worker_metrics}']\n        labels: {{process: worker}}\n"
    );
    let scrape_file = dir.0.join("prometheus.yml");
    std::fs::write(&scrape_file, scrape).unwrap();
    let log = std::fs::File::create(dir.0.join("prometheus.log")).unwrap();
    let started = Instant::now();
    let child = Command::new(prometheus_bin())
        .arg(format!("--config.file={}", scrape_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "Prometheus is required by this test and was not found ({} : {e}).\n\
                 Run scripts/services.sh (it installs Debian's `prometheus` package) or set \
                 STACK_TEST_PROMETHEUS_BIN.",
                prometheus_bin()
            )
        });
    let _prometheus = Spawned::new(child);
    while http_ready(prometheus).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus did not get ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Jobs that wait (no worker yet) at three priorities; the worker has no handler for
    // them, so each becomes a dead letter once it runs.
    let queue = runtime.block_on(async {
        let mut config = stack_core::config::Config::from_yaml_str(&config).unwrap();
        config.cache.backend = "memory://".into();
        config.cache.store_ttl = None;
        stack_backends::context::BackendContext::new(config)
            .queue()
            .await
            .unwrap()
    });
    let jobs: Vec<NewJob> = [
        Priority::Critical,
        Priority::High,
        Priority::High,
        Priority::Low,
    ]
    .into_iter()
    .map(|p| {
        NewJob::new("metrics.test.unhandled", json!({}))
            .priority(p)
            .max_attempts(1)
    })
    .collect();
    runtime.block_on(queue.enqueue_batch(jobs)).unwrap();

    // Reads that keep the pool busy beside the rounds below, so that samples (every 250 ms)
    // find connections in use: "pool utilisation" is a point reading, and single requests
    // between samples are easily missed.
    let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let reading = std::sync::Arc::clone(&reading);
            std::thread::spawn(move || {
                while reading.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, body) = http(api, "GET", "/api/v1/users?limit=100", None);
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    let mut worker = None;
    let mut round = 0;
    let mut waiting = unmet(prometheus);
    while !waiting.is_empty() {
        assert!(
            started.elapsed() < DEADLINE,
            "after {DEADLINE:?} these series had not moved:\n{}",
            waiting.join("\n")
        );
        drive_api(api, round);
        round += 1;
        // The worker starts once Prometheus has seen the jobs wait.
        let seen_waiting = !query(
            prometheus,
            "max_over_time(stack_queue_ready_jobs{priority=\"high\"}[5m]) > 0",
        )
        .is_empty();
        if worker.is_none() && seen_waiting {
            let mut child = Spawned::new(
                stack()
                    .args(["worker", "--config"])
                    .arg(&config_file)
                    .env(
                        "STACK__METRICS__LISTEN",
                        format!("127.0.0.1:{worker_metrics}"),
                    )
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
            let logs = LogTail::new(&mut child);
            worker = Some((child, logs));
        }
        std::thread::sleep(Duration::from_millis(500));
        waiting = unmet(prometheus);
    }
    reading.store(false, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    eprintln!(
        "every series moved after {:?} ({round} rounds)",
        started.elapsed()
    );

    // Every series of the catalogue that this run exercises is known to Prometheus.
    let (_, names) = http(prometheus, "GET", "/api/v1/label/__name__/values", None);
    let names: Value = serde_json::from_str(&names).unwrap();
    let names: Vec<&str> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Not exercised here: no replicas, no failing backend, no pool exhausted.
    let absent = [
        "stack_db_replica_healthy",
        "stack_db_replica_lag_seconds",
        "stack_db_replica_reads_total",
        "stack_cache_errors_total",
        "stack_db_acquire_timeouts_total",
        "stack_queue_sample_errors_total",
    ];
    for series in SERIES.iter().filter(|s| !absent.contains(&s.name)) {
        let name = match series.kind {
            Kind::Histogram => format!("{}_bucket", series.name),
            _ => series.name.to_owned(),
        };
        assert!(
            names.contains(&name.as_str()),
            "Prometheus has no {name}: {names:?}"
        );
    }
}
