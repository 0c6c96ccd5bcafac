//! The backends a server runs on, opened from configuration in one place.

use std::sync::Arc;

use stack_backends::registry;
use stack_core::Result;
use stack_core::cache::Cache;
use stack_core::config::Config;
use stack_core::queue::Queue;
use stack_core::scheduler::CronScheduler;

/// Everything the routes and workers share.
#[derive(Debug, Clone)]
pub struct Backends {
    /// The cache (`cache.backend`).
    pub cache: Arc<dyn Cache>,
    /// The job queue (`queue.backend`).
    pub queue: Arc<dyn Queue>,
    /// Cron schedules, enqueuing on `queue`.
    pub scheduler: CronScheduler,
}

impl Backends {
    /// Opens every backend `config` names.
    ///
    /// # Errors
    /// A backend that is unknown, not compiled in, or unreachable.
    pub fn open(config: &Config) -> Result<Self> {
        let cache = registry::open_cache(&config.cache)?;
        let queue = registry::open_queue(&config.queue)?;
        let scheduler = CronScheduler::new(Arc::clone(&queue));
        Ok(Self {
            cache,
            queue,
            scheduler,
        })
    }
}
