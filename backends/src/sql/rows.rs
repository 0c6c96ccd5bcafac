//! Rows to domain values, and the values both engines store the same way.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use sea_orm::{DbBackend, QueryResult, TryGetable};
use stack_core::store::{AuditLog, Balance, Deposit, LedgerEntry, OnboardingFlow, User, Wallet};
use stack_core::{Error, Result};

/// Now, at the microsecond precision both engines store (so a value read back equals the
/// value written, and keyset cursors compare exactly).
pub(super) fn now() -> DateTime<Utc> {
    let micros = Utc::now().timestamp_micros();
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or_else(Utc::now)
}

fn get<T: TryGetable>(row: &QueryResult, column: &str) -> Result<T> {
    row.try_get("", column)
        .map_err(|e| Error::backend(format!("reading column {column}: {e}")))
}

fn parse<T: FromStr<Err = Error>>(row: &QueryResult, column: &str) -> Result<T> {
    get::<String>(row, column)?.parse()
}

/// An amount: NUMERIC on PostgreSQL, exact decimal text on SQLite (never through `f64`).
pub(super) fn amount(row: &QueryResult, column: &str, backend: DbBackend) -> Result<Decimal> {
    let value = if backend == DbBackend::Postgres {
        get::<Decimal>(row, column)?
    } else {
        let text: String = get(row, column)?;
        Decimal::from_str(&text)
            .map_err(|e| Error::backend(format!("column {column} holds `{text}`: {e}")))?
    };
    Ok(value.normalize())
}

pub(super) fn user(row: &QueryResult) -> Result<User> {
    Ok(User {
        id: get(row, "id")?,
        email: get(row, "email")?,
        phone: get(row, "phone")?,
        full_name: get(row, "full_name")?,
        status: parse(row, "status")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

pub(super) fn wallet(row: &QueryResult) -> Result<Wallet> {
    Ok(Wallet {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        chain: get(row, "chain")?,
        address: get(row, "address")?,
        status: parse(row, "status")?,
        created_at: get(row, "created_at")?,
    })
}

pub(super) fn deposit(row: &QueryResult, backend: DbBackend) -> Result<Deposit> {
    Ok(Deposit {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        chain: get(row, "chain")?,
        tx_hash: get(row, "tx_hash")?,
        output_index: u32::try_from(get::<i64>(row, "output_index")?)
            .map_err(|e| Error::backend(format!("column output_index: {e}")))?,
        asset: get(row, "asset")?,
        amount: amount(row, "amount", backend)?,
        status: parse(row, "status")?,
        created_at: get(row, "created_at")?,
        confirmed_at: get(row, "confirmed_at")?,
    })
}

pub(super) fn balance(row: &QueryResult, backend: DbBackend) -> Result<Balance> {
    Ok(Balance {
        user_id: get(row, "user_id")?,
        asset: get(row, "asset")?,
        available: amount(row, "available", backend)?,
        updated_at: get(row, "updated_at")?,
    })
}

pub(super) fn entry(row: &QueryResult, backend: DbBackend) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        kind: parse(row, "type")?,
        asset: get(row, "asset")?,
        amount: amount(row, "amount", backend)?,
        reference: get(row, "reference")?,
        created_at: get(row, "created_at")?,
    })
}

pub(super) fn onboarding(row: &QueryResult) -> Result<OnboardingFlow> {
    Ok(OnboardingFlow {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        status: parse(row, "status")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

pub(super) fn audit(row: &QueryResult) -> Result<AuditLog> {
    Ok(AuditLog {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        action: get(row, "action")?,
        subject_id: get(row, "subject_id")?,
        detail: get(row, "detail")?,
        created_at: get(row, "created_at")?,
    })
}
