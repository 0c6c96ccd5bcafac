//! The service layer both versions call: every operation of the rail over the Store and the
//! queue, in domain types. The versions differ only in how they map these to the wire.

use std::sync::Arc;

use stack_core::Result;
use stack_core::bulk::BulkItem;
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{Queue, TypedJob};
use stack_core::store::{
    AuditFilter, AuditLog, Balance, CursorPage, CursorRequest, Deposit, DepositFilter, EntryFilter,
    LedgerEntry, NewDebit, NewDeposit, NewUser, NewWallet, OnboardingFlow, OnboardingStatus,
    Recorded, Store, User, UserFilter, Wallet, WalletFilter,
};
use stack_core::unit::{self, TransactionSource};
use uuid::Uuid;

use crate::backends::Backends;
use crate::jobs::DepositConfirmed;

/// The rail's operations over one Store and queue.
#[derive(Debug, Clone)]
pub struct Rail {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    /// Transactions on the Store's primary, for writes that must commit together.
    units: Arc<dyn TransactionSource>,
}

/// The namespace of the ids of `rail.deposit_confirmed` jobs (a UUID v5 of the deposit id
/// under it), so that one deposit's notification is enqueued once however often it is
/// confirmed.
const NOTIFICATIONS: Uuid = Uuid::from_u128(0x8c1d_54a2_6c1e_4f0b_9a57_2f3d_1e0c_7b61);

impl Rail {
    /// The operations over `backends`' Store and queue, with transactions of `units` (the
    /// Store's primary).
    pub fn new(backends: &Backends, units: Arc<dyn TransactionSource>) -> Self {
        Self {
            store: Arc::clone(&backends.store),
            queue: Arc::clone(&backends.queue),
            units,
        }
    }

    /// Creates a user.
    ///
    /// # Errors
    /// `Conflict` when the email is taken; the Store's errors.
    pub async fn create_user(&self, user: NewUser) -> Result<User> {
        self.store.create_user(user).await
    }

    /// Creates many (checked) users in one go; one result per input, in input order.
    ///
    /// # Errors
    /// Only when the database fails as a whole.
    pub async fn create_users(&self, users: Vec<NewUser>) -> Result<Vec<BulkItem<Uuid>>> {
        self.store.create_users(users).await
    }

