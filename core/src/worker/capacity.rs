//! The pool's size at run time: the job slots and the fetcher's room (`size + prefetch`
//! leases), both resizable without touching a running job (the prefetch too, which adapts
//! between `prefetch` and [`PREFETCH_GROWTH`] times it), and the autoscaler that resizes them
//! from samples of the queue.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use super::MAX_UNACKNOWLEDGED;
use super::autoscale::{Autoscale, Sample, Scaler};
use super::pool::Shared;

/// The most leases fetched ahead, as a multiple of [`WorkerOptions::prefetch`](super::WorkerOptions::prefetch).
pub(super) const PREFETCH_GROWTH: usize = 4;

/// Which of the two resizable limits a permit counts against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    /// A running job.
    Slot,
    /// A held lease (running or fetched ahead).
    Room,
}

/// Permits still to take out of each limit after a shrink: those held by running jobs (or
/// leases) are forgotten as they come back, so a shrink never interrupts anything.
#[derive(Debug, Default)]
struct Debt {
    slots: usize,
    room: usize,
}

/// The pool's resizable limits.
pub(super) struct Capacity {
    /// One permit per job running at once.
    pub(super) slots: Arc<Semaphore>,
    /// One permit per lease held (running or fetched ahead): `size + prefetch`, with the
    /// prefetch now.
    pub(super) room: Arc<Semaphore>,
    /// Signalled when the prefetch changes.
    pub(super) changed: Notify,
    /// The fetcher's last reserve was full (the queue has a backlog) and no slot has grown
    /// the prefetch since.
    pub(super) backlog: AtomicBool,
    debt: Mutex<Debt>,
    size: watch::Sender<usize>,
    min: usize,
    max: usize,
    /// The prefetch now: from `least_prefetch` to `PREFETCH_GROWTH` times it, by steps.
    prefetch: AtomicUsize,
    least_prefetch: usize,
    busy: AtomicUsize,
    backend: &'static str,
}

impl Capacity {
    /// Limits for a pool of `size` workers (within `[min, max]`) fetching `prefetch` ahead;
    /// `backend` labels the gauges.
    pub(super) fn new(
        size: usize,
        (min, max): (usize, usize),
        prefetch: usize,
        backend: &'static str,
    ) -> Self {
        let capacity = Self {
            slots: Arc::new(Semaphore::new(size)),
            room: Arc::new(Semaphore::new(size + prefetch)),
            changed: Notify::new(),
            backlog: AtomicBool::new(false),
            debt: Mutex::new(Debt::default()),
            size: watch::Sender::new(size),
            min,
            max,
            prefetch: AtomicUsize::new(prefetch),
            least_prefetch: prefetch,
            busy: AtomicUsize::new(0),
            backend,
        };
        metrics::gauge!("stack_workers_max", "backend" => backend).set(max as f64);
        capacity.publish(size);
        capacity
    }

    /// Workers now.
    pub(super) fn size(&self) -> usize {
        *self.size.borrow()
    }

    /// A view of the size that outlives the pool's handle.
    pub(super) fn watch(&self) -> PoolSize {
        PoolSize {
            current: self.size.subscribe(),
            min: self.min,
            max: self.max,
        }
    }

    /// The most leases held before the fetcher waits for acknowledgements.
    pub(super) fn most_held(&self) -> usize {
        self.size() + self.prefetch() + MAX_UNACKNOWLEDGED
    }

    /// Leases fetched ahead now (beyond the running jobs).
    pub(super) fn prefetch(&self) -> usize {
        self.prefetch.load(Ordering::Relaxed)
    }

    /// How much the prefetch moves at a time: half the configured one (at least 1).
    pub(super) fn prefetch_step(&self) -> usize {
        (self.least_prefetch / 2).max(1)
    }

    /// Moves the prefetch one step up (at most `PREFETCH_GROWTH` times the configured one; a
    /// prefetch of 0 stays 0) or back down toward the configured one, resizing the room as
    /// [`Capacity::resize`] does, so that no held lease is touched; whether it moved.
    pub(super) fn step_prefetch(&self, up: bool) -> bool {
        let mut debt = self.debt.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.prefetch();
        let step = self.prefetch_step();
        let to = if up {
            now.saturating_add(step)
                .min(self.least_prefetch.saturating_mul(PREFETCH_GROWTH))
        } else {
            now.saturating_sub(step).max(self.least_prefetch)
        };
        if to > now {
            grow(&self.room, &mut debt.room, to - now);
        } else if to < now {
            shrink(&self.room, &mut debt.room, now - to);
        } else {
            return false;
        }
        self.prefetch.store(to, Ordering::Relaxed);
        drop(debt);
        self.changed.notify_waiters();
        true
    }

