//! The Cache, Queue, Scheduler and Worker suites against Redis: a single node and a 3-master Cluster, both
//! started by `scripts/services.sh`. Every trial opens a queue of its own name, so trials
//! share the servers without seeing each other's jobs.

use std::sync::Arc;

use stack_backends::redis::{RedisCache, RedisCacheOptions, RedisQueue, RedisTarget};
use stack_core::cache::Cache;
use stack_core::queue::{Queue, QueueOptions};

async fn single(options: QueueOptions) -> Arc<dyn Queue> {
    let url = stack_tests::services::redis().await.url;
    Arc::new(
        RedisQueue::open(RedisTarget::Single(url), options)
            .await
            .expect("open the Redis queue"),
    )
}

async fn cluster(options: QueueOptions) -> Arc<dyn Queue> {
    let url = stack_tests::services::redis_cluster().url;
    let target = RedisTarget::parse(&url);
    assert!(target.is_cluster(), "{url} names several nodes");
    Arc::new(
        RedisQueue::open(target, options)
            .await
            .expect("open the Redis Cluster queue"),
    )
}

stack_tests::queue_conformance!(queue, single);

mod queue_faults {
    use stack_backends::redis::RedisTarget;
    use stack_tests::redis_queue_faults as faults;

    async fn single() -> RedisTarget {
        RedisTarget::Single(stack_tests::services::redis().await.url)
    }

    fn cluster() -> RedisTarget {
        RedisTarget::parse(&stack_tests::services::redis_cluster().url)
    }

    #[tokio::test]
    async fn a_corrupted_meta_among_500_due_jobs_is_dead_lettered() {
        faults::a_corrupted_meta_among_500_due_jobs_is_dead_lettered(single().await).await;
    }

    #[tokio::test]
    async fn a_corrupted_meta_among_500_due_jobs_is_dead_lettered_on_the_cluster() {
        faults::a_corrupted_meta_among_500_due_jobs_is_dead_lettered(cluster()).await;
    }

    #[tokio::test]
    async fn an_entry_with_nothing_readable_is_removed() {
        faults::an_entry_with_nothing_readable_is_removed(single().await).await;
    }

    #[tokio::test]
    async fn an_entry_with_nothing_readable_is_removed_on_the_cluster() {
        faults::an_entry_with_nothing_readable_is_removed(cluster()).await;
    }

    #[tokio::test]
    async fn a_name_that_breaks_the_hash_tag_is_refused() {
        faults::a_name_that_breaks_the_hash_tag_is_refused(single().await).await;
        faults::a_name_that_breaks_the_hash_tag_is_refused(cluster()).await;
    }

    #[tokio::test]
    async fn a_server_that_may_evict_keys_is_refused() {
        faults::a_server_that_may_evict_keys_is_refused().await;
    }
}
mod queue_keys {
    use stack_backends::redis::RedisTarget;
    use stack_tests::redis_queue_keys as keys;

    async fn single() -> RedisTarget {
        RedisTarget::Single(stack_tests::services::redis().await.url)
    }

    fn cluster() -> RedisTarget {
        RedisTarget::parse(&stack_tests::services::redis_cluster().url)
    }

    #[tokio::test]
    async fn worker_reports_leave_no_key_once_forgotten_or_expired() {
        keys::worker_reports_leave_no_key_once_forgotten_or_expired(single().await).await;
    }

    #[tokio::test]
    async fn worker_reports_leave_no_key_once_forgotten_or_expired_on_the_cluster() {
        keys::worker_reports_leave_no_key_once_forgotten_or_expired(cluster()).await;
    }

    #[tokio::test]
    async fn a_queue_whose_jobs_all_ended_leaves_no_key() {
        keys::a_queue_whose_jobs_all_ended_leaves_no_key(single().await).await;
    }

    #[tokio::test]
    async fn a_queue_whose_jobs_all_ended_leaves_no_key_on_the_cluster() {
        keys::a_queue_whose_jobs_all_ended_leaves_no_key(cluster()).await;
    }

    #[tokio::test]
    async fn a_dropped_queue_leaves_no_key_and_the_same_name_elsewhere_is_kept() {
        keys::a_dropped_queue_leaves_no_key_and_the_same_name_elsewhere_is_kept(single().await)
            .await;
    }

