//! v1 deposits: record (idempotent), list, read, confirm; in bulk too.

use poem::http::StatusCode;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use stack_core::store::{DepositFilter, Recorded};
use uuid::Uuid;

use super::wire::{CreateDeposit, Deposit};
use crate::http::api_error::{ApiResult, pointer};
use crate::rail::Tag;
use crate::rail::bulk::{self, BulkAnswer};
use crate::rail::field::Checks;
use crate::rail::pages::{Paged, bulk_cap, page_request, unix_time};
use crate::rail::service::Rail;
use crate::rail::states::DepositStatus;

/// A deposit was recorded, or had been.
#[derive(Debug, ApiResponse)]
pub enum DepositRecorded {
    /// The deposit is new.
    #[oai(status = 201)]
    Created(Json<Deposit>),
    /// This (chain, tx_hash, output_index) was recorded before: the first deposit, unchanged.
    #[oai(status = 200)]
    Existing(Json<Deposit>),
}

/// v1 deposits.
#[derive(Debug, Clone)]
pub struct Deposits {
    rail: Rail,
}

impl Deposits {
    /// The resource over `rail`.
    pub fn new(rail: Rail) -> Self {
        Self { rail }
    }
}

#[OpenApi(tag = "Tag::Deposits")]
impl Deposits {
    /// Record a deposit seen on a chain; recording the same (chain, tx_hash,
    /// output_index) again answers 200 with the first deposit.
    #[oai(path = "/deposits", method = "post", operation_id = "recordDeposit")]
    async fn record(&self, body: Json<CreateDeposit>) -> ApiResult<DepositRecorded> {
        let mut checks = Checks::new();
        let deposit = body.0.check(&mut checks);
        let deposit = checks.finish(deposit)?;
        Ok(match self.rail.record_deposit(deposit).await? {
            Recorded::Created(d) => DepositRecorded::Created(Json(d.into())),
            Recorded::Existing(d) => DepositRecorded::Existing(Json(d.into())),
        })
    }

    /// Record up to 500 deposits; each item is answered apart, in input order (200 with
    /// the id of the new or already recorded deposit).
    ///
    /// A value not of its documented type in any item (a number for a string, a malformed
    /// UUID, a missing field) refuses the whole request with 422 naming `/{index}/{field}`;
    /// a well-typed value its check refuses is answered in the item's entry.
    #[oai(
        path = "/deposits/bulk",
        method = "post",
        operation_id = "recordDeposits"
    )]
    async fn record_many(&self, body: Json<Vec<CreateDeposit>>) -> ApiResult<Json<BulkAnswer>> {
        bulk_cap(body.0.len())?;
        let checked = bulk::check_items(body.0, |item, checks| item.check(checks))?;
        let answer = bulk::run(checked, StatusCode::OK, pointer, |deposits| {
            self.rail.record_deposits(deposits)
        })
        .await?;
        Ok(Json(answer))
    }

    /// List deposits, newest first.
    #[oai(path = "/deposits", method = "get", operation_id = "listDeposits")]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per documented parameter"
    )]
    async fn list(
        &self,
        /// Page number, from 1.
        #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
        page: Query<Option<u32>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// Only this user's deposits.
        user_id: Query<Option<Uuid>>,
        /// Only deposits in this state.
        status: Query<Option<DepositStatus>>,
        /// Only deposits on this chain.
        #[oai(validator(min_length = 1, max_length = 32))]
        chain: Query<Option<String>>,
        /// Only deposits recorded at or after this time (Unix seconds).
        #[oai(validator(minimum(value = "-62135596800"), maximum(value = "253402300799")))]
        created_from: Query<Option<i64>>,
        /// Only deposits recorded before this time (Unix seconds).
        #[oai(validator(minimum(value = "-62135596800"), maximum(value = "253402300799")))]
        created_to: Query<Option<i64>>,
    ) -> ApiResult<Json<Paged<Deposit>>> {
        let request = page_request(page.0, limit.0)?;
        let filter = DepositFilter {
            user_id: user_id.0,
            status: status.0.map(Into::into),
            chain: chain.0,
            created_from: unix_time("created_from", created_from.0)?,
            created_to: unix_time("created_to", created_to.0)?,
        };
        let page = self.rail.deposits(&filter, request).await?;
        Ok(Json(Paged::of(page, Deposit::from)))
    }

    /// Get a deposit.
    #[oai(path = "/deposits/:id", method = "get", operation_id = "getDeposit")]
    async fn get(&self, id: Path<Uuid>) -> ApiResult<Json<Deposit>> {
        Ok(Json(self.rail.deposit(id.0).await?.into()))
    }

    /// Confirm a pending deposit: credits the user's balance once (a confirmed deposit is
    /// answered as it is and credited nothing), then enqueues the owner's notification.
    #[oai(
        path = "/deposits/:id/confirm",
        method = "post",
        operation_id = "confirmDeposit"
    )]
    async fn confirm(&self, id: Path<Uuid>) -> ApiResult<Json<Deposit>> {
        Ok(Json(self.rail.confirm_deposit(id.0).await?.into()))
    }
}
