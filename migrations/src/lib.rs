//! Schema migrations for the STACK rail service.
//!
//! The rail schema (users, wallets, deposits, balances, ledger, onboarding, audit) and its
//! index migration arrive with the data layer, together with the first `Store`
//! implementation, so that the schema is proven by real SQL rather than guessed. Until then
//! this crate holds only the list of migrations, which is empty.

/// Names of the migrations this crate applies, in order. Empty until the data layer lands.
pub const MIGRATIONS: &[&str] = &[];
