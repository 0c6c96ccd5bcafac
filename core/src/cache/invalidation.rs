//! Invalidation, backend-neutral: by key, keys in bulk, pattern and user, with a strategy
//! that says how a key stops being served.
//!
//! Per-user invalidation is O(1) whatever the number of keys: every user-scoped key embeds
//! the cache's epoch, the user's generation and the lineage of the server state they were
//! read from (`{u:<id>}:e<epoch>.g<gen>:l<lineage>:<name>`, see [`UserKeys`]), and one
//! increment of `{u:<id>}:gen` makes all of them unreachable; their TTLs reap them. The hash
//! tag keeps a user's keys and generation on one Cluster shard.

use std::fmt::Write as _;
use std::time::Duration;

use uuid::Uuid;

use super::{TypedCache, generation};
use crate::Result;

/// How an invalidated key stops being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Deleted now: the next reader misses and loads.
    Immediate,
    /// Marked stale: the next reader through [`TypedCache::get_or_load`] reloads it while
    /// concurrent readers are served the stale value; it expires after `grace` if nobody
    /// reads it.
    Lazy {
        /// The longest a stale value stays.
        grace: Duration,
    },
    /// Served until it expires, at most `grace` from now (a short tail of staleness the
    /// caller accepts, in exchange for no reload burst).
    Ttl {
        /// The time left to the value.
        grace: Duration,
    },
}

/// Invalidates keys of one cache with one [`Strategy`].
#[derive(Debug, Clone)]
pub struct Invalidator {
    cache: TypedCache,
    strategy: Strategy,
}

impl Invalidator {
    /// Invalidates keys of `cache` with `strategy`.
    pub fn new(cache: TypedCache, strategy: Strategy) -> Self {
        Self { cache, strategy }
    }

    /// Invalidates `key`.
    ///
    /// # Errors
    /// As the cache call the strategy makes.
    pub async fn key(&self, key: &str) -> Result<()> {
        let inner = self.cache.inner();
        match self.strategy {
            Strategy::Immediate => inner.delete(key).await.map(drop),
            Strategy::Lazy { grace } => self.cache.mark_stale(key, grace).await.map(drop),
            Strategy::Ttl { grace } => inner.expire(key, grace).await.map(drop),
        }
    }

    /// Invalidates every key of `keys` (one `delete_many` when immediate).
    ///
    /// # Errors
    /// As [`Invalidator::key`].
    pub async fn keys(&self, keys: &[String]) -> Result<()> {
        if self.strategy == Strategy::Immediate {
            return self.cache.inner().delete_many(keys).await.map(drop);
        }
        for key in keys {
            self.key(key).await?;
        }
        Ok(())
    }

    /// Deletes every key matching `pattern` (always immediately: a pattern is for
    /// administration, and marking each match would read it first); answers how many.
    ///
    /// # Errors
    /// As [`Cache::delete_pattern`](super::Cache::delete_pattern).
    pub async fn pattern(&self, pattern: &str) -> Result<u64> {
        self.cache.inner().delete_pattern(pattern).await
    }

    /// Makes every key scoped to `user` unreachable at once; answers the new generation.
    ///
    /// # Errors
    /// As [`Cache::increment`](super::Cache::increment).
    pub async fn user(&self, user: Uuid) -> Result<i64> {
        UserKeys::new(self.cache.clone()).bump(user).await
    }
}

/// Keys scoped to a user, versioned by the user's generation and by the cache's epoch.
///
/// The epoch is one counter every user-scoped key embeds: bumping it makes every such key of
/// every user unreachable at once, in every process that shares the cache. It is for an
/// invalidation that cannot be made per user (see
/// [`CachingStore`](crate::datapath::CachingStore)).
#[derive(Debug, Clone)]
pub struct UserKeys {
    cache: TypedCache,
}

impl UserKeys {
    /// User-scoped keys in `cache`.
    pub fn new(cache: TypedCache) -> Self {
        Self { cache }
    }

    /// The epoch counter. Read with a user's counters on every key (one more key of the same
    /// `MGET` on a single node, one more shard call on a Cluster).
    const EPOCH: &'static str = "{stack}:epoch";

    fn generation_key(user: Uuid) -> String {
        format!("{{u:{user}}}:gen")
    }

    fn scope_key(user: Uuid, scope: &str) -> String {
        format!("{{u:{user}}}:gen:{scope}")
    }

    /// The generation counters [`UserKeys::key_in`] reads for `scope` of `user` besides the
    /// epoch: the user's, then the scope's (for administration and tests).
    pub fn counters(user: Uuid, scope: &str) -> [String; 2] {
        [Self::generation_key(user), Self::scope_key(user, scope)]
    }

    /// The key of `name` for `user` at the user's current generation. A missing generation
    /// counter (never made, evicted, lost in a failover) starts at a value no earlier
    /// generation had, so entries of a lost generation are never read again.
    ///
    /// # Errors
    /// As [`Cache::get`](super::Cache::get) (a caller should then bypass the cache).
    pub async fn key(&self, user: Uuid, name: &str) -> Result<String> {
        let inner = self.cache.inner().as_ref();
        let counters = [Self::EPOCH.to_owned(), Self::generation_key(user)];
        let read = generation::read(inner, &counters).await?;
        let generations = &read.values;
        Ok(format!(
            "{{u:{user}}}:e{}.g{}:l{}:{name}",
            generations[0], generations[1], read.lineage
        ))
    }

    /// The key of `name` in `scope` for `user` (`balances`, `deposits`), at the user's
    /// generation and the scope's: both are read in one call (they share the hash tag, so one
    /// shard on a Cluster). Bumping the scope invalidates exactly its keys; bumping the user,
    /// all of the user's. Missing counters start as in [`UserKeys::key`].
    ///
    /// # Errors
    /// As [`Cache::get_many`](super::Cache::get_many).
    pub async fn key_in(&self, user: Uuid, scope: &str, name: &str) -> Result<String> {
        let inner = self.cache.inner().as_ref();
        let [user_gen, scope_gen] = Self::counters(user, scope);
        let counters = [Self::EPOCH.to_owned(), user_gen, scope_gen];
        let read = generation::read(inner, &counters).await?;
        let generations = &read.values;
        // Sized up front: `format!` would grow the string several times on every read.
        let mut key = String::with_capacity(112 + read.lineage.len() + scope.len() + name.len());
        let _ = write!(
            key,
            "{{u:{user}}}:e{}.g{}.{}:l{}:{scope}:{name}",
            generations[0], generations[1], generations[2], read.lineage
        );
        Ok(key)
    }

    /// Moves `scope` of `user` to a new generation: its keys made before are unreachable.
    ///
    /// # Errors
    /// As [`Cache::increment`](super::Cache::increment).
    pub async fn bump_scope(&self, user: Uuid, scope: &str) -> Result<i64> {
        generation::bump(self.cache.inner().as_ref(), &Self::scope_key(user, scope)).await
    }

    /// Moves the epoch on: every user-scoped key made before, of every user, is unreachable.
    ///
    /// # Errors
    /// As [`Cache::increment`](super::Cache::increment).
    pub async fn bump_epoch(&self) -> Result<i64> {
        generation::bump(self.cache.inner().as_ref(), Self::EPOCH).await
    }

    /// Moves `user` to a new generation: every key made before is unreachable.
    ///
    /// # Errors
    /// As [`Cache::increment`](super::Cache::increment).
    pub async fn bump(&self, user: Uuid) -> Result<i64> {
        generation::bump(self.cache.inner().as_ref(), &Self::generation_key(user)).await
    }
}
