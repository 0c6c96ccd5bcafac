//! `/admin/cache`: invalidation by keys, by pattern, and by user (the caching Store's entries
//! of that user included).

use std::time::Duration;

use poem::http::StatusCode;
use serde_json::json;
use stack_core::cache::UserKeys;
use stack_core::config::Config;
use stack_core::store::NewUser;

use super::{admin, app, config, open, send};

/// Deletes keys and a pattern through the API on the cache `config` names.
async fn keys_and_patterns_are_deleted_and_bad_input_changes_nothing(config: Config) {
    let backends = open(&config).await;
    let cache = backends.cache.clone();
    for key in ["rate:1", "rate:2", "session:1", "session:2"] {
        cache.set(key, b"v".to_vec(), None).await.unwrap();
    }
    let client = admin(app(backends, &config));
    let keys =
        |body: serde_json::Value| client.post("/admin/cache/invalidate/keys").body_json(&body);
    let pattern = |body: serde_json::Value| {
        client
            .post("/admin/cache/invalidate/pattern")
            .body_json(&body)
    };

    let (status, problem) = send(keys(json!({ "keys": ["rate:1", ""] }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/keys/1");
    for bad in [json!({ "keys": [] }), json!({ "keys": ["a"], "extra": 1 })] {
        assert_eq!(send(keys(bad)).await.0, StatusCode::BAD_REQUEST);
    }
    let (status, problem) = send(pattern(json!({ "pattern": "rate:[12" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/pattern");
    assert!(
        cache.get("rate:1").await.unwrap().is_some(),
        "nothing was deleted"
    );

    let (status, deleted) = send(keys(json!({ "keys": ["rate:1", "missing"] }))).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["deleted"], 1);
    assert!(cache.get("rate:1").await.unwrap().is_none());
    let (status, deleted) = send(pattern(json!({ "pattern": "session:*" }))).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["deleted"], 2);
    assert!(cache.get("session:2").await.unwrap().is_none());
    assert!(
        cache.get("rate:2").await.unwrap().is_some(),
        "only the pattern's keys"
    );
}

#[tokio::test]
async fn keys_and_patterns_on_the_memory_cache() {
    keys_and_patterns_are_deleted_and_bad_input_changes_nothing(config()).await;
}

/// The cache on Redis, under a prefix of its own.
fn on_redis() -> Config {
    let mut config = config();
    config.cache.backend = "redis://".into();
    config.cache.key_prefix = stack_tests::unique("admin") + ":";
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_patterns_on_redis() {
    let redis = stack_tests::services::redis().await;
    let mut config = on_redis();
    config.redis.url = redis.url.clone();
    keys_and_patterns_are_deleted_and_bad_input_changes_nothing(config).await;
}

/// A pattern reaches the keys on every master of a 3-master Cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_patterns_on_a_redis_cluster() {
    let cluster = stack_tests::services::redis_cluster();
    let mut config = on_redis();
    config.redis.cluster_mode = true;
    config.redis.cluster_addrs = cluster.url.split(',').map(str::to_owned).collect();
    keys_and_patterns_are_deleted_and_bad_input_changes_nothing(config).await;
}

#[tokio::test]
async fn a_user_is_invalidated_by_a_new_generation() {
    let mut config = config();
    config.cache.store_ttl = Some(Duration::from_secs(60));
    let backends = open(&config).await;
    let store = backends.store.clone();
    let cache = backends.cache.clone();
    let user = store
        .create_user(NewUser {
            email: "ops@example.com".into(),
            phone: None,
            full_name: "Ops".into(),
        })
        .await
        .unwrap();
    // The caching Store caches the user's balances under the user's generation.
    store.balances(user.id).await.unwrap();
    let [user_generation, _] = UserKeys::counters(user.id, "balances");
    let before = cache
        .get(&user_generation)
        .await
        .unwrap()
        .expect("a generation");
    let client = admin(app(backends, &config));

    let path = format!("/admin/cache/invalidate/users/{}", user.id);
    let (status, answer) = send(client.post(&path)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let after = cache.get(&user_generation).await.unwrap().unwrap();
    assert_ne!(after, before, "the user moved to a new generation");
    assert_eq!(
        answer["generation"].to_string(),
        String::from_utf8(after).unwrap()
    );
    let (status, _) = send(client.post("/admin/cache/invalidate/users/not-a-uuid")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
