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
pub use parts::{NestedDocument, Parts, assemble};

/// STACK's own prefixes inside the app, which a host API may not take.
const RESERVED: [&str; 5] = ["/api", "/admin", "/docs", "/health", "/metrics"];

/// Builds the app over `backends`: the rail API under `/api` (each version's document at
/// `/api/vN/openapi.json`; only when `backends` have an SQL database), the probes and their
/// document at `/openapi.json`, the admin API under `/admin` when `api.admin_token` is set,
/// Swagger UI at `/docs` listing every document, the request guards (undecodable paths, API
/// version negotiation and deprecation notices per `api`, `Allow` on 405), request tracing
/// and metrics (`stack_http_request_seconds`), and problem+json for every error. The same as [`build_with`] and the default options.
///
/// # Errors
/// When `api` names no supported version or a default outside them.
pub fn build(backends: Backends, api: &ApiConfig) -> stack_core::Result<impl Endpoint + use<>> {
    build_with(backends, api, AppOptions::default())
}

/// As [`build`], shaped by `options`: every document's `servers` names the prefix the host
/// nests the app at, the root document (the probes) has the host's title and version, the
/// host's APIs are served, listed on `/docs` and guarded like STACK's, and `/metrics` is
/// served when a recorder's handle is given.
///
/// # Errors
/// As [`build`]; `Invalid` for a host API at an empty prefix or at one of STACK's (`/api`,
/// `/admin`, `/docs`, `/health`, `/metrics`), or two at the same prefix.
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
        metrics,
    } = options;
    check_prefixes(apis.iter().map(|(mount, _)| mount.as_str()))?;
    let mut parts = Parts::new();
    parts = rail(parts, &backends, api, &prefix)?;
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
    for (_, add) in apis {
        parts = add(parts, &prefix);
    }
    if let Some(handle) = metrics {
        parts = parts.at("/metrics", crate::metrics::endpoint(handle));
    }
    assemble(parts, api)
}

/// `parts` with the rail API under `/api` when `backends` have an SQL database (it keeps its
/// transactions and idempotency keys there); without one, `parts` as they are.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn rail(
    parts: Parts,
    backends: &Backends,
    api: &ApiConfig,
    prefix: &str,
) -> stack_core::Result<Parts> {
    if backends.database.is_none() {
        tracing::info!("the backends have no SQL database: the rail API is not mounted");
        return Ok(parts);
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

/// A build without an SQL backend has no rail API.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn rail(
    parts: Parts,
    _backends: &Backends,
    _api: &ApiConfig,
    _prefix: &str,
) -> stack_core::Result<Parts> {
    Ok(parts)
}

/// Refuses a host API's prefix that is empty, STACK's own, or taken twice.
fn check_prefixes<'a>(prefixes: impl Iterator<Item = &'a str>) -> stack_core::Result<()> {
    let mut seen = Vec::new();
    for prefix in prefixes {
        let reserved = RESERVED
            .iter()
            .any(|r| prefix == *r || prefix.starts_with(&format!("{r}/")));
        if prefix.is_empty() || !prefix.starts_with('/') || reserved || seen.contains(&prefix) {
            return Err(stack_core::Error::invalid(
                "app.apis",
                format!(
                    "a host API's prefix must start with `/`, be unique and be none of {RESERVED:?}; got {prefix:?}"
                ),
            ));
        }
        seen.push(prefix);
    }
    Ok(())
}
