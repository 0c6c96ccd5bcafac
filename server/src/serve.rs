//! `stack serve`: open the backends, bind, serve until a signal, shut down gracefully.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stack_core::config::Config;
use stack_core::scheduler::Scheduler;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::AppOptions;
use crate::backends::Backends;
use crate::cli::{ServeArgs, load_serve_config, serve_config_file};
use crate::http::idempotency::purge_every;
use crate::http::server::ServeOptions;
use crate::http::shutdown::{Shutdown, Signals};
use crate::metrics::Exporter;
use crate::process::{self, BoxError};
use crate::{app, http, worker};

/// How often `serve` deletes expired idempotency keys.
pub const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(300);

/// Runs the server described by `args`; the process's exit code (2 for a configuration
/// that is refused, 1 for a failure after start).
pub fn run(args: ServeArgs) -> ExitCode {
    let announce = || match serve_config_file(&args) {
        Some(file) => tracing::info!(file = %file.display(), "configuration loaded"),
        None => tracing::info!(
            "no configuration file found; built-in defaults and STACK__ variables apply"
        ),
    };
    process::run(load_serve_config(&args), "server", announce, serve)
}

/// Serves `config` until SIGINT or SIGTERM, with the cron scheduler, the metrics of
/// `metrics` (`/metrics` on the API's port or on `metrics.listen`) and, when
/// `workers.in_serve` is on, a worker pool running the rail's jobs in this process. On the
/// first signal it stops accepting connections, stops the scheduler and stops the pool
/// taking jobs; in-flight requests may finish within `server.shutdown_grace` and running
/// jobs within `workers.shutdown_grace` (the rest are released to the queue); a second
/// signal cuts both short.
///
/// # Errors
/// A backend that cannot be opened, worker settings the pool refuses, or an address that
/// cannot be bound.
pub async fn serve(config: Config) -> Result<(), BoxError> {
    let shutdown = Shutdown::watch(Signals::listen()?);
    let backends = Backends::open(&config).await?;
    let exporter = Exporter::start(&config, &backends).await?;
    let mut options = AppOptions::default();
    if let Some(handle) = exporter.as_ref().and_then(|e| e.on_api_port.clone()) {
        options = options.metrics(handle);
    }
    let app = app::build_with(backends.clone(), &config.api, options)?;
    let (host, port) = (config.server.host.as_str(), config.server.port);
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr()?;
    backends.scheduler.start().await?;
    let pool = if config.workers.in_serve {
        Some(worker::start(
            &backends,
            &config,
            "workers running in serve",
        )?)
    } else {
        None
    };
    // Expired idempotency keys are free on lookup anyway; this keeps their table small.
    let housekeeping = CancellationToken::new();
    let purge = backends.database.clone().map(|database| {
        tokio::spawn(purge_every(
            Arc::new(database),
            IDEMPOTENCY_PURGE_INTERVAL,
            housekeeping.clone(),
        ))
    });
    tracing::info!(
        %addr,
        store = backends.store.name(),
        cache = backends.cache.name(),
        queue = backends.queue.name(),
        docs = %format!("http://{addr}/docs"),
        "STACK listening"
    );
    let options = ServeOptions::from_config(&config.server);
    // The scheduler and the pool stop at the first signal, while requests drain.
    let background = async {
        let Some(pool) = pool else {
            shutdown.first().await;
            return backends.scheduler.stop().await;
        };
        let (stats, stopped) = tokio::join!(worker::drain(pool, &config, &shutdown), async {
            shutdown.first().await;
            backends.scheduler.stop().await
        });
        worker::log_stopped(&stats, "workers stopped");
        stopped
    };
    let ((), stopped) = tokio::join!(
        http::server::serve(listener, app, options, &shutdown),
        background
    );
    housekeeping.cancel();
    if let Some(purge) = purge {
        let _ = purge.await;
    }
    if let Some(exporter) = exporter {
        exporter.stop().await;
    }
    stopped?;
    tracing::info!("STACK stopped");
    Ok(())
}
