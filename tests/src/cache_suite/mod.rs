//! The [`Cache`] conformance suite.

mod contract;
mod invalidation;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use stack_core::ErrorKind;
use stack_core::cache::Cache;

pub use contract::*;
pub use invalidation::*;

/// Builds a fresh cache whose keys all carry the given prefix and have no default TTL.
pub type CacheFactory = Arc<dyn Fn(String) -> BoxFuture<'static, Arc<dyn Cache>> + Send + Sync>;

/// Wraps an async closure as a [`CacheFactory`].
pub fn factory<F, Fut>(f: F) -> CacheFactory
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Arc<dyn Cache>> + Send + 'static,
{
    Arc::new(move |prefix| Box::pin(f(prefix)))
}

/// A cache of its own for one trial.
pub async fn fresh(new_cache: &CacheFactory) -> Arc<dyn Cache> {
    new_cache(format!("{}:", crate::unique("t"))).await
}

/// Waits until `key` is gone or `within` passes; answers whether it went.
pub async fn gone_within(cache: &dyn Cache, key: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if cache.get(key).await.unwrap().is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// What is set is got back; a missing key is `None`; `get_many` answers in key order.
pub async fn set_then_get_round_trips(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    assert_eq!(cache.get("missing").await.unwrap(), None);
    cache.set("a", b"alpha".to_vec(), None).await.unwrap();
    cache.set("b", vec![0, 159, 146, 150], None).await.unwrap();
    assert_eq!(
        cache.get("a").await.unwrap().as_deref(),
        Some(&b"alpha"[..])
    );
    let many = cache
        .get_many(&["b".into(), "zzz".into(), "a".into()])
        .await
        .unwrap();
    assert_eq!(
        many,
        vec![Some(vec![0, 159, 146, 150]), None, Some(b"alpha".to_vec())]
    );
    cache.set("a", b"again".to_vec(), None).await.unwrap();
    assert_eq!(
        cache.get("a").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
    cache.health().await.unwrap();
}

/// An entry disappears once its TTL passes; one without a TTL stays.
pub async fn entries_expire_after_their_ttl(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    cache
        .set("short", b"x".to_vec(), Some(Duration::from_millis(300)))
        .await
        .unwrap();
    cache.set("forever", b"y".to_vec(), None).await.unwrap();
    assert!(cache.get("short").await.unwrap().is_some());
    assert!(
        gone_within(cache.as_ref(), "short", Duration::from_secs(5)).await,
        "entry outlived its TTL"
    );
    assert!(cache.get("forever").await.unwrap().is_some());
}

/// Rewriting an entry replaces its TTL: a short-lived value rewritten without a TTL stays.
pub async fn rewrite_replaces_the_ttl(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    cache
        .set("k", b"1".to_vec(), Some(Duration::from_millis(200)))
        .await
        .unwrap();
    cache
        .set("k", b"2".to_vec(), Some(Duration::from_secs(60)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"2"[..]));
}

/// `delete` and `delete_many` remove keys and count only those that were there.
pub async fn deletes_count_what_they_removed(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    for key in ["a", "b", "c"] {
        cache.set(key, b"v".to_vec(), None).await.unwrap();
    }
    assert!(cache.delete("a").await.unwrap());
    assert!(!cache.delete("a").await.unwrap());
    assert_eq!(
        cache
            .delete_many(&["b".into(), "c".into(), "nope".into()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cache
            .get_many(&["a".into(), "b".into(), "c".into()])
            .await
            .unwrap(),
        vec![None, None, None]
    );
}

/// Pattern deletes remove exactly the matching keys (`*`, `?`, classes) and nothing else.
pub async fn pattern_delete_removes_exactly_the_matches(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    if !cache.capabilities().pattern_delete {
        return crate::skip(
            "pattern_delete_removes_exactly_the_matches",
            "pattern_delete",
        );
    }
    let keys = [
        "user:1:wallets",
        "user:1:profile",
        "user:2:wallets",
        "user:10:wallets",
        "deposit:1",
    ];
    for key in keys {
        cache.set(key, b"v".to_vec(), None).await.unwrap();
    }
    assert_eq!(cache.delete_pattern("user:1:*").await.unwrap(), 2);
    assert_eq!(cache.delete_pattern("user:?:wallets").await.unwrap(), 1);
    assert_eq!(cache.delete_pattern("nothing:*").await.unwrap(), 0);
    let left = cache.get_many(&keys.map(String::from)).await.unwrap();
    let left: Vec<bool> = left.iter().map(Option::is_some).collect();
    assert_eq!(left, [false, false, false, true, true]);
    assert_eq!(cache.delete_pattern("[ud]*").await.unwrap(), 2);
}

/// Two caches with different prefixes on one backend never see or delete each other's keys.
pub async fn key_prefixes_isolate_caches(new_cache: CacheFactory) {
    let one = fresh(&new_cache).await;
    let two = fresh(&new_cache).await;
    one.set("shared-name", b"one".to_vec(), None).await.unwrap();
    two.set("shared-name", b"two".to_vec(), None).await.unwrap();
    assert_eq!(
        one.get("shared-name").await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    if one.capabilities().pattern_delete {
        assert_eq!(one.delete_pattern("*").await.unwrap(), 1);
    }
    assert_eq!(
        two.get("shared-name").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
}

/// Bad input (empty key, zero TTL, malformed pattern) is `Invalid` and stores nothing.
pub async fn invalid_input_is_refused_and_changes_nothing(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    assert_eq!(
        cache.set("", b"v".to_vec(), None).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        cache
            .set("k", b"v".to_vec(), Some(Duration::ZERO))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(cache.get("k").await.unwrap(), None);
    if cache.capabilities().pattern_delete {
        cache.set("k", b"v".to_vec(), None).await.unwrap();
        assert_eq!(
            cache.delete_pattern("[unclosed").await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        assert!(cache.get("k").await.unwrap().is_some());
    }
}

/// Stats count hits, misses, sets and deletes.
pub async fn stats_count_operations(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    let before = cache.stats().await.unwrap();
    cache.set("k", b"v".to_vec(), None).await.unwrap();
    cache.get("k").await.unwrap();
    cache.get("k").await.unwrap();
    cache.get("missing").await.unwrap();
    cache.delete("k").await.unwrap();
    let after = cache.stats().await.unwrap();
    assert_eq!(after.sets - before.sets, 1);
    assert_eq!(after.hits - before.hits, 2);
    assert_eq!(after.misses - before.misses, 1);
    assert_eq!(after.deletes - before.deletes, 1);
}

/// Instantiates the cache suite for one backend: `cache_conformance!(name, factory_closure)`,
/// where the closure takes a key prefix and returns a future of `Arc<dyn Cache>`.
#[macro_export]
macro_rules! cache_conformance {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::__trials!($crate::cache_suite, $crate::cache_suite::factory($factory);
                set_then_get_round_trips,
                entries_expire_after_their_ttl,
                rewrite_replaces_the_ttl,
                deletes_count_what_they_removed,
                pattern_delete_removes_exactly_the_matches,
                key_prefixes_isolate_caches,
                invalid_input_is_refused_and_changes_nothing,
                stats_count_operations,
                increment_is_atomic_and_counts_from_zero,
                set_if_absent_has_exactly_one_winner,
                patterns_follow_redis_match_syntax,
                a_prefix_with_pattern_characters_matches_only_itself,
                many_keys_across_slots,
                handles_with_one_prefix_share_a_shared_cache,
                invalidation_strategies_do_what_they_say,
                user_invalidation_is_one_increment,
                a_lost_generation_never_comes_back,
                a_hundred_concurrent_misses_load_once,
                the_cross_process_lock_loads_a_hot_key_once,
            );
        }
    };
}
