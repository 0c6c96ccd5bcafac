//! The server loop on a real port, stopped from code: by a trigger, and by a future.

use std::time::Duration;

use stack_core::config::{ApiConfig, ServerConfig};
use stack_server::app;
use stack_server::http::server::{ServeOptions, serve};
use stack_server::http::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::host_backends;

/// The app of a host's own backends, on 127.0.0.1 at a free port.
async fn bound() -> (TcpListener, impl poem::Endpoint + 'static) {
    let (store, cache, queue) = host_backends().await;
    let backends =
        stack_server::backends::Backends::builder(std::sync::Arc::new(store.clone()), cache, queue)
            .sql_store(store)
            .build()
            .unwrap();
    let app = app::build(backends, &ApiConfig::default()).unwrap();
    (TcpListener::bind("127.0.0.1:0").await.unwrap(), app)
}

/// Sends `request` raw on a new connection; the whole answer.
async fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    answer
}

#[tokio::test]
async fn a_trigger_stops_the_server_and_serve_returns() {
    let (listener, app) = bound().await;
    let port = listener.local_addr().unwrap().port();
    let options = ServeOptions::from_config(&ServerConfig::default());
    let (shutdown, trigger) = Shutdown::manual();
    let server = tokio::spawn(async move { serve(listener, app, options, &shutdown).await });

    let answer = exchange(
        port,
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // hyper's own refusals keep their problem+json through the host's loop.
    let refused = exchange(port, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert!(refused.contains("application/problem+json"), "{refused}");

    trigger.stop();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns after the stop")
        .unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn a_future_stops_the_server() {
    let (listener, app) = bound().await;
    let options = ServeOptions::from_config(&ServerConfig::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = Shutdown::on(async move {
        let _ = stopped.await;
    });
    let server = tokio::spawn(async move { serve(listener, app, options, &shutdown).await });
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns after the future completes")
        .unwrap();
}

/// A stop future that panics (a bug in the host's own signal handling) stops the server
/// rather than leaving one nobody can stop.
#[tokio::test]
async fn a_stop_future_that_panics_stops_the_server() {
    let (listener, app) = bound().await;
    let options = ServeOptions::from_config(&ServerConfig::default());
    let (fail, failed) = tokio::sync::oneshot::channel::<()>();
    let shutdown = Shutdown::on(async move {
        let _ = failed.await;
        panic!("the host's stop future failed");
    });
    let server = tokio::spawn(async move { serve(listener, app, options, &shutdown).await });
    fail.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns after the stop future panicked")
        .unwrap();
}

/// A POST of `body` with `key` to `path`, raw: the whole answer.
async fn post_keyed(port: u16, path: &str, key: &str, body: &str) -> String {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(port, request.as_bytes()).await
}

#[tokio::test]
async fn a_keyed_request_replays_through_another_mount_prefix() {
    let (store, cache, queue) = host_backends().await;
    let backends =
        stack_server::backends::Backends::builder(std::sync::Arc::new(store.clone()), cache, queue)
            .sql_store(store)
            .build()
            .unwrap();
    let api = ApiConfig::default();
    let at = |prefix: &str| {
        let options = app::AppOptions::new().prefix(prefix);
        app::build_with(backends.clone(), &api, options).unwrap()
    };
    // The host moved STACK from /stack to /svc/stack: both mounts serve one database.
    let host = poem::Route::new()
        .nest("/stack", at("/stack"))
        .nest("/svc/stack", at("/svc/stack"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ServeOptions::from_config(&ServerConfig::default());
    let (shutdown, trigger) = Shutdown::manual();
    let server = tokio::spawn(async move { serve(listener, host, options, &shutdown).await });

    let body = r#"{"email":"ana@example.com","phone":"+14155550100","full_name":"Ana"}"#;
    let first = post_keyed(port, "/stack/api/v1/users", "user-1", body).await;
    assert!(first.starts_with("HTTP/1.1 201"), "{first}");
    assert!(
        !first.to_lowercase().contains("idempotent-replayed"),
        "{first}"
    );
    let again = post_keyed(port, "/svc/stack/api/v1/users", "user-1", body).await;
    assert!(
        again.starts_with("HTTP/1.1 201"),
        "replayed, not refused: {again}"
    );
    assert!(
        again.to_lowercase().contains("idempotent-replayed: true"),
        "{again}"
    );
    let id = |answer: &str| answer.split("\"id\":\"").nth(1).map(|s| s[..36].to_owned());
    assert_eq!(id(&first), id(&again), "one user, answered twice");

    trigger.stop();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns after the stop")
        .unwrap();
}
