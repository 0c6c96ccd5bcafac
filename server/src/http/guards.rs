//! Checks every request passes before routing: a path that does not decode names no
//! resource (404), the API version a request asks for is resolved and a version-less API
//! path rewritten to it (400 when the version is malformed, unsupported or ambiguous; see
//! [`versions`](super::versions)), and a method a route does not serve is 405 with the
//! `Allow` header RFC 9110 requires. Responses say which version served them, and when it
//! is deprecated.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::problem::Problem;
use super::versions::Versioning;

/// Where a route's methods apply.
#[derive(Debug, Clone)]
enum Pattern {
    /// Path segments; `{name}` matches any one segment.
    Template(Vec<String>),
    /// The path itself and everything under it.
    Prefix(String),
}

impl Pattern {
    /// How many segments match anything (a prefix counts as none).
    fn parameters(&self) -> usize {
        match self {
            Self::Prefix(_) => 0,
            Self::Template(segments) => segments.iter().filter(|s| s.starts_with('{')).count(),
        }
    }

    /// Whether the request path matches: `path` itself, and its segments (`path` without
    /// its leading `/`, split on `/`), split once per request by the caller.
    fn matches(&self, path: &str, parts: &[&str]) -> bool {
        match self {
            Self::Prefix(prefix) => {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            Self::Template(segments) => {
                parts.len() == segments.len()
                    && segments
                        .iter()
                        .zip(parts)
                        .all(|(s, p)| s.as_str() == *p || (s.starts_with('{') && !p.is_empty()))
            }
        }
    }
}

/// The methods each route serves, read from the OpenAPI document plus the routes outside
/// it; the one table behind 405 answers and their `Allow` header.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Pattern, Vec<Method>)>,
}

impl RouteTable {
    /// The operations of an OpenAPI document (JSON).
    pub fn from_openapi(spec: &str) -> Self {
        Self::default().openapi_at("", spec)
    }

    /// Adds the operations of an OpenAPI document (JSON) served under `prefix` (`/api/v1`):
    /// the document's paths are relative to where its service is nested.
    pub fn openapi_at(mut self, prefix: &str, spec: &str) -> Self {
        let Ok(spec) = serde_json::from_str::<serde_json::Value>(spec) else {
            return self;
        };
        let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) else {
            return self;
        };
        let prefix = prefix.trim_end_matches('/');
        for (path, operations) in paths {
            let methods: Vec<Method> = operations
                .as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                .collect();
            let segments = format!("{prefix}{path}")
                .trim_start_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect();
            self.add(Pattern::Template(segments), methods);
        }
        self
    }

    /// Adds `path` serving GET (and so HEAD).
    pub fn get(mut self, path: &str) -> Self {
        let segments = path
            .trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        self.add(Pattern::Template(segments), vec![Method::GET]);
        self
    }

    /// Adds `prefix` and everything under it serving GET (and so HEAD).
    pub fn get_under(mut self, prefix: &str) -> Self {
        self.add(Pattern::Prefix(prefix.to_owned()), vec![Method::GET]);
        self
    }

    fn add(&mut self, pattern: Pattern, mut methods: Vec<Method>) {
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            methods.push(Method::HEAD);
        }
        self.routes.push((pattern, methods));
    }

    /// The methods allowed on `path`, when some route serves it.
    ///
    /// A literal segment wins over a parameter, as in OpenAPI and the router: on
    /// `/users/bulk`, a `/users/bulk` route answers, not `/users/{id}`.
    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        // Called on every request: the path is split once, and nothing else is allocated
        // unless some route matches.
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let most_specific = self
            .routes
            .iter()
            .filter(|(pattern, _)| pattern.matches(path, &parts))
            .map(|(pattern, _)| pattern.parameters())
            .min()?;
        let mut all = Vec::new();
        for (_, methods) in self.routes.iter().filter(|(pattern, _)| {
            pattern.matches(path, &parts) && pattern.parameters() == most_specific
        }) {
            for method in methods {
                if !all.contains(method) {
                    all.push(method.clone());
                }
            }
        }
        Some(all)
    }
}

