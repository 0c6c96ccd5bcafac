//! The Redis cache: see [`RedisCache`].

mod lineage;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::{Cmd, Script};
use stack_core::cache::{Cache, CacheCapabilities, CacheStats, KeyPattern, validate_entry};
use stack_core::{Error, Result};

use super::connection::redis_error;
use super::nodes::{on_node, primaries, slot};
use super::{RedisConnection, RedisTarget};

/// Keys per `SCAN` step and per `UNLINK`.
const BATCH: usize = 500;

/// Settings of a [`RedisCache`].
#[derive(Debug, Clone, Default)]
pub struct RedisCacheOptions {
    /// Prepended to every key, so applications can share a server.
    pub key_prefix: String,
    /// TTL of entries stored without one; `None` keeps them until deleted or evicted.
    pub default_ttl: Option<Duration>,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    errors: AtomicU64,
}

/// A cache on Redis or Redis Cluster, with the full semantics of [`Cache`].
///
/// Multi-key reads and deletes work across slots: on a Cluster, keys are grouped by slot and
/// each group goes to its shard in one command. `delete_pattern` runs `SCAN ... MATCH` on
/// every primary (never `KEYS`) and unlinks what it finds in batches grouped by slot; the key
/// prefix is escaped, so it matches only itself. `health` pings every primary. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RedisCache {
    target: RedisTarget,
    connection: RedisConnection,
    options: Arc<RedisCacheOptions>,
    counters: Arc<Counters>,
    increment: Arc<Script>,
    get_with_ttl: Arc<Script>,
}

impl RedisCache {
    /// Connects to `target`.
    ///
    /// # Errors
    /// As [`RedisTarget::connect`].
    pub async fn open(target: RedisTarget, options: RedisCacheOptions) -> Result<Self> {
        let connection = target.connect().await?;
        Ok(Self {
            target,
            connection,
            options: Arc::new(options),
            counters: Arc::default(),
            // INCRBY, and the TTL only when this call created the key.
            increment: Arc::new(Script::new(
                "local existed = redis.call('EXISTS', KEYS[1]) \
                 local value = redis.call('INCRBY', KEYS[1], ARGV[1]) \
                 if existed == 0 and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
                 return value",
            )),
            get_with_ttl: Arc::new(Script::new(
                "local value = redis.call('GET', KEYS[1]) \
                 if not value then return false end \
                 return {value, redis.call('PTTL', KEYS[1])}",
            )),
        })
    }

    /// The value under `key` and the time it has left (`None`: no expiry), read at once.
    ///
    /// # Errors
    /// As [`Cache::get`].
    pub async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        let mut connection = self.connection.clone();
        let outcome = self
            .get_with_ttl
            .key(self.key(key))
            .invoke_async::<Option<(Vec<u8>, i64)>>(&mut connection)
            .await;
        let found = self.tally(outcome)?;
        let hit = u64::from(found.is_some());
        self.count_reads(hit, 1 - hit);
        Ok(found.map(|(value, ms)| (value, u64::try_from(ms).ok().map(Duration::from_millis))))
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.options.key_prefix)
    }

    /// Counts reads in the cache's stats and in `stack_cache_{hits,misses}_total{tier="redis"}`.
    fn count_reads(&self, hits: u64, misses: u64) {
        self.counters.hits.fetch_add(hits, Ordering::Relaxed);
        self.counters.misses.fetch_add(misses, Ordering::Relaxed);
        stack_core::metrics::cache_reads("redis", hits, misses);
    }

    fn tally<T>(&self, outcome: redis::RedisResult<T>) -> Result<T> {
        outcome.map_err(|e| {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            stack_core::metrics::cache_error("redis");
            redis_error(e)
        })
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let mut connection = self.connection.clone();
        let outcome = cmd.query_async(&mut connection).await;
        self.tally(outcome)
    }

    /// `keys` (already prefixed) grouped by slot on a Cluster, or in one group on a single
    /// node: each group can go in one multi-key command.
    fn groups(&self, keys: Vec<String>) -> Vec<Vec<String>> {
        if !self.target.is_cluster() {
            return vec![keys];
        }
        let mut by_slot: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for key in keys {
            by_slot.entry(slot(key.as_bytes())).or_default().push(key);
        }
        by_slot.into_values().collect()
    }

    async fn unlink(&self, keys: Vec<String>) -> Result<u64> {
        let groups = self.groups(keys);
        let removed = futures::future::try_join_all(groups.into_iter().map(|group| async move {
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(&group);
            self.run::<u64>(&cmd).await
        }))
        .await?;
        let removed = removed.into_iter().sum();
        self.counters.deletes.fetch_add(removed, Ordering::Relaxed);
        Ok(removed)
    }

    fn ttl_ms(&self, ttl: Option<Duration>) -> Option<u64> {
        ttl.or(self.options.default_ttl)
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1))
    }
}