    /// The user with `id`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn user(&self, id: Uuid) -> Result<User> {
        self.store.user(id).await
    }

    /// A page of users.
    ///
    /// # Errors
    /// The Store's.
    pub async fn users(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>> {
        self.store.list_users(filter, page).await
    }

    /// A keyset slice of users.
    ///
    /// # Errors
    /// The Store's.
    pub async fn scan_users(
        &self,
        filter: &UserFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<User>> {
        self.store.scan_users(filter, request).await
    }

    /// Creates a wallet for an existing user.
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Conflict` for a taken address.
    pub async fn create_wallet(&self, wallet: NewWallet) -> Result<Wallet> {
        self.store.create_wallet(wallet).await
    }

    /// A page of an existing user's wallets.
    ///
    /// # Errors
    /// `NotFound` for an unknown user.
    pub async fn wallets(&self, user_id: Uuid, page: PageRequest) -> Result<Page<Wallet>> {
        self.user(user_id).await?;
        let filter = WalletFilter {
            user_id: Some(user_id),
            chain: None,
        };
        self.store.list_wallets(&filter, page).await
    }

    /// Records a deposit (idempotent on chain, tx_hash and output_index).
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Conflict` when the key was recorded differently.
    pub async fn record_deposit(&self, deposit: NewDeposit) -> Result<Recorded> {
        self.store.record_deposit(deposit).await
    }

    /// Records many (checked) deposits; one result per input, in input order.
    ///
    /// # Errors
    /// Only when the database fails as a whole.
    pub async fn record_deposits(&self, deposits: Vec<NewDeposit>) -> Result<Vec<BulkItem<Uuid>>> {
        self.store.record_deposits(deposits).await
    }

    /// The deposit with `id`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn deposit(&self, id: Uuid) -> Result<Deposit> {
        self.store.deposit(id).await
    }

    /// A page of deposits.
    ///
    /// # Errors
    /// The Store's.
    pub async fn deposits(
        &self,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> Result<Page<Deposit>> {
        self.store.list_deposits(filter, page).await
    }

    /// A keyset slice of deposits.
    ///
    /// # Errors
    /// The Store's.
    pub async fn scan_deposits(
        &self,
        filter: &DepositFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<Deposit>> {
        self.store.scan_deposits(filter, request).await
    }

    /// Confirms a deposit (the Store credits it once, in one transaction), then enqueues the
    /// `rail.deposit_confirmed` notification, in one unit of work: on a queue that stores
    /// its jobs in the Store's database, the credit and the job commit together or not at
    /// all; on another queue the job is enqueued after the commit (see [`unit::enqueue`]).
    /// The job's id is derived from the deposit's, so racing or repeated confirms enqueue
    /// one notification while the queue remembers it.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` for a failed deposit; the queue's errors.
    pub async fn confirm_deposit(&self, id: Uuid) -> Result<Deposit> {
        unit::atomically(self.units.as_ref(), async {
            let deposit = self.store.confirm_deposit(id).await?;
            let notice = DepositConfirmed {
                deposit_id: deposit.id,
            };
            let job_id = Uuid::new_v5(&NOTIFICATIONS, deposit.id.as_bytes());
            let key = format!("{}:{}", DepositConfirmed::TYPE, deposit.id);
            unit::enqueue_job_with(Arc::clone(&self.queue), &notice, |job| {
                job.id(job_id).unique_key(key)
            })
            .await?;
            Ok(deposit)
        })
        .await
    }

    /// The balances of an existing user.
    ///
    /// # Errors
    /// `NotFound` for an unknown user.
    pub async fn balances(&self, user_id: Uuid) -> Result<Vec<Balance>> {
        self.user(user_id).await?;
        self.store.balances(user_id).await
    }

    /// Takes money out of a balance.
    ///
    /// # Errors
    /// `Invalid` on `amount` when the balance is too small; `NotFound` for an unknown user.
    pub async fn debit(&self, debit: NewDebit) -> Result<LedgerEntry> {
        self.store.debit(debit).await
    }

    /// A page of an existing user's ledger entries.
    ///
    /// # Errors
    /// `NotFound` for an unknown user.
    pub async fn entries(
        &self,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>> {
        if let Some(user_id) = filter.user_id {
            self.user(user_id).await?;
        }
        self.store.list_entries(filter, page).await
    }

    /// A keyset slice of an existing user's ledger entries.
    ///
    /// # Errors
    /// `NotFound` for an unknown user.
    pub async fn scan_entries(
        &self,
        filter: &EntryFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<LedgerEntry>> {
        if let Some(user_id) = filter.user_id {
            self.user(user_id).await?;
        }
        self.store.scan_entries(filter, request).await
    }

    /// Starts a user's onboarding flow.
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Conflict` when the user has a flow.
    pub async fn start_onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        self.store.start_onboarding(user_id).await
    }

    /// Moves the flow with `flow_id` to `to`.
    ///
    /// # Errors
    /// `NotFound` for an unknown flow; `Invalid` on `status` for a move not allowed.
    pub async fn advance_onboarding(
        &self,
        flow_id: Uuid,
        to: OnboardingStatus,
    ) -> Result<OnboardingFlow> {
        let flow = self.store.onboarding_flow(flow_id).await?;
        self.store.advance_onboarding(flow.user_id, to).await
    }

    /// A page of audit logs.
    ///
    /// # Errors
    /// The Store's.
    pub async fn audit_logs(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>> {
        self.store.list_audit_logs(filter, page).await
    }

    /// A keyset slice of audit logs.
    ///
    /// # Errors
    /// The Store's.
    pub async fn scan_audit_logs(
        &self,
        filter: &AuditFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<AuditLog>> {
        self.store.scan_audit_logs(filter, request).await
    }
}
