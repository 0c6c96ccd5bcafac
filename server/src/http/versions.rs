//! API version negotiation and deprecation notices.
//!
//! A request under the API prefix (`/api`) is served by exactly one version: the one its
//! path names (`/api/v2/users`), else the one its headers (`API-Version: 2`,
//! `Accept: application/vnd.stack.v2+json`) or query (`?version=2`) name, else the default.
//! A version-less path is rewritten to the versioned one (`/api/users` to `/api/v2/users`)
//! before routing, so each version's routes are written once under their own prefix. A
//! request whose places disagree, or that names an unsupported version, is refused with 400.
//! Every response says which version served it (`API-Version`), and the responses of a
//! version deprecated in configuration carry `Deprecation` (RFC 9745), `Sunset`
//! (RFC 8594) and `Link: <...>; rel="deprecation"`.

use std::collections::HashMap;

use poem::http::uri::PathAndQuery;
use poem::http::{HeaderValue, StatusCode, Uri, header};
use poem::{IntoResponse, Request, Response};
use stack_core::config::{ApiConfig, Deprecation};
use stack_core::version::{
    ApiVersion, PathResolver, ResolverChain, VersionRequest, VersionResolver,
};

use super::problem::Problem;

/// The prefix under which paths are versioned.
pub const API_PREFIX: &str = "/api";

/// The response header naming the version that served a request.
pub const API_VERSION: &str = "api-version";

/// Resolves each request's version and announces it (and its deprecation) in the response.
#[derive(Debug, Clone)]
pub struct Versioning {
    chain: ResolverChain,
    path: PathResolver,
    notices: HashMap<ApiVersion, Notice>,
}

/// The headers a deprecated version's responses carry, rendered once.
#[derive(Debug, Clone)]
struct Notice {
    deprecation: HeaderValue,
    sunset: Option<HeaderValue>,
    link: Option<HeaderValue>,
}

impl Notice {
    fn new(deprecation: &Deprecation) -> stack_core::Result<Self> {
        let value = |name: &str, text: String| {
            HeaderValue::from_str(&text).map_err(|_| {
                stack_core::Error::invalid(name, format!("`{text}` cannot be a header value"))
            })
        };
        Ok(Self {
            deprecation: value(
                "deprecated_at",
                format!("@{}", deprecation.deprecated_at.timestamp()),
            )?,
            sunset: deprecation
                .sunset_at
                .map(|at| value("sunset_at", http_date(at)))
                .transpose()?,
            link: deprecation
                .link
                .as_ref()
                .map(|link| value("link", format!("<{link}>; rel=\"deprecation\"")))
                .transpose()?,
        })
    }
}

/// An IMF-fixdate (RFC 9110 §5.6.7), the form `Sunset` takes: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

impl Versioning {
    /// Versioning as `api` configures it: the supported versions, the default and the
    /// deprecations.
    ///
    /// # Errors
    /// [`stack_core::Error::Invalid`] when `api` names no supported version, a default
    /// outside them, or a deprecation that cannot be rendered as headers.
    pub fn from_config(api: &ApiConfig) -> stack_core::Result<Self> {
        let chain = ResolverChain::standard(api.supported_versions.clone(), api.default_version)?;
        let notices = api
            .deprecations
            .iter()
            .map(|d| Ok((d.version, Notice::new(d)?)))
            .collect::<stack_core::Result<_>>()?;
        Ok(Self {
            chain,
            path: PathResolver::new(API_PREFIX),
            notices,
        })
    }

    /// The version serving `req`, with a version-less API path rewritten to name it; or the
    /// 400 problem response when the request names an unsupported version or two versions.
    pub fn negotiate(&self, req: &mut Request) -> Result<ApiVersion, Box<Response>> {
        let path = req.uri().path().to_owned();
        let asked = VersionRequest {
            path: &path,
            query: req.uri().query(),
            headers: req.headers(),
        };
        let version = self.chain.resolve_agreed(&asked).map_err(refusal)?;
        if under_prefix(&path) && matches!(self.path.resolve(&asked), Ok(None)) {
            let rest = &path[API_PREFIX.len()..];
            let mut target = format!("{API_PREFIX}/{version}{rest}");
            if let Some(query) = req.uri().query() {
                target.push('?');
                target.push_str(query);
            }
            if let Ok(target) = PathAndQuery::try_from(target) {
                let mut parts = req.uri().clone().into_parts();
                parts.path_and_query = Some(target);
                if let Ok(uri) = Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
        }
        Ok(version)
    }

    /// Adds `API-Version` to `response` and, for a request under the API prefix served by a
    /// deprecated version, its deprecation headers.
    pub fn announce(&self, path: &str, version: ApiVersion, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&version.to_string()) {
            headers.insert(API_VERSION, value);
        }
        let Some(notice) = self.notices.get(&version).filter(|_| under_prefix(path)) else {
            return;
        };
        headers.insert("deprecation", notice.deprecation.clone());
        if let Some(sunset) = &notice.sunset {
            headers.insert("sunset", sunset.clone());
        }
        if let Some(link) = &notice.link {
            headers.append(header::LINK, link.clone());
        }
    }
}

/// `path` is `/api` or under it.
fn under_prefix(path: &str) -> bool {
    path.strip_prefix(API_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The 400 answer to a version the server cannot serve: where it was named and why, and
/// the supported versions when that is the problem.
fn refusal(error: stack_core::Error) -> Box<Response> {
    let detail = match &error {
        stack_core::Error::Invalid { field, reason, .. } => format!("{field}: {reason}"),
        other => other.to_string(),
    };
    Box::new(Problem::new(StatusCode::BAD_REQUEST, Some(detail)).into_response())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn sunset_is_an_imf_fixdate() {
        let at = chrono::Utc
            .with_ymd_and_hms(1994, 11, 6, 8, 49, 37)
            .single()
            .expect("a valid date");
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn only_api_paths_are_under_the_prefix() {
        assert!(under_prefix("/api") && under_prefix("/api/users"));
        assert!(!under_prefix("/apis") && !under_prefix("/health/live"));
    }
}
