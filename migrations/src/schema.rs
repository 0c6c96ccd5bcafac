//! The names of the rail's tables and columns, shared by the migrations and the SQL store so
//! that a renamed column cannot drift between them.

use sea_orm_migration::prelude::{DeriveIden, DynIden, Iden, IntoIden};

/// `users`.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum Users {
    /// The table.
    Table,
    /// UUID v7.
    Id,
    /// Unique, lowercased.
    Email,
    /// E.164, optional.
    Phone,
    /// The user's name.
    FullName,
    /// `active` or `suspended`.
    Status,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

/// `wallets`.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum Wallets {
    /// The table.
    Table,
    /// UUID v7.
    Id,
    /// The owner.
    UserId,
    /// The chain.
    Chain,
    /// The address; unique per chain.
    Address,
    /// `active` or `disabled`.
    Status,
    /// Creation time.
    CreatedAt,
}

/// `deposits`.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum Deposits {
    /// The table.
    Table,
    /// UUID v7.
    Id,
    /// Who is credited.
    UserId,
    /// The chain.
    Chain,
    /// The chain's transaction hash, normalized per chain.
    TxHash,
    /// The output or log index within the transaction; (chain, tx_hash, output_index) is
    /// unique (migration 3).
    OutputIndex,
    /// The asset.
    Asset,
    /// Positive amount.
    Amount,
    /// `pending`, `confirmed` or `failed`.
    Status,
    /// Creation time.
    CreatedAt,
    /// Confirmation time.
    ConfirmedAt,
}

/// `balances`.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum Balances {
    /// The table.
    Table,
    /// The holder.
    UserId,
    /// The asset; (user_id, asset) is the key.
    Asset,
    /// Never negative.
    Available,
    /// Last change.
    UpdatedAt,
}

/// `transactions`: the ledger.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum Transactions {
    /// The table.
    Table,
    /// UUID v7.
    Id,
    /// Whose balance moved.
    UserId,
    /// `credit` or `debit`.
    #[sea_orm(iden = "type")]
    Kind,
    /// The asset.
    Asset,
    /// Positive amount.
    Amount,
    /// What caused it; unique per (user, type).
    Reference,
    /// Creation time.
    CreatedAt,
}

/// `onboarding_flows`.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum OnboardingFlows {
    /// The table.
    Table,
    /// UUID v7.
    Id,
    /// One flow per user.
    UserId,
    /// The flow's state.
    Status,
    /// Creation time.
    CreatedAt,
    /// Last move.
    UpdatedAt,
}

/// `audit_logs`.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum AuditLogs {
    /// The table.
    Table,
    /// UUID v7.
    Id,
    /// The user concerned.
    UserId,
    /// What happened.
    Action,
    /// The id of what changed.
    SubjectId,
    /// Details as JSON text.
    Detail,
    /// Creation time.
    CreatedAt,
}

macro_rules! columns {
    ($table:ident: $($column:ident),+) => {
        impl $table {
            /// Every column, in schema order.
            pub const COLUMNS: &'static [Self] = &[$(Self::$column),+];
        }
    };
}

columns!(Users: Id, Email, Phone, FullName, Status, CreatedAt, UpdatedAt);
columns!(Wallets: Id, UserId, Chain, Address, Status, CreatedAt);
columns!(Deposits: Id, UserId, Chain, TxHash, OutputIndex, Asset, Amount, Status, CreatedAt, ConfirmedAt);
columns!(Balances: UserId, Asset, Available, UpdatedAt);
columns!(Transactions: Id, UserId, Kind, Asset, Amount, Reference, CreatedAt);
columns!(OnboardingFlows: Id, UserId, Status, CreatedAt, UpdatedAt);
columns!(AuditLogs: Id, UserId, Action, SubjectId, Detail, CreatedAt);

/// Every column of the rail table `table` (`None` for another table). Selects name their
/// columns instead of `*`: a pooled SQLite connection that loaded the schema before a
/// migration added a column expands `*` the old way at prepare and the new way once SQLite
/// re-prepares, and sqlx then reads past the end of its row.
pub fn columns_of(table: &DynIden) -> Option<Vec<DynIden>> {
    fn all<T: Iden + Copy + 'static>(columns: &[T]) -> Vec<DynIden> {
        columns.iter().map(|c| c.into_iden()).collect()
    }
    let name = table.to_string();
    let found = if name == Users::Table.to_string() {
        all(Users::COLUMNS)
    } else if name == Wallets::Table.to_string() {
        all(Wallets::COLUMNS)
    } else if name == Deposits::Table.to_string() {
        all(Deposits::COLUMNS)
    } else if name == Balances::Table.to_string() {
        all(Balances::COLUMNS)
    } else if name == Transactions::Table.to_string() {
        all(Transactions::COLUMNS)
    } else if name == OnboardingFlows::Table.to_string() {
        all(OnboardingFlows::COLUMNS)
    } else if name == AuditLogs::Table.to_string() {
        all(AuditLogs::COLUMNS)
    } else {
        return None;
    };
    Some(found)
}

/// `idempotency_keys` (migration 4): one row per `Idempotency-Key` a client sent.
#[derive(DeriveIden, Clone, Copy, Debug)]
pub enum IdempotencyKeys {
    /// The table.
    Table,
    /// The client's key, the primary key (1-255 visible ASCII characters).
    Key,
    /// The method of the request the key was first used for.
    Method,
    /// Its path and query (with the API version the server resolved, when one was).
    Target,
    /// The SHA-256 of its body, 64 hex digits.
    Fingerprint,
    /// `running` or `done`.
    State,
    /// The fencing token of the claim that runs (or ran) the request.
    ClaimToken,
    /// While `running`: when the claim lapses and another request may take the key over.
    LeaseUntil,
    /// When `done`: the response's status.
    Status,
    /// When `done`: the response's content type, if it had one.
    ContentType,
    /// When `done`: the response's body bytes.
    Body,
    /// When the key was claimed.
    CreatedAt,
    /// When the key is forgotten (free again, and deleted by the purge).
    ExpiresAt,
}
