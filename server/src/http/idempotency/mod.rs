//! `Idempotency-Key` for POST endpoints (the IETF httpapi idempotency-key draft, and
//! Stripe's behaviour), as a poem middleware that wraps any endpoint:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use poem::{EndpointExt, Route, handler, post};
//! # use stack_server::http::idempotency::{Idempotency, IdempotencyOptions};
//! # fn wire(database: stack_backends::sql::SqlStore, config: &stack_core::config::Config) {
//! #[handler]
//! fn create() -> &'static str { "created" }
//! let options = IdempotencyOptions::from_config(&config.api, 1024 * 1024);
//! // The keys live in the SQL database (`Backends::database`).
//! let app = Route::new().at("/things", post(create))
//!     .with(Idempotency::new(Arc::new(database), options));
//! # }
//! ```
//!
//! - A POST without the header passes through untouched; other methods always do.
//! - A POST with `Idempotency-Key: <1-255 visible ASCII characters>` claims the key, runs,
//!   and its response (status, content type, body, byte for byte) is stored; a retry with
//!   the same key replays it with `Idempotent-Replayed: true`, and the handler does not run.
//! - The same key with a different method, path and query, API version or body (SHA-256 of
//!   the bytes): 422. A retry while the first still runs: 409 with `Retry-After`. The claim
//!   is leased (`api.idempotency_lock`); once the lease lapses (the first process died) a
//!   retry takes the key over and runs. A malformed key: 400.
//! - What is stored, and what frees the key instead: see [`stored`](self::stored)'s rule.
//! - The body is buffered up to `max_body` bytes actually read (a chunked body too); more is
//!   413 and claims nothing.
//! - Keys expire `api.idempotency_ttl` after their first use; an expired key is free again,
//!   and [`purge_every`] deletes expired records in bounded batches.
//!
//! - With a [`TransactionSource`] ([`Idempotency::with_units`]), the handler runs inside a
//!   [`stack_core::unit`]: its Store writes, a SQL queue's jobs and the stored response
//!   commit in one transaction. A crash before that commit leaves nothing written and the
//!   key running until its lease lapses; a retry then runs the handler as if for the first
//!   time. A request whose lease lapsed and whose key another request took over cannot
//!   store its response: its whole unit rolls back (409), and the other request's run is the
//!   only one. A response that is not stored (see [`stored`](self::stored)) rolls back
//!   everything its handler wrote.
//! - Without one, the response is stored after the handler's own transactions commit; a
//!   crash between the two re-runs the handler on a retry (safe for writes that are
//!   idempotent by themselves).

mod purge;
mod request;
mod settle;
mod stored;

use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use stack_core::config::ApiConfig;
use stack_core::idempotency::{Begun, IdempotencyKey, IdempotencyStore, RequestFingerprint};
use stack_core::unit::{TransactionSource, Unit};

pub use purge::{PURGE_BATCH, purge_every, purge_expired};
pub use request::AppTarget;
pub use stored::{NotStored, REPLAYED_HEADER, mark_refused, not_stored};

use super::api_error::ApiError;
use super::problem::Problem;
use request::{fingerprint, key_of};
use settle::{Held, abandon, commit_with, end};

/// The request header carrying the key.
pub const KEY_HEADER: &str = "idempotency-key";

/// How the wrapper holds keys and bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyOptions {
    /// How long a running request holds its key (`api.idempotency_lock`).
    pub lease: Duration,
    /// How long a key is remembered after its first use (`api.idempotency_ttl`).
    pub ttl: Duration,
    /// The most body bytes buffered; a larger body is 413.
    pub max_body: usize,
}

impl IdempotencyOptions {
    /// The options of `api`, with the API's body limit `max_body`.
    pub fn from_config(api: &ApiConfig, max_body: usize) -> Self {
        Self {
            lease: api.idempotency_lock,
            ttl: api.idempotency_ttl,
            max_body,
        }
    }
}

/// The middleware: see the module documentation.
#[derive(Debug, Clone)]
pub struct Idempotency {
    store: Arc<dyn IdempotencyStore>,
    options: IdempotencyOptions,
    units: Option<Arc<dyn TransactionSource>>,
}

impl Idempotency {
    /// Keys kept in `store`, with `options`.
    pub fn new(store: Arc<dyn IdempotencyStore>, options: IdempotencyOptions) -> Self {
        Self {
            store,
            options,
            units: None,
        }
    }

    /// Runs each keyed request in a unit of work of `units` (the database `store` keeps its
    /// records in), so that its writes and its stored response commit together.
    #[must_use]
    pub fn with_units(mut self, units: Arc<dyn TransactionSource>) -> Self {
        self.units = Some(units);
        self
    }
}

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        IdempotencyEndpoint {
            inner,
            wrapper: self.clone(),
        }
    }
}

