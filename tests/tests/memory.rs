//! Every conformance suite against the in-memory backends.

use std::sync::Arc;

use stack_backends::memory::{MemoryCache, MemoryCacheOptions, MemoryQueue};
use stack_core::cache::Cache;
use stack_core::queue::Queue;

// Each in-memory cache is a map of its own: the suite's key prefix has nothing to isolate.
stack_tests::cache_conformance!(cache, |_prefix: String| async move {
    Arc::new(MemoryCache::new(MemoryCacheOptions::default())) as Arc<dyn Cache>
});

stack_tests::queue_conformance!(queue, |opts| async move {
    Arc::new(MemoryQueue::new(opts).expect("a valid queue name")) as Arc<dyn Queue>
});

stack_tests::scheduler_conformance!(scheduler, |opts| async move {
    Arc::new(MemoryQueue::new(opts).expect("a valid queue name")) as Arc<dyn Queue>
});

stack_tests::worker_conformance!(worker, |opts| async move {
    Arc::new(MemoryQueue::new(opts).expect("a valid queue name")) as Arc<dyn Queue>
});

mod caching_store {
    use super::*;

    fn moka() -> Arc<dyn Cache> {
        Arc::new(MemoryCache::new(MemoryCacheOptions::default()))
    }

    #[tokio::test]
    async fn no_stale_read_after_any_write() {
        stack_tests::caching_store::no_stale_read_after_any_write(moka()).await;
    }

    #[tokio::test]
    async fn repeated_reads_are_cache_hits() {
        stack_tests::caching_store::repeated_reads_are_cache_hits(moka()).await;
    }

    #[tokio::test]
    async fn cache_fills_come_from_the_primary() {
        stack_tests::stale_reads::cache_fills_come_from_the_primary(moka()).await;
    }

    #[tokio::test]
    async fn a_write_whose_reply_is_lost_still_invalidates() {
        stack_tests::stale_reads::a_write_whose_reply_is_lost_still_invalidates(moka()).await;
    }

    #[tokio::test]
    async fn owed_invalidations_are_bounded() {
        stack_tests::owed_invalidations::owed_invalidations_are_bounded(moka()).await;
    }

    #[tokio::test]
    async fn an_owed_invalidation_is_paid_without_another_call() {
        stack_tests::owed_invalidations::an_owed_invalidation_is_paid_without_another_call(moka())
            .await;
    }

    #[tokio::test]
    async fn past_the_bound_the_shared_epoch_is_bumped() {
        stack_tests::owed_invalidations::past_the_bound_the_shared_epoch_is_bumped(moka()).await;
    }
}
