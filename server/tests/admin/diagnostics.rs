//! `/admin/diagnostics`: the slow-query log, EXPLAIN of the named list queries (SQLite and
//! PostgreSQL), and the data path's status.

use std::time::Duration;

use poem::http::StatusCode;
use stack_core::store::NewUser;

use super::{admin, app, config, open, send};

const QUERIES: [&str; 6] = [
    "list_users",
    "list_wallets",
    "list_deposits",
    "scan_deposits",
    "list_entries",
    "list_audit_logs",
];

#[tokio::test]
async fn slow_queries_are_listed_without_their_parameters() {
    let mut config = config();
    // Every statement is slow: the log keeps them all (the newest 100).
    config.database.slow_query_threshold = Duration::ZERO;
    let backends = open(&config).await;
    backends
        .store
        .create_user(NewUser {
            email: "private@example.com".into(),
            phone: None,
            full_name: "Private".into(),
        })
        .await
        .unwrap();
    let client = admin(app(backends, &config));
    let (status, slow) = send(client.get("/admin/diagnostics/slow-queries")).await;
    assert_eq!(status, StatusCode::OK, "{slow}");
    let slow = slow.as_array().unwrap();
    assert!(
        slow.iter().any(|q| q["statement"] == "insert users"),
        "{slow:?}"
    );
    assert!(
        slow.iter()
            .all(|q| q["duration_ms"].as_f64().unwrap() >= 0.0)
    );
    let text = serde_json::to_string(slow).unwrap();
    assert!(
        !text.contains("private@example.com"),
        "no parameter value is kept"
    );
}

#[tokio::test]
async fn every_named_query_is_explained_on_sqlite() {
    let config = config();
    let client = admin(app(open(&config).await, &config));
    for name in QUERIES {
        let (status, plan) = send(client.get(format!("/admin/diagnostics/explain/{name}"))).await;
        assert_eq!(status, StatusCode::OK, "{name}: {plan}");
        assert_eq!(plan["query"], name);
        assert_eq!(plan["engine"], "sqlite");
        assert!(!plan["nodes"].as_array().unwrap().is_empty(), "{plan}");
    }
    let by_user = client
        .get("/admin/diagnostics/explain/list_deposits")
        .query("user_id", &uuid::Uuid::now_v7());
    let (_, plan) = send(by_user).await;
    let indexes = plan["indexes"].as_array().unwrap();
    assert!(
        indexes.iter().any(|i| i == "ix_deposits_user_created"),
        "{plan}"
    );
    let (status, _) = send(client.get("/admin/diagnostics/explain/drop_tables")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_status_on_postgres() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let options = stack_backends::sql::SqlOptions::default();
    stack_backends::sql::migrate_url(&url, &options)
        .await
        .unwrap();
    let mut config = config();
    config.database.url = url;
    let client = admin(app(open(&config).await, &config));
    let by_user = client
        .get("/admin/diagnostics/explain/list_entries")
        .query("user_id", &uuid::Uuid::now_v7());
    let (status, plan) = send(by_user).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["engine"], "postgres");
    assert!(plan["execution_ms"].as_f64().is_some(), "{plan}");
    let (status, report) = send(client.get("/admin/diagnostics/status")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["store"], "postgres");
    assert_eq!(report["circuit"], "closed");
    assert_eq!(report["pool"]["max"], config.database.max_open_conns);
}

#[tokio::test]
async fn status_shows_the_backends_pool_and_breaker() {
    let config = config();
    let client = admin(app(open(&config).await, &config));
    let (status, report) = send(client.get("/admin/diagnostics/status")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["store"], "sqlite");
    assert_eq!(report["cache"], "memory");
    assert_eq!(report["queue"], "sqlite");
    assert_eq!(report["circuit"], "closed");
    // An in-memory SQLite database has exactly one connection.
    assert_eq!(report["pool"]["max"], 1);
    assert_eq!(report["replicas"], serde_json::json!([]));
}
