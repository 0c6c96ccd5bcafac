//! A host application that mounts STACK beside its own routes.
//!
//! The host owns the process: it opens the backends, builds STACK's app as a value (the rail
//! API v1 and v2 with version negotiation, the probes, `/docs`), nests it under `/stack` next
//! to its own `/hello` (the documents' `servers` say `/stack`, so Swagger UI's "Try it out"
//! works), wraps STACK in its own middleware (a bearer check) and everything in another (a
//! header on every response), renders its own errors as STACK's problem+json, and serves it
//! with STACK's connection loop, stopped from its own code (here on Ctrl-C). STACK installs
//! no logger, no signal handler and no global state, so none of that clashes with the host's.
//!
//! ```text
//! cargo run -p stack-examples --example host_app
//! curl localhost:3000/hello
//! curl -H 'Authorization: Bearer host-secret' localhost:3000/stack/health/live
//! curl -H 'Authorization: Bearer host-secret' -H 'API-Version: 2' localhost:3000/stack/api/users
//! open http://localhost:3000/stack/docs
//! ```

use stack_core::config::Config;
use stack_server::app::{self, AppOptions};
use stack_server::backends::Backends;
use stack_server::http::problem;
use stack_server::http::server::{ServeOptions, serve};
use stack_server::http::shutdown::Shutdown;
use stack_server::poem::http::StatusCode;
use stack_server::poem::web::Html;
use stack_server::poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler};

/// The token the host's own auth accepts in front of STACK (a real host reads its own secret).
const HOST_TOKEN: &str = "Bearer host-secret";

#[handler]
fn hello() -> Html<&'static str> {
    Html("<h1>the host's own page</h1>")
}

/// The host's app: `/hello`, and STACK under `/stack` behind the host's bearer check; every
/// response carries the host's `x-served-by` header.
///
/// # Errors
/// When STACK's API configuration is invalid.
fn host_app(backends: Backends, config: &Config) -> stack_core::Result<impl Endpoint + use<>> {
    let options = AppOptions::new().prefix("/stack");
    let stack =
        app::build_with(backends, &config.api, options)?.around(|next, req: Request| async move {
            let authorized = req
                .headers()
                .get("authorization")
                .is_some_and(|value| value == HOST_TOKEN);
            if !authorized {
                return Ok(StatusCode::UNAUTHORIZED.into_response());
            }
            next.call(req).await.map(IntoResponse::into_response)
        });
    Ok(Route::new()
        .at("/hello", hello)
        .nest("/stack", stack)
        // The host's own errors (a 404 outside `/stack`) in STACK's problem+json.
        .catch_all_error(problem::render)
        .after(|result: stack_server::poem::Result<Response>| async move {
            let mut response = result.unwrap_or_else(|error| error.into_response());
            response.headers_mut().insert(
                "x-served-by",
                stack_server::poem::http::HeaderValue::from_static("host"),
            );
            Ok(response)
        }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    let backends = Backends::open(&config).await?;
    let app = host_app(backends, &config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("serving on http://127.0.0.1:3000 (/hello, /stack/docs); Ctrl-C stops");
    // The host decides when to stop: here on Ctrl-C, as well from any future or trigger.
    let shutdown = Shutdown::on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    serve(
        listener,
        app,
        ServeOptions::from_config(&config.server),
        &shutdown,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use stack_server::poem::test::TestClient;

    use super::*;

    async fn client() -> TestClient<impl Endpoint> {
        let mut config = Config::default();
        config.database.url = "sqlite::memory:".into();
        let backends = Backends::open(&config).await.expect("backends open");
        TestClient::new(host_app(backends, &config).expect("a valid configuration"))
    }

    #[tokio::test]
    async fn the_host_route_and_stack_s_routes_are_served_side_by_side() {
        let client = client().await;
        let page = client.get("/hello").send().await;
        page.assert_status_is_ok();
        page.assert_header("x-served-by", "host");
        page.assert_text("<h1>the host's own page</h1>").await;

        let live = client
            .get("/stack/health/live")
            .header("authorization", HOST_TOKEN)
            .send()
            .await;
        live.assert_status_is_ok();
        live.assert_header("x-served-by", "host");
        // STACK's own guards ran inside the host's middleware.
        live.assert_header("api-version", "v1");
        live.assert_json(serde_json::json!({ "status": "up" }))
            .await;

        // The rail API, through the host's mount: create a user on v2 (named by header on a
        // version-less path), read it back by its versioned path.
        let created = client
            .post("/stack/api/users")
            .header("authorization", HOST_TOKEN)
            .header("API-Version", "2")
            .body_json(&serde_json::json!({
                "email": "host@example.com",
                "full_name": "Host User"
            }))
            .send()
            .await;
        created.assert_status(StatusCode::CREATED);
        created.assert_header("api-version", "v2");
        created.assert_header("x-served-by", "host");
        let user = created.json().await;
        let id = user.value().object().get("id").string().to_owned();
        let read = client
            .get(format!("/stack/api/v2/users/{id}"))
            .header("authorization", HOST_TOKEN)
            .send()
            .await;
        read.assert_status_is_ok();
        read.json()
            .await
            .value()
            .object()
            .get("email")
            .assert_string("host@example.com");

        let docs = client
            .get("/stack/docs")
            .header("authorization", HOST_TOKEN)
            .send()
            .await;
        docs.assert_status_is_ok();
        let html = docs.0.into_body().into_string().await.expect("a page");
        assert!(html.contains("/api/v2/openapi.json"));
    }

    #[tokio::test]
    async fn the_host_s_auth_guards_stack_and_stack_s_errors_keep_their_shape() {
        let client = client().await;
        let refused = client.get("/stack/health/live").send().await;
        refused.assert_status(StatusCode::UNAUTHORIZED);
        refused.assert_header("x-served-by", "host");

        let missing = client
            .get("/stack/no-such-route")
            .header("authorization", HOST_TOKEN)
            .send()
            .await;
        missing.assert_status(StatusCode::NOT_FOUND);
        missing.assert_content_type("application/problem+json");

        // The host's own 404, through its fallback.
        let host_missing = client.get("/no-such-page").send().await;
        host_missing.assert_status(StatusCode::NOT_FOUND);
        host_missing.assert_content_type("application/problem+json");
        host_missing.assert_header("x-served-by", "host");
    }

    #[tokio::test]
    async fn the_documents_name_the_prefix() {
        let client = client().await;
        let document = client
            .get("/stack/api/v1/openapi.json")
            .header("authorization", HOST_TOKEN)
            .send()
            .await;
        document.assert_status_is_ok();
        document
            .json()
            .await
            .value()
            .object()
            .get("servers")
            .array()
            .get(0)
            .object()
            .get("url")
            .assert_string("/stack/api/v1");
    }
}
