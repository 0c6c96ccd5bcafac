//! v2 balances, debits and the ledger of a user.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use stack_core::store::EntryFilter;
use uuid::Uuid;

use super::wire::{self, Balance, CreateDebit, Transaction};
use crate::http::api_error::ApiResult;
use crate::rail::Tag;
use crate::rail::field::Checks;
use crate::rail::pages::{Sliced, cursor_request};
use crate::rail::service::Rail;
use crate::rail::states::EntryKind;

/// A debit was taken.
#[derive(Debug, ApiResponse)]
pub enum Debited {
    /// The debit's ledger entry (the first one, when the reference was used before).
    #[oai(status = 201)]
    Created(Json<Transaction>),
}

/// v2 money.
#[derive(Debug, Clone)]
pub struct Money {
    rail: Rail,
}

impl Money {
    /// The resource over `rail`.
    pub fn new(rail: Rail) -> Self {
        Self { rail }
    }
}

#[OpenApi(tag = "Tag::Money")]
impl Money {
    /// A user's balances, one per asset held.
    #[oai(
        path = "/users/:id/balances",
        method = "get",
        operation_id = "listBalances"
    )]
    async fn balances(&self, id: Path<Uuid>) -> ApiResult<Json<Vec<Balance>>> {
        let balances = self.rail.balances(id.0).await?;
        Ok(Json(balances.into_iter().map(Balance::from).collect()))
    }

    /// Take money out of a user's balance. A debit larger than the balance is 422 on
    /// `/amount` and changes nothing; a reference used before returns the first debit.
    #[oai(
        path = "/users/:id/debits",
        method = "post",
        operation_id = "createDebit"
    )]
    async fn debit(&self, id: Path<Uuid>, body: Json<CreateDebit>) -> ApiResult<Debited> {
        let mut checks = Checks::new();
        let debit = body.0.check(id.0, &mut checks);
        let debit = checks.finish(debit)?;
        let entry = self.rail.debit(debit).await.map_err(wire::refused)?;
        Ok(Debited::Created(Json(entry.into())))
    }

    /// A user's ledger transactions, newest first, by keyset cursor.
    #[oai(
        path = "/users/:id/transactions",
        method = "get",
        operation_id = "listTransactions"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per documented parameter"
    )]
    async fn transactions(
        &self,
        id: Path<Uuid>,
        /// The `next_cursor` of the previous slice; absent for the newest.
        #[oai(validator(max_length = 64, pattern = r"^-?[0-9]{1,17}\.[0-9a-f]{32}$"))]
        cursor: Query<Option<String>>,
        /// Slice size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// Only credits or only debits.
        kind: Query<Option<EntryKind>>,
        /// Only this asset.
        #[oai(validator(min_length = 1, max_length = 12))]
        asset: Query<Option<String>>,
        /// Only entries written at or after this time (RFC 3339).
        created_from: Query<Option<DateTime<Utc>>>,
        /// Only entries written before this time (RFC 3339).
        created_to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<Sliced<Transaction>>> {
        let request = cursor_request(cursor.0.as_deref(), limit.0)?;
        let filter = EntryFilter {
            user_id: Some(id.0),
            kind: kind.0.map(Into::into),
            asset: asset.0,
            created_from: created_from.0,
            created_to: created_to.0,
        };
        let slice = self.rail.scan_entries(&filter, request).await?;
        Ok(Json(Sliced::of(slice, request, Transaction::from)))
    }
}