#[async_trait]
impl Cache for RedisCache {
    fn name(&self) -> &'static str {
        if self.target.is_cluster() {
            "redis-cluster"
        } else {
            "redis"
        }
    }

    fn capabilities(&self) -> CacheCapabilities {
        CacheCapabilities::default()
            .with_shared(true)
            .with_pattern_delete(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let found: Option<Vec<u8>> = self.run(redis::cmd("GET").arg(self.key(key))).await?;
        let hit = u64::from(found.is_some());
        self.count_reads(hit, 1 - hit);
        Ok(found)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let mut found: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
        let replies = futures::future::try_join_all(self.groups(full.clone()).into_iter().map(
            |group| async move {
                let mut cmd = redis::cmd("MGET");
                cmd.arg(&group);
                let values: Vec<Option<Vec<u8>>> = self.run(&cmd).await?;
                Ok::<_, Error>(group.into_iter().zip(values).collect::<Vec<_>>())
            },
        ))
        .await?;
        found.extend(replies.into_iter().flatten());
        let values: Vec<Option<Vec<u8>>> = full
            .iter()
            .map(|k| found.get(k).cloned().flatten())
            .collect();
        let hits = values.iter().filter(|v| v.is_some()).count() as u64;
        self.count_reads(hits, values.len() as u64 - hits);
        Ok(values)
    }

    async fn get_many_in_lineage(
        &self,
        keys: &[String],
    ) -> Result<Vec<(Option<Vec<u8>>, Option<String>)>> {
        self.read_in_lineage(keys).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<()> {
        validate_entry(key, ttl)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ms) = self.ttl_ms(ttl) {
            cmd.arg("PX").arg(ms);
        }
        self.run::<()>(&cmd).await?;
        self.counters.sets.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64> {
        validate_entry(key, ttl)?;
        let ttl = ttl.map_or(String::new(), |t| t.as_millis().max(1).to_string());
        let mut connection = self.connection.clone();
        let outcome = self
            .increment
            .key(self.key(key))
            .arg(by)
            .arg(ttl)
            .invoke_async::<i64>(&mut connection)
            .await;
        match outcome {
            Err(e)
                if e.to_string().contains("not an integer")
                    || e.to_string().contains("overflow") =>
            {
                Err(Error::invalid(
                    "key",
                    format!("cannot add to the value there: {e}"),
                ))
            }
            other => self.tally(other),
        }
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        validate_entry(key, ttl)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("NX");
        if let Some(ms) = self.ttl_ms(ttl) {
            cmd.arg("PX").arg(ms);
        }
        let stored: Option<String> = self.run(&cmd).await?;
        if stored.is_some() {
            self.counters.sets.fetch_add(1, Ordering::Relaxed);
        }
        Ok(stored.is_some())
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        validate_entry(key, Some(ttl))?;
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run::<bool>(redis::cmd("PEXPIRE").arg(self.key(key)).arg(ms))
            .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.unlink(vec![self.key(key)]).await? > 0)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.unlink(keys.iter().map(|k| self.key(k)).collect())
            .await
    }

    async fn delete_pattern(&self, pattern: &str) -> Result<u64> {
        let matching = KeyPattern::parse(pattern)?.under_prefix(&self.options.key_prefix);
        let mut removed = 0;
        for node in self.tally(primaries(&self.connection).await)? {
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&matching)
                    .arg("COUNT")
                    .arg(BATCH);
                let (next, keys): (u64, Vec<String>) =
                    self.tally(on_node(&self.connection, &node, scan).await)?;
                if !keys.is_empty() {
                    removed += self.unlink(keys).await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(removed)
    }

    async fn health(&self) -> Result<()> {
        for node in self.tally(primaries(&self.connection).await)? {
            self.tally(on_node::<String>(&self.connection, &node, redis::cmd("PING")).await)?;
        }
        Ok(())
    }

    async fn stats(&self) -> Result<CacheStats> {
        let c = &self.counters;
        Ok(CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            sets: c.sets.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            entries: None,
            errors: c.errors.load(Ordering::Relaxed),
        })
    }
}
