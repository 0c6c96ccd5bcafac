//! The Store's list queries by name, as statements: what `EXPLAIN` and the plan test read,
//! built by the same functions the Store runs.

use sea_orm::sea_query::SelectStatement;
use stack_core::page::PageRequest;
use stack_core::store::{
    AuditFilter, CursorRequest, DepositFilter, EntryFilter, UserFilter, WalletFilter,
};
use stack_migrations::schema::{AuditLogs, Deposits, Transactions, Users, Wallets};

use super::listing;

/// A list query of the Store with its filter.
#[derive(Debug, Clone)]
pub enum ListQuery {
    /// `list_users`.
    Users(UserFilter),
    /// `list_wallets`.
    Wallets(WalletFilter),
    /// `list_deposits`.
    Deposits(DepositFilter),
    /// `scan_deposits` (keyset).
    ScanDeposits(DepositFilter, CursorRequest),
    /// `list_entries`.
    Entries(EntryFilter),
    /// `list_audit_logs`.
    AuditLogs(AuditFilter),
}

impl ListQuery {
    /// The Store method that runs it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Users(_) => "list_users",
            Self::Wallets(_) => "list_wallets",
            Self::Deposits(_) => "list_deposits",
            Self::ScanDeposits(..) => "scan_deposits",
            Self::Entries(_) => "list_entries",
            Self::AuditLogs(_) => "list_audit_logs",
        }
    }

    /// The page statement the Store runs for it (`page` is ignored by a keyset scan).
    pub fn statement(&self, page: PageRequest) -> SelectStatement {
        match self {
            Self::Users(f) => listing::page_select(Users::Table, listing::users(f), page),
            Self::Wallets(f) => listing::page_select(Wallets::Table, listing::wallets(f), page),
            Self::Deposits(f) => listing::page_select(Deposits::Table, listing::deposits(f), page),
            Self::ScanDeposits(f, request) => {
                listing::slice_select(Deposits::Table, listing::deposits(f), *request)
            }
            Self::Entries(f) => {
                listing::page_select(Transactions::Table, listing::entries(f), page)
            }
            Self::AuditLogs(f) => {
                listing::page_select(AuditLogs::Table, listing::audit_logs(f), page)
            }
        }
    }
}
