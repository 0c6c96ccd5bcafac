//! API versions: negotiation by path, header, `Accept` and query; refusals; deprecation
//! notices; `/docs` listing every version's document. Served by a stand-in API with one
//! route per version, assembled exactly as the app assembles its own.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed call must fail the test"
)]

use poem::Endpoint;
use poem::Route;
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem_openapi::param::Query;
use poem_openapi::payload::PlainText;
use poem_openapi::{OpenApi, OpenApiService};
use stack_core::config::{ApiConfig, Config};
use stack_server::app::{self, NestedDocument, Parts};
use stack_server::http::api_error::ApiResult;

/// Version 1 of the stand-in API.
struct V1;

#[OpenApi]
impl V1 {
    /// Lists users, v1 style.
    #[oai(path = "/users", method = "get")]
    async fn users(&self, tag: Query<Option<String>>) -> PlainText<String> {
        PlainText(format!("v1 users {}", tag.0.unwrap_or_default()))
    }
}

/// Version 2 of the stand-in API.
struct V2;

#[OpenApi]
impl V2 {
    /// Lists users, v2 style.
    #[oai(path = "/users", method = "get")]
    async fn users(&self, tag: Query<Option<String>>) -> ApiResult<PlainText<String>> {
        Ok(PlainText(format!("v2 users {}", tag.0.unwrap_or_default())))
    }
}

fn stand_in(api: &ApiConfig) -> impl Endpoint + use<> {
    let parts = Parts::new()
        .api("/api/v1", "API v1", OpenApiService::new(V1, "STACK", "1"))
        .api("/api/v2", "API v2", OpenApiService::new(V2, "STACK", "2"));
    app::assemble(parts, api).unwrap()
}

/// The same two versions as one API that serves its own documents, the way the rail does.
fn stand_in_nested(api: &ApiConfig) -> impl Endpoint + use<> {
    let v1 = OpenApiService::new(V1, "STACK", "1");
    let v2 = OpenApiService::new(V2, "STACK", "2");
    let documents = [
        NestedDocument {
            name: "API v1".into(),
            base: "/v1".into(),
            json: v1.spec(),
        },
        NestedDocument {
            name: "API v2".into(),
            base: "/v2".into(),
            json: v2.spec(),
        },
    ];
    let api_route = Route::new()
        .at("/v1/openapi.json", v1.spec_endpoint())
        .nest("/v1", v1)
        .at("/v2/openapi.json", v2.spec_endpoint())
        .nest("/v2", v2);
    app::assemble(Parts::new().nest("/api", api_route, &documents), api).unwrap()
}

fn client(yaml: &str) -> TestClient<impl Endpoint> {
    TestClient::new(stand_in(&Config::from_yaml_str(yaml).unwrap().api))
}

async fn body(response: TestResponse) -> String {
    response.0.into_body().into_string().await.unwrap()
}

