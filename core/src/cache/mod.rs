//! The [`Cache`] trait: bytes in, bytes out, with TTLs and invalidation.
//!
//! Backends store opaque bytes; typed access and a stampede-safe `get_or_load` live in
//! [`TypedCache`], a facade over `Arc<dyn Cache>`. A cache is never the source of truth:
//! [`TypedCache`] turns a cache failure into a miss, so a broken cache slows reads down but
//! never fails them.

mod generation;
mod invalidation;
mod pattern;
mod typed;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

pub use invalidation::{Invalidator, Strategy, UserKeys};
pub use pattern::{KeyPattern, escape};
pub use typed::TypedCache;

use crate::Result;

/// What a cache backend can do; the conformance suite reads it to pick its trials. Built
/// by name: `CacheCapabilities::default().with_shared(true)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct CacheCapabilities {
    /// Entries live in a server: every handle with the same prefix sees them, and they
    /// survive a restart of the application.
    pub shared: bool,
    /// `delete_pattern` is supported.
    pub pattern_delete: bool,
}

impl CacheCapabilities {
    /// Sets [`CacheCapabilities::shared`].
    #[must_use]
    pub const fn with_shared(mut self, on: bool) -> Self {
        self.shared = on;
        self
    }

    /// Sets [`CacheCapabilities::pattern_delete`].
    #[must_use]
    pub const fn with_pattern_delete(mut self, on: bool) -> Self {
        self.pattern_delete = on;
        self
    }
}

/// Counters a cache keeps about itself since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CacheStats {
    /// Reads that found a live entry.
    pub hits: u64,
    /// Reads that found nothing (or an expired entry).
    pub misses: u64,
    /// Writes.
    pub sets: u64,
    /// Entries removed by `delete`, `delete_many` or `delete_pattern`.
    pub deletes: u64,
    /// Live entries now, as well as the backend can tell (`None` when it cannot).
    pub entries: Option<u64>,
    /// Calls that failed because the backend could not be reached or answered an error.
    pub errors: u64,
}

/// A byte cache with per-entry TTLs and invalidation.
///
/// Keys are UTF-8 strings; a backend prepends its configured key prefix, so two applications
/// can share one server. Values are opaque bytes.
#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug {
    /// A short name of the backend (`memory`, `redis`), used in health reports and metrics.
    fn name(&self) -> &'static str;

    /// What this backend can do.
    fn capabilities(&self) -> CacheCapabilities;

    /// The value stored under `key`, or `None` when it is absent or expired.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// The values of `keys`, one slot per key, in order.
    ///
    /// # Errors
    /// As [`Cache::get`].
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>>;

    /// The values of `keys` as [`Cache::get_many`] reads them, each with the lineage of the
    /// server state it was read from: a name that changes whenever that state may have gone
    /// back in time (a restart that reloads a snapshot, a failover to a replica that missed
    /// the last writes). Generation counters are read this way and fold it into their keys, so
    /// a counter rolled back to a value it once had never names that value's entries again.
    ///
    /// The default reads with no lineage: a cache whose state cannot go back (in process)
    /// keeps it; a wrapper delegates it.
    ///
    /// # Errors
    /// As [`Cache::get_many`].
    async fn get_many_in_lineage(
        &self,
        keys: &[String],
    ) -> Result<Vec<(Option<Vec<u8>>, Option<String>)>> {
        let values = self.get_many(keys).await?;
        Ok(values.into_iter().map(|value| (value, None)).collect())
    }

    /// Stores `value` under `key`; `ttl` overrides the backend's default TTL (no default means
    /// no expiry). A zero `ttl` is refused.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for a zero TTL or an empty key;
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<()>;

    /// Adds `by` to the integer under `key` atomically (a missing key counts from 0) and
    /// answers the new value; when the key is created, it expires after `ttl` (`None`: never;
    /// the default TTL does not apply, since a generation counter must outlive what it
    /// guards). The value reads back through [`Cache::get`] as its decimal digits.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for an empty key, a zero TTL, or a value
    /// under `key` that is not an integer; as [`Cache::get`] otherwise.
    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64>;

    /// Stores `value` under `key` only if nothing is there (a cross-process lock); answers
    /// whether it stored it. `ttl` as in [`Cache::set`].
    ///
    /// # Errors
    /// As [`Cache::set`].
    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>)
    -> Result<bool>;

    /// Makes `key` expire `ttl` from now, keeping its value; answers whether it was there.
    ///
    /// # Errors
    /// As [`Cache::set`].
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool>;

    /// Removes `key`; answers whether it was there.
    ///
    /// # Errors
    /// As [`Cache::get`].
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Removes every key of `keys`; answers how many were there.
    ///
    /// # Errors
    /// As [`Cache::get`].
    async fn delete_many(&self, keys: &[String]) -> Result<u64>;

    /// Removes every key matching `pattern`, in the syntax of Redis `MATCH` (see
    /// [`KeyPattern`]: `*`, `?`, `[abc]`, `[a-z]`, `[^a]`, `\` escapes; the backend's key
    /// prefix is matched literally); answers how many were removed. This visits every key (on
    /// a Cluster, every primary): meant for administration, not the request path.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for a malformed pattern (empty, or a class
    /// left open);
    /// [`Error::Unsupported`](crate::Error::Unsupported) when `pattern_delete` is false.
    async fn delete_pattern(&self, pattern: &str) -> Result<u64>;

    /// Checks that the backend answers.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when it does not.
    async fn health(&self) -> Result<()>;

    /// The counters since the cache was opened.
    ///
    /// # Errors
    /// As [`Cache::get`].
    async fn stats(&self) -> Result<CacheStats>;
}

/// Checks a key and TTL the way every backend must: a helper so all backends refuse the
/// same inputs with the same errors.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) for an empty key or a zero TTL.
pub fn validate_entry(key: &str, ttl: Option<Duration>) -> Result<()> {
    if key.is_empty() {
        return Err(crate::Error::invalid("key", "must not be empty"));
    }
    if ttl == Some(Duration::ZERO) {
        return Err(crate::Error::invalid(
            "ttl",
            "must be positive (omit it for the default)",
        ));
    }
    Ok(())
}
