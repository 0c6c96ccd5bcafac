//! `stack_http_request_seconds{version, route, method, status}`: every request's duration,
//! labelled with the route template it matched (poem's [`PathPattern`], never the raw path,
//! so ids do not become labels) and the API version that served it (`none` outside `/api`).

use std::time::Instant;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Result};

use crate::http::versions::API_VERSION;

/// The `route` label of a request no route matched (a 404, a refused path).
pub const UNMATCHED: &str = "unmatched";

/// The middleware: see the module documentation. Mount it outside the version guards, so
/// that errors are already responses carrying `API-Version`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpMetrics;

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        HttpMetricsEndpoint { inner }
    }
}

/// An endpoint wrapped by [`HttpMetrics`].
#[derive(Debug)]
pub struct HttpMetricsEndpoint<E> {
    inner: E,
}

/// The `method` label: the standard methods by name, any other as `other` (a client may
/// send any token as a method; each must not become a series).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", Method::as_str)
}

impl<E: Endpoint> Endpoint for HttpMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let method = method_label(req.method());
        let started = Instant::now();
        let result = self.inner.call(req).await.map(IntoResponse::into_response);
        let (status, route, version) = match &result {
            Ok(response) => (
                response.status(),
                response.data::<PathPattern>().map(|p| p.0.to_string()),
                response
                    .headers()
                    .get(API_VERSION)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!("v{}", v.trim_start_matches('v'))),
            ),
            Err(error) => (
                error.status(),
                error.data::<PathPattern>().map(|p| p.0.to_string()),
                None,
            ),
        };
        // A nest that matched nothing inside reports an empty pattern.
        let route = route.filter(|r| !r.is_empty());
        // Every response names a version; only the API's routes are served by one.
        let under_api = route.as_deref().is_some_and(|r| r.starts_with("/api/"));
        let version = version.filter(|_| under_api);
        metrics::histogram!(
            "stack_http_request_seconds",
            "version" => version.unwrap_or_else(|| "none".to_owned()),
            "route" => route.unwrap_or_else(|| UNMATCHED.to_owned()),
            "method" => method,
            "status" => status.as_str().to_owned(),
        )
        .record(started.elapsed().as_secs_f64());
        result
    }
}
