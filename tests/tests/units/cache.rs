//! The caching Store inside a unit: it neither serves nor fills, and invalidates only after
//! the commit.

use std::sync::Arc;
use std::time::Duration;

use stack_backends::memory::{MemoryCache, MemoryCacheOptions};
use stack_backends::sql::{self, SqlOptions};
use stack_core::Error;
use stack_core::cache::{Cache, TypedCache};
use stack_core::datapath::CachingStore;
use stack_core::store::MoneyStore;
use stack_core::unit::Unit;
use stack_tests::store_suite::{recorded, user};

use crate::fixtures::{store, store_url};

/// Through the caching Store, with a second process's caching Store (another pool) on the
/// same cache: a read inside a unit is neither served from nor stored in the cache (a
/// rolled-back credit is never seen), and a credit's invalidation waits for the commit (a
/// reader that caches the old balance before the commit does not hide the new one after).
pub(crate) async fn the_cache_sees_only_committed_writes(kind: &str) {
    let sql = store(kind).await;
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(MemoryCacheOptions::default()));
    let ttl = Duration::from_secs(60);
    let cached = CachingStore::new(Arc::new(sql.clone()), TypedCache::new(cache.clone()), ttl);
    let other = sql::open(&store_url(&sql, kind).await, &SqlOptions::default())
        .await
        .expect("second pool");
    let reader = CachingStore::new(Arc::new(other), TypedCache::new(cache), ttl);
    let owner = user(&cached).await.id;
    let first = recorded(&cached, owner, "5").await;
    assert!(reader.balances(owner).await.expect("read").is_empty());

    let unit = Unit::begin(&sql).await.expect("begin");
    unit.run(async {
        cached.confirm_deposit(first).await?;
        let seen = cached.balances(owner).await?;
        assert_eq!(seen.len(), 1, "the unit sees its own credit");
        Ok::<_, Error>(())
    })
    .await
    .expect("confirm inside the unit");
    unit.rollback().await.expect("rollback");
    assert!(
        reader.balances(owner).await.expect("read").is_empty(),
        "a rolled-back credit is never served"
    );

    let unit = Unit::begin(&sql).await.expect("begin");
    unit.run(cached.confirm_deposit(first))
        .await
        .expect("confirm inside the unit");
    assert!(
        reader
            .balances(owner)
            .await
            .expect("read before the commit")
            .is_empty(),
        "before the commit the old balance is read (and cached)"
    );
    unit.commit().await.expect("commit");
    let after = reader.balances(owner).await.expect("read after the commit");
    assert_eq!(after.len(), 1, "the commit's invalidation shows the credit");
}
