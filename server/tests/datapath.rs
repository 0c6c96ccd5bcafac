//! `/health/ready` over the production data path: PostgreSQL with the streaming standby
//! `scripts/services.sh` starts as a read replica. It shows the breaker's state, the pool's
//! figures and every database node with its lag; so does the admin API's status. The metrics
//! show each node's pool, and a pool held to its last connection in its acquire probe and in
//! its own count of acquire timeouts.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

use std::time::Duration;

use poem::test::TestClient;
use stack_backends::sql::{SqlOptions, SqlReplica};
use stack_core::config::Config;
use stack_core::datapath::Replica;
use stack_core::store::UserStore;
use stack_server::backends::Backends;
use stack_server::{app, metrics};

/// A fresh migrated PostgreSQL database, and its URL on the standby once the standby has it.
async fn database_and_standby() -> (String, String) {
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
    (url, replica_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_shows_the_breaker_the_pool_and_every_database_node() {
    let (url, replica_url) = database_and_standby().await;
    let db_name = url.rsplit('/').next().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
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

/// The value of the series `name{labels}` in a Prometheus text rendering (labels as rendered,
/// in order); `None` when absent.
fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_shows_its_pool_and_a_held_pool_its_acquire_waits() {
    let handle = metrics::install().unwrap();
    let (url, replica_url) = database_and_standby().await;
    let mut config = Config::default();
    config.database.url = url;
    config.database.read_replicas = vec![replica_url];
    config.queue.backend = "memory://".into();
    config.database.max_open_conns = 1;
    config.database.max_idle_conns = 1;
    config.database.acquire_timeout = Duration::from_millis(500);
    let backends = Backends::open(&config).await.expect("the data path opens");
    let replica = backends.replica_pools[0].clone();
    let node = replica.label();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !backends.replicas.as_ref().unwrap().status()[1].healthy {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never joined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let within = Duration::from_secs(2);
    let sampled = || async {
        metrics::sample(&backends, "default", within).await;
        handle.render()
    };
    let probe = |text: &str, node: &str| {
        value(
            text,
            "stack_db_acquire_probe_seconds",
            &format!(r#"node="{node}""#),
        )
    };
    let timeouts = |text: &str, node: &str| {
        value(
            text,
            "stack_db_acquire_timeouts_total",
            &format!(r#"node="{node}""#),
        )
        .unwrap_or(0.0)
    };

    // Both nodes' pools, each from its own figures; free pools answer the probe at once.
    let text = loop {
        let text = sampled().await;
        let quick = ["primary", node.as_str()]
            .iter()
            .all(|n| probe(&text, n).is_some_and(|s| s < 0.2));
        if quick {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow probes:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for n in ["primary", node.as_str()] {
        let labels = format!(r#"node="{n}""#);
        assert_eq!(
            value(&text, "stack_db_pool_max_connections", &labels),
            Some(1.0),
            "{text}"
        );
        for state in ["idle", "in_use"] {
            let labels = format!(r#"node="{n}",state="{state}""#);
            assert!(
                value(&text, "stack_db_pool_connections", &labels).is_some(),
                "no {state} connections of {n}:\n{text}"
            );
        }
    }

    // The replica's only connection held: a read on it waits the whole acquire timeout,
    // counted under the replica, and so does the probe; the primary counts nothing.
    let primary_before = timeouts(&text, "primary");
    let replica_before = timeouts(&text, &node);
    let held = replica
        .database()
        .connection()
        .get_postgres_connection_pool()
        .acquire()
        .await
        .unwrap();
    let read = replica.store().user(uuid::Uuid::new_v4()).await;
    assert!(
        read.as_ref()
            .is_err_and(|e| e.kind() == stack_core::ErrorKind::Unavailable),
        "{read:?}"
    );
    // So does the replica's own health check.
    let lag = replica.replay_lag().await;
    assert!(lag.is_err(), "{lag:?}");
    let text = sampled().await;
    assert_eq!(
        value(
            &text,
            "stack_db_pool_connections",
            &format!(r#"node="{node}",state="in_use""#)
        ),
        Some(1.0),
        "{text}"
    );
    assert!(timeouts(&text, &node) >= replica_before + 2.0, "{text}");
    assert!(probe(&text, &node).unwrap() >= 0.45, "{text}");
    assert_eq!(timeouts(&text, "primary"), primary_before, "{text}");
    drop(held);

    // The primary's held the same way: counted under the primary.
    let database = backends.database.clone().unwrap();
    let held = database
        .connection()
        .get_postgres_connection_pool()
        .acquire()
        .await
        .unwrap();
    let read = database.user(uuid::Uuid::new_v4()).await;
    assert!(read.is_err(), "{read:?}");
    let text = sampled().await;
    assert!(timeouts(&text, "primary") > primary_before, "{text}");
    assert!(probe(&text, "primary").unwrap() >= 0.45, "{text}");
    drop(held);

    // Given back: the probes fall again.
    loop {
        let text = sampled().await;
        if ["primary", node.as_str()]
            .iter()
            .all(|n| probe(&text, n).is_some_and(|s| s < 0.2))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow probes:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
