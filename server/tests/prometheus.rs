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

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{LogTail, Spawned, free_port, stack, wait_until_serving};
use serde_json::{Value, json};
use stack_core::metrics::{Kind, SERIES};
use stack_core::queue::{NewJob, Priority};

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

/// One HTTP/1.1 request with `Connection: close`: the status and the body.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_owned()
    };
    (status, payload)
}

/// The body of a chunked response.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The samples of an instant query: each one's labels and value.
fn query(prometheus: u16, promql: &str) -> Vec<(Value, f64)> {
    let (status, body) = http(
        prometheus,
        "GET",
        &format!("/api/v1/query?query={}", encode(promql)),
        None,
    );
    assert_eq!(status, 200, "{promql}: {body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"].clone(),
                s["value"][1].as_str().unwrap().parse().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

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
fn unmet(prometheus: u16) -> Vec<String> {
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

fn prometheus_bin() -> String {
    std::env::var("STACK_TEST_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into())
}

/// Requests of both versions and their outcomes: users created and read twice (a cache miss,
/// then hits), a deposit confirmed (its notification job enqueued), an unknown user (404), a
/// body the API refuses (422).
fn drive_api(port: u16, round: usize) {
    let body = json!({
        "email": format!("u{round}-{}@example.com", uuid::Uuid::new_v4().simple()),
        "phone": "+14155550100", "full_name": "Metrics",
    });
    let (status, user) = http(port, "POST", "/api/v1/users", Some(&body));
    assert_eq!(status, 201, "{user}");
    let id = serde_json::from_str::<Value>(&user).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for version in ["v1", "v2", "v2"] {
        let (status, body) = http(port, "GET", &format!("/api/{version}/users/{id}"), None);
        assert_eq!(status, 200, "{body}");
    }
    // A confirmed deposit enqueues its notification, which the worker runs.
    let deposit = json!({
        "user_id": id, "chain": "ethereum", "tx_hash": format!("0x{}", uuid::Uuid::new_v4().simple()),
        "output_index": 0, "asset": "USDC", "amount": "12.50",
    });
    let (status, deposit) = http(port, "POST", "/api/v1/deposits", Some(&deposit));
    assert_eq!(status, 201, "{deposit}");
    let deposit = serde_json::from_str::<Value>(&deposit).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/deposits/{deposit}/confirm"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        http(port, "GET", &format!("/api/v2/users/{unknown}"), None).0,
        404
    );
    assert_eq!(
        http(port, "POST", "/api/v1/users", Some(&json!({ "email": 7 }))).0,
        422
    );
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

/// `Some` once Prometheus answers its readiness probe.
fn http_ready(port: u16) -> Option<()> {
    TcpStream::connect(("127.0.0.1", port)).ok()?;
    (http(port, "GET", "/-/ready", None).0 == 200).then_some(())
}
