//! `stack worker`: run the reference service's jobs from the configured queue until a
//! signal, then shut down gracefully. `stack serve` runs the same pool beside its API when
//! `workers.in_serve` is on.

use std::process::ExitCode;

use stack_core::config::Config;
use stack_core::worker::{WorkerHandle, WorkerOptions, WorkerPool, WorkerStats};

use crate::backends::Backends;
use crate::cli::{WorkerArgs, load_worker_config};
use crate::http::shutdown::{Shutdown, Signals};
use crate::jobs;
use crate::metrics::Exporter;
use crate::process::{self, BoxError};

/// Runs the worker described by `args`; the process's exit code (2 for a configuration that
/// is refused, 1 for a failure after start).
pub fn run(args: &WorkerArgs) -> ExitCode {
    process::run(load_worker_config(args), "worker", || {}, work)
}

/// Runs jobs of the configured queue with `workers.count` at once (or as many as
/// `workers.autoscale` decides) until SIGINT or SIGTERM, with the metrics of `metrics`
/// (served only on `metrics.listen`);
/// then stops reserving, lets running jobs finish within `workers.shutdown_grace` and
/// releases the rest (a second signal releases them at once).
///
/// # Errors
/// A backend that cannot be opened.
pub async fn work(config: Config) -> Result<(), BoxError> {
    let shutdown = Shutdown::watch(Signals::listen()?);
    let backends = Backends::open(&config).await?;
    // A worker has no API port: it serves /metrics only on `metrics.listen`.
    let exporter = Exporter::start(&config, &backends).await?;
    if exporter.as_ref().is_some_and(|e| e.on_api_port.is_some()) {
        tracing::info!(
            "metrics.listen is null: this worker records metrics but serves no /metrics"
        );
    }
    let pool = start(&backends, &config, "STACK worker running")?;
    let stats = drain(pool, &config, &shutdown).await;
    log_stopped(&stats, "STACK worker stopped");
    if let Some(exporter) = exporter {
        exporter.stop().await;
    }
    Ok(())
}

/// Starts a pool running the rail service's jobs (see [`jobs::handlers`]) from the queue
/// of `backends`, with the settings of `config.workers`, and logs `started` with them.
///
/// # Errors
/// Worker settings that the pool refuses.
pub fn start(
    backends: &Backends,
    config: &Config,
    started: &'static str,
) -> Result<WorkerHandle, BoxError> {
    let handlers = jobs::handlers(backends.store.clone());
    let mut types: Vec<&str> = handlers.types().collect();
    types.sort_unstable();
    let types = types.join(",");
    let options = WorkerOptions::from_config(&config.workers);
    let pool = WorkerPool::start(backends.queue.clone(), handlers, options)?;
    let size = pool.size();
    tracing::info!(
        queue = backends.queue.name(),
        name = %config.queue.name,
        concurrency = size.current(),
        autoscale = config.workers.autoscale.is_some(),
        max = size.max(),
        %types,
        "{started}"
    );
    Ok(pool)
}

/// Waits for the first signal of `shutdown`, then stops `pool` gracefully: no more
/// reservations, running jobs finish within `workers.shutdown_grace`, the rest are
/// released (at once on a second signal). What the pool did.
pub async fn drain(pool: WorkerHandle, config: &Config, shutdown: &Shutdown) -> WorkerStats {
    let first = shutdown.first().await;
    tracing::info!(
        signal = first,
        grace = %humantime::format_duration(config.workers.shutdown_grace),
        "stopping the workers: running jobs may finish, the rest will be released"
    );
    let stopper = pool.stopper();
    stopper.shutdown();
    let joined = pool.join();
    tokio::pin!(joined);
    tokio::select! {
        stats = &mut joined => stats,
        second = shutdown.second() => {
            tracing::warn!(signal = second, "second signal: releasing running jobs now");
            stopper.abort();
            joined.await
        }
    }
}

/// Logs what a stopped pool did, as `message`.
pub fn log_stopped(stats: &WorkerStats, message: &'static str) {
    tracing::info!(
        completed = stats.completed,
        retried = stats.retried,
        dead = stats.dead,
        released = stats.released,
        lost = stats.lost,
        "{message}"
    );
}