    #[tokio::test]
    async fn a_dropped_queue_leaves_no_key_and_the_same_name_elsewhere_is_kept_on_the_cluster() {
        keys::a_dropped_queue_leaves_no_key_and_the_same_name_elsewhere_is_kept(cluster()).await;
    }

    #[tokio::test]
    async fn a_completed_unique_job_leaves_no_key_after_its_retention() {
        keys::a_completed_unique_job_leaves_no_key_after_its_retention(single().await).await;
        keys::a_completed_unique_job_leaves_no_key_after_its_retention(cluster()).await;
    }

    #[tokio::test]
    async fn a_prefix_that_breaks_the_hash_tag_is_refused() {
        keys::a_prefix_that_breaks_the_hash_tag_is_refused(single().await).await;
        keys::a_prefix_that_breaks_the_hash_tag_is_refused(cluster()).await;
    }
}
stack_tests::queue_conformance!(cluster_queue, cluster);
stack_tests::scheduler_conformance!(scheduler, single);
stack_tests::scheduler_conformance!(cluster_scheduler, cluster);
stack_tests::worker_conformance!(worker, single);
stack_tests::worker_conformance!(cluster_worker, cluster);

async fn single_cache(prefix: String) -> Arc<dyn Cache> {
    let url = stack_tests::services::redis().await.url;
    let options = RedisCacheOptions {
        key_prefix: prefix,
        default_ttl: None,
    };
    Arc::new(
        RedisCache::open(RedisTarget::Single(url), options)
            .await
            .expect("open the Redis cache"),
    )
}

async fn cluster_cache(prefix: String) -> Arc<dyn Cache> {
    let url = stack_tests::services::redis_cluster().url;
    let options = RedisCacheOptions {
        key_prefix: prefix,
        default_ttl: None,
    };
    Arc::new(
        RedisCache::open(RedisTarget::parse(&url), options)
            .await
            .expect("open the Redis Cluster cache"),
    )
}

stack_tests::cache_conformance!(cache, single_cache);
stack_tests::cache_conformance!(cluster_cache, cluster_cache);

mod caching_store {
    use super::*;

    async fn prefixed() -> Arc<dyn Cache> {
        single_cache(format!("{}:", stack_tests::unique("cs"))).await
    }

    async fn prefixed_cluster() -> Arc<dyn Cache> {
        cluster_cache(format!("{}:", stack_tests::unique("cs"))).await
    }

    #[tokio::test]
    async fn no_stale_read_after_any_write() {
        stack_tests::caching_store::no_stale_read_after_any_write(prefixed().await).await;
    }

    #[tokio::test]
    async fn repeated_reads_are_cache_hits() {
        stack_tests::caching_store::repeated_reads_are_cache_hits(prefixed().await).await;
    }

    #[tokio::test]
    async fn no_stale_read_after_any_write_on_the_cluster() {
        stack_tests::caching_store::no_stale_read_after_any_write(prefixed_cluster().await).await;
    }

    #[tokio::test]
    async fn cache_fills_come_from_the_primary() {
        stack_tests::stale_reads::cache_fills_come_from_the_primary(prefixed().await).await;
    }

    #[tokio::test]
    async fn a_write_whose_reply_is_lost_still_invalidates() {
        stack_tests::stale_reads::a_write_whose_reply_is_lost_still_invalidates(prefixed().await)
            .await;
    }

    #[tokio::test]
    async fn an_owed_invalidation_is_paid_without_another_call() {
        stack_tests::owed_invalidations::an_owed_invalidation_is_paid_without_another_call(
            prefixed().await,
        )
        .await;
    }

    #[tokio::test]
    async fn past_the_bound_the_shared_epoch_is_bumped() {
        stack_tests::owed_invalidations::past_the_bound_the_shared_epoch_is_bumped(
            prefixed().await,
        )
        .await;
    }

    #[tokio::test]
    async fn past_the_bound_the_shared_epoch_is_bumped_on_the_cluster() {
        stack_tests::owed_invalidations::past_the_bound_the_shared_epoch_is_bumped(
            prefixed_cluster().await,
        )
        .await;
    }
}
