//! The worker pool: runs jobs of any [`Queue`](crate::queue::Queue) with handlers registered
//! by job type.
//!
//! [`WorkerPool::start`] runs up to `concurrency` jobs at once. Each job's handler gets its
//! payload parsed into the handler's type (a payload that does not parse is a permanent
//! failure, never a panic) and runs under a timeout that drops its future when it passes (a
//! failed attempt). A handler that panics fails its attempt; the worker lives on. While jobs
//! run, one heartbeat extends all their leases at about a third of the lease, and a run whose
//! lease was lost is stopped: the queue refused to extend it (another worker has the job now),
//! or heartbeats failed until it lapsed (another worker may have it). The pool tells runs
//! apart by lease, so a job it reserves again after losing its lease is a new run beside the
//! stopped one. Successes are acknowledged in batches. Every outcome (a completion, a failure
//! and its error, a release) is reported again, with jittered backoff, while the queue does
//! not take it and the lease lasts, its lease renewed meanwhile; a short outage neither re-runs
//! finished jobs nor loses an error. Idle, the pool waits on [`Queue::wait_for_work`](crate::queue::Queue::wait_for_work)
//! rather than polling.
//!
//! Leases are fetched ahead: up to `prefetch` beyond the running jobs, reserved in one call
//! while jobs run, so a freed slot starts its next job at once. The prefetch adapts while the
//! pool runs, between `prefetch` and four times it: when a freed slot finds no lease held
//! and must wait for a reserve while the queue has a backlog (the last reserve was full), jobs
//! are short next to the reserve's round trip, and the prefetch grows by half the configured
//! one (at most once per reserve); it shrinks by as much when a reserve comes back short (the
//! queue runs dry) or when, over as many starts as the prefetch, every started job left more
//! than that step still waiting (more held than needed). Long jobs always find a lease
//! waiting, so they never grow it; a prefetch of 0 stays 0. Growing or shrinking touches no
//! held lease (the room follows as in a resize). [`WorkerHandle::prefetch`] reads it. Once [`MAX_UNACKNOWLEDGED`]
//! jobs have run and wait for their acknowledgement, the pool stops reserving until the queue
//! takes some: a queue slow to acknowledge slows the pool instead of piling up leases.
//!
//! Shutdown is graceful: [`WorkerHandle::shutdown`] stops reserving, releases the leases it
//! holds but has not started, and lets running jobs finish within `shutdown_grace` (a handler
//! watching [`JobContext::shutdown`] may stop early and hand its job back with
//! [`JobError::release`]); what is still running then is stopped and
//! [released](crate::queue::Queue::release) at once (its attempt not counted), so another
//! worker takes it without waiting for a lease to lapse. The pool ends once every outcome is
//! reported (or its lease lapsed). [`WorkerHandle::abort`] cuts the grace short.
//!
//! The pool runs `concurrency` jobs at once, or autoscales ([`Autoscale`]): it starts at
//! `min`, grows by a step while the queue's ready depth or its oldest ready job's age is over
//! a threshold, and shrinks by a step once idle for a while, never twice within a cooldown
//! and never outside `[min, max]`. A shrink never stops a running job: it only stops starting
//! new ones until the running ones are within the new size. The fetched-ahead leases follow
//! the current size (`size + prefetch`, with the prefetch now), never the maximum. [`WorkerHandle::size`] reads the
//! size; the gauges `stack_workers_current` and `stack_workers_max` report it through the
//! `metrics` facade.
//!
//! Every `report_every` (default 5 s) the pool reports itself to its queue's worker
//! registry ([`Queue::record_worker`](crate::queue::Queue::record_worker)): its id
//! ([`WorkerHandle::id`]), host and process, size, the jobs it holds and its counts, listed by
//! [`Queue::workers`](crate::queue::Queue::workers) for three report intervals; it says
//! goodbye once stopped. A report that fails is logged and never slows the pool.
//!
//! A job whose type has no handler in this pool is dead-lettered with an error naming the
//! type; requeue it by type once a worker that knows it runs.