/// An endpoint wrapped by [`Idempotency`].
#[derive(Debug)]
pub struct IdempotencyEndpoint<E> {
    inner: E,
    wrapper: Idempotency,
}

fn refuse(status: StatusCode, detail: impl Into<String>) -> Response {
    Problem::new(status, Some(detail.into())).into_response()
}

fn in_flight(retry_after: Duration) -> Response {
    let seconds = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
    let mut response = refuse(
        StatusCode::CONFLICT,
        "a request with this Idempotency-Key is still running; retry after it finishes",
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn mismatch(first: &RequestFingerprint, now: &RequestFingerprint) -> Response {
    let what = if first.method != now.method || first.target != now.target {
        format!(
            "it was first used for {} {}, and this is {} {}",
            first.method, first.target, now.method, now.target
        )
    } else {
        "it was first used with a different body".to_owned()
    };
    refuse(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("this Idempotency-Key belongs to another request: {what}; use a new key"),
    )
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        if req.method() != Method::POST {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let key = match key_of(&req) {
            Ok(Some(key)) => key,
            Ok(None) => return self.inner.call(req).await.map(IntoResponse::into_response),
            Err(detail) => return Ok(refuse(StatusCode::BAD_REQUEST, detail)),
        };
        // Boxed: the keyed path's state is large, and every request's future (a GET's too)
        // would otherwise be as large as it.
        Box::pin(self.keyed(req, key)).await
    }
}

impl<E: Endpoint> IdempotencyEndpoint<E> {
    /// A POST with a key: claim, run (in a unit when there is a source), store, answer.
    async fn keyed(&self, mut req: Request, key: IdempotencyKey) -> Result<Response> {
        let options = &self.wrapper.options;
        let body = match req.take_body().into_bytes_limit(options.max_body).await {
            Ok(body) => body,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                let detail = format!("the body is larger than {} bytes", options.max_body);
                return Ok(ApiError::too_large(detail).into_response());
            }
            Err(error) => {
                let detail = format!("the body could not be read: {error}");
                return Ok(refuse(StatusCode::BAD_REQUEST, detail));
            }
        };
        let request = fingerprint(&req, &body);
        let store = &self.wrapper.store;
        let begun = store
            .begin(&key, &request, options.lease, options.ttl)
            .await;
        let claim = match begun {
            Ok(Begun::Claimed(claim)) => claim,
            Ok(Begun::Replay(stored)) => return Ok(stored::replay(stored)),
            Ok(Begun::InFlight { retry_after }) => return Ok(in_flight(retry_after)),
            Ok(Begun::Mismatch { first }) => return Ok(mismatch(&first, &request)),
            Err(error) => return Ok(ApiError::from(error).into_response()),
        };
        let held = Held::new(Arc::clone(store), claim);
        let unit = match &self.wrapper.units {
            Some(units) => match Unit::begin(units.as_ref()).await {
                Ok(unit) => Some(unit),
                Err(error) => {
                    abandon(store.as_ref(), &held.settle()).await;
                    return Ok(ApiError::from(error).into_response());
                }
            },
            None => None,
        };
        req.set_body(body);
        let call = stored::watch_refusal(self.inner.call(req));
        let (result, refused) = match &unit {
            Some(unit) => unit.run(call).await,
            None => call.await,
        };
        let (response, keep) = stored::classify(result.map(IntoResponse::into_response));
        let claim = held.settle();
        let (parts, body) = response.into_parts();
        let body = match body.into_vec().await {
            Ok(body) if keep && !refused => body,
            Ok(body) => {
                end(unit, &claim, store.as_ref()).await;
                return Ok(Response::from_parts(parts, body.into()));
            }
            Err(error) => {
                end(unit, &claim, store.as_ref()).await;
                return Ok(ApiError::internal(&error).into_response());
            }
        };
        let response = Response::from_parts(parts, body.clone().into());
        let stored = stored::parts(&response, body);
        match unit {
            Some(unit) if unit.rollback_only() => {
                // A block of the handler failed after writing: nothing of it may commit, so
                // its answer is not stored either.
                end(Some(unit), &claim, store.as_ref()).await;
            }
            Some(unit) => {
                if let Err(error) = commit_with(unit, &claim, &stored, store.as_ref()).await {
                    return Ok(ApiError::from(error).into_response());
                }
            }
            None => {
                if let Err(error) = store.finish(&claim, &stored).await {
                    // The client still gets its answer; a retry re-runs the handler once
                    // the lease lapses.
                    tracing::warn!(%error, key = %claim.key, "storing an idempotent response failed");
                }
            }
        }
        Ok(response)
    }
}
