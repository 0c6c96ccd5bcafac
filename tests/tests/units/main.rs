//! Units of work (`stack_core::unit`) on the SQL Store, on an SQLite file and on PostgreSQL:
//! writes, the idempotency record and reads share one transaction; a unit that fails or is
//! dropped leaves nothing; the caching Store neither serves nor fills inside a unit and
//! invalidates only after the commit.

mod cache;
mod fixtures;
mod jobs;
mod writes;

use cache::the_cache_sees_only_committed_writes;
use jobs::{a_deferred_job_waits_for_the_commit, a_typed_job_in_a_unit_commits_with_it};
use writes::{
    a_failed_joined_block_rolls_the_unit_back, a_lost_key_undoes_the_write,
    another_database_does_not_join, failures_and_drops_write_nothing,
    write_read_and_answer_commit_together,
};

macro_rules! on_both {
    ($($trial:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $trial() {
                    super::$trial("sqlite").await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $trial() {
                    super::$trial("postgres").await;
                }
            )*
        }
    };
}

on_both!(
    write_read_and_answer_commit_together,
    failures_and_drops_write_nothing,
    the_cache_sees_only_committed_writes,
    a_failed_joined_block_rolls_the_unit_back,
    another_database_does_not_join,
    a_deferred_job_waits_for_the_commit,
    a_typed_job_in_a_unit_commits_with_it,
);

/// On SQLite the unit holds the write lock, so no other request can take its key over
/// until it ends: the fencing trial is PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lost_key_undoes_the_write() {
    a_lost_key_undoes_the_write("postgres").await;
}
