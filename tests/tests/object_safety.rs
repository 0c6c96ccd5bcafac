//! Compile-time promises: every trait is object-safe and its `Arc<dyn _>` crosses threads.

use std::sync::Arc;

use stack_core::cache::Cache;
use stack_core::queue::Queue;
use stack_core::scheduler::Scheduler;
use stack_core::version::VersionResolver;

fn assert_send_sync<T: Send + Sync + ?Sized>() {}

#[test]
fn trait_objects_are_send_and_sync() {
    assert_send_sync::<Arc<dyn Cache>>();
    assert_send_sync::<Arc<dyn Queue>>();
    assert_send_sync::<Arc<dyn Scheduler>>();
    assert_send_sync::<Arc<dyn VersionResolver>>();
}
