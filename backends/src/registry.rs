//! Opens the backend a configuration names: the URL scheme picks the implementation, the
//! Cargo features decide which were compiled in.
//!
//! Asking for a backend that was not compiled in is an [`Error::Unsupported`] naming the
//! feature to enable, reported at startup rather than at the first request.

use std::sync::Arc;

use stack_core::cache::Cache;
use stack_core::config::{CacheConfig, QueueConfig, url_scheme};
use stack_core::queue::{Queue, QueueOptions};
use stack_core::retry::Backoff;
use stack_core::{Error, Result};

/// Checks that `scheme` is one of `known` and that its feature was compiled in.
fn check_compiled(key: &str, url: &str, scheme: &str, known: &[&str]) -> Result<()> {
    let feature = match scheme {
        "memory" => "memory",
        "sqlite" => "sqlite",
        "postgres" | "postgresql" => "postgres",
        "redis" | "rediss" | "redis+cluster" => "redis",
        _ => "",
    };
    if feature.is_empty() || !known.contains(&scheme) {
        return Err(Error::invalid(
            key,
            format!(
                "unknown backend `{scheme}://` (known: {})",
                known.join(", ")
            ),
        ));
    }
    let compiled = match feature {
        "memory" => cfg!(feature = "memory"),
        "sqlite" => cfg!(feature = "sqlite"),
        "postgres" => cfg!(feature = "postgres"),
        _ => cfg!(feature = "redis"),
    };
    if compiled {
        Ok(())
    } else {
        Err(Error::unsupported(format!(
            "{key} `{url}` needs stack-backends built with feature `{feature}`"
        )))
    }
}

fn not_yet(what: &str, url: &str) -> Error {
    Error::unsupported(format!(
        "{what} backend `{url}` is not available in this release; use `memory://`"
    ))
}

fn scheme_of(key: &str, url: &str) -> Result<String> {
    url_scheme(url).ok_or_else(|| Error::invalid(key, format!("`{url}` is not a backend URL")))
}

/// Opens the cache `config.backend` names (`memory://`).
///
/// # Errors
/// [`Error::Invalid`] for an unknown scheme, [`Error::Unsupported`] for a backend that was
/// not compiled in or is not available yet.
pub fn open_cache(config: &CacheConfig) -> Result<Arc<dyn Cache>> {
    let url = &config.backend;
    let scheme = scheme_of("cache.backend", url)?;
    check_compiled(
        "cache.backend",
        url,
        &scheme,
        &["memory", "redis", "rediss", "redis+cluster"],
    )?;
    match scheme.as_str() {
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(crate::memory::MemoryCache::new(
            crate::memory::MemoryCacheOptions {
                key_prefix: config.key_prefix.clone(),
                default_ttl: config.default_ttl,
                max_entries: config.max_entries,
            },
        ))),
        _ => Err(not_yet("cache", url)),
    }
}

/// The [`QueueOptions`] a queue configuration describes.
pub fn queue_options(config: &QueueConfig) -> QueueOptions {
    QueueOptions::new(config.name.clone())
        .backoff(Backoff::new(config.backoff_base, config.backoff_cap))
}

/// Opens the queue `config.backend` names (`memory://`).
///
/// # Errors
/// As [`open_cache`].
pub fn open_queue(config: &QueueConfig) -> Result<Arc<dyn Queue>> {
    let url = &config.backend;
    let scheme = scheme_of("queue.backend", url)?;
    let known = [
        "memory",
        "sqlite",
        "postgres",
        "postgresql",
        "redis",
        "rediss",
        "redis+cluster",
    ];
    check_compiled("queue.backend", url, &scheme, &known)?;
    match scheme.as_str() {
        #[cfg(feature = "memory")]
        "memory" => Ok(Arc::new(crate::memory::MemoryQueue::new(queue_options(
            config,
        )))),
        _ => Err(not_yet("queue", url)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_are_invalid_and_missing_backends_say_so() {
        let cache = CacheConfig {
            backend: "memcached://x".into(),
            ..CacheConfig::default()
        };
        let err = open_cache(&cache).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "cache.backend"),
            "{err}"
        );

        let queue = QueueConfig {
            backend: "postgres://db/x".into(),
            ..QueueConfig::default()
        };
        let err = open_queue(&queue).unwrap_err();
        assert_eq!(err.kind(), stack_core::ErrorKind::Unsupported, "{err}");
        if !cfg!(feature = "postgres") {
            assert!(err.to_string().contains("feature `postgres`"), "{err}");
        }
    }
}