/// The guards around an app: see the module documentation. Used as a poem middleware
/// (`route.with(guards)`), or through [`Guards::call`] in an `around`.
#[derive(Debug, Clone)]
pub struct Guards {
    routes: Arc<RouteTable>,
    versions: Arc<Versioning>,
}

impl Guards {
    /// Guards over `routes`, resolving versions with `versions`.
    pub fn new(routes: RouteTable, versions: Versioning) -> Self {
        Self {
            routes: Arc::new(routes),
            versions: Arc::new(versions),
        }
    }

    /// Runs the guards, then `next`.
    ///
    /// # Errors
    /// Whatever `next` fails with.
    pub async fn call<E: Endpoint>(&self, next: &E, mut req: Request) -> Result<Response> {
        if percent_decode(req.uri().path()).is_none() {
            let detail = "the path does not decode to UTF-8 text, so it names no resource";
            return Ok(Problem::new(StatusCode::NOT_FOUND, Some(detail.into())).into_response());
        }
        let version = match self.versions.negotiate(&mut req) {
            Ok(version) => version,
            Err(refusal) => return Ok(*refusal),
        };
        // The path as routed: a version-less API path now names its version.
        let path = req.uri().path().to_owned();
        let decoded = percent_decode(&path).unwrap_or_default();
        let mut response = match self.routes.allowed(&decoded) {
            Some(allowed) if !allowed.contains(req.method()) => {
                method_not_allowed(req.method(), &allowed)
            }
            _ => {
                req.extensions_mut().insert(version);
                // Errors are rendered here, so that they carry the version headers too.
                match next.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(error) => super::problem::respond(error),
                }
            }
        };
        self.versions.announce(&path, version, &mut response);
        Ok(response)
    }
}

impl<E: Endpoint> Middleware<E> for Guards {
    type Output = Guarded<E>;

    fn transform(&self, ep: E) -> Self::Output {
        Guarded {
            guards: self.clone(),
            inner: ep,
        }
    }
}

/// An endpoint behind [`Guards`].
#[derive(Debug)]
pub struct Guarded<E> {
    guards: Guards,
    inner: E,
}

impl<E: Endpoint> Endpoint for Guarded<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        self.guards.call(&self.inner, req).await
    }
}

fn method_not_allowed(method: &Method, allowed: &[Method]) -> Response {
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let list = list.join(", ");
    let detail = format!("{method} is not served here; allowed: {list}");
    let mut response = Problem::new(StatusCode::METHOD_NOT_ALLOWED, Some(detail)).into_response();
    if let Ok(value) = HeaderValue::from_str(&list) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// `path` with `%XX` escapes decoded, or `None` when the result is not UTF-8 (or an escape
/// is malformed).
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_or_name_nothing() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%ff"), None);
        assert_eq!(percent_decode("/%f"), None);
    }

    #[test]
    fn allowed_methods_come_from_the_table() {
        let spec = r#"{"paths":{"/users/{id}":{"get":{},"delete":{}}}}"#;
        let table = RouteTable::from_openapi(spec)
            .get_under("/docs")
            .openapi_at("/api/v2/", r#"{"paths":{"/users":{"post":{}}}}"#);
        assert_eq!(table.allowed("/api/v2/users").unwrap(), [Method::POST]);
        let users = table.allowed("/users/42").unwrap();
        assert!(users.contains(&Method::DELETE) && users.contains(&Method::HEAD));
        assert_eq!(
            table.allowed("/docs/index.css").unwrap(),
            [Method::GET, Method::HEAD]
        );
        assert!(table.allowed("/documents").is_none());
        assert!(table.allowed("/users").is_none());
    }

    #[test]
    fn a_literal_route_wins_over_a_parameter() {
        let spec = r#"{"paths":{"/users/{id}":{"get":{}},"/users/bulk":{"post":{}}}}"#;
        let table = RouteTable::from_openapi(spec);
        assert_eq!(table.allowed("/users/bulk").unwrap(), [Method::POST]);
        assert_eq!(
            table.allowed("/users/42").unwrap(),
            [Method::GET, Method::HEAD]
        );
    }
}
