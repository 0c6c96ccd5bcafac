use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use crate::Result;

/// The first byte of every stored value: fresh, or marked stale by a lazy invalidation.
const FRESH: u8 = b'f';
const STALE: u8 = b's';

/// How often cache failures are logged at most: an outage must not flood the log.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Typed, serde-based access over a byte [`Cache`], with a stampede-safe
/// [`get_or_load`](TypedCache::get_or_load).
///
/// Values are stored as JSON behind one byte that says whether a lazy invalidation marked
/// them stale. A cache that fails or holds bytes that no longer decode (an old format after a
/// deploy) reads as a miss: the caller's loader is the source of truth. Failures are counted
/// and logged at most once every 10 seconds, with how many were not logged.
#[derive(Debug, Clone)]
pub struct TypedCache {
    inner: Arc<dyn Cache>,
    loading: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    failures: Arc<Failures>,
}

/// Counts cache failures and says when one may be logged.
#[derive(Debug, Default)]
struct Failures {
    total: AtomicU64,
    unlogged: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl Failures {
    fn record(&self, key: &str, what: &str, error: &crate::Error) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_logged.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(Instant::now());
        let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
        tracing::warn!(key, %error, not_logged_since_last = unlogged, "{what}; the cache is bypassed");
    }
}

/// A value read from the cache.
enum Read<T> {
    Fresh(T),
    Stale(T),
    Miss,
}

