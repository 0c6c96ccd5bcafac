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

    /// The version `req` asks for, or the default, refusing a request whose indications
    /// disagree: unlike [`resolve`](VersionResolver::resolve), which takes the first answer,
    /// every resolver is asked, and `/api/v1/users` with `API-Version: 2` is an error rather
    /// than silently v1.
    ///
    /// # Errors
    /// As [`VersionResolver::resolve`], and [`Error::Invalid`] (field `version`) naming both
    /// places when two resolvers find different versions.
    pub fn resolve_agreed(&self, req: &VersionRequest<'_>) -> Result<ApiVersion> {
        let mut found: Option<(ApiVersion, &dyn VersionResolver)> = None;
        for resolver in &self.resolvers {
            let Some(version) = resolver.resolve(req)? else {
                continue;
            };
            self.check_supported(version)?;
            match found {
                Some((first, by)) if first != version => {
                    return Err(Error::invalid(
                        "version",
                        format!(
                            "the request names two versions: {first} ({}) and {version} ({}); name one, or the same in both places",
                            by.place(),
                            resolver.place()
                        ),
                    ));
                }
                Some(_) => {}
                None => found = Some((version, resolver.as_ref())),
            }
        }
        Ok(found.map_or(self.default, |(version, _)| version))
    }

    fn check_supported(&self, version: ApiVersion) -> Result<()> {
        if self.supported.contains(&version) {
            return Ok(());
        }
        let list: Vec<String> = self.supported.iter().map(ToString::to_string).collect();
        Err(Error::invalid(
            "version",
            format!(
                "{version} is not supported (supported: {})",
                list.join(", ")
            ),
        ))
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
                self.check_supported(version)?;
                return Ok(Some(version));
            }
        }
        Ok(Some(self.default))
    }
}
