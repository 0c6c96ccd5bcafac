//! The caching Store while its Redis goes down and comes back (a Redis this test starts,
//! stops and starts again, with its keys kept on disk): reads and writes succeed throughout,
//! failures are counted, a write made during the outage leaves no stale entry behind once
//! the old keys are back, and the cache serves again with nothing restarted.

use std::sync::Arc;
use std::time::Duration;

use stack_backends::redis::{RedisCache, RedisCacheOptions, RedisTarget};
use stack_core::cache::{Cache, UserKeys};
use stack_core::store::{MoneyStore, NewDebit};
use stack_tests::own_redis::OwnRedis;
use stack_tests::store_suite::{dec, recorded, user};

/// A Redis cache on `redis`, the one every trial here puts under a caching Store.
async fn cache_on(redis: &OwnRedis) -> Arc<dyn Cache> {
    Arc::new(
        RedisCache::open(
            RedisTarget::Single(redis.url()),
            RedisCacheOptions::default(),
        )
        .await
        .expect("a Redis cache opens on the test's own server"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_survive_a_redis_outage_and_nothing_stale_is_served_after() {
    let redis = OwnRedis::start();
    let cache = cache_on(&redis).await;
    let (cached, counting, _) = stack_tests::caching_store::caching_store(cache.clone()).await;
    let owner = user(&cached).await.id;
    let deposit = recorded(&cached, owner, "10").await;
    cached.confirm_deposit(deposit).await.unwrap();
    assert_eq!(
        cached.balances(owner).await.unwrap()[0].available,
        dec("10")
    );
    assert_eq!(
        cached.balances(owner).await.unwrap()[0].available,
        dec("10")
    );
    assert_eq!(counting.calls("balances"), 1, "the second read was a hit");

    // Down: every read and write still succeeds, served by the Store.
    redis.down();
    assert_eq!(
        cached.balances(owner).await.unwrap()[0].available,
        dec("10")
    );
    cached
        .debit(NewDebit {
            user_id: owner,
            asset: "USDC".into(),
            amount: dec("3"),
            reference: "during-the-outage".into(),
        })
        .await
        .expect("a write succeeds with the cache down");
    assert_eq!(cached.balances(owner).await.unwrap()[0].available, dec("7"));
    assert!(counting.calls("balances") >= 3, "served by the Store");
    let errors = cache.stats().await.unwrap().errors;
    assert!(errors > 0, "the failures are counted");

    // Back, with the keys it had, among them the cached balance of 10: the invalidation owed
    // since the outage runs first, so the balance read is 7, and the cache serves again.
    redis.up();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while cache.health().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cached.balances(owner).await.unwrap()[0].available, dec("7"));
    let before = counting.calls("balances");
    assert_eq!(cached.balances(owner).await.unwrap()[0].available, dec("7"));
    assert_eq!(
        counting.calls("balances"),
        before,
        "a hit again, nothing restarted"
    );
}

/// A generation counter that a failover rolls back (its last bump lost, the older value
/// present again, with the entries made under it) never serves those entries again: the
/// restarted server has a new lineage, and every key made before is out of reach. Simulated
/// with a restart (the data kept on disk) and the counter's old value written back by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_rolled_back_by_a_failover_serves_nothing_stale() {
    let redis = OwnRedis::start();
    let cache = cache_on(&redis).await;
    let (cached, _, direct) = stack_tests::caching_store::caching_store(cache.clone()).await;
    let owner = user(&cached).await.id;
    let deposit = recorded(&cached, owner, "10").await;
    cached.confirm_deposit(deposit).await.unwrap();
    assert_eq!(
        cached.balances(owner).await.unwrap()[0].available,
        dec("10")
    );
    let [_, scope] = UserKeys::counters(owner, "balances");
    let before = cache
        .get(&scope)
        .await
        .unwrap()
        .expect("the scope's counter");
    cached
        .debit(NewDebit {
            user_id: owner,
            asset: "USDC".into(),
            amount: dec("3"),
            reference: "bumped-then-rolled-back".into(),
        })
        .await
        .unwrap();
    assert_ne!(cache.get(&scope).await.unwrap().as_ref(), Some(&before));

    // The failover: another server state, where the bump never happened.
    redis.down();
    redis.up();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache.set(&scope, before.clone(), None).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "Redis is back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        cached.balances(owner).await.unwrap(),
        direct.balances(owner).await.unwrap(),
        "an entry of the rolled-back generation was served"
    );
}