impl TypedCache {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Cache>) -> Self {
        Self {
            inner,
            loading: Arc::default(),
            failures: Arc::default(),
        }
    }

    /// The byte cache underneath.
    pub fn inner(&self) -> &Arc<dyn Cache> {
        &self.inner
    }

    /// Cache calls that failed since this facade was made (each was served from the source).
    pub fn failures(&self) -> u64 {
        self.failures.total.load(Ordering::Relaxed)
    }

    /// Records a failure of the cache underneath (for callers that use [`TypedCache::inner`]).
    pub fn record_failure(&self, key: &str, what: &str, error: &crate::Error) {
        self.failures.record(key, what, error);
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> Read<T> {
        let bytes = match self.inner.get(key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Read::Miss,
            Err(error) => {
                self.failures.record(key, "cache read failed", &error);
                return Read::Miss;
            }
        };
        let decoded = match bytes.split_first() {
            Some((&FRESH, json)) => serde_json::from_slice(json).map(Read::Fresh),
            Some((&STALE, json)) => serde_json::from_slice(json).map(Read::Stale),
            _ => return Read::Miss,
        };
        decoded.unwrap_or_else(|error| {
            tracing::debug!(key, %error, "cached value does not decode; treating as a miss");
            Read::Miss
        })
    }

    /// The value under `key` decoded as `T`; `None` on a miss, a value marked stale, a cache
    /// failure or bytes that do not decode.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.read(key).await {
            Read::Fresh(value) => Some(value),
            Read::Stale(_) | Read::Miss => None,
        }
    }

    fn encode<T: Serialize>(value: &T, mark: u8) -> Result<Vec<u8>> {
        let mut bytes = vec![mark];
        serde_json::to_writer(&mut bytes, value)
            .map_err(|e| crate::Error::invalid("value", format!("does not serialize: {e}")))?;
        Ok(bytes)
    }

    /// Stores `value` under `key`.
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
        self.inner.set(key, Self::encode(value, FRESH)?, ttl).await
    }

    /// Marks the value under `key` stale for at most `grace`: readers through
    /// [`TypedCache::get_or_load`] reload it (one of them; the others are served the stale
    /// value meanwhile), and it expires after `grace` if nobody does. Answers whether a value
    /// was there.
    ///
    /// # Errors
    /// As [`Cache::set`].
    pub async fn mark_stale(&self, key: &str, grace: Duration) -> Result<bool> {
        let Some(mut bytes) = self.inner.get(key).await? else {
            return Ok(false);
        };
        if let Some(first) = bytes.first_mut() {
            *first = STALE;
        }
        self.inner.set(key, bytes, Some(grace)).await?;
        Ok(true)
    }

    /// The cached value of `key`, or the result of `load` (then cached for `ttl`).
    ///
    /// Within one process, concurrent callers for the same key wait for one load instead of
    /// all hitting the source (a stampede); across processes each may load once (see
    /// [`TypedCache::get_or_load_locked`]). A value marked stale is reloaded by one caller
    /// while the others are served the stale value. A failed load is returned and not cached.
    /// A cache failure never fails the call: the loader's value is returned even if it could
    /// not be stored.
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
        // A fresh value (the common case) takes no gate: the gate is for loads.
        let stale = match self.read(key).await {
            Read::Fresh(value) => return Ok(value),
            Read::Stale(stale) => Some(stale),
            Read::Miss => None,
        };
        // Released when this call ends, also when its future is dropped mid-load.
        let gate = self.gate(key);
        match stale {
            Some(stale) => match gate.try_lock() {
                Ok(_guard) => self.load_and_store(key, ttl, load).await,
                Err(_) => Ok(stale),
            },
            None => {
                let _guard = gate.lock().await;
                // Someone may have loaded it while we waited for the gate.
                match self.read(key).await {
                    Read::Fresh(value) => Ok(value),
                    Read::Stale(_) | Read::Miss => self.load_and_store(key, ttl, load).await,
                }
            }
        }
    }

    /// As [`TypedCache::get_or_load`], and across processes too: the first caller takes a
    /// lock in the cache (`set_if_absent` on `lock:<key>`, expiring after `lock_ttl` in case
    /// it dies) and loads; callers elsewhere wait for its value, polling every 20 ms, and load
    /// themselves only if the lock goes away without a value. With the cache down, every
    /// caller loads.
    ///
    /// # Errors
    /// Whatever `load` returns.
    pub async fn get_or_load_locked<T, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        lock_ttl: Duration,
        load: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Sync,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let lock = format!("lock:{key}");
        let wait = async {
            loop {
                // The holder stores the value before it lets go of the lock: look first.
                if let Read::Fresh(value) = self.read::<T>(key).await {
                    return Some(value);
                }
                match self
                    .inner
                    .set_if_absent(&lock, vec![1], Some(lock_ttl))
                    .await
                {
                    Ok(false) => {}
                    // Ours: unless the last holder stored the value just before letting go,
                    // load.
                    Ok(true) => {
                        if let Read::Fresh(value) = self.read::<T>(key).await {
                            let _ = self.inner.delete(&lock).await;
                            return Some(value);
                        }
                        return None;
                    }
                    // The cache is down: load.
                    Err(_) => return None,
                }
                let deadline = Instant::now() + lock_ttl;
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if let Read::Fresh(value) = self.read::<T>(key).await {
                        return Some(value);
                    }
                    if !matches!(self.inner.get(&lock).await, Ok(Some(_))) {
                        break;
                    }
                }
            }
        };
        self.get_or_load(key, ttl, || async {
            if let Some(value) = wait.await {
                return Ok(value);
            }
            let loaded = load().await;
            if let Err(error) = self.inner.delete(&lock).await {
                self.failures
                    .record(&lock, "releasing a load lock failed", &error);
            }
            loaded
        })
        .await
    }

    async fn load_and_store<T, F, Fut>(
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
        let loaded = load().await;
        if let Ok(value) = &loaded {
            if let Err(error) = self.set(key, value, ttl).await {
                self.failures
                    .record(key, "cache write after load failed", &error);
            }
        }
        loaded
    }

    fn gate(&self, key: &str) -> Gate {
        let mut map = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        let lock = Arc::clone(map.entry(key.to_owned()).or_default());
        Gate {
            map: Arc::clone(&self.loading),
            key: key.to_owned(),
            lock,
        }
    }

    /// Keys with a load gate now (a load running or waited for): empty when nobody loads.
    #[cfg(test)]
    fn gates(&self) -> usize {
        self.loading.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The per-key load gate of one `get_or_load` call. Dropping it (the call returned, or its
/// future was dropped mid-load) removes the key's entry from the map once no other caller
/// holds it, so the map does not grow.
struct Gate {
    map: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::ops::Deref for Gate {
    type Target = tokio::sync::Mutex<()>;

    fn deref(&self) -> &Self::Target {
        &self.lock
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Two references: ours and the map's. More means someone is waiting on it. The map's
        // entry is checked to be this gate, so a newer gate under the key is never removed.
        let ours = map
            .get(&self.key)
            .is_some_and(|held| Arc::ptr_eq(held, &self.lock));
        if ours && Arc::strong_count(&self.lock) <= 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests;
