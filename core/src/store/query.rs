//! Typed filters for every listing, and the keyset cursor of the listings that grow.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::states::{DepositStatus, EntryKind, UserStatus};
use crate::{Error, Result};

/// Which users to list. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFilter {
    /// Only users in this state.
    pub status: Option<UserStatus>,
    /// Only users created at or after this.
    pub created_from: Option<DateTime<Utc>>,
    /// Only users created before this.
    pub created_to: Option<DateTime<Utc>>,
}

/// Which wallets to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletFilter {
    /// Only this user's wallets.
    pub user_id: Option<Uuid>,
    /// Only wallets on this chain.
    pub chain: Option<String>,
}

/// Which deposits to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositFilter {
    /// Only this user's deposits.
    pub user_id: Option<Uuid>,
    /// Only deposits in this state.
    pub status: Option<DepositStatus>,
    /// Only deposits on this chain.
    pub chain: Option<String>,
    /// Only deposits created at or after this.
    pub created_from: Option<DateTime<Utc>>,
    /// Only deposits created before this.
    pub created_to: Option<DateTime<Utc>>,
}

/// Which ledger entries to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFilter {
    /// Only this user's entries.
    pub user_id: Option<Uuid>,
    /// Only credits or only debits.
    pub kind: Option<EntryKind>,
    /// Only entries in this asset.
    pub asset: Option<String>,
    /// Only entries written at or after this.
    pub created_from: Option<DateTime<Utc>>,
    /// Only entries written before this.
    pub created_to: Option<DateTime<Utc>>,
}

/// Which audit logs to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only logs about this user.
    pub user_id: Option<Uuid>,
    /// Only this action (`deposit.confirmed`).
    pub action: Option<String>,
    /// Only logs written at or after this.
    pub created_from: Option<DateTime<Utc>>,
    /// Only logs written before this.
    pub created_to: Option<DateTime<Utc>>,
}

/// A position in a newest-first listing: the (created_at, id) of the last row served.
/// Rows inserted meanwhile never shift it, unlike an offset. Opaque to clients.
///
/// ```
/// use stack_core::store::Cursor;
/// let cursor = Cursor::new(chrono::Utc::now(), uuid::Uuid::now_v7());
/// let text = cursor.encode();
/// assert_eq!(Cursor::decode(&text).unwrap(), cursor);
/// assert!(Cursor::decode("not a cursor").is_err());
/// let far = format!("-8000000000000000000.{}", uuid::Uuid::nil().simple());
/// let year_one = Cursor::decode(&far).unwrap().created_at;
/// assert_eq!(year_one.to_rfc3339(), "0001-01-01T00:00:00+00:00", "moved to the first storable time");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The creation time of the last row served, at microsecond precision.
    pub created_at: DateTime<Utc>,
    /// Its id, which breaks ties between rows created in the same microsecond.
    pub id: Uuid,
}

impl Cursor {
    /// The cursor after a row created at `created_at` with `id` (kept to microseconds, the
    /// precision both engines store).
    pub fn new(created_at: DateTime<Utc>, id: Uuid) -> Self {
        let micros = created_at.timestamp_micros();
        let created_at = Utc.timestamp_micros(micros).single().unwrap_or(created_at);
        Self { created_at, id }
    }

    /// The opaque text form: `<microseconds>.<id as 32 hex digits>`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Reads [`Cursor::encode`]'s text.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `cursor` for anything else.
    pub fn decode(text: &str) -> Result<Self> {
        let bad = || Error::invalid("cursor", "not a cursor this server gave out");
        let (micros, id) = text.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        // Every stored time is within years 1 to 9999: a position outside them is moved to
        // their edge, which selects the same rows (none before year 1, all before 10000) and
        // keeps the bound storable on both engines.
        let micros = micros.clamp(-62_135_596_800_000_000, 253_402_300_799_999_999);
        let created_at = Utc.timestamp_micros(micros).single().ok_or_else(bad)?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(Self { created_at, id })
    }
}

/// One slice of a keyset listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPage<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// The cursor for the next slice; `None` at the end.
    pub next: Option<Cursor>,
}

/// A keyset request: up to `limit` rows after `after` (from the newest when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorRequest {
    /// Where the previous slice ended.
    pub after: Option<Cursor>,
    /// How many rows, 1 to [`crate::page::MAX_LIMIT`] (larger is capped).
    pub limit: u32,
}

impl CursorRequest {
    /// A request for `limit` rows after `after`.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `limit` when it is zero.
    pub fn new(after: Option<Cursor>, limit: u32) -> Result<Self> {
        if limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        Ok(Self {
            after,
            limit: limit.min(crate::page::MAX_LIMIT),
        })
    }
}
