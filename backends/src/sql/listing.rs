//! Listings: typed filters as sea-query conditions, offset pages with totals, and keyset
//! slices over (created_at, id), all newest first.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Func, IntoIden, Order, Query, SelectStatement,
};
use sea_orm::{ConnectionTrait, QueryResult};
use stack_core::Result;
use stack_core::page::{Page, PageRequest};
use stack_core::store::{
    AuditFilter, Cursor, CursorPage, CursorRequest, DepositFilter, EntryFilter, UserFilter,
    WalletFilter,
};
use stack_migrations::schema::{AuditLogs, Deposits, Transactions, Users, Wallets, columns_of};

use super::error::db_error;

fn created_at() -> Alias {
    Alias::new("created_at")
}

fn id_column() -> Alias {
    Alias::new("id")
}

/// Times from year 1 to 9999: what both engines store and compare correctly (PostgreSQL
/// refuses some years outside it, and SQLite compares times as text, where `+10000-...`
/// sorts before `2026-...`). Every stored time is inside it.
fn storable() -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = DateTime::<Utc>::from_timestamp(-62_135_596_800, 0)?; // 0001-01-01T00:00:00Z
    let last = DateTime::<Utc>::from_timestamp(253_402_300_799, 999_999_999)?; // 9999-12-31
    Some((first, last))
}

