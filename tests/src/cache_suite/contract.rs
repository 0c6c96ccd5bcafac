//! The contract added for invalidation: atomic increments (generation counters), set-if-absent
//! (cross-process locks), one pattern syntax (Redis `MATCH`) with the prefix escaped, and
//! multi-key calls over enough keys that a Cluster backend touching one shard fails.

use std::sync::Arc;
use std::time::Duration;

use stack_core::ErrorKind;

use super::{CacheFactory, fresh, gone_within};

/// Fifty concurrent increments of a missing key end at 50; the value reads back as digits;
/// a TTL given at creation expires the counter; a value that is not a number is refused.
pub async fn increment_is_atomic_and_counts_from_zero(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    let adds = (0..50).map(|_| {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move { cache.increment("gen", 1, None).await.unwrap() })
    });
    let mut seen: Vec<i64> = Vec::new();
    for add in adds {
        seen.push(add.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<_>>(),
        "each increment saw its own value"
    );
    assert_eq!(cache.get("gen").await.unwrap().as_deref(), Some(&b"50"[..]));
    assert_eq!(cache.increment("gen", -5, None).await.unwrap(), 45);
    cache
        .set("text", b"not a number".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(
        cache.increment("text", 1, None).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let ttl = Some(Duration::from_millis(300));
    assert_eq!(cache.increment("short", 1, ttl).await.unwrap(), 1);
    assert_eq!(cache.increment("short", 1, ttl).await.unwrap(), 2);
    assert!(gone_within(cache.as_ref(), "short", Duration::from_secs(10)).await);
}

/// Of twenty concurrent `set_if_absent` calls on one key exactly one stores its value; after
/// a delete (or its TTL) the key can be taken again.
pub async fn set_if_absent_has_exactly_one_winner(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    let tries = (0..20u8).map(|n| {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move { (n, cache.set_if_absent("lock", vec![n], None).await.unwrap()) })
    });
    let mut winners = Vec::new();
    for attempt in tries {
        let (n, won) = attempt.await.unwrap();
        if won {
            winners.push(n);
        }
    }
    assert_eq!(winners.len(), 1, "one winner: {winners:?}");
    assert_eq!(cache.get("lock").await.unwrap(), Some(vec![winners[0]]));
    assert!(cache.delete("lock").await.unwrap());
    let brief = Some(Duration::from_millis(300));
    assert!(cache.set_if_absent("lock", vec![1], brief).await.unwrap());
    assert!(!cache.set_if_absent("lock", vec![2], brief).await.unwrap());
    assert!(gone_within(cache.as_ref(), "lock", Duration::from_secs(10)).await);
    assert!(cache.set_if_absent("lock", vec![3], None).await.unwrap());
}

async fn keys_left(cache: &dyn stack_core::cache::Cache, keys: &[&str]) -> Vec<String> {
    let all: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    let values = cache.get_many(&all).await.unwrap();
    all.into_iter()
        .zip(values)
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect()
}

/// Patterns read as Redis `MATCH` reads them on every backend: `[^a]` negates a class and
/// `\` takes the next character literally.
pub async fn patterns_follow_redis_match_syntax(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    if !cache.capabilities().pattern_delete {
        return crate::skip("patterns_follow_redis_match_syntax", "pattern_delete");
    }
    let keys = ["a1", "a2", "b1", "c*d", "cxd", "e[x]", "ex"];
    for key in keys {
        cache.set(key, b"v".to_vec(), None).await.unwrap();
    }
    assert_eq!(cache.delete_pattern("[^ace]?").await.unwrap(), 1, "b1 only");
    assert_eq!(
        cache.delete_pattern("c\\*d").await.unwrap(),
        1,
        "the literal c*d"
    );
    assert_eq!(
        cache.delete_pattern("e\\[x\\]").await.unwrap(),
        1,
        "the literal e[x]"
    );
    assert_eq!(
        keys_left(cache.as_ref(), &keys).await,
        ["a1", "a2", "cxd", "ex"]
    );
    assert_eq!(cache.delete_pattern("a[1-2]").await.unwrap(), 2);
}

/// A key prefix is matched literally: a cache whose prefix holds `*` deletes its own keys
/// only, not those of a cache whose prefix the unescaped `*` would match.
pub async fn a_prefix_with_pattern_characters_matches_only_itself(new_cache: CacheFactory) {
    let base = crate::unique("p");
    let starred = new_cache(format!("{base}*:")).await;
    if !starred.capabilities().pattern_delete {
        return crate::skip(
            "a_prefix_with_pattern_characters_matches_only_itself",
            "pattern_delete",
        );
    }
    let plain = new_cache(format!("{base}xy:")).await;
    starred.set("k", b"1".to_vec(), None).await.unwrap();
    plain.set("k", b"2".to_vec(), None).await.unwrap();
    assert_eq!(starred.delete_pattern("*").await.unwrap(), 1);
    assert_eq!(plain.get("k").await.unwrap().as_deref(), Some(&b"2"[..]));
}

/// A hundred keys, which a Cluster spreads over every shard: `get_many` answers each in
/// order, `delete_many` and `delete_pattern` remove exactly what they name. (A backend that
/// scanned or read one shard would miss about two thirds, every time.)
pub async fn many_keys_across_slots(new_cache: CacheFactory) {
    let cache = fresh(&new_cache).await;
    let keys: Vec<String> = (0..100).map(|n| format!("k:{n}")).collect();
    for (n, key) in keys.iter().enumerate() {
        cache
            .set(key, n.to_string().into_bytes(), None)
            .await
            .unwrap();
    }
    let values = cache.get_many(&keys).await.unwrap();
    for (n, value) in values.iter().enumerate() {
        assert_eq!(value.as_deref(), Some(n.to_string().as_bytes()), "key {n}");
    }
    assert_eq!(cache.delete_many(&keys[..30]).await.unwrap(), 30);
    if cache.capabilities().pattern_delete {
        assert_eq!(cache.delete_pattern("k:*").await.unwrap(), 70);
    } else {
        assert_eq!(cache.delete_many(&keys[30..]).await.unwrap(), 70);
    }
    assert!(
        cache
            .get_many(&keys)
            .await
            .unwrap()
            .iter()
            .all(Option::is_none)
    );
}

/// A shared cache is one store: a second handle with the same prefix sees the first's
/// entries. (A cache that is not shared is skipped: each handle is a cache of its own.)
pub async fn handles_with_one_prefix_share_a_shared_cache(new_cache: CacheFactory) {
    let prefix = format!("{}:", crate::unique("s"));
    let one = new_cache(prefix.clone()).await;
    if !one.capabilities().shared {
        return crate::skip("handles_with_one_prefix_share_a_shared_cache", "shared");
    }
    let two = new_cache(prefix).await;
    one.set("k", b"v".to_vec(), None).await.unwrap();
    assert_eq!(two.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert!(two.delete("k").await.unwrap());
    // A two-tier cache drops the other handle's first-tier copy when the message arrives.
    assert!(
        gone_within(one.as_ref(), "k", Duration::from_secs(2)).await,
        "a delete through one handle reaches the other"
    );
}
