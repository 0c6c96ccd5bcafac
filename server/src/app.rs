//! The HTTP application: routes, documentation and error rendering in one place.

use poem::middleware::Tracing;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::OpenApiService;
use stack_core::config::{ApiConfig, Config};
use stack_core::version::ResolverChain;

use crate::admin;
use crate::api::health::HealthApi;
use crate::backends::Backends;
use crate::http::guards::{Guards, RouteTable};
use crate::http::problem;

/// Builds the app over `backends`: the probes, `/openapi.json`, Swagger UI at `/docs`, the
/// admin API under `/admin` when `api.admin_token` is set, the request guards (undecodable
/// paths, `Allow` on 405, API version negotiation per `api`), request tracing, and
/// problem+json for every error.
///
/// # Errors
/// When `api` names no supported version or a default outside them.
pub fn build(backends: Backends, api: &ApiConfig) -> stack_core::Result<impl Endpoint + use<>> {
    let backends_for_rail = backends.clone();
    // The admin API, only when a token is configured: without one, `/admin` is not mounted.
    let admin = api
        .admin_token
        .as_deref()
        .map(|token| (admin::service(&backends), token));
    let service = OpenApiService::new(HealthApi::new(backends), "STACK", env!("CARGO_PKG_VERSION"))
        .description(
            "STACK reference service. Today: health probes. The rail API (v1, v2) will be added here.",
        );
    let mut routes = RouteTable::from_openapi(&service.spec())
        .get("/openapi.json")
        .get_under("/docs");
    let mut route = Route::new();
    if let Some((admin, token)) = admin {
        routes = routes
            .openapi_at("/admin", &admin.spec())
            .get("/admin/openapi.json");
        route = route.nest("/admin", admin::routes(admin, token));
    }
    let versions = ResolverChain::standard(api.supported_versions.clone(), api.default_version)?;
    let guards = Guards::new(routes, versions);
    // The rail reads only the `api` section of the configuration.
    let rail = crate::rail::api(
        &backends_for_rail,
        &Config {
            api: api.clone(),
            ..Config::default()
        },
    );
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Ok(route
        .nest("/", service)
        .nest("/api", rail)
        .at("/openapi.json", get(spec))
        .nest("/docs", docs)
        .around(move |next, req| {
            let guards = guards.clone();
            async move { guards.call(&next, req).await }
        })
        .with(Tracing)
        .catch_all_error(problem::render)
        .into_endpoint())
}
