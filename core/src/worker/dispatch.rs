//! The dispatcher and its fetcher: the fetcher keeps up to `size + prefetch` leases
//! (reserving in batches while jobs run, and waiting for work when there is none); the
//! dispatcher starts a held lease whenever one of the `size` slots is free. What the two see
//! adapts the prefetch ([`prefetch`](super::prefetch)). The size is the
//! pool's current one ([`Capacity`](super::capacity::Capacity)), which an autoscaler may
//! change while jobs run. At shutdown, leases not started are released at once and running
//! jobs get the grace.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::ack::report;
use super::capacity::Limit;
use super::pool::{Counters, Shared, Stop};
use super::prefetch::{Starts, reserved};
use super::run::run_job;
use crate::queue::Lease;

/// Most leases asked for in one reserve.
const MAX_BATCH: usize = 500;

/// Most jobs run but not yet acknowledged before the fetcher stops reserving: a queue slow to
/// take acknowledgements slows the pool down instead of letting leases pile up (each one
/// more row for the queue to keep alive and, at a lapse, to run again).
pub const MAX_UNACKNOWLEDGED: usize = 1_000;

/// A fetched lease, how to stop its run, and the permit that counts it against
/// `size + prefetch`.
type Held = (Lease, Stop, OwnedSemaphorePermit);

/// Runs the pool until shutdown, then drains it.
pub(super) async fn dispatch(shared: Arc<Shared>) {
    let (fetched, mut held) = mpsc::unbounded_channel::<Held>();
    let fetcher = tokio::spawn(fetch(Arc::clone(&shared), fetched));
    let slots = Arc::clone(&shared.capacity.slots);
    let mut jobs = JoinSet::new();
    let mut starts = Starts::default();
    loop {
        while jobs.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = shared.shutdown.cancelled() => break,
        };
        let Ok(slot) = slot else { break };
        let next = match held.try_recv() {
            Ok(next) => {
                starts.found(&shared.capacity, held.len());
                Some(next)
            }
            Err(_) => {
                starts.starved(&shared.capacity);
                tokio::select! {
                    next = held.recv() => next,
                    () = shared.shutdown.cancelled() => break,
                }
            }
        };
        let Some((lease, stop, lease_permit)) = next else {
            shared.capacity.give_back(Limit::Slot, slot);
            break;
        };
        let shared = Arc::clone(&shared);
        shared.capacity.running(true);
        jobs.spawn(async move {
            run_job(Arc::clone(&shared), lease, stop).await;
            let capacity = &shared.capacity;
            capacity.running(false);
            capacity.give_back(Limit::Slot, slot);
            capacity.give_back(Limit::Room, lease_permit);
        });
    }
    // No more starts: the fetcher stops, and what it holds unstarted goes back at once. A
    // reserve that hangs (a database that stopped answering) is waited for within the
    // grace only: then it is abandoned, and whatever it leased comes back when its lease
    // lapses.
    let over = grace_over(&shared);
    tokio::pin!(over);
    let mut aborted = false;
    let mut fetcher = fetcher;
    tokio::select! {
        joined = &mut fetcher => {
            if let Err(e) = joined {
                tracing::error!(error = %e, "the worker pool's fetcher failed");
            }
        }
        () = &mut over => {
            fetcher.abort();
            let _ = fetcher.await;
            tracing::warn!("a reserve still in flight at the end of the grace was abandoned");
            aborted = true;
            shared.abort.cancel();
        }
    }
    // Only now may handlers hand their jobs back: no reserve of this pool is in flight.
    shared.handlers_stop.cancel();
    held.close();
    while let Ok((lease, _stop, permit)) = held.try_recv() {
        release_unstarted(&shared, &lease).await;
        shared.capacity.give_back(Limit::Room, permit);
    }
    loop {
        tokio::select! {
            next = jobs.join_next() => if next.is_none() { break },
            () = &mut over, if !aborted => {
                aborted = true;
                shared.abort.cancel();
            }
        }
    }
    shared.drained.cancel();
}

