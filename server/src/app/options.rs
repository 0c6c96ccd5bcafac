//! How a host shapes the app: where it nests it, the title and version of its document, and
//! its own poem-openapi APIs served and documented beside STACK's.

use poem_openapi::{OpenApi, OpenApiService};

use crate::metrics::PrometheusHandle;

use super::parts::Parts;

/// Adds one host API to the parts, given the app's prefix.
type AddApi = Box<dyn FnOnce(Parts, &str) -> Parts + Send>;

/// Options of [`build_with`](super::build_with); the default is what [`build`](super::build)
/// serves (nested at the root, titled "STACK", this crate's version, no host APIs).
///
/// ```no_run
/// # use stack_server::poem_openapi::{OpenApi, OpenApiService, payload::PlainText};
/// # struct HostApi;
/// # #[OpenApi]
/// # impl HostApi {
/// #     #[oai(path = "/hello", method = "get")]
/// #     async fn hello(&self) -> PlainText<&'static str> { PlainText("hi") }
/// # }
/// use stack_server::app::AppOptions;
///
/// let options = AppOptions::new()
///     .prefix("/stack") // the host nests the app with `Route::new().nest("/stack", app)`
///     .title("Acme")
///     .version("2.1.0")
///     .api("/host", "Acme", OpenApiService::new(HostApi, "Acme API", "2.1.0"));
/// ```
pub struct AppOptions {
    pub(super) prefix: String,
    pub(super) title: String,
    pub(super) version: String,
    /// Each host API, and how to add it.
    pub(super) apis: Vec<(HostApi, AddApi)>,
    /// Whether the host wants the rail API (it needs an SQL database).
    pub(super) rail: bool,
    /// The recorder whose rendering `/metrics` serves, when set.
    pub(super) metrics: Option<PrometheusHandle>,
}

/// What the app checks of a host API before it mounts it.
#[derive(Debug)]
pub(super) struct HostApi {
    /// Where it is served inside the app.
    pub(super) prefix: String,
    /// Its operations' paths, relative to `prefix`.
    pub(super) paths: Vec<String>,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("prefix", &self.prefix)
            .field("title", &self.title)
            .field("version", &self.version)
            .field("apis", &self.apis.len())
            .field("rail", &self.rail)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            title: "STACK".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            apis: Vec::new(),
            rail: true,
            metrics: None,
        }
    }
}

impl AppOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the host nests the app (`/stack`): every document's `servers` then names the
    /// full path (`/stack`, `/stack/api/v1`, `/stack/admin`), so that Swagger UI's "Try it
    /// out" calls the right URL. Routing is unchanged: poem strips the prefix it nests at.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix: String = prefix.into();
        self.prefix = prefix.trim_end_matches('/').to_owned();
        if !self.prefix.is_empty() && !self.prefix.starts_with('/') {
            self.prefix.insert(0, '/');
        }
        self
    }

    /// The title of the app's root document (the health probes and `/openapi.json`).
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The version of the app's root document.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The app without the rail API (`/api`), for a host that serves STACK's probes, admin
    /// API and docs over backends with no SQL database. Without it,
    /// [`build_with`](super::build_with) refuses backends that have no SQL database rather
    /// than leave the rail out silently.
    #[must_use]
    pub fn without_rail(mut self) -> Self {
        self.rail = false;
        self
    }

    /// A host API served at `prefix` inside the app (`/host`), its document at
    /// `<prefix>/openapi.json`, listed on `/docs` as `name` and known to the guards (405
    /// with `Allow`). Its document's `servers` gets the full path (the app's prefix and
    /// `prefix`), so do not set one on `service` yourself. [`build_with`](super::build_with)
    /// refuses, rather than let poem panic on a route taken twice: a prefix that is empty,
    /// STACK's own or under it (`/api`, `/admin`, `/docs`, `/health`, `/openapi.json`), another
    /// host API's or nested in it, or not plain path segments (letters, digits, `-._~`), and
    /// an operation at `/openapi.json` (where the API's document is served).
    #[must_use]
    pub fn api<T: OpenApi + Send + 'static>(
        mut self,
        prefix: &str,
        name: &str,
        service: OpenApiService<T, ()>,
    ) -> Self {
        let (prefix, name) = (prefix.trim_end_matches('/').to_owned(), name.to_owned());
        let paths = service_paths(&service.spec());
        let host = HostApi {
            prefix: prefix.clone(),
            paths,
        };
        let add: AddApi = Box::new(move |parts: Parts, app_prefix: &str| {
            let service = service.server(format!("{app_prefix}{prefix}"));
            parts.api(&prefix, &name, service)
        });
        self.apis.push((host, add));
        self
    }

    /// Serves `GET /metrics` with `handle`'s rendering (Prometheus text format), beside the
    /// API and behind no auth: the `stack` binary passes the recorder it installs
    /// ([`metrics::install`](crate::metrics::install)); a host passes its own handle (a
    /// recorder it installed, or [`metrics::recorder`](crate::metrics::recorder)'s).
    /// Unset (the default), `/metrics` is not served.
    #[must_use]
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }
}

/// The operations' paths of an OpenAPI document (JSON).
fn service_paths(spec: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(spec)
        .ok()
        .and_then(|doc| {
            doc.get("paths")
                .and_then(serde_json::Value::as_object)
                .map(|paths| paths.keys().cloned().collect())
        })
        .unwrap_or_default()
}
