//! The [`Store`] conformance suite: users, wallets, onboarding, deposits, the ledger and
//! the audit trail, with the money invariants checked after every trial that moves money.
//! Each trial gets a database of its own from the factory.

mod identity;
mod invariant;
mod ledger;
mod listing;
mod people;

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use futures::future::BoxFuture;
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;
use stack_core::store::{NewDeposit, NewUser, Store, User};
use uuid::Uuid;

pub use identity::*;
pub use invariant::assert_ledger_matches;
pub use ledger::*;
pub use listing::*;
pub use people::*;

/// A Store under trial and the database behind it, which the money invariant reads
/// directly. Derefs to the Store.
#[derive(Clone)]
pub struct Subject {
    /// The Store the trials call.
    pub store: Arc<dyn Store>,
    /// Its database, for checks that must not go through the Store.
    pub db: DatabaseConnection,
}

impl Deref for Subject {
    type Target = Arc<dyn Store>;

    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

/// Builds a Store over a fresh, migrated, empty database.
pub type StoreFactory = Arc<dyn Fn() -> BoxFuture<'static, Subject> + Send + Sync>;

/// Wraps an async closure as a [`StoreFactory`].
pub fn factory<F, Fut>(f: F) -> StoreFactory
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Subject> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// An exact decimal from text (refuses text that would round).
pub fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
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
        tx_hash: format!("0x{}", Uuid::new_v4().simple()),
        output_index: 0,
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
                a_reused_debit_reference_with_other_details_conflicts,
                concurrent_debits_never_overdraw,
                one_transaction_paying_twice_is_two_deposits,
                hashes_are_normalized_per_chain,
                listings_filter_and_count,
                keyset_scan_is_stable_while_rows_arrive,
                users_entries_and_audit_logs_scan_by_cursor,
                bulk_records_report_per_item_in_input_order,
                operator_actions_are_audited_without_a_user,
                time_filters_at_the_edges_of_the_calendar,
            );
        }
    };
}
