//! Redis backends, the cache and the queue, one implementation each for a single node and
//! for Redis Cluster.
//!
//! [`RedisTarget`] says where to connect; [`RedisConnection`] is the multiplexed connection
//! to either, so every backend here is written once. Keys that one operation touches share a
//! hash tag (`{...}`), so each operation is one Lua script on one shard in a Cluster.

mod cache;
mod connection;
mod nodes;
mod queue;
#[cfg(feature = "memory")]
mod tiered;

pub use cache::{RedisCache, RedisCacheOptions};
pub use connection::{RedisConnection, RedisTarget};
pub use queue::{DEFAULT_QUEUE_KEY_PREFIX, RedisQueue, RedisQueueOptions};
#[cfg(feature = "memory")]
pub use tiered::{FirstTier, TieredCache};
