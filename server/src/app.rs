//! The HTTP application: routes, documentation and error rendering in one place.

use poem::middleware::Tracing;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Route};
use poem_openapi::OpenApiService;

use crate::api::health::HealthApi;
use crate::backends::Backends;
use crate::http::problem;

/// Builds the app over `backends`: the probes, `/openapi.json`, Swagger UI at `/docs`, request
/// tracing, and problem+json for every error.
pub fn build(backends: Backends) -> impl Endpoint {
    let api = OpenApiService::new(HealthApi::new(backends), "STACK", env!("CARGO_PKG_VERSION"))
        .description(
            "STACK reference service. Today: health probes. The rail API (v1, v2) will be added here.",
        );
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    Route::new()
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .with(Tracing)
        .catch_all_error(problem::render)
        .into_endpoint()
}
