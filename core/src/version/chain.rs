use std::sync::Arc;

use super::{
    ApiVersion, HeaderResolver, PathResolver, QueryResolver, VersionRequest, VersionResolver,
};
use crate::{Error, Result};

/// Asks resolvers in order, checks the answer against the supported versions and falls back
/// to a default.
///
/// The first resolver that finds a version wins, so the order is the precedence: the
/// [`standard`](ResolverChain::standard) chain reads the path, then the headers, then the
/// query. An unsupported or malformed version is an error, never silently the default.
#[derive(Debug, Clone)]
pub struct ResolverChain {
    resolvers: Vec<Arc<dyn VersionResolver>>,
    supported: Vec<ApiVersion>,
    default: ApiVersion,
}

impl ResolverChain {
    /// A chain over `resolvers` accepting `supported`, answering `default` when none finds a
    /// version.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `supported` is empty or does not contain `default`.
    pub fn new(
        resolvers: Vec<Arc<dyn VersionResolver>>,
        supported: Vec<ApiVersion>,
        default: ApiVersion,
    ) -> Result<Self> {
        if supported.is_empty() {
            return Err(Error::invalid(
                "supported_versions",
                "must name at least one version",
            ));
        }
        if !supported.contains(&default) {
            return Err(Error::invalid(
                "default_version",
                format!("{default} is not among the supported versions"),
            ));
        }
        Ok(Self {
            resolvers,
            supported,
            default,
        })
    }

    /// Path, then header, then query, with the given supported set and default.
    ///
    /// # Errors
    /// As [`ResolverChain::new`].
    pub fn standard(supported: Vec<ApiVersion>, default: ApiVersion) -> Result<Self> {
        Self::new(
            vec![
                Arc::new(PathResolver::default()),
                Arc::new(HeaderResolver),
                Arc::new(QueryResolver::default()),
            ],
            supported,
            default,
        )
    }

    /// The versions this chain accepts.
    pub fn supported(&self) -> &[ApiVersion] {
        &self.supported
    }

    /// The version served when a request names none.
    pub fn default_version(&self) -> ApiVersion {
        self.default
    }

    /// The version `req` asks for, or the default; never `Ok(None)`.
    ///
    /// # Errors
    /// As [`VersionResolver::resolve`].
    pub fn resolve_or_default(&self, req: &VersionRequest<'_>) -> Result<ApiVersion> {
        Ok(self.resolve(req)?.unwrap_or(self.default))
    }
}

impl VersionResolver for ResolverChain {
    fn resolve(&self, req: &VersionRequest<'_>) -> Result<Option<ApiVersion>> {
        for resolver in &self.resolvers {
            if let Some(version) = resolver.resolve(req)? {
                if !self.supported.contains(&version) {
                    let list: Vec<String> =
                        self.supported.iter().map(ToString::to_string).collect();
                    return Err(Error::invalid(
                        "version",
                        format!(
                            "{version} is not supported (supported: {})",
                            list.join(", ")
                        ),
                    ));
                }
                return Ok(Some(version));
            }
        }
        Ok(Some(self.default))
    }
}
