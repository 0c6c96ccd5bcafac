//! The admin API over HTTP (poem's test client) on real backends: an in-memory SQLite Store,
//! the memory cache and queue, and Redis where a real queue matters.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed call must fail the test"
)]

mod auth;
mod cache;
mod chromium;
mod dashboard;
mod diagnostics;
mod queue;
mod queue_drop;
mod schedules;
mod workers;

use poem::http::StatusCode;
use poem::test::{TestClient, TestRequestBuilder};
use poem::{Endpoint, IntoEndpoint};
use serde_json::Value;
use stack_core::config::Config;
use stack_server::app;
use stack_server::backends::Backends;

/// The admin token of these tests.
const TOKEN: &str = "admin-token-for-tests-0123";

/// A configuration over an in-memory SQLite Store with the admin API on.
fn config() -> Config {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    config.api.admin_token = Some(TOKEN.into());
    config
}

async fn open(config: &Config) -> Backends {
    Backends::open(config).await.expect("the backends open")
}

/// The app over `backends` as `config` says.
fn app(backends: Backends, config: &Config) -> impl Endpoint + use<> {
    app::build(backends, &config.api)
        .expect("a valid API configuration")
        .into_endpoint()
}

/// A client that presents the admin token.
fn admin<E: Endpoint>(app: E) -> TestClient<E> {
    TestClient::new(app).default_header("authorization", format!("Bearer {TOKEN}"))
}

/// Sends `request`: its status and JSON body (`null` when the body is not JSON).
async fn send<E: Endpoint>(request: TestRequestBuilder<'_, E>) -> (StatusCode, Value) {
    let response = request.send().await.0;
    let status = response.status();
    let body = response.into_body().into_bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}