mod ack;
mod autoscale;
mod capacity;
mod dispatch;
mod handler;
mod pool;
mod prefetch;
mod report;
mod run;

use std::time::Duration;

pub use autoscale::{Autoscale, MAX_WORKERS};
pub use capacity::PoolSize;
pub use dispatch::MAX_UNACKNOWLEDGED;
pub use handler::{FnHandler, Handler, Handlers, JobContext, JobError};
pub use pool::{Stopper, WorkerHandle, WorkerPool, WorkerStats};

use crate::{Error, Result};

/// How a pool runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Jobs run at once. Default 10. Not read when `autoscale` is set.
    pub concurrency: usize,
    /// A job running longer is stopped and its attempt failed (and retried). Default 5 min.
    pub job_timeout: Duration,
    /// How long each lease lasts; heartbeats renew it every third of it. Default 30 s.
    pub lease: Duration,
    /// How long running jobs may finish after shutdown begins. Default 30 s.
    pub shutdown_grace: Duration,
    /// The longest an idle pool waits before asking the queue again. Default 1 s.
    pub max_idle_wait: Duration,
    /// Leases held ready beyond the running jobs, reserved while those run, so a slot that
    /// frees up starts its next job without a round trip to the queue. Default 10. The
    /// least the pool fetches ahead: while jobs are short and the queue has a backlog, it
    /// grows by steps of half this up to four times it, and comes back as the queue runs
    /// dry or leases wait unneeded (see the [module documentation](crate::worker)). Set 0 for long
    /// jobs, where a held job would wait behind running ones while another worker idles (0
    /// never grows).
    pub prefetch: usize,
    /// Resize the pool at run time by these rules, from `min` to `max`, instead of running
    /// `concurrency` jobs at once. Default `None`.
    pub autoscale: Option<Autoscale>,
    /// How often the pool reports itself to its queue's worker registry (listed for three
    /// times this). Default 5 s; from 10 ms to 8 h.
    pub report_every: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 10,
            job_timeout: Duration::from_secs(300),
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_idle_wait: Duration::from_secs(1),
            prefetch: 10,
            autoscale: None,
            report_every: Duration::from_secs(5),
        }
    }
}

impl WorkerOptions {
    /// Options from the `workers` section of the configuration.
    pub fn from_config(config: &crate::config::WorkersConfig) -> Self {
        Self {
            concurrency: usize::try_from(config.count).unwrap_or(usize::MAX),
            job_timeout: config.job_timeout,
            lease: config.lease,
            shutdown_grace: config.shutdown_grace,
            prefetch: usize::try_from(config.prefetch).unwrap_or(usize::MAX),
            autoscale: config.autoscale.clone(),
            ..Self::default()
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first bad field (`autoscale.<field>` for the rules).
    pub fn validate(&self) -> Result<()> {
        if self.concurrency == 0 {
            return Err(Error::invalid("concurrency", "must be at least 1"));
        }
        for (field, value) in [
            ("job_timeout", self.job_timeout),
            ("max_idle_wait", self.max_idle_wait),
        ] {
            if value.is_zero() {
                return Err(Error::invalid(field, "must be positive"));
            }
        }
        if !(Duration::from_millis(10)..=Duration::from_secs(8 * 3600)).contains(&self.report_every)
        {
            return Err(Error::invalid("report_every", "must be from 10ms to 8h"));
        }
        if self.lease < Duration::from_millis(300) {
            return Err(Error::invalid(
                "lease",
                "must be at least 300ms (heartbeats renew it every third)",
            ));
        }
        // The queue's own bound (a lease no queue takes would leave every reserve failing).
        crate::queue::validate_lease(self.lease)
            .map_err(|e| Error::invalid("lease", e.to_string()))?;
        let rules = self.autoscale.as_ref().map(Autoscale::problems);
        if let Some((field, reason)) = rules.into_iter().flatten().next() {
            return Err(Error::invalid(format!("autoscale.{field}"), reason));
        }
        Ok(())
    }
}
