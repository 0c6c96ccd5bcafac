//! API version resolution: from a request (path, headers, query) to a supported
//! [`ApiVersion`] or a clear error.
//!
//! Each [`VersionResolver`] looks at one place: [`PathResolver`] at `/api/v2/...`,
//! [`HeaderResolver`] at `API-Version: 2` and `Accept: application/vnd.stack.v2+json`,
//! [`QueryResolver`] at `?version=2`. A [`ResolverChain`] asks each in turn, takes the first
//! answer, checks it against the supported set, and falls back to a default when no resolver
//! found anything.
//!
//! ```
//! use stack_core::version::{ApiVersion, ResolverChain, VersionRequest, VersionResolver};
//! let chain = ResolverChain::standard(vec![ApiVersion::new(1), ApiVersion::new(2)], ApiVersion::new(1)).unwrap();
//! let headers = http::HeaderMap::new();
//! let req = VersionRequest { path: "/api/v2/users", query: None, headers: &headers };
//! assert_eq!(chain.resolve(&req).unwrap(), Some(ApiVersion::new(2)));
//! ```

mod api_version;
mod chain;
mod resolvers;

pub use api_version::ApiVersion;
pub use chain::ResolverChain;
pub use resolvers::{HeaderResolver, PathResolver, QueryResolver};

use crate::Result;

/// The parts of an HTTP request a resolver may read.
#[derive(Debug, Clone, Copy)]
pub struct VersionRequest<'a> {
    /// The request path, e.g. `/api/v2/users`.
    pub path: &'a str,
    /// The raw query string without the `?`, if any.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
}

/// Finds the API version a request asks for.
pub trait VersionResolver: Send + Sync + std::fmt::Debug {
    /// The version this resolver finds in `req`, `Ok(None)` when it finds no indication.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) when the request names a version that is
    /// malformed or not supported; the field names where it was found (`API-Version`,
    /// `version`, `path`).
    fn resolve(&self, req: &VersionRequest<'_>) -> Result<Option<ApiVersion>>;

    /// Where this resolver looks, for error messages (`the path`, `the query parameter
    /// version`).
    fn place(&self) -> String {
        "the request".into()
    }
}

#[cfg(test)]
mod tests;
