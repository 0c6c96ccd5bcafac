//! The money invariant, checked twice: through the Store (every balance equals the exact sum
//! of the user's ledger entries) and in the database itself, from the columns' own text, so
//! that a value rounded on its way in or out of `Decimal` cannot hide a mismatch.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend};
use stack_core::page::PageRequest;
use stack_core::store::{EntryFilter, EntryKind, exact};
use uuid::Uuid;

use super::Subject;

/// Decimal text (`-12.5`, `0.000000000000000001`) as an integer count of 10^-18, parsed
/// without `Decimal` (which would round what it cannot hold).
fn attos(text: &str) -> i128 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    assert!(fraction.len() <= 18, "`{text}` has more than 18 places");
    let value: i128 = format!("{whole}{fraction:0<18}")
        .parse()
        .unwrap_or_else(|e| panic!("`{text}` is not decimal text: {e}"));
    if negative { -value } else { value }
}

/// Per asset: the balance and the ledger's sum, as the database's text, in 10^-18 units.
async fn database_view(subject: &Subject, user: Uuid) -> BTreeMap<String, (i128, i128)> {
    let db = &subject.db;
    let backend = db.get_database_backend();
    let text = |column: &str| Expr::cust(format!("CAST({column} AS TEXT)"));
    let balances = Query::select()
        .column(Alias::new("asset"))
        .expr_as(text("available"), Alias::new("value"))
        .from(Alias::new("balances"))
        .and_where(Expr::col(Alias::new("user_id")).eq(user))
        .to_owned();
    let entries = Query::select()
        .column(Alias::new("asset"))
        .expr_as(Expr::col(Alias::new("type")), Alias::new("kind"))
        .expr_as(text("amount"), Alias::new("value"))
        .from(Alias::new("transactions"))
        .and_where(Expr::col(Alias::new("user_id")).eq(user))
        .to_owned();
    let mut view = BTreeMap::<String, (i128, i128)>::new();
    for row in db.query_all(&balances).await.unwrap() {
        let asset: String = row.try_get("", "asset").unwrap();
        let value: String = row.try_get("", "value").unwrap();
        view.entry(asset).or_default().0 = attos(&value);
    }
    for row in db.query_all(&entries).await.unwrap() {
        let asset: String = row.try_get("", "asset").unwrap();
        let kind: String = row.try_get("", "kind").unwrap();
        let value = attos(&row.try_get::<String>("", "value").unwrap());
        let sum = &mut view.entry(asset).or_default().1;
        *sum += if kind == "credit" { value } else { -value };
    }
    if backend == DbBackend::Postgres {
        // PostgreSQL's own exact SUM over NUMERIC, compared as text.
        let summed = db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                "SELECT b.asset, b.available::text AS balance, \
                 (SELECT COALESCE(SUM(CASE WHEN t.type = 'credit' THEN t.amount ELSE -t.amount END), 0) \
                  FROM transactions t WHERE t.user_id = b.user_id AND t.asset = b.asset)::text AS total \
                 FROM balances b WHERE b.user_id = $1",
                [user.into()],
            ))
            .await
            .unwrap();
        for row in summed {
            let asset: String = row.try_get("", "asset").unwrap();
            let balance: String = row.try_get("", "balance").unwrap();
            let total: String = row.try_get("", "total").unwrap();
            assert_eq!(
                attos(&balance),
                attos(&total),
                "{asset}: balance {balance} != SUM of the ledger {total} (PostgreSQL)"
            );
        }
    }
    view
}

/// The money invariant for `user`: every balance equals the sum of its ledger entries, none
/// is negative, and no ledger sum lacks its balance; checked through the Store with exact
/// arithmetic and in the database from the columns' text.
pub async fn assert_ledger_matches(subject: &Subject, user: Uuid) {
    let mut sums = BTreeMap::<String, Decimal>::new();
    let mut page = 1;
    loop {
        let filter = EntryFilter {
            user_id: Some(user),
            ..EntryFilter::default()
        };
        let entries = subject
            .list_entries(&filter, PageRequest::new(page, 100).unwrap())
            .await
            .unwrap();
        for entry in &entries.items {
            let sum = sums.entry(entry.asset.clone()).or_default();
            *sum = match entry.kind {
                EntryKind::Credit => exact::add(*sum, entry.amount),
                EntryKind::Debit => exact::sub(*sum, entry.amount),
            }
            .unwrap_or_else(|e| panic!("the ledger of {} cannot be summed: {e}", entry.asset));
        }
        if !entries.has_next {
            break;
        }
        page += 1;
    }
    let balances = subject.balances(user).await.unwrap();
    for balance in &balances {
        assert!(
            balance.available >= Decimal::ZERO,
            "negative balance {balance:?}"
        );
        let sum = sums.get(&balance.asset).copied().unwrap_or_default();
        assert_eq!(
            balance.available, sum,
            "balance {} != ledger sum {sum}",
            balance.available
        );
    }
    for (asset, sum) in &sums {
        if !sum.is_zero() {
            assert!(
                balances.iter().any(|b| &b.asset == asset),
                "ledger holds {sum} {asset} with no balance"
            );
        }
    }
    for (asset, (balance, ledger)) in database_view(subject, user).await {
        assert!(balance >= 0, "{asset}: negative balance in the database");
        assert_eq!(
            balance, ledger,
            "{asset}: the database holds a balance of {balance} and a ledger sum of {ledger} \
             (units of 10^-18)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::attos;

    #[test]
    fn decimal_text_is_read_exactly() {
        assert_eq!(attos("1"), 1_000_000_000_000_000_000);
        assert_eq!(attos("-0.5"), -500_000_000_000_000_000);
        assert_eq!(attos("0.000000000000000001"), 1);
        assert_eq!(attos("10.500000000000000000"), 10_500_000_000_000_000_000);
        assert_eq!(
            attos("12345678901234567890.300000000000000001"),
            12_345_678_901_234_567_890_300_000_000_000_000_001
        );
    }
}
