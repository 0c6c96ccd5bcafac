//! A host application that mounts STACK beside its own routes.
//!
//! The host owns the process: it opens the backends, builds STACK's app as a value (the rail
//! API v1 and v2 with version negotiation, the probes, `/docs`), nests it under `/stack` next
//! to its own `/hello`, and wraps STACK in its own middleware (a bearer
//! check) and everything in another (a header on every response). STACK installs no logger,
//! no signal handler and no global state, so none of that clashes with the host's.
//!
//! ```text
//! cargo run -p stack-examples --example host_app
//! curl localhost:3000/hello
//! curl -H 'Authorization: Bearer host-secret' localhost:3000/stack/health/live
//! curl -H 'Authorization: Bearer host-secret' -H 'API-Version: 2' localhost:3000/stack/api/users
//! open http://localhost:3000/stack/docs
//! ```

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, Server, handler};
use stack_core::config::Config;
use stack_server::backends::Backends;

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
    let stack =
        stack_server::app::build(backends, &config.api)?.around(|next, req: Request| async move {
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
        .after(|result: poem::Result<Response>| async move {
            let mut response = result.unwrap_or_else(|error| error.into_response());
            response
                .headers_mut()
                .insert("x-served-by", poem::http::HeaderValue::from_static("host"));
            Ok(response)
        }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    let backends = Backends::open(&config).await?;
    let app = host_app(backends, &config)?;
    println!("serving on http://127.0.0.1:3000 (/hello, /stack/docs)");
    Server::new(TcpListener::bind("127.0.0.1:3000"))
        .run(app)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;

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
    }
}
