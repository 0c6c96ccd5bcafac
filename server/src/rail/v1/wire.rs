//! v1's wire types: amounts as decimal strings beside a separate `asset`, times as Unix
//! seconds. The conversions from the Store's types are here, in one place.

use poem_openapi::Object;
use rust_decimal::Decimal;
use stack_core::store;
use uuid::Uuid;

use crate::http::api_error::pointer;
use crate::rail::field::{Checks, Field};
use crate::rail::input::amount;
use crate::rail::rules::{Amount, Asset, Chain, Index, Visible};
use crate::rail::states::{DepositStatus, EntryKind, OnboardingStatus, UserStatus, WalletStatus};

fn unix(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp()
}

/// A customer of the rail.
#[derive(Debug, Object)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The email address, lowercased.
    pub email: String,
    /// The E.164 phone number, when given.
    pub phone: Option<String>,
    /// The user's name.
    pub full_name: String,
    /// Whether the user may move money.
    pub status: UserStatus,
    /// When the user was created (Unix seconds).
    pub created_at: i64,
    /// When the user last changed (Unix seconds).
    pub updated_at: i64,
}

impl From<store::User> for User {
    fn from(u: store::User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            phone: u.phone,
            full_name: u.full_name,
            status: u.status.into(),
            created_at: unix(u.created_at),
            updated_at: unix(u.updated_at),
        }
    }
}

/// A deposit address of a user.
#[derive(Debug, Object)]
pub struct Wallet {
    /// The wallet's id.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The chain, lowercase.
    pub chain: String,
    /// The address on that chain.
    pub address: String,
    /// Whether deposits to it are accepted.
    pub status: WalletStatus,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

impl From<store::Wallet> for Wallet {
    fn from(w: store::Wallet) -> Self {
        Self {
            id: w.id,
            user_id: w.user_id,
            chain: w.chain,
            address: w.address,
            status: w.status.into(),
            created_at: unix(w.created_at),
        }
    }
}

/// Money arriving on a chain for a user.
#[derive(Debug, Object)]
pub struct Deposit {
    /// The deposit's id.
    pub id: Uuid,
    /// Who is credited.
    pub user_id: Uuid,
    /// The chain it arrived on.
    pub chain: String,
    /// The transaction hash, normalized per chain.
    pub tx_hash: String,
    /// Which output or log of the transaction paid.
    pub output_index: u32,
    /// The asset (`USDC`).
    pub asset: String,
    /// How much, as an exact decimal string (`"12.5"`).
    pub amount: String,
    /// Where it is in its life.
    pub status: DepositStatus,
    /// When it was recorded (Unix seconds).
    pub created_at: i64,
    /// When it was confirmed (Unix seconds), once it is.
    pub confirmed_at: Option<i64>,
}

impl From<store::Deposit> for Deposit {
    fn from(d: store::Deposit) -> Self {
        Self {
            id: d.id,
            user_id: d.user_id,
            chain: d.chain,
            tx_hash: d.tx_hash,
            output_index: d.output_index,
            asset: d.asset,
            amount: d.amount.normalize().to_string(),
            status: d.status.into(),
            created_at: unix(d.created_at),
            confirmed_at: d.confirmed_at.map(unix),
        }
    }
}

/// What a user holds of one asset.
#[derive(Debug, Object)]
pub struct Balance {
    /// The asset.
    pub asset: String,
    /// The amount available, as an exact decimal string.
    pub available: String,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
}

impl From<store::Balance> for Balance {
    fn from(b: store::Balance) -> Self {
        Self {
            asset: b.asset,
            available: b.available.normalize().to_string(),
            updated_at: unix(b.updated_at),
        }
    }
}

/// One ledger transaction: money in or out of a balance.
#[derive(Debug, Object)]
pub struct Transaction {
    /// The entry's id.
    pub id: Uuid,
    /// Whose balance moved.
    pub user_id: Uuid,
    /// Credit (in) or debit (out).
    pub kind: EntryKind,
    /// The asset.
    pub asset: String,
    /// How much, positive, as an exact decimal string.
    pub amount: String,
    /// What caused it: a deposit id or the debit's reference.
    pub reference: String,
    /// When it was written (Unix seconds).
    pub created_at: i64,
}

impl From<store::LedgerEntry> for Transaction {
    fn from(e: store::LedgerEntry) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id,
            kind: e.kind.into(),
            asset: e.asset,
            amount: e.amount.normalize().to_string(),
            reference: e.reference,
            created_at: unix(e.created_at),
        }
    }
}

