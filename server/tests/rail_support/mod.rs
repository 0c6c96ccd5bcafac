//! What the rail tests share: the whole app over real backends, and request helpers.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "helpers of tests, each rail test file uses some: a failed call must fail the test"
)]

use poem::test::{TestClient, TestResponse};
use serde_json::Value;
use stack_core::config::Config;
use stack_server::app;
use stack_server::backends::Backends;

/// The default backends over an in-memory SQLite database.
pub(crate) async fn backends() -> Backends {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    Backends::open(&config)
        .await
        .expect("default backends open")
}

/// The whole app, as `stack serve` builds it, over `backends`.
pub(crate) fn client(backends: Backends) -> TestClient<impl poem::Endpoint> {
    TestClient::new(app::build(backends, &Config::default().api).unwrap())
}

/// The status and JSON body of `response`.
pub(crate) async fn answer(response: TestResponse) -> (u16, Value) {
    let status = response.0.status().as_u16();
    let content_type = response
        .0
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.0.into_body().into_string().await.unwrap();
    if status >= 400 {
        assert_eq!(
            content_type, "application/problem+json",
            "a {status} must be problem+json: {text}"
        );
    }
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The pointers of a problem's `errors`, in order.
pub(crate) fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["pointer"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// POSTs `body` to `path`; the status and body.
pub(crate) async fn post(
    client: &TestClient<impl poem::Endpoint>,
    path: &str,
    body: Value,
) -> (u16, Value) {
    answer(client.post(path).body_json(&body).send().await).await
}

/// GETs `path`; the status and body.
pub(crate) async fn get(client: &TestClient<impl poem::Endpoint>, path: &str) -> (u16, Value) {
    answer(client.get(path).send().await).await
}

/// Creates a user with `email` through `base` (`/api/v1`); its id.
pub(crate) async fn user(
    client: &TestClient<impl poem::Endpoint>,
    base: &str,
    email: &str,
) -> String {
    let (status, body) = post(
        client,
        &format!("{base}/users"),
        serde_json::json!({ "email": email, "phone": "+14155550100", "full_name": "Ana" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}
