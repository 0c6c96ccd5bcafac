//! # stack-tests
//!
//! Conformance suites, one per trait, written once and run against every backend, the way
//! OpenDAL's behaviour tests are: each trial is a small documented `async fn` over an
//! `Arc<dyn Trait>` that asserts what must hold. A backend joins a suite with one line in
//! `tests/tests/<backend>.rs`:
//!
//! ```text
//! stack_tests::queue_conformance!(memory, |opts| async move { Arc::new(MemoryQueue::new(opts).expect("a valid queue name")) as Arc<dyn Queue> });
//! ```
//!
//! Trials a backend cannot serve (per its capabilities) are skipped with a printed line naming
//! the capability, never silently. Services the backends need come from [`services`], which
//! reads their URLs from the environment or starts them with testcontainers, and fails with
//! instructions when neither works.

#![allow(
    clippy::unwrap_used,
    reason = "conformance trials are tests: a failed call must fail the trial"
)]

pub mod blackhole;
pub mod cache_suite;
pub mod caching_store;
pub mod crash;
pub mod faulty_queue;
pub mod owed_invalidations;
pub mod own_postgres;
pub mod own_redis;
pub mod queue_suite;
pub mod redis_queue_faults;
pub mod redis_queue_keys;
pub mod scheduler_suite;
pub mod services;
pub mod sql_queue;
pub mod stale_reads;
pub mod standby_faults;
pub mod store_suite;
pub mod worker_suite;

/// A unique suffix so trials sharing one server never see each other's keys or queues.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A bench's size setting: the number in environment variable `name`, else `default`.
pub fn bench_setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Prints that `trial` was skipped because the backend lacks `capability`.
pub fn skip(trial: &str, capability: &str) {
    println!("SKIPPED {trial}: the backend does not have capability `{capability}`");
}

/// Expands to one `#[tokio::test]` per trial of a suite, each building its backend with the
/// factory. Used by the `*_conformance!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __trials {
    ($suite:path, $factory:expr; $($trial:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $trial() {
                use $suite as suite;
                suite::$trial($factory).await;
            }
        )*
    };
}
