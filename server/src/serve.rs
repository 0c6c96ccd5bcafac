//! `stack serve`: open the backends, bind, serve until a signal, shut down gracefully.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stack_core::config::Config;
use stack_core::scheduler::Scheduler;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::backends::Backends;
use crate::cli::{ServeArgs, load_serve_config, serve_config_file};
use crate::http::idempotency::purge_every;
use crate::http::server::ServeOptions;
use crate::http::shutdown::Signals;
use crate::process::{self, BoxError};
use crate::{app, http};

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

/// Serves `config` until SIGINT or SIGTERM, then lets in-flight requests finish within
/// `server.shutdown_grace` (a second signal cuts it short) and stops the scheduler.
///
/// # Errors
/// A backend that cannot be opened, or an address that cannot be bound.
pub async fn serve(config: Config) -> Result<(), BoxError> {
    let mut signals = Signals::listen()?;
    let backends = Backends::open(&config).await?;
    let app = app::build(backends.clone(), &config.api)?;
    let (host, port) = (config.server.host.as_str(), config.server.port);
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr()?;
    backends.scheduler.start().await?;
    // Expired idempotency keys are free on lookup anyway; this keeps their table small.
    let housekeeping = CancellationToken::new();
    let purge = tokio::spawn(purge_every(
        Arc::new(backends.database.clone()),
        IDEMPOTENCY_PURGE_INTERVAL,
        housekeeping.clone(),
    ));
    tracing::info!(
        %addr,
        store = backends.store.name(),
        cache = backends.cache.name(),
        queue = backends.queue.name(),
        docs = %format!("http://{addr}/docs"),
        "STACK listening"
    );
    let options = ServeOptions {
        header_read_timeout: config.server.header_read_timeout,
        shutdown_grace: config.server.shutdown_grace,
    };
    http::server::serve(listener, app, options, &mut signals).await;
    housekeeping.cancel();
    let _ = purge.await;
    backends.scheduler.stop().await?;
    tracing::info!("STACK stopped");
    Ok(())
}
