//! The Store: persistence of the rail domain, one trait per aggregate so that no trait (and
//! no backend file) is huge, joined in [`Store`] and used as `Arc<dyn Store>`.
//!
//! What every backend guarantees (the Store suite in `stack-tests` checks each):
//! - inputs are checked by the `checked()` functions of [`checks`] before anything is
//!   written; a bad input is [`Error::Invalid`](crate::Error::Invalid) and changes nothing;
//! - recording a deposit is idempotent on (chain, tx_hash, output_index), the hash
//!   normalized per chain ([`checks::tx_hash`]);
//! - money never rounds: every sum goes through [`exact`], and an amount or balance that
//!   cannot be held exactly is [`Error::Invalid`](crate::Error::Invalid) and changes nothing;
//! - confirming a deposit credits the balance, writes the ledger entry and the audit log in
//!   one transaction, exactly once however many confirms race;
//! - a balance is never negative (also a CHECK in the database) and always equals the sum of
//!   the user's ledger entries in its asset;
//! - every write that changes a user's money or state writes an audit log in the same
//!   transaction.

pub mod checks;
pub mod exact;
mod model;
mod query;
mod states;

use async_trait::async_trait;
use uuid::Uuid;

pub use model::{
    AuditLog, Balance, Deposit, LedgerEntry, NewAuditLog, NewDebit, NewDeposit, NewUser, NewWallet,
    OnboardingFlow, Recorded, User, Wallet,
};
pub use query::{
    AuditFilter, Cursor, CursorPage, CursorRequest, DepositFilter, EntryFilter, UserFilter,
    WalletFilter,
};
pub use states::{DepositStatus, EntryKind, OnboardingStatus, UserStatus, WalletStatus};

use crate::Result;
use crate::bulk::BulkItem;
use crate::page::{Page, PageRequest};

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user (and its audit log).
    ///
    /// # Errors
    /// `Invalid` for a bad input; `Conflict` when the email is taken.
    async fn create_user(&self, user: NewUser) -> Result<User>;

    /// Creates many users in chunks inside one transaction; one result per input, in input
    /// order (a bad or duplicate item fails alone).
    ///
    /// # Errors
    /// Only when the database fails as a whole; per-item problems are in the results.
    async fn create_users(&self, users: Vec<NewUser>) -> Result<Vec<BulkItem<Uuid>>>;

    /// The user with `id`.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    async fn user(&self, id: Uuid) -> Result<User>;

    /// Users matching `filter`, newest first.
    ///
    /// # Errors
    /// A database failure.
    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>>;

    /// Users matching `filter`, newest first, by keyset cursor (see
    /// [`MoneyStore::scan_deposits`]).
    ///
    /// # Errors
    /// A database failure.
    async fn scan_users(
        &self,
        filter: &UserFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<User>>;
}

/// Wallets.
#[async_trait]
pub trait WalletStore: Send + Sync {
    /// Creates a wallet for an existing user (and its audit log).
    ///
    /// # Errors
    /// `Invalid` for a bad input; `NotFound` for an unknown user; `Conflict` when the
    /// (chain, address) is taken.
    async fn create_wallet(&self, wallet: NewWallet) -> Result<Wallet>;

    /// The wallet with `id`.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    async fn wallet(&self, id: Uuid) -> Result<Wallet>;

    /// Wallets matching `filter`, newest first.
    ///
    /// # Errors
    /// A database failure.
    async fn list_wallets(&self, filter: &WalletFilter, page: PageRequest) -> Result<Page<Wallet>>;
}

/// Deposits, balances and the ledger: where money moves.
#[async_trait]
pub trait MoneyStore: Send + Sync {
    /// Records a pending deposit; recording the same (chain, tx_hash, output_index) again
    /// returns the first deposit unchanged (the hash is normalized first, so `0xAB` and
    /// `0xab` are one transaction).
    ///
    /// # Errors
    /// `Invalid` for a bad input; `NotFound` for an unknown user; `Conflict` when the key
    /// was recorded with another user, asset or amount.
    async fn record_deposit(&self, deposit: NewDeposit) -> Result<Recorded>;

