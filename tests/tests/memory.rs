//! Every conformance suite against the in-memory backends.

use std::sync::Arc;

use stack_backends::memory::{MemoryCache, MemoryCacheOptions, MemoryQueue};
use stack_core::cache::Cache;
use stack_core::queue::Queue;

stack_tests::cache_conformance!(cache, |prefix: String| async move {
    Arc::new(MemoryCache::new(MemoryCacheOptions {
        key_prefix: prefix,
        ..Default::default()
    })) as Arc<dyn Cache>
});

stack_tests::queue_conformance!(queue, |opts| async move {
    Arc::new(MemoryQueue::new(opts)) as Arc<dyn Queue>
});

stack_tests::scheduler_conformance!(scheduler, |opts| async move {
    Arc::new(MemoryQueue::new(opts)) as Arc<dyn Queue>
});

stack_tests::worker_conformance!(worker, |opts| async move {
    Arc::new(MemoryQueue::new(opts)) as Arc<dyn Queue>
});
