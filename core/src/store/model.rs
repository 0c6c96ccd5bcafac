//! The rail domain: users, wallets, deposits, balances, the ledger, onboarding flows and
//! audit logs. Money is a [`Decimal`] with its asset, never a float; ids are UUID v7, so they
//! sort by creation time.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::states::{DepositStatus, EntryKind, OnboardingStatus, UserStatus, WalletStatus};

/// A customer of the rail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// UUID v7.
    pub id: Uuid,
    /// Unique, stored lowercased.
    pub email: String,
    /// An E.164 phone number, when given.
    pub phone: Option<String>,
    /// The name the user gave.
    pub full_name: String,
    /// Whether the user may move money.
    pub status: UserStatus,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

/// What it takes to create a [`User`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// An email address; unique across users, compared without case.
    pub email: String,
    /// An E.164 phone number (`+14155550100`).
    pub phone: Option<String>,
    /// The user's name, 1-200 characters.
    pub full_name: String,
}

/// A deposit address of a user on one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The chain (`ethereum`, `bitcoin`), lowercase.
    pub chain: String,
    /// The address on that chain; unique per chain.
    pub address: String,
    /// Whether deposits to it are accepted.
    pub status: WalletStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What it takes to create a [`Wallet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWallet {
    /// The owner.
    pub user_id: Uuid,
    /// The chain, 1-32 lowercase letters, digits or `-`.
    pub chain: String,
    /// The address, 1-128 visible ASCII characters.
    pub address: String,
}

/// Money arriving on a chain for a user; credited once, when confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// UUID v7.
    pub id: Uuid,
    /// Who is credited.
    pub user_id: Uuid,
    /// The chain it arrived on.
    pub chain: String,
    /// The chain's transaction hash, normalized per chain (see [`NewDeposit::tx_hash`]).
    pub tx_hash: String,
    /// Which output (UTXO chains) or log (EVM chains) of the transaction paid us; (chain,
    /// tx_hash, output_index) is unique, which makes recording idempotent.
    pub output_index: u32,
    /// The asset (`USDC`).
    pub asset: String,
    /// How much; positive.
    pub amount: Decimal,
    /// Where it is in its life.
    pub status: DepositStatus,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it was confirmed, once it is.
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// What it takes to record a [`Deposit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeposit {
    /// Who is credited.
    pub user_id: Uuid,
    /// The chain it arrived on.
    pub chain: String,
    /// The chain's transaction hash, 1-128 visible ASCII characters. Stored in one spelling
    /// per transaction ([`checks::tx_hash`](super::checks::tx_hash)): `0x` and lowercase hex
    /// on EVM chains, bare lowercase hex on `bitcoin`-like chains and `tron`, as given in a
    /// case-sensitive encoding (base58 on `solana`), so the same transaction reported in
    /// upper and lower case, or with and without `0x`, is one deposit. On chains known to use
    /// hex a hash that is not hex is refused.
    pub tx_hash: String,
    /// Which output (UTXO chains: the `vout`) or log (EVM chains: the log index) of the
    /// transaction paid us; 0 where a transaction pays one address once. One transaction
    /// that pays two of our addresses is two deposits.
    pub output_index: u32,
    /// The asset, 2-12 uppercase letters or digits.
    pub asset: String,
    /// How much; positive, within the bound of [`exact`](super::exact) (at most 18 decimal
    /// places, 20 integer digits, 28 significant digits).
    pub amount: Decimal,
}

/// The outcome of recording a deposit: recording the same (chain, tx_hash, output_index) again
/// returns the first deposit and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The deposit is new.
    Created(Deposit),
    /// A deposit with this (chain, tx_hash, output_index) was recorded before; it is returned
    /// as it is.
    Existing(Deposit),
}

impl Recorded {
    /// The deposit, new or existing.
    pub fn deposit(&self) -> &Deposit {
        match self {
            Self::Created(d) | Self::Existing(d) => d,
        }
    }
}

/// What a user holds of one asset. Always equals the sum of the user's ledger entries in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// The holder.
    pub user_id: Uuid,
    /// The asset.
    pub asset: String,
    /// The amount available; never negative.
    pub available: Decimal,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One ledger transaction: money in or out of a user's balance. Amounts are positive; the
/// kind gives the direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// UUID v7.
    pub id: Uuid,
    /// Whose balance moved.
    pub user_id: Uuid,
    /// Credit (in) or debit (out).
    pub kind: EntryKind,
    /// The asset.
    pub asset: String,
    /// How much; positive.
    pub amount: Decimal,
    /// What caused it: the deposit id for a deposit's credit, the caller's reference for a
    /// debit (unique per user, so a retried debit is not taken twice).
    pub reference: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A request to take money out of a balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDebit {
    /// Whose balance.
    pub user_id: Uuid,
    /// The asset.
    pub asset: String,
    /// How much; positive.
    pub amount: Decimal,
    /// The caller's idempotency reference (1-128 characters): a second debit with the same
    /// reference for the same user returns the first entry and takes nothing.
    pub reference: String,
}

/// A user's way through onboarding (KYC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingFlow {
    /// UUID v7.
    pub id: Uuid,
    /// Who is onboarding; one flow per user.
    pub user_id: Uuid,
    /// Where the flow is.
    pub status: OnboardingStatus,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last moved.
    pub updated_at: DateTime<Utc>,
}

/// One audited change, written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    /// UUID v7.
    pub id: Uuid,
    /// The user the change concerns; `None` for an operator's action that concerns no user
    /// (a dead letter replayed through the admin API).
    pub user_id: Option<Uuid>,
    /// What happened (`deposit.confirmed`).
    pub action: String,
    /// The id of the thing that changed.
    pub subject_id: Uuid,
    /// Details, as JSON text.
    pub detail: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// An audit entry written on its own, through
/// [`AuditStore::record_audit_log`](super::AuditStore::record_audit_log): an operator's
/// action, such as a dead letter replayed through the admin API. The Store's own writes audit themselves, in their
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditLog {
    /// The user the action concerns; `None` when it concerns no user (an operator's action
    /// on the job queue).
    pub user_id: Option<Uuid>,
    /// What happened (`job.replayed`): 1-64 characters of lowercase ASCII letters, digits,
    /// `.` and `_`.
    pub action: String,
    /// The id of what was acted on (a job, or the id of a bulk operation).
    pub subject_id: Uuid,
    /// Details: who acted and what the action did. Stored as JSON text.
    pub detail: serde_json::Value,
}