    /// Records many deposits in chunks inside one transaction; one result per input, in
    /// input order (the id of the new or existing deposit, or the item's error).
    ///
    /// # Errors
    /// Only when the database fails as a whole.
    async fn record_deposits(&self, deposits: Vec<NewDeposit>) -> Result<Vec<BulkItem<Uuid>>>;

    /// Confirms a pending deposit: credits the balance, writes the credit entry and the
    /// audit log in one transaction. Confirming a confirmed deposit returns it and credits
    /// nothing, however many confirms race.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the deposit has failed.
    async fn confirm_deposit(&self, id: Uuid) -> Result<Deposit>;

    /// The deposit with `id`.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    async fn deposit(&self, id: Uuid) -> Result<Deposit>;

    /// Deposits matching `filter`, newest first, by page.
    ///
    /// # Errors
    /// A database failure.
    async fn list_deposits(
        &self,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> Result<Page<Deposit>>;

    /// Deposits matching `filter`, newest first, by keyset cursor: stable while rows are
    /// inserted, and as fast on the thousandth slice as on the first.
    ///
    /// # Errors
    /// A database failure.
    async fn scan_deposits(
        &self,
        filter: &DepositFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<Deposit>>;

    /// Takes money out of a balance, writing the debit entry and the audit log in one
    /// transaction; a second debit with the same reference returns the first entry.
    ///
    /// # Errors
    /// `Invalid` for a bad input, or on `amount` when the balance is too small (nothing
    /// changes); `NotFound` for an unknown user.
    async fn debit(&self, debit: NewDebit) -> Result<LedgerEntry>;

    /// The user's balances, one per asset held.
    ///
    /// # Errors
    /// A database failure.
    async fn balances(&self, user_id: Uuid) -> Result<Vec<Balance>>;

    /// Ledger entries matching `filter`, newest first.
    ///
    /// # Errors
    /// A database failure.
    async fn list_entries(
        &self,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>>;

    /// Ledger entries matching `filter`, newest first, by keyset cursor.
    ///
    /// # Errors
    /// A database failure.
    async fn scan_entries(
        &self,
        filter: &EntryFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<LedgerEntry>>;
}

/// Onboarding flows.
#[async_trait]
pub trait OnboardingStore: Send + Sync {
    /// Starts the user's flow (one per user).
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Conflict` when the user has a flow.
    async fn start_onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow>;

    /// Moves the user's flow to `to` (and writes its audit log).
    ///
    /// # Errors
    /// `NotFound` when the user has no flow; `Invalid` on `status`, naming both states,
    /// when the move is not allowed.
    async fn advance_onboarding(
        &self,
        user_id: Uuid,
        to: OnboardingStatus,
    ) -> Result<OnboardingFlow>;

    /// The user's flow.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    async fn onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow>;

    /// The flow with `id` (its own id, not its user's), read from the primary so that a
    /// flow just started is found.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    async fn onboarding_flow(&self, id: Uuid) -> Result<OnboardingFlow>;
}

/// Audit logs: written by the other stores in their transactions, and by an operator's
/// action through [`AuditStore::record_audit_log`].
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes one audit entry on its own (an operator's action, which no Store write
    /// covers); answers it as stored.
    ///
    /// # Errors
    /// `Invalid` for a bad `action` (nothing is written); `NotFound` when `user_id` names
    /// no user.
    async fn record_audit_log(&self, entry: NewAuditLog) -> Result<AuditLog>;

    /// Audit logs matching `filter`, newest first.
    ///
    /// # Errors
    /// A database failure.
    async fn list_audit_logs(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>>;

    /// Audit logs matching `filter`, newest first, by keyset cursor.
    ///
    /// # Errors
    /// A database failure.
    async fn scan_audit_logs(
        &self,
        filter: &AuditFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<AuditLog>>;
}

/// The whole Store.
#[async_trait]
pub trait Store:
    UserStore + WalletStore + MoneyStore + OnboardingStore + AuditStore + std::fmt::Debug
{
    /// The engine (`sqlite`, `postgres`).
    fn name(&self) -> &'static str;

    /// Answers when the database does.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn health(&self) -> Result<()>;
}
