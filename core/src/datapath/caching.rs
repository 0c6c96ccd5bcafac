//! [`CachingStore`]: the Store with query-result caching and exact, race-free invalidation.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::owed::Owed;
use super::read_fresh;
use crate::bulk::BulkItem;
use crate::cache::{TypedCache, UserKeys};
use crate::page::{Page, PageRequest};
use crate::store::{
    AuditFilter, AuditLog, AuditStore, Balance, CursorPage, CursorRequest, Deposit, DepositFilter,
    EntryFilter, LedgerEntry, MoneyStore, NewAuditLog, NewDebit, NewDeposit, NewUser, NewWallet,
    OnboardingFlow, OnboardingStatus, OnboardingStore, Recorded, Store, User, UserFilter,
    UserStore, Wallet, WalletFilter, WalletStore,
};
use crate::{ErrorKind, Result};

const BALANCES: &str = "balances";
const DEPOSITS: &str = "deposits";

/// At most this many users' owed invalidations are remembered; past it, the whole cache is
/// bypassed (see [`CachingStore`]).
pub const OWED_USERS: usize = 10_000;

/// How long a load may take between reading a value and storing it, beyond the TTL, when an
/// epoch bump is owed for a lost invalidation.
const LOAD_GRACE: Duration = Duration::from_secs(30);

/// Caches a user, a wallet, a user's balances and the first page of a user's deposits (at
/// the default page size) in front of any Store.
///
/// Every write that changes a cached read invalidates exactly its entries, in the same call:
/// recording a deposit moves the user's `deposits` scope to a new generation, confirming one
/// the `deposits` and `balances` scopes, a debit the `balances` scope (see [`UserKeys`]). A
/// reader computes its key from the generations before it loads, so a value loaded before a
/// write and stored after it lands under the old generation, where no one reads: no stale
/// read after any write.
///
/// Every value that fills the cache is read inside [`read_fresh`], so through a
/// [`ReplicaRouter`](super::ReplicaRouter) it comes from the primary: a miss at a generation
/// another process just moved is never filled from a standby still behind that write.
///
/// A write that fails as `Unavailable`, `Timeout` or `Backend` may have committed (its reply
/// was lost): it invalidates as if it had succeeded.
///
/// The cache is never the source of truth: a cache that fails is bypassed (reads go to the
/// Store, writes succeed). An invalidation that fails is owed: a background task retries it
/// (from 50 ms, backing off to every 2 s) until it succeeds, so other processes sharing the
/// cache stop serving the old value as soon as the cache answers again, whether or not this
/// one is called again; it is also paid before any read of that user here, and until it is,
/// the user's reads bypass the cache. At most [`OWED_USERS`] users are remembered (looked up
/// per user, never scanned); an invalidation past that, or one whose user is not known, owes
/// a bump of the cache's epoch (see [`UserKeys::bump_epoch`]), which hides every user's
/// entries in every process; until it is paid, this process bypasses the whole cache. An
/// epoch bump still owed after the TTL and a grace for loads in flight is dropped: every
/// entry it should have hidden has expired. Users and wallets never change through the
/// Store, so their entries only expire.
#[derive(Debug, Clone)]
pub struct CachingStore {
    store: Arc<dyn Store>,
    cache: TypedCache,
    keys: UserKeys,
    ttl: Duration,
    /// Invalidations that failed, retried before the user's next read.
    owed: Arc<Owed>,
}

impl CachingStore {
    /// Caches reads of `store` in `cache` for `ttl`.
    pub fn new(store: Arc<dyn Store>, cache: TypedCache, ttl: Duration) -> Self {
        Self {
            keys: UserKeys::new(cache.clone()),
            store,
            cache,
            ttl,
            owed: Arc::new(Owed::new(OWED_USERS, ttl.saturating_add(LOAD_GRACE))),
        }
    }

    /// Remembers owed invalidations of at most `users` users (default [`OWED_USERS`]).
    #[must_use]
    pub fn with_owed_limit(mut self, users: usize) -> Self {
        self.owed = Arc::new(Owed::new(users, self.ttl.saturating_add(LOAD_GRACE)));
        self
    }

    /// How many users have an invalidation owed (it failed and is retried in the background
    /// and before their next read).
    pub fn owed_invalidations(&self) -> usize {
        self.owed.users()
    }

