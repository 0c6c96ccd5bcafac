//! Trials of stale reads through the data path: a replica that is behind (it says it is
//! current and holds nothing), writes made through another process's caching Store, and
//! writes whose commit reply is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use stack_core::cache::{Cache, TypedCache};
use stack_core::datapath::{
    Access, CachingStore, Call, Layered, Op, Replica, ReplicaOptions, ReplicaRouter, StorePolicy,
};
use stack_core::store::{DepositFilter, MoneyStore, NewDebit, NewWallet, Store, WalletStore};
use stack_core::{Error, ErrorKind, Result};

use crate::store_suite::{dec, recorded, user};

/// A fresh SQLite Store in memory, migrated.
pub async fn sqlite() -> Arc<dyn Store> {
    let sql = stack_backends::sql::open("sqlite::memory:", &Default::default())
        .await
        .unwrap();
    stack_backends::sql::migrate_up(sql.connection(), None)
        .await
        .unwrap();
    Arc::new(sql)
}

/// A standby that reports no lag but has replayed nothing: every read it serves is stale.
#[derive(Debug)]
pub struct BehindReplica {
    store: Arc<dyn Store>,
}

impl BehindReplica {
    /// A replica over an empty database of its own.
    pub async fn new() -> Self {
        Self {
            store: sqlite().await,
        }
    }
}

#[async_trait]
impl Replica for BehindReplica {
    fn label(&self) -> String {
        "behind".into()
    }

    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    async fn replay_lag(&self) -> Result<Duration> {
        Ok(Duration::ZERO)
    }
}

/// A router over `primary` with one [`BehindReplica`], pinning reads after a write for
/// `read_your_writes`.
pub async fn router_behind(primary: Arc<dyn Store>, read_your_writes: Duration) -> ReplicaRouter {
    let replica: Arc<dyn Replica> = Arc::new(BehindReplica::new().await);
    ReplicaRouter::start(
        primary,
        vec![replica],
        ReplicaOptions {
            read_your_writes,
            ..ReplicaOptions::default()
        },
    )
    .await
}

fn deposits_of(user: uuid::Uuid) -> DepositFilter {
    DepositFilter {
        user_id: Some(user),
        ..DepositFilter::default()
    }
}

/// Every value that fills the cache (a user, a wallet, balances, the first page of a user's
/// deposits) is read from the primary: after writes through another process's caching Store
/// (whose read-your-writes pins nothing here), each miss here is not filled from a standby
/// that is behind, neither the first fill nor one at a generation the writes moved.
pub async fn cache_fills_come_from_the_primary(cache: Arc<dyn Cache>) {
    let primary = sqlite().await;
    let cached = |router: ReplicaRouter| {
        CachingStore::new(
            Arc::new(Layered::new(router)),
            TypedCache::new(Arc::clone(&cache)),
            Duration::from_secs(60),
        )
    };
    let here = cached(router_behind(Arc::clone(&primary), Duration::ZERO).await);
    let there = cached(router_behind(Arc::clone(&primary), Duration::ZERO).await);
    let owner = user(&there).await.id;
    there
        .create_wallet(NewWallet {
            user_id: owner,
            chain: "ethereum".into(),
            address: format!("0x{}00000000", uuid::Uuid::new_v4().simple()),
        })
        .await
        .unwrap();
    let agree = || crate::caching_store::assert_reads_agree(&here, primary.as_ref(), owner);
    agree().await;
    let deposit = recorded(&there, owner, "10").await;
    agree().await;
    there.confirm_deposit(deposit).await.unwrap();
    agree().await;
    let read = here
        .list_deposits(&deposits_of(owner), Default::default())
        .await;
    assert_eq!(
        read.unwrap().items.len(),
        1,
        "the primary's page was cached"
    );
    assert_eq!(here.balances(owner).await.unwrap()[0].available, dec("10"));
    agree().await;
}

/// Runs every call on a store; while `lose` is set, a write runs and then answers
/// `Unavailable`, as when the connection drops after the commit.
#[derive(Debug, Clone)]
pub struct LostReplies {
    store: Arc<dyn Store>,
    /// While set, writes commit and fail.
    pub lose: Arc<AtomicBool>,
}

#[async_trait]
impl StorePolicy for LostReplies {
    async fn run<T: Send + 'static>(&self, call: Call, op: &Op<T>) -> Result<T> {
        let answer = op(Arc::clone(&self.store)).await;
        if call.access == Access::Write && self.lose.load(Ordering::SeqCst) {
            answer?;
            return Err(Error::unavailable(
                "connection closed",
                "the commit reply was lost",
            ));
        }
        answer
    }

    fn engine(&self) -> &'static str {
        self.store.name()
    }

    async fn health(&self) -> Result<()> {
        self.store.health().await
    }
}

/// A write whose commit reply is lost may have landed: it invalidates as if it had
/// succeeded, so no read is served the value from before it.
pub async fn a_write_whose_reply_is_lost_still_invalidates(cache: Arc<dyn Cache>) {
    let direct = sqlite().await;
    let lost = LostReplies {
        store: Arc::clone(&direct),
        lose: Arc::default(),
    };
    let cached = CachingStore::new(
        Arc::new(Layered::new(lost.clone())),
        TypedCache::new(cache),
        Duration::from_secs(60),
    );
    let owner = user(&cached).await.id;
    let first = recorded(&cached, owner, "10").await;
    cached.confirm_deposit(first).await.unwrap();
    let check = || crate::caching_store::assert_reads_agree(&cached, direct.as_ref(), owner);
    check().await;

    lost.lose.store(true, Ordering::SeqCst);
    let debit = cached
        .debit(NewDebit {
            user_id: owner,
            asset: "USDC".into(),
            amount: dec("3"),
            reference: "reply-lost".into(),
        })
        .await;
    assert_eq!(debit.unwrap_err().kind(), ErrorKind::Unavailable);
    check().await;
    let second = cached
        .record_deposit(crate::store_suite::new_deposit(owner, "5"))
        .await;
    assert!(second.is_err());
    check().await;
    let listed = direct
        .list_deposits(&deposits_of(owner), Default::default())
        .await
        .unwrap();
    let second = listed.items.iter().find(|d| d.id != first).unwrap().id;
    assert!(cached.confirm_deposit(second).await.is_err());
    check().await;
    assert_eq!(
        cached.balances(owner).await.unwrap()[0].available,
        dec("12")
    );
}
