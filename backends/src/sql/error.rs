//! SeaORM's errors as core errors: the kind a caller acts on, the database's own error kept
//! as the source.

use std::future::Future;
use std::sync::Arc;

use sea_orm::sqlx::error::ErrorKind as SqlxKind;
use sea_orm::{DbErr, RuntimeErr};
use stack_core::Error;

tokio::task_local! {
    /// The database node a call runs on, when it is not the primary: a replica's label, set
    /// by [`on_node`] around every call of a replica's Store.
    static NODE: Arc<str>;
}

/// Runs `call` as a call on the node `node` (a replica's label): an error [`db_error`] maps
/// inside it is counted under that node rather than the primary.
pub(super) async fn on_node<F: Future>(node: Arc<str>, call: F) -> F::Output {
    NODE.scope(node, call).await
}

/// The node the current call runs on: the label [`on_node`] set, else `primary`.
fn node() -> String {
    NODE.try_with(|node| node.to_string())
        .unwrap_or_else(|_| "primary".to_owned())
}

/// The kind of a database-level failure, when the database reported one.
fn database_kind(error: &DbErr) -> Option<SqlxKind> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error().map(|d| d.kind())
        }
        _ => None,
    }
}

/// Whether the connection (not the statement) failed: refused, dropped, pool exhausted, or
/// the server ending the session (SQLSTATE class 08, connection exception, and 57P01-57P03,
/// an administrator or crash shutdown, or a server that cannot take connections yet).
fn connection_failed(error: &DbErr) -> bool {
    match error {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            let server_ended = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| {
                    c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
                });
            server_ended
                || matches!(
                    e.as_ref(),
                    sea_orm::sqlx::Error::Io(_)
                        | sea_orm::sqlx::Error::PoolTimedOut
                        | sea_orm::sqlx::Error::PoolClosed
                        | sea_orm::sqlx::Error::Protocol(_)
                        | sea_orm::sqlx::Error::WorkerCrashed
                )
        }
        _ => false,
    }
}

fn is_acquire_timeout(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(e.as_ref(), sea_orm::sqlx::Error::PoolTimedOut)
        }
        _ => false,
    }
}

/// `error` from `doing` as a core error: a unique violation is `Conflict`, a foreign-key
/// violation `NotFound`, a check violation `Invalid`, a failed connection `Unavailable`
/// (temporary); anything else `Backend`. The database's error stays the source.
pub(super) fn db_error(doing: &str, error: DbErr) -> Error {
    if connection_failed(&error) {
        if is_acquire_timeout(&error) {
            // Callers waited the whole acquire timeout for a connection: the pool is too
            // small for the load, or the database is slow to hand connections back.
            metrics::counter!("stack_db_acquire_timeouts_total", "node" => node()).increment(1);
        }
        return Error::unavailable(format!("database ({doing})"), error);
    }
    let busy = matches!(&error, DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))
        if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "5" || c == "40001" || c == "40P01"));
    let base = match database_kind(&error) {
        Some(SqlxKind::UniqueViolation) => Error::conflict(format!("{doing}: already exists")),
        Some(SqlxKind::ForeignKeyViolation) => {
            Error::not_found(format!("{doing}: a referenced row"))
        }
        Some(SqlxKind::CheckViolation | SqlxKind::NotNullViolation) => {
            Error::invalid(doing.to_owned(), "refused by a database constraint")
        }
        _ if busy => {
            return Error::Backend {
                message: format!("database busy ({doing})"),
                temporary: true,
                source: Some(Box::new(error)),
            };
        }
        _ => {
            return Error::Backend {
                message: format!("database ({doing})"),
                temporary: false,
                source: Some(Box::new(error)),
            };
        }
    };
    base.with_source(error)
}
