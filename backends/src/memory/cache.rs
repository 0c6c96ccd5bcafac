use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache as MokaCache;
use stack_core::cache::{Cache, CacheCapabilities, CacheStats, KeyPattern, validate_entry};
use stack_core::{Error, Result};

/// How often moka's pending maintenance (evictions, expirations) runs: moka has no
/// background threads since 0.12, so without a ticker `entry_count` goes stale and expired
/// entries wait for the next write to be reaped.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

/// Settings of a [`MemoryCache`].
#[derive(Debug, Clone)]
pub struct MemoryCacheOptions {
    /// TTL of entries stored without one; `None` keeps them until evicted.
    pub default_ttl: Option<Duration>,
    /// Most entries held before the least useful are evicted.
    pub max_entries: u64,
}

impl Default for MemoryCacheOptions {
    fn default() -> Self {
        Self {
            default_ttl: None,
            max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Option<Duration>,
    /// An increment of an existing counter keeps the time it has left.
    keep_ttl: bool,
}

/// Gives each entry the TTL it was stored with; a rewrite restarts the clock, an increment
/// does not (as Redis `INCRBY`).
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        value.ttl
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _at: Instant,
        remaining: Option<Duration>,
    ) -> Option<Duration> {
        if value.keep_ttl { remaining } else { value.ttl }
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
}

/// Aborts the maintenance ticker when the last clone of the cache is dropped.
#[derive(Debug)]
struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An in-process cache on moka with per-entry TTLs, size-bounded eviction and pattern deletes.
///
/// It takes no key prefix: each instance is a map of its own, so there is nothing to keep
/// apart (a prefix matters on a shared server), and a read allocates no key.
///
/// Cloning is cheap and shares the entries.
#[derive(Debug, Clone)]
pub struct MemoryCache {
    entries: MokaCache<String, Entry>,
    options: Arc<MemoryCacheOptions>,
    counters: Arc<Counters>,
    /// The `tier` label of its metrics: `memory`, or `first` in front of Redis.
    tier: &'static str,
    _ticker: Option<Arc<Ticker>>,
}

impl MemoryCache {
    /// A cache with `options`. Inside a tokio runtime it also starts the maintenance ticker.
    pub fn new(options: MemoryCacheOptions) -> Self {
        let entries = MokaCache::builder()
            .max_capacity(options.max_entries)
            .expire_after(PerEntryTtl)
            .build();
        let ticker = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let entries = entries.clone();
            Arc::new(Ticker(runtime.spawn(async move {
                let mut interval = tokio::time::interval(MAINTENANCE_INTERVAL);
                loop {
                    interval.tick().await;
                    entries.run_pending_tasks().await;
                }
            })))
        });
        Self {
            entries,
            options: Arc::new(options),
            counters: Arc::default(),
            tier: "memory",
            _ticker: ticker,
        }
    }

    /// The same cache, its metrics labelled `tier="first"`: the first tier of a two-tier cache.
    #[cfg(feature = "redis")]
    pub(crate) fn first_tier(mut self) -> Self {
        self.tier = "first";
        self
    }

    fn key(key: &str) -> String {
        key.to_owned()
    }

    /// Drops every entry (a two-tier cache clears its first tier when it may have missed an
    /// invalidation).
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    fn count(&self, found: bool) {
        let counter = if found {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        stack_core::metrics::cache_reads(self.tier, u64::from(found), u64::from(!found));
    }
}

