//! `Backends::builder`: the app reports and serves the host's own Store, cache and queue.

use std::sync::Arc;
use std::time::Duration;

use poem::http::StatusCode;
use poem::test::TestClient;
use stack_core::config::ApiConfig;
use stack_core::queue::NewJob;
use stack_core::store::Store;
use stack_core::worker::{Handlers, JobContext, JobError, WorkerOptions, WorkerPool};
use stack_server::app::{self, AppOptions};
use stack_server::backends::Backends;
use tokio::sync::mpsc;

use super::{TOKEN, host_backends, send};

fn api() -> ApiConfig {
    ApiConfig {
        admin_token: Some(TOKEN.into()),
        ..ApiConfig::default()
    }
}

/// Ready jobs of the queue, as the admin API reports them.
fn ready(stats: &serde_json::Value) -> u64 {
    stats["by_priority"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ready"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn the_app_reports_and_serves_the_host_s_own_queue() {
    let (store, cache, queue) = host_backends().await;
    let store: Arc<dyn Store> = Arc::new(store);
    // No breaker, replicas or database: the host gives only its three backends.
    let backends = Backends::builder(store, cache, Arc::clone(&queue))
        .build()
        .unwrap();
    // Without an SQL database the rail is refused unless the host says it wants none.
    for refused in [
        app::build_with(backends.clone(), &api(), AppOptions::new()).map(drop),
        app::build(backends.clone(), &api()).map(drop),
    ] {
        match refused {
            Err(stack_core::Error::Invalid { field, .. }) => assert_eq!(field, "app.rail"),
            other => panic!("the rail without a database: {:?}", other.err()),
        }
    }
    let app = app::build_with(backends, &api(), AppOptions::new().without_rail()).unwrap();
    let client = TestClient::new(app).default_header("authorization", format!("Bearer {TOKEN}"));

    let (status, _, ready_report) = send(client.get("/health/ready")).await;
    assert_eq!(status, StatusCode::OK, "{ready_report}");
    let checks = ready_report["checks"].as_array().unwrap();
    let names: Vec<_> = checks
        .iter()
        .map(|c| (c["name"].clone(), c["backend"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("store".into(), "sqlite".into()),
            ("cache".into(), "memory".into()),
            ("queue".into(), "memory".into())
        ]
    );
    // The queue's namespace is the host's handle's, beside its backend name.
    assert_eq!(
        checks[2]["namespace"].as_str(),
        queue.location().map(|l| l.namespace).as_deref(),
        "{ready_report}"
    );
    assert!(checks[2]["namespace"].is_string(), "{ready_report}");
    // Nothing to report on a pool or breaker the host did not give, and no panic.
    assert!(
        ready_report.get("database_pool").is_none(),
        "{ready_report}"
    );
    assert!(
        ready_report.get("database_circuit").is_none(),
        "{ready_report}"
    );

    // The host enqueues on its own queue: the app's admin API sees that very job.
    queue
        .enqueue(NewJob::new("host.ping", serde_json::json!({ "n": 7 })))
        .await
        .unwrap();
    let (status, _, stats) = send(client.get("/admin/queue/stats")).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(ready(&stats), 1, "{stats}");

    // A pool on the host's queue runs it, and the app's stats show it gone.
    let (ran, mut runs) = mpsc::unbounded_channel();
    let handlers = Handlers::new().register_fn(
        "host.ping",
        move |payload: serde_json::Value, _: JobContext| {
            let ran = ran.clone();
            async move {
                ran.send(payload)
                    .map_err(|e| JobError::permanent(e.to_string()))
            }
        },
    );
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, WorkerOptions::default()).unwrap();
    let payload = tokio::time::timeout(Duration::from_secs(10), runs.recv())
        .await
        .expect("the pool runs the host's job")
        .unwrap();
    assert_eq!(payload["n"], 7);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, stats) = send(client.get("/admin/queue/stats")).await;
        if ready(&stats) == 0 && stats["running"] == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.stop().await;

    // What needs an SQL database answers without one: the status leaves the pool out, a
    // plan is a problem, and the rail API, left out, is not mounted.
    let (status, _, data_path) = send(client.get("/admin/diagnostics/status")).await;
    assert_eq!(status, StatusCode::OK, "{data_path}");
    assert_eq!(data_path["queue"], "memory");
    assert!(data_path.get("pool").is_none(), "{data_path}");
    let (status, content_type, _) = send(client.get("/admin/diagnostics/explain/list_users")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    let (status, _, _) = send(client.get("/api/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_host_s_database_brings_its_pool_figures_and_the_rail() {
    let (store, cache, queue) = host_backends().await;
    let backends = Backends::builder(Arc::new(store.clone()), cache, queue)
        .sql_store(store)
        .build()
        .unwrap();
    let app = app::build(backends, &api()).unwrap();
    let client = TestClient::new(app);

    let (status, _, report) = send(client.get("/health/ready")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(
        report["database_pool"]["max"].as_u64().unwrap() >= 1,
        "{report}"
    );
    let (status, _, created) = send(client.post("/api/v2/users").body_json(&serde_json::json!({
        "email": "host-db@example.com",
        "full_name": "Host Database"
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}
