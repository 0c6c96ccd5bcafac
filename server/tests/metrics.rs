//! `/metrics` through the app: the API's request durations labelled by route template (never
//! the raw path) and version, the sampler's gauges, and no `/metrics` unless a handle is given.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

use poem::http::StatusCode;
use poem::test::TestClient;
use stack_core::config::Config;
use stack_server::app::{self, AppOptions};
use stack_server::backends::Backends;
use stack_server::metrics;

async fn backends() -> Backends {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    config.queue.backend = "memory://".into();
    Backends::open(&config).await.unwrap()
}

#[tokio::test]
async fn metrics_label_requests_by_route_template_and_version_and_show_the_sampled_gauges() {
    let handle = metrics::install().unwrap();
    let backends = backends().await;
    let options = AppOptions::new().metrics(handle);
    let app = app::build_with(backends.clone(), &Config::default().api, options).unwrap();
    let client = TestClient::new(app);

    let created = client
        .post("/api/v1/users")
        .body_json(&serde_json::json!({
            "email": "ana@example.com", "phone": "+14155550100", "full_name": "Ana"
        }))
        .send()
        .await;
    created.assert_status(StatusCode::CREATED);
    let user: serde_json::Value = created.json().await.value().deserialize();
    let id = user["id"].as_str().unwrap().to_owned();
    client
        .get(format!("/api/v2/users/{id}"))
        .send()
        .await
        .assert_status_is_ok();
    let unknown = uuid::Uuid::new_v4();
    client
        .get(format!("/api/v1/users/{unknown}"))
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
    client
        .get("/no/such/route")
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
    for size in [4, 8] {
        let beat = stack_core::queue::WorkerBeat {
            id: uuid::Uuid::new_v4(),
            host: "metrics-host".into(),
            pid: 7,
            started_at: chrono::Utc::now(),
            size,
            max: size,
            jobs: Vec::new(),
            stats: stack_core::worker::WorkerStats::default(),
        };
        let ttl = std::time::Duration::from_secs(60);
        backends.queue.record_worker(&beat, ttl).await.unwrap();
    }
    metrics::sample(&backends, "default", std::time::Duration::from_secs(1)).await;

    let scraped = client.get("/metrics").send().await;
    scraped.assert_status_is_ok();
    scraped.assert_content_type(metrics::CONTENT_TYPE);
    let text = scraped.0.into_body().into_string().await.unwrap();
    let series = |needle: &str| {
        text.lines()
            .any(|l| !l.starts_with('#') && l.contains(needle))
    };
    for needle in [
        r#"stack_http_request_seconds_count{version="v1",route="/api/v1/users",method="POST",status="201"} 1"#,
        r#"version="v2",route="/api/v2/users/:"#,
        r#"route="unmatched",method="GET",status="404"} 1"#,
        r#"stack_http_request_seconds_bucket{version="v1",route="/api/v1/users",method="POST",status="201",le="0.0005"}"#,
        r#"stack_queue_ready_jobs{queue="default",priority="critical"} 0"#,
        r#"stack_queue_dead_letters{queue="default"} 0"#,
        r#"stack_queue_worker_pools{queue="default"} 2"#,
        r#"stack_queue_worker_capacity{queue="default"} 12"#,
        r#"stack_db_pool_max_connections{node="primary"} 1"#,
        r#"stack_db_acquire_probe_seconds{node="primary"} "#,
        r#"stack_db_breaker_state{state="closed"} 1"#,
        "stack_db_statement_seconds_bucket{",
    ] {
        assert!(series(needle), "no {needle} in\n{text}");
    }
    assert!(
        text.contains("# HELP stack_http_request_seconds "),
        "{text}"
    );
    // The raw path never becomes a label: ids would make a series per resource.
    assert!(
        !text.contains(&id) && !text.contains(&unknown.to_string()),
        "{text}"
    );
    assert!(!text.contains("/no/such/route"), "{text}");
}

#[tokio::test]
async fn without_a_handle_there_is_no_metrics_route() {
    let app = app::build(backends().await, &Config::default().api).unwrap();
    let client = TestClient::new(app);
    client
        .get("/metrics")
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
