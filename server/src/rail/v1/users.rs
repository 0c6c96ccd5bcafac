//! v1 users and their wallets.

use poem::http::StatusCode;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use stack_core::store::UserFilter;
use uuid::Uuid;

use super::wire::{User, Wallet};
use crate::http::api_error::{ApiResult, pointer};
use crate::rail::Tag;
use crate::rail::bulk::{self, BulkAnswer};
use crate::rail::field::Checks;
use crate::rail::input::{CreateUser, CreateWallet};
use crate::rail::pages::{Paged, bulk_cap, page_request, unix_time};
use crate::rail::service::Rail;
use crate::rail::states::UserStatus;

/// A user was created.
#[derive(Debug, ApiResponse)]
pub enum UserCreated {
    /// The new user.
    #[oai(status = 201)]
    Created(Json<User>),
}

/// A wallet was created.
#[derive(Debug, ApiResponse)]
pub enum WalletCreated {
    /// The new wallet.
    #[oai(status = 201)]
    Created(Json<Wallet>),
}

/// v1 users.
#[derive(Debug, Clone)]
pub struct Users {
    rail: Rail,
}

impl Users {
    /// The resource over `rail`.
    pub fn new(rail: Rail) -> Self {
        Self { rail }
    }
}

#[OpenApi]
impl Users {
    /// Create a user.
    #[oai(
        path = "/users",
        method = "post",
        operation_id = "createUser",
        tag = "Tag::Users"
    )]
    async fn create(&self, body: Json<CreateUser>) -> ApiResult<UserCreated> {
        let mut checks = Checks::new();
        let user = body.0.check(&mut checks);
        let user = checks.finish(user)?;
        let user = self.rail.create_user(user).await?;
        Ok(UserCreated::Created(Json(user.into())))
    }

    /// Create up to 500 users; each item is answered apart, in input order.
    ///
    /// A value not of its documented type in any item (a number for a string, a malformed
    /// UUID, a missing field) refuses the whole request with 422 naming `/{index}/{field}`;
    /// a well-typed value its check refuses is answered in the item's entry.
    #[oai(
        path = "/users/bulk",
        method = "post",
        operation_id = "createUsers",
        tag = "Tag::Users"
    )]
    async fn create_many(&self, body: Json<Vec<CreateUser>>) -> ApiResult<Json<BulkAnswer>> {
        bulk_cap(body.0.len())?;
        let checked = bulk::check_items(body.0, |item, checks| item.check(checks))?;
        let answer = bulk::run(checked, StatusCode::CREATED, pointer, |users| {
            self.rail.create_users(users)
        })
        .await?;
        Ok(Json(answer))
    }

    /// List users, newest first.
    #[oai(
        path = "/users",
        method = "get",
        operation_id = "listUsers",
        tag = "Tag::Users"
    )]
    async fn list(
        &self,
        /// Page number, from 1.
        #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
        page: Query<Option<u32>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// Only users in this state.
        status: Query<Option<UserStatus>>,
        /// Only users created at or after this time (Unix seconds).
        #[oai(validator(minimum(value = "-62135596800"), maximum(value = "253402300799")))]
        created_from: Query<Option<i64>>,
        /// Only users created before this time (Unix seconds).
        #[oai(validator(minimum(value = "-62135596800"), maximum(value = "253402300799")))]
        created_to: Query<Option<i64>>,
    ) -> ApiResult<Json<Paged<User>>> {
        let request = page_request(page.0, limit.0)?;
        let filter = UserFilter {
            status: status.0.map(Into::into),
            created_from: unix_time("created_from", created_from.0)?,
            created_to: unix_time("created_to", created_to.0)?,
        };
        let page = self.rail.users(&filter, request).await?;
        Ok(Json(Paged::of(page, User::from)))
    }

    /// Get a user.
    #[oai(
        path = "/users/:id",
        method = "get",
        operation_id = "getUser",
        tag = "Tag::Users"
    )]
    async fn get(&self, id: Path<Uuid>) -> ApiResult<Json<User>> {
        Ok(Json(self.rail.user(id.0).await?.into()))
    }

    /// Create a deposit address for a user.
    #[oai(
        path = "/users/:id/wallets",
        method = "post",
        operation_id = "createWallet",
        tag = "Tag::Wallets"
    )]
    async fn create_wallet(
        &self,
        id: Path<Uuid>,
        body: Json<CreateWallet>,
    ) -> ApiResult<WalletCreated> {
        let mut checks = Checks::new();
        let wallet = body.0.check(id.0, &mut checks);
        let wallet = checks.finish(wallet)?;
        let wallet = self.rail.create_wallet(wallet).await?;
        Ok(WalletCreated::Created(Json(wallet.into())))
    }

    /// List a user's wallets, newest first.
    #[oai(
        path = "/users/:id/wallets",
        method = "get",
        operation_id = "listWallets",
        tag = "Tag::Wallets"
    )]
    async fn wallets(
        &self,
        id: Path<Uuid>,
        /// Page number, from 1.
        #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
        page: Query<Option<u32>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Paged<Wallet>>> {
        let request = page_request(page.0, limit.0)?;
        let page = self.rail.wallets(id.0, request).await?;
        Ok(Json(Paged::of(page, Wallet::from)))
    }
}
