use super::{ApiVersion, VersionRequest, VersionResolver};
use crate::{Error, Result};

/// Reads the version from the path: `/api/v2/...` (the prefix is configurable).
#[derive(Debug, Clone)]
pub struct PathResolver {
    prefix: String,
}

impl PathResolver {
    /// Looks for a version segment right after `prefix` (e.g. `/api`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into().trim_end_matches('/').to_owned(),
        }
    }
}

impl Default for PathResolver {
    fn default() -> Self {
        Self::new("/api")
    }
}

impl VersionResolver for PathResolver {
    fn place(&self) -> String {
        "the path".into()
    }

    fn resolve(&self, req: &VersionRequest<'_>) -> Result<Option<ApiVersion>> {
        let Some(rest) = req.path.strip_prefix(&self.prefix) else {
            return Ok(None);
        };
        let Some(segment) = rest.strip_prefix('/').and_then(|r| r.split('/').next()) else {
            return Ok(None);
        };
        // Only a segment shaped like a version counts; `/api/users` has no version in it.
        let looks_versioned = segment.len() > 1
            && segment.starts_with(['v', 'V'])
            && segment[1..].bytes().all(|b| b.is_ascii_digit());
        if !looks_versioned {
            return Ok(None);
        }
        segment
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid("path", format!("`{segment}` is not an API version")))
    }
}

/// The vendor media type prefix read from `Accept`: `application/vnd.stack.v2+json`.
const VENDOR_PREFIX: &str = "application/vnd.stack.";

/// Reads the version from `API-Version: 2` or, failing that, from
/// `Accept: application/vnd.stack.v2+json`.
#[derive(Debug, Clone, Default)]
pub struct HeaderResolver;

impl VersionResolver for HeaderResolver {
    fn place(&self) -> String {
        "the API-Version or Accept header".into()
    }

    fn resolve(&self, req: &VersionRequest<'_>) -> Result<Option<ApiVersion>> {
        if let Some(value) = req.headers.get("api-version") {
            let text = value
                .to_str()
                .map_err(|_| Error::invalid("API-Version", "header is not visible ASCII"))?;
            return text.parse().map(Some).map_err(|_| {
                Error::invalid("API-Version", format!("`{text}` is not an API version"))
            });
        }
        for value in req.headers.get_all(http::header::ACCEPT) {
            let Ok(text) = value.to_str() else { continue };
            for media in text.split(',') {
                let media = media.split(';').next().unwrap_or("").trim();
                let Some(rest) = media.strip_prefix(VENDOR_PREFIX) else {
                    continue;
                };
                let version = rest.split('+').next().unwrap_or(rest);
                return version.parse().map(Some).map_err(|_| {
                    Error::invalid("Accept", format!("`{media}` names no API version"))
                });
            }
        }
        Ok(None)
    }
}

/// Reads the version from the query string: `?version=2`.
#[derive(Debug, Clone)]
pub struct QueryResolver {
    param: String,
}

impl QueryResolver {
    /// Reads the query parameter `param`.
    pub fn new(param: impl Into<String>) -> Self {
        Self {
            param: param.into(),
        }
    }
}

impl Default for QueryResolver {
    fn default() -> Self {
        Self::new("version")
    }
}

impl VersionResolver for QueryResolver {
    fn place(&self) -> String {
        format!("the query parameter {}", self.param)
    }

    fn resolve(&self, req: &VersionRequest<'_>) -> Result<Option<ApiVersion>> {
        let Some(query) = req.query else {
            return Ok(None);
        };
        let found = query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(key, _)| *key == self.param);
        match found {
            None => Ok(None),
            Some((_, value)) => value.parse().map(Some).map_err(|_| {
                Error::invalid(&self.param, format!("`{value}` is not an API version"))
            }),
        }
    }
}
