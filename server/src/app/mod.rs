//! The HTTP application: routes, documentation and error rendering in one place.
//!
//! [`build`] is the app of the `stack` binary; [`build_with`] is the same app shaped by a
//! host ([`AppOptions`]: where it is nested, the title and version of its document, the
//! host's own APIs beside STACK's).
//!
//! # Errors a host renders
//! The app answers every error of its own as RFC 9457 problem+json. Routes of the host
//! outside it (its 404s, its own handlers' errors) are the host's: to give them the same
//! shape, end the host's route with [`problem::render`] as its fallback,
//! `Route::new().nest("/stack", app).at(..).catch_all_error(problem::render)`.

mod options;
mod parts;

use poem::Endpoint;
use poem_openapi::OpenApiService;
use stack_core::config::ApiConfig;

use crate::api::health::HealthApi;
use crate::backends::Backends;
#[cfg(doc)]
use crate::http::problem;
pub use options::AppOptions;
use options::HostApi;
pub use parts::{NestedDocument, Parts, assemble};

/// STACK's own prefixes inside the app, which a host API may not take (nor a path under
/// them): its APIs, the docs, the probes, the metrics and the root document.
const RESERVED: [&str; 6] = [
    "/api",
    "/admin",
    "/docs",
    "/health",
    "/metrics",
    "/openapi.json",
];

/// Builds the app over `backends`: the rail API under `/api` (each version's document at
/// `/api/vN/openapi.json`; `backends` must have an SQL database), the probes and their
/// document at `/openapi.json`, the admin API under `/admin` when `api.admin_token` is set,
/// Swagger UI at `/docs` listing every document, the request guards (undecodable paths, API
/// version negotiation and deprecation notices per `api`, `Allow` on 405), request tracing
/// and metrics (`stack_http_request_seconds`), and problem+json for every error. The same as [`build_with`] and the default options.
///
/// # Errors
/// When `api` names no supported version or a default outside them; `Invalid` naming
/// `app.rail` when `backends` have no SQL database (see [`AppOptions::without_rail`]).
pub fn build(backends: Backends, api: &ApiConfig) -> stack_core::Result<impl Endpoint + use<>> {
    build_with(backends, api, AppOptions::default())
}

/// As [`build`], shaped by `options`: every document's `servers` names the prefix the host
/// nests the app at, the root document (the probes) has the host's title and version, the
/// host's APIs are served, listed on `/docs` and guarded like STACK's, and `/metrics` is
/// served when a recorder's handle is given.
///
/// # Errors
/// As [`build`] (the rail's only when the options want it); `Invalid` naming `app.apis` for
/// a host API whose routes would collide with STACK's or another host API's (see
/// [`AppOptions::api`]): refused here, where poem would panic.
pub fn build_with(
    backends: Backends,
    api: &ApiConfig,
    options: AppOptions,
) -> stack_core::Result<impl Endpoint + use<>> {
    let AppOptions {
        prefix,
        title,
        version,
        apis,
        rail: with_rail,
        metrics,
    } = options;
    let (hosts, adds): (Vec<HostApi>, Vec<_>) = apis.into_iter().unzip();
    check_host_apis(&hosts)?;
    let mut parts = Parts::new();
    if with_rail {
        parts = rail(parts, &backends, api, &prefix)?;
    }
    // The admin API, only when a token is configured: without one, `/admin` is not mounted.
    if let Some(token) = api.admin_token.as_deref() {
        let admin = crate::admin::service_at(&backends, &format!("{prefix}/admin"));
        let document = NestedDocument {
            name: "Admin".into(),
            base: String::new(),
            json: admin.spec(),
        };
        parts = parts.nest("/admin", crate::admin::routes(admin, token), &[document]);
    }
    let mut health = OpenApiService::new(HealthApi::new(backends), title, version)
        .description("STACK reference service: health probes.");
    if !prefix.is_empty() {
        health = health.server(prefix.clone());
    }
    parts = parts.api("", "Health", health);
    for add in adds {
        parts = add(parts, &prefix);
    }
    if let Some(handle) = metrics {
        parts = parts.at("/metrics", crate::metrics::endpoint(handle));
    }
    assemble(parts, api)
}

/// `parts` with the rail API under `/api`, over the SQL database of `backends` (it keeps its
/// transactions and idempotency keys there).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn rail(
    parts: Parts,
    backends: &Backends,
    api: &ApiConfig,
    prefix: &str,
) -> stack_core::Result<Parts> {
    if backends.database.is_none() {
        return Err(no_rail_database());
    }
    // The rail reads only the `api` section of the configuration.
    let config = stack_core::config::Config {
        api: api.clone(),
        ..stack_core::config::Config::default()
    };
    let rail = crate::rail::api_at(backends, &config, &format!("{prefix}/api"))?;
    let documents: Vec<NestedDocument> = rail
        .specs()
        .iter()
        .map(|spec| NestedDocument {
            name: format!("API {}", spec.version),
            base: spec.path.trim_end_matches("/openapi.json").to_owned(),
            json: spec.json.clone(),
        })
        .collect();
    Ok(parts.nest("/api", rail, &documents))
}

/// A build without an SQL backend has no rail API to mount.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn rail(
    _parts: Parts,
    _backends: &Backends,
    _api: &ApiConfig,
    _prefix: &str,
) -> stack_core::Result<Parts> {
    Err(no_rail_database())
}

/// The refusal of the rail API over backends without an SQL database.
fn no_rail_database() -> stack_core::Error {
    stack_core::Error::invalid(
        "app.rail",
        "the rail API needs an SQL database (Backends::open over sqlite or postgres, or the \
         builder's data_path or sql_store); build with AppOptions::without_rail() to serve \
         STACK without it",
    )
}

/// Refuses a host API that would take a route twice (poem panics on that): a prefix that is
/// empty, not plain segments, STACK's own or under it, or overlapping another host API's,
/// and an operation at `/openapi.json`, where the API's document is served.
fn check_host_apis(apis: &[HostApi]) -> stack_core::Result<()> {
    let under = |prefix: &str, of: &str| prefix == of || prefix.starts_with(&format!("{of}/"));
    let refuse = |prefix: &str, why: String| {
        Err(stack_core::Error::invalid(
            "app.apis",
            format!("host API at {prefix:?}: {why}"),
        ))
    };
    for (i, api) in apis.iter().enumerate() {
        let prefix = api.prefix.as_str();
        let plain = |segment: &str| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        };
        if !prefix
            .strip_prefix('/')
            .is_some_and(|rest| rest.split('/').all(plain))
        {
            return refuse(
                prefix,
                "a prefix is `/` and plain path segments (letters, digits, `-._~`)".into(),
            );
        }
        if let Some(own) = RESERVED.iter().find(|own| under(prefix, own)) {
            return refuse(
                prefix,
                format!("{own} is STACK's own (none of {RESERVED:?})"),
            );
        }
        if let Some(other) = apis[..i]
            .iter()
            .find(|other| under(prefix, &other.prefix) || under(&other.prefix, prefix))
        {
            return refuse(
                prefix,
                format!("it overlaps the host API at {:?}", other.prefix),
            );
        }
        if api.paths.iter().any(|path| path == "/openapi.json") {
            return refuse(
                prefix,
                "an operation at /openapi.json, where its document is served".into(),
            );
        }
    }
    Ok(())
}
