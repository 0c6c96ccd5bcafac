use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use crate::Result;

/// Typed, serde-based access over a byte [`Cache`], with a stampede-safe
/// [`get_or_load`](TypedCache::get_or_load).
///
/// Values are stored as JSON. A cache that fails or holds bytes that no longer decode (an
/// old format after a deploy) reads as a miss and is logged: the caller's loader is the
/// source of truth.
#[derive(Debug, Clone)]
pub struct TypedCache {
    inner: Arc<dyn Cache>,
    loading: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl TypedCache {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Cache>) -> Self {
        Self {
            inner,
            loading: Arc::default(),
        }
    }

    /// The byte cache underneath.
    pub fn inner(&self) -> &Arc<dyn Cache> {
        &self.inner
    }

    /// The value under `key` decoded as `T`; `None` on a miss, a cache failure or bytes that
    /// do not decode.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.inner.get(key).await {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(value) => Some(value),
                Err(error) => {
                    tracing::warn!(key, %error, "cached value does not decode; treating as a miss");
                    None
                }
            },
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(key, %error, "cache read failed; treating as a miss");
                None
            }
        }
    }

    /// Stores `value` under `key` as JSON.
    ///
    /// # Errors
    /// As [`Cache::set`]; [`Error::Invalid`](crate::Error::Invalid) if `value` does not
    /// serialize.
    pub async fn set<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| crate::Error::invalid("value", format!("does not serialize: {e}")))?;
        self.inner.set(key, bytes, ttl).await
    }

    /// The cached value of `key`, or the result of `load` (then cached for `ttl`).
    ///
    /// Within one process, concurrent callers for the same key wait for one load instead of
    /// all hitting the source (a stampede); across processes each may load once. A failed
    /// load is returned and not cached. A cache failure never fails the call: the loader's
    /// value is returned even if it could not be stored.
    ///
    /// # Errors
    /// Whatever `load` returns.
    pub async fn get_or_load<T, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        load: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Sync,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(hit) = self.get(key).await {
            return Ok(hit);
        }
        let gate = self.gate(key);
        let loaded = {
            let _guard = gate.lock().await;
            // Someone may have loaded it while we waited for the gate.
            if let Some(hit) = self.get(key).await {
                Ok(hit)
            } else {
                let loaded = load().await;
                if let Ok(value) = &loaded {
                    if let Err(error) = self.set(key, value, ttl).await {
                        tracing::warn!(key, %error, "cache write after load failed");
                    }
                }
                loaded
            }
        };
        self.release(key, &gate);
        loaded
    }

    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(key.to_owned()).or_default())
    }

    /// Drops the gate of `key` once no other caller holds it, so the map does not grow.
    fn release(&self, key: &str, gate: &Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        // Two references: ours and the map's. More means someone is waiting on it.
        if Arc::strong_count(gate) <= 2 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::Error;
    use crate::cache::{CacheCapabilities, CacheStats};

    /// A cache whose server is unreachable: every call fails.
    #[derive(Debug)]
    struct Down;

    fn down() -> Error {
        Error::unavailable(
            "cache",
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        )
    }

    #[async_trait]
    impl Cache for Down {
        fn name(&self) -> &'static str {
            "down"
        }
        fn capabilities(&self) -> CacheCapabilities {
            CacheCapabilities::default()
        }
        async fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
            Err(down())
        }
        async fn get_many(&self, _: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
            Err(down())
        }
        async fn set(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<()> {
            Err(down())
        }
        async fn increment(&self, _: &str, _: i64, _: Option<Duration>) -> Result<i64> {
            Err(down())
        }
        async fn set_if_absent(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<bool> {
            Err(down())
        }
        async fn delete(&self, _: &str) -> Result<bool> {
            Err(down())
        }
        async fn delete_many(&self, _: &[String]) -> Result<u64> {
            Err(down())
        }
        async fn delete_pattern(&self, _: &str) -> Result<u64> {
            Err(down())
        }
        async fn health(&self) -> Result<()> {
            Err(down())
        }
        async fn stats(&self) -> Result<CacheStats> {
            Err(down())
        }
    }

    #[tokio::test]
    async fn a_failing_cache_degrades_to_the_loader() {
        let cache = TypedCache::new(Arc::new(Down));
        assert_eq!(cache.get::<u32>("k").await, None);
        let value = cache
            .get_or_load("k", None, || async { Ok(7u32) })
            .await
            .unwrap();
        assert_eq!(value, 7);
        let failed: Result<u32> = cache
            .get_or_load("k", None, || async { Err(Error::not_found("k")) })
            .await;
        assert_eq!(failed.unwrap_err().kind(), crate::ErrorKind::NotFound);
        assert!(
            cache.loading.lock().unwrap().is_empty(),
            "gates are released"
        );
    }
}
