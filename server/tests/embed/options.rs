//! `AppOptions`: the app nested under `/stack` beside the host's routes, every document's
//! `servers` naming the full path, the host's title and version, a host API on `/docs`, and
//! the host's own 404 in problem+json through `problem::render`.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::test::TestClient;
use poem::{EndpointExt, Route, handler};
use poem_openapi::payload::PlainText;
use poem_openapi::{OpenApi, OpenApiService};
use stack_core::config::ApiConfig;
use stack_server::app::{self, AppOptions};
use stack_server::backends::Backends;
use stack_server::http::problem;

use super::{TOKEN, host_backends, send};

/// The host's own documented API.
struct GreetingApi;

#[OpenApi]
impl GreetingApi {
    /// A greeting.
    #[oai(path = "/hello", method = "get")]
    async fn hello(&self) -> PlainText<&'static str> {
        PlainText("hello from the host")
    }
}

#[handler]
fn home() -> &'static str {
    "the host's home"
}

async fn backends() -> Backends {
    let (store, cache, queue) = host_backends().await;
    Backends::builder(Arc::new(store.clone()), cache, queue)
        .sql_store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn under_a_prefix_the_documents_name_it_and_list_the_host_s_api() {
    let api = ApiConfig {
        admin_token: Some(TOKEN.into()),
        ..ApiConfig::default()
    };
    let options = AppOptions::new()
        .prefix("/stack")
        .title("Acme")
        .version("9.8.7")
        .api(
            "/greeting",
            "Greeting",
            OpenApiService::new(GreetingApi, "Acme greeting", "1.0"),
        );
    let stack = app::build_with(backends().await, &api, options).unwrap();
    let host = Route::new()
        .at("/", poem::get(home))
        .nest("/stack", stack)
        .catch_all_error(problem::render);
    let client = TestClient::new(host);

    let landing = client.get("/").send().await;
    landing.assert_status_is_ok();
    landing.assert_text("the host's home").await;

    let (status, _, root) = send(client.get("/stack/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["servers"][0]["url"], "/stack", "{root}");
    assert_eq!(root["info"]["title"], "Acme");
    assert_eq!(root["info"]["version"], "9.8.7");
    let (_, _, v1) = send(client.get("/stack/api/v1/openapi.json")).await;
    assert_eq!(v1["servers"][0]["url"], "/stack/api/v1", "{v1}");
    let (_, _, admin) = send(
        client
            .get("/stack/admin/openapi.json")
            .header("authorization", format!("Bearer {TOKEN}")),
    )
    .await;
    assert_eq!(admin["servers"][0]["url"], "/stack/admin", "{admin}");
    let (_, _, greeting) = send(client.get("/stack/greeting/openapi.json")).await;
    assert_eq!(
        greeting["servers"][0]["url"], "/stack/greeting",
        "{greeting}"
    );
    assert!(greeting["paths"].get("/hello").is_some(), "{greeting}");

    // The host's API is served, under the guards, and listed on /docs.
    let hello = client.get("/stack/greeting/hello").send().await;
    hello.assert_status_is_ok();
    hello.assert_text("hello from the host").await;
    let docs = client.get("/stack/docs").send().await;
    docs.assert_status_is_ok();
    let page = docs.0.into_body().into_string().await.unwrap();
    assert!(
        page.contains("/greeting/openapi.json"),
        "not listed on /docs"
    );

    // STACK's 404 and the host's own are both problem+json.
    let (status, content_type, problem) = send(client.get("/stack/no-such-route")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json"),
        "{problem}"
    );
    let (status, content_type, problem) = send(client.get("/no-such-host-route")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json"),
        "{problem}"
    );
    assert_eq!(problem["status"], 404, "{problem}");
}

#[tokio::test]
async fn the_defaults_keep_empty_servers_and_stack_s_title() {
    let stack = app::build(backends().await, &ApiConfig::default()).unwrap();
    let (_, _, root) = send(TestClient::new(stack).get("/openapi.json")).await;
    assert!(
        root.get("servers")
            .is_none_or(|s| s.as_array().is_some_and(Vec::is_empty)),
        "{root}"
    );
    assert_eq!(root["info"]["title"], "STACK");
}

/// A host API with an operation where its own document is served.
struct ShadowApi;

#[OpenApi]
impl ShadowApi {
    /// Takes the document's path.
    #[oai(path = "/openapi.json", method = "get")]
    async fn shadow(&self) -> PlainText<&'static str> {
        PlainText("not a document")
    }
}

/// The field of `build_with`'s refusal of `options`, which must not panic.
async fn refused_field(options: AppOptions) -> String {
    match app::build_with(backends().await, &ApiConfig::default(), options) {
        Ok(_) => String::new(),
        Err(stack_core::Error::Invalid { field, .. }) => field,
        Err(other) => panic!("not Invalid: {other}"),
    }
}

#[tokio::test]
async fn a_host_api_colliding_with_a_route_is_refused_not_a_panic() {
    let greeting = || OpenApiService::new(GreetingApi, "g", "1");
    for prefix in [
        "",
        "/",
        "/openapi.json",
        "/openapi.json/x",
        "/api",
        "/api/v1",
        "/api/v2/users",
        "/docs",
        "/docs/x",
        "/health",
        "/health/live",
        "/admin",
        "/admin/queue",
        "host",
        "//host",
        "/host//x",
        "/:id",
        "/*rest",
        "/{id}",
        "/a b",
    ] {
        let options = AppOptions::new().api(prefix, "Greeting", greeting());
        assert_eq!(refused_field(options).await, "app.apis", "{prefix:?}");
    }
    for (first, second) in [
        ("/host", "/host"),
        ("/host", "/host/sub"),
        ("/host/sub", "/host"),
    ] {
        let options =
            AppOptions::new()
                .api(first, "One", greeting())
                .api(second, "Two", greeting());
        assert_eq!(
            refused_field(options).await,
            "app.apis",
            "{first:?} and {second:?}"
        );
    }
    let shadow = AppOptions::new().api("/host", "S", OpenApiService::new(ShadowApi, "s", "1"));
    assert_eq!(refused_field(shadow).await, "app.apis");

    // Beside each other, under the app's own prefix, and with a root document: all served.
    let options = AppOptions::new()
        .prefix("/stack")
        .api("/host", "One", greeting())
        .api("/hosts", "Two", greeting())
        .api("/v1.x/a-b_c~d", "Three", greeting());
    assert_eq!(refused_field(options).await, "");
}
