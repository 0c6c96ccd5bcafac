//! The prefetch that grows while jobs are short. A slot that frees up and finds no held lease
//! waits for a reserve: when the fetcher's last reserve was full (a backlog), the pool fetches
//! too little ahead for its reserves' round trips, and the prefetch grows a step (once per
//! full reserve). It shrinks a step back toward the configured one when a reserve comes back
//! short (the queue runs dry), or when, over as many starts as the prefetch, every started
//! job found more than a step of leases still waiting behind it (more held than needed). Long
//! jobs leave leases waiting at every start, so they never grow it.

use std::sync::atomic::Ordering;

use super::capacity::Capacity;

/// The fetcher's reserve asked for `asked` leases and got `got`: a full one marks a backlog;
/// a short one shrinks the prefetch a step.
pub(super) fn reserved(capacity: &Capacity, asked: usize, got: usize) {
    let full = got == asked;
    capacity.backlog.store(full, Ordering::Relaxed);
    if !full {
        capacity.step_prefetch(false);
    }
}

/// What the dispatcher's starts saw of the held leases since the last starved slot.
pub(super) struct Starts {
    /// Starts that found a lease waiting.
    count: usize,
    /// The fewest leases left waiting after one of them.
    fewest: usize,
}

impl Default for Starts {
    fn default() -> Self {
        Self {
            count: 0,
            fewest: usize::MAX,
        }
    }
}

impl Starts {
    /// A free slot took a held lease, leaving `waiting` others held.
    pub(super) fn found(&mut self, capacity: &Capacity, waiting: usize) {
        self.count += 1;
        self.fewest = self.fewest.min(waiting);
        if self.count >= capacity.prefetch() {
            if self.fewest > capacity.prefetch_step() {
                capacity.step_prefetch(false);
            }
            *self = Self::default();
        }
    }

    /// A free slot found no held lease: it waits for a reserve.
    pub(super) fn starved(&mut self, capacity: &Capacity) {
        *self = Self::default();
        if capacity.backlog.swap(false, Ordering::Relaxed) {
            capacity.step_prefetch(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Capacity {
        Capacity::new(2, (2, 2), 4, "memory")
    }

    #[test]
    fn short_jobs_with_a_backlog_grow_it_to_four_times_and_a_dry_queue_shrinks_it() {
        let capacity = pool();
        let mut starts = Starts::default();
        for _ in 0..10 {
            // A full reserve, its leases all started at once, then a slot with none left.
            reserved(&capacity, 6, 6);
            for left in (0..6).rev() {
                starts.found(&capacity, left);
            }
            starts.starved(&capacity);
        }
        assert_eq!(capacity.prefetch(), 16);
        assert_eq!(capacity.room.available_permits(), 2 + 16);
        assert_eq!(
            capacity.most_held(),
            2 + 16 + super::super::MAX_UNACKNOWLEDGED
        );
        reserved(&capacity, 10, 3);
        assert_eq!(capacity.prefetch(), 14, "a step back");
        for _ in 0..10 {
            reserved(&capacity, 10, 0);
        }
        assert_eq!(capacity.prefetch(), 4, "never below the configured one");
        assert_eq!(capacity.room.available_permits(), 2 + 4);
    }

    #[test]
    fn long_jobs_find_leases_waiting_and_never_grow_it() {
        let capacity = pool();
        let mut starts = Starts::default();
        for _ in 0..100 {
            // Every full reserve refills the prefetch; each freed slot finds it held.
            reserved(&capacity, 2, 2);
            starts.found(&capacity, 3);
            starts.found(&capacity, 2);
        }
        assert_eq!(capacity.prefetch(), 4);
        // Grown by a burst of short jobs, then long ones: back a step per window of starts.
        for _ in 0..3 {
            reserved(&capacity, 6, 6);
            starts.starved(&capacity);
        }
        assert_eq!(capacity.prefetch(), 10);
        for _ in 0..10 {
            starts.found(&capacity, 5);
        }
        assert_eq!(capacity.prefetch(), 8);
        for _ in 0..40 {
            starts.found(&capacity, 3);
        }
        assert_eq!(capacity.prefetch(), 4);
    }

    #[test]
    fn a_starved_slot_grows_it_once_per_full_reserve_and_never_from_zero() {
        let capacity = pool();
        let mut starts = Starts::default();
        starts.starved(&capacity);
        assert_eq!(capacity.prefetch(), 4, "no reserve yet");
        reserved(&capacity, 6, 6);
        starts.starved(&capacity);
        starts.starved(&capacity);
        assert_eq!(capacity.prefetch(), 6);
        let none = Capacity::new(2, (2, 2), 0, "memory");
        reserved(&none, 2, 2);
        starts.starved(&none);
        assert_eq!((none.prefetch(), none.room.available_permits()), (0, 2));
    }
}
