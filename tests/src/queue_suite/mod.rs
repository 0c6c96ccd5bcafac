//! The [`Queue`] conformance suite. Timings are short but generous: a trial waits for a
//! condition with a deadline rather than sleeping a fixed time and hoping.

mod bounds;
mod delivery;
mod dropping;
mod edges;
mod enqueue;
mod failures;
mod identity;
mod leases;
mod listing;
mod trace;
mod workers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use stack_core::queue::{Lease, NewJob, Queue, QueueOptions};
use stack_core::retry::Backoff;

pub use bounds::*;
pub use delivery::*;
pub use dropping::*;
pub use edges::*;
pub use enqueue::*;
pub use failures::*;
pub use identity::*;
pub use leases::*;
pub use listing::*;
pub use trace::*;
pub use workers::*;

/// Builds a fresh, empty queue with the given options.
pub type QueueFactory =
    Arc<dyn Fn(QueueOptions) -> BoxFuture<'static, Arc<dyn Queue>> + Send + Sync>;

/// Wraps an async closure as a [`QueueFactory`].
pub fn factory<F, Fut>(f: F) -> QueueFactory
where
    F: Fn(QueueOptions) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Arc<dyn Queue>> + Send + 'static,
{
    Arc::new(move |opts| Box::pin(f(opts)))
}

/// Options for a trial: a queue of its own and a fast, seeded backoff.
pub fn options() -> QueueOptions {
    QueueOptions::new(crate::unique("q"))
        .backoff(Backoff::new(Duration::from_millis(20), Duration::from_millis(50)).with_seed(7))
}

/// A plain job of `job_type` carrying `n`.
pub fn job(job_type: &str, n: u64) -> NewJob {
    NewJob::new(job_type, serde_json::json!({ "n": n }))
}

/// The `n` a job made by [`job`] carries.
pub fn n_of(lease: &Lease) -> u64 {
    lease.job.payload["n"].as_u64().expect("payload has n")
}

/// Reserves until `want` leases arrive or `within` passes; answers what arrived.
pub async fn reserve_until(
    queue: &dyn Queue,
    want: usize,
    lease_for: Duration,
    within: Duration,
) -> Vec<Lease> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want && tokio::time::Instant::now() < deadline {
        got.extend(
            queue
                .reserve(want - got.len(), lease_for)
                .await
                .expect("reserve"),
        );
        if got.len() < want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    got
}

/// A lease long enough that no trial sees it lapse by accident.
pub const LONG_LEASE: Duration = Duration::from_secs(60);

/// Instantiates the queue suite for one backend: `queue_conformance!(name, factory_closure)`,
/// where the closure takes [`QueueOptions`] and returns a future of `Arc<dyn Queue>`.
#[macro_export]
macro_rules! queue_conformance {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::__trials!($crate::queue_suite, $crate::queue_suite::factory($factory);
                enqueue_then_reserve_round_trips,
                priorities_are_strict_and_fifo_within_a_priority,
                delayed_job_is_never_delivered_early,
                reserve_takes_at_most_max,
                a_waiting_worker_returns_soon_after_an_enqueue,
                waiting_ends_at_the_next_scheduled_job,
                concurrent_reservers_never_share_a_job,
                unique_key_is_merged_while_the_job_lives,
                batch_enqueue_is_all_or_nothing_on_invalid_input,
                invalid_input_is_refused_and_changes_nothing,
                transactional_enqueue_is_refused_unless_supported,
                stats_count_states_and_age_of_oldest_ready_job,
                expired_lease_is_redelivered,
                late_complete_from_a_lost_lease_is_rejected,
                extend_keeps_the_lease,
                release_hands_a_job_back_without_using_an_attempt,
                batch_complete_and_extend_answer_per_token,
                a_stale_token_with_the_current_attempt_number_is_refused,
                unknown_job_is_not_found,
                failure_retries_with_backoff_stored_as_run_at,
                a_failure_can_name_its_own_retry_delay,
                max_attempts_moves_the_job_to_dead_letters_with_its_errors,
                permanent_failure_dead_letters_at_once,
                dead_letters_requeue_one_or_by_type_and_purge,
                dead_letter_listing_pages_with_capped_limit,
                unique_keys_hold_for_the_whole_life_of_a_job,
                a_lapsed_last_attempt_goes_dead_and_recovery_counts,
                queues_with_different_names_are_apart,
                a_due_retry_keeps_its_priority,
                dead_letters_list_oldest_first,
                handles_on_one_name_share_a_durable_queue,
                run_times_outside_the_range_are_refused_and_the_ends_are_kept,
                the_largest_delay_is_kept_and_longer_ones_never_overflow,
                a_500_job_batch_with_one_bad_job_stores_nothing,
                an_enqueue_of_an_existing_id_changes_nothing,
                a_released_or_recovered_job_keeps_its_place,
                lease_ids_are_random,
                expired_unique_keys_are_cleaned_as_fast_as_they_are_added,
                an_empty_job_type_is_refused,
                dropping_a_queue_deletes_every_job_and_spares_its_neighbour,
                a_lapsed_lease_does_not_refuse_a_drop,
                a_trace_context_round_trips_through_reserve_dead_letters_and_requeue,
                a_malformed_trace_context_is_dropped_not_refused,
                jobs_are_listed_by_state_in_order_across_pages,
                workers_are_listed_until_they_expire_or_are_forgotten,
            );
        }
    };
}