    /// Invalidates `scopes` of `user` after a write that succeeded, or that failed in a way
    /// that may have committed (its reply was lost).
    ///
    /// Inside a [unit of work](crate::unit) the write is not visible to others until the
    /// unit commits, so the invalidation waits for that commit (a reader that loads in
    /// between stores under the generation the commit then moves); a write that failed
    /// there rolled back to its savepoint and invalidates nothing.
    async fn after_write<T>(&self, result: &Result<T>, user: Uuid, scopes: &[&'static str]) {
        if crate::unit::active() {
            if result.is_ok() {
                let (this, scopes) = (self.clone(), scopes.to_vec());
                crate::unit::after_commit(async move { this.invalidate(user, &scopes).await })
                    .await;
            }
            return;
        }
        if result.as_ref().is_ok() || result.as_ref().is_err_and(may_have_committed) {
            self.invalidate(user, scopes).await;
        }
    }

    /// Invalidates `scopes` of `user` after a write; remembers what failed.
    async fn invalidate(&self, user: Uuid, scopes: &[&'static str]) {
        for scope in scopes {
            if let Err(error) = self.keys.bump_scope(user, scope).await {
                self.cache.record_failure(
                    scope,
                    "invalidation failed; retried before the next read",
                    &error,
                );
                if self.owed.owe(user, scope) {
                    Owed::pay_in_background(&self.owed, self.keys.clone());
                }
            }
        }
    }

    /// An invalidation whose user is not known is owed: the epoch is bumped.
    fn owe_unknown(&self) {
        if self.owed.owe_unknown() {
            Owed::pay_in_background(&self.owed, self.keys.clone());
        }
    }

    /// The key of `name` in `scope` for `user`, or `None` when the cache must be bypassed
    /// (inside a [unit of work](crate::unit), whose reads must see its own uncommitted
    /// writes and must not cache them; an invalidation of this user is still owed; or the
    /// cache does not answer).
    async fn key(&self, user: Uuid, scope: &'static str, name: &str) -> Option<String> {
        if crate::unit::active() {
            return None;
        }
        for owing in self.owed.of(user) {
            if self.keys.bump_scope(user, owing.0).await.is_err() {
                return None;
            }
            self.owed.paid(user, owing);
        }
        if self.owed.bypass_all() {
            return None;
        }
        match self.keys.key_in(user, scope, name).await {
            Ok(key) => Some(key),
            Err(error) => {
                self.cache.record_failure(name, "cache read failed", &error);
                None
            }
        }
    }
}

/// Whether a write that failed with `error` may still have committed: the reply was lost
/// (the connection dropped, the call timed out, the server failed after the commit).
fn may_have_committed(error: &crate::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Backend
    )
}

#[async_trait]
impl UserStore for CachingStore {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.store.create_user(user).await
    }

    async fn create_users(&self, users: Vec<NewUser>) -> Result<Vec<BulkItem<Uuid>>> {
        self.store.create_users(users).await
    }

    async fn user(&self, id: Uuid) -> Result<User> {
        let store = &self.store;
        match self.key(id, "user", "record").await {
            Some(key) => {
                self.cache
                    .get_or_load(&key, Some(self.ttl), || read_fresh(store.user(id)))
                    .await
            }
            None => store.user(id).await,
        }
    }

    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>> {
        self.store.list_users(filter, page).await
    }

    async fn scan_users(
        &self,
        filter: &UserFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<User>> {
        self.store.scan_users(filter, request).await
    }
}

#[async_trait]
impl WalletStore for CachingStore {
    async fn create_wallet(&self, wallet: NewWallet) -> Result<Wallet> {
        self.store.create_wallet(wallet).await
    }

    async fn wallet(&self, id: Uuid) -> Result<Wallet> {
        let key = format!("wallet:{id}");
        self.cache
            .get_or_load(&key, Some(self.ttl), || read_fresh(self.store.wallet(id)))
            .await
    }

    async fn list_wallets(&self, filter: &WalletFilter, page: PageRequest) -> Result<Page<Wallet>> {
        self.store.list_wallets(filter, page).await
    }
}

#[async_trait]
impl MoneyStore for CachingStore {
    async fn record_deposit(&self, deposit: NewDeposit) -> Result<Recorded> {
        let user = deposit.user_id;
        let recorded = self.store.record_deposit(deposit).await;
        self.after_write(&recorded, user, &[DEPOSITS]).await;
        recorded
    }

