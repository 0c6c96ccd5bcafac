//! Trials of owed invalidations: an invalidation that fails is paid by a background task as
//! soon as the cache answers, so another process sharing the cache stops serving the old
//! value with no further call here; past the owed bound, the shared epoch is bumped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use stack_core::cache::{Cache, TypedCache};
use stack_core::datapath::CachingStore;
use stack_core::store::{MoneyStore, NewDebit, Store};
use stack_core::{Error, Result};

use crate::stale_reads::sqlite;
use crate::store_suite::{dec, recorded, user};

/// A cache whose increments (generation bumps, so invalidations) fail while `fail` is set.
#[derive(Debug)]
pub struct FailingBumps {
    inner: Arc<dyn Cache>,
    /// While set, `increment` answers `Unavailable`.
    pub fail: AtomicBool,
}

impl FailingBumps {
    /// Over `inner`, answering while `fail` is not set.
    pub fn new(inner: Arc<dyn Cache>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fail: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl Cache for FailingBumps {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> stack_core::cache::CacheCapabilities {
        self.inner.capabilities()
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.inner.get_many(keys).await
    }

    async fn get_many_in_lineage(
        &self,
        keys: &[String],
    ) -> Result<Vec<(Option<Vec<u8>>, Option<String>)>> {
        self.inner.get_many_in_lineage(keys).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<()> {
        self.inner.set(key, value, ttl).await
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::unavailable("increment", "the cache is down"));
        }
        self.inner.increment(key, by, ttl).await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.inner.set_if_absent(key, value, ttl).await
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.inner.expire(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        self.inner.delete_many(keys).await
    }

    async fn delete_pattern(&self, pattern: &str) -> Result<u64> {
        self.inner.delete_pattern(pattern).await
    }

    async fn health(&self) -> Result<()> {
        self.inner.health().await
    }

    async fn stats(&self) -> Result<stack_core::cache::CacheStats> {
        self.inner.stats().await
    }
}

/// Owed invalidations are bounded: past the limit, the cache is bypassed instead of
/// remembering more, and no read is stale either way.
pub async fn owed_invalidations_are_bounded(cache: Arc<dyn Cache>) {
    let direct = sqlite().await;
    let failing = FailingBumps::new(cache);
    let cached = CachingStore::new(
        Arc::clone(&direct),
        TypedCache::new(Arc::clone(&failing) as Arc<dyn Cache>),
        Duration::from_secs(60),
    )
    .with_owed_limit(2);
    let mut owners = Vec::new();
    for _ in 0..3 {
        let owner = user(&cached).await.id;
        let deposit = recorded(&cached, owner, "10").await;
        cached.confirm_deposit(deposit).await.unwrap();
        cached.balances(owner).await.unwrap();
        owners.push(owner);
    }
    failing.fail.store(true, Ordering::SeqCst);
    for owner in &owners {
        cached
            .debit(NewDebit {
                user_id: *owner,
                asset: "USDC".into(),
                amount: dec("1"),
                reference: "while-bumps-fail".into(),
            })
            .await
            .unwrap();
    }
    assert_eq!(cached.owed_invalidations(), 2, "at most the limit is kept");
    for fail in [true, false] {
        failing.fail.store(fail, Ordering::SeqCst);
        for owner in &owners {
            assert_eq!(
                cached.balances(*owner).await.unwrap(),
                direct.balances(*owner).await.unwrap()
            );
        }
    }
    assert_eq!(
        cached.owed_invalidations(),
        0,
        "paid once the cache answers"
    );
}

/// Two caching Stores over one cache, as two processes: `a`'s increments fail on demand.
struct TwoProcesses {
    direct: Arc<dyn Store>,
    failing: Arc<FailingBumps>,
    a: CachingStore,
    b: CachingStore,
    owner: uuid::Uuid,
}

/// Two processes over `cache` and one database; the owner has 10 USDC, and `b` has its
/// balances cached. `a` remembers at most `owed_limit` users' owed invalidations.
async fn two_processes(cache: Arc<dyn Cache>, owed_limit: usize) -> TwoProcesses {
    let direct = sqlite().await;
    let failing = FailingBumps::new(Arc::clone(&cache));
    let ttl = Duration::from_secs(60);
    let a = CachingStore::new(
        Arc::clone(&direct),
        TypedCache::new(Arc::clone(&failing) as Arc<dyn Cache>),
        ttl,
    )
    .with_owed_limit(owed_limit);
    let b = CachingStore::new(Arc::clone(&direct), TypedCache::new(cache), ttl);
    let owner = user(&a).await.id;
    let deposit = recorded(&a, owner, "10").await;
    a.confirm_deposit(deposit).await.unwrap();
    assert_eq!(b.balances(owner).await.unwrap()[0].available, dec("10"));
    TwoProcesses {
        direct,
        failing,
        a,
        b,
        owner,
    }
}

impl TwoProcesses {
    /// `a` debits 3 USDC while its invalidations fail; `b` is still served the old balance
    /// (the cache refuses `a`, so nothing can tell `b` yet).
    async fn debit_while_a_cannot_invalidate(&self) {
        self.failing.fail.store(true, Ordering::SeqCst);
        self.a
            .debit(NewDebit {
                user_id: self.owner,
                asset: "USDC".into(),
                amount: dec("3"),
                reference: "while-a-cannot-invalidate".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            self.b.balances(self.owner).await.unwrap()[0].available,
            dec("10"),
            "b is served from the cache a cannot reach"
        );
    }

    /// The cache answers `a` again: with no further call on `a`, `b` soon reads the
    /// database's balance (polled for at most 10 seconds).
    async fn b_stops_serving_the_old_balance(&self) {
        self.failing.fail.store(false, Ordering::SeqCst);
        let expected = self.direct.balances(self.owner).await.unwrap();
        assert_eq!(expected[0].available, dec("7"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let read = self.b.balances(self.owner).await.unwrap();
            if read == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "b still serves {read:?} 10 s after the cache came back"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An invalidation `a` could not make is paid in the background once the cache answers:
/// another process stops serving the old value with no further call on `a`.
pub async fn an_owed_invalidation_is_paid_without_another_call(cache: Arc<dyn Cache>) {
    let two = two_processes(cache, stack_core::datapath::OWED_USERS).await;
    two.debit_while_a_cannot_invalidate().await;
    assert_eq!(two.a.owed_invalidations(), 1);
    two.b_stops_serving_the_old_balance().await;
    assert_eq!(two.a.owed_invalidations(), 0, "paid");
}

/// Past the bound of owed invalidations, `a` owes a bump of the shared epoch: once the cache
/// answers, it is paid in the background, and another process stops serving every entry
/// made before.
pub async fn past_the_bound_the_shared_epoch_is_bumped(cache: Arc<dyn Cache>) {
    let two = two_processes(cache, 0).await;
    two.debit_while_a_cannot_invalidate().await;
    assert_eq!(two.a.owed_invalidations(), 0, "nothing kept past the bound");
    two.b_stops_serving_the_old_balance().await;
}
