//! [`TieredCache`]: a moka first tier in each instance in front of the shared Redis tier,
//! kept coherent by pub/sub.

mod listener;
mod owed;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stack_core::cache::{Cache, CacheCapabilities, CacheStats};
use stack_core::{Error, Result};

use super::{RedisCache, RedisCacheOptions, RedisConnection, RedisTarget};
use crate::memory::{MemoryCache, MemoryCacheOptions};
use listener::{Listener, listen};
use owed::Owed;

/// The first tier of a [`TieredCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstTier {
    /// How long an entry stays in an instance's memory at most: the bound on staleness if an
    /// invalidation message is lost.
    pub ttl: Duration,
    /// Most entries each instance keeps.
    pub max_entries: u64,
}

/// Two tiers: an in-process moka cache with short TTLs in front of Redis (single node or
/// Cluster). Reads are served from memory when they can; writes and invalidations go to
/// Redis and are published on a channel of the key prefix (sharded pub/sub, `SPUBLISH`, on a
/// Cluster; `PUBLISH` on a single node), and every other instance drops its copy when the
/// message arrives. A subscriber that loses its connection clears its whole first tier when
/// it subscribes again, since it may have missed messages. Cheap to clone.
///
/// Counters never enter the first tier: a value `increment` could have written (the decimal
/// digits of an `i64`) is always read from Redis. A counter is read to build other keys (a
/// generation, see [`UserKeys`](stack_core::cache::UserKeys)), and a copy in one instance's
/// memory could outlive a bump made elsewhere (a message that arrives before the copy is
/// stored drops nothing). A first-tier copy never outlives its Redis entry: it is kept for
/// the time the entry has left, at most the first tier's TTL. `get` fills the first tier;
/// `get_many` reads what it lacks from Redis without filling it.
///
/// A write whose invalidation message cannot be published has landed in Redis, but other
/// instances may keep serving their copy: the call answers [`Error::Unavailable`] (so a
/// caller such as the caching Store treats the invalidation as owed and bypasses the cache
/// until it is paid), and the message is owed, sent again before this instance's next call.
#[derive(Debug, Clone)]
pub struct TieredCache {
    l1: MemoryCache,
    l2: RedisCache,
    publisher: RedisConnection,
    channel: String,
    sharded: bool,
    /// Messages from this instance carry it, so it does not drop what it just wrote.
    id: String,
    ttl: Duration,
    owed: Arc<Owed>,
    _listener: Arc<Listener>,
}

impl TieredCache {
    /// Opens Redis at `target` and a first tier per `first`.
    ///
    /// # Errors
    /// As [`RedisCache::open`].
    pub async fn open(
        target: RedisTarget,
        options: RedisCacheOptions,
        first: FirstTier,
    ) -> Result<Self> {
        let channel = format!("{}__invalidate", options.key_prefix);
        let l2 = RedisCache::open(target.clone(), options).await?;
        let publisher = target.connect().await?;
        let l1 = MemoryCache::new(MemoryCacheOptions {
            default_ttl: Some(first.ttl),
            max_entries: first.max_entries,
        })
        .first_tier();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (ready, subscribed) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen(
            target.clone(),
            channel.clone(),
            id.clone(),
            l1.clone(),
            ready,
        ));
        // Subscribed before the first write, so no message of ours can pass us by.
        let _ = tokio::time::timeout(Duration::from_secs(5), subscribed).await;
        Ok(Self {
            l1,
            l2,
            publisher,
            sharded: target.is_cluster(),
            channel,
            id,
            ttl: first.ttl,
            owed: Arc::default(),
            _listener: Arc::new(Listener(listener)),
        })
    }

    /// Sends one message (`k <key>`, `p <pattern>`, or `c`: clear everything) to the other
    /// instances.
    async fn send(&self, what: &str) -> redis::RedisResult<()> {
        let command = if self.sharded { "SPUBLISH" } else { "PUBLISH" };
        let mut cmd = redis::cmd(command);
        cmd.arg(&self.channel).arg(format!("{}\n{what}", self.id));
        let mut connection = self.publisher.clone();
        cmd.query_async::<i64>(&mut connection).await.map(drop)
    }

    /// Sends the messages owed; those that fail again stay owed.
    async fn pay(&self) {
        if !self.owed.any() {
            return;
        }
        let messages = self.owed.take();
        for (sent, what) in messages.iter().enumerate() {
            if let Err(error) = self.send(what).await {
                tracing::debug!(%error, "owed invalidations still cannot be published");
                for what in &messages[sent..] {
                    self.owed.add(what);
                }
                return;
            }
        }
    }

    /// Tells the other instances to drop `what` (`k <key>`, `p <pattern>`), after what is
    /// owed. A message that cannot be sent is owed.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the message could not be sent.
    async fn publish(&self, what: &str) -> Result<()> {
        self.pay().await;
        self.send(what).await.map_err(|error| {
            self.owed.add(what);
            Error::unavailable(
                "written to Redis, but the invalidation could not be published: other \
                 instances may serve their first-tier copy until it is (it is sent again \
                 before this instance's next call)",
                error,
            )
        })
    }

    fn first_ttl(&self, ttl: Option<Duration>) -> Duration {
        ttl.map_or(self.ttl, |t| t.min(self.ttl))
    }
}

