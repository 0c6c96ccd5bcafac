//! The SQL `IdempotencyStore` on an SQLite file and on PostgreSQL, each trial with a fresh,
//! migrated database: claims, replays, mismatches, fencing after a takeover, expiry, the
//! purge, and one winner among racing claims.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_backends::sql::{self, SqlOptions, SqlStore};
use stack_core::Error;
use stack_core::idempotency::{
    Begun, Claim, IdempotencyKey, IdempotencyStore, RequestFingerprint, StoredResponse,
};

const LONG: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

async fn migrated(url: &str) -> SqlStore {
    let options = SqlOptions::default();
    sql::migrate_url(url, &options).await.expect("migrate");
    sql::open(url, &options)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

async fn sqlite_file() -> SqlStore {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-idem"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    migrated(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("idem.db").display()
    ))
    .await
}

async fn postgres() -> SqlStore {
    migrated(&stack_tests::services::fresh_postgres_database().await).await
}

fn key(name: &str) -> IdempotencyKey {
    IdempotencyKey::parse(name).expect("key")
}

fn request(body: &str) -> RequestFingerprint {
    RequestFingerprint {
        method: "POST".into(),
        target: "/things".into(),
        body_sha256: format!("{body:0>64}"),
    }
}

fn response(text: &str) -> StoredResponse {
    StoredResponse {
        status: 201,
        content_type: Some("application/json".into()),
        body: text.as_bytes().to_vec(),
    }
}

async fn claim(store: &dyn IdempotencyStore, k: &str, body: &str, lease: Duration) -> Claim {
    match store.begin(&key(k), &request(body), lease, DAY).await {
        Ok(Begun::Claimed(claim)) => claim,
        other => panic!("expected a claim of {k}, got {other:?}"),
    }
}