#[async_trait]
impl Cache for MemoryCache {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> CacheCapabilities {
        CacheCapabilities::default().with_pattern_delete(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let found = self.entries.get(key).await.map(|e| e.value.to_vec());
        self.count(found.is_some());
        Ok(found)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        // The map is read directly, not through `get`: each trait call would be one more
        // boxed future, and this runs on every cached read (the generation counters).
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let found = self
                .entries
                .get(key.as_str())
                .await
                .map(|e| e.value.to_vec());
            self.count(found.is_some());
            values.push(found);
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<()> {
        validate_entry(key, ttl)?;
        let entry = Entry {
            value: value.into(),
            ttl: ttl.or(self.options.default_ttl),
            keep_ttl: false,
        };
        self.entries.insert(Self::key(key), entry).await;
        self.counters.sets.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64> {
        validate_entry(key, ttl)?;
        let mut outcome: Result<i64> = Ok(0);
        let answer = &mut outcome;
        self.entries
            .entry(Self::key(key))
            .and_compute_with(|current| {
                let (base, keep_ttl) = match &current {
                    None => (Ok(0), false),
                    Some(entry) => (
                        std::str::from_utf8(&entry.value().value)
                            .ok()
                            .and_then(|text| text.parse::<i64>().ok())
                            .ok_or_else(|| {
                                Error::invalid("key", "the value there is not an integer")
                            }),
                        true,
                    ),
                };
                let next = base.and_then(|n| {
                    n.checked_add(by)
                        .ok_or_else(|| Error::invalid("by", "the counter would overflow"))
                });
                let op = match &next {
                    Ok(n) => moka::ops::compute::Op::Put(Entry {
                        value: n.to_string().into_bytes().into(),
                        ttl,
                        keep_ttl,
                    }),
                    Err(_) => moka::ops::compute::Op::Nop,
                };
                *answer = next;
                std::future::ready(op)
            })
            .await;
        outcome
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        validate_entry(key, ttl)?;
        let entry = Entry {
            value: value.into(),
            ttl: ttl.or(self.options.default_ttl),
            keep_ttl: false,
        };
        let stored = self
            .entries
            .entry(Self::key(key))
            .or_insert(entry)
            .await
            .is_fresh();
        if stored {
            self.counters.sets.fetch_add(1, Ordering::Relaxed);
        }
        Ok(stored)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        validate_entry(key, Some(ttl))?;
        let outcome = self
            .entries
            .entry(Self::key(key))
            .and_compute_with(|current| {
                std::future::ready(match current {
                    Some(entry) => moka::ops::compute::Op::Put(Entry {
                        value: Arc::clone(&entry.value().value),
                        ttl: Some(ttl),
                        keep_ttl: false,
                    }),
                    None => moka::ops::compute::Op::Nop,
                })
            })
            .await;
        Ok(matches!(
            outcome,
            moka::ops::compute::CompResult::ReplacedWith(_)
        ))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let removed = self.entries.remove(key).await.is_some();
        if removed {
            self.counters.deletes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(removed)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let mut removed = 0;
        for key in keys {
            removed += u64::from(self.delete(key).await?);
        }
        Ok(removed)
    }

    async fn delete_pattern(&self, pattern: &str) -> Result<u64> {
        let matcher = KeyPattern::parse(pattern)?;
        let matching: Vec<Arc<String>> = self
            .entries
            .iter()
            .filter(|(key, _)| matcher.matches(key))
            .map(|(key, _)| key)
            .collect();
        let mut removed = 0;
        for key in matching {
            removed += u64::from(self.entries.remove(key.as_str()).await.is_some());
        }
        self.counters.deletes.fetch_add(removed, Ordering::Relaxed);
        Ok(removed)
    }

    async fn health(&self) -> Result<()> {
        Ok(())
    }

    async fn stats(&self) -> Result<CacheStats> {
        self.entries.run_pending_tasks().await;
        Ok(CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            sets: self.counters.sets.load(Ordering::Relaxed),
            deletes: self.counters.deletes.load(Ordering::Relaxed),
            entries: Some(self.entries.entry_count()),
            errors: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn get_many_counts_each_hit_and_miss() {
        let cache = MemoryCache::new(MemoryCacheOptions::default());
        cache.set("a", b"1".to_vec(), None).await.unwrap();
        let keys = ["a".to_owned(), "b".to_owned(), "a".to_owned()];
        let values = cache.get_many(&keys).await.unwrap();
        assert_eq!(values, [Some(b"1".to_vec()), None, Some(b"1".to_vec())]);
        let stats = cache.stats().await.unwrap();
        assert_eq!((stats.hits, stats.misses), (2, 1));
    }
}
