//! Invalidation through the core `Invalidator` and `UserKeys`, and stampedes: within one
//! process with `get_or_load`, across processes with `get_or_load_locked`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stack_core::cache::{Invalidator, Strategy, TypedCache, UserKeys};

use super::{CacheFactory, fresh, gone_within};

/// Immediate deletes now; Lazy serves the stale value to concurrent readers while one
/// reloads; Ttl keeps serving until a short grace runs out.
pub async fn invalidation_strategies_do_what_they_say(new_cache: CacheFactory) {
    let cache = TypedCache::new(fresh(&new_cache).await);
    cache.set("now", &1u32, None).await.unwrap();
    Invalidator::new(cache.clone(), Strategy::Immediate)
        .key("now")
        .await
        .unwrap();
    assert_eq!(cache.get::<u32>("now").await, None);

    cache.set("lazy", &1u32, None).await.unwrap();
    let lazy = Invalidator::new(
        cache.clone(),
        Strategy::Lazy {
            grace: Duration::from_secs(30),
        },
    );
    lazy.key("lazy").await.unwrap();
    assert_eq!(cache.get::<u32>("lazy").await, None, "stale is not fresh");
    // One reader reloads; it holds the reload open until the other reader has been served.
    let (started, has_started) = tokio::sync::oneshot::channel::<()>();
    let (finish, may_finish) = tokio::sync::oneshot::channel::<()>();
    let reloading = tokio::spawn({
        let cache = cache.clone();
        async move {
            cache
                .get_or_load("lazy", None, || async move {
                    let _ = started.send(());
                    let _ = may_finish.await;
                    Ok(2u32)
                })
                .await
                .unwrap()
        }
    });
    has_started.await.unwrap();
    let meanwhile = cache
        .get_or_load("lazy", None, || async { Ok(99u32) })
        .await
        .unwrap();
    assert_eq!(meanwhile, 1, "served the stale value while another reloads");
    finish.send(()).unwrap();
    assert_eq!(reloading.await.unwrap(), 2);
    assert_eq!(cache.get::<u32>("lazy").await, Some(2));

    cache.set("tail", &1u32, None).await.unwrap();
    let ttl = Invalidator::new(
        cache.clone(),
        Strategy::Ttl {
            grace: Duration::from_millis(300),
        },
    );
    ttl.key("tail").await.unwrap();
    assert_eq!(
        cache.get::<u32>("tail").await,
        Some(1),
        "served during the grace"
    );
    assert!(gone_within(cache.inner().as_ref(), "tail", Duration::from_secs(10)).await);
    ttl.keys(&["missing".to_owned()]).await.unwrap();
}

/// One increment of a user's generation makes every key of that user unreachable, and no
/// other user's.
pub async fn user_invalidation_is_one_increment(new_cache: CacheFactory) {
    let cache = TypedCache::new(fresh(&new_cache).await);
    let keys = UserKeys::new(cache.clone());
    let (alice, bob) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for name in ["balances", "deposits:1", "profile"] {
        cache
            .set(&keys.key(alice, name).await.unwrap(), &name, None)
            .await
            .unwrap();
    }
    cache
        .set(&keys.key(bob, "balances").await.unwrap(), &"bob", None)
        .await
        .unwrap();
    let before = cache.inner().stats().await.unwrap();
    let generation = Invalidator::new(cache.clone(), Strategy::Immediate)
        .user(alice)
        .await
        .unwrap();
    assert!(generation > 1, "a new generation: {generation}");
    let after = cache.inner().stats().await.unwrap();
    assert_eq!(
        after.deletes, before.deletes,
        "nothing is deleted: one increment"
    );
    for name in ["balances", "deposits:1", "profile"] {
        let key = keys.key(alice, name).await.unwrap();
        assert_eq!(cache.get::<String>(&key).await, None, "{name} unreachable");
    }
    let bobs = keys.key(bob, "balances").await.unwrap();
    assert_eq!(cache.get::<String>(&bobs).await.as_deref(), Some("bob"));
}

/// A generation counter that vanishes (evicted, or lost in a failover) starts again from a
/// value no earlier generation had: an entry written under the lost generation is never
/// served, whether the next call after the loss reads the generation or bumps it.
pub async fn a_lost_generation_never_comes_back(new_cache: CacheFactory) {
    let cache = TypedCache::new(fresh(&new_cache).await);
    let keys = UserKeys::new(cache.clone());
    let user = uuid::Uuid::now_v7();
    let lose = || async {
        for counter in UserKeys::counters(user, "balances") {
            assert!(
                cache.inner().delete(&counter).await.unwrap(),
                "{counter} was there"
            );
        }
    };
    let first = keys.key_in(user, "balances", "all").await.unwrap();
    cache.set(&first, &"first", None).await.unwrap();
    lose().await;
    let second = keys.key_in(user, "balances", "all").await.unwrap();
    assert_ne!(second, first, "a lost generation is not started again");
    assert_eq!(cache.get::<String>(&second).await, None);

    // Bumped once, then lost, and the next call is a bump.
    keys.bump_scope(user, "balances").await.unwrap();
    let third = keys.key_in(user, "balances", "all").await.unwrap();
    cache.set(&third, &"third", None).await.unwrap();
    lose().await;
    keys.bump_scope(user, "balances").await.unwrap();
    let fourth = keys.key_in(user, "balances", "all").await.unwrap();
    for earlier in [&first, &second, &third] {
        assert_ne!(&fourth, earlier, "a generation came back");
    }
    assert_eq!(
        cache.get::<String>(&fourth).await,
        None,
        "an old entry is served"
    );
}

/// A hundred concurrent misses on one key load it once in a process.
pub async fn a_hundred_concurrent_misses_load_once(new_cache: CacheFactory) {
    let cache = TypedCache::new(fresh(&new_cache).await);
    let loads = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let (cache, loads) = (cache.clone(), Arc::clone(&loads));
            tokio::spawn(async move {
                cache
                    .get_or_load("hot", None, || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(7u32)
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), 7);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

/// Two "processes" (two handles on one shared cache, each with its own facade) load a hot
/// key once between them with the cross-process lock; the waiters get the fresh value.
pub async fn the_cross_process_lock_loads_a_hot_key_once(new_cache: CacheFactory) {
    let prefix = format!("{}:", crate::unique("x"));
    let one = TypedCache::new(new_cache(prefix.clone()).await);
    if !one.inner().capabilities().shared {
        return crate::skip("the_cross_process_lock_loads_a_hot_key_once", "shared");
    }
    let two = TypedCache::new(new_cache(prefix).await);
    let loads = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..40)
        .map(|n| {
            let cache = if n % 2 == 0 { one.clone() } else { two.clone() };
            let loads = Arc::clone(&loads);
            tokio::spawn(async move {
                cache
                    .get_or_load_locked("hot", None, Duration::from_secs(5), || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(42u32)
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), 42);
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "one load across both processes"
    );
}
