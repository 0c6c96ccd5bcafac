//! The names of the rail's tables and columns, shared by the migrations and the SQL store so
//! that a renamed column cannot drift between them.

use sea_orm_migration::prelude::DeriveIden;

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
    /// The chain's transaction hash; unique per chain.
    TxHash,
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
