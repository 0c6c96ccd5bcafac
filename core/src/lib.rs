//! # stack-core
//!
//! The backend-neutral heart of STACK: the traits every backend implements
//! ([`Cache`](cache::Cache), [`Queue`](queue::Queue), [`Scheduler`](scheduler::Scheduler),
//! [`VersionResolver`](version::VersionResolver)), their domain types, and the logic that
//! does not depend on where data lives: pagination, bulk processing, retry backoff, cron
//! evaluation, API version resolution, configuration, and the [worker pool](worker) that runs
//! jobs of any queue.
//!
//! This crate depends on no database or Redis client. Backends live in `stack-backends`,
//! behind Cargo features, and are used through `Arc<dyn Trait>` so a host application can
//! swap one without generics leaking into its code.

pub mod bulk;
pub mod cache;
pub mod config;
pub mod datapath;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod page;
pub mod queue;
pub mod retry;
pub mod scheduler;
pub mod store;
pub mod unit;
pub mod version;
pub mod worker;

pub use error::{Error, ErrorKind, Result};

// The crates whose types this API takes and returns, re-exported so that a host uses the
// very versions STACK was built with (`stack_core::Uuid`, `stack_core::chrono::Utc`).
pub use chrono;
pub use rust_decimal;
pub use rust_decimal::Decimal;
pub use serde_json;
pub use serde_json::Value;
pub use uuid;
pub use uuid::Uuid;
