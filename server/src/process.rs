//! What every long-running command (`serve`, `worker`) does around its work: report a
//! refused configuration, start logging, run on a multi-threaded runtime, and turn the
//! outcome into the process's exit code.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

use stack_core::config::{Config, ConfigError};

use crate::logging;
#[cfg(feature = "otlp")]
use crate::otlp::Export;

/// What a command's work may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs `work` with `config`, naming the command `what` in the log; `after_logging` runs
/// once logging is up (to say which file was loaded). The exit code is 2 for a configuration
/// that is refused or logging (or span export) that cannot start, 1 for a failure after
/// start. With span export on, the spans still buffered are sent before the process exits.
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
    // The runtime comes first: the OTLP exporter's batch processor is one of its tasks.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let export = {
        let _inside = runtime.enter();
        match start_logging(&config) {
            Ok(export) => export,
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "cannot start logging: {error}");
                return ExitCode::from(2);
            }
        }
    };
    after_logging();
    let outcome = runtime.block_on(work(config));
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "{what} stopped with an error");
            ExitCode::FAILURE
        }
    };
    // The last spans are sent while the runtime, which runs the export, still runs.
    if let Some(export) = export {
        export.shutdown();
    }
    // Tasks cut at the end of a grace are still parked; do not wait on them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

/// Installs logging, with the OTLP exporter's layer when `tracing.otlp_endpoint` is set;
/// the exporter to shut down at exit. Runs inside the runtime.
#[cfg(feature = "otlp")]
fn start_logging(config: &Config) -> Result<Option<Export>, String> {
    let (export, layer) = crate::otlp::Export::start(&config.tracing)?.unzip();
    logging::init(&config.log, layer)?;
    if let Some(url) = config.tracing.traces_url().and_then(Result::ok) {
        tracing::info!(%url, service = %config.tracing.service_name, "exporting spans over OTLP");
    }
    Ok(export)
}

/// Installs logging. A `tracing.otlp_endpoint` never gets here: the configuration's checks
/// refuse it in a build without feature `otlp`.
#[cfg(not(feature = "otlp"))]
fn start_logging(config: &Config) -> Result<Option<Export>, String> {
    logging::init(&config.log, None).map(|()| None)
}

/// No span export in a build without feature `otlp`: there is never one to shut down.
#[cfg(not(feature = "otlp"))]
enum Export {}

#[cfg(not(feature = "otlp"))]
impl Export {
    /// Never called: no value of this type exists.
    fn shutdown(self) {
        match self {}
    }
}
