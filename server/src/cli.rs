//! The command line: `stack serve` and `stack config check FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use stack_core::config::{Config, ConfigError, LogFormat};

use crate::config;

/// STACK: a versioned REST API, store, cache and job system for money-moving backends.
#[derive(Debug, Parser)]
#[command(name = "stack", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Run the reference service's jobs from the configured queue until SIGINT or SIGTERM.
    Worker(WorkerArgs),
    /// Apply, roll back or list the database migrations of the configured database.
    Migrate(MigrateArgs),
    /// Work with configuration files.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// Options of `stack serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (YAML). Defaults to `configs/config.yaml` when it exists, else the
    /// built-in defaults. `STACK__SECTION__KEY` variables override it.
    #[arg(long, short, env = "STACK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format, overriding `log.format`.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Port to listen on, overriding `server.port`.
    #[arg(long)]
    pub port: Option<u16>,
}

/// Options of `stack worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Configuration file (YAML), as for `serve`: the queue, database and `workers` section.
    #[arg(long, short, env = "STACK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format, overriding `log.format`.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Jobs run at once, overriding `workers.count`.
    #[arg(long)]
    pub concurrency: Option<u32>,
}

/// Options of `stack migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Configuration file (YAML), as for `serve`; `database.url` names the database.
    #[arg(long, short, env = "STACK_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: MigrateAction,
}

/// The migration actions.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last N migrations (default 1).
    Down {
        /// How many to roll back.
        #[arg(default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply every migration (destroys all data).
    Fresh,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Text => Self::Text,
            LogFormatArg::Json => Self::Json,
        }
    }
}

/// Subcommands of `stack config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (with environment overrides applied) and print every
    /// problem, naming its key. Exits 1 when the file is invalid.
    Check {
        /// The YAML file to check.
        file: PathBuf,
    },
}

/// The default configuration file, used by `serve` when it exists and none is named.
pub const DEFAULT_CONFIG: &str = "configs/config.yaml";

/// The configuration file `serve` reads: the one named, else [`DEFAULT_CONFIG`] when it
/// exists, else none (built-in defaults).
pub fn serve_config_file(args: &ServeArgs) -> Option<PathBuf> {
    config_file(args.config.as_ref())
}

/// The file named, else [`DEFAULT_CONFIG`] when it exists, else none.
pub fn config_file(named: Option<&PathBuf>) -> Option<PathBuf> {
    named.cloned().or_else(|| {
        Path::new(DEFAULT_CONFIG)
            .is_file()
            .then(|| PathBuf::from(DEFAULT_CONFIG))
    })
}

/// Loads the configuration `serve` should use: the file, the environment, then the flags,
/// through the same checks as `config check`.
///
/// # Errors
/// Every problem of the configuration.
pub fn load_serve_config(args: &ServeArgs) -> Result<Config, ConfigError> {
    let mut loader = config::loader(serve_config_file(args).as_deref());
    if let Some(format) = args.log_format {
        loader = loader.set("log.format", LogFormat::from(format), "--log-format");
    }
    if let Some(port) = args.port {
        loader = loader.set("server.port", port, "--port");
    }
    loader.load()
}

/// Loads the configuration `worker` should use, through the same checks as `serve`.
///
/// # Errors
/// Every problem of the configuration.
pub fn load_worker_config(args: &WorkerArgs) -> Result<Config, ConfigError> {
    let mut loader = config::loader(config_file(args.config.as_ref()).as_deref());
    if let Some(format) = args.log_format {
        loader = loader.set("log.format", LogFormat::from(format), "--log-format");
    }
    if let Some(count) = args.concurrency {
        loader = loader.set("workers.count", count, "--concurrency");
    }
    loader.load()
}

/// Runs `stack config check FILE`: prints `ok` or each problem; exit code 1 when invalid.
/// It accepts exactly what `serve` accepts.
pub fn check_config(file: &Path) -> ExitCode {
    match config::loader(Some(file)).load() {
        Ok(_) => {
            let _ = writeln!(std::io::stdout(), "{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "{error}");
            ExitCode::FAILURE
        }
    }
}