    /// Jobs running now.
    pub(super) fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// A job starts (`true`) or ends.
    pub(super) fn running(&self, starts: bool) {
        if starts {
            self.busy.fetch_add(1, Ordering::Relaxed);
        } else {
            self.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Resizes to `to` workers: a growth adds permits (cancelling debt first); a shrink takes
    /// the free permits and owes the rest, forgotten as running jobs give theirs back.
    pub(super) fn resize(&self, to: usize) {
        let mut debt = self.debt.lock().unwrap_or_else(|p| p.into_inner());
        let from = self.size();
        if to > from {
            grow(&self.slots, &mut debt.slots, to - from);
            grow(&self.room, &mut debt.room, to - from);
        } else {
            shrink(&self.slots, &mut debt.slots, from - to);
            shrink(&self.room, &mut debt.room, from - to);
        }
        self.size.send_replace(to);
        drop(debt);
        self.publish(to);
    }

    /// Gives `permit` back to `limit`, or forgets it while a shrink is owed.
    pub(super) fn give_back(&self, limit: Limit, mut permit: OwnedSemaphorePermit) {
        let mut debt = self.debt.lock().unwrap_or_else(|p| p.into_inner());
        let owed = match limit {
            Limit::Slot => &mut debt.slots,
            Limit::Room => &mut debt.room,
        };
        let paid = permit.num_permits().min(*owed);
        if let Some(forgotten) = permit.split(paid) {
            forgotten.forget();
            *owed -= paid;
        }
        drop(permit);
    }

    fn publish(&self, size: usize) {
        metrics::gauge!("stack_workers_current", "backend" => self.backend).set(size as f64);
    }
}

fn grow(limit: &Semaphore, owed: &mut usize, by: usize) {
    let cancelled = by.min(*owed);
    *owed -= cancelled;
    limit.add_permits(by - cancelled);
}

fn shrink(limit: &Semaphore, owed: &mut usize, by: usize) {
    let taken = limit.forget_permits(by);
    *owed += by - taken;
}

/// A pool's size as it changes, readable after its handle is gone (for a dashboard); cheap
/// to clone.
#[derive(Debug, Clone)]
pub struct PoolSize {
    current: watch::Receiver<usize>,
    min: usize,
    max: usize,
}

impl PoolSize {
    /// Workers now: jobs the pool may run at once.
    pub fn current(&self) -> usize {
        *self.current.borrow()
    }

    /// The fewest workers (the fixed size when the pool does not autoscale).
    pub fn min(&self) -> usize {
        self.min
    }

    /// The most workers (the fixed size when the pool does not autoscale).
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Samples the queue every `check_interval` and resizes the pool as `rules` decide, until
/// shutdown. A sample that fails (or takes longer than the interval) is skipped.
pub(super) async fn autoscale(shared: Arc<Shared>, rules: Autoscale) {
    let started = Instant::now();
    let every = rules.check_interval;
    let mut scaler = Scaler::new(rules);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sampling = async {
        loop {
            ticks.tick().await;
            let stats = match tokio::time::timeout(every, shared.queue.stats()).await {
                Ok(Ok(stats)) => stats,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "autoscaling: reading the queue's stats failed");
                    continue;
                }
                Err(_) => {
                    tracing::warn!(
                        "autoscaling: the queue's stats took longer than check_interval"
                    );
                    continue;
                }
            };
            let sample = Sample::new(&stats, shared.capacity.busy());
            if let Some(size) = scaler.decide(started.elapsed(), &sample) {
                tracing::info!(
                    from = shared.capacity.size(),
                    to = size,
                    ready = sample.ready,
                    busy = sample.busy,
                    "autoscaling the worker pool"
                );
                shared.capacity.resize(size);
            }
        }
    };
    tokio::select! {
        () = sampling => {}
        () = shared.shutdown.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn a_shrink_takes_free_permits_and_forgets_held_ones_as_they_come_back() {
        let capacity = Capacity::new(4, (1, 4), 2, "memory");
        let held: Vec<_> = (0..3)
            .map(|_| Arc::clone(&capacity.slots).try_acquire_owned().unwrap())
            .collect();
        capacity.resize(1);
        assert_eq!(capacity.size(), 1);
        // The free slot is taken at once; two of the three running jobs owe theirs.
        assert_eq!(capacity.slots.available_permits(), 0);
        assert_eq!(capacity.room.available_permits(), 3);
        let mut held = held.into_iter();
        capacity.give_back(Limit::Slot, held.next().unwrap());
        capacity.give_back(Limit::Slot, held.next().unwrap());
        assert_eq!(capacity.slots.available_permits(), 0, "both forgotten");
        capacity.give_back(Limit::Slot, held.next().unwrap());
        assert_eq!(capacity.slots.available_permits(), 1, "the one slot left");
        assert_eq!(capacity.most_held(), 1 + 2 + MAX_UNACKNOWLEDGED);
    }

    #[test]
    fn a_growth_cancels_what_a_shrink_still_owes() {
        let capacity = Capacity::new(3, (1, 3), 0, "memory");
        let held: Vec<_> = (0..3)
            .map(|_| Arc::clone(&capacity.slots).try_acquire_owned().unwrap())
            .collect();
        capacity.resize(1);
        capacity.resize(2);
        for permit in held {
            capacity.give_back(Limit::Slot, permit);
        }
        assert_eq!(capacity.slots.available_permits(), 2);
        capacity.resize(3);
        assert_eq!(capacity.slots.available_permits(), 3);
    }

    #[test]
    fn the_size_is_watched_and_measured() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let watch = metrics::with_local_recorder(&recorder, || {
            let capacity = Capacity::new(2, (2, 6), 1, "redis");
            let watch = capacity.watch();
            capacity.resize(5);
            watch
        });
        assert_eq!((watch.current(), watch.min(), watch.max()), (5, 2, 6));
        let gauges: BTreeMap<String, f64> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                DebugValue::Gauge(g) => Some((key.key().name().to_owned(), g.into_inner())),
                _ => None,
            })
            .collect();
        let expected = [("stack_workers_current", 5.0), ("stack_workers_max", 6.0)];
        assert_eq!(gauges, expected.map(|(k, v)| (k.to_owned(), v)).into());
    }
}
