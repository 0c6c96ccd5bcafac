//! The two-tier cache with two instances on one Redis: a write or delete through one drops
//! the other's first-tier copy (measured, and bounded generously here); an instance that
//! lost its subscription clears its first tier when it subscribes again; a generation bumped
//! anywhere is seen at once; an invalidation that cannot be published is an error and is
//! sent later. The Cache suite and the caching Store's stale-read trials run on it too.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed call must fail the test"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_backends::redis::{FirstTier, RedisCache, RedisCacheOptions, RedisTarget, TieredCache};
use stack_core::ErrorKind;
use stack_core::cache::{Cache, TypedCache, UserKeys};
use stack_tests::own_redis::OwnRedis;

const FIRST: FirstTier = FirstTier {
    ttl: Duration::from_secs(60),
    max_entries: 10_000,
};

fn options(prefix: &str) -> RedisCacheOptions {
    RedisCacheOptions {
        key_prefix: prefix.to_owned(),
        default_ttl: None,
    }
}

/// One instance on `prefix`.
async fn tiered(target: RedisTarget, prefix: String) -> Arc<dyn Cache> {
    Arc::new(
        TieredCache::open(target, options(&prefix), FIRST)
            .await
            .unwrap(),
    )
}

async fn single(prefix: String) -> Arc<dyn Cache> {
    let url = stack_tests::services::redis().await.url;
    tiered(RedisTarget::Single(url), prefix).await
}

async fn cluster(prefix: String) -> Arc<dyn Cache> {
    let url = stack_tests::services::redis_cluster().url;
    tiered(RedisTarget::parse(&url), prefix).await
}

stack_tests::cache_conformance!(cache, single);
stack_tests::cache_conformance!(cluster_cache, cluster);

mod caching_store {
    use stack_tests::caching_store as trials;

    fn prefix() -> String {
        format!("{}:", stack_tests::unique("cs"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_stale_read_after_any_write() {
        trials::no_stale_read_after_any_write(super::single(prefix()).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_reads_are_cache_hits() {
        trials::repeated_reads_are_cache_hits(super::single(prefix()).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_stale_read_after_any_write_on_the_cluster() {
        trials::no_stale_read_after_any_write(super::cluster(prefix()).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_reads_are_cache_hits_on_the_cluster() {
        trials::repeated_reads_are_cache_hits(super::cluster(prefix()).await).await;
    }
}

/// Two instances on one prefix; and the prefix.
async fn pair(target: RedisTarget) -> (Arc<dyn Cache>, Arc<dyn Cache>, String) {
    let prefix = format!("{}:", stack_tests::unique("tier"));
    let options = options(&prefix);
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

/// Instance B reads a user's generations, instance A bumps the scope: B's next key is the new
/// one at once, and the entry B wrote under the old one is never served. Then the counter
/// is bumped in Redis with no message at all (as when A's message reached B before B stored
/// the generation it had just read, so B's listener had nothing to drop): B still reads the
/// new generation.
async fn bumped_generation_seen_at_once(target: RedisTarget) {
    let (a, b, prefix) = pair(target.clone()).await;
    let (a, b) = (TypedCache::new(a), TypedCache::new(b));
    let (on_a, on_b) = (UserKeys::new(a), UserKeys::new(b.clone()));
    let user = uuid::Uuid::now_v7();
    let old = on_b.key_in(user, "balances", "all").await.unwrap();
    b.set(&old, &"old", None).await.unwrap();
    assert_eq!(on_b.key_in(user, "balances", "all").await.unwrap(), old);
    assert_eq!(b.get::<String>(&old).await.as_deref(), Some("old"));

    on_a.bump_scope(user, "balances").await.unwrap();
    let after_bump = on_b.key_in(user, "balances", "all").await.unwrap();
    assert_ne!(after_bump, old, "B read a retired generation");
    assert_eq!(b.get::<String>(&after_bump).await, None);

    // Behind both instances' backs: a plain Redis cache publishes nothing.
    let plain = RedisCache::open(target, options(&prefix)).await.unwrap();
    let [_, scope] = UserKeys::counters(user, "balances");
    let read = b.inner().get(&scope).await.unwrap();
    assert_eq!(b.inner().get(&scope).await.unwrap(), read);
    plain.increment(&scope, 1, None).await.unwrap();
    assert_ne!(
        b.inner().get(&scope).await.unwrap(),
        read,
        "B served a counter from its first tier"
    );
    let unannounced = on_b.key_in(user, "balances", "all").await.unwrap();
    assert_ne!(
        unannounced, after_bump,
        "B served a generation from its first tier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bumped_generation_is_seen_at_once() {
    let url = stack_tests::services::redis().await.url;
    bumped_generation_seen_at_once(RedisTarget::Single(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bumped_generation_is_seen_at_once_on_the_cluster() {
    let url = stack_tests::services::redis_cluster().url;
    bumped_generation_seen_at_once(RedisTarget::parse(&url)).await;
}

/// A writer that may write but not publish (an ACL without `publish`): its write answers
/// `Unavailable`, the other instance keeps its copy meanwhile, and once publishing works the
/// owed message goes out before the writer's next call and the copy is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpublished_invalidation_is_an_error_and_is_sent_later() {
    let redis = OwnRedis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let acl = |rules: &'static [&'static str]| {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER").arg("writer").arg(rules);
        cmd
    };
    acl(&["on", ">pw", "~*", "&*", "+@all", "-publish"])
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let prefix = format!("{}:", stack_tests::unique("owed"));
    let url = format!("redis://writer:pw@127.0.0.1:{}", redis.port);
    let writer = tiered(RedisTarget::Single(url), prefix.clone()).await;
    let reader = tiered(RedisTarget::Single(redis.url()), prefix).await;

    reader.set("k", b"v1".to_vec(), None).await.unwrap();
    assert_eq!(reader.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    let refused = writer.set("k", b"v2".to_vec(), None).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert_eq!(writer.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));

    acl(&["+publish"])
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    writer.get("other").await.unwrap();
    seen(reader.as_ref(), "k", Some(b"v2")).await;
}
