//! `stack serve`: open the backends, bind, serve until a signal, shut down gracefully.

use std::io::Write;
use std::process::ExitCode;

use stack_core::config::Config;
use stack_core::scheduler::Scheduler;
use tokio::net::TcpListener;

use crate::backends::Backends;
use crate::cli::{ServeArgs, load_serve_config, serve_config_file};
use crate::http::server::ServeOptions;
use crate::http::shutdown::Signals;
use crate::{app, http, logging};

/// Runs the server described by `args`; the process's exit code (2 for a configuration
/// that is refused, 1 for a failure after start).
pub fn run(args: ServeArgs) -> ExitCode {
    let config = match load_serve_config(&args) {
        Ok(config) => config,
        Err(error) => {
            // stderr may be closed: a failed report must not panic.
            let _ = writeln!(std::io::stderr(), "{error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = logging::init(&config.log) {
        let _ = writeln!(std::io::stderr(), "cannot start logging: {error}");
        return ExitCode::from(2);
    }
    match serve_config_file(&args) {
        Some(file) => tracing::info!(file = %file.display(), "configuration loaded"),
        None => tracing::info!(
            "no configuration file found; built-in defaults and STACK__ variables apply"
        ),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(serve(config));
    // Connections cut at the end of the grace are tasks still parked; do not wait on them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// Serves `config` until SIGINT or SIGTERM, then lets in-flight requests finish within
/// `server.shutdown_grace` (a second signal cuts it short) and stops the scheduler.
///
/// # Errors
/// A backend that cannot be opened, or an address that cannot be bound.
pub async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut signals = Signals::listen()?;
    let backends = Backends::open(&config).await?;
    let app = app::build(backends.clone(), &config.api)?;
    let (host, port) = (config.server.host.as_str(), config.server.port);
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr()?;
    backends.scheduler.start().await?;
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
    backends.scheduler.stop().await?;
    tracing::info!("STACK stopped");
    Ok(())
}