fn header(response: &TestResponse, name: &str) -> Option<String> {
    response
        .0
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A 400 problem+json whose detail contains `needle`.
async fn assert_refused(response: TestResponse, needle: &str) {
    response.assert_status(StatusCode::BAD_REQUEST);
    response.assert_content_type("application/problem+json");
    let text = body(response).await;
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["status"], 400, "{text}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
}

#[tokio::test]
async fn the_path_names_the_version_and_the_response_says_so() {
    let api = client("{}");
    for version in ["v1", "v2"] {
        let response = api.get(format!("/api/{version}/users")).send().await;
        response.assert_status_is_ok();
        assert_eq!(header(&response, "api-version").as_deref(), Some(version));
        assert_eq!(body(response).await, format!("{version} users "));
    }
}

#[tokio::test]
async fn a_version_less_path_is_served_by_the_header_accept_query_or_default() {
    let api = client("{}");
    let by_header = api
        .get("/api/users")
        .header("API-Version", "2")
        .send()
        .await;
    assert_eq!(header(&by_header, "api-version").as_deref(), Some("v2"));
    assert_eq!(body(by_header).await, "v2 users ");

    let by_accept = api
        .get("/api/users")
        .header("Accept", "application/vnd.stack.v2+json")
        .send()
        .await;
    assert_eq!(body(by_accept).await, "v2 users ");

    // The query survives the rewrite.
    let by_query = api.get("/api/users?version=2&tag=x").send().await;
    assert_eq!(header(&by_query, "api-version").as_deref(), Some("v2"));
    assert_eq!(body(by_query).await, "v2 users x");

    let by_default = api.get("/api/users?tag=y").send().await;
    assert_eq!(header(&by_default, "api-version").as_deref(), Some("v1"));
    assert_eq!(body(by_default).await, "v1 users y");

    let other_default = client("api:\n  default_version: v2\n");
    let response = other_default.get("/api/users").send().await;
    assert_eq!(body(response).await, "v2 users ");

    // Each version's document is reachable the same way.
    let document = api
        .get("/api/openapi.json")
        .header("API-Version", "v2")
        .send()
        .await;
    document.assert_status_is_ok();
    assert!(body(document).await.contains(r#""version": "2""#));
}

#[tokio::test]
async fn a_path_that_disagrees_with_a_header_or_query_is_refused() {
    let api = client("{}");
    let response = api
        .get("/api/v1/users")
        .header("API-Version", "2")
        .send()
        .await;
    assert_refused(response, "two versions: v1 (the path) and v2").await;
    let response = api.get("/api/v2/users?version=1").send().await;
    assert_refused(response, "query parameter version").await;
    // Saying the same thing twice is fine.
    let response = api
        .get("/api/v2/users?version=v2")
        .header("API-Version", "2")
        .send()
        .await;
    response.assert_status_is_ok();
}

#[tokio::test]
async fn an_unsupported_or_malformed_version_is_refused_listing_the_supported_ones() {
    let api = client("{}");
    assert_refused(
        api.get("/api/v9/users").send().await,
        "v9 is not supported (supported: v1, v2)",
    )
    .await;
    let response = api
        .get("/api/users")
        .header("API-Version", "3")
        .send()
        .await;
    assert_refused(response, "supported: v1, v2").await;
    let response = api
        .get("/api/users")
        .header("API-Version", "two")
        .send()
        .await;
    assert_refused(response, "`two` is not an API version").await;
    let only_two = client("api:\n  supported_versions: [v2]\n  default_version: v2\n");
    assert_refused(
        only_two.get("/api/v1/users").send().await,
        "(supported: v2)",
    )
    .await;
}

#[tokio::test]
async fn a_method_the_versioned_route_does_not_serve_is_405_after_the_rewrite() {
    let api = client("{}");
    let response = api
        .delete("/api/users")
        .header("API-Version", "2")
        .send()
        .await;
    response.assert_status(StatusCode::METHOD_NOT_ALLOWED);
    response.assert_header("allow", "GET, HEAD");
    response.assert_header("api-version", "v2");
}

const DEPRECATED_V1: &str = "api:
  deprecations:
    - version: v1
      deprecated_at: 2026-01-01T00:00:00Z
      sunset_at: 2026-07-01T12:30:00Z
      link: https://example.com/migrate-to-v2
";

#[tokio::test]
async fn responses_of_a_deprecated_version_carry_deprecation_sunset_and_link() {
    let client = client(DEPRECATED_V1);
    // 2026-01-01T00:00:00Z is 1767225600 seconds after the epoch.
    for path in ["/api/v1/users", "/api/users", "/api/v1/nothing-here"] {
        let response = client.get(path).send().await;
        response.assert_header("api-version", "v1");
        response.assert_header("deprecation", "@1767225600");
        response.assert_header("sunset", "Wed, 01 Jul 2026 12:30:00 GMT");
        response.assert_header(
            "link",
            r#"<https://example.com/migrate-to-v2>; rel="deprecation""#,
        );
    }
    let current = client.get("/api/v2/users").send().await;
    current.assert_status_is_ok();
    for name in ["deprecation", "sunset", "link"] {
        current.assert_header_is_not_exist(name);
    }
    // Outside the API (the docs, probes), the default version is named but not deprecated.
    let docs = client.get("/docs").send().await;
    docs.assert_header("api-version", "v1");
    docs.assert_header_is_not_exist("deprecation");
}

#[tokio::test]
async fn docs_lists_every_version_s_document() {
    let api = client("{}");
    let response = api.get("/docs").send().await;
    response.assert_status_is_ok();
    response.assert_content_type("text/html; charset=utf-8");
    let html = body(response).await;
    for url in ["/api/v1/openapi.json", "/api/v2/openapi.json"] {
        assert!(html.contains(&format!(r#""url":"{url}""#)), "{url}");
        api.get(url).send().await.assert_status_is_ok();
    }
    assert!(html.contains("SwaggerUIBundle"));

    // A problem's `errors` is left out when empty, so the document must not require it.
    let spec = api.get("/api/v2/openapi.json").send().await.json().await;
    let problem = spec
        .value()
        .object()
        .get("components")
        .object()
        .get("schemas");
    let required = problem.object().get("Problem").object().get("required");
    assert!(!required.string_array().contains(&"errors"));
}

#[tokio::test]
async fn an_api_nested_with_its_own_documents_is_negotiated_and_listed_alike() {
    let api = TestClient::new(stand_in_nested(&Config::default().api));
    let response = api
        .get("/api/users")
        .header("API-Version", "2")
        .send()
        .await;
    assert_eq!(body(response).await, "v2 users ");
    let response = api.delete("/api/v1/users").send().await;
    response.assert_status(StatusCode::METHOD_NOT_ALLOWED);
    response.assert_header("allow", "GET, HEAD");
    let html = body(api.get("/docs").send().await).await;
    for url in ["/api/v1/openapi.json", "/api/v2/openapi.json"] {
        assert!(html.contains(&format!(r#""url":"{url}""#)), "{url}");
        api.get(url).send().await.assert_status_is_ok();
    }
}

#[tokio::test]
async fn every_version_documents_the_answer_to_a_body_of_another_media_type() {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    let backends = stack_server::backends::Backends::open(&config)
        .await
        .unwrap();
    let api = TestClient::new(app::build(backends, &config.api).unwrap());
    for version in ["v1", "v2"] {
        let spec = api
            .get(format!("/api/{version}/openapi.json"))
            .send()
            .await
            .json()
            .await;
        let responses = spec.value().object().get("paths").object().get("/users");
        let responses = responses.object().get("post").object().get("responses");
        responses.object().get("415").object();
        // And a body sent as text gets that answer, as problem+json.
        let refused = api
            .post(format!("/api/{version}/users"))
            .content_type("text/plain")
            .body("{}")
            .send()
            .await;
        refused.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        refused.assert_content_type("application/problem+json");
    }
}
