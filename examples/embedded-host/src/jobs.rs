//! The host's own jobs: each defined once, by its payload type and its type name, for
//! enqueueing, for cron, and for its handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use stack_core::queue::TypedJob;
use stack_core::worker::{Handlers, JobContext};

/// Greets someone: enqueued by the host through its queue handle.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Greet {
    /// Whom to greet.
    pub(crate) name: String,
}

impl TypedJob for Greet {
    const TYPE: &'static str = "host.greet";
}

/// The host's cron tick, enqueued every second by its scheduler.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Tick {}

impl TypedJob for Tick {
    const TYPE: &'static str = "host.tick";
}

/// What the host's handlers have run, as the self-check sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    greeted: Arc<Mutex<Vec<String>>>,
    ticks: Arc<AtomicU64>,
}

impl Seen {
    /// Whether a [`Greet`] job for `name` has run.
    pub(crate) fn greeted(&self, name: &str) -> bool {
        self.greeted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|greeted| greeted == name)
    }

    /// How many [`Tick`] jobs have run.
    pub(crate) fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
}

/// `base` (STACK's rail handlers) with the host's own jobs added, recording into `seen`.
pub(crate) fn handlers(base: Handlers, seen: &Seen) -> Handlers {
    let (greeted, ticks) = (Arc::clone(&seen.greeted), Arc::clone(&seen.ticks));
    base.register_job_fn(move |job: Greet, _: JobContext| {
        let greeted = Arc::clone(&greeted);
        async move {
            println!("hello, {}", job.name);
            greeted
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(job.name);
            Ok(())
        }
    })
    .register_job_fn(move |_: Tick, _: JobContext| {
        let ticks = Arc::clone(&ticks);
        async move {
            ticks.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    })
}
