//! Trials of the caching Store over any cache: no stale read after any write, and reads
//! served from the cache (counted at the Store beneath).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stack_core::Result;
use stack_core::cache::{Cache, TypedCache};
use stack_core::datapath::{CachingStore, Call, Layered, Op, StorePolicy};
use stack_core::page::PageRequest;
use stack_core::store::{
    DepositFilter, MoneyStore, NewDebit, NewWallet, Store, UserStore, WalletFilter, WalletStore,
};

/// Counts the calls that reach the Store, by name.
#[derive(Debug, Clone)]
pub struct Counting {
    store: Arc<dyn Store>,
    calls: Arc<Mutex<HashMap<&'static str, u64>>>,
}

impl Counting {
    /// How many `name` calls reached the Store.
    pub fn calls(&self, name: &str) -> u64 {
        self.calls.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

#[async_trait]
impl StorePolicy for Counting {
    async fn run<T: Send + 'static>(&self, call: Call, op: &Op<T>) -> Result<T> {
        *self.calls.lock().unwrap().entry(call.name).or_default() += 1;
        op(Arc::clone(&self.store)).await
    }

    fn engine(&self) -> &'static str {
        self.store.name()
    }

    async fn health(&self) -> Result<()> {
        self.store.health().await
    }
}

/// A fresh SQLite Store in memory, counted, behind a caching Store over `cache`; also the
/// Store itself, to compare reads with.
pub async fn caching_store(cache: Arc<dyn Cache>) -> (CachingStore, Counting, Arc<dyn Store>) {
    let sql = stack_backends::sql::open("sqlite::memory:", &Default::default())
        .await
        .unwrap();
    stack_backends::sql::migrate_up(sql.connection(), None)
        .await
        .unwrap();
    let direct: Arc<dyn Store> = Arc::new(sql);
    let counting = Counting {
        store: Arc::clone(&direct),
        calls: Arc::default(),
    };
    let counted: Arc<dyn Store> = Arc::new(Layered::new(counting.clone()));
    let cached = CachingStore::new(counted, TypedCache::new(cache), Duration::from_secs(60));
    (cached, counting, direct)
}

/// Every read the caching Store caches about `user` (balances, the first deposits page, the
/// user, each of the user's wallets) equals what the Store itself holds.
pub async fn assert_reads_agree(cached: &dyn Store, direct: &dyn Store, user: uuid::Uuid) {
    let wallets = WalletFilter {
        user_id: Some(user),
        ..WalletFilter::default()
    };
    for wallet in direct
        .list_wallets(&wallets, PageRequest::default())
        .await
        .unwrap()
        .items
    {
        assert_eq!(cached.wallet(wallet.id).await.unwrap(), wallet);
    }
    let mine = DepositFilter {
        user_id: Some(user),
        ..DepositFilter::default()
    };
    let page = Default::default();
    assert_eq!(
        cached.balances(user).await.unwrap(),
        direct.balances(user).await.unwrap()
    );
    assert_eq!(
        cached.list_deposits(&mine, page).await.unwrap(),
        direct.list_deposits(&mine, page).await.unwrap()
    );
    assert_eq!(
        cached.user(user).await.unwrap(),
        direct.user(user).await.unwrap()
    );
}

/// After every write, each cached read equals what the Store holds.
pub async fn no_stale_read_after_any_write(cache: Arc<dyn Cache>) {
    let (cached, _, direct) = caching_store(cache).await;
    let user = crate::store_suite::user(&cached).await.id;
    let check = || assert_reads_agree(&cached, direct.as_ref(), user);
    check().await;
    cached
        .create_wallet(NewWallet {
            user_id: user,
            chain: "ethereum".into(),
            address: format!("0x{}00000000", uuid::Uuid::new_v4().simple()),
        })
        .await
        .unwrap();
    check().await;
    let first = crate::store_suite::recorded(&cached, user, "10").await;
    check().await;
    let second = crate::store_suite::recorded(&cached, user, "5").await;
    check().await;
    cached.confirm_deposit(first).await.unwrap();
    check().await;
    cached.confirm_deposit(second).await.unwrap();
    check().await;
    cached
        .debit(NewDebit {
            user_id: user,
            asset: "USDC".into(),
            amount: crate::store_suite::dec("3"),
            reference: "withdrawal-1".into(),
        })
        .await
        .unwrap();
    check().await;
    assert_eq!(
        cached.balances(user).await.unwrap()[0].available,
        crate::store_suite::dec("12")
    );
}

/// Repeated reads are served by the cache: the Store sees one call until a write.
pub async fn repeated_reads_are_cache_hits(cache: Arc<dyn Cache>) {
    let (cached, counting, _) = caching_store(cache).await;
    let user = crate::store_suite::user(&cached).await.id;
    let deposit = crate::store_suite::recorded(&cached, user, "10").await;
    for _ in 0..5 {
        cached.balances(user).await.unwrap();
        cached.user(user).await.unwrap();
    }
    assert_eq!(counting.calls("balances"), 1);
    assert_eq!(counting.calls("user"), 1);
    cached.confirm_deposit(deposit).await.unwrap();
    for _ in 0..5 {
        cached.balances(user).await.unwrap();
    }
    assert_eq!(counting.calls("balances"), 2, "one reload after the write");
}
