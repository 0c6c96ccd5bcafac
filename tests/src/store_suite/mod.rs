//! The [`Store`] conformance suite: users, wallets, onboarding, deposits, the ledger and
//! the audit trail, with the money invariants checked after every trial that moves money.
//! Each trial gets a database of its own from the factory.

mod ledger;
mod listing;
mod people;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;
use rust_decimal::Decimal;
use stack_core::page::PageRequest;
use stack_core::store::{EntryFilter, EntryKind, NewDeposit, NewUser, Store, User};
use uuid::Uuid;

pub use ledger::*;
pub use listing::*;
pub use people::*;

/// Builds a Store over a fresh, migrated, empty database.
pub type StoreFactory = Arc<dyn Fn() -> BoxFuture<'static, Arc<dyn Store>> + Send + Sync>;

/// Wraps an async closure as a [`StoreFactory`].
pub fn factory<F, Fut>(f: F) -> StoreFactory
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Arc<dyn Store>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// An exact decimal from text.
pub fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A new user with a unique email.
pub async fn user(store: &dyn Store) -> User {
    let email = format!("{}@example.com", crate::unique("u"));
    store
        .create_user(NewUser {
            email,
            phone: None,
            full_name: "Test User".into(),
        })
        .await
        .unwrap()
}

/// A deposit of `amount` USDC for `user` with a unique hash.
pub fn new_deposit(user: Uuid, amount: &str) -> NewDeposit {
    NewDeposit {
        user_id: user,
        chain: "ethereum".into(),
        tx_hash: crate::unique("0x"),
        asset: "USDC".into(),
        amount: dec(amount),
    }
}

/// Records a deposit of `amount` USDC for `user`; its id.
pub async fn recorded(store: &dyn Store, user: Uuid, amount: &str) -> Uuid {
    store
        .record_deposit(new_deposit(user, amount))
        .await
        .unwrap()
        .deposit()
        .id
}

/// The money invariant: every balance of `user` equals the sum of its ledger entries, and
/// none is negative.
pub async fn assert_ledger_matches(store: &dyn Store, user: Uuid) {
    let mut sums = std::collections::HashMap::<String, Decimal>::new();
    let mut page = 1;
    loop {
        let filter = EntryFilter {
            user_id: Some(user),
            ..EntryFilter::default()
        };
        let entries = store
            .list_entries(&filter, PageRequest::new(page, 100).unwrap())
            .await
            .unwrap();
        for entry in &entries.items {
            let sum = sums.entry(entry.asset.clone()).or_default();
            match entry.kind {
                EntryKind::Credit => *sum += entry.amount,
                EntryKind::Debit => *sum -= entry.amount,
            }
        }
        if !entries.has_next {
            break;
        }
        page += 1;
    }
    let balances = store.balances(user).await.unwrap();
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
    for (asset, sum) in sums {
        if sum != Decimal::ZERO {
            assert!(
                balances.iter().any(|b| b.asset == asset),
                "ledger holds {sum} {asset} with no balance"
            );
        }
    }
}

/// Instantiates the Store suite for one backend: `store_conformance!(name, factory_closure)`,
/// where the closure returns a future of a fresh `Arc<dyn Store>`.
#[macro_export]
macro_rules! store_conformance {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::__trials!($crate::store_suite, $crate::store_suite::factory($factory);
                users_round_trip_and_emails_are_unique,
                bad_input_is_refused_by_field_and_changes_nothing,
                wallets_need_a_user_and_a_free_address,
                onboarding_moves_only_through_valid_transitions,
                recording_a_deposit_is_idempotent,
                confirming_credits_once_with_ledger_and_audit,
                concurrent_confirms_credit_exactly_once,
                debits_never_overdraw_and_are_idempotent,
                amounts_are_exact,
                listings_filter_and_count,
                keyset_scan_is_stable_while_rows_arrive,
                bulk_records_report_per_item_in_input_order,
            );
        }
    };
}
