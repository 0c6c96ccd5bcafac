//! The server's routes, exercised through poem's test client over real memory backends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use poem::http::StatusCode;
use poem::test::TestClient;
use stack_core::cache::{Cache, CacheCapabilities, CacheStats};
use stack_core::config::Config;
use stack_core::{Error, Result};
use stack_server::app;
use stack_server::backends::Backends;

/// The default backends over an in-memory SQLite database.
async fn backends() -> Backends {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    Backends::open(&config)
        .await
        .expect("default backends open")
}

fn app(backends: Backends) -> impl poem::Endpoint {
    app::build(backends, &Config::default().api).expect("the default API configuration is valid")
}

#[tokio::test]
async fn live_and_ready_answer_with_one_entry_per_backend() {
    let client = TestClient::new(app(backends().await));
    let live = client.get("/health/live").send().await;
    live.assert_status_is_ok();
    live.assert_json(serde_json::json!({ "status": "up" }))
        .await;

    let ready = client.get("/health/ready").send().await;
    ready.assert_status_is_ok();
    let body = ready.json().await;
    let report = body.value().object();
    report.get("status").assert_string("up");
    let checks = report.get("checks").array();
    assert_eq!(checks.len(), 3);
    let names: Vec<String> = checks
        .iter()
        .map(|c| c.object().get("name").string().to_owned())
        .collect();
    assert_eq!(names, ["store", "cache", "queue"]);
    for (check, backend) in checks.iter().zip(["sqlite", "memory", "sqlite"]) {
        let check = check.object();
        check.get("backend").assert_string(backend);
        check.get("status").assert_string("up");
        assert!(check.get("latency_ms").f64() >= 0.0);
    }
}

/// A cache whose server is gone: every call fails as a real unreachable backend would.
#[derive(Debug)]
struct UnreachableCache;

fn unreachable() -> Error {
    Error::unavailable(
        "cache server",
        std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
    )
}

#[async_trait]
impl Cache for UnreachableCache {
    fn name(&self) -> &'static str {
        "unreachable"
    }
    fn capabilities(&self) -> CacheCapabilities {
        CacheCapabilities::default()
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(unreachable())
    }
    async fn get_many(&self, _: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        Err(unreachable())
    }
    async fn set(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<()> {
        Err(unreachable())
    }
    async fn increment(&self, _: &str, _: i64, _: Option<Duration>) -> Result<i64> {
        Err(unreachable())
    }
    async fn set_if_absent(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<bool> {
        Err(unreachable())
    }
    async fn expire(&self, _: &str, _: Duration) -> Result<bool> {
        Err(unreachable())
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        Err(unreachable())
    }
    async fn delete_many(&self, _: &[String]) -> Result<u64> {
        Err(unreachable())
    }
    async fn delete_pattern(&self, _: &str) -> Result<u64> {
        Err(unreachable())
    }
    async fn health(&self) -> Result<()> {
        Err(unreachable())
    }
    async fn stats(&self) -> Result<CacheStats> {
        Err(unreachable())
    }
}

#[tokio::test]
async fn ready_is_503_and_names_the_backend_that_is_down() {
    let mut backends = backends().await;
    backends.cache = Arc::new(UnreachableCache);
    let client = TestClient::new(app(backends));
    let ready = client.get("/health/ready").send().await;
    ready.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    let body = ready.json().await;
    let report = body.value().object();
    report.get("status").assert_string("down");
    let cache = report.get("checks").array().get(1).object();
    cache.get("status").assert_string("down");
    assert!(cache.get("error").string().contains("unavailable"));
    report
        .get("checks")
        .array()
        .get(2)
        .object()
        .get("status")
        .assert_string("up");
}

#[tokio::test]
async fn openapi_document_and_swagger_ui_are_served() {
    let client = TestClient::new(app(backends().await));
    let spec = client.get("/openapi.json").send().await;
    spec.assert_status_is_ok();
    let spec = spec.json().await;
    let paths = spec.value().object().get("paths").object();
    paths.get("/health/live").object();
    paths.get("/health/ready").object();
    // A field left out when empty is not required (schemathesis found the response invalid).
    let readiness = spec
        .value()
        .object()
        .get("components")
        .object()
        .get("schemas");
    let required = readiness.object().get("Readiness").object().get("required");
    assert!(
        !required.string_array().contains(&"database_nodes"),
        "database_nodes is omitted when empty"
    );

    let docs = client.get("/docs").send().await;
    docs.assert_status_is_ok();
    let html = docs.0.into_body().into_string().await.unwrap();
    assert!(html.contains("swagger"), "the docs page is Swagger UI");
}

#[tokio::test]
async fn unknown_routes_answer_problem_json() {
    let client = TestClient::new(app(backends().await));
    let missing = client.get("/no/such/thing").send().await;
    missing.assert_status(StatusCode::NOT_FOUND);
    missing.assert_content_type("application/problem+json");
    let body = missing.json().await;
    let problem = body.value().object();
    problem.get("status").assert_i64(404);
    problem.get("title").assert_string("Not Found");
    problem.get("type").assert_string("about:blank");
}

#[tokio::test]
async fn the_caching_store_is_composed_on_top_when_configured() {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    config.cache.store_ttl = Some(Duration::from_secs(30));
    let backends = Backends::open(&config).await.expect("backends open");
    let user = stack_tests::store_suite::user(backends.store.as_ref()).await;
    let deposit = stack_tests::store_suite::recorded(backends.store.as_ref(), user.id, "4").await;
    assert!(backends.store.balances(user.id).await.unwrap().is_empty());
    backends.store.confirm_deposit(deposit).await.unwrap();
    let balances = backends.store.balances(user.id).await.unwrap();
    assert_eq!(
        balances[0].available,
        stack_tests::store_suite::dec("4"),
        "no stale read"
    );
    let stats = backends.cache.stats().await.unwrap();
    assert!(
        stats.hits + stats.misses > 0,
        "reads went through the cache"
    );
}
