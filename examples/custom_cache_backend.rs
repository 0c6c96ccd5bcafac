//! Writing a custom backend: a cache that stores nothing (a "null" cache, for turning caching
//! off without `Option`s everywhere), used through the same `Arc<dyn Cache>` and typed facade
//! as the built-in backends.
//!
//! ```text
//! cargo run -p stack-examples --example custom_cache_backend
//! ```

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stack_core::Result;
use stack_core::cache::{Cache, CacheCapabilities, CacheStats, TypedCache, validate_entry};

/// Accepts every write and forgets it at once.
#[derive(Debug, Default)]
struct NullCache;

#[async_trait]
impl Cache for NullCache {
    fn name(&self) -> &'static str {
        "null"
    }

    fn capabilities(&self) -> CacheCapabilities {
        CacheCapabilities::default().with_pattern_delete(true)
    }

    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        Ok(vec![None; keys.len()])
    }

    async fn set(&self, key: &str, _value: Vec<u8>, ttl: Option<Duration>) -> Result<()> {
        // Refuse what every backend refuses, so swapping backends never changes behaviour.
        validate_entry(key, ttl)
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64> {
        // Nothing is kept, so every count starts again from 0.
        validate_entry(key, ttl)?;
        Ok(by)
    }

    async fn set_if_absent(
        &self,
        key: &str,
        _value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        // Nothing is ever there.
        validate_entry(key, ttl)?;
        Ok(true)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        validate_entry(key, Some(ttl))?;
        Ok(false)
    }

    async fn delete(&self, _key: &str) -> Result<bool> {
        Ok(false)
    }

    async fn delete_many(&self, _keys: &[String]) -> Result<u64> {
        Ok(0)
    }

    async fn delete_pattern(&self, _pattern: &str) -> Result<u64> {
        Ok(0)
    }

    async fn health(&self) -> Result<()> {
        Ok(())
    }

    async fn stats(&self) -> Result<CacheStats> {
        Ok(CacheStats {
            entries: Some(0),
            ..CacheStats::default()
        })
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cache = TypedCache::new(Arc::new(NullCache));
    for round in 1..=2 {
        let balance: String = cache
            .get_or_load("balance:42", None, || async {
                println!("round {round}: loading from the source of truth");
                Ok("100.00".to_owned())
            })
            .await?;
        println!("round {round}: balance {balance}");
    }
    Ok(())
}
