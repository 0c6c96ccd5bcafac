//! Version 2 of the rail API: keyset cursors on the growing listings, amounts as
//! `{amount, asset}` objects, RFC 3339 times.

pub mod deposits;
pub mod flows;
pub mod money;
pub mod users;
pub mod wire;

use super::service::Rail;

/// The description of the v2 document.
pub const DESCRIPTION: &str = "The STACK rail, version 2. The growing lists (users, \
     deposits, transactions, audit logs) are sliced by keyset cursor: pass a slice's \
     `next_cursor` as `cursor` for the next one (`limit` 1 to 100, default 20); a user's \
     wallets are paged by number. Amounts are objects `{\"amount\": \"12.5\", \"asset\": \
     \"USDC\"}` whose amount is an exact decimal string; times are RFC 3339. Errors are \
     RFC 9457 problem+json; a 422 lists every bad field with a JSON Pointer.";

/// Every v2 resource over `rail`.
pub fn apis(rail: &Rail) -> (users::Users, deposits::Deposits, money::Money, flows::Flows) {
    (
        users::Users::new(rail.clone()),
        deposits::Deposits::new(rail.clone()),
        money::Money::new(rail.clone()),
        flows::Flows::new(rail.clone()),
    )
}
