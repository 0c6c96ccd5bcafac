//! # stack-backends
//!
//! Implementations of the `stack-core` traits, one module per backend family, each behind a
//! Cargo feature:
//!
//! | feature  | module     | what it provides today |
//! |----------|------------|------------------------|
//! | `memory` | [`memory`] | a moka [`Cache`](stack_core::cache::Cache) and an in-process [`Queue`](stack_core::queue::Queue) |
//! | `sqlite`, `postgres` | [`sql`] | the Store and the job [`Queue`](stack_core::queue::Queue) (`SqlQueue`, table `stack_jobs`) on SeaORM/sea-query |
//! | `redis`  | [`redis`] | the [`Cache`](stack_core::cache::Cache) and the [`Queue`](stack_core::queue::Queue) on Redis, one type each for a single node and a Cluster |
//!
//! Features choose what is compiled; configuration chooses what runs: [`registry`] opens the
//! backend a URL's scheme names, and names the missing feature when it was not compiled in;
//! [`context`] opens a configuration's backends once, sharing the database pool;
//! [`datapath::open_layered`] opens the migrated, layered Store (circuit breaker, replica
//! router, instrumentation, caching) from a configuration, as the server does.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod context;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod datapath;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod registry;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
