//! `stack migrate up | down [N] | status | fresh` against the configured database.

use std::io::Write;
use std::process::ExitCode;

use stack_backends::{registry, sql};

use crate::cli::{MigrateAction, MigrateArgs, config_file};
use crate::config;

/// Runs `args`; prints what was done and the status after it. Exit code 2 for a refused
/// configuration, 1 for a failed migration.
pub fn run(args: &MigrateArgs) -> ExitCode {
    let file = config_file(args.config.as_ref());
    let config = match config::loader(file.as_deref()).load() {
        Ok(config) => config,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "{error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let action = args.action;
    let done = runtime.block_on(async move {
        let store = registry::open_store(&config.database).await?;
        let db = store.connection();
        match action {
            MigrateAction::Up => sql::migrate_up(db, None).await?,
            MigrateAction::Down { steps } => sql::migrate_down(db, Some(steps)).await?,
            MigrateAction::Fresh => sql::migrate_fresh(db).await?,
            MigrateAction::Status => {}
        }
        sql::migrate_status(db).await
    });
    match done {
        Ok(status) => {
            let mut out = std::io::stdout().lock();
            for (name, applied) in status {
                let state = if applied { "applied" } else { "pending" };
                let _ = writeln!(out, "{state:<8} {name}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "stack migrate: {error}");
            ExitCode::FAILURE
        }
    }
}
