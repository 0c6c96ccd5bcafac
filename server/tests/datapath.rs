//! `/health/ready` over the production data path: PostgreSQL with the streaming standby
//! `scripts/services.sh` starts as a read replica. It shows the breaker's state, the pool's
//! figures and every database node with its lag; so does the admin API's status.

use std::time::Duration;

use poem::test::TestClient;
use stack_backends::sql::{SqlOptions, SqlReplica};
use stack_core::config::Config;
use stack_core::datapath::Replica;
use stack_server::app;
use stack_server::backends::Backends;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_shows_the_breaker_the_pool_and_every_database_node() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let primary = stack_backends::sql::open(&url, &SqlOptions::default())
        .await
        .unwrap();
    stack_backends::sql::migrate_up(primary.connection(), None)
        .await
        .unwrap();
    let replica_base = std::env::var("STACK_TEST_POSTGRES_REPLICA_URL")
        .expect("STACK_TEST_POSTGRES_REPLICA_URL: run scripts/test.sh, which starts the standby");
    let db_name = url.rsplit('/').next().unwrap();
    let replica_url = format!("{}/{db_name}", replica_base.rsplit_once('/').unwrap().0);
    // The new database reaches the standby through the WAL.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(replica) = SqlReplica::open(&replica_url, &SqlOptions::default()).await {
            if replica.replay_lag().await.is_ok() {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the standby never had the database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut config = Config::default();
    config.database.url = url.clone();
    config.database.read_replicas = vec![replica_url];
    config.api.admin_token = Some(ADMIN_TOKEN.into());
    let backends = Backends::open(&config).await.expect("the data path opens");
    let client = TestClient::new(app::build(backends, &config.api).unwrap());
    let body = loop {
        let ready = client.get("/health/ready").send().await;
        ready.assert_status_is_ok();
        let body: serde_json::Value =
            serde_json::from_str(&ready.0.into_body().into_string().await.unwrap()).unwrap();
        if body["database_nodes"][1]["healthy"] == true {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never joined: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["database_circuit"], "closed", "{body}");
    assert_eq!(body["database_pool"]["max"], 25, "{body}");
    assert!(
        body["database_pool"]["size"].as_u64().unwrap() >= 1,
        "{body}"
    );
    let nodes = body["database_nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{body}");
    assert_eq!(nodes[0]["node"], "primary");
    let replica = &nodes[1];
    assert!(
        replica["node"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{db_name}")),
        "{body}"
    );
    assert!(
        !replica["node"].as_str().unwrap().contains("postgres:"),
        "no credentials: {body}"
    );
    assert!(replica["lag_ms"].is_u64(), "{body}");

    // The admin API shows the same nodes beside the breaker and the pool.
    let status = client
        .get("/admin/diagnostics/status")
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await;
    status.assert_status_is_ok();
    let status: serde_json::Value =
        serde_json::from_str(&status.0.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(status["store"], "postgres", "{status}");
    assert_eq!(status["circuit"], "closed", "{status}");
    assert_eq!(status["replicas"][1]["node"], replica["node"], "{status}");
    assert_eq!(status["replicas"][1]["healthy"], true, "{status}");
}

const ADMIN_TOKEN: &str = "datapath-admin-token-0123";
