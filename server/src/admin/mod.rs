//! The admin API, served under `/admin` with its own OpenAPI document at
//! `/admin/openapi.json`, behind a bearer token (`api.admin_token`; `null` mounts nothing, so
//! every `/admin` route answers 404). See [`auth`] for the token's rules.
//!
//! - [`queue`]: queue stats, the dead-letter queue (list, replay one, replay by type, purge
//!   with an explicit confirmation), and dropping the whole queue (confirmed, refused while a
//!   job runs unless forced); each replay, purge and drop writes an operator audit log;
//! - [`schedules`]: cron schedules with their next and last fire, and "trigger now";
//! - [`cache`]: invalidation by keys, by pattern, and by user (the user's generation);
//! - [`diagnostics`]: the slow-query log, `EXPLAIN` of the Store's named list queries, and
//!   the pool, circuit breaker and replicas;
//! - [`dashboard`]: the job dashboard at `/admin/dashboard`, a page over these operations
//!   (the page and its assets carry no data and are served without the token; every call it
//!   makes sends it).
//!
//! Every action that changes something writes a `tracing` info line naming the action (never
//! the token).

pub mod auth;
pub mod cache;
pub mod dashboard;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod diagnostics;
pub mod queue;
pub mod schedules;

use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::{OpenApiService, Tags};
use stack_core::store::NewAuditLog;
use uuid::Uuid;

use crate::backends::Backends;
use crate::http::api_error::{ApiError, ApiResult};
use crate::http::problem::FieldError;
pub use auth::Gate;

/// The tags of the admin document.
#[derive(Tags)]
enum Tag {
    /// The job queue and its dead letters.
    Queue,
    /// Cron schedules.
    Schedules,
    /// Cache invalidation.
    Cache,
    /// Query diagnostics and the data path's status.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    Diagnostics,
}

/// Every admin operation, in one document.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub type AdminApis = (
    queue::QueueApi,
    schedules::SchedulesApi,
    cache::CacheApi,
    diagnostics::DiagnosticsApi,
);

/// Every admin operation, in one document (a build without an SQL backend has no query
/// diagnostics).
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
pub type AdminApis = (queue::QueueApi, schedules::SchedulesApi, cache::CacheApi);

/// The admin API over `backends`, nested at `/admin`: the OpenAPI service (for its document
/// and its paths).
pub fn service(backends: &Backends) -> OpenApiService<AdminApis, ()> {
    service_at(backends, "/admin")
}

/// As [`service`], for an app nested at `prefix` (the full path of the admin API from the
/// root, `/stack/admin`), which its document's server URL names.
pub fn service_at(backends: &Backends, prefix: &str) -> OpenApiService<AdminApis, ()> {
    let apis = (
        queue::QueueApi::new(backends.clone()),
        schedules::SchedulesApi::new(backends.clone()),
        cache::CacheApi::new(backends.clone()),
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        diagnostics::DiagnosticsApi::new(backends.clone()),
    );
    OpenApiService::new(apis, "STACK admin", env!("CARGO_PKG_VERSION"))
        .description(
            "Operating a STACK service: the job queue and its dead letters, cron schedules, \
             cache invalidation, query diagnostics and the data path's status. Every \
             operation needs `Authorization: Bearer <api.admin_token>`.",
        )
        .server(prefix.to_owned())
}

/// The routes of `service` to nest under `/admin`: its operations and `/openapi.json`, all
/// behind the gate of `token`, and the [`dashboard`]'s static page and assets, whose data
/// comes from those operations.
pub fn routes(service: OpenApiService<AdminApis, ()>, token: &str) -> impl Endpoint + use<> {
    let gate = Gate::new(token);
    let spec = service.spec_endpoint();
    let checker = gate.clone();
    let gated = Route::new()
        .at("/openapi.json", get(spec))
        .nest("/", service)
        .around(move |next, req| {
            let gate = checker.clone();
            async move { gate.call(&next, req).await }
        })
        .data(gate);
    dashboard::mount(Route::new()).nest("/", gated)
}

/// What is wrong with query parameter `name`.
fn bad_query(name: &str, detail: impl Into<String>) -> FieldError {
    FieldError {
        pointer: format!("#/query/{name}"),
        detail: detail.into(),
    }
}

/// 422 for one bad field.
fn invalid(field: FieldError) -> ApiError {
    ApiError::invalid(vec![field])
}

/// A library error about query parameter `name` (its `Invalid` pointing at the parameter).
fn query_error(name: &str, error: stack_core::Error) -> ApiError {
    match error {
        stack_core::Error::Invalid { reason, .. } => invalid(bad_query(name, reason)),
        other => other.into(),
    }
}

/// Writes the audit log of an operator's `action` on `subject`; answers its id.
async fn audit(
    backends: &Backends,
    action: &str,
    subject_id: Uuid,
    detail: serde_json::Value,
) -> ApiResult<Uuid> {
    let entry = NewAuditLog {
        user_id: None,
        action: action.to_owned(),
        subject_id,
        detail,
    };
    match backends.store.record_audit_log(entry).await {
        Ok(written) => Ok(written.id),
        Err(error) => {
            // The action itself is done; say so where an operator will look.
            tracing::error!(action, %subject_id, %error, "admin action done but its audit log was not written");
            Err(error.into())
        }
    }
}
