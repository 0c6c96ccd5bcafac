//! The documented APIs an app is assembled from, and the app that serves them.

use poem::{Endpoint, EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::{OpenApi, OpenApiService};
use stack_core::config::ApiConfig;

use crate::api::docs::{self, Document};
use crate::http::guards::{Guards, RouteTable};
use crate::http::idempotency::AppTarget;
use crate::http::problem;
use crate::http::request_log::RequestLog;
use crate::http::versions::Versioning;
use crate::metrics::HttpMetrics;

/// The documented APIs an app is assembled from, each nested at its prefix with its
/// document at `<prefix>/openapi.json` and listed on `/docs`.
#[derive(Default)]
pub struct Parts {
    route: Route,
    routes: RouteTable,
    documents: Vec<Document>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("documents", &self.documents)
            .finish_non_exhaustive()
    }
}

impl Parts {
    /// No APIs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Nests `service` at `prefix` (`/api/v1`; `""` for the root) and serves its document at
    /// `<prefix>/openapi.json`, listed on `/docs` as `name`.
    #[must_use]
    pub fn api<T: OpenApi + 'static>(
        mut self,
        prefix: &str,
        name: &str,
        service: OpenApiService<T, ()>,
    ) -> Self {
        let prefix = prefix.trim_end_matches('/');
        let spec_url = format!("{prefix}/openapi.json");
        self.routes = std::mem::take(&mut self.routes)
            .openapi_at(prefix, &service.spec())
            .get(&spec_url);
        self.documents.push(Document::new(name, spec_url.clone()));
        let spec = service.spec_endpoint();
        let mount = if prefix.is_empty() { "/" } else { prefix };
        self.route = std::mem::take(&mut self.route)
            .at(spec_url, get(spec))
            .nest(mount, service);
        self
    }
}

impl Parts {
    /// Serves `endpoint` at `path` as it is: undocumented, not listed on `/docs` (the
    /// Prometheus `/metrics`).
    #[must_use]
    pub fn at<E>(mut self, path: &str, endpoint: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.route = std::mem::take(&mut self.route).at(path, endpoint);
        self
    }
}

/// A document of an API mounted with [`Parts::nest`], served by that API itself.
#[derive(Debug, Clone)]
pub struct NestedDocument {
    /// What `/docs` lists it as (`API v1`).
    pub name: String,
    /// Where its paths are, relative to the API's prefix (`/v1`); the document is served at
    /// `<prefix><base>/openapi.json`.
    pub base: String,
    /// The document (JSON).
    pub json: String,
}

impl Parts {
    /// Nests `endpoint` at `prefix`: an API that serves its own `documents` (several
    /// versions, say), which `/docs` lists and the guards read for their `Allow` answers.
    #[must_use]
    pub fn nest<E>(mut self, prefix: &str, endpoint: E, documents: &[NestedDocument]) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        let prefix = prefix.trim_end_matches('/');
        for document in documents {
            let base = format!("{prefix}{}", document.base.trim_end_matches('/'));
            let spec_url = format!("{base}/openapi.json");
            self.routes = std::mem::take(&mut self.routes)
                .openapi_at(&base, &document.json)
                .get(&spec_url);
            self.documents
                .push(Document::new(document.name.clone(), spec_url));
        }
        self.route = std::mem::take(&mut self.route).nest(prefix, endpoint);
        self
    }
}

/// The app serving `parts`, `/docs` listing their documents, behind the guards and error
/// rendering that [`build`](super::build) describes.
///
/// # Errors
/// When `api` names no supported version, a default outside them, or a deprecation that
/// cannot be rendered as headers.
pub fn assemble(parts: Parts, api: &ApiConfig) -> stack_core::Result<impl Endpoint + use<>> {
    let guards = Guards::new(
        parts.routes.get_under("/docs"),
        Versioning::from_config(api)?,
    );
    Ok(parts
        .route
        .nest("/docs", docs::endpoint(&parts.documents))
        .with(guards)
        .before(|mut req| async move {
            let target = AppTarget(req.uri().clone());
            req.extensions_mut().insert(target);
            Ok(req)
        })
        .with(HttpMetrics)
        .with(RequestLog)
        .catch_all_error(problem::render)
        .into_endpoint())
}