/// `created_at` in [from, to). A bound outside the storable years is never sent to the
/// database: one that every stored time passes is dropped, one that none passes selects no
/// row, so the answer is exactly the rows the bounds ask for.
fn created_range(
    mut cond: Condition,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Condition {
    let Some((first, last)) = storable() else {
        return cond;
    };
    let nothing = || Expr::val(1).eq(0);
    if let Some(from) = from {
        if from > last {
            cond = cond.add(nothing());
        } else if from > first {
            cond = cond.add(Expr::col(created_at()).gte(from));
        }
    }
    if let Some(to) = to {
        if to <= first {
            cond = cond.add(nothing());
        } else if to <= last {
            cond = cond.add(Expr::col(created_at()).lt(to));
        }
    }
    cond
}

pub(super) fn users(filter: &UserFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(status) = filter.status {
        cond = cond.add(Expr::col(Users::Status).eq(status.as_str()));
    }
    created_range(cond, filter.created_from, filter.created_to)
}

pub(super) fn wallets(filter: &WalletFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(user_id) = filter.user_id {
        cond = cond.add(Expr::col(Wallets::UserId).eq(user_id));
    }
    if let Some(chain) = &filter.chain {
        cond = cond.add(Expr::col(Wallets::Chain).eq(chain.trim().to_ascii_lowercase()));
    }
    cond
}

pub(super) fn deposits(filter: &DepositFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(user_id) = filter.user_id {
        cond = cond.add(Expr::col(Deposits::UserId).eq(user_id));
    }
    if let Some(status) = filter.status {
        cond = cond.add(Expr::col(Deposits::Status).eq(status.as_str()));
    }
    if let Some(chain) = &filter.chain {
        cond = cond.add(Expr::col(Deposits::Chain).eq(chain.trim().to_ascii_lowercase()));
    }
    created_range(cond, filter.created_from, filter.created_to)
}

pub(super) fn entries(filter: &EntryFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(user_id) = filter.user_id {
        cond = cond.add(Expr::col(Transactions::UserId).eq(user_id));
    }
    if let Some(kind) = filter.kind {
        cond = cond.add(Expr::col(Transactions::Kind).eq(kind.as_str()));
    }
    if let Some(asset) = &filter.asset {
        cond = cond.add(Expr::col(Transactions::Asset).eq(asset.trim().to_ascii_uppercase()));
    }
    created_range(cond, filter.created_from, filter.created_to)
}

pub(super) fn audit_logs(filter: &AuditFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(user_id) = filter.user_id {
        cond = cond.add(Expr::col(AuditLogs::UserId).eq(user_id));
    }
    if let Some(action) = &filter.action {
        cond = cond.add(Expr::col(AuditLogs::Action).eq(action.as_str()));
    }
    created_range(cond, filter.created_from, filter.created_to)
}

/// `SELECT <every column> FROM table`: the columns by name, never `*` (see
/// `stack_migrations::schema::columns_of`).
pub(super) fn select_all(table: impl IntoIden) -> SelectStatement {
    let table = table.into_iden();
    let mut select = Query::select();
    match columns_of(&table) {
        Some(columns) => select.columns(columns),
        None => select.column(Asterisk),
    };
    select.from(table).to_owned()
}

fn newest_first(table: impl IntoIden, cond: Condition) -> SelectStatement {
    select_all(table)
        .cond_where(cond)
        .order_by(created_at(), Order::Desc)
        .order_by(id_column(), Order::Desc)
        .to_owned()
}

/// The row of `table` with `id`, mapped; `NotFound` naming `what` when there is none.
pub(super) async fn by_id<T>(
    db: &impl ConnectionTrait,
    table: impl IntoIden,
    id: uuid::Uuid,
    map: impl Fn(&QueryResult) -> Result<T>,
    what: &str,
) -> Result<T> {
    let select = select_all(table)
        .and_where(Expr::col(id_column()).eq(id))
        .to_owned();
    let row = db
        .query_one(&select)
        .await
        .map_err(|e| db_error(&format!("read {what}"), e))?;
    row.as_ref()
        .map(map)
        .transpose()?
        .ok_or_else(|| stack_core::Error::not_found(format!("{what} {id}")))
}

/// The statement of one page of `table` rows matching `cond`, newest first.
pub(super) fn page_select(
    table: impl IntoIden,
    cond: Condition,
    request: PageRequest,
) -> SelectStatement {
    newest_first(table, cond)
        .limit(u64::from(request.limit()))
        .offset(request.offset())
        .to_owned()
}

/// The statement of a keyset slice: up to `limit + 1` rows of `table` matching `cond` after
/// the cursor, newest first (the extra row tells whether there is a next slice).
pub(super) fn slice_select(
    table: impl IntoIden,
    mut cond: Condition,
    request: CursorRequest,
) -> SelectStatement {
    if let Some(after) = request.after {
        // A row-value comparison, which both engines can use as an index bound, unlike the
        // equivalent `a < x OR (a = x AND b < y)`.
        let key = Expr::tuple([Expr::col(created_at()), Expr::col(id_column())]);
        let cursor = Expr::tuple([Expr::val(after.created_at), Expr::val(after.id)]);
        cond = cond.add(key.lt(cursor));
    }
    newest_first(table, cond)
        .limit(u64::from(request.limit) + 1)
        .to_owned()
}

/// One page of `table` rows matching `cond`, newest first, with the total.
pub(super) async fn page<T>(
    db: &impl ConnectionTrait,
    table: impl IntoIden + Clone,
    cond: Condition,
    request: PageRequest,
    map: impl Fn(&QueryResult) -> Result<T>,
) -> Result<Page<T>> {
    let count = Query::select()
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from(table.clone())
        .cond_where(cond.clone())
        .to_owned();
    let total: i64 = match db
        .query_one(&count)
        .await
        .map_err(|e| db_error("count", e))?
    {
        Some(row) => row.try_get("", "n").map_err(|e| db_error("count", e))?,
        None => 0,
    };
    let select = page_select(table, cond, request);
    let rows = db
        .query_all(&select)
        .await
        .map_err(|e| db_error("list", e))?;
    let items = rows.iter().map(map).collect::<Result<Vec<_>>>()?;
    Ok(Page::new(items, request, u64::try_from(total).unwrap_or(0)))
}

/// Up to `request.limit` rows of `table` matching `cond` after the cursor, newest first.
pub(super) async fn slice<T>(
    db: &impl ConnectionTrait,
    table: impl IntoIden,
    cond: Condition,
    request: CursorRequest,
    map: impl Fn(&QueryResult) -> Result<T>,
    position: impl Fn(&T) -> Cursor,
) -> Result<CursorPage<T>> {
    let select = slice_select(table, cond, request);
    let rows = db
        .query_all(&select)
        .await
        .map_err(|e| db_error("scan", e))?;
    let mut items = rows.iter().map(map).collect::<Result<Vec<_>>>()?;
    let more = items.len() > request.limit as usize;
    items.truncate(request.limit as usize);
    let next = if more {
        items.last().map(&position)
    } else {
        None
    };
    Ok(CursorPage { items, next })
}