    async fn record_deposits(&self, deposits: Vec<NewDeposit>) -> Result<Vec<BulkItem<Uuid>>> {
        let users: HashSet<Uuid> = deposits.iter().map(|d| d.user_id).collect();
        let recorded = self.store.record_deposits(deposits).await;
        for user in users {
            self.after_write(&recorded, user, &[DEPOSITS]).await;
        }
        recorded
    }

    async fn confirm_deposit(&self, id: Uuid) -> Result<Deposit> {
        let confirmed = self.store.confirm_deposit(id).await;
        let user = match &confirmed {
            Ok(deposit) => Some(deposit.user_id),
            // It may have committed: whose deposit it is decides what to invalidate.
            // Inside a unit a failed write rolled back to its savepoint.
            Err(e) if may_have_committed(e) && !crate::unit::active() => {
                match read_fresh(self.store.deposit(id)).await {
                    Ok(deposit) => Some(deposit.user_id),
                    Err(_) => {
                        self.owe_unknown();
                        None
                    }
                }
            }
            Err(_) => None,
        };
        if let Some(user) = user {
            let done: Result<()> = Ok(());
            self.after_write(&done, user, &[DEPOSITS, BALANCES]).await;
        }
        confirmed
    }

    async fn deposit(&self, id: Uuid) -> Result<Deposit> {
        self.store.deposit(id).await
    }

    async fn list_deposits(
        &self,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> Result<Page<Deposit>> {
        let first_page_of_a_user = filter.status.is_none()
            && filter.chain.is_none()
            && filter.created_from.is_none()
            && filter.created_to.is_none()
            && page == PageRequest::default();
        let user = filter.user_id.filter(|_| first_page_of_a_user);
        let key = match user {
            Some(user) => self.key(user, DEPOSITS, "first-page").await,
            None => None,
        };
        match key {
            Some(key) => {
                self.cache
                    .get_or_load(&key, Some(self.ttl), || {
                        read_fresh(self.store.list_deposits(filter, page))
                    })
                    .await
            }
            None => self.store.list_deposits(filter, page).await,
        }
    }

    async fn scan_deposits(
        &self,
        filter: &DepositFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<Deposit>> {
        self.store.scan_deposits(filter, request).await
    }

    async fn debit(&self, debit: NewDebit) -> Result<LedgerEntry> {
        let user = debit.user_id;
        let entry = self.store.debit(debit).await;
        self.after_write(&entry, user, &[BALANCES]).await;
        entry
    }

    async fn balances(&self, user_id: Uuid) -> Result<Vec<Balance>> {
        match self.key(user_id, BALANCES, "all").await {
            Some(key) => {
                self.cache
                    .get_or_load(&key, Some(self.ttl), || {
                        read_fresh(self.store.balances(user_id))
                    })
                    .await
            }
            None => self.store.balances(user_id).await,
        }
    }

    async fn list_entries(
        &self,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>> {
        self.store.list_entries(filter, page).await
    }

    async fn scan_entries(
        &self,
        filter: &EntryFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<LedgerEntry>> {
        self.store.scan_entries(filter, request).await
    }
}

#[async_trait]
impl OnboardingStore for CachingStore {
    async fn start_onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        self.store.start_onboarding(user_id).await
    }

    async fn advance_onboarding(
        &self,
        user_id: Uuid,
        to: OnboardingStatus,
    ) -> Result<OnboardingFlow> {
        self.store.advance_onboarding(user_id, to).await
    }

    async fn onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        self.store.onboarding(user_id).await
    }

    async fn onboarding_flow(&self, id: Uuid) -> Result<OnboardingFlow> {
        self.store.onboarding_flow(id).await
    }
}

#[async_trait]
impl AuditStore for CachingStore {
    async fn record_audit_log(&self, entry: NewAuditLog) -> Result<AuditLog> {
        // Audit logs are never cached: nothing to invalidate.
        self.store.record_audit_log(entry).await
    }

    async fn list_audit_logs(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>> {
        self.store.list_audit_logs(filter, page).await
    }

    async fn scan_audit_logs(
        &self,
        filter: &AuditFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<AuditLog>> {
        self.store.scan_audit_logs(filter, request).await
    }
}

#[async_trait]
impl Store for CachingStore {
    fn name(&self) -> &'static str {
        self.store.name()
    }

    async fn health(&self) -> Result<()> {
        self.store.health().await
    }
}
