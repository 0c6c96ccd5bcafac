//! The pool's reports to its queue's worker registry ([`Queue::record_worker`]): who it is,
//! its size, the jobs it holds and its counts, every `report_every`, listed for three times
//! that; and a goodbye ([`Queue::forget_worker`]) once it has stopped.
//!
//! A report that fails is logged and tried again at the next tick; it never slows or stops
//! the pool's jobs. Each call is cut off after [`CALL_LIMIT`], so a queue that hangs delays
//! the end of [`WorkerHandle::join`](super::WorkerHandle::join) by at most twice that (the
//! report in flight, then the goodbye); after a report that failed no goodbye is tried (the
//! report expires). A backend without a registry (`Unsupported`) is not asked again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use super::pool::Shared;
use crate::Error;
use crate::queue::{MAX_BEAT_JOBS, MAX_BEAT_TTL, MAX_HOST, Queue, WorkerBeat};

/// How long one report or goodbye may take before it is given up (a queue that hangs must
/// not hold the pool's end).
pub(super) const CALL_LIMIT: Duration = Duration::from_secs(2);

/// Who a pool is, fixed at its start.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    pub(super) id: Uuid,
    pub(super) host: String,
    pub(super) pid: u32,
    pub(super) started_at: chrono::DateTime<Utc>,
}

impl Identity {
    pub(super) fn new() -> Self {
        Self {
            id: Uuid::new_v4(),
            host: hostname(),
            pid: std::process::id(),
            started_at: crate::queue::to_millis(Utc::now()),
        }
    }
}

/// This machine's name: the kernel's, else `$HOSTNAME`, else `unknown`; control characters
/// dropped and cut to [`MAX_HOST`] characters, so a report is never refused for it.
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_HOST)
        .collect();
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

/// How long a report stays listed: three reports' time, within the registry's bound.
pub(super) fn listed_for(every: Duration) -> Duration {
    every.saturating_mul(3).min(MAX_BEAT_TTL)
}

/// The pool's report now.
fn beat(shared: &Shared, me: &Identity) -> WorkerBeat {
    let size = shared.capacity.watch();
    let jobs = shared
        .running()
        .keys()
        .take(MAX_BEAT_JOBS)
        .map(|token| token.job_id)
        .collect();
    WorkerBeat {
        id: me.id,
        host: me.host.clone(),
        pid: me.pid,
        started_at: me.started_at,
        size: size.current() as u64,
        max: size.max() as u64,
        jobs,
        stats: shared.stats_now(),
    }
}

/// Reports every `report_every` until the pool has flushed its last outcome, then says
/// goodbye. A report in flight is finished (within its time limit) rather than dropped, so
/// that it cannot land after the goodbye.
pub(super) async fn report(shared: Arc<Shared>, me: Identity) {
    let every = shared.options.report_every;
    let ttl = listed_for(every);
    let mut failing = false;
    loop {
        let sent = tokio::time::timeout(
            CALL_LIMIT.min(every),
            shared.queue.record_worker(&beat(&shared, &me), ttl),
        )
        .await;
        match sent {
            Ok(Ok(())) => failing = false,
            Ok(Err(Error::Unsupported { what })) => {
                tracing::debug!(%what, "the queue keeps no worker registry: no reports");
                return;
            }
            Ok(Err(error)) if !failing => {
                failing = true;
                tracing::warn!(%error, worker = %me.id, "could not report this worker to its queue");
            }
            Err(_) if !failing => {
                failing = true;
                tracing::warn!(worker = %me.id, "reporting this worker to its queue timed out");
            }
            _ => {}
        }
        tokio::select! {
            () = shared.flushed.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    if !failing {
        goodbye(shared.queue.as_ref(), me.id).await;
    }
}

async fn goodbye(queue: &dyn Queue, id: Uuid) {
    match tokio::time::timeout(CALL_LIMIT, queue.forget_worker(id)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, worker = %id, "could not remove this worker from its queue's list; it expires");
        }
        Err(_) => {
            tracing::warn!(worker = %id, "removing this worker from its queue's list timed out; it expires")
        }
    }
}
