//! In-process backends: a moka [`MemoryCache`] and a [`MemoryQueue`].
//!
//! Both are real implementations with the full semantics of their traits (they pass the same
//! conformance suites as the networked backends); they simply keep their data in this process,
//! so it is lost on restart and not shared between instances.

mod cache;
mod queue;
mod queue_state;
mod workers;

pub use cache::{MemoryCache, MemoryCacheOptions};
pub use queue::MemoryQueue;
