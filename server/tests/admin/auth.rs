//! The gate: 404 without a configured token, 401 without credentials (with
//! `WWW-Authenticate: Bearer`), 403 for a wrong token, 200 for the right one; the document
//! declares the bearer scheme; the token never reaches the log.

use poem::http::{Method, StatusCode};
use poem::test::TestClient;

use super::{TOKEN, admin, app, config, open, send};

#[path = "../common/mod.rs"]
mod common;

/// The admin routes checked in every auth state, one per concern.
fn routes() -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/admin/openapi.json".into()),
        (Method::GET, "/admin/queue/stats".into()),
        (Method::GET, "/admin/schedules".into()),
        (Method::GET, "/admin/diagnostics/status".into()),
        (
            Method::POST,
            format!("/admin/cache/invalidate/users/{}", uuid::Uuid::now_v7()),
        ),
    ]
}

#[tokio::test]
async fn without_a_token_the_admin_api_is_not_mounted() {
    let mut config = config();
    config.api.admin_token = None;
    let client = TestClient::new(app(open(&config).await, &config));
    for (method, path) in routes() {
        let request = client
            .request(method, &path)
            .header("authorization", format!("Bearer {TOKEN}"));
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["status"], 404, "{path}: problem+json");
    }
}

#[tokio::test]
async fn no_credentials_are_401_a_wrong_token_403_the_right_one_200() {
    let config = config();
    let client = TestClient::new(app(open(&config).await, &config));
    // Same length as the token, last character changed; a prefix; another scheme.
    let mut wrong = TOKEN.to_owned();
    wrong.pop();
    wrong.push('X');
    for (method, path) in routes() {
        let response = client.request(method.clone(), &path).send().await;
        response.assert_status(StatusCode::UNAUTHORIZED);
        response.assert_header("www-authenticate", "Bearer");
        response.assert_content_type("application/problem+json");
        let basic = client
            .request(method.clone(), &path)
            .header("authorization", format!("Basic {TOKEN}"));
        assert_eq!(send(basic).await.0, StatusCode::UNAUTHORIZED, "{path}");
        for bad in [wrong.as_str(), &TOKEN[..TOKEN.len() - 1], "x"] {
            let request = client
                .request(method.clone(), &path)
                .header("authorization", format!("Bearer {bad}"));
            let (status, body) = send(request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} with {bad}");
            assert_eq!(body["status"], 403);
        }
        let right = client
            .request(method.clone(), &path)
            .header("authorization", format!("Bearer {TOKEN}"));
        assert_eq!(send(right).await.0, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn the_document_declares_the_bearer_scheme_on_every_operation() {
    let config = config();
    let client = admin(app(open(&config).await, &config));
    let (status, spec) = send(client.get("/admin/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let scheme = &spec["components"]["securitySchemes"]["AdminAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let paths = spec["paths"].as_object().unwrap();
    assert!(
        paths.contains_key("/queue/dead-letters/{id}/replay"),
        "{paths:?}"
    );
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            assert_eq!(
                operation["security"],
                serde_json::json!([{ "AdminAuth": [] }]),
                "{method} {path}"
            );
        }
    }
    assert!(operations >= 12, "{operations} operations");
    // The main document does not list the admin API.
    let (_, main) = send(client.get("/openapi.json")).await;
    assert!(!main.to_string().contains("dead-letters"));
}

/// `stack serve` with a token: requests with the right and a wrong token are served and
/// refused, the action is logged, and neither token appears in any log line.
#[test]
fn the_token_is_never_logged() {
    let port = common::free_port();
    let wrong = "wrong-token-for-tests-9876";
    let mut child = common::serve(
        port,
        &[("STACK__API__ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let logs = common::LogTail::new(&mut child);
    common::wait_until_serving(port);
    let user = uuid::Uuid::now_v7();
    for token in [TOKEN, wrong] {
        let request = format!(
            "POST /admin/cache/invalidate/users/{user} HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let response = common::raw(port, request.as_bytes()).unwrap();
        let status = String::from_utf8_lossy(&response[..12]).into_owned();
        let expected = if token == TOKEN { "200" } else { "403" };
        assert!(status.ends_with(expected), "{status}");
    }
    logs.wait_for("cache.user_invalidated");
    logs.wait_for("wrong bearer token");
    common::signal(&child, "TERM");
    assert!(common::wait_exit(&mut child, std::time::Duration::from_secs(30)).is_some());
    let all = logs.all();
    assert!(!all.contains(TOKEN), "the token was logged:\n{all}");
    assert!(!all.contains(wrong), "a wrong token was logged:\n{all}");
}
