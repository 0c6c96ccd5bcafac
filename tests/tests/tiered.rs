//! The two-tier cache with two instances on one Redis: a write or delete through one drops
//! the other's first-tier copy (measured, and bounded generously here); an instance that
//! lost its subscription clears its first tier when it subscribes again.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed call must fail the test"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_backends::redis::{FirstTier, RedisCacheOptions, RedisTarget, TieredCache};
use stack_core::cache::Cache;
use stack_tests::own_redis::OwnRedis;

const FIRST: FirstTier = FirstTier {
    ttl: Duration::from_secs(60),
    max_entries: 10_000,
};

/// Two instances on one prefix; and the prefix.
async fn pair(target: RedisTarget) -> (Arc<dyn Cache>, Arc<dyn Cache>, String) {
    let prefix = format!("{}:", stack_tests::unique("tier"));
    let options = RedisCacheOptions {
        key_prefix: prefix.clone(),
        default_ttl: None,
    };
    let one = TieredCache::open(target.clone(), options.clone(), FIRST)
        .await
        .unwrap();
    let two = TieredCache::open(target, options, FIRST).await.unwrap();
    (Arc::new(one), Arc::new(two), prefix)
}

/// Polls `b.get(key)` until it answers `want`; how long that took.
async fn seen(b: &dyn Cache, key: &str, want: Option<&[u8]>) -> Duration {
    let started = Instant::now();
    loop {
        // A call may fail once while a connection is re-established.
        if b.get(key).await.ok().flatten().as_deref() == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{key} never became {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn writes_reach_the_other_instance(target: RedisTarget) {
    let (a, b, _) = pair(target).await;
    a.set("k", b"v1".to_vec(), None).await.unwrap();
    assert_eq!(
        b.get("k").await.unwrap().as_deref(),
        Some(&b"v1"[..]),
        "b caches v1"
    );
    a.set("k", b"v2".to_vec(), None).await.unwrap();
    let after_set = seen(b.as_ref(), "k", Some(b"v2")).await;
    a.delete("k").await.unwrap();
    let after_delete = seen(b.as_ref(), "k", None).await;
    b.set("p:1", b"x".to_vec(), None).await.unwrap();
    assert!(a.get("p:1").await.unwrap().is_some());
    b.delete_pattern("p:*").await.unwrap();
    let after_pattern = seen(a.as_ref(), "p:1", None).await;
    println!(
        "first-tier copy dropped after: set {after_set:?}, delete {after_delete:?}, pattern {after_pattern:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_drops_the_other_instance_s_copy() {
    let url = stack_tests::services::redis().await.url;
    writes_reach_the_other_instance(RedisTarget::Single(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_drops_the_other_instance_s_copy_on_the_cluster() {
    let url = stack_tests::services::redis_cluster().url;
    writes_reach_the_other_instance(RedisTarget::parse(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubscribed_instance_clears_its_first_tier() {
    let redis = OwnRedis::start();
    let (a, _b, prefix) = pair(RedisTarget::Single(redis.url())).await;
    a.set("k", b"old".to_vec(), None).await.unwrap();
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"old"[..]));
    redis.down();
    redis.up();
    // Changed behind the cache's back while it was cut off: no message will say so.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}k");
    redis::cmd("SET")
        .arg(&key)
        .arg("new")
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    seen(a.as_ref(), "k", Some(b"new")).await;
}