/// Polls `begin` until it claims (a lease or a TTL lapsing), within 10 s.
async fn claim_eventually(
    store: &dyn IdempotencyStore,
    k: &str,
    body: &str,
    ttl: Duration,
) -> Claim {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.begin(&key(k), &request(body), LONG, ttl).await {
            Ok(Begun::Claimed(claim)) => return claim,
            other if Instant::now() > deadline => panic!("never claimed {k}: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn claim_replay_mismatch_in_flight(store: &dyn IdempotencyStore) {
    let first = claim(store, "k1", "a", LONG).await;
    let again = store.begin(&key("k1"), &request("a"), LONG, DAY).await;
    let Ok(Begun::InFlight { retry_after }) = again else {
        panic!("a running key is in flight: {again:?}");
    };
    assert!(
        retry_after > Duration::from_secs(50) && retry_after <= LONG,
        "{retry_after:?}"
    );
    let other = store.begin(&key("k1"), &request("b"), LONG, DAY).await;
    assert_eq!(
        other.expect("begin"),
        Begun::Mismatch {
            first: request("a")
        }
    );
    store
        .finish(&first, &response("{\"id\":1}"))
        .await
        .expect("finish");
    let replay = store.begin(&key("k1"), &request("a"), LONG, DAY).await;
    assert_eq!(
        replay.expect("begin"),
        Begun::Replay(response("{\"id\":1}"))
    );
    let mut elsewhere = request("a");
    elsewhere.target = "/others".into();
    let moved = store.begin(&key("k1"), &elsewhere, LONG, DAY).await;
    assert!(matches!(moved, Ok(Begun::Mismatch { .. })), "{moved:?}");
    // Finishing twice is refused and changes nothing.
    let twice = store.finish(&first, &response("other")).await;
    assert!(matches!(twice, Err(Error::Conflict { .. })), "{twice:?}");
    let replay = store.begin(&key("k1"), &request("a"), LONG, DAY).await;
    assert_eq!(
        replay.expect("begin"),
        Begun::Replay(response("{\"id\":1}"))
    );
}

async fn abandon_frees_the_key(store: &dyn IdempotencyStore) {
    let first = claim(store, "k2", "a", LONG).await;
    store.abandon(&first).await.expect("abandon");
    let second = claim(store, "k2", "b", LONG).await;
    assert_ne!(first.token, second.token);
    // The old claim cannot free the new one.
    store.abandon(&first).await.expect("abandon");
    let held = store.begin(&key("k2"), &request("b"), LONG, DAY).await;
    assert!(matches!(held, Ok(Begun::InFlight { .. })), "{held:?}");
}

async fn a_lapsed_lease_is_taken_over_and_fenced(store: &dyn IdempotencyStore) {
    let first = claim(store, "k3", "a", Duration::from_millis(100)).await;
    // Another request cannot take it over, lapsed or not.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let other = store.begin(&key("k3"), &request("b"), LONG, DAY).await;
    assert!(matches!(other, Ok(Begun::Mismatch { .. })), "{other:?}");
    let second = claim_eventually(store, "k3", "a", DAY).await;
    let late = store.finish(&first, &response("late")).await;
    assert!(matches!(late, Err(Error::Conflict { .. })), "{late:?}");
    store
        .finish(&second, &response("won"))
        .await
        .expect("finish");
    let replay = store.begin(&key("k3"), &request("a"), LONG, DAY).await;
    assert_eq!(replay.expect("begin"), Begun::Replay(response("won")));
}

async fn expired_keys_are_free_and_purged(store: &dyn IdempotencyStore) {
    let ttl = Duration::from_millis(100);
    for name in ["e1", "e2", "e3"] {
        let claim = match store.begin(&key(name), &request("a"), LONG, ttl).await {
            Ok(Begun::Claimed(claim)) => claim,
            other => panic!("{other:?}"),
        };
        store.finish(&claim, &response(name)).await.expect("finish");
    }
    // A running claim past its expiry but within its lease is neither free nor purged.
    let _running = match store.begin(&key("e4"), &request("a"), LONG, ttl).await {
        Ok(Begun::Claimed(claim)) => claim,
        other => panic!("{other:?}"),
    };
    let kept = claim(store, "keep", "a", LONG).await;
    store
        .finish(&kept, &response("keep"))
        .await
        .expect("finish");
    // Reusable with another body once expired (e3, the last made: e1 and e2 expired before).
    let reused = claim_eventually(store, "e3", "different", DAY).await;
    store
        .finish(&reused, &response("new"))
        .await
        .expect("finish");
    let e4 = store.begin(&key("e4"), &request("a"), LONG, DAY).await;
    assert!(matches!(e4, Ok(Begun::InFlight { .. })), "{e4:?}");
    // e1 and e2 are expired: purged one batch at a time.
    assert_eq!(store.purge_expired(1).await.expect("purge"), 1);
    assert_eq!(store.purge_expired(10).await.expect("purge"), 1);
    assert_eq!(store.purge_expired(10).await.expect("purge"), 0);
    let replay = store.begin(&key("keep"), &request("a"), LONG, DAY).await;
    assert_eq!(replay.expect("begin"), Begun::Replay(response("keep")));
    let replay = store
        .begin(&key("e3"), &request("different"), LONG, DAY)
        .await;
    assert_eq!(replay.expect("begin"), Begun::Replay(response("new")));
}

async fn one_of_racing_claims_wins(store: Arc<dyn IdempotencyStore>) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.begin(&key("race"), &request("a"), LONG, DAY).await
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Begun::Claimed(_)) => claimed += 1,
            Ok(Begun::InFlight { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(claimed, 1);
}

async fn all_trials(store: SqlStore) {
    let store: Arc<dyn IdempotencyStore> = Arc::new(store);
    claim_replay_mismatch_in_flight(store.as_ref()).await;
    abandon_frees_the_key(store.as_ref()).await;
    a_lapsed_lease_is_taken_over_and_fenced(store.as_ref()).await;
    expired_keys_are_free_and_purged(store.as_ref()).await;
    one_of_racing_claims_wins(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_idempotency_store() {
    all_trials(sqlite_file().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_idempotency_store() {
    all_trials(postgres().await).await;
}
