//! The host's own part of the HTTP app: its settings (the `app:` section of the
//! configuration), its route, its auth in front of STACK, and how STACK is nested.

use std::sync::Arc;

use serde::Deserialize;
use stack_core::cache::Cache;
use stack_core::config::Config;
use stack_server::app::{self, AppOptions};
use stack_server::backends::Backends;
use stack_server::http::problem;
// poem's `#[handler]` names the crate `poem`: the re-export stands in for a dependency.
use stack_server::poem;
use stack_server::poem::http::StatusCode;
use stack_server::poem::web::{Data, Json};
use stack_server::poem::{Endpoint, EndpointExt, Error, Request, Route, handler};
// poem-openapi's macros name the crate `poem_openapi`: the same stand-in.
use stack_server::poem_openapi;
use stack_server::poem_openapi::payload::PlainText;
use stack_server::poem_openapi::{OpenApi, OpenApiService};

/// The host's own settings: the `app:` section of the configuration file
/// (`STACK__APP__TOKEN` and the like override them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostSettings {
    /// Where to listen, `127.0.0.1:3000` (the self-check takes a free port instead).
    pub(crate) listen: String,
    /// The bearer token the host wants in front of `/stack`.
    pub(crate) token: String,
    /// What `/hello` says.
    pub(crate) greeting: String,
}

/// What the host's own handlers share.
#[derive(Clone)]
struct HostState {
    greeting: Arc<str>,
    /// The same cache STACK's app uses (memory or Redis, by configuration).
    cache: Arc<dyn Cache>,
}

/// The key of `/hello`'s visit counter in the cache.
pub(crate) const VISITS: &str = "host:hello:visits";

/// The host's own page: its greeting and a visit counter kept in the cache.
#[handler]
async fn hello(state: Data<&HostState>) -> Result<Json<serde_json::Value>, Error> {
    let visits = state
        .cache
        .increment(VISITS, 1, None)
        .await
        .map_err(|_| Error::from_status(StatusCode::SERVICE_UNAVAILABLE))?;
    Ok(Json(serde_json::json!({
        "greeting": &*state.greeting,
        "visits": visits,
    })))
}

/// The host's own documented API: served inside STACK's app at `/stack/host`, its document
/// at `/stack/host/openapi.json`, listed on `/stack/docs` beside STACK's.
struct HostApi {
    greeting: Arc<str>,
}

#[OpenApi]
impl HostApi {
    /// The host's greeting.
    #[oai(path = "/greeting", method = "get")]
    async fn greeting(&self) -> PlainText<String> {
        PlainText(self.greeting.to_string())
    }
}

/// The whole app: `/hello`, and STACK's app (rail API, probes, docs) under `/stack` behind
/// the host's bearer check. Every error outside STACK's own (a 404 of the host's, a refused
/// token, a failed cache) is rendered as STACK's problem+json.
///
/// # Errors
/// When STACK's `api` configuration is invalid.
pub(crate) fn app(
    backends: Backends,
    config: &Config,
    settings: &HostSettings,
    cache: Arc<dyn Cache>,
) -> stack_core::Result<impl Endpoint + use<>> {
    // The prefix makes every OpenAPI document name `/stack`, so Swagger UI at /stack/docs
    // calls /stack/api/... ; poem's `nest` does the routing.
    let version = env!("CARGO_PKG_VERSION");
    let greeting: Arc<str> = settings.greeting.as_str().into();
    let host_api = HostApi {
        greeting: Arc::clone(&greeting),
    };
    let options = AppOptions::new()
        .prefix("/stack")
        .title("Embedded host")
        .version(version)
        .api(
            "/host",
            "Host",
            OpenApiService::new(host_api, "Host API", version),
        );
    let expected: Arc<str> = format!("Bearer {}", settings.token).into();
    let stack =
        app::build_with(backends, &config.api, options)?.around(move |next, req: Request| {
            let expected = Arc::clone(&expected);
            async move {
                let authorized = req
                    .headers()
                    .get("authorization")
                    .is_some_and(|value| same_secret(value.as_bytes(), expected.as_bytes()));
                if !authorized {
                    return Err(Error::from_status(StatusCode::UNAUTHORIZED));
                }
                next.call(req).await
            }
        });
    let state = HostState { greeting, cache };
    Ok(Route::new()
        .at("/hello", hello.data(state))
        .nest("/stack", stack)
        .catch_all_error(problem::render))
}

/// Whether `given` is `expected`, comparing every byte whatever differs first, so the time
/// taken does not tell a caller how much of the token it guessed (only its length).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}