/// Whether `value` may be kept in the first tier: not if `increment` could have written it
/// (the decimal digits of an `i64`), since counters are always read from Redis.
fn may_keep(value: &[u8]) -> bool {
    std::str::from_utf8(value).map_or(true, |text| text.parse::<i64>().is_err())
}

#[async_trait]
impl Cache for TieredCache {
    fn name(&self) -> &'static str {
        "redis+memory"
    }

    fn capabilities(&self) -> CacheCapabilities {
        CacheCapabilities::default()
            .with_shared(true)
            .with_pattern_delete(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.pay().await;
        if let Some(value) = self.l1.get(key).await? {
            return Ok(Some(value));
        }
        let Some((value, left)) = self.l2.get_with_ttl(key).await? else {
            return Ok(None);
        };
        let ttl = left.map_or(self.ttl, |left| left.min(self.ttl));
        if may_keep(&value) && !ttl.is_zero() {
            self.l1.set(key, value.clone(), Some(ttl)).await?;
        }
        Ok(Some(value))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.pay().await;
        let mut values = self.l1.get_many(keys).await?;
        let missing: Vec<usize> = (0..keys.len()).filter(|i| values[*i].is_none()).collect();
        if missing.is_empty() {
            return Ok(values);
        }
        let wanted: Vec<String> = missing.iter().map(|i| keys[*i].clone()).collect();
        for (i, value) in missing.into_iter().zip(self.l2.get_many(&wanted).await?) {
            values[i] = value;
        }
        Ok(values)
    }

    /// Always from Redis: counters never live in the first tier.
    async fn get_many_in_lineage(
        &self,
        keys: &[String],
    ) -> Result<Vec<(Option<Vec<u8>>, Option<String>)>> {
        self.pay().await;
        self.l2.get_many_in_lineage(keys).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<()> {
        self.l2.set(key, value.clone(), ttl).await?;
        if may_keep(&value) {
            self.l1.set(key, value, Some(self.first_ttl(ttl))).await?;
        } else {
            self.l1.delete(key).await?;
        }
        self.publish(&format!("k {key}")).await
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64> {
        let value = self.l2.increment(key, by, ttl).await?;
        self.l1.delete(key).await?;
        self.publish(&format!("k {key}")).await?;
        Ok(value)
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        let stored = self.l2.set_if_absent(key, value, ttl).await?;
        if stored {
            self.l1.delete(key).await?;
            self.publish(&format!("k {key}")).await?;
        }
        Ok(stored)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let found = self.l2.expire(key, ttl).await?;
        self.l1.delete(key).await?;
        self.publish(&format!("k {key}")).await?;
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let found = self.l2.delete(key).await?;
        self.l1.delete(key).await?;
        self.publish(&format!("k {key}")).await?;
        Ok(found)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let removed = self.l2.delete_many(keys).await?;
        self.l1.delete_many(keys).await?;
        let mut failed = None;
        for key in keys {
            let what = format!("k {key}");
            if failed.is_some() {
                self.owed.add(&what);
            } else if let Err(error) = self.publish(&what).await {
                failed = Some(error);
            }
        }
        failed.map_or(Ok(removed), Err)
    }

    async fn delete_pattern(&self, pattern: &str) -> Result<u64> {
        let removed = self.l2.delete_pattern(pattern).await?;
        self.l1.delete_pattern(pattern).await?;
        self.publish(&format!("p {pattern}")).await?;
        Ok(removed)
    }

    async fn health(&self) -> Result<()> {
        self.l2.health().await
    }

    async fn stats(&self) -> Result<CacheStats> {
        let (first, second) = (self.l1.stats().await?, self.l2.stats().await?);
        Ok(CacheStats {
            hits: first.hits + second.hits,
            misses: second.misses,
            entries: None,
            ..second
        })
    }
}