/// A user's onboarding flow.
#[derive(Debug, Object)]
pub struct Onboarding {
    /// The flow's id (used by `POST /onboarding/{id}/transitions`).
    pub id: Uuid,
    /// Who is onboarding.
    pub user_id: Uuid,
    /// Where the flow is.
    pub status: OnboardingStatus,
    /// When it started (Unix seconds).
    pub created_at: i64,
    /// When it last moved (Unix seconds).
    pub updated_at: i64,
}

impl From<store::OnboardingFlow> for Onboarding {
    fn from(f: store::OnboardingFlow) -> Self {
        Self {
            id: f.id,
            user_id: f.user_id,
            status: f.status.into(),
            created_at: unix(f.created_at),
            updated_at: unix(f.updated_at),
        }
    }
}

/// One audited change.
#[derive(Debug, Object)]
pub struct AuditLog {
    /// The log's id.
    pub id: Uuid,
    /// The user the change concerns; absent for an operator's action (a dead letter
    /// replayed through the admin API).
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<Uuid>,
    /// What happened (`deposit.confirmed`).
    pub action: String,
    /// The id of the thing that changed.
    pub subject_id: Uuid,
    /// Details, as JSON text.
    pub detail: String,
    /// When it happened (Unix seconds).
    pub created_at: i64,
}

impl From<store::AuditLog> for AuditLog {
    fn from(a: store::AuditLog) -> Self {
        Self {
            id: a.id,
            user_id: a.user_id,
            action: a.action,
            subject_id: a.subject_id,
            detail: a.detail,
            created_at: unix(a.created_at),
        }
    }
}

/// A deposit seen on a chain.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateDeposit {
    /// Who is credited.
    pub user_id: Field<Uuid>,
    /// The chain (`ethereum`).
    pub chain: Field<String, Chain>,
    /// The transaction hash: hex on hex chains, 1 to 128 visible ASCII characters.
    pub tx_hash: Field<String, Visible>,
    /// Which output or log of the transaction paid; 0 when it pays once.
    pub output_index: Field<u32, Index>,
    /// The asset, 2 to 12 letters or digits (`USDC`).
    pub asset: Field<String, Asset>,
    /// How much, as a decimal string (`"12.5"`): positive, at most 18 decimal places and
    /// 20 integer digits. A JSON number is refused.
    pub amount: Field<String, Amount>,
}

impl CreateDeposit {
    /// The Store's input, or `None` with every bad field flagged.
    pub fn check(self, checks: &mut Checks) -> Option<store::NewDeposit> {
        let user_id = checks.take("/user_id", self.user_id, "a UUID string");
        let chain = checks.take("/chain", self.chain, "a string");
        let tx_hash = checks.take("/tx_hash", self.tx_hash, "a string");
        let output_index = checks.take(
            "/output_index",
            self.output_index,
            "an integer from 0 to 4294967295",
        );
        let asset = checks.take("/asset", self.asset, "a string");
        let value = amount(checks, "/amount", self.amount);
        let deposit = store::NewDeposit {
            user_id: user_id.unwrap_or_default(),
            chain: chain.unwrap_or_default(),
            tx_hash: tx_hash.unwrap_or_default(),
            output_index: output_index.unwrap_or_default(),
            asset: asset.unwrap_or_default(),
            amount: value.unwrap_or(Decimal::ONE),
        };
        checks.domain(deposit.checked_all(), pointer)
    }
}

/// Money to take out of a balance.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateDebit {
    /// The asset (`USDC`).
    pub asset: Field<String, Asset>,
    /// How much, as a decimal string (`"12.5"`); a JSON number is refused.
    pub amount: Field<String, Amount>,
    /// Your reference, 1 to 128 visible ASCII characters: a second debit with the same
    /// reference returns the first and takes nothing.
    pub reference: Field<String, Visible>,
}

impl CreateDebit {
    /// The Store's input for `user_id`, or `None` with every bad field flagged.
    pub fn check(self, user_id: Uuid, checks: &mut Checks) -> Option<store::NewDebit> {
        let asset = checks.take("/asset", self.asset, "a string");
        let value = amount(checks, "/amount", self.amount);
        let reference = checks.take("/reference", self.reference, "a string");
        let debit = store::NewDebit {
            user_id,
            asset: asset.unwrap_or_default(),
            amount: value.unwrap_or(Decimal::ONE),
            reference: reference.unwrap_or_default(),
        };
        checks.domain(debit.checked_all(), pointer)
    }
}
