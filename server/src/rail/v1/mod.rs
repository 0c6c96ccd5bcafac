//! Version 1 of the rail API: numbered pages, amounts as decimal strings with a separate
//! `asset`, times as Unix seconds.

pub mod deposits;
pub mod flows;
pub mod money;
pub mod users;
pub mod wire;

use super::service::Rail;

/// The description of the v1 document.
pub const DESCRIPTION: &str = "The STACK rail, version 1. Lists are paged by number \
     (`page` from 1, `limit` 1 to 100, default 20) with `total_items`, `total_pages`, \
     `has_next` and `has_prev`. Amounts are exact decimal strings (`\"12.5\"`, never JSON \
     numbers) beside an `asset` field; times are Unix seconds. Errors are RFC 9457 \
     problem+json; a 422 lists every bad field with a JSON Pointer.";

/// Every v1 resource over `rail`.
pub fn apis(rail: &Rail) -> (users::Users, deposits::Deposits, money::Money, flows::Flows) {
    (
        users::Users::new(rail.clone()),
        deposits::Deposits::new(rail.clone()),
        money::Money::new(rail.clone()),
        flows::Flows::new(rail.clone()),
    )
}