/// Waits while the pool holds `size + prefetch + MAX_UNACKNOWLEDGED` leases or more (run jobs
/// awaiting their acknowledgement count), or until shutdown.
async fn wait_for_acknowledgements(shared: &Shared) {
    loop {
        let released = shared.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if shared.running().len() < shared.capacity.most_held() {
            return;
        }
        tokio::select! {
            () = released => {}
            () = shared.shutdown.cancelled() => return,
        }
    }
}

/// Keeps leases coming while there is room for them; waits for work when there is none.
async fn fetch(shared: Arc<Shared>, fetched: mpsc::UnboundedSender<Held>) {
    let options = shared.options.clone();
    let capacity = &shared.capacity;
    let room = Arc::clone(&capacity.room);
    let mut backlog = false;
    while !shared.shutdown.is_cancelled() {
        wait_for_acknowledgements(&shared).await;
        // While the queue has a backlog (the last reserve was full), reserve once half the
        // prefetched leases were started rather than after each one: fewer, larger reserves,
        // and no slot waits, since a free slot leaves at least `prefetch` of the room free.
        // The prefetch may change meanwhile (and shrink the room below that): then again.
        let changed = capacity.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let refill = u32::try_from((capacity.prefetch() / 2).clamp(1, MAX_BATCH)).unwrap_or(1);
        let least = if backlog { refill } else { 1 };
        let first = tokio::select! {
            permit = Arc::clone(&room).acquire_many_owned(least) => permit,
            () = changed => continue,
            () = shared.shutdown.cancelled() => return,
        };
        let Ok(mut first) = first else { return };
        let mut permits = Vec::with_capacity(least as usize);
        while first.num_permits() > 1 {
            permits.extend(first.split(1));
        }
        permits.push(first);
        while permits.len() < MAX_BATCH {
            match Arc::clone(&room).try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let asked = Instant::now();
        let asked_for = permits.len();
        match shared.queue.reserve(asked_for, options.lease).await {
            Ok(leases) if !leases.is_empty() => {
                backlog = leases.len() == asked_for;
                let got = leases.len();
                let mut permits = permits.into_iter();
                for (lease, permit) in leases.into_iter().zip(&mut permits) {
                    let stop = shared.hold(lease.token, asked);
                    if let Err(mpsc::error::SendError((lease, _, permit))) =
                        fetched.send((lease, stop, permit))
                    {
                        release_unstarted(&shared, &lease).await;
                        shared.capacity.give_back(Limit::Room, permit);
                    }
                }
                give_back_room(&shared, permits);
                // Only once all are sent: a slot that found none between two sends did not
                // starve for want of prefetch.
                reserved(capacity, asked_for, got);
            }
            Ok(_) => {
                backlog = false;
                reserved(capacity, asked_for, 0);
                give_back_room(&shared, permits);
                tokio::select! {
                    waited = shared.queue.wait_for_work(options.max_idle_wait) => {
                        if let Err(e) = waited {
                            tracing::warn!(error = %e, "waiting for work failed; polling");
                            pause(&shared, crate::retry::poll_interval()).await;
                        }
                    }
                    () = shared.shutdown.cancelled() => {}
                }
            }
            Err(e) => {
                backlog = false;
                capacity
                    .backlog
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                give_back_room(&shared, permits);
                tracing::warn!(error = %e, "reserving jobs failed; retrying");
                pause(&shared, Duration::from_secs(1)).await;
            }
        }
    }
}

/// Returns unused room (a reserve that leased fewer jobs than it asked for).
fn give_back_room(shared: &Shared, permits: impl IntoIterator<Item = OwnedSemaphorePermit>) {
    for permit in permits {
        shared.capacity.give_back(Limit::Room, permit);
    }
}

/// Hands back a lease whose job never started (retried while its lease lasts).
async fn release_unstarted(shared: &Shared, lease: &Lease) {
    let token = &lease.token;
    let released = report(shared, token, &lease.job.job_type, "release", || {
        shared.queue.release(token)
    });
    if released.await.is_some() {
        Counters::add(&shared.counters.released, 1);
    }
}

async fn grace_over(shared: &Shared) {
    tokio::select! {
        () = tokio::time::sleep(shared.options.shutdown_grace) => {}
        () = shared.abort.cancelled() => {}
    }
}

async fn pause(shared: &Shared, wait: Duration) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = shared.shutdown.cancelled() => {}
    }
}
