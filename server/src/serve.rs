//! `stack serve`: open the backends, serve until a signal, shut down gracefully.

use std::process::ExitCode;

use poem::Server;
use poem::listener::TcpListener;
use stack_core::config::Config;
use stack_core::scheduler::Scheduler;

use crate::backends::Backends;
use crate::cli::{ServeArgs, load_serve_config};
use crate::{app, http, logging};

/// Runs the server described by `args`; the process's exit code.
pub fn run(args: ServeArgs) -> ExitCode {
    let config = match load_serve_config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = logging::init(&config.log) {
        eprintln!("cannot start logging: {error}");
        return ExitCode::from(2);
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
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// Serves `config` until SIGINT or SIGTERM, then lets in-flight requests finish within
/// `server.shutdown_grace` and stops the scheduler.
///
/// # Errors
/// A backend that cannot be opened, or an address that cannot be bound.
pub async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let backends = Backends::open(&config)?;
    backends.scheduler.start().await?;
    let addr = format!("{}:{}", config.server.host, config.server.port);
    tracing::info!(
        %addr,
        cache = backends.cache.name(),
        queue = backends.queue.name(),
        docs = %format!("http://{addr}/docs"),
        "STACK listening"
    );
    let served = Server::new(TcpListener::bind(addr))
        .run_with_graceful_shutdown(
            app::build(backends.clone()),
            http::shutdown::signal(),
            Some(config.server.shutdown_grace),
        )
        .await;
    backends.scheduler.stop().await?;
    served?;
    tracing::info!("STACK stopped");
    Ok(())
}
