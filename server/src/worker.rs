//! `stack worker`: run the reference service's jobs from the configured queue until a
//! signal, then shut down gracefully.

use std::process::ExitCode;

use stack_core::config::Config;
use stack_core::worker::{WorkerOptions, WorkerPool};

use crate::backends::Backends;
use crate::cli::{WorkerArgs, load_worker_config};
use crate::http::shutdown::Signals;
use crate::jobs;
use crate::process::{self, BoxError};

/// Runs the worker described by `args`; the process's exit code (2 for a configuration that
/// is refused, 1 for a failure after start).
pub fn run(args: &WorkerArgs) -> ExitCode {
    process::run(load_worker_config(args), "worker", || {}, work)
}

/// Runs jobs of the configured queue with `workers.count` at once until SIGINT or SIGTERM;
/// then stops reserving, lets running jobs finish within `workers.shutdown_grace` and
/// releases the rest (a second signal releases them at once).
///
/// # Errors
/// A backend that cannot be opened.
pub async fn work(config: Config) -> Result<(), BoxError> {
    let mut signals = Signals::listen()?;
    let backends = Backends::open(&config).await?;
    let handlers = jobs::handlers(backends.store.clone());
    let mut types: Vec<&str> = handlers.types().collect();
    types.sort_unstable();
    let types = types.join(",");
    let options = WorkerOptions::from_config(&config.workers);
    let pool = WorkerPool::start(backends.queue.clone(), handlers, options)?;
    tracing::info!(
        queue = backends.queue.name(),
        name = %config.queue.name,
        concurrency = config.workers.count,
        %types,
        "STACK worker running"
    );
    let first = signals.next().await;
    tracing::info!(
        signal = first,
        grace = %humantime::format_duration(config.workers.shutdown_grace),
        "stopping: running jobs may finish, the rest will be released"
    );
    let stopper = pool.stopper();
    stopper.shutdown();
    let joined = pool.join();
    tokio::pin!(joined);
    let stats = tokio::select! {
        stats = &mut joined => stats,
        second = signals.next() => {
            tracing::warn!(signal = second, "second signal: releasing running jobs now");
            stopper.abort();
            joined.await
        }
    };
    tracing::info!(
        completed = stats.completed,
        retried = stats.retried,
        dead = stats.dead,
        released = stats.released,
        lost = stats.lost,
        "STACK worker stopped"
    );
    Ok(())
}
