//! What every long-running command (`serve`, `worker`) does around its work: report a
//! refused configuration, start logging, run on a multi-threaded runtime, and turn the
//! outcome into the process's exit code.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

use stack_core::config::{Config, ConfigError};

use crate::logging;

/// What a command's work may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs `work` with `config`, naming the command `what` in the log; `after_logging` runs
/// once logging is up (to say which file was loaded). The exit code is 2 for a configuration
/// that is refused or logging that cannot start, 1 for a failure after start.
pub fn run<W, Fut>(
    config: Result<Config, ConfigError>,
    what: &str,
    after_logging: impl FnOnce(),
    work: W,
) -> ExitCode
where
    W: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let config = match config {
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
    after_logging();
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
    let outcome = runtime.block_on(work(config));
    // Tasks cut at the end of a grace are still parked; do not wait on them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "{what} stopped with an error");
            ExitCode::FAILURE
        }
    }
}
